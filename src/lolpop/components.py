"""The public component classes: ``from lolpop.components import MLFlowMetadataTracker``."""

from lolpop.component.base import BaseComponent
from lolpop.component.metadata_tracker import BaseMetadataTracker, MLFlowMetadataTracker, Resource

__all__ = ["BaseComponent", "BaseMetadataTracker", "MLFlowMetadataTracker", "Resource"]
