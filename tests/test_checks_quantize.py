"""labsupport.checks.quantize: Lab 6's quantizer check passes the right answer, fails known wrong
ones with the intended hint, and never shows the expected weights."""

import pytest
import torch

from labsupport.checks.quantize import check_fake_quantizer, check_per_channel_quantizer
from labsupport.quantize import fake_quantize


def per_channel(w, bits=8, top=None, rounding=torch.round, zero_scale=1.0):
    """Per-channel absmax fake quantization as a learner writes it, with knobs for the mistakes."""
    top = 2 ** (bits - 1) - 1 if top is None else top
    absmax = w.abs().amax(dim=1, keepdim=True)
    scale = torch.where(absmax > 0, absmax / top, torch.full_like(absmax, zero_scale))
    return rounding(w / scale).clamp(-top, top) * scale


@pytest.mark.parametrize("bits", [8, 4, 3])
def test_check_per_channel_quantizer_accepts_the_right_answer_and_the_library(bits, capsys):
    check_per_channel_quantizer("mine", lambda w: per_channel(w, bits), bits)
    check_per_channel_quantizer("library", lambda w: fake_quantize(w, bits, "channel"), bits)
    assert capsys.readouterr().out.count("✓") == 2


def _per_tensor(w):  # the WRONG answer of tests/test_grading.py
    qmax = 2 ** (8 - 1) - 1
    scale = w.abs().max() / qmax
    return torch.round(w / scale).clamp(-qmax, qmax) * scale


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_per_tensor, "one scale for the whole tensor"),
        (lambda w: fake_quantize(w, 8, "group", 4), "not on a symmetric grid"),
        (lambda w: per_channel(w, top=128), "the codes run from -128 to 128"),
        (lambda w: per_channel(w, top=255), "the codes run from -255 to 255"),
        (lambda w: per_channel(w, top=126), "the codes run from -126 to 126"),
        (lambda w: per_channel(w, rounding=torch.trunc), "half a step"),
        (lambda w: per_channel(w, rounding=torch.floor), "half a step"),
        (lambda w: per_channel(w, zero_scale=0.0), "all-zero row gives NaN"),
        (lambda w: per_channel(w)[:, :-1], "expected a tensor of shape"),
        (lambda w: per_channel(w) + 1e-3, "all-zero row must stay zero"),
        (lambda w: w.clone(), "not on a symmetric grid"),
    ],
)
def test_check_per_channel_quantizer_names_the_mistake(wrong, hint):
    with pytest.raises(AssertionError, match="per-channel int8") as error:
        check_per_channel_quantizer("per-channel int8", wrong, 8)
    assert hint in str(error.value)


def test_check_per_channel_quantizer_refuses_an_answer_that_changes_its_input():
    def in_place(w):
        w.copy_(per_channel(w))
        return w

    with pytest.raises(AssertionError, match="changed its input"):
        check_per_channel_quantizer("in place", in_place, 8)


def test_check_fake_quantizer_accepts_the_reference_and_rejects_per_tensor(capsys):
    check_fake_quantizer("ok", lambda w: fake_quantize(w, 8, "channel"), 8, "channel")
    assert "✓" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="wrong on a"):
        check_fake_quantizer("per tensor", lambda w: fake_quantize(w, 8), 8, "channel")
