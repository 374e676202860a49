"""What one call writes to one run (:class:`Batch`) and what an MLflow store can hold: keys and
text are checked here before anything is sent or queued, so a value the store would refuse is an
error at the call, naming the key (DESIGN.md's trust boundary)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from lolpop.exceptions import InvalidInputError, InvalidKeyError
from lolpop.layout.keys import MAX_KEY_LENGTH, MAX_PARAM_VAL_LENGTH
from lolpop.store import _compat as compat

TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
RUN_STATUSES = tuple(RunStatus.to_string(s) for s in RunStatus.all_status())


@dataclass
class Batch:
    """What one call writes to one run: tags, params, metrics and artifact-backed values.

    ``uploads`` maps an artifact path (relative to the run root) to the text stored there; it is
    uploaded before the tags that point to it are sent.
    """

    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tags or self.params or self.metrics or self.uploads)

    def size(self) -> int:
        return len(self.tags) + len(self.params) + len(self.metrics)

    def merged(self, newer: Batch) -> Batch:
        return Batch({**self.tags, **newer.tags}, {**self.params, **newer.params},
                     {**self.metrics, **newer.metrics}, {**self.uploads, **newer.uploads})


def check_key(key: str, what: str, error: type[InvalidInputError] = InvalidKeyError) -> None:
    """Refuse a tag/param key MLflow cannot hold, naming it (before anything is sent)."""
    if len(key) > MAX_KEY_LENGTH:
        raise error(f"{what}: tag key {key[:60]!r}... is {len(key)} characters; MLflow allows "
                    f"{MAX_KEY_LENGTH}", key=key)
    check_text(key, what, error)
    try:
        compat.validate_tag_name(key)  # MLflow's own check, or its rule when MLflow lacks it
    except MlflowException as exc:
        raise error(f"{what}: {key!r} cannot be an MLflow tag key (use letters, digits, '_', '-', "
                    "'.', ' ', ':' and no path tricks)", key=key) from exc


def check_text(text: str, what: str, error: type[InvalidInputError] = InvalidInputError,
               key: str | None = None) -> None:
    """Refuse text no backend stores faithfully: lone surrogates (not UTF-8) and NUL."""
    if "\x00" in text:
        raise error(f"{what}: contains a NUL character, which MLflow stores cannot hold",
                    key=key if key is not None else text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what}: {text[max(0, exc.start - 20):exc.end + 20]!r} is not valid Unicode "
                    f"(a lone surrogate at position {exc.start}, e.g. from os.fsdecode); decode "
                    "it properly or store the bytes as an artifact",
                    key=key if key is not None else text) from None


def check_batch(batch: Batch) -> None:
    for key, value in batch.tags.items():
        check_key(key, f"tag {key[:100]!r}")
        check_text(value, f"value of {key[:100]!r}", key=key)
    for key, value in batch.params.items():
        check_key(key, f"param {key[:100]!r}")
        check_text(value, f"param {key[:100]!r}", key=key)
        if len(value) > MAX_PARAM_VAL_LENGTH:
            raise InvalidInputError(f"param {key!r}: value is {len(value)} characters; MLflow params hold "
                                    f"at most {MAX_PARAM_VAL_LENGTH}", key=key)
    for key in batch.metrics:
        check_key(key, f"metric {key[:100]!r}")
    for path, text in batch.uploads.items():
        check_text(text, f"value stored at {path!r}", key=path)


def new_only(batch: Batch, tags: Mapping[str, str], params: Mapping[str, str],
              metrics: Mapping[str, float]) -> Batch:
    """What of ``batch`` the run does not hold yet (an identical re-log sends nothing)."""
    return Batch({k: v for k, v in batch.tags.items() if tags.get(k) != v},
                 {k: v for k, v in batch.params.items() if params.get(k) != v},
                 {k: v for k, v in batch.metrics.items() if metrics.get(k) != v},
                 batch.uploads)
