"""Interactive figures with their static fallback (labsupport.widgets)."""

import matplotlib
import pytest

from labsupport import Choice, Slider, interactive_plot
from labsupport.widgets import widgets_mode

matplotlib.use("Agg")


def test_static_mode_draws_once_at_the_defaults(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "static")
    seen = []
    assert (
        interactive_plot(
            lambda width, kind: seen.append((width, kind)),
            width=Slider(1, 9, 1, 4),
            kind=Choice(["a", "b"], "b"),
        )
        is None
    )
    assert seen == [(4, "b")]


def test_live_mode_builds_int_and_float_sliders(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "live")
    seen = []
    ui = interactive_plot(
        lambda w, lr, kind: seen.append((w, lr, kind)),
        w=Slider(1, 9, 1, 4),
        lr=Slider(0.1, 1.0, 0.1, 0.5),
        kind=Choice(["a", "b"], "a"),
    )
    kinds = [type(child).__name__ for child in ui.children[:3]]
    assert kinds == ["IntSlider", "FloatSlider", "Dropdown"]
    assert seen[-1] == (4, 0.5, "a")


def test_widget_bad_inputs(monkeypatch):
    with pytest.raises(ValueError, match="low <= value <= high"):
        Slider(0, 1, 0.1, 2)
    with pytest.raises(ValueError, match="not one of the options"):
        Choice(["a"], "b")
    with pytest.raises(TypeError, match="must be a Slider or a Choice"):
        interactive_plot(lambda x: None, x=3)
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "sometimes")
    with pytest.raises(ValueError, match="must be 'live' or 'static'"):
        widgets_mode()
