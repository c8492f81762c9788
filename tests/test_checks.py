"""labsupport.checks: every exercise check accepts the right answer and says what is wrong otherwise."""

import pytest
import torch

from labsupport.checks import (
    check_close,
    check_closest,
    check_function,
    check_smallest,
    check_tensor_function,
)


def test_checks_pass_and_fail_with_reasons(capsys):
    check_close("answer", 1.0, 1.0000001, rtol=1e-6)
    assert "✓ answer" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="got 2, which is too large") as failure:
        check_close("answer", 2, 1.5)
    assert "1.5" not in str(failure.value), "a check must not print its expected value"
    with pytest.raises(AssertionError, match=r"got 0\.75; half of it: the factor 2 forgotten"):
        check_close("answer", 0.75, 1.5, mistakes={"half of it: the factor 2 forgotten": 0.75})
    with pytest.raises(AssertionError, match="no answer yet"):
        check_close("answer", None, 1)
    with pytest.raises(AssertionError, match="expected a number"):
        check_close("answer", "one", 1)
    check_function("square", lambda x: x * x, lambda x: x**2, [(1,), (3,)])
    assert "right on all 2 cases" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"square\(3,\): got 6, which is too small$"):
        check_function("square", lambda x: 2 * x, lambda x: x**2, [(2,), (3,)])
    with pytest.raises(AssertionError, match=r"square\(3,\): got 8; one less: x²-1\?"):
        check_function(
            "square",
            lambda x: x * x - 1,
            lambda x: x**2,
            [(3,)],
            mistakes={"one less: x²-1?": lambda x: x * x - 1},
        )
    with pytest.raises(ValueError, match="at least one case"):
        check_function("square", lambda x: x, lambda x: x, [])


def test_check_tensor_function_compares_shapes_and_values(capsys):
    cases = [torch.arange(6.0).view(2, 3), torch.linspace(-1, 1, 5)]
    check_tensor_function("double", lambda x: x * 2, lambda x: x + x, cases)
    assert "✓ double: matches the reference on all 2 cases" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"double: wrong on a \(2, 3\) input, most of all in row 1"):
        check_tensor_function("double", lambda x: x * 2 + (x > 4), lambda x: x + x, cases)
    with pytest.raises(AssertionError, match=r"wrong on a \(5,\) input, most of all in entry 4"):
        check_tensor_function("double", lambda x: x * 2 + (x > 0.9), lambda x: x + x, cases[1:])
    with pytest.raises(
        AssertionError,
        match=r"expected a tensor of shape \(2, 3\), got a torch.float32 tensor of shape \(6,\)",
    ):
        check_tensor_function("double", lambda x: (x * 2).flatten(), lambda x: x + x, cases)
    with pytest.raises(AssertionError, match="double: expected a function, got int"):
        check_tensor_function("double", 3, lambda x: x + x, cases)
    with pytest.raises(ValueError, match="at least one case"):
        check_tensor_function("double", lambda x: x, lambda x: x, [])


def test_check_tensor_function_passes_a_copy():
    def in_place(x):
        return x.mul_(2)

    x = torch.ones(3)
    check_tensor_function("in place", in_place, lambda x: x * 2, [x])
    assert torch.equal(x, torch.ones(3)), "the case must not be changed by the answer"


def test_check_smallest_accepts_the_smallest_and_says_a_smaller_value_works_without_naming_it(capsys):
    even = lambda x: x % 2 == 0  # noqa: E731
    check_smallest("n", 4, lambda x: x >= 4, [2, 3], condition="is at least 4")
    assert "✓ n = 4" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="expected a value that is even; this one does not"):
        check_smallest("n", 3, even, [1, 2], condition="is even")
    with pytest.raises(AssertionError, match=r"not the smallest: a smaller value does too$"):
        check_smallest("n", 4, even, [1, 2, 3], condition="is even")
    with pytest.raises(AssertionError, match="no answer yet"):
        check_smallest("n", None, even, [], condition="is even")


def test_check_closest_accepts_the_closest_and_says_a_closer_one_exists_without_naming_it(capsys):
    check_closest("w", 10, lambda w: abs(w * w - 101), [9, 11])
    assert "✓ w = 10 is the closest (1 away)" in capsys.readouterr().out
    with pytest.raises(
        AssertionError, match=r"w = 11 is 20 away from the target, but another candidate is closer$"
    ):
        check_closest("w", 11, lambda w: abs(w * w - 101), [10, 12])
    with pytest.raises(AssertionError, match="no answer yet"):
        check_closest("w", ..., abs, [1])
