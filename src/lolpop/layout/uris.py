"""Tracking-URI helpers shared by the tracker, the lineage reader and the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The embedded default store.
EMBEDDED_URI = "sqlite:///mlflow.db"

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """Replace ``user:password@`` in any URI inside ``text`` with ``***@``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


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
