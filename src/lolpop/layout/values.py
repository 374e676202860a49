"""How metadata values become MLflow tag text and come back unchanged.

**The tag holds the value's natural text**, so the MLflow UI shows each recorded fact once,
readably, and searches work on it:

* a ``str`` exactly as given (``tags.`mv.status` = 'DEPLOYED'`` keeps working);
* ``datetime`` / ``date`` (``pd.Timestamp``, ``np.datetime64`` too) as ISO 8601 text,
  ``2026-01-01T09:30:00+01:00``; a named time zone follows in brackets (RFC 9557),
  ``2026-01-01T09:30:00+01:00[Europe/Paris]``;
* everything else as JSON text: ``3``, ``0.5``, ``true``, ``null``, ``[1.0, 2.0]``, ``{"a": 1}``
  (nan and infinities as ``NaN`` / ``Infinity``, as Python's ``json`` writes and reads them).
  numpy scalars are stored as their Python value, numpy arrays, pandas ``Index`` and a pandas
  ``Series`` with the default index as lists, a ``Series`` with another index as a dict.

**Type information lives in a few bookkeeping tags per run**, never in a companion tag per value:

* ``_lolpop.types`` holds a JSON object ``{digest: type}`` where ``digest`` is the first 16 hex
  digits of the SHA-256 of the tag key. A tag without an entry is a plain string, which is also
  how lolpop 0.2.0's values (``str(data)``) read back.
* When that text would outgrow MLflow's tag-value limit the node *splits*: its text becomes
  ``split`` and its entries move to ``_lolpop.types.<h>`` by the next hex digit ``h`` of their
  digest (and such a child splits the same way into ``_lolpop.types.<h><h>``). One tag holds a few
  hundred typed values; 17 hold thousands. Digests have one length, so a typed value's key may be
  as long as any tag key.
* ``type`` is ``"json"``; ``"datetime"`` or ``"date"``; ``"str"`` (a plain string, written only
  where a legacy marker below says otherwise); ``{"artifact": type}`` for a value too long for a tag
  (the tag holds ``lolpop-artifact:<path>``, the run artifact at ``_lolpop/values/`` the text);
  or a *shape* ``{"t": "dict" | "list" | "tuple", "k": ..., "v": ..., "m": {...}}`` for JSON text
  whose parts must be rebuilt: ``k`` the type of every dict key (``int``, ``float``, ``bool``,
  ``null``, ``datetime``, ``date``) or ``{json key: type}`` for mixed keys, ``v`` the type of every
  item, ``m`` the types of single items by JSON key or list index.

The encoder is pure: :func:`encode_items` takes the run's current tags and returns the tags to
write, bookkeeping included, so whoever holds a run's tags (under that run's lock) can call it.

Stores written by earlier lolpop versions mark non-string values with a tag
``_lolpop.enc.<key>`` = ``json`` / ``str`` / ``artifact:json`` / ``artifact:str``; a key with no
bookkeeping entry is read by its marker.

numpy and pandas are never imported here: a value can only be a numpy or pandas object when its
module is already loaded, so this module looks them up in ``sys.modules``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from lolpop.layout.keys import MAX_TAG_VAL_LENGTH

logger = logging.getLogger("lolpop.layout")

#: Bookkeeping root tag (see the module docstring) and the text of a node that split.
TYPES_TAG = "_lolpop.types"
SPLIT = "split"
DIGEST_LENGTH = 16
#: Marker tags of stores written before the bookkeeping tags (read, never written).
MARKER_PREFIX = "_lolpop.enc."
ARTIFACT_DIR = "_lolpop/values"
POINTER_PREFIX = "lolpop-artifact:"
# Below MLflow's limit with room to spare: some backends count bytes, not characters.
INLINE_LIMIT = MAX_TAG_VAL_LENGTH // 2
# Bookkeeping text is ASCII (json.dumps escapes the rest), so characters are bytes.
NODE_LIMIT = MAX_TAG_VAL_LENGTH
#: The longest shape of one value (only irregular nesting gets near it).
MAX_SHAPE_LENGTH = 2000

JSON, STR, DATETIME, DATE = "json", "str", "datetime", "date"
_KEY_TYPES = ("int", "float", "bool", "null", DATETIME, DATE)


class Encoded(NamedTuple):
    """What storing some values takes: ``tags`` to write (values and changed bookkeeping) and
    ``uploads``, ``{artifact path: text}`` for values too long for a tag."""

    tags: dict[str, str]
    uploads: dict[str, str]


# ------------------------------------------------------------------------------------------
# values -> JSON values + shape
# ------------------------------------------------------------------------------------------
def _where(path: str) -> str:
    return f" at {path}" if path else ""


def _refuse(key: str, value: Any, path: str) -> TypeError:
    hint = "store it as a file with log_artifact"
    return TypeError(
        f"metadata {key!r}: value of type {type(value).__name__}{_where(path)} cannot be stored as a "
        f"tag value (str, int, float, bool, None, list, tuple, dict, datetime, date, numpy and pandas "
        f"scalars, arrays and Series can); {hint}"
    )


def _scientific(value: Any, key: str, path: str) -> Any:
    """The plain Python form of a numpy / pandas value, or ``_NOT_SCIENTIFIC``."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.datetime64):
            return value.astype("datetime64[us]").item()  # NaT -> None
        if isinstance(value, (np.bool_, np.integer, np.floating)):
            return value.item()
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "M":  # datetime64: tolist() would give nanosecond ints
                value = value.astype("datetime64[us]")
            return value.tolist()
    pd = sys.modules.get("pandas")
    if pd is not None:
        if value is pd.NA:
            return None
        if isinstance(value, pd.DataFrame):
            raise TypeError(
                f"metadata {key!r}: a pandas DataFrame{_where(path)} is a table, not a tag value; "
                "store it as a file with log_artifact (e.g. df.to_csv(path))"
            )
        if isinstance(value, pd.Series):
            index = value.index
            if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
                return value.tolist()
            if not index.is_unique:
                raise TypeError(
                    f"metadata {key!r}: a pandas Series{_where(path)} with repeated index labels "
                    "cannot become a dict; reset its index or store it with log_artifact"
                )
            return dict(zip(index.tolist(), value.tolist()))
        if isinstance(value, pd.Index):
            return value.tolist()
    return _NOT_SCIENTIFIC


