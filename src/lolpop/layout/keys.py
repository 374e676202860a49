"""Tag keys and names of lolpop's layout on MLflow (see DESIGN.md, "Tag layout").

Every place that reads or writes a tag of the layout builds its key here, so the layout is
spelled once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from lolpop.exceptions import InvalidKeyError, MetadataConflictError

# MLflow's limits (mlflow.utils.validation), repeated here so reading code need not import MLflow;
# tests/layout/test_keys.py checks that they still match.
MAX_KEY_LENGTH = 250
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAM_VAL_LENGTH = 6000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535

#: An MLflow run id.
RUN_ID = re.compile(r"^[0-9a-f]{32}$")

#: Tag marking a workflow run (lolpop 0.2.0 wrote it too).
PARENT_RUN_TAG = "parent_run"
#: MLflow's own parent-run tag, set on an experiment's nested run.
MLFLOW_PARENT = "mlflow.parentRunId"
#: Run tags written at an experiment's creation (same facts as its id-keyed tags).
RESOURCE_TYPE_TAG = "lolpop.resource_type"
PARENT_ID_TAG = "lolpop.parent_id"

#: Tag of every run, LoggedModel and registry version lolpop creates: a token made by the client,
#: so that a create whose answer was lost is looked up before it is sent again (exactly once).
CREATE_TOKEN_TAG = "lolpop.create_token"

#: MLflow's own run tags that lolpop sets (DESIGN.md, "MLflow-native records").
MLFLOW_RUN_NAME = "mlflow.runName"
#: Experiment tag choosing what MLflow 3's UI opens an experiment on; lolpop's experiments hold
#: training runs (the UI's "Model training" view), not GenAI traces.
MLFLOW_EXPERIMENT_KIND = "mlflow.experimentKind"
TRAINING_EXPERIMENT_KIND = "custom_model_development"
MLFLOW_NOTE = "mlflow.note.content"
#: The input tag naming a dataset input's context, and the context of a model's training data.
MLFLOW_DATASET_CONTEXT = "mlflow.data.context"
TRAINING_CONTEXT = "training"
#: The metadata id whose numeric entries are also MLflow metrics of the resource's run.
METRICS_ID = "metrics"

EXPERIMENT = "experiment"
MODEL_VERSION = "model_version"
PREDICTION_JOB = "prediction_job"

#: Prefixes of lolpop's bookkeeping names; resource ids may not start with ``_lolpop``.
RESERVED_PREFIX = "_lolpop"
BOOKKEEPING_PREFIXES = ("_lolpop", "lolpop.")

# -- the winner record (written and read by lolpop.component.model_trainer._winner) ------------
#: On the model version: the id of the winning experiment.
WINNER_KEY = "winning_experiment_id"
#: On each experiment: what rebuilding it takes.
TRAINER_KEY = "model_trainer"
TRAINER_CONFIG_KEY = "model_trainer_config"
PARAMS_KEY = "training_params"
TRANSFORMER_KEY = "feature_transformer"
TRANSFORMER_CONFIG_KEY = "feature_transformer_config"
#: On the model version, written by lolpop 0.2.0 and earlier lolpop: read only as a fallback.
LEGACY_TRAINER_KEY = "winning_experiment_model_trainer"
LEGACY_TRANSFORMER_KEY = "winning_experiment_feature_transformer"
LEGACY_TRANSFORMER_CONFIG_KEY = "winning_experiment_feature_transformer_config"

#: Keys of a resource that describe its place in the graph rather than user metadata.
STRUCTURAL = ("exists", "type", "parent_id", "parent_run_id")

#: Searchable downstream index written with ``build_model_lineage``:
#: ``_lolpop.used_by.<dataset_run_id>.<dataset_id>`` = JSON list of model version ids in that run.
USED_BY_PREFIX = "_lolpop.used_by."

#: Searchable "made from" index written with ``create_resource(..., parent=p)`` of a resource
#: that is not an experiment (a prediction job of a model version, a dataset version made from
#: another): ``_lolpop.child_of.<parent_run_id>.<parent_id>`` = JSON list of the child ids in that
#: run, so what was made from a version is one search (lineage downstream, impact, taint's blast
#: radius) that reads one key, where a search on the children's ``parent_run_id`` value reads the
#: tag of every prediction job of the model (MLflow indexes a tag's key, not its value).
CHILD_OF_PREFIX = "_lolpop.child_of."
#: Experiment tag set with the experiment by the lolpop that creates it (one request): every
#: writer of it indexes its prediction jobs as made from their model version (``CHILD_OF_PREFIX``).
#: Where it is missing (an experiment created before lolpop did so, or by another tool), a
#: prediction job may be recorded only by its ``parent_run_id``, and readers search for that too.
#: As with the version index, keep every writer of an experiment on one lolpop version.
MADE_FROM_EXPERIMENT_TAG = "lolpop.made_from_index"
MADE_FROM_INDEXED = "prediction_job"


def key(resource_id: str, name: str) -> str:
    """The tag key of metadata ``name`` of resource ``resource_id``: ``<id>.<name>``."""
    return f"{resource_id}.{name}"


def exists_key(resource_id: str) -> str:
    return key(resource_id, "exists")


def used_by_key(dataset_run_id: str, dataset_id: str) -> str:
    return f"{USED_BY_PREFIX}{dataset_run_id}.{dataset_id}"


def child_of_key(parent_run_id: str, parent_id: str) -> str:
    return f"{CHILD_OF_PREFIX}{parent_run_id}.{parent_id}"


def searchable(index_key: str) -> bool:
    """Whether the made-from index key ``index_key`` can be written (MLflow's key length) and
    searched (a filter quotes it in backticks): the writer skips one that is not, and readers do
    not look for it."""
    return len(index_key) <= MAX_KEY_LENGTH and "`" not in index_key


def listed(tags: Mapping[str, str], index_key: str) -> list[Any]:
    """The JSON list an index tag (used-by, made-from) holds in ``tags``; empty when it is absent
    or is no JSON list (stored data: anyone may write it). The items are unchecked."""
    try:
        items = json.loads(tags.get(index_key, "[]"))
    except json.JSONDecodeError:
        return []
    return items if isinstance(items, list) else []


def resource_id(name: str) -> str:
    """The id a resource is recorded under: ``name``, or for a path (contains ``/``) the file
    stem with ``.`` replaced by ``_`` (DESIGN.md's ``get_resource_id`` rule)."""
    if "/" in name:
        return PurePosixPath(name).stem.replace(".", "_")
    return name


def experiment_id(run_id: str, parent_id: str) -> str:
    """An experiment resource's id: ``<nested_run_id>.<parent_id>``."""
    return f"{run_id}.{parent_id}"


def is_experiment_id(resource_id: str) -> bool:
    """Experiment resources are ``<nested_run_id>.<parent_id>``."""
    head, dot, _ = resource_id.partition(".")
    return bool(dot) and bool(RUN_ID.match(head))


def split_experiment_id(resource_id: str) -> tuple[str, str]:
    """``(run_id, parent_id)`` of an experiment id (see :func:`is_experiment_id`)."""
    run_id, _, parent_id = resource_id.partition(".")
    return run_id, parent_id


def is_bookkeeping(tag_key: str) -> bool:
    return tag_key.startswith(BOOKKEEPING_PREFIXES)


#: The metadata key of a model version that holds its lineage (``build_model_lineage``: the dataset
#: versions it was built from, as JSON), and the searchable flag beside it (lolpop 0.2.0 wrote both).
LINEAGE_KEY = "dataset_versions"
LINEAGE_FLAG = f"{LINEAGE_KEY}.exists"

#: A model version's prediction job is the resource ``<model version id>_predictions`` (the seed
#: contract's naming; ``get_latest_model_resource`` and the lineage's downstream walk search for it).
PREDICTIONS_SUFFIX = "_predictions"


def prediction_job_id(model_version_id: str) -> str:
    """The id of the prediction job of ``model_version_id``."""
    return f"{model_version_id}{PREDICTIONS_SUFFIX}"


#: Keys lolpop itself writes under a resource that end in ``.exists`` without naming a resource.
OWN_FLAGS = (LINEAGE_FLAG,)


# -- layout v2: an experiment's own run (DESIGN.md, "An experiment's own run (layout v2)") -------

#: Run tag of an experiment's nested run naming the layout of the run's own keys. Absent (lolpop
#: 0.2.0 and earlier lolpop): every key is ``<id>.<key>``. ``"2"``: the keys of the experiment that
#: owns the run are plain (``model_trainer``, ``training_params``), as in a hand-written MLflow run;
#: keys of any other resource in the run stay ``<id>.<key>``. Artifacts keep ``<id>/<aid>/<file>``
#: in v2: the saved model's folder ``<id>/model`` is read by the registry's serving-model build,
#: by ``load_model`` and by the lineage and CLI readers of every store written so far; moving it
#: would fork those readers for a tidier artifact tree only (MLflow's compare view lines up
#: metrics, params and tags, which v2 makes plain).
LAYOUT_TAG = "lolpop.layout"
OWN_RUN_LAYOUT = "2"
#: Namespaces a plain key may not take: MLflow's reserved tags and lolpop's bookkeeping.
RESERVED_KEY_PREFIXES = ("mlflow.",) + BOOKKEEPING_PREFIXES
#: In layout v2 the structural facts of the owning experiment are the run tags written when the run
#: is created (no ``exists`` / ``type`` / ``parent_id`` / ``parent_run_id`` tags of its own).
_OWN_STRUCTURAL = {"type": RESOURCE_TYPE_TAG, "parent_id": PARENT_ID_TAG, "parent_run_id": MLFLOW_PARENT}


def owns_run(tags: Mapping[str, str], run_id: str, resource_id: str) -> bool:
    """Whether ``resource_id`` is the experiment owning run ``run_id`` (holding ``tags``) and the
    run uses layout v2, so the resource's keys are plain."""
    return (tags.get(LAYOUT_TAG) == OWN_RUN_LAYOUT and is_experiment_id(resource_id)
            and split_experiment_id(resource_id)[0] == run_id)


def own_resource_id(tags: Mapping[str, str], run_id: str) -> str | None:
    """The experiment owning a layout-v2 run, or ``None`` (not v2, or no parent recorded)."""
    parent = tags.get(PARENT_ID_TAG)
    if tags.get(LAYOUT_TAG) != OWN_RUN_LAYOUT or not isinstance(parent, str) or not parent:
        return None
    return experiment_id(run_id, parent)


def tag_key(tags: Mapping[str, str], run_id: str, resource_id: str, name: str) -> str:
    """The tag holding metadata ``name`` of ``resource_id`` in run ``run_id`` (holding ``tags``):
    ``<id>.<name>``, or in the owning experiment's layout-v2 run ``name`` itself (its structural
    names: the creation tags)."""
    if owns_run(tags, run_id, resource_id):
        return _OWN_STRUCTURAL.get(name, name)
    return key(resource_id, name)


def has_resource(tags: Mapping[str, str], run_id: str, resource_id: str) -> bool:
    """Whether run ``run_id`` holding ``tags`` records ``resource_id`` (``<id>.exists = True``, or
    it is the experiment owning the layout-v2 run)."""
    if owns_run(tags, run_id, resource_id):
        return own_resource_id(tags, run_id) == resource_id
    return tags.get(exists_key(resource_id)) == "True"


def own_keys(tags: Mapping[str, str]) -> list[str]:
    """The tags of a layout-v2 run that are metadata of its owning experiment: every tag outside
    MLflow's and lolpop's namespaces that names no other resource's key."""
    others = [k[: -len(".exists")] + "." for k, v in tags.items()
              if v == "True" and k.endswith(".exists") and not k.startswith(RESERVED_KEY_PREFIXES)]
    return sorted(k for k in tags if not k.startswith(RESERVED_KEY_PREFIXES)
                  and not any(k.startswith(o) for o in others) and not k.endswith(".exists"))


def check_own_keys(resource_id: str, names: Iterable[str], run_id: str = "") -> None:
    """Refuse plain keys that would land in MLflow's reserved ``mlflow.`` namespace, in lolpop's
    bookkeeping (``lolpop.``, ``_lolpop``), or on a structural fact of the run.

    Raises:
        InvalidKeyError: naming the key and the resource; nothing was written.
    """
    for name in names:
        if name.startswith(RESERVED_KEY_PREFIXES) or name in STRUCTURAL:
            where = f" (run {run_id})" if run_id else ""
            raise InvalidKeyError(
                f"metadata key {name!r} of experiment {resource_id!r}{where} is reserved: an experiment's "
                f"own run keeps its keys unprefixed, and names starting with 'mlflow.' (MLflow's), "
                f"'lolpop.' or '_lolpop' (lolpop's bookkeeping) or equal to one of {list(STRUCTURAL)} "
                f"would be read as something else; nothing was written", key=name, resource_id=resource_id)


def check_namespace(tags: Mapping[str, str], resource_id: str, names: Iterable[str], run_id: str = "") -> None:
    """Refuse writing keys ``names`` of resource ``resource_id`` into a run with ``tags`` when a
    tag key would also belong to another resource of that run.

    Tag keys are ``<id>.<key>``, so resource ``sales`` key ``2024.rows`` and resource ``sales.2024``
    key ``rows`` are one tag. The rule: no resource of a run lives inside another's namespace.
    A write is refused when ``resource_id`` extends a resource of the run (``sales.2024`` while
    ``sales`` exists), when a new resource would contain one (creating ``sales`` while
    ``sales.2024`` exists), or when a key of a resource not recorded in the run reaches into a
    resource that is.

    Raises:
        MetadataConflictError: naming both resources and the tag key; nothing was written.
    """
    names = list(names)
    if not names:
        return
    where = f" in run {run_id}" if run_id else ""

    def refuse(name: str, other: str) -> MetadataConflictError:
        tag = key(resource_id, name)
        return MetadataConflictError(
            f"tag {tag!r}{where} would belong to two resources: resource {resource_id!r} key "
            f"{name!r} and resource {other!r} key {tag[len(other) + 1:]!r} (tag keys are "
            f"'<resource id>.<key>'); nothing was written. Use resource ids where one is not the "
            f"other plus '.<suffix>', e.g. {other.replace('.', '_')!r} / {resource_id.replace('.', '_')!r}"
        )

    parts = resource_id.split(".")
    for i in range(1, len(parts)):
        outer = ".".join(parts[:i])
        if tags.get(exists_key(outer)) == "True":
            raise refuse(names[0], outer)
    if tags.get(exists_key(resource_id)) == "True":
        return  # a resource of this run: lolpop never let another one into its namespace
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts)):
            inner = key(resource_id, ".".join(parts[:i]))
            if tags.get(exists_key(inner)) == "True" and exists_key(inner) != key(resource_id, name):
                raise refuse(name, inner)
    if "exists" in names:  # the resource is being created in this run
        prefix, suffix = resource_id + ".", ".exists"
        for tag, value in tags.items():
            if value == "True" and tag.startswith(prefix) and tag.endswith(suffix):
                rest = tag[len(prefix):]
                if rest not in OWN_FLAGS and rest != "exists":
                    raise refuse("exists", tag[: -len(suffix)])


