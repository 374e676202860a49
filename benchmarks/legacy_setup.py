"""Create ``build/bench/legacy-venv``: a throwaway venv holding lolpop 0.2.0 from PyPI.

lolpop 0.2.0 pins old pandas/pyarrow/SQLAlchemy that it does not need for its metadata tracker,
so it is installed with ``--no-deps`` plus the few packages its import chain needs
(``omegaconf==2.2.3``, ``anytree``, ``colorama``) and the same MLflow version lolpop uses now
(MLflow brings pandas and GitPython, which lolpop 0.2.0's utils import). A stamp file makes a
second run free.

    python benchmarks/legacy_setup.py [build_dir]    # prints the venv's python
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEGACY = "lolpop==0.2.0"
EXTRA = ["omegaconf==2.2.3", "anytree", "colorama"]


def python_of(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure(build: Path | None = None, quiet: bool = True) -> Path:
    build = build or ROOT / "build" / "bench"
    env = build / "legacy-venv"
    mlflow_pin = f"mlflow=={version('mlflow')}"
    stamp = env / ".installed"
    want = " ".join([LEGACY, *EXTRA, mlflow_pin])
    if stamp.exists() and stamp.read_text() == want:
        return python_of(env)
    print(f"[legacy] creating {env} with {want} (once; takes a minute or two)", flush=True)
    if not python_of(env).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
    py = str(python_of(env))
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    q = ["--quiet"] if quiet else []
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", *q]
    subprocess.run([*pip, "--no-deps", LEGACY], check=True, env=clean_env)
    subprocess.run([*pip, *EXTRA, mlflow_pin], check=True, env=clean_env)
    check = ("from importlib.metadata import version; assert version('lolpop') == '0.2.0'; "
             "import lolpop.component.metadata_tracker.mlflow_metadata_tracker as m; "
             "assert 'legacy-venv' in m.__file__, m.__file__")
    subprocess.run([py, "-c", check], check=True, env=clean_env, cwd=build)
    stamp.write_text(want)
    return python_of(env)


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
