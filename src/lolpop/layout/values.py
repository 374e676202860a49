"""How metadata values become MLflow tag text and come back unchanged.

* ``str`` is stored as it is, so tags stay readable and searchable (``tags.`mv.status` = 'DEPLOYED'``).
* Every other JSON value (int, float, bool, None, list, dict) is stored as JSON text, and a marker
  tag ``_lolpop.enc.<key>`` = ``json`` says so. Without a marker a tag is a plain string — which is
  also how lolpop 0.2.0 values (``str(data)``) read back.
* A value whose text is longer than :data:`INLINE_LIMIT` is written to an artifact under
  ``_lolpop/values/``; the tag holds a readable pointer and the marker says ``artifact:str`` or
  ``artifact:json``. MLflow would otherwise truncate it silently at 8000 characters.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from lolpop.layout.keys import MAX_KEY_LENGTH, MAX_TAG_VAL_LENGTH

MARKER_PREFIX = "_lolpop.enc."
ARTIFACT_DIR = "_lolpop/values"
POINTER_PREFIX = "lolpop-artifact:"
# Below MLflow's limit with room to spare: some backends count bytes, not characters.
INLINE_LIMIT = MAX_TAG_VAL_LENGTH // 2


def marker_key(key: str) -> str:
    return MARKER_PREFIX + key


def _check_json(value: Any, key: str, path: str = "") -> None:
    """Refuse what JSON would change on the way back (tuples, non-str keys, sets, objects)."""
    where = f" at {path}" if path else ""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"metadata {key!r}: {value!r}{where} cannot be stored as JSON")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, key, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"metadata {key!r}: dict key {k!r}{where} is a {type(k).__name__}; "
                    "JSON keys must be strings (it would come back changed)"
                )
            _check_json(item, key, f"{path}[{k!r}]")
        return
    raise TypeError(
        f"metadata {key!r}: value of type {type(value).__name__}{where} cannot be stored as JSON"
    )


def encode(key: str, value: Any) -> tuple[str, str | None]:
    """Return ``(text, encoding)`` for ``value``; ``encoding`` is ``None`` for plain strings.

    Raises:
        TypeError: ``value`` is not a JSON value that round-trips exactly.
    """
    if isinstance(value, str):
        return value, None
    _check_json(value, key)
    return json.dumps(value, ensure_ascii=False), "json"


def param_text(key: str, value: Any) -> str:
    """The MLflow param text of ``value``: ``str()`` for scalars as MLflow itself does, JSON for
    lists and dicts (so they stay parseable)."""
    if isinstance(value, (list, dict)):
        return encode(key, value)[0]
    return str(value)


def artifact_path_for(key: str) -> str:
    """Artifact path (relative to the run root) holding the full text of tag ``key``."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{ARTIFACT_DIR}/{digest}.txt"


def decode(text: str | None, encoding: str | None) -> Any:
    """Inverse of :func:`encode` for inline values."""
    if text is None:
        return None
    if encoding == "json":
        return json.loads(text)
    return text


def decode_tag(tags: Mapping[str, str], key: str, fetch: Callable[[str], str]) -> Any:
    """The value stored under tag ``key`` (``None`` when absent), reading its marker tag;
    ``fetch(artifact_path)`` returns the text of an artifact-backed value."""
    text = tags.get(key)
    if text is None:
        return None
    encoding = tags.get(marker_key(key))
    if encoding and encoding.startswith("artifact:") and text.startswith(POINTER_PREFIX):
        return decode(fetch(text[len(POINTER_PREFIX) :]), "json" if encoding == "artifact:json" else None)
    return decode(text, "json" if encoding == "json" else None)
