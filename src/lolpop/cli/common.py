"""Shared pieces of the CLI: settings, the read-only store, the console, error handling.

Everything read from the store is printed through :func:`lolpop.lineage.safe_text.text` /
``printable`` (re-exported here): no rich markup is parsed in it and no control character reaches
the terminal. Only lolpop's own fixed strings carry markup.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from typing import TYPE_CHECKING

import click

from lolpop.exceptions import LolpopError
from lolpop.layout.uris import EMBEDDED_URI, redact
from lolpop.store.clients.base import DEFAULT_TIMEOUT
from lolpop.lineage.safe_text import printable, text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Settings", "console", "fail", "fmt_time", "printable", "redact", "short", "text"]



@dataclass
class Settings:
    """Group options: ``--tracking-uri``, ``--experiment`` (``None`` = every experiment) and
    ``--timeout`` (seconds per request to the store, retries included)."""

    tracking_uri: str
    experiment: str | None
    timeout: float = DEFAULT_TIMEOUT

    def reader(self) -> Any:
        """A read-only :class:`~lolpop.store.reader.StoreReader` on the store (creates nothing)."""
        from lolpop.store.reader import StoreReader, open_client

        client = open_client(self.tracking_uri, timeout=self.timeout)
        try:
            return StoreReader.for_experiment(client, self.experiment)
        except BaseException:
            client.close()
            raise


def resolve_tracking_uri(option: str | None) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else the embedded ``sqlite:///mlflow.db``."""
    return option or os.environ.get("MLFLOW_TRACKING_URI") or EMBEDDED_URI


def console(stderr: bool = False) -> Console:
    """A rich console; wide enough for tables when the output is not a terminal."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=int(os.environ.get("COLUMNS", "140")))
    return out


def quiet_libraries() -> None:
    """MLflow/alembic INFO lines and library warnings are noise on a command line."""
    if os.environ.get("LOLPOP_DEBUG"):
        return
    for name in ("mlflow", "alembic", "git"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.simplefilter("ignore")


def error_message(exc: BaseException) -> str:
    """One printable line, no credentials."""
    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    if not isinstance(exc, LolpopError):
        message = f"{type(exc).__name__}: {message}"
    line = printable(" ".join(message.split()))
    return redact(line[:600] + ("…" if len(line) > 600 else ""))


def fail(exc: BaseException) -> None:
    """Print ``Error: <one line>`` in red on stderr and exit 1."""
    from rich.text import Text

    console(stderr=True).print(Text.assemble(("Error:", "bold red"), " ", error_message(exc)),
                               highlight=False, soft_wrap=True)
    sys.exit(1)


def fmt_time(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def short(value: Any, n: int = 24) -> str:
    """``value`` (JSON unless a string) cut to ``n`` characters, then made printable."""
    import json

    raw = value if isinstance(value, str) else json.dumps(value, default=str)
    return printable(raw if len(raw) <= n else raw[: n - 1] + "…")


class LolpopGroup(click.Group):
    """A click group whose errors are one red line and exit code 1, never a traceback.

    ``LOLPOP_DEBUG=1`` lets the traceback through.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            console(stderr=True).print("[red]Interrupted[/]")
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's promise: one line, no traceback
            if os.environ.get("LOLPOP_DEBUG"):
                raise
            fail(exc)
