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
file, ``finalize_logged_model``, ``create_registered_model``, ``create_model_version`` and
``log_outputs``; then, and at every later status set, ``get_model_version_by_alias`` and
``set_registered_model_alias`` when the alias is elsewhere (plus, when it leaves a status, a
second ``get_model_version_by_alias`` and maybe ``delete_registered_model_alias``); after the
status write, one ``update_model_version`` (which MLflow's client precedes with a
``get_registered_model``): the version's model card (:mod:`._model_card`). A status set
on a model version without a registry version reads the alias of its status and removes it
from the version holding it (see below). A prediction job created with a registered model version
as parent records the LoggedModel as its input (one search, one ``log_inputs``).

**Failures: the status and the alias change together.** lolpop's status (its look-ups, version
index and history) and ``models:/<id>@<status>`` must never silently disagree, so the registry
work of a status set (registration, alias move) is done *before* anything of the status is
written (:mod:`._status_history` has the order), and when any registry request fails the status
call raises and writes nothing: a refusal by the server's permissions is a
:class:`~lolpop.exceptions.PermissionDeniedError` naming the registered model (or the experiment,
for the LoggedModel), a server that cannot be reached a
:class:`~lolpop.exceptions.TrackerUnavailableError`, and so on (mapped like every request). What
the failed attempt left is removed: a LoggedModel it created is deleted, or finalized ``FAILED``
where the user may not delete it; a model version it created is deleted where permitted (else it
stays, holding no alias and named by no status); an alias it moved is moved back. A registered
model it created stays (empty: deleting a registered model would take versions another process
may be adding). A store without a usable Model Registry takes ``mlflow_registry: false``: then
no alias exists to disagree with. A status whose model version has nothing the registry could
serve (no winner, no saved MLflow model, a model lolpop's own loader refuses, a name MLflow
cannot hold) is recorded without a registry version, and the alias of that status is removed from
the older version holding it, so the alias never names a version lolpop no longer reports.

Two processes registering the same version at the same moment settle on the lower version number
(the other is deleted, with its LoggedModel).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lolpop.component.metadata_tracker import _serving_model
from lolpop.store._connection import redact, translate
from lolpop.store._run_store import RunStore
from lolpop.exceptions import (
    AuthenticationError,
    InvalidInputError,
    LolpopError,
    PermissionDeniedError,
)
from lolpop.layout import filters, keys
from lolpop.layout import values as _values

_READY = "READY"
#: Said with every registry failure that is not the server's access control.
_TOGETHER = ("the status and its registry alias change together, so the status was not recorded; "
             "mlflow_registry: false turns the registry off for a store without a usable one")


@dataclass(frozen=True)
class RegistryVersion:
    """A registered model version: ``models:/<name>/<version>``."""

    name: str
    version: str


@dataclass
class Registration:
    """The registry version a status change uses, and what this change created for it (removed
    again by :meth:`ModelRegistry.discard` when the change fails)."""

    version: RegistryVersion
    created_version: bool = False
    created_logged_model: str | None = None

    @property
    def created(self) -> bool:
        return self.created_version or self.created_logged_model is not None


