"""The tracker's lineage and audit methods: recording which dataset versions built a model
version, and the lineage graph, diff and impact read back from the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lolpop.store._connection import translating
from lolpop.store._batch import Batch
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import (
    InvalidInputError,
)
from lolpop.component.metadata_tracker import _native
from lolpop.layout import filters, keys
from lolpop.component.metadata_tracker._lineage_hooks import lineage_of, log_lineage_page, used_by_tags


class LineageMethods:
    """Lineage and audit (part of :class:`MLFlowMetadataTracker`).

    A mixin: it uses the tracker's validation (``_rid``, ``_check_open``), its run store
    (``_store``) and the other state :class:`MLFlowMetadataTracker` sets up; it is not used alone.
    """

    @translating
    def build_model_lineage(self, model_version: Resource, dataset_versions: Sequence[Resource],
                            *args: Any, **kwargs: Any) -> None:
        """Record metadata ``dataset_versions`` = ``[{"id", "run_id"}, ...]``, the searchable tag
        ``<id>.dataset_versions.exists`` and the used-by index ``_lolpop.used_by.<dataset_run_id>.
        <dataset_id>`` in one request; then the dataset versions with version-control info as
        MLflow dataset inputs (context ``training``) of the model version's run and of the
        experiment runs this tracker opened under it (one ``log_inputs`` request per run); then
        the lineage page as artifact ``lineage`` (drawn from what the tracker holds; ``stop()``
        draws it again with the run's final state). With an empty list the previous version's
        lineage is inherited (nothing is written when there is none)."""
        self._check_open()
        rid, run_id = self._rid(model_version, "model_version")
        if not isinstance(dataset_versions, (list, tuple)):
            raise InvalidInputError(
                f"dataset_versions must be a list of resources, got {type(dataset_versions).__name__}",
                resource_id=rid,
            )
        lineage: Any
        if dataset_versions:
            lineage = []
            for i, dv in enumerate(dataset_versions):
                did, drun = self._rid(dv, f"dataset_versions[{i}]")
                lineage.append({"id": did, "run_id": drun})
        else:
            prev = self.get_prev_resource_version(
                model_version, extra_filters=[filters.tag_clause(keys.key(rid, keys.LINEAGE_FLAG), "True")]
            )
            if prev is None:
                self.logger.warning("No previous version of %r has lineage to inherit", rid)
                return
            lineage = self.get_metadata(prev, keys.LINEAGE_KEY)
            if lineage is None:
                return
        def build(tags: dict[str, str], params: dict[str, str]) -> Batch:
            batch = self._encode_items(rid, run_id, {keys.LINEAGE_KEY: lineage, keys.LINEAGE_FLAG: "True"},
                                       tags)
            batch.tags.update(used_by_tags(rid, lineage, tags))
            return batch

        self._store.write(run_id, build)
        _native.log_training_inputs(self, rid, run_id, lineage)
        # What the lineage names goes out now (experiments' id tags, batched writes), so readers
        # of the store see the graph the page shows.
        self._store.flush()
        log_lineage_page(self, model_version, self._store.held_runs())

    @translating
    def get_lineage(self, resource: Resource, direction: str = "both", depth: int | None = None,
                    *args: Any, **kwargs: Any) -> Any:
        """The :class:`lolpop.lineage.LineageGraph` of exact resource versions around ``resource``
        (``direction`` ``"both"``/``"upstream"``/``"downstream"``, ``depth`` hops or ``None``)."""
        return lineage_of(self, resource, direction, depth)

    @translating
    def diff(self, a: Resource, b: Resource, *args: Any, **kwargs: Any) -> Any:
        """What changed from model version ``a`` to ``b``: a :class:`lolpop.audit.diff.VersionDiff`
        (rows of section, field, A, B, changed: dataset versions, data artifacts, the winning
        trainer and its params, metrics, vc info, status; ``to_dict()`` is JSON-serialisable)."""
        from lolpop.component.metadata_tracker._audit_hooks import diff_of

        return diff_of(self, a, b)

    @translating
    def get_impact(self, dataset_version: Resource, *args: Any, **kwargs: Any) -> Any:
        """The blast radius of ``dataset_version``: a :class:`lolpop.audit.impact.Impact` with every
        model version built from it (through every hop the lineage records), every prediction job
        that used them, and which model versions are deployed now (the newest version of their id
        whose status is ``DEPLOYED``)."""
        from lolpop.component.metadata_tracker._audit_hooks import impact_of_resource

        return impact_of_resource(self, dataset_version)
