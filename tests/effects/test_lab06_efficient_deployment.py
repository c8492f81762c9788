"""Chapter 6's claims, on Lab 6's own cpu-profile run."""

import statistics

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


def _by_seed(lab, key):
    """{sparsity: one network's test accuracy on each seed} (part 5)."""
    return {p: lab[f"{key}_accuracy_{round(100 * p)}_by_seed"] for p in lab["prune_sparsities"]}


def _spread(values):
    return max(values) - min(values)


def test_a_rewound_lottery_ticket_beats_the_same_mask_reinitialised_on_every_seed(lab, claim):
    """Part 5 (Frankle & Carbin 2019): at 80-90% sparsity the survivors' initial values matter,
    on each seed against its own re-initialisation and by more than the seeds' spread."""
    assert lab["ticket_seeds"] >= 3, "a spread needs at least three seeds"
    tickets, reinits = _by_seed(lab, "ticket"), _by_seed(lab, "random_reinit")
    high = [p for p in lab["prune_sparsities"] if 0.8 <= p <= 0.9]
    assert high, lab["prune_sparsities"]
    for p in high:
        gaps = [t - r for t, r in zip(tickets[p], reinits[p], strict=True)]
        claim(f"smallest ticket - re-init gap at {p:.0%}", min(gaps), ">", 0.03, "on every seed")
        spread = max(_spread(tickets[p]), _spread(reinits[p]))
        claim(
            f"mean ticket - re-init gap at {p:.0%}", statistics.mean(gaps), ">", 2 * spread, "2x the spread"
        )


def test_pruning_needs_retraining_and_a_ticket_keeps_up_with_the_dense_network_to_half(lab, claim):
    sparsities, dense = lab["prune_sparsities"], lab["dense_accuracy_prune_steps"]
    tickets, pruned = lab["ticket_accuracy"], lab["pruned_no_retraining_accuracy"]
    for i, p in enumerate(sparsities):
        if 0.8 <= p <= 0.9:
            assert tickets[i] > pruned[i] + 0.2, "retraining is what makes pruning work"
    assert min(tickets) < dense, "the sparsest ticket falls behind the dense one"
    half = sparsities.index(0.5)
    claim("ticket accuracy at 50%", tickets[half], ">", dense - 0.03, "half the weights suffice")


def test_the_magnitude_mask_helps_new_weights_a_little_and_rewinding_helps_more(lab, claim):
    """The MNIST-1D authors report that ticket masks help even with new initial weights: the
    re-initialised network beats a random mask with the same initial weights and as many weights
    per layer, at 80-95% sparsity; the rewind is worth more than the mask."""
    tickets, reinits = _by_seed(lab, "ticket"), _by_seed(lab, "random_reinit")
    randoms = _by_seed(lab, "random_mask")
    high = [p for p in lab["prune_sparsities"] if p >= 0.8]
    mask_gaps = [r - m for p in high for r, m in zip(reinits[p], randoms[p], strict=True)]
    rewind_gaps = [t - r for p in high for t, r in zip(tickets[p], reinits[p], strict=True)]
    claim("mean re-init - random mask gap, 80-95%", statistics.mean(mask_gaps), ">", 0.005, "the mask helps")
    claim(
        "rewinding's gain over the mask's", statistics.mean(rewind_gaps), ">", 2 * statistics.mean(mask_gaps)
    )


def _narrowing(lab):
    """(method, lr) -> (final gain, final forgetting, forgetting at the matched gain) (part 7)."""
    keys = zip(lab["narrow_runs"], lab["narrow_learning_rates"], strict=True)
    values = zip(
        lab["narrow_final_gain"],
        lab["narrow_final_forgetting"],
        lab["narrow_forgetting_at_matched_gain"],
        strict=True,
    )
    return dict(zip(keys, values, strict=True))


def test_narrowing_the_code_model_to_asyncio_helps_there_and_costs_elsewhere(lab, claim):
    """Part 7: the Copilot move in miniature, on a package the model never saw. At one learning
    rate each (the table's pair), LoRA gains less and loses less than full fine-tuning."""
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
    assert full_asyncio < lora_asyncio, "full fine-tuning gains more"
    claim("LoRA asyncio bits/byte", lora_asyncio, "<", general_asyncio - 0.05, "narrowing helps on asyncio")
    assert general_rest < lora_rest < full_rest, "at one point each, LoRA loses less of the rest"


def test_at_matched_gain_lora_does_not_forget_less_than_full_fine_tuning(lab, claim):
    """Part 7 (Biderman et al. 2024, M19): compared where every run has gained as much on asyncio,
    each method at its better learning rate, full fine-tuning forgets less than LoRA here; full
    fine-tuning's learning rate moves its forgetting more than the choice of method does."""
    runs = _narrowing(lab)
    gain = lab["narrow_matched_gain"]
    claim("matched gain on asyncio (bits/byte)", gain, ">", 0.05, "a gain worth comparing at")
    assert all(final_gain >= gain for final_gain, _, _ in runs.values()), "every run reached it"
    at = {}
    for (method, _), (_, _, lost) in runs.items():
        at.setdefault("LoRA" if method.startswith("LoRA") else method, []).append(lost)
    assert len(at["LoRA"]) >= 2 and len(at["full fine-tuning"]) >= 2, "two learning rates each"
    lora, full = min(at["LoRA"]), min(at["full fine-tuning"])
    claim("LoRA - full fine-tuning forgetting at matched gain", lora - full, ">", 0.02, "full forgets less")
    claim(
        "full fine-tuning's forgetting, learning rate to learning rate",
        _spread(at["full fine-tuning"]),
        ">",
        lora - full,
        "the learning rate moves it more than the method",
    )
