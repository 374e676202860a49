"""Every exception lolpop raises on purpose.

Our exception hierarchy::

    LolpopError
    ├── ConfigError                    bad or missing configuration, caught at construction
    ├── InvalidInputError (ValueError) an argument lolpop cannot store or act on
    │   ├── InvalidResourceIdError      a resource id MLflow cannot hold as a tag key
    │   ├── InvalidKeyError             a tag / metadata / artifact id that is not allowed
    │   ├── InvalidFilterError          a malformed or unsafe ``extra_filters`` clause
    │   └── UnsupportedResourceTypeError  a ``type`` a method does not handle
    ├── NotFoundError (LookupError)
    │   ├── ResourceNotFoundError       no such resource (run, experiment, version)
    │   ├── ArtifactNotFoundError       no artifact under that id
    │   └── MetadataNotFoundError       nothing recorded under that key
    ├── MetadataConflictError          a param re-logged with a different value, or two
    │                                  resources whose keys would share one tag key
    ├── QuarantinedLineageError        PROMOTED / DEPLOYED refused: the model version was built
    │                                  from a quarantined dataset version (nothing written)
    ├── UnknownComponentError (LookupError)  a component name the registry does not know
    ├── ModelNotFittedError            predict / save on a trainer or transformer not fitted yet
    ├── VersionControlError            the version-control backend (git) refused an operation
    ├── TrackerStoppedError            a write after ``stop()``
    └── TrackerUnavailableError        the tracking store cannot be reached / refused us
        ├── AuthenticationError         the tracking server rejected the credentials (HTTP 401)
        └── PermissionDeniedError       the credentials were accepted, but the user may not do
                                        this to the named experiment, run or registered model
                                        (HTTP 403)

Warnings (``UserWarning`` subclasses)::

    QuarantinedLineageWarning          ``load_model`` of a model version built from a
                                       quarantined dataset version

A value that cannot be stored as JSON raises the builtin :class:`TypeError` (naming the key and
the type), as ``json.dumps`` would.

MLflow's own errors are translated where the user can act on them; the original exception is kept
as ``__cause__``. Messages never contain credentials from a tracking URI.

Errors carry the objects involved as attributes, not only in their message (as httpx's
``HTTPStatusError(request=..., response=...)``): ``err.key``, ``err.resource_id``, ``err.run_id``,
and where relevant ``err.value``/``err.old``/``err.new`` or ``err.uri``; an attribute that does not
apply is ``None``. ``err.context`` holds all of them as a dict.

Errors are mapped by their cause:

* **The store** (connection refused or reset, no answer within ``mlflow_request_timeout``, HTTP
  5xx, a database that cannot be reached): :class:`TrackerUnavailableError`, with ``err.uri``
  the tracking URI (credentials redacted). Worth retrying later.
* **The credentials** (HTTP 401, ``UNAUTHENTICATED``): :class:`AuthenticationError`, pointing at
  the variables lolpop sends (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` or
  ``MLFLOW_TRACKING_TOKEN``). Retrying does not help.
* **A permission** (HTTP 403, ``PERMISSION_DENIED``: the server knows the user, whose permissions
  do not cover the request): :class:`PermissionDeniedError` naming what was refused
  (``err.resource_kind``, ``err.resource_name``), who (``err.user``) and the request
  (``err.endpoint``). Retrying does not help; an owner of that object (or an admin) can grant
  the permission. One mapping (:func:`lolpop.layout.access.access_error`) decides 401 vs 403 for
  the tracker and every reader alike.
* **The configuration** (a plain path such as ``mlflow.db`` instead of ``sqlite:///mlflow.db``,
  a file that is not an SQLite database, a folder as the database, a database that does not
  exist, a missing database driver): :class:`ConfigError` naming the URI (``err.uri``) and, for
  SQLite, the file (``err.path``). Retrying does not help.
* **An argument** (ids ``.``/``..`` or with a NUL, a ``dst_path`` that cannot be a folder, more
  ``extra_filters`` comparisons than MLflow's query can hold): :class:`InvalidInputError` or a
  subclass naming it (``err.path``, ``err.clause`` where there is one).
* **The local file system** otherwise (disk full, permission denied on a local folder the call
  reads or writes): the builtin :class:`OSError` subclass is passed on unchanged, as ``open()``
  raises it; it names the file (``err.filename``). It is never reported as the store's failure.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LolpopError",
    "ConfigError",
    "InvalidInputError",
    "InvalidResourceIdError",
    "InvalidKeyError",
    "InvalidFilterError",
    "UnsupportedResourceTypeError",
    "NotFoundError",
    "ResourceNotFoundError",
    "ArtifactNotFoundError",
    "MetadataNotFoundError",
    "MetadataConflictError",
    "UnknownComponentError",
    "ModelNotFittedError",
    "VersionControlError",
    "TrackerStoppedError",
    "QuarantinedLineageError",
    "QuarantinedLineageWarning",
    "TrackerUnavailableError",
    "AuthenticationError",
    "PermissionDeniedError",
]


class LolpopError(Exception):
    """Base class of every error lolpop raises on purpose.

    Args:
        message: what went wrong, naming the offending input.
        **context: the objects involved (``key=``, ``resource_id=``, ``run_id=``, ...), kept as
            attributes of the same names.

    Example:
        >>> err = MetadataConflictError("param 'lr' differs", key="lr", old="0.1", new="0.2")
        >>> err.key, err.old, err.new
        ('lr', '0.1', '0.2')
    """

    key: Any = None
    resource_id: Any = None
    run_id: Any = None
    value: Any = None
    uri: Any = None
    path: Any = None
    clause: Any = None

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message)
        self.context: dict[str, Any] = dict(context)
        for name, value in context.items():
            setattr(self, name, value)


class ConfigError(LolpopError):
    """The component configuration is missing a key, has a bad value, or cannot be read.

    Attributes:
        uri: the tracking URI at fault (credentials redacted), or ``None``.
        path: the local file at fault (e.g. an SQLite database), or ``None``.
    """



class InvalidInputError(LolpopError, ValueError):
    """An argument that lolpop cannot store or act on. Nothing was written.

    Attributes:
        path: the local path argument at fault (e.g. a ``dst_path``), or ``None``.
    """



class InvalidResourceIdError(InvalidInputError):
    """A resource id that cannot be used (empty, not a string, or characters MLflow refuses)."""


class InvalidKeyError(InvalidInputError):
    """A tag, metadata or artifact id that cannot be used as given."""


class InvalidFilterError(InvalidInputError):
    """An ``extra_filters`` clause that is malformed or would change the query's meaning.

    Attributes:
        clause: the offending clause, or ``None`` when the filters as a whole are refused.
    """



class UnsupportedResourceTypeError(InvalidInputError):
    """A resource ``type`` that the called method does not handle."""


class NotFoundError(LolpopError, LookupError):
    """Something asked for does not exist in the tracking store."""


class ResourceNotFoundError(NotFoundError):
    """No resource (run, experiment, version) matches what was asked for."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact is stored under the given id."""


