"""Interactive figures that degrade to a static figure on the website and in tests.

In a live notebook (Jupyter, Colab) :func:`interactive_plot` shows sliders that redraw the
figure. A published page has no kernel behind it, so the book build sets
``LABSUPPORT_WIDGETS=static``: the figure is drawn once, at the default values, and the page
shows that. The tests run the labs live, as learners do. Works with ipywidgets 7.7 (Colab)
and 8.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WIDGETS_ENV = "LABSUPPORT_WIDGETS"


@dataclass(frozen=True)
class Slider:
    """A numeric control: integers if all of ``low``, ``high``, ``step``, ``value`` are ints."""

    low: float
    high: float
    step: float
    value: float

    def __post_init__(self) -> None:
        if not self.low <= self.value <= self.high or self.step <= 0:
            raise ValueError(f"need low <= value <= high and step > 0, got {self}")


@dataclass(frozen=True)
class Choice:
    """A control that picks one of ``options``."""

    options: Sequence[Any]
    value: Any

    def __post_init__(self) -> None:
        if self.value not in self.options:
            raise ValueError(f"value {self.value!r} is not one of the options {list(self.options)!r}")


@dataclass(frozen=True)
class TextBox:
    """A one-line text box (e.g. a prompt for the code model); the figure redraws on Enter."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise TypeError(f"a TextBox's value must be a string, got {type(self.value).__name__}")


Control = Slider | Choice | TextBox


def widgets_mode() -> str:
    """``"static"`` when ``$LABSUPPORT_WIDGETS`` says so or ipywidgets is missing, else ``"live"``."""
    value = os.environ.get(WIDGETS_ENV, "").strip() or "live"
    if value not in ("live", "static"):
        raise ValueError(f"{WIDGETS_ENV} must be 'live' or 'static', got {value!r}")
    if value == "live":
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return "static"
    return value


def _to_widget(name: str, control: Control) -> Any:
    import ipywidgets as w

    if isinstance(control, Choice):
        return w.Dropdown(options=list(control.options), value=control.value, description=name)
    if isinstance(control, TextBox):
        return w.Text(value=control.value, description=name, continuous_update=False)
    values = (control.low, control.high, control.step, control.value)
    cls = w.IntSlider if all(isinstance(v, int) for v in values) else w.FloatSlider
    return cls(min=control.low, max=control.high, step=control.step, value=control.value, description=name)


def interactive_plot(plot: Callable[..., Any], **controls: Control) -> Any:
    """Show ``plot(**values)`` with a control per keyword argument (every lab's figures with sliders).

    ``plot`` is any callable (a function, a ``functools.partial``, a lambda, a bound method)
    that draws a matplotlib figure (or prints: Lab 4's completion demo prints text). Live (Jupyter, Colab): displays the controls above the
    figure, redraws it whenever a control changes, and returns the ipywidgets ``VBox``.
    Static (the website, ``LABSUPPORT_WIDGETS=static``): draws once at the defaults and
    returns ``None``.

    Either way the first drawing happens at once, and an exception in it propagates, so a
    broken figure fails the cell instead of hiding a traceback inside the widget. Later
    redraws show their errors in the figure's place, as ipywidgets does.
    """
    if not callable(plot):
        raise TypeError(f"plot must be callable, got {type(plot).__name__}")
    for name, control in controls.items():
        if not isinstance(control, (Slider, Choice, TextBox)):
            raise TypeError(
                f"control {name!r} must be a Slider, a Choice or a TextBox, got {type(control).__name__}"
            )
    if widgets_mode() == "static":
        plot(**{name: c.value for name, c in controls.items()})
        return None
    import ipywidgets as w
    from IPython.display import clear_output, display
    from ipywidgets.widgets.interaction import show_inline_matplotlib_plots

    inputs = {name: _to_widget(name, c) for name, c in controls.items()}
    out = w.Output()

    def draw() -> None:
        with out:
            clear_output(wait=True)
            plot(**{name: widget.value for name, widget in inputs.items()})
            show_inline_matplotlib_plots()

    def first_draw() -> None:
        # Output swallows exceptions raised inside it (it only prints them): catch the first
        # one ourselves and raise it after the widget has closed.
        failure: list[BaseException] = []
        with out:
            try:
                clear_output(wait=True)
                plot(**{name: c.value for name, c in controls.items()})
                show_inline_matplotlib_plots()
            except Exception as exc:
                failure.append(exc)
        if failure:
            raise failure[0]

    ui = w.VBox([*inputs.values(), out])
    display(ui)
    first_draw()
    for widget in inputs.values():
        widget.observe(lambda _change: draw(), names="value")
    return ui
