"""Model trainers: fit a model, record it as an experiment, and be rebuilt by ``load_model``."""

from lolpop.component.model_trainer.base_model_trainer import BaseModelTrainer
from lolpop.component.model_trainer.sklearn_model_trainer import SklearnModelTrainer

__all__ = ["BaseModelTrainer", "SklearnModelTrainer"]
