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


def by_seed(lab, name):
    """A (seeds, widths) array from the lab's flattened per-seed values."""
    return np.array(lab[name]).reshape(lab["dd_repeats"], len(lab["dd_widths"]))


def test_the_width_sweep_peaks_near_the_threshold_out_of_the_seed_ranges(lab, claim):
    """Nakkiran et al.; the MNIST-1D authors' experiment (cpu: all 19 widths, 2 seeds, 250 of
    the 500 epochs): every seed at the top is above every seed at the bottom of the U and at the
    widest network. (A seed's networks at different widths share no initialization, so the seeds
    are compared as ranges, not pairs.)"""
    widths, errors = lab["dd_widths"], by_seed(lab, "dd_test_error_by_seed")
    assert lab["dd_repeats"] >= 2, "at least two seeds"
    assert widths[-1] == 300, "the authors' widths, up to 300"
    assert lab["dd_train_error"][-1] == 0.0, "the widest networks fit the noisy labels"
    assert lab["dd_peak_width"] == lab["dd_top_width"], "Exercise 4's model rule resolves the top"
    u, top, threshold = (
        widths.index(lab[k]) for k in ("dd_classical_width", "dd_top_width", "dd_threshold_width")
    )
    assert 0 <= threshold - top <= 2, "the top is at the threshold or within two widths below it"
    claim("dd top mean above the U mean", errors[:, top].mean() - errors[:, u].mean(), ">", 0.02, "2 points")
    lowest = errors[:, top].min()
    claim("dd top's lowest seed minus the U's highest", lowest - errors[:, u].max(), ">", 0.0, "")
    claim(
        "dd top's lowest seed minus the widest's highest", lowest - errors[:, -1].max(), ">", 0.0, "descends"
    )


def test_the_held_out_loss_jumps_at_the_threshold_and_comes_down_out_of_the_seed_ranges(lab, claim):
    """The held-out cross-entropy at the first width that fits, against its own minimum below
    it and against the widest network: the threshold's lowest seed against the others'
    highest. A jump, then a second descent (slower than the error's: not back to the minimum)."""
    widths, loss = lab["dd_widths"], by_seed(lab, "dd_test_loss_by_seed")
    threshold, bottom = widths.index(lab["dd_threshold_width"]), widths.index(lab["dd_loss_minimum_width"])
    times = loss[:, threshold].min() / loss[:, bottom].max()
    claim("dd loss: threshold lowest seed over minimum highest", times, ">", 1.5, "a jump")
    down = loss[:, -1].max() / loss[:, threshold].min()
    claim("dd loss: widest highest seed over threshold lowest", down, "<", 0.85, "comes down")


def test_interpolants_get_smoother_with_more_parameters(lab, claim):
    """Law of robustness: the trend with p from 2n to nd, clear of p = n, where the interpolant
    is part 2's near-singular peak (double descent's blow-up, not the law)."""
    p, first, last = np.array(lab["robustness_p"]), lab["robustness_2n_index"], lab["robustness_nd_index"]
    assert p[first] >= 1.5 * lab["rf_samples_n"], "the trend is measured past the threshold"
    for name in ("robustness_mean_grad", "robustness_max_grad"):
        grad = np.array(lab[name])
        rho = spearmanr(p[first : last + 1], grad[first : last + 1]).statistic
        claim(f"spearman {name} from 2n to nd", rho, "<", -0.9, "smoother with more parameters")
    claim("robustness_slope", lab["robustness_slope"], "<", -0.1, "falls between 2n and nd, not flat")


def test_across_noise_levels_the_trajectory_ranks_test_error_better_than_the_training_loss(lab, claim):
    """Every run here differs in its noise level s, the common cause of all these statistics."""
    assert lab["trajectory_runs_fitted"] >= 0.8 * lab["trajectory_runs"]
    for stat in ("path_length", "distance"):
        claim(f"rho_{stat}_complexity", lab[f"rho_{stat}_complexity"], ">", 0.8, stat)
        claim(f"rho_{stat}_test_error", lab[f"rho_{stat}_test_error"], ">", 0.8, stat)
    margin = lab["rho_path_length_test_error"] - lab["rho_training_mse_test_error"]
    claim(
        "rho path length minus rho training MSE, all levels", margin, ">", 0.1, "the trajectory ranks better"
    )


def test_at_one_noise_level_the_training_loss_ranks_test_error_better_than_the_trajectory(lab, claim):
    """The control: the runs differ only in initialization. The training loss's correlation
    turns negative (closer fits to the noise do worse) and is larger than the path length's."""
    assert lab["control_runs"] >= 12 and lab["control_runs_fitted"] >= 0.8 * lab["control_runs"]
    loss, path = lab["control_rho_training_mse_test_error"], lab["control_rho_path_length_test_error"]
    claim("control rho training MSE, test error", loss, "<", -0.3, "closer fits to the noise do worse")
    claim("control |rho training MSE| minus |rho path length|", abs(loss) - abs(path), ">", 0.1, "")