_NOT_SCIENTIFIC = object()


def _is_nat(value: Any) -> bool:
    return type(value).__name__ == "NaTType" and type(value).__module__.startswith("pandas")


def _datetime_text(value: _dt.datetime) -> str:
    if type(value) is not _dt.datetime and hasattr(value, "to_pydatetime"):  # pd.Timestamp
        value = value.to_pydatetime()
    text = value.isoformat()
    zone = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)  # zoneinfo, pytz
    if isinstance(zone, str) and zone and "[" not in zone and "]" not in zone:
        text += f"[{zone}]"
    return text


def _float_text(value: float) -> str:
    return json.dumps(value)  # repr, or NaN / Infinity / -Infinity


def _key_text(k: Any, key: str, path: str) -> tuple[str, str]:
    """``(JSON key text, key type)`` of dict key ``k``."""
    if isinstance(k, str):
        return str.__str__(k), STR
    if k is None:
        return "null", "null"
    if isinstance(k, bool):
        return ("true" if k else "false"), "bool"
    if isinstance(k, int):
        return str(int(k)), "int"
    if isinstance(k, float):
        return _float_text(float(k)), "float"
    if isinstance(k, _dt.datetime) and not _is_nat(k):
        return _datetime_text(k), DATETIME
    if isinstance(k, _dt.date) and not isinstance(k, _dt.datetime):
        return k.isoformat(), DATE
    plain = _scientific(k, key, path)
    if plain is not _NOT_SCIENTIFIC and not isinstance(plain, (list, dict)) and plain is not k:
        return _key_text(plain, key, path)
    raise TypeError(
        f"metadata {key!r}: dict key {k!r:.100}{_where(path)} is a {type(k).__name__}; dict keys "
        "may be str, int, float, bool, None, datetime or date"
    )


