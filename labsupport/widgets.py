"""Interactive figures that degrade to a static figure on the website and in tests.

In a live notebook (Jupyter, Colab) :func:`interactive_plot` shows sliders that redraw the
figure. A published page has no kernel behind it, so the book build and the test suite set
``LABSUPPORT_WIDGETS=static``: the figure is drawn once, at the default values, and the page
shows that. Works with ipywidgets 7.7 (Colab) and 8.
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


Control = Slider | Choice


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
    values = (control.low, control.high, control.step, control.value)
    cls = w.IntSlider if all(isinstance(v, int) for v in values) else w.FloatSlider
    return cls(min=control.low, max=control.high, step=control.step, value=control.value, description=name)


def interactive_plot(plot: Callable[..., None], **controls: Control) -> Any:
    """Show ``plot(**values)`` with a control per keyword argument.

    ``plot`` draws a matplotlib figure and calls ``plt.show()``. Live: returns the
    ipywidgets ``interactive`` object (displayed). Static: draws once at the defaults and
    returns ``None``.
    """
    if not callable(plot):
        raise TypeError(f"plot must be callable, got {type(plot).__name__}")
    for name, control in controls.items():
        if not isinstance(control, (Slider, Choice)):
            raise TypeError(f"control {name!r} must be a Slider or a Choice, got {type(control).__name__}")
    if widgets_mode() == "static":
        plot(**{name: c.value for name, c in controls.items()})
        return None
    import ipywidgets as w
    from IPython.display import display

    ui = w.interactive(plot, **{name: _to_widget(name, c) for name, c in controls.items()})
    display(ui)
    return ui
