"""Feature transformers: turn raw feature frames into what a model trainer fits on."""

from lolpop.component.feature_transformer.base_feature_transformer import BaseFeatureTransformer
from lolpop.component.feature_transformer.sklearn_feature_transformer import SklearnFeatureTransformer

__all__ = ["BaseFeatureTransformer", "SklearnFeatureTransformer"]
