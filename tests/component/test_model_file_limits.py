"""Reading a model file from a store is bounded: sizes come from the zip's central directory
before anything is inflated, and the bytes read are bounded again (a directory can lie)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import lolpop
from lolpop.component._sklearn_io import (
    MAX_MEMBER_BYTES,
    MAX_MLMODEL_BYTES,
    MAX_MODEL_BYTES,
    MAX_SCHEMA_BYTES,
    load_sklearn,
    save_sklearn,
)
from lolpop.exceptions import InvalidInputError
from tests.support.crafted_model import declare_size, model_file, zip_bomb


@pytest.fixture
def honest_folder(tmp_path):
    return Path(save_sklearn(StandardScaler().fit(load_iris(return_X_y=True)[0]), tmp_path / "m"))


MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys, tracemalloc
    import numpy, sklearn, skops.io, yaml  # what loading imports: not counted
    from lolpop.component._sklearn_io import load_sklearn

    tracemalloc.start()  # counts what Python and numpy allocate (zlib's output included)
    try:
        load_sklearn(sys.argv[1])
        outcome = "loaded"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"peak_mib": tracemalloc.get_traced_memory()[1] / 2**20, "outcome": outcome}))
""")


def _schema_bomb(path: Path) -> str:
    zip_bomb(path, 256 * 2**20)
    return f"member 'schema.json' inflates to {256 * 2**20} bytes; the limit is {MAX_SCHEMA_BYTES}"


def _understated_schema(path: Path) -> str:
    declare_size(zip_bomb(path, 256 * 2**20), "schema.json", 100)
    return "Bad CRC-32 for file 'schema.json'"


def _understated_array(path: Path) -> str:
    """An array the schema loads, deflated to 256 MiB of zeros, its entry stating its old size."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    target = next(name for name in files if name.endswith(".npy"))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            if name != target:
                archive.writestr(name, data)
    declare_size(zip_bomb(path, 256 * 2**20, target, mode="a"), target, len(files[target]))
    return f"Bad CRC-32 for file '{target}'"


@pytest.mark.parametrize("bomb", [_schema_bomb, _understated_schema, _understated_array])
def test_a_zip_bomb_is_refused_and_memory_stays_bounded(tmp_path, honest_folder, bomb):
    """A 1 MB model file with a member that inflates to 256 MiB; its directory entry tells the
    truth (schema.json: four times its limit), or understates it."""
    refusal = bomb(model_file(honest_folder))
    assert model_file(honest_folder).stat().st_size < 2 * 2**20
    script = tmp_path / "measure.py"
    script.write_text(MEMORY_SCRIPT)
    src = str(Path(lolpop.__file__).resolve().parents[1])
    run = subprocess.run([sys.executable, str(script), str(honest_folder)], capture_output=True, text=True,
                         env={"PYTHONPATH": src, "MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"},
                         timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("InvalidInputError") and refusal in result["outcome"], result
    assert result["peak_mib"] < 16, result


def _add_stored(path: Path, name: str, data: bytes, compression: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "a", compression=compression) as archive:
        archive.writestr(name, data)


def _sparse_bomb(path: Path) -> None:
    """A sparse matrix member (an .npz, itself a zip) whose data array is a deflate bomb."""
    inner = path.parent / "bomb.npz"
    zip_bomb(inner, 64 * 2**20, "data.npy")
    _add_stored(path, "1234.npz", inner.read_bytes())


@pytest.mark.parametrize("edit, refusal", [
    # the directory declares a member bigger than any one member may be
    (lambda p: declare_size(_add_stored(p, "big.npy", bytes(100)) or p, "big.npy", 3 * 2**30),
     f"member 'big.npy' inflates to {3 * 2**30} bytes; the limit is {MAX_MEMBER_BYTES}"),
    # a deflate bomb among the arrays: inflating it would cost 200 times the bytes stored
    (lambda p: zip_bomb(p, 64 * 2**20, "bomb.npy", mode="a"), "member 'bomb.npy' inflates 2"),
    # members each within bounds, together over the whole file's limit
    (lambda p: [declare_size(_add_stored(p, f"a{i}.npy", bytes(9 * 2**20)) or p, f"a{i}.npy", 900 * 2**20)
                for i in range(3)], f"inflates to more than {MAX_MODEL_BYTES} bytes in all"),
    # bzip2 inflates a whole read at once: no bound per read
    (lambda p: _add_stored(p, "b.npy", bytes(1000), zipfile.ZIP_BZIP2), "compressed with method 12"),
    # the arrays inside a sparse matrix's .npz are members too
    (_sparse_bomb, "member '1234.npz' member 'data.npy' inflates 2"),
])
def test_every_member_and_the_whole_file_are_bounded_before_anything_is_inflated(honest_folder, edit, refusal):
    edit(model_file(honest_folder))
    with pytest.raises(InvalidInputError) as err:
        load_sklearn(honest_folder)
    assert refusal in str(err.value)


def test_a_zip_directory_over_its_limit_is_refused_before_it_is_parsed(honest_folder):
    path = model_file(honest_folder)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")  # end of central directory: its size at +12
    data[end + 12:end + 16] = (MAX_SCHEMA_BYTES + 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="bytes of directory"):
        load_sklearn(honest_folder)


def test_an_mlmodel_file_over_its_limit_is_refused(honest_folder):
    mlmodel = honest_folder / "MLmodel"
    mlmodel.write_text(mlmodel.read_text() + "#" * MAX_MLMODEL_BYTES + "\n")
    with pytest.raises(InvalidInputError, match=f"bigger than {MAX_MLMODEL_BYTES} bytes"):
        load_sklearn(honest_folder)
