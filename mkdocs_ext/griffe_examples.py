"""Griffe extensions for the API reference (mkdocs.yml). ``ExampleSections``: lolpop's docstrings head their doctest
examples ``Example:``, which griffe's Google parser does not know (it knows ``Examples:``) and
renders as prose, so ``>>> [...]`` lines would become Markdown links and fail the strict build;
and Sphinx roles, which Markdown would show raw. ``InheritedDocstrings``: see below."""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.M)
# Sphinx roles (:class:`~lolpop.x.Y`) in the docstrings: Markdown shows them as raw text, so they
# become code spans of the name (the last part, as Sphinx shows a ~ target).
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _role(m: re.Match[str]) -> str:
    name = m.group(2)
    return f"`{name.rsplit('.', 1)[-1] if m.group(1) else name}`"


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_role, _EXAMPLE.sub(r"\1Examples:", obj.docstring.value))


class InheritedDocstrings(griffe.Extension):
    """A method that overrides a documented one without a docstring of its own (the tracker's
    ``get_tag``, ``get_metadata``, …) shows the base class's: the contract it implements."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        for member in list(obj.members.values()):
            if member.is_alias:
                continue
            if member.is_class:
                self._inherit(member)
            if member.is_module or member.is_class:
                self._walk(member)

    @staticmethod
    def _inherit(cls: griffe.Class) -> None:
        try:
            bases = cls.mro()
        except Exception:  # a base griffe cannot resolve (an MLflow or stdlib class): nothing to inherit
            return
        for name, member in cls.members.items():
            if member.is_alias or member.docstring is not None or not member.is_function:
                continue
            for base in bases:
                inherited = base.members.get(name)
                if inherited is not None and not inherited.is_alias and inherited.docstring is not None:
                    member.docstring = griffe.Docstring(inherited.docstring.value, parent=member)
                    break
