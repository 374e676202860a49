"""lolpop components: a base class and one sub-package per component kind."""

from lolpop.component.base import BaseComponent

__all__ = ["BaseComponent"]
