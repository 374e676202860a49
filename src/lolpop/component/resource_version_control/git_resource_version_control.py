"""Version dataset and model files as commits of a local git repository (GitPython)."""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from lolpop.component.base import ConfLike
from lolpop.component.resource_version_control.base_resource_version_control import BaseResourceVersionControl
from lolpop.exceptions import ConfigError, InvalidInputError, ResourceNotFoundError, VersionControlError
from lolpop.registry import register

_HEXSHA = re.compile(r"^[0-9a-f]{7,40}$")


@register
class GitResourceVersionControl(BaseResourceVersionControl):
    """Commits files into a local git repository; ``hexsha`` is the commit, ``uri`` the file's
    path inside the repository.

    Configuration:

    * ``vc_repo_path`` (required): the working tree of a git repository.
    * ``init_repo`` (default ``False``): create the repository when ``vc_repo_path`` is not one.
    * ``vc_dir`` (default ``"lolpop"``): folder inside the repository for versioned files.
    * ``git_author_name`` / ``git_author_email`` (default ``lolpop`` / ``lolpop@localhost``):
      the identity used for commits when git has none configured.

    Only the versioned file is committed (``git commit --only``): other changes staged in the
    repository are left alone. Versioning a file whose content did not change makes no commit
    and returns the commit that last changed it.

    Example:
        >>> vc = GitResourceVersionControl(conf={"vc_repo_path": "repo", "init_repo": True})
        >>> info = vc.version_file("train.csv", "data/train.csv")
        >>> tracker.register_vc_resource(dataset_version, info)
        >>> vc.read_file(tracker.get_vc_info(dataset_version)) == Path("train.csv").read_bytes()
        True
    """

    __REQUIRED_CONF__ = ["vc_repo_path"]
    __DEFAULT_CONF__ = {"init_repo": False, "vc_dir": "lolpop", "git_author_name": "lolpop",
                        "git_author_email": "lolpop@localhost"}

    def __init__(self, conf: ConfLike = None, *args: Any, metadata_tracker: Any = None, **kwargs: Any) -> None:
        super().__init__(conf, **kwargs)
        import git

        path = self.config["vc_repo_path"]
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"{self.name}: vc_repo_path must be a path, got {type(path).__name__}")
        self.metadata_tracker = metadata_tracker
        self.vc_dir = self._relative(self.config.get("vc_dir") or ".", "vc_dir", ConfigError)
        try:
            self.repo = git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            if not self.config.get("init_repo"):
                raise ConfigError(
                    f"{self.name}: vc_repo_path {str(path)!r} is not a git repository "
                    "(create one with `git init`, or set init_repo: true)"
                ) from exc
            Path(path).mkdir(parents=True, exist_ok=True)
            self.repo = git.Repo.init(path)
        if self.repo.bare or self.repo.working_tree_dir is None:
            raise ConfigError(f"{self.name}: vc_repo_path {str(path)!r} is a bare repository; a working tree is needed")
        self.root = Path(self.repo.working_tree_dir).resolve()

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _relative(value: Any, what: str, error: type[Exception] = InvalidInputError) -> str:
        if not isinstance(value, str) or not value or "\x00" in value or "\\" in value:
            raise error(f"{what} must be a relative path inside the repository, got {value!r:.100}")
        p = PurePosixPath(value)
        if p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0] == ".git"):
            raise error(f"{what} must be a relative path inside the repository, got {value!r:.100}")
        return str(p)

    def _env(self) -> dict[str, str]:
        reader = self.repo.config_reader()
        if reader.has_option("user", "name") and reader.has_option("user", "email"):
            return {}
        name, email = str(self.config["git_author_name"]), str(self.config["git_author_email"])
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    def _resource_id(self, resource: Any) -> str:
        if self.metadata_tracker is not None:
            return str(self.metadata_tracker.get_resource_id(resource))
        rid = resource[0] if isinstance(resource, (tuple, list)) else resource
        if not isinstance(rid, str) or not rid:
            raise InvalidInputError(f"resource must be an (id, run) pair or an id, got {resource!r:.100}")
        return Path(rid).stem.replace(".", "_") if "/" in rid else rid

    # -- versioning -----------------------------------------------------------------------
    def version_file(self, path: str | os.PathLike[str], dest: str | None = None, *args: Any,
                     message: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Copy the file at ``path`` to ``dest`` in the repository and commit it.

        Args:
            path: a local file.
            dest: its path inside the repository (default: ``<vc_dir>/<file name>``).
            message: the commit message.

        Returns:
            ``{"uri": dest, "hexsha": <commit>}`` — what ``register_vc_resource`` takes.

        Raises:
            InvalidInputError: ``path`` is not a file, or ``dest`` leaves the repository.
            VersionControlError: git refused the commit.

        Example:
            >>> vc.version_file("model.skops", "models/churn/model.skops")
            {'uri': 'models/churn/model.skops', 'hexsha': '3f2c...'}
        """
        import git

        src = Path(path)
        if not src.is_file():
            raise InvalidInputError(f"{self.name}: no file at {str(path)!r}")
        rel = self._relative(dest if dest is not None else f"{self.vc_dir}/{src.name}", "dest")
        target = self.root / rel
        if not target.resolve().is_relative_to(self.root):
            raise InvalidInputError(f"{self.name}: dest {rel!r} resolves outside the repository")
        if src.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        try:
            with self.repo.git.custom_environment(**self._env()):
                self.repo.git.add("--force", "--", rel)
                changed = self.repo.git.status("--porcelain", "--", rel).strip()
                if changed:
                    self.repo.git.commit("-m", message or f"lolpop: version {rel}", "--only", "--", rel)
                    hexsha = self.repo.head.commit.hexsha
                else:
                    hexsha = self.repo.git.log("-1", "--format=%H", "--", rel).strip()
        except git.GitCommandError as exc:
            raise VersionControlError(f"{self.name}: git could not commit {rel!r}: {exc.stderr.strip()}") from exc
        self.logger.info("Versioned %s as %s in %s", rel, hexsha, self.root)
        return {"uri": rel, "hexsha": hexsha}

    def read_file(self, vc_info: dict[str, Any], *args: Any, **kwargs: Any) -> bytes:
        """Return the bytes of file ``vc_info["uri"]`` as of commit ``vc_info["hexsha"]``.

        Raises:
            InvalidInputError: ``vc_info`` lacks a hex ``hexsha`` or a relative ``uri``.
            ResourceNotFoundError: no such commit, or the file is not in it.

        Example:
            >>> vc.read_file({"uri": "data/train.csv", "hexsha": sha})
        """
        import git
        import gitdb.exc

        if not isinstance(vc_info, dict):
            raise InvalidInputError(f"vc_info must be a dict with 'hexsha' and 'uri', got {vc_info!r:.100}")
        hexsha, uri = vc_info.get("hexsha"), vc_info.get("uri")
        if not isinstance(hexsha, str) or not _HEXSHA.match(hexsha):
            raise InvalidInputError(f"vc_info['hexsha'] must be a hex commit id, got {hexsha!r:.100}")
        rel = self._relative(uri, "vc_info['uri']")
        try:
            tree = self.repo.commit(hexsha).tree  # a full sha resolves lazily: .tree reads it
        except (ValueError, gitdb.exc.BadName, gitdb.exc.BadObject, git.BadName) as exc:
            raise ResourceNotFoundError(f"{self.name}: no commit {hexsha!r} in {self.root}") from exc
        try:
            blob = tree / rel
        except KeyError as exc:
            raise ResourceNotFoundError(f"{self.name}: commit {hexsha[:12]} has no file {rel!r}") from exc
        if blob.type != "blob":
            raise ResourceNotFoundError(f"{self.name}: {rel!r} in commit {hexsha[:12]} is not a file")
        return blob.data_stream.read()

    def checkout_file(self, vc_info: dict[str, Any], path: str | os.PathLike[str], *args: Any,
                      **kwargs: Any) -> str:
        """Write the file version described by ``vc_info`` to ``path`` (the working tree is not
        touched); return ``path``.

        Example:
            >>> vc.checkout_file(tracker.get_vc_info(dv), "/tmp/train.csv")
        """
        data = self.read_file(vc_info)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        return str(path)

    def version_data(self, resource: Any, data: Any, key: str | None = None, *args: Any,
                     **kwargs: Any) -> dict[str, Any]:
        """Version a dataset of ``resource`` as ``<vc_dir>/data/<id>[_<key>].<ext>``.

        Args:
            resource: the dataset (or model) version resource; its id names the file.
            data: a pandas DataFrame (written as CSV without the index) or a file path.
            key: distinguishes several datasets of one resource (``"train"``, ``"test"``).

        Returns:
            ``{"uri", "hexsha"}`` for ``register_vc_resource(resource, info, key=key)``.

        Example:
            >>> info = vc.version_data(model_version, X_train, key="X_train")
        """
        rid = self._resource_id(resource)
        stem = f"{rid}_{key}" if key else rid
        if isinstance(data, (str, os.PathLike)):
            suffix = Path(data).suffix
            return self.version_file(data, f"{self.vc_dir}/data/{stem}{suffix}")
        if not hasattr(data, "to_csv"):
            raise InvalidInputError(f"{self.name}: data must be a DataFrame or a file path, got {type(data).__name__}")
        with tempfile.TemporaryDirectory(prefix="lolpop-vc-") as tmp:
            local = Path(tmp) / f"{stem}.csv"
            data.to_csv(local, index=False)
            return self.version_file(local, f"{self.vc_dir}/data/{stem}.csv")

    def get_data(self, resource: Any, vc_info: dict[str, Any] | None = None, *args: Any,
                 key: str | None = None, **kwargs: Any) -> Any:
        """Return the dataset version described by ``vc_info``: a DataFrame for ``.csv``,
        else the raw bytes. Without ``vc_info`` it is read from the metadata tracker
        (``get_vc_info(resource, key)``).

        Example:
            >>> df = vc.get_data(dataset_version, tracker.get_vc_info(dataset_version))
        """
        if vc_info is None:
            if self.metadata_tracker is None:
                raise InvalidInputError(f"{self.name}: pass vc_info (no metadata_tracker to read it from)")
            vc_info = self.metadata_tracker.get_vc_info(resource, key=key)
        data = self.read_file(vc_info)
        if str(vc_info.get("uri", "")).endswith(".csv"):
            import pandas as pd

            return pd.read_csv(io.BytesIO(data))
        return data
