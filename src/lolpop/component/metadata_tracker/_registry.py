"""lolpop model versions in MLflow's Model Registry; aliases follow their ``status``.

**What.** A model version (resource id ``<id>``) whose winning experiment saved a model becomes a
version of the registered model ``<id>``: its source is a LoggedModel of the experiment's run
holding the model MLflow serves (:mod:`._serving_model`: the saved model, or transformer and model
as one pipeline) with the experiment's params, ``run_id`` is the experiment's run, and its tags are
``lolpop.workflow_run_id`` (the run holding the model version), ``lolpop.experiment_id`` and
``lolpop.model_version_id``. So ``mlflow.pyfunc.load_model("models:/<id>@deployed")`` predicts
what ``tracker.load_model(None, mv, None).predict`` does. One registry version per winning
experiment: setting statuses again finds it, it is never registered twice by one tracker.

**When.** At the first status set on the model version, not when its winner is recorded. A
pipeline may record several candidates as the winner in turn (``build_model`` records every
experiment it trains; the quickstart then records the best one), while a status is set on the
final choice: registering at the first status registers exactly the models that enter a
lifecycle, each once. It also covers model versions trained before the registry was in use (an
older lolpop, ``mlflow_registry: false``, a registry that was down): their next status change
registers them. A winner recorded after registration is registered at the next status change.

**Aliases.** Setting status ``S`` moves alias :func:`~lolpop.layout.keys.status_alias` (``S``) —
``deployed``, ``promoted``, ... — to the version; the alias of the status the version leaves is
removed when it still points to it, so ``@promoted`` never names a version that moved on.

**Requests** (beyond the one ``log_batch`` of the status write; MLflow has no batch API for them):
registering a version costs reads (model-version and LoggedModel searches, the experiment's run,
an artifact listing and download) and the writes ``create_logged_model``, one upload per model
file, ``finalize_logged_model``, ``log_outputs``, ``create_registered_model`` and
``create_model_version``; then, and at every later status set, ``set_registered_model_alias``
(plus, when it leaves a status, ``get_model_version_by_alias`` and maybe
``delete_registered_model_alias``). A prediction job created with a registered model version as
parent records the LoggedModel as its input (one search, one ``log_inputs``).

**Failures.** The registry is a view of what lolpop records, never a precondition: any error
(a store without a registry, a refused name, a permission) is logged as a warning and tracking
goes on. Two processes registering the same version at the same moment settle on the lower
version number (the other is deleted).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lolpop.component.metadata_tracker import _serving_model
from lolpop.component.metadata_tracker._connection import redact
from lolpop.component.metadata_tracker._run_store import RunStore
from lolpop.layout import filters, keys
from lolpop.layout import values as _values

_READY = "READY"


@dataclass(frozen=True)
class RegistryVersion:
    """A registered model version: ``models:/<name>/<version>``."""

    name: str
    version: str


def _status_text(model: Any) -> str:
    return str(getattr(model.status, "value", model.status)).rsplit(".", 1)[-1]


class ModelRegistry:
    """Registers model versions and moves aliases through a :class:`RunStore` (thread-safe).

    Args:
        store: the run store (every request goes through it).
        enabled: ``mlflow_registry`` (``False``: every method does nothing).
        tmp_dir: where model folders are assembled.
        logger: where failures are reported.
    """

    def __init__(self, store: RunStore, *, enabled: bool, tmp_dir: str, logger: logging.Logger) -> None:
        self.store = store
        self.enabled = enabled
        self.tmp_dir = tmp_dir
        self.logger = logger
        self._versions: dict[tuple[str, str], RegistryVersion] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def warn(self, what: str, exc: BaseException) -> None:
        """Report a registry failure (tracking goes on)."""
        text = redact(str(getattr(exc, "message", None) or exc))
        self.logger.warning("lolpop: model registry: %s failed (tracking goes on): %s: %s",
                            what, type(exc).__name__, text[:500])

    def _warn_once(self, message: str, *args: Any) -> None:
        text = message % args
        if text not in self._warned:
            self._warned.add(text)
            self.logger.warning(text)

    # -- registration ---------------------------------------------------------------------------
    def version_for(self, model_version_id: str, workflow_run_id: str, winner: Any) -> RegistryVersion | None:
        """The registry version of ``model_version_id``'s winning experiment ``winner``, registered
        now when it is not yet; ``None`` when there is nothing to register or the registry failed."""
        if not self.enabled or not isinstance(winner, str) or not keys.is_experiment_id(winner):
            return None
        name = keys.registered_model_name(model_version_id)
        if name is None:
            self._warn_once("lolpop: model registry: %r cannot be an MLflow registered model name "
                            "('/', ':' and '%%' are not allowed); it is not registered", model_version_id)
            return None
        try:
            with self._lock:
                cached = self._versions.get((name, winner))
                if cached is None:
                    cached = self._find(name, winner) or self._register(name, model_version_id, workflow_run_id,
                                                                        winner)
                    if cached is not None:
                        self._versions[(name, winner)] = cached
                return cached
        except Exception as exc:  # noqa: BLE001 - the registry must never fail tracking
            self.warn(f"registering model version {model_version_id!r}", exc)
            return None

    def _find(self, name: str, winner: str) -> RegistryVersion | None:
        run_id, _ = keys.split_experiment_id(winner)
        found = [int(v.version) for v in self.store.find_model_versions(filters.model_version_filter(name, run_id))
                 if v.tags.get(keys.REGISTRY_EXPERIMENT_TAG) == winner]
        return RegistryVersion(name, str(min(found))) if found else None

    def _register(self, name: str, model_version_id: str, workflow_run_id: str, winner: str) -> RegistryVersion | None:
        run_id, _ = keys.split_experiment_id(winner)
        tags = {keys.REGISTRY_WORKFLOW_RUN_TAG: workflow_run_id, keys.REGISTRY_EXPERIMENT_TAG: winner,
                keys.REGISTRY_MODEL_VERSION_TAG: model_version_id}
        logged = self._logged_model(model_version_id, winner, tags)
        if logged is None:
            self.logger.debug("lolpop: experiment %s saved no model; %r is not registered", winner, model_version_id)
            return None
        self.store.create_registered_model(name)
        made = self.store.create_model_version(name, logged.artifact_location, run_id, tags, logged.model_id)
        ours = RegistryVersion(name, str(made.version))
        # Another process may have registered the same experiment at the same moment: every
        # process settles on the lowest version, and the extra one goes.
        first = self._find(name, winner)
        if first is not None and first != ours:
            try:
                self.store.delete_model_version(name, ours.version)
            except Exception as exc:  # noqa: BLE001 - a duplicate version is untidy, not wrong
                self.warn(f"removing duplicate version {ours.version} of {name!r}", exc)
            return first
        return ours

    def _logged_model(self, model_version_id: str, winner: str, tags: dict[str, str]) -> Any:
        """The READY LoggedModel serving ``winner``: found, else built, uploaded and finalized."""
        run_id, _ = keys.split_experiment_id(winner)
        experiment = self.store.get_run(run_id).info.experiment_id
        found = self._find_logged(experiment, run_id, winner)
        if found is not None:
            return found
        with tempfile.TemporaryDirectory(dir=self.tmp_dir) as tmp:
            folder = _serving_model.build(self.store.artifacts(run_id), winner, Path(tmp))
            if folder is None:
                return None
            _, params = self.store.data(run_id)  # the experiment's params, shown on the model's page
            logged = self.store.create_logged_model(experiment, keys.logged_model_name(model_version_id), run_id,
                                                    tags, params)
            try:
                self.store.upload_logged_model(logged.model_id, str(folder))
            except BaseException:
                try:
                    self.store.finalize_logged_model(logged.model_id, ready=False)
                except Exception:  # noqa: BLE001 - the upload failure is the error to report
                    pass
                raise
        self.store.finalize_logged_model(logged.model_id, ready=True)
        self.store.log_model_output(run_id, logged.model_id)
        return logged

    def _find_logged(self, experiment: str, run_id: str, winner: str) -> Any:
        ready = [m for m in self.store.find_logged_models(experiment, run_id)
                 if m.tags.get(keys.REGISTRY_EXPERIMENT_TAG) == winner and _status_text(m) == _READY]
        return max(ready, key=lambda m: m.creation_timestamp) if ready else None

    # -- aliases --------------------------------------------------------------------------------
    def alias_for(self, status: Any) -> str | None:
        """The alias a status moves (``None``, with a warning once, when MLflow cannot hold one)."""
        if not isinstance(status, str):
            return None
        alias = keys.status_alias(status)
        if alias is None:
            self._warn_once("lolpop: model registry: status %r gives no usable MLflow alias name "
                            "(reserved, empty or too long); no alias is moved for it", status)
        elif alias != status.lower():
            self._warn_once("lolpop: model registry: status %r moves alias %r (MLflow alias names hold "
                            "letters, digits, '_' and '-')", status, alias)
        return alias

    def move_alias(self, version: RegistryVersion, new_status: Any, old_status: Any) -> None:
        """Point the alias of ``new_status`` at ``version``; drop the alias of ``old_status`` from it."""
        if not self.enabled:
            return
        new_alias = self.alias_for(new_status)
        old_alias = keys.status_alias(old_status) if isinstance(old_status, str) else None
        try:
            if new_alias is not None:
                self.store.set_alias(version.name, new_alias, version.version)
            if old_alias is not None and old_alias != new_alias and \
                    self.store.alias_version(version.name, old_alias) == version.version:
                self.store.delete_alias(version.name, old_alias)
        except Exception as exc:  # noqa: BLE001 - the registry must never fail tracking
            self.warn(f"moving alias {new_alias!r} of {version.name!r} to version {version.version}", exc)

    # -- prediction jobs ------------------------------------------------------------------------
    def record_model_input(self, run_id: str, model_version_id: str, model_version_run_id: str) -> None:
        """Record the LoggedModel serving a model version's winner (when it has one, i.e. once
        the version was registered) as an input of run ``run_id``."""
        if not self.enabled:
            return
        try:
            tags, _ = self.store.data(model_version_run_id)

            def value(name: str) -> Any:
                return _values.decode_tag(tags, keys.key(model_version_id, name),
                                          lambda path: self.store.big_value(model_version_run_id, path))

            winner = value(keys.WINNER_KEY)
            if value("type") != keys.MODEL_VERSION or not isinstance(winner, str) or \
                    not keys.is_experiment_id(winner):
                return
            exp_run_id, _ = keys.split_experiment_id(winner)
            experiment = self.store.get_run(exp_run_id).info.experiment_id
            logged = self._find_logged(experiment, exp_run_id, winner)
            if logged is not None:
                self.store.log_model_input(run_id, logged.model_id)
        except Exception as exc:  # noqa: BLE001 - the registry must never fail tracking
            self.warn(f"recording the model of {model_version_id!r} as an input of run {run_id}", exc)
