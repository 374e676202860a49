"""The tracker's artifact methods: files of a resource under <id>/<artifact id>/ in its run,
data profiles, checks reports and comparisons (DESIGN.md, "Methods the seed leaves open")."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from lolpop.store._connection import translating
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidKeyError,
)


class ArtifactMethods:
    """Artifacts of resources (part of :class:`MLFlowMetadataTracker`).

    A mixin: it uses the tracker's validation (``_rid``, ``_check_open``), its run store
    (``_store``) and the other state :class:`MLFlowMetadataTracker` sets up; it is not used alone.
    """

    # ------------------------------------------------------------------------------------
    # artifacts
    # ------------------------------------------------------------------------------------
    @staticmethod
    def _check_artifact_id(id: Any) -> str:
        if not isinstance(id, str) or not id or id in (".", "..") or "/" in id or "\\" in id or "\x00" in id:
            raise InvalidKeyError(
                f"artifact id must be one non-empty path segment (no '/', '\\\\', '..'), got {id!r:.100}", key=id
            )
        return id

    @translating
    def log_artifact(self, resource: Resource, id: str, path: str, *args: Any, **kwargs: Any) -> None:
        """Store ``path`` at ``<resource id>/<id>/<file name>`` in the resource's run artifacts."""
        self._check_open()
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
            raise InvalidInputError(f"log_artifact {id!r}: no file or folder at {path!r}", key=id, value=path)
        # The resource's run names its artifact root: no request to look it up.
        repo = self._store.artifacts(run_id, getattr(resource[1].info, "artifact_uri", None))
        if Path(path).is_dir():
            repo.log_artifacts(str(path), f"{rid}/{id}")
        else:
            repo.log_artifact(str(path), f"{rid}/{id}")

    @translating
    def get_artifact(self, resource: Resource, id: str, *args: Any, dst_path: str | None = None,
                     **kwargs: Any) -> str:
        """Download artifact ``id`` (into ``dst_path``, default a fresh temporary folder)."""
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        repo = self._store.artifacts(run_id)
        files = repo.list_artifacts(f"{rid}/{id}")
        if not files:
            known = sorted(Path(f.path).name for f in repo.list_artifacts(rid) if f.is_dir)
            raise ArtifactNotFoundError(
                f"resource {rid!r} (run {run_id}) has no artifact {id!r}; it has: {known or 'none'}",
                key=id, resource_id=rid, run_id=run_id,
            )
        target = dst_path or tempfile.mkdtemp(dir=self._tmp.name)
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a local problem, not the store's: name the path
            raise InvalidInputError(f"get_artifact {id!r}: dst_path {str(target)!r} cannot be a folder: "
                                    f"{exc.strerror}", path=str(target)) from exc
        local = Path(repo.download_artifacts(f"{rid}/{id}", target))
        if not local.resolve().is_relative_to(Path(target).resolve()):
            raise InvalidKeyError(f"artifact {id!r} would be written outside {target!r}", key=id)
        entries = list(local.iterdir()) if local.is_dir() else [local]
        if len(entries) == 1 and entries[0].is_file():
            return str(entries[0])
        return str(local)

    # ------------------------------------------------------------------------------------
    # data reports: artifacts under fixed ids
    # ------------------------------------------------------------------------------------
    def log_data_profile(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_data_profile``."""
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_profile", file_path)

    def get_data_profile(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the data profile ``id`` (``<resource id>_data_profile``); its local path."""
        return self.get_artifact(resource, id, **kwargs)

    def log_checks(self, resource: Resource, file_path: str, type: str = "data", *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_<type>_checks_report``."""
        self._check_key(type, "check type")
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_{type}_checks_report", file_path)

    def get_data_checks(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the checks report ``id`` (``<resource id>_<type>_checks_report``); its local path."""
        return self.get_artifact(resource, id, **kwargs)

    def log_data_comparison(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_data_comparison``."""
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_comparison", file_path)
