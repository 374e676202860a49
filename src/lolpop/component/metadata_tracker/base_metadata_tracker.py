"""The metadata tracker interface every lolpop tracker implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

from lolpop.component.base import BaseComponent


class Resource(NamedTuple):
    """A tracked resource: its ``id`` and the tracker's handle on where it lives (``run``).

    It is a plain tuple, so ``(id, run)`` unpacking and ``resource[1]`` keep working.
    """

    id: str
    run: Any

    def __repr__(self) -> str:
        # One short line: the generated repr printed the whole MLflow Run (every tag, ~7000
        # characters in the quickstart). Equality, hashing and unpacking are the tuple's, unchanged.
        return f"Resource(id={_cut(repr(self.id), 200)}, run={_brief_run(self.run)})"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _brief_run(run: Any) -> str:
    """``<Run 1d085092… FINISHED>`` for an MLflow run (its status when the resource got it),
    else the object's own repr, cut to 80 characters."""
    info = getattr(run, "info", None)
    run_id = getattr(info, "run_id", None)
    if isinstance(run_id, str):
        status = getattr(info, "status", None)
        return f"<Run {run_id[:8]}…{f' {status}' if isinstance(status, str) else ''}>"
    return _cut(repr(run), 80)


class BaseMetadataTracker(BaseComponent, ABC):
    """Records the resources a lolpop workflow touches and answers questions about them.

    A *resource* is ``(id, run)``. Every method that takes one also accepts any 2-tuple.
    Concrete trackers document their storage layout; see ``MLFlowMetadataTracker``.
    """

    # -- artifacts -------------------------------------------------------------------------
    @abstractmethod
    def log_artifact(self, resource: Resource, id: str, path: str, *args: Any, **kwargs: Any) -> None:
        """Store the file or folder at ``path`` as artifact ``id`` of ``resource``.

        Args:
            resource: the resource the artifact belongs to.
            id: the artifact id (one path segment).
            path: a local file or folder.

        Raises:
            InvalidKeyError: ``id`` is empty or not a single safe path segment.
            InvalidInputError: ``path`` does not exist.

        Example:
            >>> tracker.log_artifact(dv, "sample", "data/sample.csv")
        """

    @abstractmethod
    def get_artifact(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download artifact ``id`` of ``resource`` and return its local path.

        Returns:
            The path of the file, or of a folder when the artifact holds several files.

        Raises:
            ArtifactNotFoundError: nothing is stored under ``id``.

        Example:
            >>> local = tracker.get_artifact(dv, "sample")
        """

    # -- tags and metadata -----------------------------------------------------------------
    @abstractmethod
    def log_tag(self, resource: Resource, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """Set tag ``key`` of ``resource`` to ``value``.

        Example:
            >>> tracker.log_tag(mv, "status", "PROMOTED")
        """

    @abstractmethod
    def get_tag(self, resource: Resource, key: str, *args: Any, **kwargs: Any) -> Any:
        """Return tag ``key`` of ``resource``, or ``None`` when it was never set.

        Example:
            >>> tracker.get_tag(mv, "status")
            'PROMOTED'
        """

    @abstractmethod
    def log_metadata(self, resource: Resource, id: str, data: Any, *args: Any, **kwargs: Any) -> None:
        """Record ``data`` under ``id`` for ``resource``; ``get_metadata`` returns it unchanged.

        When ``id`` contains ``"param"`` and ``data`` is a dict, each item is also a param.

        Raises:
            TypeError: ``data`` cannot be stored as JSON.
            MetadataConflictError: a param already holds a different value.

        Example:
            >>> tracker.log_metadata(exp, "params", {"max_depth": 4})
        """

    @abstractmethod
    def get_metadata(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> Any:
        """Return what ``log_metadata`` recorded under ``id``, or ``None``.

        Example:
            >>> tracker.get_metadata(exp, "params")
            {'max_depth': 4}
        """

    # -- resources -------------------------------------------------------------------------
    @abstractmethod
    def create_resource(
        self, id: str, type: str | None = None, parent: Resource | None = None, *args: Any, **kwargs: Any
    ) -> Resource:
        """Create resource ``id`` of ``type`` (under ``parent``) and return it.

        Extra keyword arguments are recorded as metadata of the new resource.

        Example:
            >>> mv = tracker.create_resource("churn_model", type="model_version")
            >>> exp = tracker.create_resource("exp", type="experiment", parent=mv)
        """

    @abstractmethod
    def get_resource(
        self, id: str, type: str | None, parent: Resource | None = None, *args: Any, **kwargs: Any
    ) -> Resource:
        """Return the resource ``id`` of ``type``.

        Raises:
            ResourceNotFoundError: there is no such resource.

        Example:
            >>> tracker.get_resource(exp.id, type="experiment")
        """

    @abstractmethod
    def update_resource(self, resource: Resource, updates: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Apply ``updates`` to ``resource``; nothing is silently dropped.

        Example:
            >>> tracker.update_resource(exp, {"status": "FAILED"})
        """

    @abstractmethod
    def clean_resource(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> None:
        """Finish ``resource`` (for an experiment: end its run).

        Example:
            >>> tracker.clean_resource(exp, type="experiment")
        """

    # -- look-ups --------------------------------------------------------------------------
    @abstractmethod
    def get_prev_resource_version(
        self, resource: Resource, extra_filters: Sequence[str] = (), num: int = 1, *args: Any, **kwargs: Any
    ) -> Resource | tuple[str, list[Any]] | None:
        """Return the previous version(s) of ``resource``, newest first, or ``None``.

        Args:
            resource: the resource whose history to search.
            extra_filters: extra search clauses, e.g. ``["tags.`churn.status` = 'DEPLOYED'"]``.
            num: how many versions; ``num > 1`` returns ``(id, [runs])``.

        Raises:
            InvalidFilterError: a clause is malformed.

        Example:
            >>> prev = tracker.get_prev_resource_version(dv)
        """

    @abstractmethod
    def get_currently_deployed_model_version(self, model_version: Resource, *args: Any, **kwargs: Any) -> Resource | None:
        """Return the newest earlier version of ``model_version`` marked ``DEPLOYED``, or ``None``.

        Example:
            >>> tracker.get_currently_deployed_model_version(mv)
        """

    @abstractmethod
    def get_prediction_job_model_version(self, prediction_job: Resource | str, *args: Any, **kwargs: Any) -> Resource:
        """Return the model version a prediction job used, with the run it was trained in.

        Example:
            >>> tracker.get_prediction_job_model_version(pj)
        """

    @abstractmethod
    def get_latest_model_resource(self, model: Resource, type: str, *args: Any, **kwargs: Any) -> Resource | None:
        """Return the newest resource of ``type`` for ``model`` (``"prediction_job"``).

        Example:
            >>> tracker.get_latest_model_resource(model, "prediction_job")
        """

    @abstractmethod
    def get_winning_experiment(self, model_version: Resource, *args: Any, **kwargs: Any) -> Resource:
        """Return the experiment recorded as ``winning_experiment_id`` of ``model_version``.

        Example:
            >>> tracker.get_winning_experiment(mv)
        """

    @abstractmethod
    def build_model_lineage(
        self, model_version: Resource, dataset_versions: Sequence[Resource], *args: Any, **kwargs: Any
    ) -> None:
        """Record which dataset versions built ``model_version``.

        Example:
            >>> tracker.build_model_lineage(mv, [train_dv, test_dv])
        """

    @abstractmethod
    def get_resource_id(self, resource: Resource, *args: Any, **kwargs: Any) -> str:
        """Return the id under which ``resource`` is recorded.

        Example:
            >>> tracker.get_resource_id(("data/train.csv", run))
            'train'
        """

    @abstractmethod
    def get_parent_id(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> str | None:
        """Return the id of the resource's parent, or ``None``.

        Example:
            >>> tracker.get_parent_id(exp, type="experiment")
            'churn_model'
        """

    # -- version control -------------------------------------------------------------------
    @abstractmethod
    def register_vc_resource(
        self,
        resource: Resource,
        vc_info: dict[str, Any] | None,
        key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Record version-control info (``uri``, ``hexsha``) and extra metadata for ``resource``.

        Example:
            >>> tracker.register_vc_resource(dv, {"uri": "data.csv", "hexsha": sha})
        """

    @abstractmethod
    def get_vc_info(self, resource: Resource, key: str | None = "hexsha", *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Return ``{"hexsha": ..., "uri": ...}`` recorded by ``register_vc_resource``.

        Example:
            >>> tracker.get_vc_info(mv, key="train")
        """

    # -- data reports ----------------------------------------------------------------------
    @abstractmethod
    def log_data_profile(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Store a data profile report as artifact ``<id>_data_profile``."""

    @abstractmethod
    def get_data_profile(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the data profile stored under ``id`` and return its local path."""

    @abstractmethod
    def log_checks(self, resource: Resource, file_path: str, type: str = "data", *args: Any, **kwargs: Any) -> None:
        """Store a checks report as artifact ``<id>_<type>_checks_report``."""

    @abstractmethod
    def get_data_checks(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the checks report stored under ``id`` and return its local path."""

    @abstractmethod
    def log_data_comparison(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Store a data comparison report as artifact ``<id>_data_comparison``."""

    # -- life cycle ------------------------------------------------------------------------
    @abstractmethod
    def stop(self, *args: Any, **kwargs: Any) -> None:
        """End the tracker's workflow run and any run it left open. Idempotent."""

    @abstractmethod
    def load_model(
        self,
        model_obj: Any,
        model_version: Resource,
        ref_model: Any,
        pipeline_config: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Rebuild a model trainer object from what was recorded about ``model_version``."""
