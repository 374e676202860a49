"""A model trainer for any scikit-learn classifier or regressor named in configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lolpop.component._sklearn_io import check_params, load_sklearn, save_sklearn, sklearn_class
from lolpop.component.base import ConfLike
from lolpop.component.model_trainer.base_model_trainer import BaseModelTrainer
from lolpop.exceptions import ConfigError, InvalidInputError
from lolpop.registry import register


@register
class SklearnModelTrainer(BaseModelTrainer):
    """Wraps a scikit-learn estimator chosen by name.

    Configuration, beyond :class:`BaseModelTrainer`'s:

    * ``estimator`` (required): a scikit-learn classifier or regressor class name, such as
      ``"RandomForestClassifier"`` — resolved from scikit-learn's own estimator list, never
      imported by path.
    * ``training_params``: its constructor parameters (checked against its signature).

    Example:
        >>> trainer = SklearnModelTrainer(conf={
        ...     "estimator": "RandomForestClassifier",
        ...     "training_params": {"n_estimators": 50, "random_state": 0},
        ...     "metrics": ["accuracy", "f1"]}, metadata_tracker=tracker)
        >>> trainer.fit({"X_train": X, "y_train": y}).predict(X)[:3]
    """

    __REQUIRED_CONF__ = ["estimator"]

    def __init__(self, conf: ConfLike = None, params: dict[str, Any] | None = None, *args: Any,
                 **kwargs: Any) -> None:
        super().__init__(conf, params, **kwargs)
        try:
            self.estimator_class = sklearn_class(self.config["estimator"], "predictor", self.name)
            self.params = check_params(self.estimator_class, self.params, self.name)
        except InvalidInputError as exc:
            raise ConfigError(str(exc)) from exc
        if self._metrics is not None:
            needs_proba = {"rocauc", "prauc"} & set(self._metrics)
            if needs_proba and self.problem_type != "classification":
                raise ConfigError(f"{self.name}: metric(s) {sorted(needs_proba)} need a classifier")

    @property
    def problem_type(self) -> str:
        """``"classification"`` for a scikit-learn classifier, else ``"regression"``."""
        from sklearn.base import ClassifierMixin

        return "classification" if issubclass(self.estimator_class, ClassifierMixin) else "regression"

    def new_estimator(self) -> Any:
        """An unfitted estimator with this trainer's params."""
        return self.estimator_class(**self.params)

    def _fit_model(self, X: Any, y: Any) -> Any:
        return self.new_estimator().fit(X, y)

    def _predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def _predict_proba(self, X: Any) -> Any:
        if not hasattr(self.model, "predict_proba"):
            raise InvalidInputError(f"{self.name}: {type(self.model).__name__} does not predict probabilities")
        return self.model.predict_proba(X)

    def _check_model(self, model: Any) -> None:
        if not callable(getattr(model, "predict", None)):
            raise InvalidInputError(f"{self.name}: a {type(model).__name__} has no predict(); not a fitted estimator")

    def _save_model(self, path: Path, **signature: Any) -> None:
        save_sklearn(self.model, path, **signature)

    def _load_model(self, path: Path) -> Any:
        return load_sklearn(path)
