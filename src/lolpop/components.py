"""The public component classes: ``from lolpop.components import MLFlowMetadataTracker``."""

from lolpop.component.base import BaseComponent
from lolpop.component.feature_transformer import BaseFeatureTransformer, SklearnFeatureTransformer
from lolpop.component.metadata_tracker import BaseMetadataTracker, MLFlowMetadataTracker, Resource
from lolpop.component.model_trainer import BaseModelTrainer, SklearnModelTrainer
from lolpop.component.resource_version_control import BaseResourceVersionControl, GitResourceVersionControl

__all__ = [
    "BaseComponent",
    "BaseFeatureTransformer",
    "BaseMetadataTracker",
    "BaseModelTrainer",
    "BaseResourceVersionControl",
    "GitResourceVersionControl",
    "MLFlowMetadataTracker",
    "Resource",
    "SklearnFeatureTransformer",
    "SklearnModelTrainer",
]
