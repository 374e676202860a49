"""The component registry: names in, classes out; nothing is ever imported from a given path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from lolpop import registry
from lolpop.components import (
    BaseFeatureTransformer,
    BaseModelTrainer,
    GitResourceVersionControl,
    MLFlowMetadataTracker,
    SklearnFeatureTransformer,
    SklearnModelTrainer,
)
from lolpop.exceptions import InvalidInputError, UnknownComponentError


@pytest.fixture
def cleanup():
    names: list[str] = []
    yield names
    for name in names:
        registry.unregister(name)


class _Trainer(SklearnModelTrainer):
    pass


def test_builtins_are_registered_by_name():
    assert registry.get("SklearnModelTrainer") is SklearnModelTrainer
    assert registry.get("SklearnFeatureTransformer") is SklearnFeatureTransformer
    assert registry.get("GitResourceVersionControl") is GitResourceVersionControl
    assert registry.get("MLFlowMetadataTracker") is MLFlowMetadataTracker
    assert {"SklearnModelTrainer", "SklearnFeatureTransformer", "GitResourceVersionControl",
            "MLFlowMetadataTracker"} <= set(registry.known())
    assert registry.known(BaseModelTrainer) == ["SklearnModelTrainer"]


def test_unknown_name_error_lists_known_names():
    with pytest.raises(UnknownComponentError) as err:
        registry.get("XGBoostModelTrainer", kind=BaseModelTrainer)
    assert "XGBoostModelTrainer" in str(err.value)
    assert "SklearnModelTrainer" in str(err.value)
    assert isinstance(err.value, LookupError)


def test_wrong_kind_is_refused():
    with pytest.raises(UnknownComponentError, match="SklearnFeatureTransformer.*not a BaseModelTrainer"):
        registry.get("SklearnFeatureTransformer", kind=BaseModelTrainer)


@pytest.mark.parametrize("name", ["os.system", "os:system", "builtins.eval", "subprocess.Popen", "", None, 42])
def test_paths_and_non_names_are_never_resolved(name):
    with pytest.raises(UnknownComponentError, match="never imports"):
        registry.get(name)


def test_a_dotted_path_is_not_imported(tmp_path, monkeypatch):
    """A module on sys.path that would leave a marker when imported stays unimported."""
    marker = tmp_path / "imported"
    (tmp_path / "lolpop_probe_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nclass Evil: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ["lolpop_probe_mod.Evil", "lolpop_probe_mod:Evil", "lolpop_probe_mod"]:
        with pytest.raises(UnknownComponentError):
            registry.get(name, kind=BaseModelTrainer)
    assert not marker.exists()
    assert "lolpop_probe_mod" not in sys.modules


def test_register_as_call_and_decorator(cleanup):
    cleanup += ["_Trainer", "custom_name", "Decorated"]
    assert registry.register(_Trainer) is _Trainer
    assert registry.get("_Trainer", kind=BaseModelTrainer) is _Trainer
    assert registry.name_of(_Trainer) == "_Trainer"
    registry.register(_Trainer)  # idempotent

    @registry.register(name="custom_name")
    class Custom(SklearnModelTrainer):
        pass

    @registry.register
    class Decorated(BaseFeatureTransformer):
        pass

    assert registry.get("custom_name") is Custom
    assert registry.name_of(Custom) == "custom_name"
    assert registry.get("Decorated", kind=BaseFeatureTransformer) is Decorated
    assert "custom_name" in registry.known(BaseModelTrainer)
    registry.unregister("custom_name")
    with pytest.raises(UnknownComponentError):
        registry.get("custom_name")


def test_name_conflicts_need_replace(cleanup):
    cleanup.append("SklearnModelTrainer_alias")

    class Other(SklearnModelTrainer):
        pass

    with pytest.raises(InvalidInputError, match="already registered"):
        registry.register(Other, name="SklearnModelTrainer")
    assert registry.get("SklearnModelTrainer") is SklearnModelTrainer
    registry.register(SklearnModelTrainer, name="SklearnModelTrainer_alias")
    registry.register(Other, name="SklearnModelTrainer_alias", replace=True)
    assert registry.get("SklearnModelTrainer_alias") is Other


@pytest.mark.parametrize("bad", [object, len, "SklearnModelTrainer", int])
def test_only_component_classes_can_register(bad):
    with pytest.raises(InvalidInputError, match="BaseComponent"):
        registry.register(bad)


def test_register_refuses_dotted_names():
    with pytest.raises(InvalidInputError, match="identifier"):
        registry.register(_Trainer, name="pkg.Trainer")


def test_name_of_unregistered_class_is_a_clear_error():
    class NotRegistered(SklearnModelTrainer):
        pass

    with pytest.raises(UnknownComponentError, match="NotRegistered.*not registered"):
        registry.name_of(NotRegistered)


def _install_dist(root: Path, module: str, body: str, entry_points: dict[str, str]) -> None:
    """A minimal installed distribution on ``root`` declaring ``lolpop.components`` entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    dist = root / f"{module}_dist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}-dist\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[lolpop.components]\n{lines}\n")


def test_entry_point_registers_a_third_party_trainer(tmp_path, monkeypatch, cleanup):
    cleanup += ["ThirdPartyTrainer", "BrokenTrainer"]
    marker = tmp_path / "imported"
    _install_dist(tmp_path, "lolpop_thirdparty", f"""
        open({str(marker)!r}, "w").write("x")
        from lolpop.components import SklearnModelTrainer

        class ThirdPartyTrainer(SklearnModelTrainer):
            pass
        """, {"ThirdPartyTrainer": "lolpop_thirdparty:ThirdPartyTrainer",
              "BrokenTrainer": "lolpop_thirdparty:DoesNotExist"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "ThirdPartyTrainer" in registry.known()  # listed without being imported
    assert not marker.exists()
    cls = registry.get("ThirdPartyTrainer", kind=BaseModelTrainer)
    assert marker.exists()
    assert cls.__name__ == "ThirdPartyTrainer" and issubclass(cls, SklearnModelTrainer)
    assert registry.name_of(cls) == "ThirdPartyTrainer"
    with pytest.raises(UnknownComponentError, match="BrokenTrainer.*failed to load"):
        registry.get("BrokenTrainer")


def test_entry_point_cannot_shadow_a_builtin(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    _install_dist(tmp_path, "lolpop_shadow", f"open({str(marker)!r}, 'w').write('x')\n",
                  {"SklearnModelTrainer": "lolpop_shadow:Whatever"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.get("SklearnModelTrainer") is SklearnModelTrainer
    assert not marker.exists()
