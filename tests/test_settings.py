"""labsupport.settings: each lab's profiles, shown as a table of name, value and meaning."""

import importlib
import pkgutil
from dataclasses import FrozenInstanceError, dataclass, replace

import pytest

import labsupport.settings as package
from labsupport.settings import LabSettings, setting

MODULES = [
    importlib.import_module(f"labsupport.settings.{m.name}") for m in pkgutil.iter_modules(package.__path__)
]
CLASSES = [
    value
    for module in MODULES
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, LabSettings) and value is not LabSettings
]


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_every_lab_settings_has_three_profiles_that_differ_from_cpu_only_where_written(cls):
    profiles = cls.profiles()
    assert set(profiles) == {"smoke", "cpu", "gpu"}
    assert all(isinstance(p, cls) for p in profiles.values())
    assert profiles["smoke"] != profiles["cpu"], "smoke must be smaller than cpu"
    assert all(cls.meanings().values()), "every setting says what it means"
    with pytest.raises(FrozenInstanceError):
        profiles["cpu"].__setattr__(next(iter(cls.meanings())), 0)


@dataclass(frozen=True)
class Toy(LabSettings):
    steps: setting(int, "training steps")
    width: setting(int, "hidden units")

    @classmethod
    def profiles(cls):
        cpu = cls(steps=100, width=64)
        return {"smoke": replace(cpu, steps=5), "cpu": cpu, "gpu": replace(cpu, width=512)}


def test_the_table_names_the_profile_and_marks_what_replace_changed(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_PROFILE", "cpu")
    cfg = Toy.for_profile()
    assert "the 'cpu' profile" in str(cfg) and "*" not in str(cfg).splitlines()[1]
    changed = replace(cfg, width=8)
    lines = str(changed).splitlines()
    assert "changed with replace" in lines[0] and lines[2].startswith("*width")
    html = Toy.for_profile("gpu")._repr_html_()
    assert "<code>gpu</code>" in html and "hidden units" in html and "512" in html


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError):
        Toy.for_profile("tpu")


def test_a_setting_without_meaning_is_refused():
    with pytest.raises(TypeError):
        setting(int, "")