def _fits(plain: Any, shape: Any) -> bool:
    """Whether rebuilding the plain JSON value ``plain`` with ``shape`` gives it back unchanged
    (``None``, and empty or all-``None`` containers, fit most shapes)."""
    if plain is None or shape == JSON:
        return True
    if not isinstance(shape, dict) or shape.get("t") == "tuple":
        return False
    every, single = shape.get("v", JSON), shape.get("m", {})
    if shape.get("t") == "list" and isinstance(plain, list):
        return all(_fits(item, single.get(str(i), every)) for i, item in enumerate(plain))
    if shape.get("t") == "dict" and isinstance(plain, dict):
        return (not plain or "k" not in shape) and all(_fits(item, single.get(k, every)) for k, item in plain.items())
    return False


def _members(shape: dict[str, Any], names: list[str], plains: list[Any], shapes: list[Any]) -> Any:
    """Complete a container's ``shape`` with its members' shapes; ``"json"`` when nothing to rebuild.

    Members of one shape share one ``v`` (members it leaves unchanged, e.g. ``None``, may sit among
    them), so a long regular list or dict keeps a short shape."""
    typed = [(name, s) for name, s in zip(names, shapes) if s != JSON]
    if typed:
        first = typed[0][1]
        if all(s == first for _, s in typed) and all(
                _fits(p, first) for p, s in zip(plains, shapes) if s == JSON):
            shape["v"] = first
        else:
            shape["m"] = dict(typed)
    return shape if len(shape) > 1 or shape["t"] == "tuple" else JSON


def _normalize(value: Any, key: str, path: str = "") -> tuple[Any, Any]:
    """``(JSON value, shape)`` of ``value``; the shape says how to rebuild it from the JSON value."""
    if value is None or isinstance(value, bool):
        return value, JSON
    if isinstance(value, str):
        return str.__str__(value), JSON
    if isinstance(value, int):
        return int(value), JSON
    if isinstance(value, float):
        return float(value), JSON
    if isinstance(value, _dt.datetime):
        if _is_nat(value):
            return None, JSON
        return _datetime_text(value), DATETIME
    if isinstance(value, _dt.date):
        return value.isoformat(), DATE
    if isinstance(value, (list, tuple)):
        items = [_normalize(item, key, f"{path}[{i}]") for i, item in enumerate(value)]
        shape = {"t": "tuple" if isinstance(value, tuple) else "list"}
        plains = [v for v, _ in items]
        return plains, _members(shape, [str(i) for i in range(len(items))], plains, [s for _, s in items])
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        originals: dict[str, Any] = {}
        key_types: dict[str, str] = {}
        shapes: dict[str, Any] = {}
        for k, item in value.items():
            text, key_type = _key_text(k, key, path)
            if text in out:
                raise TypeError(
                    f"metadata {key!r}: dict keys {originals[text]!r} and {k!r}{_where(path)} would both "
                    f"be stored as {text!r}"
                )
            originals[text], key_types[text] = k, key_type
            out[text], shapes[text] = _normalize(item, key, f"{path}[{k!r}]")
        shape: dict[str, Any] = {"t": "dict"}
        typed_keys = {text: t for text, t in key_types.items() if t != STR}
        if typed_keys:
            kinds = set(key_types.values())
            shape["k"] = kinds.pop() if len(kinds) == 1 else typed_keys
        return out, _members(shape, list(shapes), list(out.values()), list(shapes.values()))
    plain = _scientific(value, key, path)
    if plain is _NOT_SCIENTIFIC:
        raise _refuse(key, value, path)
    return _normalize(plain, key, path)


