"""The artifact repository of a run this store created, which remembers every file it uploaded:
listing a folder of that run is answered from memory, without a request.

Why it is exact: a run this store created began with no artifacts, and lolpop writes a run's
artifacts only through the tracker that owns it (``log_artifact``, big values, the lineage page,
the audit report), all through this repository. So while every upload here succeeded, what it
remembers is what the store holds. An upload that failed may still have been applied (a lost
answer, a folder half sent): from then on this run's listings ask the store, as they would without
it. The one other writer lolpop has, ``lolpop quarantine`` in another process, redraws an
existing lineage page (same file, new content), so the folder listing stays the same; sizes of a
redrawn page may be stale, and nothing reads them.

What it saves: the audit report at ``stop()`` lists each dataset version's artifact folders (one
request per folder, twice for the diff), and a status change looks for the winning experiment's
saved model (one request) before it consults the Model Registry.
"""

from __future__ import annotations

import os
import posixpath
import threading
from pathlib import Path
from typing import Any

from mlflow.entities import FileInfo


class KnownArtifacts:
    """Wraps ``repo`` (an MLflow artifact repository of a new run); every other attribute is the
    wrapped repository's."""

    def __init__(self, repo: Any) -> None:
        self._repo = repo
        self._files: dict[str, int | None] = {}  # artifact path -> size
        self._known = True
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    # -- uploads, remembered once applied ----------------------------------------------------------
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = posixpath.join(artifact_path or "", Path(local_file).name)
        self._upload(lambda: self._repo.log_artifact(local_file, artifact_path), {name: _size(local_file)})

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        root = Path(local_dir)
        files = {posixpath.join(artifact_path or "", p.relative_to(root).as_posix()): _size(p)
                 for p in sorted(root.rglob("*")) if p.is_file()}
        self._upload(lambda: self._repo.log_artifacts(local_dir, artifact_path), files)

    def _upload(self, send: Any, files: dict[str, int | None]) -> None:
        try:
            send()
        except BaseException:
            with self._lock:
                self._known = False  # maybe applied, maybe in part: the store knows, not we
            raise
        with self._lock:
            self._files.update(files)

    # -- listings --------------------------------------------------------------------------------
    def known_files(self, path: str | None = None) -> list[tuple[str, int | None]] | None:
        """Every file under ``path`` (recursively) as ``[(artifact path, size)]``, sorted; ``None``
        when an upload failed, so only the store can say."""
        prefix = _folder(path)
        with self._lock:
            if not self._known:
                return None
            return sorted((p, s) for p, s in self._files.items() if p.startswith(prefix))

    def list_artifacts(self, path: str | None = None) -> list[Any]:
        """What MLflow's ``list_artifacts`` answers (direct children of ``path``), from memory."""
        prefix = _folder(path)
        with self._lock:
            known = self._known
            children: dict[str, tuple[bool, int | None]] = {}  # path -> (is a folder, size)
            for p, size in self._files.items():
                if p.startswith(prefix):
                    head, sep, _ = p[len(prefix):].partition("/")
                    children[prefix + head] = (True, None) if sep else (False, size)
        if not known:
            return self._repo.list_artifacts(path)
        return [FileInfo(p, is_dir, size) for p, (is_dir, size) in sorted(children.items())]


def _folder(path: str | None) -> str:
    clean = (path or "").strip("/")
    return f"{clean}/" if clean else ""


def _size(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None
