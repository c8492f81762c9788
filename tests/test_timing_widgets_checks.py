"""Timing, interactive figures with their static fallback, and exercise checks."""

import matplotlib
import pytest

from labsupport import (
    Choice,
    Slider,
    check_close,
    check_function,
    interactive_plot,
    matmul_flops_per_second,
    time_it,
)
from labsupport.widgets import widgets_mode

matplotlib.use("Agg")


def test_time_it_counts_calls_and_reports_median():
    calls = []
    timing = time_it(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(timing.seconds) == 4
    assert min(timing.seconds) <= timing.median <= max(timing.seconds)
    assert "median of 4" in str(timing)


def test_matmul_rate_is_positive():
    assert matmul_flops_per_second(64, repeats=2) > 1e6


def test_timing_bad_inputs():
    with pytest.raises(TypeError, match="callable"):
        time_it(3)
    with pytest.raises(ValueError, match="repeats >= 1"):
        time_it(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        matmul_flops_per_second(0)


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


def test_checks_pass_and_fail_with_reasons(capsys):
    check_close("answer", 1.0, 1.0000001, rtol=1e-6)
    assert "✓ answer" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="got 2, expected 1"):
        check_close("answer", 2, 1)
    with pytest.raises(AssertionError, match="no answer yet"):
        check_close("answer", None, 1)
    with pytest.raises(AssertionError, match="expected a number"):
        check_close("answer", "one", 1)
    check_function("square", lambda x: x * x, lambda x: x**2, [(1,), (3,)])
    assert "right on all 2 cases" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"square\(3,\): got 6, expected 9"):
        check_function("square", lambda x: 2 * x, lambda x: x**2, [(2,), (3,)])
    with pytest.raises(ValueError, match="at least one case"):
        check_function("square", lambda x: x, lambda x: x, [])