class MetadataNotFoundError(NotFoundError):
    """Nothing was recorded under the given key."""


class MetadataConflictError(LolpopError):
    """A param was logged again with a different value (MLflow params are write-once), or a
    write would give one tag key to two resources (``sales`` key ``2024.rows`` and ``sales.2024``
    key ``rows``). Nothing was written."""


class QuarantinedLineageError(LolpopError):
    """Setting status ``PROMOTED`` or ``DEPLOYED`` on a model version built (through any number of
    lineage hops) from a quarantined dataset version. Nothing was written: no tag, no alias move,
    no index entry, no status event. Config ``lolpop_allow_quarantined: true`` lets it through
    (recorded as an override in the status event).

    Attributes:
        resource_id, run_id: the model version refused.
        dataset_version_id, dataset_run_id: the (first) quarantined dataset version.
        reason: why it was quarantined (stored text: print it as text, never as markup).
        findings: every :class:`lolpop.audit.taint.TaintFinding` (source, reason, who, when, path).
    """

    dataset_version_id: Any = None
    dataset_run_id: Any = None
    reason: Any = None
    findings: Any = None


class QuarantinedLineageWarning(UserWarning):
    """``load_model`` of a model version built from a quarantined dataset version: it loads, and
    this warning names the source (``warning.findings``)."""

    def __init__(self, message: str, findings: Any = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


class UnknownComponentError(LolpopError, LookupError):
    """A component name that is not in :mod:`lolpop.registry` (the message lists known names).

    Raised, for instance, when a tracking store names a model trainer that is not registered;
    lolpop never imports a class path read from a store.
    """


class ModelNotFittedError(LolpopError):
    """A trainer or feature transformer was asked to predict, transform or save before ``fit``."""


class VersionControlError(LolpopError):
    """The version-control backend refused an operation (e.g. a git commit failed)."""


class TrackerStoppedError(LolpopError):
    """The tracker was stopped; it does not reopen its run behind the user's back."""


class TrackerUnavailableError(LolpopError):
    """The tracking store could not be reached, or refused the request.

    Attributes:
        uri: the tracking URI (credentials redacted), or ``None`` when unknown.
    """


class AuthenticationError(TrackerUnavailableError):
    """The tracking server (or database) rejected the credentials (HTTP 401).

    A request the server refuses for lack of a *permission* (HTTP 403) is a
    :class:`PermissionDeniedError` instead: the credentials were fine there.
    """


class PermissionDeniedError(TrackerUnavailableError):
    """The tracking server accepted the credentials but refused the request: the user lacks a
    permission on the object it touches (HTTP 403, ``PERMISSION_DENIED``; e.g. ``mlflow server
    --app-name basic-auth`` with READ where EDIT is needed). Nothing of the call was written.

    Attributes:
        resource_kind: what was refused, as MLflow's permissions name it: ``"experiment"``,
            ``"run"``, ``"registered_model"`` or ``"logged_model"``; ``None`` when unknown.
        resource_name: its name (experiment or registered model name, run id, LoggedModel id),
            or ``None`` when unknown.
        user: the MLflow user the request was sent as, or ``None`` (a token, no credentials).
        endpoint: the REST endpoint refused (``/api/2.0/mlflow/model-versions/create``), or ``None``.
        experiment_id, run_id, registered_model, version, model_id: the other objects of the
            request where known (``None`` otherwise); ``resource_id`` the lolpop resource.
        uri: the tracking URI (credentials redacted).

    Example:
        >>> err = PermissionDeniedError("no", resource_kind="registered_model", resource_name="churn")
        >>> err.resource_kind, err.resource_name, err.user
        ('registered_model', 'churn', None)
    """

    resource_kind: Any = None
    resource_name: Any = None
    user: Any = None
    endpoint: Any = None
    experiment_id: Any = None
    registered_model: Any = None
    version: Any = None
    model_id: Any = None
