"""MLflow's entity types, for lolpop code outside :mod:`lolpop.store` that names them (type
hints, ``isinstance``): the one place such code gets them from, so that every ``mlflow`` import
stays in the store-access package."""

from mlflow.entities import Run, RunInfo, RunTag
from mlflow.exceptions import MlflowException

__all__ = ["MlflowException", "Run", "RunInfo", "RunTag"]
