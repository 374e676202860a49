"""Building MLflow search filters from resource ids, safely (every key and value quoted). User
clauses are checked with MLflow's parser in :mod:`lolpop.store.user_filters`."""

from __future__ import annotations

from lolpop.exceptions import InvalidFilterError
from lolpop.layout.keys import CREATE_TOKEN_TAG


def tag_clause(key: str, value: str) -> str:
    """``tags.`key` = 'value'`` — ids are validated tag names, which never contain a backtick."""
    if "`" in key:
        raise InvalidFilterError(f"tag key {key!r} contains a backtick")
    if "\x00" in key or "\x00" in value:  # no store holds one; PostgreSQL refuses the query outright
        raise InvalidFilterError(f"tag key {key!r:.200} or value {value!r:.200} holds a NUL character")
    if "'" not in value:
        quoted = f"'{value}'"
    elif '"' not in value:
        quoted = f'"{value}"'
    else:
        raise InvalidFilterError(f"value {value!r} holds both quote characters; MLflow cannot match it")
    return f"tags.`{key}` = {quoted}"


def model_version_filter(name: str, run_id: str) -> str:
    """``search_model_versions`` filter for the versions of registered model ``name`` made from
    run ``run_id``."""
    if "'" in name or "'" in run_id:
        raise InvalidFilterError(f"registered model name {name!r} or run id {run_id!r} contains a quote")
    return f"name = '{name}' and run_id = '{run_id}'"


def created_with(token: str, registered_model: str | None = None) -> str:
    """Filter for what was created with the client token ``token`` (runs, LoggedModels; with
    ``registered_model``, that model's versions): how a create whose answer was lost is found."""
    clause = tag_clause(CREATE_TOKEN_TAG, token)
    if registered_model is None:
        return clause
    if "'" in registered_model:
        raise InvalidFilterError(f"registered model name {registered_model!r} contains a quote")
    return f"name = '{registered_model}' and {clause}"