# -- model lifecycle: status events and the MLflow Model Registry ------------------------------

#: One run tag per status set on a model version, on the model version's run (never a shared,
#: rewritten list, so concurrent writers never lose an event):
#: ``_lolpop.status_event.<µs since the epoch, 16 digits>.<32 hex>`` = the event as JSON
#: (:mod:`lolpop.layout.events`).
STATUS_EVENT_PREFIX = "_lolpop.status_event."

#: One run tag per quarantine or lift of a dataset version, on the dataset version's own run
#: (where a writer without a workflow run, the CLI, can put it with one set-tag request):
#: ``_lolpop.quarantine.<µs since the epoch, 16 digits>.<32 hex>`` = the event as JSON
#: (:mod:`lolpop.layout.quarantine`).
QUARANTINE_PREFIX = "_lolpop.quarantine."

#: Tags of a registered model version and of the LoggedModel it serves.
REGISTRY_WORKFLOW_RUN_TAG = "lolpop.workflow_run_id"
REGISTRY_EXPERIMENT_TAG = "lolpop.experiment_id"
REGISTRY_MODEL_VERSION_TAG = "lolpop.model_version_id"
#: The audit report of a model version (lolpop.audit.report) as an artifact of its run:
#: ``<model version id>/audit_report/report.html``; its registry version's tag
#: ``lolpop.audit_report`` points there as ``runs:/<run id>/<that path>``.
AUDIT_REPORT_ARTIFACT_ID = "audit_report"
AUDIT_REPORT_FILE_NAME = "report.html"
REGISTRY_REPORT_TAG = "lolpop.audit_report"


