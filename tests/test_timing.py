"""Wall-clock timing (labsupport.timing)."""

import pytest

from labsupport.timing import matmul_flops_per_second, time_in_turn, time_it


def test_time_it_counts_calls_and_reports_median():
    calls = []
    timing = time_it(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(timing.seconds) == 4
    assert min(timing.seconds) <= timing.median <= max(timing.seconds)
    assert "median of 4" in str(timing)


def test_time_in_turn_interleaves_the_functions():
    calls = []
    timings = time_in_turn(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3, "warm-up, then A and B taking turns"
    assert set(timings) == {"a", "b"} and all(len(t.seconds) == 3 for t in timings.values())
    with pytest.raises(ValueError, match="non-empty mapping"):
        time_in_turn({})
    with pytest.raises(TypeError, match="callable"):
        time_in_turn({"a": 3})


def test_matmul_rate_is_positive_a_smoke_test():
    assert matmul_flops_per_second(64, repeats=2) > 1e6


def test_timing_bad_inputs():
    with pytest.raises(TypeError, match="callable"):
        time_it(3)
    with pytest.raises(ValueError, match="repeats must be a positive int, got 0"):
        time_it(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        matmul_flops_per_second(0)
