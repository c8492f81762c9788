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


def _finetuned(lab):
    """Method name -> (trainable parameters, new-task accuracy, original-task accuracy)."""
    columns = ("finetune_trainable", "finetune_accuracy", "finetune_original_task_accuracy")
    rows = zip(*(lab[c] for c in columns), strict=True)
    return dict(zip(lab["finetune_methods"], rows, strict=True))


def test_lora_trains_a_fraction_of_the_weights_and_comes_close_to_full_fine_tuning(lab):
    result = _finetuned(lab)
    full_params, full_acc, _ = result["full fine-tuning"]
    lora = next(name for name in result if name.startswith("LoRA"))
    lora_params, lora_acc, _ = result[lora]
    assert lora_params < 0.2 * full_params
    assert lora_acc > full_acc - 0.03
    assert lora_acc > result["from scratch"][1], "the pretrained weights help"
    accuracy_by_rank = lab["lora_accuracy"]
    assert accuracy_by_rank[-1] > accuracy_by_rank[0], "more rank, more accuracy"


def test_at_equal_trainable_parameters_lora_still_beats_the_last_layer(lab):
    last_params, last_acc, _ = _finetuned(lab)["last layer only"]
    rank = lab["equal_trainable_lora_rank"]
    by_rank = dict(
        zip(lab["lora_ranks"], zip(lab["lora_trainable"], lab["lora_accuracy"], strict=True), strict=True)
    )
    lora_params, lora_acc = by_rank[rank]
    assert lora_params <= 1.25 * last_params, (
        "a fair comparison: no more trainable parameters than the last layer"
    )
    assert lora_acc > last_acc + 0.03, (rank, lora_acc, last_acc)


def test_lora_r8_trains_about_a_tenth_of_this_small_model(lab):
    """Review §1.3: far from 'a fraction of a percent', because the layers are tiny."""
    result = _finetuned(lab)
    full_params = result["full fine-tuning"][0]
    lora_params = next(p for name, (p, *_) in result.items() if name.startswith("LoRA"))
    assert 0.05 < lora_params / full_params < 0.2


def test_every_method_forgets_much_of_the_original_task_and_lora_is_not_spared(lab):
    result = _finetuned(lab)
    lora = next(name for name in result if name.startswith("LoRA"))
    old = {name: result[name][2] for name in ("full fine-tuning", "last layer only", lora)}
    for name, accuracy in old.items():
        assert accuracy < lab["fp32_accuracy"] - 0.1, name
    assert old["last layer only"] > max(old["full fine-tuning"], old[lora]), "frozen features keep the most"
    assert old[lora] < old["full fine-tuning"], "here LoRA forgets no less than full fine-tuning"
    assert lab["lora_without_adapters_original_task_accuracy"] == lab["fp32_accuracy"], "the base is intact"


def test_every_fine_tuned_model_stays_below_the_original_models_own_accuracy(lab):
    best = max(acc for _, acc, _ in _finetuned(lab).values())
    assert best < lab["fp32_accuracy"] - 0.1, "a few examples and steps are not the original training"
