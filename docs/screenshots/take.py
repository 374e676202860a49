"""Take the MLflow UI screenshots of the docs: the quickstart on a fresh store, seen in ``mlflow ui``.

Run from the repository root (one command, about a minute)::

    .venv/bin/python docs/screenshots/take.py

It runs the quickstart (``lolpop.quickstart.run_quickstart``) into a temporary folder with its own
SQLite store, starts ``mlflow ui`` on 127.0.0.1 (a free port) over that store, and writes with
headless Chromium (Debian's ``chromium``; ``tests/support/chromium.py``) these PNGs next to this
file, every page opened through the links lolpop itself prints (``lolpop.layout.ui_links``, so in
MLflow's Model-training view):

* ``runs-list.png``: the experiment's runs list;
* ``chart-view.png``: the same runs in the Chart view (``compareRunsMode=CHART``);
* ``experiment-run.png``: the winning experiment's own run (newest model version);
* ``registry-version.png``: the registered version behind ``@deployed`` (signature, model card);
* ``lineage-page.png``: the model version's lineage page in the run's artifact viewer.

Options: ``--out DIR`` (default: this folder), ``--keep`` (keep the temporary store and print
where it is), ``--reuse DIR`` (a store kept by ``--keep``: no quickstart), ``--only NAME…`` (some
of the files), ``--wait-ms N`` (virtual time Chromium gives each page's scripts; default 15000,
the Chart view 45000: it loads its plotting library lazily).
Exit status 1 with the reason when Chromium or the UI is missing or a page made no screenshot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from lolpop.layout import ui_links  # noqa: E402
from tests.support.chromium import find_chromium, screenshot  # noqa: E402

SIZE = (1920, 1080)
#: Taller pages: the registry version's schema is below its description.
SIZES = {"registry-version.png": (1920, 1400), "lineage-page.png": (1920, 1300)}
#: Virtual time (ms) for a page's scripts: the Chart view loads its plotting library lazily.
# The lineage page is an artifact the UI loads into a sandboxed iframe after the run page: 20 s of
# virtual time was not always enough on a loaded machine (a blank viewer), 30 s was.
WAITS = {"chart-view.png": 45000, "lineage-page.png": 30000}
DEFAULT_WAIT = 15000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_ui(store: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter's mlflow
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow ui exited ({proc.returncode}); its log: {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"mlflow ui did not answer on port {port} within 120 s; its log: {log}")


def pages(store: str, base: str) -> dict[str, str]:
    """File name → URL of each screenshot, from what the quickstart recorded in ``store``."""
    from mlflow import MlflowClient

    from lolpop.layout.native import page_path
    from lolpop.quickstart import DEFAULT_EXPERIMENT, MODEL_ID

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT).experiment_id
    deployed = client.get_model_version_by_alias(MODEL_ID, "deployed")
    winner_run = deployed.run_id  # the registry version's run is the winning experiment's
    model_version_run = deployed.tags["lolpop.workflow_run_id"]
    runs = ui_links.url(ui_links.experiment_route(experiment), base)
    return {
        "runs-list.png": runs,
        "chart-view.png": ui_links.url(ui_links.runs_route(experiment, chart=True), base),
        "experiment-run.png": ui_links.url(ui_links.run_route(experiment, winner_run), base),
        "registry-version.png": ui_links.url(ui_links.model_version_route(MODEL_ID, deployed.version), base),
        "lineage-page.png": ui_links.url(ui_links.run_route(experiment, model_version_run, page_path(MODEL_ID)), base),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", type=Path)
    parser.add_argument("--only", nargs="*", help="file names to take (default: all)")
    parser.add_argument("--wait-ms", type=int, default=None)
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("headless Chromium is not installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    started = time.monotonic()
    work = args.reuse.resolve() if args.reuse else Path(tempfile.mkdtemp(prefix="lolpop-screenshots-"))
    store = f"sqlite:///{work / 'mlflow.db'}"
    ui = None
    try:
        from lolpop.quickstart import run_quickstart

        if args.reuse is None:
            print(f"quickstart into {work} …", flush=True)
            run_quickstart(str(work / "quickstart"), tracking_uri=store)
        port = _free_port()
        ui = _start_ui(store, port, work / "mlflow-ui.log")
        args.out.mkdir(parents=True, exist_ok=True)
        for name, url in pages(store, f"http://127.0.0.1:{port}").items():
            print(f"{name}: {url}", flush=True)
            if args.only and name not in args.only:
                continue
            screenshot(url, args.out / name, user_data_dir=work / "chromium", size=SIZES.get(name, SIZE),
                       wait_ms=args.wait_ms or WAITS.get(name, DEFAULT_WAIT))
    except AssertionError as exc:  # screenshot() says what Chromium answered
        print(f"no screenshot: {exc}", file=sys.stderr)
        return 1
    finally:
        if ui is not None:
            ui.terminate()
            try:
                ui.wait(timeout=20)
            except subprocess.TimeoutExpired:
                ui.kill()
        if args.keep or args.reuse:
            print(f"store kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f} s → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
