"""The argument checks labsupport's modules share."""

import pytest
from torch import nn

from labsupport.validate import module, non_negative_int, positive_int


def test_valid_values_pass_through():
    layer = nn.Linear(2, 2)
    assert positive_int("k", 3) == 3 and non_negative_int("n", 0) == 0 and module(layer) is layer


@pytest.mark.parametrize("bad", [0, -1, 1.0, "1", True])
def test_positive_int_rejects(bad):
    with pytest.raises(ValueError, match=r"k must be a positive int, got"):
        positive_int("k", bad)


@pytest.mark.parametrize("bad", [-1, 0.0, None, False])
def test_non_negative_int_rejects(bad):
    with pytest.raises(ValueError, match=r"n must be a non-negative int, got"):
        non_negative_int("n", bad)


def test_module_rejects_non_modules():
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module, got str"):
        module("model")
