"""The Model Registry and LoggedModel requests of a tracker: one method per request, on the run
store's client and its exactly-once rule for creates. When to make them is decided by
:mod:`lolpop.component.metadata_tracker._registry`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from mlflow.entities import LoggedModel, LoggedModelInput, LoggedModelOutput
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from lolpop.layout import filters
from lolpop.layout.keys import CREATE_TOKEN_TAG
from lolpop.store._exactly_once import CreateOnce

logger = logging.getLogger("lolpop.run_store")


class RegistryStore:
    """Registry and LoggedModel requests (``client``: the run store's ``MlflowClient``)."""

    def __init__(self, client: Any, creates: CreateOnce) -> None:
        self.client = client
        self.creates = creates

    def create_logged_model(self, experiment_id: str, name: str, source_run_id: str,
                            tags: Mapping[str, str], params: Mapping[str, str]) -> LoggedModel:
        token = uuid.uuid4().hex
        tags = {**tags, CREATE_TOKEN_TAG: token}

        def find() -> list[tuple[str, LoggedModel]]:
            found = self.client.search_logged_models(
                [experiment_id], filter_string=filters.created_with(token), max_results=100)
            # Keep the one furthest along (READY, else the oldest); the others are removed.
            order = {"READY": 0, "PENDING": 1}
            ranked = sorted(found, key=lambda m: (order.get(str(m.status), 2), m.creation_timestamp, m.model_id))
            return [(m.model_id, m) for m in ranked]

        return self.creates.run(
            f"LoggedModel {name!r} (token {token})",
            lambda: self.client.create_logged_model(experiment_id, name=name, source_run_id=source_run_id,
                                                    tags=dict(tags), params=dict(params)),
            find, lambda m: m.model_id, lambda m: self._discard_logged_model(m.model_id))

    def _discard_logged_model(self, model_id: str) -> None:
        self.client.delete_logged_model(model_id)
        logger.warning("lolpop: removed LoggedModel %s, a duplicate a lost answer left behind", model_id)

    def upload_logged_model(self, model_id: str, local_dir: str) -> None:
        """Upload a model folder as a LoggedModel's artifacts (one upload per file)."""
        self.client.log_model_artifacts(model_id, local_dir)

    def finalize_logged_model(self, model_id: str, ready: bool) -> None:
        self.client.finalize_logged_model(model_id, "READY" if ready else "FAILED")

    def find_logged_models(self, experiment_id: str, source_run_id: str) -> list[LoggedModel]:
        """The LoggedModels run ``source_run_id`` produced (one search, up to 100)."""
        return list(self.client.search_logged_models(
            [experiment_id], filter_string=f"source_run_id = '{source_run_id}'", max_results=100))

    def log_model_output(self, run_id: str, model_id: str) -> None:
        """Show the LoggedModel on the page of the run that produced it."""
        self.client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])

    def log_model_input(self, run_id: str, model_id: str) -> None:
        """Record that run ``run_id`` used the LoggedModel ``model_id``."""
        self.client.log_inputs(run_id, models=[LoggedModelInput(model_id)])

    def create_registered_model(self, name: str) -> None:
        """Create registered model ``name``; one that exists already is fine."""
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise

    def create_model_version(self, name: str, source: str, run_id: str, tags: Mapping[str, str],
                             model_id: str | None) -> ModelVersion:
        token = uuid.uuid4().hex
        tags = {**tags, CREATE_TOKEN_TAG: token}

        def find() -> list[tuple[str, ModelVersion]]:
            found = self.client.search_model_versions(
                filters.created_with(token, name), max_results=100)
            return sorted(((str(v.version), v) for v in found), key=lambda p: int(p[0]))

        # await_creation_for=0: OSS registries create versions READY at once; tracking never waits.
        return self.creates.run(
            f"version of registered model {name!r} (token {token})",
            lambda: self.client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id,
                                                     await_creation_for=0),
            find, lambda v: str(v.version), lambda v: self._discard_model_version(name, str(v.version)))

    def describe_model_version(self, name: str, version: str, description: str) -> None:
        """One ``update_model_version``: the version's description (set-style, resent safely)."""
        self.client.update_model_version(name, version, description=description)

    def _discard_model_version(self, name: str, version: str) -> None:
        self.client.delete_model_version(name, version)
        logger.warning("lolpop: removed version %s of registered model %r, a duplicate a lost answer left "
                       "behind", version, name)

    def delete_model_version(self, name: str, version: str) -> None:
        self.client.delete_model_version(name, version)

    def find_model_versions(self, filter_string: str) -> list[ModelVersion]:
        return list(self.client.search_model_versions(filter_string, max_results=1000))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(name, version, key, value)

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version holding ``alias`` of registered model ``name``, or ``None``."""
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    def aliases(self, name: str) -> dict[str, str]:
        """The aliases of registered model ``name`` (alias → version; empty when there is no such
        model): one ``get_registered_model``. (MLflow's basic-auth server refuses an alias look-up
        on a missing model as a permission; this read says "not found".)"""
        try:
            model = self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                return {}
            raise
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def delete_logged_model(self, model_id: str) -> None:
        self.client.delete_logged_model(model_id)