def _encode_value(key: str, value: Any) -> tuple[str, Any]:
    """``(tag text, type)`` of one value; ``type`` is ``"str"`` for plain strings."""
    if isinstance(value, str):
        return str.__str__(value), STR
    plain, shape = _normalize(value, key)
    if shape in (DATETIME, DATE):
        return plain, shape
    if shape != JSON and len(json.dumps(shape)) > MAX_SHAPE_LENGTH:
        raise TypeError(
            f"metadata {key!r}: mixes types too irregularly to be rebuilt from a tag "
            "(e.g. dict keys of many kinds); store it with log_artifact"
        )
    return json.dumps(plain, ensure_ascii=False), shape


def param_text(key: str, value: Any) -> str:
    """The MLflow param text of ``value``: ``str()`` of the plain value for scalars, as MLflow
    itself does, ISO text for dates, JSON for lists and dicts (so they stay parseable)."""
    if isinstance(value, str):
        return str.__str__(value)
    plain, shape = _normalize(value, key)
    if isinstance(plain, (list, dict)):
        return json.dumps(plain, ensure_ascii=False)
    if shape in (DATETIME, DATE):
        return plain
    return str(plain)


def encode(key: str, value: Any) -> tuple[str, Any]:
    """``(tag text, type)`` of ``value`` stored inline under tag ``key``.

    Raises:
        TypeError: ``value`` (or a part of it) is not a value lolpop can store in a tag.
    """
    return _encode_value(key, value)


