"""Test helpers around the version index (lolpop.layout.index)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lolpop.components import MLFlowMetadataTracker
from lolpop.layout import index


def build_index(config: dict[str, Any]) -> None:
    """Give the experiment of ``config`` its version index, as any earlier finished workflow run
    would, so a test counting one call's requests sees only that call's."""
    earlier = MLFlowMetadataTracker(conf=config)
    earlier.create_resource("earlier", type="dataset_version")
    earlier.stop()


def without_index(runs: Iterable[Any]) -> list[Any]:
    """``runs`` without the experiment's index run (a run of its own, never a workflow run)."""
    return [r for r in runs if r.data.tags.get(index.INDEX_RUN_TAG) != "True"]
