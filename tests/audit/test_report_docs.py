"""The audit report examples in docs/ are what ``docs/report_example.py`` produces now (run ids,
hexshas and times aside): the docs cannot drift from the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FILES = ("report-example.md", "report-example-page.html", "report-history-example.txt")

_VARYING = [
    (re.compile(r"[0-9a-f]{40}"), "<sha>"),
    (re.compile(r"[0-9a-f]{32}"), "<run>"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "<run8>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00)?"), "<time>"),
    (re.compile(r"MLflow experiment \d+"), "MLflow experiment <n>"),
]


def normalized(text: str) -> str:
    for pattern, stand_in in _VARYING:
        text = pattern.sub(stand_in, text)
    # column widths follow the widest run id / time: compare words, not spacing
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def test_the_committed_examples_are_what_the_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("report_example", DOCS / "report_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in FILES:
        assert normalized((tmp_path / name).read_text(encoding="utf-8")) == \
            normalized((DOCS / name).read_text(encoding="utf-8")), f"docs/{name} drifted: run docs/report_example.py"


def test_the_excerpts_in_docs_report_md_are_from_the_examples():
    page = (DOCS / "report.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)\n```\n", page, flags=re.S)
    assert len(blocks) == 5
    for name, excerpt in blocks:
        assert normalized(excerpt) in normalized((DOCS / name).read_text(encoding="utf-8")), (name, excerpt[:200])
