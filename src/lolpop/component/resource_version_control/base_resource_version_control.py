"""The resource version control interface."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

from lolpop.component.base import BaseComponent


class BaseResourceVersionControl(BaseComponent, ABC):
    """Versions files and returns ``{"uri": ..., "hexsha": ...}`` for
    :meth:`~lolpop.components.MLFlowMetadataTracker.register_vc_resource`; reads them back
    from that same dict (as returned by ``get_vc_info``).

    Example:
        >>> vc_info = vc.version_file("data/train.csv", "datasets/train.csv")
        >>> tracker.register_vc_resource(dv, vc_info)
        >>> vc.read_file(tracker.get_vc_info(dv))
    """

    @abstractmethod
    def version_file(self, path: str | os.PathLike[str], dest: str | None = None, *args: Any,
                     **kwargs: Any) -> dict[str, Any]:
        """Version the file at ``path`` (stored as ``dest``); return ``{"uri", "hexsha"}``."""

    @abstractmethod
    def read_file(self, vc_info: dict[str, Any], *args: Any, **kwargs: Any) -> bytes:
        """Return the bytes of the file version described by ``vc_info``."""

    @abstractmethod
    def version_data(self, resource: Any, data: Any, key: str | None = None, *args: Any,
                     **kwargs: Any) -> dict[str, Any]:
        """Version a dataset (a DataFrame or a file path) of ``resource``; return ``{"uri", "hexsha"}``."""

    @abstractmethod
    def get_data(self, resource: Any, vc_info: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Return the dataset version described by ``vc_info`` (a DataFrame for CSV data)."""
