"""The model trainer interface, and the experiment flow every trainer shares."""

from __future__ import annotations

import copy
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lolpop import registry
from lolpop.component import _sklearn_io
from lolpop.component.base import BaseComponent, ConfLike, LiteralConf
from lolpop.component.feature_transformer.base_feature_transformer import BaseFeatureTransformer
from lolpop.component.model_trainer import _winner
from lolpop.exceptions import (
    ConfigError,
    InvalidInputError,
    LolpopError,
    ModelNotFittedError,
    UnknownComponentError,
)

MODEL_ARTIFACT = "model"
TRANSFORMER_ARTIFACT = "feature_transformer"
SPLITS = ("train", "valid", "test")


def _average(y: Any) -> str:
    return "binary" if len(np.unique(np.asarray(y))) <= 2 else "weighted"


def _metric_table() -> dict[str, tuple[str, Callable[..., float]]]:
    """name -> (what it needs: "pred" or "proba", fn(y_true, pred_or_proba))."""
    from sklearn import metrics as m

    def rocauc(y: Any, proba: Any) -> float:
        proba = np.asarray(proba)
        if proba.ndim == 2 and proba.shape[1] == 2:
            return float(m.roc_auc_score(y, proba[:, 1]))
        return float(m.roc_auc_score(y, proba, average="weighted", multi_class="ovr"))

    def prauc(y: Any, proba: Any) -> float:
        proba = np.asarray(proba)
        if proba.ndim != 2 or proba.shape[1] != 2:
            raise InvalidInputError("metric 'prauc' is defined for binary classification only")
        return float(m.average_precision_score(y, proba[:, 1]))

    return {
        "accuracy": ("pred", lambda y, p: float(m.accuracy_score(y, p))),
        "f1": ("pred", lambda y, p: float(m.f1_score(y, p, average=_average(y)))),
        "precision": ("pred", lambda y, p: float(m.precision_score(y, p, average=_average(y), zero_division=0))),
        "recall": ("pred", lambda y, p: float(m.recall_score(y, p, average=_average(y), zero_division=0))),
        "rocauc": ("proba", rocauc),
        "prauc": ("proba", prauc),
        "mse": ("pred", lambda y, p: float(m.mean_squared_error(y, p))),
        "rmse": ("pred", lambda y, p: float(np.sqrt(m.mean_squared_error(y, p)))),
        "mae": ("pred", lambda y, p: float(m.mean_absolute_error(y, p))),
        "mape": ("pred", lambda y, p: float(m.mean_absolute_percentage_error(y, p))),
        "mdae": ("pred", lambda y, p: float(m.median_absolute_error(y, p))),
        "r2": ("pred", lambda y, p: float(m.r2_score(y, p))),
    }


METRICS = ("accuracy", "f1", "precision", "recall", "rocauc", "prauc", "mse", "rmse", "mae", "mape", "mdae", "r2")
DEFAULT_METRICS = {"classification": ["accuracy", "f1"], "regression": ["rmse", "mae", "r2"]}


