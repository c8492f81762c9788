"""Chapter 6's claims, on Lab 6's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("06_efficient_deployment")["values"]


def test_at_8_bits_the_granularity_hardly_matters(lab):
    for scheme in ("tensor", "channel", "group"):
        assert lab[f"int8_per_{scheme}_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.01), scheme


def test_at_3_and_4_bits_finer_scales_keep_more_accuracy(lab):
    for bits in (3, 4):
        assert lab[f"int{bits}_per_group_accuracy"] > lab[f"int{bits}_per_tensor_accuracy"], bits
    assert lab["int3_per_tensor_accuracy"] < lab["fp32_accuracy"] - 0.05, "3 bits per tensor costs accuracy"


def test_outliers_break_a_shared_int8_scale_but_not_per_channel_scales(lab):
    assert lab["outliers_fp32_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=1e-3), "same function"
    assert lab["outliers_int8_per_tensor_accuracy"] < lab["fp32_accuracy"] - 0.3
    assert lab["outliers_int8_per_channel_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.02)
    assert lab["outliers_int8_outliers_in_fp32_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.02)


def test_lora_trains_a_fraction_of_the_weights_and_comes_close_to_full_fine_tuning(lab):
    pairs = zip(lab["finetune_trainable"], lab["finetune_accuracy"], strict=True)
    result = dict(zip(lab["finetune_methods"], pairs, strict=True))
    full_params, full_acc = result["full fine-tuning"]
    lora = next(name for name in result if name.startswith("LoRA"))
    lora_params, lora_acc = result[lora]
    assert lora_params < 0.2 * full_params
    assert lora_acc > full_acc - 0.03
    assert lora_acc > result["from scratch"][1], "the pretrained weights help"
    accuracy_by_rank = lab["lora_accuracy"]
    assert accuracy_by_rank[-1] > accuracy_by_rank[0], "more rank, more accuracy"
