"""Shared pieces of the CLI: settings, the read-only store, the console, error handling."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click
from rich.console import Console

from lolpop.exceptions import LolpopError

from lolpop.layout.uris import EMBEDDED_URI


@dataclass
class Settings:
    """Group options: ``--tracking-uri`` and ``--experiment`` (``None`` = every experiment)."""

    tracking_uri: str
    experiment: str | None

    def reader(self) -> Any:
        """A read-only :class:`~lolpop.lineage.store.StoreReader` on the store (creates nothing)."""
        from lolpop.lineage.store import StoreReader, open_client

        return StoreReader.for_experiment(open_client(self.tracking_uri), self.experiment)


def resolve_tracking_uri(option: str | None) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else the embedded ``sqlite:///mlflow.db``."""
    return option or os.environ.get("MLFLOW_TRACKING_URI") or EMBEDDED_URI


def console(stderr: bool = False) -> Console:
    """A rich console; wide enough for tables when the output is not a terminal."""
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
    """One line, no credentials."""
    from lolpop.layout.uris import redact

    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    if not isinstance(exc, LolpopError):
        text = f"{type(exc).__name__}: {text}"
    line = " ".join(text.split())
    return redact(line[:600] + ("…" if len(line) > 600 else ""))


def fail(exc: BaseException) -> None:
    """Print ``Error: <one line>`` in red on stderr and exit 1."""
    console(stderr=True).print(f"[bold red]Error:[/] {error_message(exc)}", highlight=False, markup=True,
                               soft_wrap=True)
    sys.exit(1)


def fmt_time(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def short(value: Any, n: int = 24) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= n else text[: n - 1] + "…"


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