class BaseModelTrainer(BaseComponent, ABC):
    """Trains one model, optionally behind a feature transformer, and records it as an experiment.

    Configuration (plain data, validated at construction, never modified):

    * ``training_params`` (dict, default ``{}``): model parameters; the ``params`` argument wins.
    * ``metrics`` (list, default by problem type): names from :data:`METRICS`.
    * ``feature_transformer`` (str, optional): a registry name such as
      ``"SklearnFeatureTransformer"``; ``feature_transformer_config`` (dict) is its config.

    Data is the lolpop split dict ``{"X_train", "y_train", "X_valid", "y_valid", "X_test",
    "y_test"}`` (only the train pair is required).

    Attributes:
        params: the model parameters in use (a copy).
        model: the fitted model, or ``None``.
        feature_transformer: a :class:`BaseFeatureTransformer` or ``None``.
        metadata_tracker: the tracker :meth:`build_model` records into (may be ``None``).
        model_version: the model version ``load_model`` rebuilt this trainer from, or ``None``.
        pipeline_config: configuration of the calling pipeline, kept for the trainer's use.

    Example:
        >>> trainer = SklearnModelTrainer(conf={"estimator": "LogisticRegression"},
        ...                               metadata_tracker=tracker)
        >>> trainer, experiment = trainer.build_model(data, model_version)
        >>> trainer.declare_winner(model_version, experiment)
    """

    __DEFAULT_CONF__ = {"training_params": {}, "metrics": None, "feature_transformer": None,
                        "feature_transformer_config": {}}

    def __init__(self, conf: ConfLike = None, params: dict[str, Any] | None = None, *args: Any,
                 metadata_tracker: Any = None, pipeline_config: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(conf, **kwargs)
        if params is None:
            params = self.config.get("training_params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{self.name}: training_params must be a dict, got {type(params).__name__}")
        self.params: dict[str, Any] = copy.deepcopy(params)
        if pipeline_config is not None and not isinstance(pipeline_config, Mapping):
            raise ConfigError(f"{self.name}: pipeline_config must be a dict, got {type(pipeline_config).__name__}")
        self.pipeline_config: dict[str, Any] = copy.deepcopy(dict(pipeline_config or {}))
        self.metadata_tracker = metadata_tracker
        self.model: Any = None
        self.model_version: Any = None  # set by load_model: the version this trainer was loaded from
        self._metrics = self._check_metrics(self.config.get("metrics"))
        self.feature_transformer: BaseFeatureTransformer | None = self._make_transformer()

    # -- configuration --------------------------------------------------------------------
    def _check_metrics(self, metrics: Any) -> list[str] | None:
        if metrics is None:
            return None
        if not isinstance(metrics, list) or not all(isinstance(x, str) for x in metrics):
            raise ConfigError(f"{self.name}: metrics must be a list of names, got {metrics!r:.100}")
        unknown = [x for x in metrics if x not in METRICS]
        if unknown:
            raise ConfigError(f"{self.name}: unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
        return list(metrics)

    def _make_transformer(self) -> BaseFeatureTransformer | None:
        name = self.config.get("feature_transformer")
        if name is None:
            return None
        ft_conf = self.config.get("feature_transformer_config") or {}
        if not isinstance(ft_conf, dict):
            raise ConfigError(f"{self.name}: feature_transformer_config must be a dict")
        try:
            cls = registry.get(name, kind=BaseFeatureTransformer)
        except UnknownComponentError as exc:
            raise ConfigError(f"{self.name}: feature_transformer: {exc}") from exc
        # Already expanded (or deliberately literal) as part of this trainer's config.
        return cls(conf=LiteralConf(ft_conf))

    @property
    @abstractmethod
    def problem_type(self) -> str:
        """``"classification"`` or ``"regression"``."""

    @property
    def metrics(self) -> list[str]:
        """The metric names :meth:`calculate_metrics` computes by default."""
        return list(self._metrics if self._metrics is not None else DEFAULT_METRICS[self.problem_type])

    # -- what a concrete trainer implements -----------------------------------------------
    @abstractmethod
    def _fit_model(self, X: Any, y: Any) -> Any:
        """Fit and return a new model on (already transformed) ``X``, ``y``."""

    @abstractmethod
    def _predict(self, X: Any) -> Any:
        """Predict with ``self.model`` on transformed ``X``."""

    def _predict_proba(self, X: Any) -> Any:
        raise InvalidInputError(f"{self.name}: this model does not predict probabilities")

    @abstractmethod
    def _save_model(self, path: Path, **signature: Any) -> None:
        """Write ``self.model`` to the new folder ``path``; ``signature`` holds ``signature`` and
        ``input_example`` for an MLflow model folder (a subclass that does not take keywords is
        called with ``path`` only)."""

    @abstractmethod
    def _load_model(self, path: Path) -> Any:
        """Return the model read from folder ``path`` (written by :meth:`_save_model`)."""

    def _check_model(self, model: Any) -> None:
        """Refuse an object that cannot serve as this trainer's fitted model."""

    # -- fitted model ---------------------------------------------------------------------
    def set_model(self, model: Any) -> None:
        """Use ``model`` (already fitted) as this trainer's model.

        Raises:
            InvalidInputError: ``model`` cannot serve as this trainer's model.

        Example:
            >>> trainer.set_model(fitted_estimator)
        """
        self._check_model(model)
        self.model = model

    _set_model = set_model  # lolpop 0.2.0 name

    def _get_model(self) -> Any:
        return self.model

    def _require_fitted(self, what: str) -> None:
        if self.model is None:
            raise ModelNotFittedError(f"{self.name}: call fit() (or load a model) before {what}()")

    # -- data -----------------------------------------------------------------------------
    def _train_pair(self, data: Any, y: Any) -> tuple[Any, Any]:
        if isinstance(data, Mapping):
            missing = [k for k in ("X_train", "y_train") if data.get(k) is None]
            if missing:
                raise InvalidInputError(f"{self.name}: data is missing {', '.join(missing)}")
            return data["X_train"], data["y_train"]
        if y is None:
            raise InvalidInputError(f"{self.name}: pass a split dict (X_train, y_train, ...) or X and y")
        return data, y

    def transform(self, X: Any) -> Any:
        """Return ``X`` through the feature transformer (unchanged when there is none)."""
        if self.feature_transformer is None:
            return X
        return self.feature_transformer.transform(X)

    def fit(self, data: Any, y: Any = None, *args: Any, **kwargs: Any) -> BaseModelTrainer:
        """Fit the feature transformer (if any) and the model on the training split.

        Args:
            data: a split dict with ``X_train`` and ``y_train``, or the features ``X``.
            y: the target when ``data`` is ``X``.

        Returns:
            ``self``.

        Example:
            >>> trainer.fit({"X_train": X, "y_train": y})
        """
        X, y = self._train_pair(data, y)
        # The raw input's schema and first rows: the signature and input example of what save() writes.
        self._training_input = _sklearn_io.remember_input(X)
        if self.feature_transformer is not None:
            X = self.feature_transformer.fit_transform(X, y)
        self.model = self._fit_model(X, y)
        return self

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        """Predict on raw features ``X`` (the transformer is applied first).

        Raises:
            ModelNotFittedError: no model yet.

        Example:
            >>> trainer.predict(X_test)
        """
        self._require_fitted("predict")
        return self._predict(self.transform(X))

    def predict_proba(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        """Class probabilities on raw features ``X`` (classifiers only).

        Raises:
            ModelNotFittedError: no model yet.
            InvalidInputError: the model does not predict probabilities.

        Example:
            >>> trainer.predict_proba(X_test)[:, 1]
        """
        self._require_fitted("predict_proba")
        return self._predict_proba(self.transform(X))

    def predict_splits(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Predictions for every split present in ``data``: ``{"train": ..., "train_proba": ...}``.

        ``<split>_proba`` is included for classifiers that predict probabilities.

        Example:
            >>> trainer.predict_splits(data)["test"]
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{self.name}: predict_splits needs a split dict")
        out: dict[str, Any] = {}
        for split in SPLITS:
            X = data.get(f"X_{split}")
            if X is None:
                continue
            out[split] = self.predict(X)
            if self.problem_type == "classification":
                try:
                    out[f"{split}_proba"] = self.predict_proba(X)
                except InvalidInputError:
                    pass
        return out

    def calculate_metrics(self, data: Mapping[str, Any], predictions: Mapping[str, Any] | None = None,
                          metrics: list[str] | None = None, *args: Any, **kwargs: Any) -> dict[str, dict[str, float]]:
        """Compute ``metrics`` on every split of ``data`` that has a target.

        Args:
            data: the split dict.
            predictions: from :meth:`predict_splits` (computed when omitted).
            metrics: metric names (default: the configured / problem-type default).

        Returns:
            ``{"train": {"accuracy": 0.97, ...}, "valid": {...}, "test": {...}}`` (splits that are
            absent from ``data`` are absent here).

        Raises:
            InvalidInputError: an unknown metric, or one that needs probabilities the model lacks.

        Example:
            >>> trainer.calculate_metrics(data, metrics=["accuracy"])["test"]["accuracy"]
        """
        names = self.metrics if metrics is None else metrics
        if not isinstance(names, list) or any(n not in METRICS for n in names):
            raise InvalidInputError(f"{self.name}: metrics must be names from {', '.join(METRICS)}, got {names!r}")
        if predictions is None:
            predictions = self.predict_splits(data)
        table = _metric_table()
        out: dict[str, dict[str, float]] = {}
        for split in SPLITS:
            y = data.get(f"y_{split}")
            if y is None or split not in predictions:
                continue
            out[split] = {}
            for name in names:
                needs, fn = table[name]
                key = split if needs == "pred" else f"{split}_proba"
                if key not in predictions:
                    raise InvalidInputError(f"{self.name}: metric {name!r} needs probabilities, which this model lacks")
                out[split][name] = fn(y, predictions[key])
        return out

    # -- persistence through the metadata tracker -----------------------------------------
    def _tracker(self) -> Any:
        if self.metadata_tracker is None:
            raise ConfigError(f"{self.name}: no metadata_tracker was given to this trainer")
        return self.metadata_tracker

    def save(self, experiment: Any, *args: Any, **kwargs: Any) -> None:
        """Store the fitted model (and transformer) as artifacts ``model`` (and
        ``feature_transformer``) of ``experiment``, as MLflow sklearn-flavor model folders.

        Raises:
            ModelNotFittedError: nothing was fitted.

        Example:
            >>> trainer.save(experiment)
        """
        self._require_fitted("save")
        tracker = self._tracker()
        inputs = getattr(self, "_training_input", None)  # None: loaded, not fitted here
        ft = self.feature_transformer
        with tempfile.TemporaryDirectory(prefix="lolpop-model-") as tmp:
            # With a transformer the model takes transformed features; the raw input's schema and
            # example go with the transformer, whose folder the registry's pipeline takes them from.
            extras = _sklearn_io.signature_for(inputs, self._predict, ft.transform if ft is not None else None)
            if _takes_keywords(self._save_model):
                self._save_model(Path(tmp) / MODEL_ARTIFACT, **extras)
            else:  # a trainer written before signatures: saved as before
                self._save_model(Path(tmp) / MODEL_ARTIFACT)
            tracker.log_artifact(experiment, MODEL_ARTIFACT, str(Path(tmp) / MODEL_ARTIFACT))
            if ft is not None:
                ft.save(Path(tmp) / TRANSFORMER_ARTIFACT, **_sklearn_io.signature_for(inputs, None))
                tracker.log_artifact(experiment, TRANSFORMER_ARTIFACT, str(Path(tmp) / TRANSFORMER_ARTIFACT))

    def load(self, experiment: Any, *args: Any, load_transformer: bool = True, **kwargs: Any) -> BaseModelTrainer:
        """Read the model (and, when this trainer has one, the transformer) saved by :meth:`save`.

        Returns:
            ``self``.

        Example:
            >>> trainer.load(tracker.get_winning_experiment(model_version))
        """
        tracker = self._tracker()
        self.set_model(self._load_model(Path(tracker.get_artifact(experiment, MODEL_ARTIFACT))))
        if load_transformer and self.feature_transformer is not None:
            self.feature_transformer.load(tracker.get_artifact(experiment, TRANSFORMER_ARTIFACT))
        return self

    def build_model(self, data: Mapping[str, Any], model_version: Any, *args: Any, winner: bool = False,
                    **kwargs: Any) -> tuple[BaseModelTrainer, Any]:
        """Train one model as an experiment of ``model_version``.

        Fits on ``data``; creates an experiment resource under ``model_version``; records on it
        everything ``load_model`` needs to rebuild it — the trainer's registry name and config,
        ``training_params`` (also MLflow params of the experiment run), the transformer's
        registry name and config — plus the problem type and the metrics of every split; saves
        the model (and transformer) as its artifacts; and ends the experiment run. If saving
        fails the experiment run is marked FAILED.

        Training several candidates does not make each one the winner: declare the winner with
        :meth:`declare_winner` (or ``winner=True`` here).

        Args:
            data: the split dict (``X_train``, ``y_train`` required).
            model_version: the model version resource.
            winner: also record this experiment as the winner of ``model_version``.

        Returns:
            ``(self, experiment)``.

        Raises:
            ConfigError: no metadata tracker.
            UnknownComponentError: this trainer's class (or its transformer's) is not registered,
                so ``load_model`` could not rebuild it; checked before anything is trained.

        Example:
            >>> trainer, experiment = trainer.build_model(data, model_version, winner=True)
            >>> tracker.load_model(None, model_version, None).predict(X_new)
        """
        tracker = self._tracker()
        ft = self.feature_transformer
        record = _winner.BuildRecord(
            trainer=registry.name_of(type(self)),
            trainer_config=self.config,
            params=self.params,
            transformer=registry.name_of(type(ft)) if ft is not None else None,
            transformer_config=ft.config if ft is not None else None,
        )
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{self.name}: build_model needs a split dict (X_train, y_train, ...)")
        self.fit(data)
        metrics = self.calculate_metrics(data)
        experiment = tracker.create_resource(record.trainer, type="experiment", parent=model_version)
        try:
            _winner.record_build(tracker, experiment, record, problem_type=self.problem_type, metrics=metrics)
            self.save(experiment)
        except BaseException:
            try:
                tracker.update_resource(experiment, {"status": "FAILED"})
            except LolpopError:
                self.logger.warning("could not mark experiment %s FAILED", experiment[0])
            raise
        tracker.clean_resource(experiment, type="experiment")
        if winner:
            self.declare_winner(model_version, experiment)
        return self, experiment

    def declare_winner(self, model_version: Any, experiment: Any) -> None:
        """Record ``experiment`` (built by :meth:`build_model`) as the winner of ``model_version``;
        ``load_model`` then rebuilds that experiment's trainer, transformer and model.

        Raises:
            InvalidInputError: ``experiment`` was not built by a model trainer, or belongs to
                another model version; nothing is written.

        Example:
            >>> best_trainer.declare_winner(model_version, best_experiment)
        """
        _winner.record_winner(self._tracker(), model_version, experiment)


def _takes_keywords(method: Callable[..., Any]) -> bool:
    import inspect

    params = inspect.signature(method).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
