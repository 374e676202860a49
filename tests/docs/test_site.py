"""`make docs`: the documentation site builds in strict mode (a broken link, anchor or API
reference fails) and the pages it makes load nothing from the network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

ROOT = Path(__file__).resolve().parents[2]

# What a browser fetches by itself when it opens a page: tags with a src/href to another host, CSS
# imports and url()s. Plain <a href> links are followed only when clicked, so they may point out.
FETCHED = re.compile(r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(?:src|href|data)="
                     r"[\"']?(?:https?:)?//", re.I)
CSS_FETCH = re.compile(r"(?:@import|url\()\s*[\"']?(?:https?:)?//", re.I)


def build(site: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = build(out)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}"
    return out


def test_the_site_builds_in_strict_mode_with_every_page(site):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert {"index.html", "getting-started.html", "concepts.html", "ui-tour.html", "cli.html", "configuration.html",
            "scale-out.html", "security.html", "architecture.html", "reference/tracker.html",
            "reference/exceptions.html", "reference/audit.html", "reference/lineage.html",
            "reference/testing.html", "reference/base.html"} <= pages


def test_no_page_loads_anything_from_the_network(site):
    offenders = []
    for path in [*site.rglob("*.html"), *site.rglob("*.css")]:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in (FETCHED, CSS_FETCH):
            offenders += [f"{path.relative_to(site)}: {m.group(0)}" for m in pattern.finditer(text)]
        # material loads web fonts from Google unless theme.font is false, mermaid from a CDN for a
        # diagram block, and the repository's stars from GitHub's API when repo_url is set
        needles = ["fonts.googleapis", "fonts.gstatic"]
        if path.suffix == ".html":  # the stylesheet styles these whether or not a page has them
            needles += ['class="mermaid"', 'class="md-source"']
        for needle in needles:
            if needle in text:
                offenders.append(f"{path.relative_to(site)}: {needle}")
    assert not offenders, "\n".join(offenders[:20])


def test_the_api_reference_documents_every_public_tracker_method(site):
    page = (site / "reference" / "tracker.html").read_text(encoding="utf-8")
    # its own methods and those of the parts it is made of (the mixins of its package)
    public = sorted({name for klass in MLFlowMetadataTracker.__mro__
                     if klass.__module__.startswith("lolpop.component.metadata_tracker.")
                     for name in vars(klass) if not name.startswith("_")
                     and callable(getattr(MLFlowMetadataTracker, name))})
    assert len(public) > 25
    missing = [name for name in public if f'id="lolpop.component.metadata_tracker.mlflow_metadata_tracker.'
               f'MLFlowMetadataTracker.{name}"' not in page]
    assert not missing, f"not in the API reference: {missing}"


def test_a_broken_link_fails_the_build(tmp_path):
    """Strict mode is really on: a page linking to a page that does not exist stops the build."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\nSee [nowhere](nowhere.md).\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(r"(?ms)^nav:.*", "", config).replace("docs_dir: docs", f"docs_dir: {docs}")
    config = config.replace("mkdocs_ext/", f"{ROOT}/mkdocs_ext/").replace("paths: [src]", f"paths: [{ROOT}/src]")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    proc = build(tmp_path / "site", "--config-file", str(tmp_path / "mkdocs.yml"))
    assert proc.returncode != 0
    assert "nowhere.md" in proc.stderr
