"""The tracker's version-control methods: what a resource's data or code was at (hexsha and
URI), recorded and read back."""

from __future__ import annotations

from typing import Any

from lolpop.store._connection import translating
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import (
    InvalidInputError,
    MetadataNotFoundError,
)
from lolpop.layout import keys


class VersionControlMethods:
    """Version-control info of resources (part of :class:`MLFlowMetadataTracker`).

    A mixin: it uses the tracker's validation (``_rid``, ``_check_open``), its run store
    (``_store``) and the other state :class:`MLFlowMetadataTracker` sets up; it is not used alone.
    """

    # ------------------------------------------------------------------------------------
    # version control
    # ------------------------------------------------------------------------------------
    @translating
    def register_vc_resource(self, resource: Resource, vc_info: dict[str, Any] | None, key: str | None = None,
                             additional_metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        """``vc_info["hexsha"]``/``["uri"]`` go to ``<id>.hexsha``/``<id>.uri`` (or
        ``<id>.<key>_hexsha``/``<id>.<key>_uri``), with ``<id>.exists`` and every item of
        ``additional_metadata``, in one request."""
        rid, run_id = self._rid(resource)
        if vc_info is not None and not isinstance(vc_info, dict):
            raise InvalidInputError(f"vc_info must be a dict or None, got {type(vc_info).__name__}", resource_id=rid)
        if additional_metadata is not None and not isinstance(additional_metadata, dict):
            raise InvalidInputError(
                f"additional_metadata must be a dict, got {type(additional_metadata).__name__}", resource_id=rid
            )
        if key is not None:
            self._check_key(key, "vc key")
        prefix = f"{key}_" if key else ""
        # An experiment's layout-v2 run records its presence in its creation tags.
        owns = self._is_experiment(rid, run_id) and keys.owns_run(self._store.data(run_id)[0], run_id, rid)
        items: dict[str, Any] = {} if owns else {"exists": "True"}
        for field_name in ("hexsha", "uri"):
            if vc_info and vc_info.get(field_name) is not None:
                items[prefix + field_name] = str(vc_info[field_name])
        items.update(additional_metadata or {})
        self._write_metadata(rid, run_id, items)

    @translating
    def get_vc_info(self, resource: Resource, key: str | None = "hexsha", *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``{"hexsha", "uri"}`` recorded under ``key`` (``"train"``, its full form
        ``"train_hexsha"`` as lolpop 0.2.0 needed, or ``"hexsha"``/``None`` for the unkeyed info)."""
        rid, run_id = self._rid(resource)
        if key in (None, "", "hexsha"):
            prefix = ""
        else:
            self._check_key(key, "vc key")
            prefix = f"{key.removesuffix('_hexsha')}_"
        tags, _ = self._store.data(run_id)
        hexsha = self._value(run_id, keys.tag_key(tags, run_id, rid, f"{prefix}hexsha"), tags)
        if hexsha is None:
            raise MetadataNotFoundError(
                f"resource {rid!r} (run {run_id}) has no version-control info under key {key!r}",
                resource_id=rid, run_id=run_id, key=key,
            )
        return {"hexsha": hexsha, "uri": self._value(run_id, keys.tag_key(tags, run_id, rid, f"{prefix}uri"), tags)}
