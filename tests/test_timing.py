"""Wall-clock timing (labsupport.timing)."""

import pytest

from labsupport.timing import matmul_flops_per_second, time_it


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
    with pytest.raises(ValueError, match="repeats must be a positive int, got 0"):
        time_it(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        matmul_flops_per_second(0)