def artifact_path_for(key: str) -> str:
    """Artifact path (relative to the run root) holding the full text of tag ``key``."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{ARTIFACT_DIR}/{digest}.txt"


def encode_items(current_tags: Mapping[str, str], items: Mapping[str, Any]) -> Encoded:
    """The tags (and artifact uploads) that store ``items`` (``{tag key: value}``) in a run whose
    tags are now ``current_tags``. Pure: nothing is read or written.

    ``tags`` holds every item's tag and the bookkeeping tags whose text changes.

    Raises:
        TypeError: a value cannot be stored; the message names its key. Nothing is returned.

    Example:
        >>> encode_items({}, {"mv.rows": 3, "mv.status": "DEPLOYED"}).tags
        {'mv.rows': '3', 'mv.status': 'DEPLOYED', '_lolpop.types': '{"...":"json"}'}
    """
    tags: dict[str, str] = {}
    uploads: dict[str, str] = {}
    book = _TypeBook(current_tags)
    for key, value in items.items():
        text, vtype = _encode_value(key, value)
        if len(text) > INLINE_LIMIT:
            path = artifact_path_for(key)
            uploads[path] = text
            text, vtype = POINTER_PREFIX + path, {"artifact": vtype}
        elif vtype == STR and _legacy_type(current_tags, key) is None:
            vtype = None  # a plain string needs no entry
        tags[key] = text
        book.set(key, vtype)
    tags.update(book.changed())
    return Encoded(tags, uploads)


# ------------------------------------------------------------------------------------------
# tag text + type -> value
# ------------------------------------------------------------------------------------------
def _parse_datetime(text: str) -> _dt.datetime:
    zone = None
    if text.endswith("]") and "[" in text:
        text, _, zone = text[:-1].rpartition("[")
    value = _dt.datetime.fromisoformat(text)
    if zone and value.tzinfo is not None:
        import zoneinfo

        try:
            tz = zoneinfo.ZoneInfo(zone)  # refuses paths: a stored name cannot read other files
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            return value  # unknown here: the fixed offset still says the right instant
        value = value.astimezone(tz)
    return value


def _restore_key(key_type: str, text: str) -> Any:
    if key_type == STR:
        return text
    if key_type == "int":
        return int(text)
    if key_type == "float":
        return float(text)
    if key_type == "bool":
        return {"true": True, "false": False}[text]
    if key_type == "null":
        return None
    return _restore(key_type, text)


def _restore(vtype: Any, raw: Any) -> Any:
    if vtype == JSON or raw is None:
        return raw
    if vtype == DATETIME:
        return _parse_datetime(raw)
    if vtype == DATE:
        return _dt.date.fromisoformat(raw)
    if isinstance(vtype, dict):
        kind, every, single = vtype.get("t"), vtype.get("v", JSON), vtype.get("m", {})
        if kind in ("list", "tuple") and isinstance(raw, list):
            items = [_restore(single.get(str(i), every), item) for i, item in enumerate(raw)]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict" and isinstance(raw, dict):
            keys = vtype.get("k", STR)
            return {
                _restore_key(keys if isinstance(keys, str) else keys.get(name, STR), name):
                    _restore(single.get(name, every), item)
                for name, item in raw.items()
            }
    raise ValueError(f"stored type {vtype!r:.100} does not fit the value")


def decode(text: str | None, vtype: Any) -> Any:
    """The value of inline tag text ``text`` of type ``vtype`` (``None``/``"str"``: the text).

    Text that does not fit its type (a damaged or hand-edited store) comes back as the text.
    """
    if text is None:
        return None
    if vtype is None or vtype == STR:
        return text
    try:
        return _restore(vtype, text if vtype in (DATETIME, DATE) else json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        logger.warning("lolpop: stored value %.100r does not read as %r (%s); returning the text", text, vtype, exc)
        return text


def _legacy_type(tags: Mapping[str, str], key: str) -> Any:
    marker = tags.get(MARKER_PREFIX + key)
    if marker == "json":
        return JSON
    if marker in ("artifact:json", "artifact:str"):
        return {"artifact": marker.partition(":")[2]}
    return None


def type_of(tags: Mapping[str, str], key: str) -> Any:
    """How tag ``key`` of a run with ``tags`` is stored: its bookkeeping entry, else its legacy
    marker; ``None`` for a plain string."""
    entry = _TypeBook.lookup(tags, key)
    return entry if entry is not None else _legacy_type(tags, key)


def decode_tag(tags: Mapping[str, str], key: str, fetch: Callable[[str], str]) -> Any:
    """The value stored under tag ``key`` of a run with ``tags`` (``None`` when absent);
    ``fetch(artifact_path)`` returns the text of an artifact-backed value."""
    text = tags.get(key)
    if text is None:
        return None
    vtype = type_of(tags, key)
    if isinstance(vtype, dict) and "artifact" in vtype:
        if not text.startswith(POINTER_PREFIX):
            return text
        return decode(fetch(text[len(POINTER_PREFIX):]), vtype["artifact"])
    return decode(text, vtype)


def describe(vtype: Any) -> str:
    """A short human name of a stored type, e.g. ``str``, ``json``, ``dict[int, json]``."""
    if vtype is None or vtype == STR:
        return STR
    if isinstance(vtype, str):
        return vtype
    if isinstance(vtype, dict) and "artifact" in vtype:
        return f"artifact:{describe(vtype['artifact'])}"
    if isinstance(vtype, dict):
        inner = "mixed" if "m" in vtype else describe(vtype.get("v", JSON))
        if vtype.get("t") == "dict":
            keys = vtype.get("k", STR)
            return f"dict[{keys if isinstance(keys, str) else 'mixed'}, {inner}]"
        return f"{vtype.get('t')}[{inner}]"
    return str(vtype)


# ------------------------------------------------------------------------------------------
# bookkeeping tags
# ------------------------------------------------------------------------------------------
def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]


def _node_name(digest: str, depth: int) -> str:
    return TYPES_TAG if depth == 0 else f"{TYPES_TAG}.{digest[:depth]}"


@functools.lru_cache(maxsize=512)
def _parse_node(text: str) -> dict[str, Any] | None:
    """The entries of a bookkeeping node (``None`` for a node that split). Cached: callers must
    not change the dict."""
    if text == SPLIT:
        return None
    try:
        entries = json.loads(text)
    except ValueError:
        logger.warning("lolpop: unreadable bookkeeping tag text %.100r; its values read as text", text)
        return {}
    return entries if isinstance(entries, dict) else {}


def _dump_node(entries: dict[str, Any]) -> str:
    return json.dumps(entries, sort_keys=True, separators=(",", ":"))


class _TypeBook:
    """The bookkeeping tags of one run: look-ups, and the changes that setting entries makes."""

    def __init__(self, tags: Mapping[str, str]) -> None:
        self._tags = tags
        self._leaves: dict[str, tuple[int, dict[str, Any]]] = {}  # changed leaves: name -> (depth, entries)

    @staticmethod
    def lookup(tags: Mapping[str, str], key: str) -> Any:
        digest = _digest(key)
        for depth in range(DIGEST_LENGTH + 1):
            text = tags.get(_node_name(digest, depth))
            if text is None:
                return None
            entries = _parse_node(text)
            if entries is not None:
                return entries.get(digest)
        return None

    def set(self, key: str, entry: Any) -> None:
        """Make ``entry`` the type of tag ``key`` (``None``: no entry, a plain string)."""
        digest = _digest(key)
        for depth in range(DIGEST_LENGTH + 1):
            name = _node_name(digest, depth)
            if name in self._leaves:
                entries = self._leaves[name][1]
                break
            text = self._tags.get(name)
            if text is None:
                if entry is None:
                    return
                entries = {}
                self._leaves[name] = (depth, entries)
                break
            parsed = _parse_node(text)
            if parsed is not None:
                entries = dict(parsed)
                self._leaves[name] = (depth, entries)
                break
        else:  # pragma: no cover - a node at full digest depth never splits
            return
        if entry is None:
            entries.pop(digest, None)
        else:
            entries[digest] = entry

    def changed(self) -> dict[str, str]:
        """Bookkeeping tags whose text changes, splitting leaves that outgrew a tag."""
        out: dict[str, str] = {}
        for name, (depth, entries) in self._leaves.items():
            self._emit(name, depth, entries, out)
        return {name: text for name, text in out.items() if self._tags.get(name) != text}

    def _emit(self, name: str, depth: int, entries: dict[str, Any], out: dict[str, str]) -> None:
        text = _dump_node(entries)
        if len(text) <= NODE_LIMIT or depth >= DIGEST_LENGTH:
            out[name] = text
            return
        out[name] = SPLIT
        children: dict[str, dict[str, Any]] = {}
        for digest, entry in entries.items():
            children.setdefault(_node_name(digest, depth + 1), {})[digest] = entry
        for child, child_entries in children.items():
            self._emit(child, depth + 1, child_entries, out)


# ------------------------------------------------------------------------------------------
# time
# ------------------------------------------------------------------------------------------
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def epoch_millis(value: Any) -> int:
    """Milliseconds since the epoch of ``value``: an int (already milliseconds) or a
    ``datetime`` / ``pd.Timestamp`` (naive means UTC).

    Raises:
        TypeError: any other type (floats too: seconds or milliseconds would be a guess).
        ValueError: a time before the epoch.
    """
    plain = value
    if not isinstance(value, (int, _dt.datetime)):
        converted = _scientific(value, "end_time", "")
        plain = value if converted is _NOT_SCIENTIFIC else converted
    if isinstance(plain, bool) or not isinstance(plain, (int, _dt.datetime)) or _is_nat(plain):
        raise TypeError(f"must be epoch milliseconds (int) or a datetime, got {value!r:.100}")
    if isinstance(plain, _dt.datetime):
        if type(plain) is not _dt.datetime and hasattr(plain, "to_pydatetime"):
            plain = plain.to_pydatetime()
        if plain.tzinfo is None:
            plain = plain.replace(tzinfo=_dt.timezone.utc)
        plain = (plain - _EPOCH) // _dt.timedelta(milliseconds=1)
    if plain < 0:
        raise ValueError(f"must not be before 1970-01-01, got {value!r:.100}")
    return int(plain)