@dataclass
class AliasMove:
    """The alias changes one status change made, in order: ``(alias, before, after)``, each the
    version the alias named (``None``: no version) before and after the step."""

    name: str
    steps: list[tuple[str, str | None, str | None]] = field(default_factory=list)


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
        """Report a registry failure that does not fail the call (a clean-up, a prediction job's input)."""
        text = redact(str(getattr(exc, "message", None) or exc))
        self.logger.warning("lolpop: model registry: %s failed: %s: %s", what, type(exc).__name__, text[:500])

    def _warn_once(self, message: str, *args: Any) -> None:
        text = message % args
        if text not in self._warned:
            self._warned.add(text)
            self.logger.warning(text)

    def _error(self, exc: BaseException, what: str, **objects: Any) -> LolpopError:
        """``exc`` of a registry request as the lolpop error the status call raises."""
        if isinstance(exc, LolpopError):
            return exc
        err = translate(exc, what, self.store.tracking_uri, **objects)
        if isinstance(err, (AuthenticationError, PermissionDeniedError)):
            return err
        return type(err)(f"{err} ({_TOGETHER})", **err.context)

    # -- registration ---------------------------------------------------------------------------
    def version_for(self, model_version_id: str, workflow_run_id: str, winner: Any,
                    what: str = "registering") -> Registration | None:
        """The registry version of ``model_version_id``'s winning experiment ``winner``, registered
        now when it is not yet; ``None`` when there is nothing to register (no winner, no saved
        MLflow model, a model lolpop's loader refuses or a name MLflow cannot hold: warned).

        Raises:
            LolpopError: a registry request failed (``PermissionDeniedError`` naming the registered
                model or experiment refused, ``TrackerUnavailableError``, ...); what this attempt
                created was removed first. ``what`` begins the message.
        """
        if not self.enabled or not isinstance(winner, str) or not keys.is_experiment_id(winner):
            return None
        name = keys.registered_model_name(model_version_id)
        if name is None:
            self._warn_once("lolpop: model registry: %r cannot be an MLflow registered model name "
                            "('/', ':' and '%%' are not allowed); it is not registered", model_version_id)
            return None
        if _serving_model.saved_no_model(self.store, winner):
            # An experiment of this tracker's own runs that saved no model: nothing was or can be
            # registered from it, so the registry is not asked (three requests fewer a status).
            self.logger.debug("lolpop: experiment %s saved no model; %r is not registered", winner, model_version_id)
            return None
        # What the requests touch, named by a refusal (the experiment is added once read).
        touched = {"registered_model": name, "run_id": keys.split_experiment_id(winner)[0],
                   "resource_id": model_version_id}
        with self._lock:
            cached = self._versions.get((name, winner))
            if cached is not None:
                return Registration(cached)
            try:
                found = self._find(name, winner)
                made = Registration(found) if found is not None else \
                    self._register(name, model_version_id, workflow_run_id, winner, touched)
            except Exception as exc:
                raise self._error(exc, f"{what}: registering it as a version of registered model {name!r}",
                                  **touched) from exc
            if made is not None:
                self._versions[(name, winner)] = made.version
            return made

    def discard(self, made: Registration) -> None:
        """Remove what registration ``made`` created (its status change failed after it)."""
        if not made.created:
            return
        with self._lock:
            for key, version in list(self._versions.items()):
                if version == made.version:
                    del self._versions[key]
            if made.created_version:
                self._remove_version(made.version)
            if made.created_logged_model is not None:
                self._remove_logged(made.created_logged_model)

    def _find(self, name: str, winner: str) -> RegistryVersion | None:
        run_id, _ = keys.split_experiment_id(winner)
        found = [int(v.version) for v in self.store.registry.find_model_versions(filters.model_version_filter(name, run_id))
                 if v.tags.get(keys.REGISTRY_EXPERIMENT_TAG) == winner]
        return RegistryVersion(name, str(min(found))) if found else None

    def _register(self, name: str, model_version_id: str, workflow_run_id: str, winner: str,
                  touched: dict[str, Any]) -> Registration | None:
        run_id, _ = keys.split_experiment_id(winner)
        tags = {keys.REGISTRY_WORKFLOW_RUN_TAG: workflow_run_id, keys.REGISTRY_EXPERIMENT_TAG: winner,
                keys.REGISTRY_MODEL_VERSION_TAG: model_version_id}
        got = self._logged_model(model_version_id, winner, tags, touched)
        if got is None:
            return None
        logged, built = got
        built_id = logged.model_id if built else None
        try:
            self.store.registry.create_registered_model(name)
            made = self.store.registry.create_model_version(name, logged.artifact_location, run_id, tags, logged.model_id)
        except BaseException:
            # E.g. no permission on the registered model: the LoggedModel built for it goes.
            if built_id is not None:
                self._remove_logged(built_id)
            raise
        ours = RegistryVersion(name, str(made.version))
        try:
            # Another process may have registered the same experiment at the same moment: every
            # process settles on the lowest version, and the extra one goes.
            first = self._find(name, winner)
            if first is not None and first != ours:
                if self._remove_version(ours, duplicate=True) and built_id is not None:
                    self._remove_logged(built_id)
                return Registration(first)
            if built_id is not None:
                # Only now: a LoggedModel shown as the run's output always has its registry version.
                self.store.registry.log_model_output(run_id, built_id)
        except BaseException:
            self._remove_version(ours)
            if built_id is not None:
                self._remove_logged(built_id)
            raise
        return Registration(ours, created_version=True, created_logged_model=built_id)

    def _remove_version(self, version: RegistryVersion, duplicate: bool = False) -> bool:
        try:
            self.store.registry.delete_model_version(version.name, version.version)
            return True
        except Exception as exc:  # noqa: BLE001 - the failure that led here is the error to report
            # Untidy, not wrong: no alias and no status names it (a duplicate: the other is used).
            self.warn(f"removing {'duplicate ' if duplicate else ''}version {version.version} of "
                      f"{version.name!r} (it stays, named by no alias)", exc)
            return False

    def _remove_logged(self, model_id: str) -> None:
        """Delete a LoggedModel a failed registration built; where the user may not delete it
        (EDIT on the experiment is not enough in MLflow's basic-auth), finalize it FAILED, so it is
        never left PENDING and never taken for a READY one (:meth:`_find_logged`)."""
        try:
            self.store.registry.delete_logged_model(model_id)
            return
        except Exception as exc:  # noqa: BLE001 - finalizing FAILED is the fallback
            self.logger.debug("lolpop: model registry: deleting LoggedModel %s failed (%s); finalizing it "
                              "FAILED instead", model_id, type(exc).__name__)
        try:
            self.store.registry.finalize_logged_model(model_id, ready=False)
        except Exception as exc:  # noqa: BLE001 - the failure that led here is the error to report
            self.warn(f"marking LoggedModel {model_id} FAILED after a failed registration", exc)

    def _logged_model(self, model_version_id: str, winner: str, tags: dict[str, str],
                      touched: dict[str, Any]) -> tuple[Any, bool] | None:
        """The READY LoggedModel serving ``winner`` and whether it was built now: found, else built,
        uploaded and finalized; ``None`` when there is nothing the registry could serve."""
        run_id, _ = keys.split_experiment_id(winner)
        experiment = self.store.get_run(run_id).info.experiment_id
        touched["experiment_id"] = str(experiment)  # creating a LoggedModel is a right on it
        found = self._find_logged(experiment, run_id, winner)
        if found is not None:
            return found, False
        with tempfile.TemporaryDirectory(dir=self.tmp_dir) as tmp:
            try:
                folder = _serving_model.build(self.store.artifacts(run_id), winner, Path(tmp))
            except InvalidInputError as exc:
                # lolpop's own loader refuses the saved model: the registry never serves it.
                self.logger.warning("lolpop: model registry: model version %r is not registered, its status "
                                    "is recorded without a registry version: %s", model_version_id,
                                    redact(str(exc))[:500])
                return None
            if folder is None:
                self.logger.debug("lolpop: experiment %s saved no model; %r is not registered", winner,
                                  model_version_id)
                return None
            _, params = self.store.data(run_id)  # the experiment's params, shown on the model's page
            logged = self.store.registry.create_logged_model(experiment, keys.logged_model_name(model_version_id), run_id,
                                                    tags, params)
            try:
                self.store.registry.upload_logged_model(logged.model_id, str(folder))
                self.store.registry.finalize_logged_model(logged.model_id, ready=True)
            except BaseException:
                self._remove_logged(logged.model_id)
                raise
        return logged, True

    def _find_logged(self, experiment: str, run_id: str, winner: str) -> Any:
        ready = [m for m in self.store.registry.find_logged_models(experiment, run_id)
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

    def move_alias(self, version: RegistryVersion, new_status: Any, old_status: Any,
                   what: str = "moving an alias") -> AliasMove:
        """Point the alias of ``new_status`` at ``version``; drop the alias of ``old_status`` from it.

        The drop goes first: MLflow's basic-auth lets EDIT set an alias but asks MANAGE to remove
        one, so a user who may not do both is refused before anything changed, and undoing the
        drop (setting the alias back) needs no right the drop did not.

        Raises:
            LolpopError: a request failed; the steps already made were undone first.
        """
        move = AliasMove(version.name)
        if not self.enabled:
            return move
        new_alias = self.alias_for(new_status)
        old_alias = keys.status_alias(old_status) if isinstance(old_status, str) else None
        if old_alias == new_alias:
            old_alias = None
        if new_alias is None and old_alias is None:
            return move
        step = f"reading the aliases of registered model {version.name!r}"
        try:
            held = self.store.registry.aliases(version.name)
            if old_alias is not None and held.get(old_alias) == version.version:
                step = (f"removing alias {old_alias!r} of registered model {version.name!r} from version "
                        f"{version.version}")
                self.store.registry.delete_alias(version.name, old_alias)
                move.steps.append((old_alias, version.version, None))
            if new_alias is not None and held.get(new_alias) != version.version:
                step = f"moving alias {new_alias!r} of registered model {version.name!r} to version {version.version}"
                self.store.registry.set_alias(version.name, new_alias, version.version)
                move.steps.append((new_alias, held.get(new_alias), version.version))
        except Exception as exc:
            left = self.undo(move)
            raise self._error(exc, f"{what}: {step}{'; ' + '; '.join(left) if left else ''}",
                              registered_model=version.name, version=version.version) from exc
        return move

    def clear_alias(self, model_version_id: str, new_status: Any, what: str = "removing an alias") -> AliasMove:
        """A status set on a model version without a registry version: remove the alias of that
        status from the version holding it, which is no longer the one lolpop reports.

        Raises:
            LolpopError: a request failed (nothing was changed).
        """
        name = keys.registered_model_name(model_version_id) if self.enabled else None
        move = AliasMove(name or "")
        alias = self.alias_for(new_status) if name is not None else None
        if name is None or alias is None:
            return move
        try:
            holder = self.store.registry.aliases(name).get(alias)
            if holder is not None:
                self.store.registry.delete_alias(name, alias)
                move.steps.append((alias, holder, None))
        except Exception as exc:
            raise self._error(exc, f"{what}: removing alias {alias!r} of registered model {name!r} (the model "
                                   "version has no registry version to move it to)",
                              registered_model=name) from exc
        if move.steps:
            self.logger.warning("lolpop: model registry: alias %r of %r removed from version %s: model version %r, "
                                "now %s, has no registry version", alias, name, move.steps[0][1],
                                model_version_id, new_status)
        return move

    def undo(self, move: AliasMove | None) -> list[str]:
        """Put the aliases of ``move`` back, newest step first; returns what could not be put back
        (also logged), so a failure that follows never leaves them disagreeing silently."""
        left: list[str] = []
        if move is None:
            return left
        for alias, before, after in reversed(move.steps):
            try:
                if before is None:
                    self.store.registry.delete_alias(move.name, alias)
                else:
                    self.store.registry.set_alias(move.name, alias, before)
            except Exception as exc:  # noqa: BLE001 - the failure that led here is the error to report
                where = f"version {after}" if after is not None else "no version"
                back = f"version {before}" if before is not None else "no version"
                self.warn(f"moving alias {alias!r} of {move.name!r} back to {back} (it still names {where})", exc)
                left.append(f"alias {alias!r} of registered model {move.name!r} still names {where} (moving it "
                            f"back to {back} failed)")
        return left

    # -- the model card -------------------------------------------------------------------------
    def describe(self, version: RegistryVersion, card: str) -> None:
        """Set the description (model card, :mod:`._model_card`) of ``version``: one
        ``update_model_version``; a failure is a warning (the status and alias are recorded)."""
        if not self.enabled:
            return
        try:
            self.store.registry.describe_model_version(version.name, version.version, card)
        except Exception as exc:  # noqa: BLE001 - the card describes the status, it never fails it
            self.warn(f"writing the model card of version {version.version} of {version.name!r}", exc)

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
                self.store.registry.log_model_input(run_id, logged.model_id)
        except Exception as exc:  # noqa: BLE001 - the registry must never fail tracking
            self.warn(f"recording the model of {model_version_id!r} as an input of run {run_id}", exc)
