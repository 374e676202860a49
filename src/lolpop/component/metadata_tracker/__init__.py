"""Metadata trackers: where a lolpop workflow records what it touched."""

from lolpop.component.metadata_tracker.base_metadata_tracker import BaseMetadataTracker, Resource
from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

__all__ = ["BaseMetadataTracker", "MLFlowMetadataTracker", "Resource"]
