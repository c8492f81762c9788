"""Chapter 6's claims, on Lab 6's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("06_efficient_deployment")["values"]


def test_at_8_bits_the_granularity_hardly_matters(lab):
    for scheme in ("tensor", "channel", "group"):
        assert lab[f"int8_per_{scheme}_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.01), scheme


def test_at_3_and_4_bits_finer_scales_keep_more_accuracy(lab, claim):
    for bits in (3, 4):
        group, tensor = lab[f"int{bits}_per_group_accuracy"], lab[f"int{bits}_per_tensor_accuracy"]
        claim(f"int{bits}_per_group_accuracy", group, ">", tensor, "above one scale per tensor")
    per_tensor = lab["int3_per_tensor_accuracy"]
    claim("int3_per_tensor_accuracy", per_tensor, "<", lab["fp32_accuracy"] - 0.05, "3 bits per tensor cost")


def test_outliers_break_a_shared_int8_scale_but_not_per_channel_scales(lab, claim):
    assert lab["outliers_fp32_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=1e-3), "same function"
    broken, fp32 = lab["outliers_int8_per_tensor_accuracy"], lab["fp32_accuracy"]
    claim("outliers_int8_per_tensor_accuracy", broken, "<", fp32 - 0.3, "a shared scale breaks")
    assert lab["outliers_int8_per_channel_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.02)
    assert lab["outliers_int8_outliers_in_fp32_accuracy"] == pytest.approx(lab["fp32_accuracy"], abs=0.02)


def _finetuned(lab):
    """Method name -> (trainable parameters, new-task accuracy, original-task accuracy)."""
    columns = ("finetune_trainable", "finetune_accuracy", "finetune_original_task_accuracy")
    rows = zip(*(lab[c] for c in columns), strict=True)
    return dict(zip(lab["finetune_methods"], rows, strict=True))


def test_lora_trains_a_fraction_of_the_weights_and_comes_close_to_full_fine_tuning(lab, claim):
    result = _finetuned(lab)
    full_params, full_acc, _ = result["full fine-tuning"]
    lora = next(name for name in result if name.startswith("LoRA"))
    lora_params, lora_acc, _ = result[lora]
    assert lora_params < 0.2 * full_params
    claim("LoRA accuracy", lora_acc, ">", full_acc - 0.03, "within 3 points of full fine-tuning")
    assert lora_acc > result["from scratch"][1], "the pretrained weights help"
    accuracy_by_rank = lab["lora_accuracy"]
    assert accuracy_by_rank[-1] > accuracy_by_rank[0], "more rank, more accuracy"


def test_at_equal_trainable_parameters_lora_still_beats_the_last_layer(lab, claim):
    last_params, last_acc, _ = _finetuned(lab)["last layer only"]
    rank = lab["equal_trainable_lora_rank"]
    by_rank = dict(
        zip(lab["lora_ranks"], zip(lab["lora_trainable"], lab["lora_accuracy"], strict=True), strict=True)
    )
    lora_params, lora_acc = by_rank[rank]
    assert lora_params <= 1.25 * last_params, (
        "a fair comparison: no more trainable parameters than the last layer"
    )
    claim(f"LoRA r={rank} accuracy", lora_acc, ">", last_acc + 0.03, "3 points above the last layer")


def test_every_method_forgets_much_of_the_original_task_and_lora_is_not_spared(lab):
    result = _finetuned(lab)
    lora = next(name for name in result if name.startswith("LoRA"))
    old = {name: result[name][2] for name in ("full fine-tuning", "last layer only", lora)}
    for name, accuracy in old.items():
        assert accuracy < lab["fp32_accuracy"] - 0.1, name
    assert old["last layer only"] > max(old["full fine-tuning"], old[lora]), "frozen features keep the most"
    assert old[lora] < old["full fine-tuning"], "here LoRA forgets no less than full fine-tuning"
    assert lab["lora_without_adapters_original_task_accuracy"] == lab["fp32_accuracy"], "the base is intact"


def test_a_merged_adapter_is_the_adapted_model_at_the_original_size(lab):
    """Part 6, Exercise 3: W + (alpha / r) B A computes what the attached adapter computes."""
    assert lab["lora_merged_parameters"] == lab["parameters"], "the deployed model has the original's shape"
    assert lab["lora_merged_max_logit_difference"] < 1e-3, "float rounding only"
    assert lab["lora_merged_new_task_accuracy"] == pytest.approx(
        lab["lora_adapted_new_task_accuracy"], abs=2e-3
    )
    assert lab["lora_adapted_new_task_accuracy"] > 0.2, "a trained adapter, well above chance (10%)"


def test_every_fine_tuned_model_stays_below_the_original_models_own_accuracy(lab, claim):
    best = max(acc for _, acc, _ in _finetuned(lab).values())
    claim("best fine-tuned accuracy", best, "<", lab["fp32_accuracy"] - 0.1, "not the original training")


def test_the_code_model_quantizes_like_the_mlp(lab, claim):
    """Part 4: int8 is free for the course model; at 4 and 3 bits finer scales decide."""
    fp32 = lab["lm_fp32_bits_per_byte"]
    for scheme in ("tensor", "channel", "group"):
        assert lab[f"lm_int8_per_{scheme}_bits_per_byte"] == pytest.approx(fp32, abs=0.01), scheme
    for bits in (4, 3):
        by_scheme = [lab[f"lm_int{bits}_per_{s}_bits_per_byte"] for s in ("tensor", "channel", "group")]
        assert by_scheme[0] > by_scheme[1] > by_scheme[2], (bits, by_scheme)
    per_tensor, per_group = lab["lm_int4_per_tensor_bits_per_byte"], lab["lm_int4_per_group_bits_per_byte"]
    claim("lm_int4_per_tensor_bits_per_byte", per_tensor, ">", fp32 + 0.3, "one scale per tensor hurts")
    claim("lm_int4_per_group_bits_per_byte", per_group, "<", fp32 + 0.25, "groups keep most of the quality")
    assert lab["lm_int4_per_group_bits_per_weight"] < 5.5, "scales included"


def test_a_rewound_lottery_ticket_beats_the_same_mask_reinitialised(lab, claim):
    """Part 5 (Frankle & Carbin 2019): at high sparsity the initial values of the survivors matter."""
    sparsities = lab["prune_sparsities"]
    tickets, reinits = lab["ticket_accuracy"], lab["random_reinit_accuracy"]
    pruned = lab["pruned_no_retraining_accuracy"]
    high = [i for i, s in enumerate(sparsities) if 0.8 <= s <= 0.9]
    assert high, sparsities
    for i in high:
        claim(f"ticket accuracy at {sparsities[i]:.0%}", tickets[i], ">", reinits[i] + 0.02, "beats reinit")
        assert tickets[i] > pruned[i] + 0.2, "retraining is what makes pruning work"
    assert min(tickets) < lab["dense_accuracy_prune_steps"], "the sparsest ticket falls behind the dense one"
    half = sparsities.index(0.5)
    dense = lab["dense_accuracy_prune_steps"]
    claim("ticket accuracy at 50%", tickets[half], ">", dense - 0.03, "half the weights suffice")


def test_narrowing_the_code_model_to_asyncio_helps_there_and_costs_elsewhere(lab, claim):
    """Part 7: the Copilot move in miniature, on a package the model never saw."""
    rows = dict(
        zip(
            lab["narrow_methods"],
            zip(
                lab["narrow_trainable_share"],
                lab["narrow_asyncio_bits_per_byte"],
                lab["narrow_general_bits_per_byte"],
                strict=True,
            ),
            strict=True,
        )
    )
    _, general_asyncio, general_rest = rows.pop("general")
    (lora_share, lora_asyncio, lora_rest) = next(v for k, v in rows.items() if k.startswith("LoRA"))
    _, full_asyncio, full_rest = rows["full fine-tuning"]
    assert lora_share < 0.1, "LoRA trains a few percent of the weights"
    assert full_asyncio < lora_asyncio
    claim("LoRA asyncio bits/byte", lora_asyncio, "<", general_asyncio - 0.05, "narrowing helps on asyncio")
    assert general_rest < lora_rest < full_rest, "full fine-tuning forgets the most of the rest"
