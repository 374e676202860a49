"""Every example the README and the docs site show runs as pasted and prints what is shown
(issue #20 item 8; the rules are in tests/support/doc_examples.py)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.doc_examples import (PAGES, ROOT, VENV_BIN, WIDTH, Block, Substitutions, all_blocks, blocks,
                                        is_session, normalize, steps)

REGEN = os.environ.get("LOLPOP_DOCS_REGEN") == "1"
QUICKSTART = ".venv/bin/lolpop quickstart --dir quickstart"
# Languages a page may show; a block in any other language is not checked, so it is refused here.
CHECKED = {"console", "python", "bash"}
SHOWN_ONLY = {"text", "yaml", "toml", "json", "ini", "mermaid"}  # data, not something to run
# Pages whose bash and python blocks no test here runs, with why.
NOT_RUN = {"docs/scale-out.md": "a PostgreSQL + S3 stack and a multi-worker server started by hand; "
                                "tests/support/stack.py runs the same commands for tests/scale",
          "docs/quarantine.md": "a story on a store of its own (not the quickstart's): "
                                "tests/docs/test_quarantine_doc.py builds it, runs every command shown and "
                                "checks the output's shape"}


def env(cwd: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if k not in ("MLFLOW_TRACKING_URI", "LOLPOP_EXPERIMENT", "LOLPOP_TIMEOUT", "VIRTUAL_ENV")}
    e.update(PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), COLUMNS=str(WIDTH), LINES="50",
             MLFLOW_DISABLE_TELEMETRY="true", NO_COLOR="1", TERM="dumb",
             # bare `lolpop` / `python` / `mlflow` are this interpreter's, as after `source .venv/bin/activate`
             PATH=os.pathsep.join([str(cwd / ".venv" / "bin"), e.get("PATH", "")]))
    return e


def make_venv_bin(cwd: Path) -> None:
    """``.venv/bin/{lolpop,mlflow,python}`` in ``cwd``: this interpreter on this checkout's source,
    where the repository's own .venv would be after ``make quickstart``."""
    bin_dir = cwd / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    targets = {"lolpop": "-m lolpop.cli", "mlflow": "-m mlflow", "python": "", "uvicorn": "-m uvicorn"}
    for name, args in targets.items():
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (bin_dir / "activate").write_text(f'PATH="{bin_dir}:$PATH"; export PATH\n')


def shell(command: str, cwd: Path, timeout: int = 300) -> list[str]:
    proc = subprocess.run(["bash", "-c", f"{command} 2>&1"], cwd=cwd, env=env(cwd), capture_output=True,
                          text=True, timeout=timeout)
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def quickstart() -> Iterator[tuple[Path, list[str]]]:
    """A folder as the repository is after ``make quickstart``, and what the quickstart printed.
    Its path has the same length on every run (``/tmp/lolpop-docs-XXXXXXXX``): ``lolpop show``
    prints the artifact root, and a longer path would break that line elsewhere."""
    cwd = Path(tempfile.mkdtemp(prefix="lolpop-docs-", dir="/tmp"))
    try:
        make_venv_bin(cwd)
        out = shell(QUICKSTART, cwd, timeout=600)
        assert (cwd / "mlflow.db").exists(), "\n".join(out[-40:])
        yield cwd, out
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


def compare(where: str, shown: list[str], actual: list[str], subs: Substitutions, cwd: Path) -> None:
    want = [normalize(line) for line in shown]
    got = [normalize(line) for line in actual]
    while want and not want[-1]:
        want.pop()
    while got and not got[-1]:
        got.pop()
    if want != got:
        diff = "\n".join(f"  shown: {w!r}\n  real:  {g!r}" for w, g in zip(want + [""] * len(got), got + [""] * len(want))
                         if w != g)
        pytest.fail(f"{where}: the shown output has drifted from the real one:\n{diff}\n"
                    f"real output:\n" + "\n".join(actual))
    problem = subs.learn(shown, actual)
    assert problem is None, f"{where}: {problem}"


def pages_with_examples() -> list[Path]:
    return [p for p in PAGES if str(p.relative_to(ROOT)) not in NOT_RUN
            and any(b.lang in ("console", "python") for b in blocks(p))]