def audit_report_path(model_version_id: str) -> str:
    """Where the audit report of a model version lives in its run's artifacts."""
    return f"{model_version_id}/{AUDIT_REPORT_ARTIFACT_ID}/{AUDIT_REPORT_FILE_NAME}"


# MLflow's rules for alias names (mlflow.utils.validation); tests/layout/test_keys.py checks them.
_ALIAS_CHARS = re.compile(r"[^\w\-]+")
_RESERVED_ALIAS = re.compile(r"^(?:[vV]\d+|latest)$", re.IGNORECASE)
MAX_ALIAS_LENGTH = 255
#: Characters MLflow refuses in a registered model name.
_BAD_MODEL_NAME_CHARS = ("/", ":", "%")


def quarantine_key(time_us: int, uid: str) -> str:
    """The tag key of one quarantine event; keys sort by time (fixed-width digits)."""
    return f"{QUARANTINE_PREFIX}{time_us:016d}.{uid}"


def status_event_key(time_us: int, uid: str) -> str:
    """The tag key of one status event; keys sort by time (fixed-width digits)."""
    return f"{STATUS_EVENT_PREFIX}{time_us:016d}.{uid}"


def status_alias(status: str) -> str | None:
    """The registry alias a model version with ``status`` holds: ``lower(status)``, with runs of
    characters MLflow refuses in alias names (anything but letters, digits, ``_`` and ``-``)
    replaced by ``_``; ``None`` when nothing usable is left or the name is reserved by MLflow
    (``latest``, ``v<digits>``) or too long.

    Example:
        >>> status_alias("DEPLOYED"), status_alias("Rolled back"), status_alias("V2")
        ('deployed', 'rolled_back', None)
    """
    alias = _ALIAS_CHARS.sub("_", status.strip().lower()).strip("_")
    if not alias or _RESERVED_ALIAS.match(alias) or len(alias) > MAX_ALIAS_LENGTH:
        return None
    return alias


def registered_model_name(resource_id: str) -> str | None:
    """The registered model a model version ``resource_id`` belongs to: the id itself, or
    ``None`` when MLflow cannot hold it as a registered model name (``/``, ``:``, ``%``)."""
    if not resource_id.strip() or any(c in resource_id for c in _BAD_MODEL_NAME_CHARS):
        return None
    return resource_id


def logged_model_name(resource_id: str) -> str:
    """The name of the LoggedModel serving model version ``resource_id``: the id with the
    characters MLflow refuses in LoggedModel names (``/ : . % " '``) replaced by ``_``."""
    return re.sub(r"[/:.%\"']", "_", resource_id) or "model"
