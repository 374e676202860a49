"""The feature transformer interface."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

from lolpop.component.base import BaseComponent


class BaseFeatureTransformer(BaseComponent, ABC):
    """Fits on training features and transforms any frame the same way.

    A transformer's fitted state is saved to a local folder (:meth:`save`) and read back
    (:meth:`load`); a model trainer stores that folder as the ``feature_transformer`` artifact of
    its experiment, and ``load_model`` rebuilds the transformer from the registry name and
    config recorded on that same experiment.

    Example:
        >>> ft = SklearnFeatureTransformer(conf={"steps": [{"transformer": "StandardScaler"}]})
        >>> Xt = ft.fit_transform(X_train)
    """

    @property
    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has happened."""

    @abstractmethod
    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> BaseFeatureTransformer:
        """Fit on training features ``X`` (and target ``y``); return ``self``."""

    @abstractmethod
    def transform(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        """Return ``X`` transformed.

        Raises:
            ModelNotFittedError: called before :meth:`fit`.
        """

    def fit_transform(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Fit on ``X`` and return it transformed.

        Example:
            >>> Xt = ft.fit_transform(X_train, y_train)
        """
        return self.fit(X, y, *args, **kwargs).transform(X)

    @abstractmethod
    def save(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> str:
        """Write the fitted state to the new folder ``path``; return it.

        Raises:
            ModelNotFittedError: nothing was fitted.
        """

    @abstractmethod
    def load(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> BaseFeatureTransformer:
        """Read fitted state written by :meth:`save` from ``path``; return ``self``."""
