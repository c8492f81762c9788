"""Interactive figures with their static fallback (labsupport.widgets)."""

import functools

import matplotlib
import pytest

from labsupport import Choice, Slider, TextBox, interactive_plot
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
        lambda w, lr, kind, prompt: seen.append((w, lr, kind, prompt)),
        w=Slider(1, 9, 1, 4),
        lr=Slider(0.1, 1.0, 0.1, 0.5),
        kind=Choice(["a", "b"], "a"),
        prompt=TextBox("def f("),
    )
    kinds = [type(child).__name__ for child in ui.children[:4]]
    assert kinds == ["IntSlider", "FloatSlider", "Dropdown", "Text"]
    assert seen[-1] == (4, 0.5, "a", "def f(")
    ui.children[3].value = "import "  # what a learner types, then Enter
    assert seen[-1] == (4, 0.5, "a", "import ")


def test_widget_bad_inputs(monkeypatch):
    with pytest.raises(ValueError, match="low <= value <= high"):
        Slider(0, 1, 0.1, 2)
    with pytest.raises(ValueError, match="not one of the options"):
        Choice(["a"], "b")
    with pytest.raises(TypeError, match="value must be a string"):
        TextBox(3)
    with pytest.raises(TypeError, match="must be a Slider, a Choice or a TextBox"):
        interactive_plot(lambda x: None, x=3)
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "sometimes")
    with pytest.raises(ValueError, match="must be 'live' or 'static'"):
        widgets_mode()


class _Plotter:
    """A bound method as the plot: labs pass those too."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def draw(self, width: int, *, scale: float = 1.0) -> None:
        self.seen.append((width, scale))


def _callables():
    """Every kind of callable a lab passes: a function, a partial, a lambda, a bound method."""
    seen: list[tuple] = []

    def function(width, scale=1.0):
        seen.append((width, scale))

    plotter = _Plotter()
    return [
        ("function", function, seen),
        ("partial", functools.partial(function, scale=2.0), seen),
        ("lambda", lambda width: seen.append((width, 1.0)), seen),
        ("bound method", plotter.draw, plotter.seen),
        ("partial of a bound method", functools.partial(plotter.draw, scale=3.0), plotter.seen),
    ]


@pytest.mark.parametrize("kind", [name for name, _, _ in _callables()])
def test_live_mode_takes_any_callable_and_redraws_on_change(monkeypatch, kind):
    """Lab 3 passes a functools.partial, which ipywidgets' interactive() rejected."""
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "live")
    _, plot, seen = next(c for c in _callables() if c[0] == kind)
    ui = interactive_plot(plot, width=Slider(1, 9, 1, 4))
    assert [w for w, _ in seen] == [4], "drawn once, at the default"
    ui.children[0].value = 7
    assert [w for w, _ in seen] == [4, 7], "a moved slider redraws with its value"


def test_live_mode_raises_what_the_first_drawing_raises(monkeypatch):
    """A broken figure fails its cell, as in static mode, instead of a traceback hidden in a widget."""
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "live")

    def broken(width):
        raise ZeroDivisionError(f"width {width}")

    with pytest.raises(ZeroDivisionError, match="width 4"):
        interactive_plot(broken, width=Slider(1, 9, 1, 4))


def test_live_mode_draws_a_real_matplotlib_figure(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_WIDGETS", "live")
    import matplotlib.pyplot as plt

    figures = []

    def plot(n):
        fig, ax = plt.subplots()
        ax.plot(range(n))
        figures.append(fig)
        plt.show()

    ui = interactive_plot(plot, n=Slider(2, 5, 1, 3))
    assert type(ui).__name__ == "VBox" and type(ui.children[-1]).__name__ == "Output"
    assert len(figures) == 1 and len(figures[0].axes[0].lines[0].get_xdata()) == 3
    plt.close("all")
