"""A scikit-learn ``ColumnTransformer`` / ``Pipeline`` described by plain configuration."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from lolpop.component._sklearn_io import check_params, load_sklearn, save_sklearn, sklearn_class
from lolpop.component.base import ConfLike
from lolpop.component.feature_transformer.base_feature_transformer import BaseFeatureTransformer
from lolpop.exceptions import ConfigError, InvalidInputError, ModelNotFittedError
from lolpop.registry import register

_SPECIAL = ("passthrough", "drop")


@register
class SklearnFeatureTransformer(BaseFeatureTransformer):
    """Feature transformer built from scikit-learn transformers named in configuration.

    Configuration (plain data; class names come from an allow-list of scikit-learn's own
    transformers, nothing is imported by path). Exactly one of:

    * ``steps``: a list of ``{"transformer": <name>, "params": {...}}`` applied in order to all
      columns (a ``Pipeline``).
    * ``transformers``: a list of ``{"name": str, "columns": [...], "transformer": <name> or
      "passthrough"/"drop", "params": {...}}`` — or ``"steps": [...]`` instead of
      ``"transformer"`` — combined in a ``ColumnTransformer``. Optional ``remainder``
      (``"passthrough"`` by default, or ``"drop"``) and ``sparse_threshold`` (default ``0``:
      dense output).

    Attributes:
        transformer: the scikit-learn object (unfitted until :meth:`fit` or :meth:`load`).

    Example:
        >>> ft = SklearnFeatureTransformer(conf={"transformers": [
        ...     {"name": "num", "columns": ["age", "fare"], "steps": [
        ...         {"transformer": "SimpleImputer", "params": {"strategy": "median"}},
        ...         {"transformer": "StandardScaler"}]},
        ...     {"name": "cat", "columns": ["sex"], "transformer": "OneHotEncoder",
        ...      "params": {"handle_unknown": "ignore"}}]})
        >>> Xt = ft.fit_transform(X_train)
    """

    __DEFAULT_CONF__ = {"remainder": "passthrough", "sparse_threshold": 0.0}
    __OPTIONAL_CONF__ = ("steps", "transformers")

    def __init__(self, conf: ConfLike = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(conf, **kwargs)
        try:
            self.transformer = self._build(self.config)
        except InvalidInputError as exc:
            raise ConfigError(str(exc)) from exc
        self._fitted = False

    # -- building from config -------------------------------------------------------------
    def _step(self, spec: Any, where: str) -> Any:
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{self.name}: {where} must be a mapping, got {spec!r:.100}")
        unknown = set(spec) - {"transformer", "params"}
        if unknown:
            raise ConfigError(f"{self.name}: {where} has unknown key(s) {sorted(unknown)}")
        cls = sklearn_class(spec.get("transformer"), "transformer", f"{self.name} {where}")
        params = check_params(cls, copy.deepcopy(spec.get("params") or {}), f"{self.name} {where}")
        return cls(**params)

    def _steps(self, steps: Any, where: str) -> Any:
        from sklearn.pipeline import Pipeline

        if not isinstance(steps, list) or not steps:
            raise ConfigError(f"{self.name}: {where} must be a non-empty list of steps")
        made = [self._step(s, f"{where}[{i}]") for i, s in enumerate(steps)]
        return Pipeline([(f"{i}_{type(m).__name__.lower()}", m) for i, m in enumerate(made)])

    def _build(self, config: dict[str, Any]) -> Any:
        from sklearn.compose import ColumnTransformer

        has_steps, has_cols = "steps" in config, "transformers" in config
        if has_steps == has_cols:
            raise ConfigError(f"{self.name}: give exactly one of 'steps' or 'transformers' in the config")
        if has_steps:
            return self._steps(config["steps"], "steps")
        specs = config["transformers"]
        if not isinstance(specs, list) or not specs:
            raise ConfigError(f"{self.name}: 'transformers' must be a non-empty list")
        parts, names = [], set()
        for i, spec in enumerate(specs):
            where = f"transformers[{i}]"
            if not isinstance(spec, Mapping):
                raise ConfigError(f"{self.name}: {where} must be a mapping, got {spec!r:.100}")
            unknown = set(spec) - {"name", "columns", "transformer", "params", "steps"}
            if unknown:
                raise ConfigError(f"{self.name}: {where} has unknown key(s) {sorted(unknown)}")
            name = spec.get("name", f"t{i}")
            if not isinstance(name, str) or not name or "__" in name or name in names:
                raise ConfigError(f"{self.name}: {where} needs a unique 'name' without '__', got {name!r}")
            names.add(name)
            columns = spec.get("columns")
            if (not isinstance(columns, list) or not columns
                    or not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in columns)):
                raise ConfigError(f"{self.name}: {where}.columns must be a non-empty list of names or positions")
            if "steps" in spec:
                if "transformer" in spec:
                    raise ConfigError(f"{self.name}: {where} has both 'steps' and 'transformer'")
                est: Any = self._steps(spec["steps"], f"{where}.steps")
            elif spec.get("transformer") in _SPECIAL:
                est = spec["transformer"]
            else:
                est = self._step({k: spec[k] for k in ("transformer", "params") if k in spec}, where)
            parts.append((name, est, list(columns)))
        remainder = config.get("remainder")
        if remainder not in _SPECIAL:
            raise ConfigError(f"{self.name}: remainder must be 'passthrough' or 'drop', got {remainder!r}")
        threshold = config.get("sparse_threshold")
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
            raise ConfigError(f"{self.name}: sparse_threshold must be a number in [0, 1], got {threshold!r}")
        return ColumnTransformer(parts, remainder=remainder, sparse_threshold=threshold)

    # -- fitting --------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether the transformer has been fitted or loaded."""
        return self._fitted

    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> SklearnFeatureTransformer:
        """Fit the scikit-learn transformer on ``X``; return ``self``.

        Example:
            >>> ft.fit(X_train)
        """
        self.transformer.fit(X, y)
        self._fitted = True
        return self

    def transform(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        """Return ``X`` transformed (a numpy array).

        Raises:
            ModelNotFittedError: called before :meth:`fit` / :meth:`load`.

        Example:
            >>> Xt = ft.transform(X_test)
        """
        if not self._fitted:
            raise ModelNotFittedError(f"{self.name}: call fit() (or load()) before transform()")
        return self.transformer.transform(X)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> str:
        """Write the fitted transformer to the new folder ``path`` (MLflow sklearn flavor).

        Keywords ``signature`` and ``input_example`` (the raw input the transformer takes) are
        stored with it (:func:`lolpop.component._sklearn_io.signature_for`).

        Raises:
            ModelNotFittedError: nothing was fitted.

        Example:
            >>> ft.save("/tmp/ft")
        """
        if not self._fitted:
            raise ModelNotFittedError(f"{self.name}: nothing to save, call fit() first")
        return save_sklearn(self.transformer, path, signature=kwargs.get("signature"),
                            input_example=kwargs.get("input_example"))

    def load(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> SklearnFeatureTransformer:
        """Read a fitted transformer written by :meth:`save`; return ``self``.

        Raises:
            InvalidInputError: ``path`` does not hold a lolpop-saved scikit-learn transformer.

        Example:
            >>> ft = SklearnFeatureTransformer(conf=cfg).load("/tmp/ft")
        """
        obj = load_sklearn(path)
        if not hasattr(obj, "transform"):
            raise InvalidInputError(f"{self.name}: {str(path)!r} holds a {type(obj).__name__}, not a transformer")
        self.transformer = obj
        self._fitted = True
        return self
