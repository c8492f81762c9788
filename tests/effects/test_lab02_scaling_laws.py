"""Chapter 2's claims, on Lab 2's own cpu-profile run."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("02_scaling_laws")["values"]


def test_every_isoflop_profile_is_a_valley(lab):
    """At fixed compute, too small and too large are both worse: the best size is inside."""
    assert all(lab["isoflop_minimum_interior"]), lab["isoflop_minimum_interior"]


def test_the_best_size_grows_with_compute_near_chinchillas_rate(lab, claim):
    N_opt = np.array(lab["isoflop_optimal_N"])
    assert np.all(np.diff(N_opt) > 0), N_opt
    # Hoffmann et al.'s approaches give a = 0.46-0.50 and Kaplan's 0.73; the lab's teacher task
    # measures its own exponent. Assert the Chinchilla side of that range, with a good fit.
    claim("isoflop_exponent_a", lab["isoflop_exponent_a"], ">=", 0.35, "the Chinchilla side of the range")
    claim("isoflop_exponent_a", lab["isoflop_exponent_a"], "<=", 0.65, "below Kaplan's 0.73")
    claim("isoflop_fit_r2", lab["isoflop_fit_r2"], ">", 0.95, "a good fit")


def test_loss_falls_as_a_power_law_in_size(lab, claim):
    L = np.array(lab["lm_sweep_bits_per_byte"])
    assert np.all(np.diff(L) < 0), L
    claim("lm_fit_r2", lab["lm_fit_r2"], ">", 0.98, "a power law fits the sweep")
    assert 0 < lab["lm_alpha"] < 1 and 0 < lab["lm_irreducible_E"] < L.min()


def test_the_law_predicts_a_larger_model_before_it_is_trained(lab, claim):
    """The lab's headline: a model several times larger than any in the fit, predicted within 5%."""
    assert lab["held_out_size_ratio"] >= 3
    for name in ("prediction_error_L_N", "prediction_error_L_ND"):
        claim(f"|{name}|", abs(lab[name]), "<", 0.05, "predicted within 5%")
    assert lab["held_out_observed"] < min(lab["lm_sweep_bits_per_byte"]), "bigger is better here"


def test_counting_the_embeddings_changes_the_exponent_not_the_prediction(lab, claim):
    """Pearce & Song (2024): at small scale, what you count as N moves the exponent."""
    # (the share falls as the model grows by construction, (256 + T)·d against 12·L·d²: not asserted)
    share = lab["embedding_share"]
    claim("embedding_share[0]", share[0], ">", 0.5, "in the smallest model the embeddings hold most")
    ratio = lab["lm_alpha_total_params"] / lab["lm_alpha"]
    claim("alpha_total / alpha_non_embedding", ratio, ">", 1.2, "counting embeddings steepens the law")
    claim("lm_fit_r2_total_params", lab["lm_fit_r2_total_params"], ">", 0.98, "a good fit either way")
    claim("|prediction_error_L_N_total|", abs(lab["prediction_error_L_N_total"]), "<", 0.05, "within 5%")
    errors = (abs(lab["prediction_error_L_N_total"]), abs(lab["prediction_error_L_N"]))
    claim("prediction error difference", abs(errors[0] - errors[1]), "<", 0.02, "both counts predict alike")