@pytest.mark.parametrize("page", pages_with_examples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run_as_pasted_and_print_what_is_shown(page: Path, quickstart, tmp_path):
    cwd, quickstart_out = quickstart
    subs = Substitutions()
    rewrites: list[tuple[Block, list[str]]] = []
    page_blocks = blocks(page)
    for i, block in enumerate(page_blocks):
        if is_session(block):
            new_lines: list[str] = []
            for step in steps(block):
                command = subs.apply(step.command)
                actual = quickstart_out if step.command == QUICKSTART else shell(command, cwd)
                where = f"{block.where} `$ {step.command}`"
                # as seen from the repository folder, where the quickstart names `.venv/bin/lolpop`
                new_lines += [f"$ {command}", *[VENV_BIN.sub(".venv/bin/", line).rstrip() for line in actual]]
                if REGEN:
                    subs.learn(step.expected, actual)
                else:
                    compare(where, step.expected, actual, subs, cwd)
            rewrites.append((block, new_lines))
        elif block.lang == "python":
            run_in = tmp_path / f"block{i}"
            run_in.mkdir()
            if block.mark == "quickstart":
                # a copy of the store: a snippet that opens a tracker adds a workflow run, which the
                # shown outputs of later pages must not see (artifact URIs are absolute: they stay)
                shutil.copy(cwd / "mlflow.db", run_in / "mlflow.db")
            script = run_in / f"snippet_{i}.py"
            script.write_text("\n".join(block.lines) + "\n", encoding="utf-8")
            proc = subprocess.run([sys.executable, str(script)], cwd=run_in, env=env(run_in), capture_output=True,
                                  text=True, timeout=600)
            script.unlink()
            assert proc.returncode == 0, f"{block.where}: the snippet fails as pasted:\n{proc.stderr[-4000:]}"
            following = page_blocks[i + 1] if i + 1 < len(page_blocks) else None
            if following is not None and following.lang == "console" and not is_session(following):
                actual = proc.stdout.splitlines()
                if REGEN:
                    subs.learn(following.lines, actual)
                else:
                    compare(f"{following.where} (output of {block.where})", following.lines, actual, subs, cwd)
                rewrites.append((following, [line.rstrip() for line in actual]))
    if REGEN and rewrites:
        lines = page.read_text(encoding="utf-8").splitlines()
        for block, new in sorted(rewrites, key=lambda r: r[0].start, reverse=True):
            lines[block.start + 1:block.end] = new
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w-]+):", text, flags=re.M))


def test_every_block_is_a_kind_that_is_checked():
    """A shown block is run (console, python), checked (bash: its make targets exist), or data."""
    targets = makefile_targets()
    for block in all_blocks():
        page = str(block.page.relative_to(ROOT))
        assert block.lang in CHECKED | SHOWN_ONLY, f"{block.where}: ```{block.lang} blocks are not checked"
        if block.lang != "bash" or page in NOT_RUN or block.mark == "server":
            continue
        for line in block.lines:
            command = line.split("#", 1)[0].strip()
            if not command:
                continue
            m = re.fullmatch(r"make ([\w-]+)", command)
            assert m, f"{block.where}: `{command}` in a bash block is not run by any test (use ```console)"
            assert m.group(1) in targets, f"{block.where}: the Makefile has no target {m.group(1)!r}"


def test_console_outputs_follow_a_python_block_or_a_command():
    """Output shown with no command is the output of the python block right above it."""
    for page in PAGES:
        page_blocks = blocks(page)
        for i, block in enumerate(page_blocks):
            if block.lang == "console" and not is_session(block):
                assert i and page_blocks[i - 1].lang == "python", (
                    f"{block.where}: console output that no command or snippet produces")


def test_normalize_masks_what_differs_between_runs_only():
    a = normalize("6747e84f00ac4f6bbf98b8815035ee50  2026-12-06 21:25:22  FINISHED  test_accuracy=0.9831  ")
    b = normalize("3007a921755740fcaaf521a9eb95c729  2026-12-07 01:02:03  FINISHED  test_accuracy=0.9831")
    assert a == b
    assert normalize("accuracy=0.9831") != normalize("test_accuracy=0.9831")
    assert normalize("/work/x/.venv/bin/lolpop diff m") == ".venv/bin/lolpop diff m"
    subs = Substitutions()
    assert subs.learn(["run 6747e84f00ac4f6bbf98b8815035ee50 at 2026-12-06T21:25:22.279000+00:00"],
                      ["run 3007a921755740fcaaf521a9eb95c729 at 2026-12-07T01:02:03.456000+00:00"]) is None
    assert (subs.apply("lolpop show x --run 6747e84f00ac4f6bbf98b8815035ee50 --at 2026-12-06T21:25:22.279")
            == "lolpop show x --run 3007a921755740fcaaf521a9eb95c729 --at 2026-12-07T01:02:03.456")
    assert subs.apply("lolpop show --run 6747e84f") == "lolpop show --run 3007a921"
    assert subs.learn(["6747e84f00ac4f6bbf98b8815035ee50"], ["ffffffff00ac4f6bbf98b8815035ee50"]) is not None


