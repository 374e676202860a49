"""Tracking-URI helpers shared by the tracker, the lineage reader and the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The embedded default store.
EMBEDDED_URI = "sqlite:///mlflow.db"

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# Where a URI's authority ends: urlsplit stops at "/", "?" or "#"; in running text, at a blank.
_AUTHORITY_END = re.compile(r"[/?#\s]")


def redact(text: str) -> str:
    """Replace the userinfo (``user:password@``) of every URI inside ``text`` with ``***@``.

    The userinfo is split off the way :func:`urllib.parse.urlsplit` (and so ``requests``) does it:
    at the *last* ``@`` of the authority, so a password that contains ``@`` is hidden whole.
    Each ``scheme://`` is examined on its own, so one URI never shields the next one.

    Example:
        >>> redact("http://alice:p@ssw0rd@host:5000/api refused")
        'http://***@host:5000/api refused'
    """
    parts: list[str] = []
    done = 0
    for match in _SCHEME.finditer(text):
        start = match.end()
        if start < done:
            continue
        end_match = _AUTHORITY_END.search(text, start)
        end = end_match.start() if end_match else len(text)
        userinfo, at, _ = text[start:end].rpartition("@")
        if at:
            parts += [text[done:start], "***"]
            done = start + len(userinfo)
    parts.append(text[done:])
    return "".join(parts)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or ``None`` (other stores, in-memory)."""
    if not uri.startswith("sqlite:"):
        return None
    path = unquote(urlsplit(uri).path)
    if not path or path == "/:memory:" or ":memory:" in uri:
        return None
    # sqlite:///rel.db -> "/rel.db" relative; sqlite:////abs.db -> "//abs.db" absolute
    rest = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else path
    return Path(unquote(rest.split("?", 1)[0])).resolve()


def default_artifact_location(uri: str) -> str | None:
    """Keep a SQLite store self-contained: artifacts beside the database, not under the cwd."""
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.parent / "mlartifacts").as_uri()


def is_http(uri: str) -> bool:
    return uri.lower().startswith(("http://", "https://"))


def plain_path_hint(uri: str, allow_file_store: bool = False) -> str | None:
    """For a tracking URI that is a plain path (``mlflow.db``, ``./mlruns``) or a ``file:`` URI:
    the message saying to write an SQLite URI; ``None`` for any other URI.

    MLflow reads a path as its retired file store and refuses it with a message that does not
    say what to write instead. Bare names without a path sign (``databricks``) are left alone,
    and so are folder paths when ``allow_file_store`` (MLflow's ``MLFLOW_ALLOW_FILE_STORE``).

    Example:
        >>> plain_path_hint("mlflow.db")
        "tracking URI 'mlflow.db' is a plain path; for an SQLite store write sqlite:///mlflow.db"
    """
    if uri.lower().startswith("file:"):
        path = unquote(urlsplit(uri).path)
    elif "://" in uri or (":" in uri.split("/", 1)[0] and not _WINDOWS_DRIVE.match(uri)):
        return None
    else:
        path = uri
        if not (path.lower().endswith(_SQLITE_SUFFIXES) or path.startswith(".") or "/" in path or "\\" in path):
            return None
    if path.lower().endswith(_SQLITE_SUFFIXES):
        return f"tracking URI {redact(uri)!r} is a plain path; for an SQLite store write sqlite:///{path}"
    if allow_file_store:
        return None
    return (f"tracking URI {redact(uri)!r} names a folder, MLflow's retired file store; write an SQLite "
            "URI such as sqlite:///mlflow.db (`mlflow migrate-filestore` converts an existing folder)")
