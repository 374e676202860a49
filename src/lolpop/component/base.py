"""The base of every lolpop component: configuration in, validated early, never mutated."""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lolpop.exceptions import ConfigError

logger = logging.getLogger("lolpop")

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

ConfLike = Mapping[str, Any] | str | os.PathLike[str] | None


def _expand_env(value: Any, where: str) -> Any:
    """Expand ``${VAR}`` in every string inside ``value`` (returns a new object)."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")
            return os.environ[name]

        return _ENV_VAR.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: _expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_conf(conf: ConfLike, owner: str = "component") -> dict[str, Any]:
    """Read ``conf`` (dict, ``{"config": {...}}`` or a YAML file path) into a flat config dict.

    Args:
        conf: the configuration, or a path to a YAML file holding it.
        owner: the class name used in error messages.

    Returns:
        A new dict (the caller's object is never modified) with ``${VAR}`` expanded.

    Raises:
        ConfigError: the file cannot be read, or the content is not a mapping.
    """
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
    # lolpop's layout nests component settings under "config"; the flat form is accepted too.
    if "config" in raw and isinstance(raw["config"], Mapping):
        flat = dict(raw["config"])
    else:
        flat = dict(raw)
    return _expand_env(copy.deepcopy(flat), owner)


class BaseComponent:
    """A lolpop component: holds its configuration and a logger.

    Subclasses list required keys in ``__REQUIRED_CONF__`` and defaults in ``__DEFAULT_CONF__``
    (both flat). Missing required keys raise :class:`~lolpop.exceptions.ConfigError` at
    construction, naming the key and the class.

    Example:
        >>> class Hello(BaseComponent):
        ...     __REQUIRED_CONF__ = ["greeting"]
        >>> Hello(conf={"config": {"greeting": "hi"}})._get_config("greeting")
        'hi'
    """

    __REQUIRED_CONF__: ClassVar[list[str]] = []
    __DEFAULT_CONF__: ClassVar[dict[str, Any]] = {}

    def __init__(self, conf: ConfLike = None, **kwargs: Any) -> None:
        name = type(self).__name__
        config = copy.deepcopy(dict(self.__DEFAULT_CONF__))
        config.update(load_conf(conf, name))
        missing = [k for k in self.__REQUIRED_CONF__ if config.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{name}: missing required config key(s): {', '.join(missing)}")
        self.config: dict[str, Any] = config
        self.name = name
        self.logger = logging.getLogger(f"lolpop.{name}")
        # Framework wiring (parent pipeline, sibling components) is optional; kept for callers.
        self.parent = kwargs.get("parent")
        self.dependent_integrations = kwargs.get("dependent_integrations") or {}

    def _get_config(self, key: str, default: Any = None) -> Any:
        """Return config value ``key`` or ``default`` when it is not set."""
        return self.config.get(key, default)