def test_the_configuration_page_lists_every_config_key():
    from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (yes|no) \|", text, flags=re.M)
    assert [k for k, _ in rows] == [*MLFlowMetadataTracker.__REQUIRED_CONF__, *sorted(
        MLFlowMetadataTracker.__OPTIONAL_CONF__, key=[k for k, _ in rows].index)]
    assert {k for k, req in rows if req == "yes"} == set(MLFlowMetadataTracker.__REQUIRED_CONF__)
    assert {k for k, req in rows if req == "no"} == set(MLFlowMetadataTracker.__OPTIONAL_CONF__)
    # the defaults shown are the code's
    from lolpop.store._connection import DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT

    defaults = dict(re.findall(r"^\| `(\w+)` \| (?:yes|no) \| ([^|]*) \|", text, flags=re.M))
    assert defaults["mlflow_request_timeout"] == f"`{DEFAULT_REQUEST_TIMEOUT:g}`"
    assert defaults["mlflow_max_retries"] == f"`{DEFAULT_MAX_RETRIES}`"
    assert defaults["mlflow_write_mode"] == "`immediate`" and defaults["mlflow_registry"] == "`true`"


def test_the_cli_page_runs_every_command():
    from lolpop.cli.main import cli

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"^\$ (?:\.venv/bin/)?lolpop (\w+)", text, flags=re.M))
    assert set(cli.commands) <= shown, f"commands the CLI page does not run: {set(cli.commands) - shown}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.lang == "bash" and b.mark == "server"]


def script_of(block: Block) -> str:
    return "\n".join(block.lines).replace("\\\n", " ")


@pytest.mark.server  # starts real MLflow servers of its own
@pytest.mark.timeout(600)
def test_server_blocks_start_a_server_that_answers_as_shown(quickstart, tmp_path):
    """A ``<!-- run: server -->`` bash block starts a server (``mlflow ui``, ``mlflow models serve``):
    it runs as pasted but on a free port, in the quickstart folder; the block right after it, if it
    is a server block too, is the client: it runs while the server is up and prints the ``# ``
    comment it ends with."""
    cwd, _ = quickstart
    found = server_blocks()
    assert len(found) >= 2, [b.where for b in found]
    i = 0
    while i < len(found):
        block = found[i]
        client = found[i + 1] if i + 1 < len(found) and found[i + 1].page == block.page and \
            found[i + 1].start - block.end < 8 else None
        i += 2 if client else 1
        script = script_of(block)
        ports = re.findall(r"--port (\d+)", script)
        port = free_port()
        if ports:
            script = script.replace(ports[0], str(port))
        else:
            script += f" --host 127.0.0.1 --port {port}"
        log = (tmp_path / f"server{i}.log").open("w")
        server = subprocess.Popen(["bash", "-c", f"exec {script}" if "\n" not in script else script], cwd=cwd,
                                  env=env(cwd), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert server.poll() is None, f"{block.where}: the server exited:\n" + \
                        (tmp_path / f"server{i}.log").read_text()[-3000:]
                    time.sleep(0.5)
            else:
                pytest.fail(f"{block.where}: nothing answers on port {port} after 180 s")
            if client is None:
                continue
            shown = [line[2:] for line in client.lines if line.startswith("# ")]
            actual = shell(script_of(client).replace(ports[0], str(port)) if ports else script_of(client), cwd)
            deadline = time.monotonic() + 60
            while actual != shown and time.monotonic() < deadline:  # the port opens before the app is ready
                time.sleep(1)
                actual = shell(script_of(client).replace(ports[0], str(port)) if ports else script_of(client), cwd)
            assert actual == shown, f"{client.where}: prints {actual}, the page shows {shown}"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()


def test_the_tracker_docstring_states_the_codes_defaults():
    """The API reference shows the class docstring's defaults; they once said 5 retries where the
    code retries 8 times."""
    from lolpop.store._connection import DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT
    from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

    doc = " ".join((MLFlowMetadataTracker.__doc__ or "").split())
    assert f"``mlflow_max_retries`` (optional, default {DEFAULT_MAX_RETRIES})" in doc
    assert f"``mlflow_request_timeout`` (optional, seconds, default {DEFAULT_REQUEST_TIMEOUT:g})" in doc


def test_every_file_the_pages_name_exists():
    """A page naming a module or test (``src/lolpop/layout/index.py``, ``tests/cli/...``) names one
    that is there: modules and tests move."""
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in set(re.findall(r"(?<![\w/.])((?:src/|tests/|lolpop/|layout/)[\w/]+\.py)\b", text)):
            if not any((ROOT / base / path).exists() for base in ("", "src", "src/lolpop")):
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert not missing, "\n".join(sorted(missing))
