"""The exercise checks (labsupport.checks)."""

import pytest

from labsupport import check_close, check_function


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
