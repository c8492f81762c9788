"""Chapter 3's claims, on Lab 3's own cpu-profile run."""

import numpy as np
import pytest
from scipy.stats import spearmanr


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("03_memorization")["values"]


def test_every_labelling_is_fitted_and_noise_generalizes_at_chance(lab):
    """Zhang et al.: random labels and random inputs are fitted; their test accuracy is chance."""
    assert min(lab["random_labels_train_accuracy"]) == 1.0
    assert min(lab["random_inputs_train_accuracy"]) == 1.0
    assert min(lab["true_labels_train_accuracy"]) >= 0.99
    for name in ("random_labels", "random_inputs"):
        for accuracy in lab[f"{name}_test_accuracy"]:
            assert abs(accuracy - lab["chance_accuracy"]) < 0.05, (name, accuracy)
    assert min(lab["true_labels_test_accuracy"]) > lab["chance_accuracy"] + 0.2


def test_random_labels_take_clearly_longer_on_every_seed(lab, claim):
    """The factor depends on how far down the loss goes; it is > 1 at every level and seed."""
    early, late = lab["slowdown_at_loss_1_0"], lab["slowdown_at_loss_0_1"]
    assert len(early) >= 3, "at least three seeds"
    claim("min slowdown_at_loss_1_0", min(early), ">", 1.5, "random labels take longer early")
    claim("min slowdown_at_loss_0_1", min(late), ">", 1.1, "and still later")
    assert np.median(early) > np.median(late), "the gap is largest early, on the plateau"


def test_test_accuracy_falls_as_labels_are_corrupted(lab):
    accuracy = np.array(lab["corrupted_test_accuracy"])
    assert np.all(np.diff(accuracy) < 0), accuracy
    assert min(lab["corrupted_train_accuracy"]) >= 0.99


def test_random_features_error_peaks_at_p_equals_n(lab):
    assert lab["rf_peak_p"] == lab["rf_samples_n"]


def test_the_width_sweep_peaks_at_the_threshold_and_descends_again(lab, claim):
    """Nakkiran et al.; the MNIST-1D authors' experiment (cpu slice): a resolved peak."""
    widths, test, spread = lab["dd_widths"], np.array(lab["dd_test_error"]), np.array(lab["dd_seed_spread"])
    assert lab["dd_train_error"][-1] == 0.0, "the widest networks fit the noisy labels"
    assert lab["dd_peak_width"] is not None, "a peak that stands out of the seed noise"
    i_threshold, i_peak = widths.index(lab["dd_threshold_width"]), widths.index(lab["dd_peak_width"])
    assert abs(i_peak - i_threshold) <= 1, "the peak is within one width step of the interpolation threshold"
    height = lab["dd_peak_error"] - lab["dd_classical_minimum"]
    claim("dd peak above the classical minimum", height, ">=", 0.03, "3 points above the classical minimum")
    below_peak = lab["dd_peak_error"] - spread[i_peak]
    claim("dd_widest_error", lab["dd_widest_error"], "<", below_peak, "a second descent below the peak")
    below_threshold = test[i_threshold] - spread[i_threshold]
    claim("dd widest test error", test[-1], "<", below_threshold, "and below the error at the threshold")


def test_interpolants_get_smoother_with_more_parameters(lab, claim):
    """Law of robustness: the trend with p, for the typical and the worst probed slope."""
    p, nd = np.array(lab["robustness_p"]), lab["robustness_nd_index"]
    for name in ("robustness_mean_grad", "robustness_max_grad"):
        grad = np.array(lab[name])
        rho = spearmanr(p[: nd + 1], grad[: nd + 1]).statistic
        claim(f"spearman {name}", rho, "<", -0.9, "smoother with more parameters")
        ratio = grad[0] / grad[nd]
        claim(f"{name} first / last", ratio, ">", lab["robustness_sqrt_d"], "by more than sqrt(d)")
    assert lab["robustness_slope"] < 0


def test_at_equal_fit_the_trajectory_predicts_complexity_and_test_error(lab, claim):
    assert lab["trajectory_runs_fitted"] >= 0.8 * lab["trajectory_runs"]
    for stat in ("path_length", "distance"):
        claim(f"rho_{stat}_complexity", lab[f"rho_{stat}_complexity"], ">", 0.8, stat)
        claim(f"rho_{stat}_test_error", lab[f"rho_{stat}_test_error"], ">", 0.8, stat)
