"""The component registry: the only way lolpop turns a *name* into a component class.

A tracking store records which model trainer and feature transformer built a model version
(``winning_experiment_model_trainer = "SklearnModelTrainer"``). When
:meth:`~lolpop.components.MLFlowMetadataTracker.load_model` rebuilds that trainer, it looks the
name up here. Nothing read from a store is ever imported as a module path: a name that is not
registered — ``"os.system"``, ``"pickle.loads"`` or a plain typo — raises
:class:`~lolpop.exceptions.UnknownComponentError` listing the names that are known.

Where names come from, in lookup order:

1. **Built-ins**: lolpop's own components (a fixed list of lolpop modules, imported on first use).
2. **Explicit registration**: :func:`register`, as a call or a class decorator.
3. **Entry points**: installed distributions that declare the group ``lolpop.components``; an
   entry point is loaded only when its exact name is asked for and nothing else has that name.

Example:
    >>> from lolpop import registry
    >>> from lolpop.components import BaseModelTrainer
    >>> @registry.register
    ... class MyTrainer(BaseModelTrainer):
    ...     ...
    >>> registry.get("MyTrainer", kind=BaseModelTrainer) is MyTrainer
    True

A third-party package registers its trainer without any import on the user's side::

    # pyproject.toml of the third-party package
    [project.entry-points."lolpop.components"]
    MyTrainer = "my_package.trainers:MyTrainer"
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any, TypeVar, overload

from lolpop.exceptions import InvalidInputError, UnknownComponentError

__all__ = ["ENTRY_POINT_GROUP", "get", "known", "name_of", "register", "unregister"]

ENTRY_POINT_GROUP = "lolpop.components"

# lolpop's own components: module paths fixed here, in lolpop's source, never read from a store.
_BUILTIN_MODULES = (
    "lolpop.component.metadata_tracker.mlflow_metadata_tracker",
    "lolpop.component.model_trainer.sklearn_model_trainer",
    "lolpop.component.feature_transformer.sklearn_feature_transformer",
    "lolpop.component.resource_version_control.git_resource_version_control",
)
_BUILTIN_CLASSES = {
    "MLFlowMetadataTracker": "lolpop.component.metadata_tracker.mlflow_metadata_tracker",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_lock = threading.RLock()
_classes: dict[str, type] = {}
_builtins_loaded = False

logger = logging.getLogger("lolpop.registry")

C = TypeVar("C", bound=type)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"component name must be an identifier (letters, digits, '_'), got {name!r:.100}"
        )
    return name


def _base_component() -> type:
    from lolpop.component.base import BaseComponent

    return BaseComponent


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if _builtins_loaded:
            return
        # The modules register their classes (``@register``) while being imported.
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        for cls_name, module in _BUILTIN_CLASSES.items():
            if cls_name not in _classes:
                _classes[cls_name] = getattr(importlib.import_module(module), cls_name)
        _builtins_loaded = True


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


@overload
def register(cls: C, *, name: str | None = None, replace: bool = False) -> C: ...
@overload
def register(cls: None = None, *, name: str | None = None, replace: bool = False) -> Callable[[C], C]: ...


def register(cls: Any = None, *, name: str | None = None, replace: bool = False) -> Any:
    """Register a component class under ``name`` (default: the class's ``__name__``).

    Works as a call (``register(MyTrainer)``) and as a decorator (``@register`` or
    ``@register(name="my_trainer")``). Registering the same class twice is a no-op.

    Args:
        cls: a subclass of :class:`~lolpop.component.base.BaseComponent`.
        name: the registry name; an identifier (no dots).
        replace: allow ``name`` to point to a different class than before.

    Returns:
        ``cls`` unchanged (so it can be used as a decorator).

    Raises:
        InvalidInputError: ``cls`` is not a component class, ``name`` is not an identifier, or
            ``name`` is taken by another class and ``replace`` is false.

    Example:
        >>> @register
        ... class MyTrainer(BaseModelTrainer):
        ...     ...
    """
    if cls is None:
        return lambda c: register(c, name=name, replace=replace)
    if not isinstance(cls, type) or not issubclass(cls, _base_component()):
        raise InvalidInputError(
            f"only subclasses of lolpop's BaseComponent can be registered, got {cls!r:.100}"
        )
    key = _check_name(name if name is not None else cls.__name__)
    with _lock:
        current = _classes.get(key)
        if current is not None and current is not cls and not replace:
            raise InvalidInputError(
                f"component name {key!r} is already registered to "
                f"{current.__module__}.{current.__qualname__}; pass replace=True to change it"
            )
        _classes[key] = cls
    return cls


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error when it is not there).

    Example:
        >>> unregister("MyTrainer")
    """
    with _lock:
        _classes.pop(name, None)


def known(kind: type | None = None) -> list[str]:
    """Return the sorted names :func:`get` can resolve (optionally only subclasses of ``kind``).

    Entry points are listed by name without being loaded, so with ``kind`` they are included
    only once something has loaded them.

    Example:
        >>> "SklearnModelTrainer" in known()
        True
    """
    _load_builtins()
    with _lock:
        names = {n for n, c in _classes.items() if kind is None or issubclass(c, kind)}
    if kind is None:
        names.update(_entry_points())
    return sorted(names)


def get(name: Any, kind: type | None = None) -> type:
    """Return the component class registered as ``name``.

    Args:
        name: a registry name such as ``"SklearnModelTrainer"``.
        kind: when given, the class must be a subclass of it (e.g. ``BaseModelTrainer``).

    Returns:
        The class.

    Raises:
        UnknownComponentError: ``name`` is not registered (a dotted path like ``"os.system"`` is
            never imported), or is registered but not a ``kind``. The message lists known names.

    Example:
        >>> get("SklearnModelTrainer")
        <class 'lolpop.component.model_trainer.sklearn_model_trainer.SklearnModelTrainer'>
    """
    what = kind.__name__ if kind is not None else "component"
    if not isinstance(name, str) or not _NAME.match(name):
        raise UnknownComponentError(
            f"{name!r:.200} is not a registered lolpop {what} name (lolpop never imports a "
            f"class path read from a store); known: {', '.join(known(kind)) or 'none'}"
        )
    _load_builtins()
    with _lock:
        cls = _classes.get(name)
    if cls is None:
        ep = _entry_points().get(name)
        if ep is not None:
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken third-party package: say which one
                raise UnknownComponentError(
                    f"entry point {name!r} in group {ENTRY_POINT_GROUP!r} ({ep.value}) failed to load: {exc}"
                ) from exc
            cls = register(loaded, name=name)
    if cls is None:
        raise UnknownComponentError(
            f"no lolpop {what} is registered as {name!r}; known: {', '.join(known(kind)) or 'none'}. "
            f"Register it with lolpop.registry.register or the {ENTRY_POINT_GROUP!r} entry-point group"
        )
    if kind is not None and not issubclass(cls, kind):
        raise UnknownComponentError(
            f"{name!r} is a {cls.__name__}, not a {what}; known {what}s: {', '.join(known(kind)) or 'none'}"
        )
    return cls


def name_of(cls: type) -> str:
    """Return the name under which ``cls`` is registered (its ``__name__`` preferred).

    Raises:
        UnknownComponentError: ``cls`` is not registered, so a store could not name it.

    Example:
        >>> name_of(SklearnModelTrainer)
        'SklearnModelTrainer'
    """
    _load_builtins()
    with _lock:
        if _classes.get(cls.__name__) is cls:
            return cls.__name__
        for key, value in _classes.items():
            if value is cls:
                return key
    # A class declared as an entry point but imported directly: match by its declared path.
    for ep_name, ep in _entry_points().items():
        if ep.module == cls.__module__ and ep.attr == cls.__qualname__:
            register(cls, name=ep_name)
            return ep_name
    raise UnknownComponentError(
        f"{cls.__module__}.{cls.__qualname__} is not registered; register it with "
        f"lolpop.registry.register (or the {ENTRY_POINT_GROUP!r} entry point) so that load_model can rebuild it"
    )
