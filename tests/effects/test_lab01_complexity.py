"""Chapter 1's claims, on Lab 1's own cpu-profile run."""

import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("01_complexity")


def test_hand_counts_equal_pytorchs(lab):
    v = lab["values"]
    assert v["mlp_parameters_by_hand"] == v["mlp_parameters"]
    assert v["mlp_flops_by_hand"] == v["mlp_flops"]
    assert v["transformer_flops_by_hand"] == v["transformer_flops"], "2T(12Ld²+dV)+4LT²d is exact"


def test_dense_forward_flops_are_twice_the_weights(lab):
    v = lab["values"]
    # FLOPs = 2 x (weights); the MLP's biases (256 + 256 + 10) are the only parameters left out.
    assert v["mlp_flops"] == 2 * (v["mlp_parameters"] - (256 + 256 + 10))


def test_a_plain_flop_counter_misses_attention_on_the_cpu(lab):
    v = lab["values"]
    assert v["transformer_flops_plain_counter"] < v["transformer_flops"]


def test_a_hook_counter_sees_the_layers_and_misses_attentions_products(lab):
    """Part 4: forward hooks on every Linear and Conv2d count all of the MLP's and the CNN's
    FLOPs, and miss exactly attention's two products (4·L·T²·d), which are not modules."""
    v = lab["values"]
    assert v["mlp_flops_hooks"] == v["mlp_flops_counted"] == v["mlp_flops"]
    assert v["cnn_flops_hooks"] == v["cnn_flops_counted"]
    missed = v["transformer_flops_counted"] - v["transformer_flops_hooks"]
    assert missed == v["transformer_attention_flops_by_hand"] > 0


def test_gpt3s_shape_has_175b_parameters_and_12Ld2_is_close(lab):
    v = lab["values"]
    assert v["gpt3_parameters"] == pytest.approx(175e9, rel=0.01)
    assert v["gpt3_parameters_12Ld2"] == pytest.approx(v["gpt3_parameters"], rel=0.02)
    assert v["gpt3_fp32_bytes"] == 4 * v["gpt3_parameters"]


def test_a_small_model_achieves_less_than_a_large_matmul(lab, claim):
    """ "Tiny models waste most of the machine": both rates come from the same run."""
    t = lab["timings"]
    claim("mlp_gflops", t["mlp_gflops"], "<", t["matmul_gflops"], "below the matmul's rate")
    claim("cnn_gflops", t["cnn_gflops"], "<", t["matmul_gflops"], "below the matmul's rate")


def test_trained_the_small_cnn_beats_the_mlp_on_mnist1d(lab, claim):
    """Greydanus and Kobak: MLP 68%, CNN 94% on MNIST-1D; the cpu run is offline, on MNIST-1D."""
    v = lab["values"]
    assert "MNIST-1D" in v["trained_on"]
    assert v["cnn_trained_parameters"] < v["mlp_trained_parameters"] / 10
    claim("mlp_train_accuracy", v["mlp_train_accuracy"], ">", 0.95, "the MLP fits its training set")
    claim("mlp_test_accuracy", v["mlp_test_accuracy"], "<", 0.8, "and still generalizes far less well")
    gain = v["cnn_test_accuracy"] - v["mlp_test_accuracy"]
    claim("cnn_minus_mlp_test_accuracy", gain, ">", 0.15, "the CNN wins with a tenth of the parameters")
