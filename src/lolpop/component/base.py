"""The base of every lolpop component: configuration in, validated early, never mutated."""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lolpop.exceptions import ConfigError

logger = logging.getLogger("lolpop")

# ``${VAR}`` is replaced by the variable; ``$${VAR}`` is the literal text ``${VAR}``.
_ENV_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: The most values (strings, numbers, lists, mappings...) a configuration may hold once YAML
#: aliases are resolved: far above any real configuration, far below an "alias bomb".
MAX_CONFIG_VALUES = 100_000

ConfLike = Mapping[str, Any] | str | os.PathLike[str] | None


class LiteralConf(dict):  # type: ignore[type-arg]
    """Configuration taken as it is: ``${VAR}`` in it is *not* expanded from the environment.

    lolpop wraps configuration read back from a tracking store in it (``load_model``), because
    the store is shared data, not the reader's own configuration: ``{"note": "${AWS_SECRET}"}``
    stored by someone else must not become the reader's secret.

    Example:
        >>> Component(conf=LiteralConf({"note": "${HOME}"})).config["note"]
        '${HOME}'
    """


def _expand_env(value: Any, where: str) -> Any:
    """Expand ``${VAR}`` (and unescape ``$${VAR}``) in every string inside ``value`` (a new object)."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return f"${{{name}}}"
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable ${{{name}}} is not set "
                                  f"(write $${{{name}}} for the literal text ${{{name}}})")
            return os.environ[name]

        return _ENV_VAR.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: _expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _check_size(value: Any, owner: str) -> None:
    """Refuse a configuration holding more than :data:`MAX_CONFIG_VALUES` values once shared
    parts (YAML aliases) are counted at every place they appear, or a cycle.

    Each distinct list or mapping is counted once and its size remembered, so this takes time in
    the size of the file, not of what its aliases would expand to.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ConfigError(f"{owner}: configuration contains itself (a recursive YAML alias)")
        open_.add(key)
        total = 1 + sum(size(child) for child in children)
        open_.discard(key)
        if total > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{owner}: configuration holds more than {MAX_CONFIG_VALUES} values once its YAML "
                "aliases are resolved; refusing it"
            )
        sizes[key] = total
        return total

    try:
        size(value)
    except RecursionError as exc:
        raise ConfigError(f"{owner}: configuration is nested too deeply") from exc


def load_conf(conf: ConfLike, owner: str = "component") -> dict[str, Any]:
    """Read ``conf`` (dict, ``{"config": {...}}`` or a YAML file path) into a flat config dict.

    ``${VAR}`` in a string value is replaced by the environment variable ``VAR`` (unset: a
    :class:`~lolpop.exceptions.ConfigError`). For the literal text ``${VAR}`` write ``$${VAR}``.
    Expansion applies to the user's own files and dicts only: a :class:`LiteralConf` (what lolpop
    reads back from a tracking store) is taken as it is.

    Args:
        conf: the configuration, or a path to a YAML file holding it.
        owner: the class name used in error messages.

    Returns:
        A new dict (the caller's object is never modified).

    Raises:
        ConfigError: the file cannot be read, the content is not a mapping, a variable is not
            set, or the content is absurdly large once YAML aliases are resolved (an "alias bomb").

    Example:
        >>> load_conf({"config": {"path": "${HOME}/data", "price": "$${PRICE}"}})
        {'path': '/home/me/data', 'price': '${PRICE}'}
    """
    expand = not isinstance(conf, LiteralConf)
    if conf is None:
        raw: Any = {}
    elif isinstance(conf, (str, os.PathLike)):
        path = Path(conf)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"{owner}: cannot read config file {str(path)!r}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{owner}: config file {str(path)!r} is not valid YAML: {exc}") from exc
        except RecursionError as exc:
            raise ConfigError(f"{owner}: config file {str(path)!r} is nested too deeply") from exc
        if raw is None:
            raw = {}
    elif isinstance(conf, Mapping):
        raw = conf
    else:
        raise ConfigError(
            f"{owner}: conf must be a dict or a path to a YAML file, not {type(conf).__name__}"
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{owner}: configuration must be a mapping, got {type(raw).__name__}")
    _check_size(raw, owner)
    # lolpop's layout nests component settings under "config"; the flat form is accepted too.
    if "config" in raw and isinstance(raw["config"], Mapping):
        flat = dict(raw["config"])
    else:
        flat = dict(raw)
    flat = copy.deepcopy(flat)
    return _expand_env(flat, owner) if expand else flat


def _warn(message: str) -> None:
    """Warn, attributed to the first caller outside lolpop (the user's line that built the component)."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("lolpop."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


class BaseComponent:
    """A lolpop component: holds its configuration and a logger.

    Subclasses list required keys in ``__REQUIRED_CONF__``, defaults in ``__DEFAULT_CONF__`` and
    the other keys they read in ``__OPTIONAL_CONF__`` (all flat; each class adds to those of its
    bases). Missing required keys raise :class:`~lolpop.exceptions.ConfigError` at construction,
    naming the key and the class; a key none of them declares gets a warning naming the closest
    known key (``mlflow_tracking_url`` -> ``mlflow_tracking_uri``).

    Example:
        >>> class Hello(BaseComponent):
        ...     __REQUIRED_CONF__ = ["greeting"]
        >>> Hello(conf={"config": {"greeting": "hi"}})._get_config("greeting")
        'hi'
    """

    __REQUIRED_CONF__: ClassVar[list[str]] = []
    __DEFAULT_CONF__: ClassVar[dict[str, Any]] = {}
    __OPTIONAL_CONF__: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def known_config_keys(cls) -> frozenset[str]:
        """Every config key this class or a base declares (required, defaults, optional).

        Example:
            >>> "mlflow_tracking_uri" in MLFlowMetadataTracker.known_config_keys()
            True
        """
        keys: set[str] = set()
        for klass in cls.__mro__:
            keys.update(vars(klass).get("__REQUIRED_CONF__", ()))
            keys.update(vars(klass).get("__DEFAULT_CONF__", {}))
            keys.update(vars(klass).get("__OPTIONAL_CONF__", ()))
        return frozenset(keys)

    def __init__(self, conf: ConfLike = None, **kwargs: Any) -> None:
        name = type(self).__name__
        config = copy.deepcopy(dict(self.__DEFAULT_CONF__))
        config.update(load_conf(conf, name))
        known = self.known_config_keys()
        unknown = sorted(str(k) for k in config if k not in known)
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
            _warn(f"{name}: unknown config key {key!r} is not used; {hint}")
        missing = [k for k in self.__REQUIRED_CONF__ if config.get(k) in (None, "")]
        if missing:
            typos = {k: difflib.get_close_matches(k, unknown, n=1) for k in missing}
            raise ConfigError(f"{name}: missing required config key(s): " + ", ".join(
                f"{k} (the config has {typos[k][0]!r})" if typos[k] else k for k in missing), key=missing[0])
        self.config: dict[str, Any] = config
        self.name = name
        self.logger = logging.getLogger(f"lolpop.{name}")
        # Framework wiring (parent pipeline, sibling components) is optional; kept for callers.
        self.parent = kwargs.get("parent")
        self.dependent_integrations = kwargs.get("dependent_integrations") or {}

    def _get_config(self, key: str, default: Any = None) -> Any:
        """Return config value ``key`` or ``default`` when it is not set."""
        return self.config.get(key, default)
