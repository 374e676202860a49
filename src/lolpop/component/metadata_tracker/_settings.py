"""The tracker's configuration, parsed once into a frozen object (httpx's ``_config.py``).

Configuration is plain data (scikit-learn's rule): :meth:`TrackerSettings.from_config` validates
every key the tracker reads, at construction and before anything touches a store, and raises a
:class:`~lolpop.exceptions.ConfigError` naming the key and the value; afterwards the tracker reads
attributes, never the dict. The dict the user gave is never changed. Each attribute's
docstring entry below names its config key, default and meaning; the API reference shows them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from lolpop.exceptions import ConfigError
from lolpop.store._connection import DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT, request_bound

WRITE_MODES = ("immediate", "batched")
DEFAULT_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class TrackerSettings:
    """What ``MLFlowMetadataTracker`` is configured to do (see the module docstring's table).

    Attributes:
        tracking_uri: ``mlflow_tracking_uri`` (required): e.g. ``sqlite:///mlflow.db`` or
            ``http://127.0.0.1:5000``.
        experiment_name: ``mlflow_experiment_name`` (required): the MLflow experiment holding
            the workflow runs.
        artifact_location: ``mlflow_artifact_location``: artifact root for a *new* experiment;
            for SQLite stores ``mlartifacts/`` beside the database file when unset.
        write_mode: ``mlflow_write_mode``: ``"immediate"`` (default; every write call is one
            request that has reached the store when the call returns) or ``"batched"``.
        flush_seconds: ``mlflow_flush_seconds`` (default 5): the longest a held write waits in
            batched mode.
        request_timeout: ``mlflow_request_timeout`` (seconds, default 30): one attempt of a
            request to a tracking server.
        max_retries: ``mlflow_max_retries`` (default 8, at most 10): attempts after a failed one.
        run_name: ``mlflow_run_name``: the workflow run's name; default
            ``<experiment>-<UTC yyyymmdd-HHMMSS>``.
        registry: ``mlflow_registry`` (default ``True``): model versions enter MLflow's Model
            Registry and statuses move aliases.
        openlineage_url: ``openlineage_url`` (default ``$OPENLINEAGE_URL``): an OpenLineage
            HTTP endpoint for the workflow run's START / COMPLETE events.
        allow_quarantined: ``lolpop_allow_quarantined`` (default ``False``): setting
            ``PROMOTED`` / ``DEPLOYED`` on a model version built from a quarantined dataset
            version goes through (recorded as an override) instead of raising
            ``QuarantinedLineageError``.
    """

    tracking_uri: str
    experiment_name: str
    artifact_location: str | None = None
    write_mode: str = "immediate"
    flush_seconds: float = DEFAULT_FLUSH_SECONDS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    run_name: str | None = None
    registry: bool = True
    openlineage_url: str | None = None
    allow_quarantined: bool = False

    #: config key of each attribute
    KEYS = {
        "tracking_uri": "mlflow_tracking_uri", "experiment_name": "mlflow_experiment_name",
        "artifact_location": "mlflow_artifact_location", "write_mode": "mlflow_write_mode",
        "flush_seconds": "mlflow_flush_seconds", "request_timeout": "mlflow_request_timeout",
        "max_retries": "mlflow_max_retries", "run_name": "mlflow_run_name", "registry": "mlflow_registry",
        "openlineage_url": "openlineage_url", "allow_quarantined": "lolpop_allow_quarantined",
    }

    @property
    def batched(self) -> bool:
        return self.write_mode == "batched"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], component: str = "MLFlowMetadataTracker",
                    environ: Mapping[str, str] | None = None) -> TrackerSettings:
        """Validate ``config`` (keys as in :data:`KEYS`; ``None`` means "not set") and parse it.

        ``environ`` is where ``$OPENLINEAGE_URL`` is read (``os.environ`` when ``None``).

        Raises:
            ConfigError: a value of the wrong kind; ``err.key`` names the config key and
                ``err.value`` holds the value.
        """
        def get(attr: str) -> Any:  # None: not set
            return config.get(cls.KEYS[attr])

        def refuse(attr: str, must: str) -> ConfigError:
            key, value = cls.KEYS[attr], config.get(cls.KEYS[attr])
            return ConfigError(f"{component}: {key} must be {must}, not {value!r:.200}", key=key, value=value)

        for attr in ("tracking_uri", "experiment_name"):
            if not isinstance(get(attr), str) or not get(attr).strip():
                raise refuse(attr, "a non-empty string")
        location = get("artifact_location")
        if location is not None and (not isinstance(location, str) or not location.strip()):
            raise refuse("artifact_location", "a non-empty string")
        mode = get("write_mode") if get("write_mode") is not None else "immediate"
        if mode not in WRITE_MODES:
            raise refuse("write_mode", f"one of {WRITE_MODES}")
        flush = get("flush_seconds") if get("flush_seconds") is not None else DEFAULT_FLUSH_SECONDS
        if not _number(flush) or flush < 0:
            raise refuse("flush_seconds", "a number >= 0")
        # The store's own rule for the request bound (lolpop.store._connection.request_bound),
        # so a writer and a reader refuse the same values alike.
        try:
            bound = request_bound(get("request_timeout"), get("max_retries"))
        except ConfigError as exc:
            attr = "request_timeout" if "timeout" in str(exc) else "max_retries"
            raise ConfigError(f"{component}: {exc}", key=cls.KEYS[attr], value=config.get(cls.KEYS[attr])) from None
        run_name = get("run_name")
        if run_name is not None and (not isinstance(run_name, str) or not run_name.strip()):
            raise refuse("run_name", "a non-empty string")
        # A switch is set or absent: an explicit null is a mistake, not "the default".
        registry = config.get(cls.KEYS["registry"], True)
        if not isinstance(registry, bool):
            raise refuse("registry", "true or false")
        allow = config.get(cls.KEYS["allow_quarantined"], False)
        if not isinstance(allow, bool):
            raise refuse("allow_quarantined", "true or false")
        url = get("openlineage_url")
        if url in (None, ""):
            url = (os.environ if environ is None else environ).get("OPENLINEAGE_URL") or None
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ConfigError(f"{component}: openlineage_url must be an http(s):// URL, not {url!r:.200}",
                              key="openlineage_url", value=url)
        return cls(tracking_uri=get("tracking_uri"), experiment_name=get("experiment_name"),
                   artifact_location=location, write_mode=mode, flush_seconds=float(flush),
                   request_timeout=bound.timeout, max_retries=bound.max_retries, run_name=run_name,
                   registry=registry, openlineage_url=url, allow_quarantined=allow)

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        """Every config key, required first."""
        return tuple(cls.KEYS[f.name] for f in fields(cls))

    @classmethod
    def required_config_keys(cls) -> list[str]:
        return [cls.KEYS[f.name] for f in fields(cls) if f.default is MISSING]

    @classmethod
    def optional_config_keys(cls) -> tuple[str, ...]:
        return tuple(cls.KEYS[f.name] for f in fields(cls) if f.default is not MISSING)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
