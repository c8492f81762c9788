"""Chapter 3's claims, on Lab 3's own cpu-profile run."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("03_memorization")["values"]


def test_random_labels_are_memorized_and_generalize_at_chance(lab):
    assert lab["true_labels_train_accuracy"] == 1.0
    assert lab["random_labels_train_accuracy"] == 1.0, "every labelling is fitted"
    assert abs(lab["random_labels_test_accuracy"] - lab["chance_accuracy"]) < 0.05
    assert lab["true_labels_test_accuracy"] > lab["chance_accuracy"] + 0.2


def test_test_accuracy_falls_as_labels_are_corrupted(lab):
    accuracy = np.array(lab["corrupted_test_accuracy"])
    assert np.all(np.diff(accuracy) < 0), accuracy


def test_random_features_error_peaks_at_p_equals_n(lab):
    assert lab["rf_peak_p"] == lab["rf_samples_n"]


def test_a_width_sweep_peaks_near_the_interpolation_threshold(lab):
    widths = lab["dd_widths"]
    assert lab["dd_train_error"][-1] == 0.0, "the widest networks fit the noisy labels"
    i_peak, i_threshold = widths.index(lab["dd_peak_width"]), widths.index(lab["dd_threshold_width"])
    assert abs(i_peak - i_threshold) <= 1
    assert lab["dd_peak_error"] > lab["dd_classical_minimum"], "a peak above the classical minimum"
    assert lab["dd_widest_error"] < lab["dd_peak_error"], "and a second descent after it"


def test_more_parameters_give_smoother_interpolants(lab):
    """Law of robustness: the (mean) input-gradient norm falls with p between n and nd."""
    assert lab["robustness_grad_at_nd"] < lab["robustness_grad_at_n"] / lab["robustness_sqrt_d"]
    assert lab["robustness_slope"] < 0


def test_trajectory_length_tracks_the_complexity_of_what_is_learned(lab):
    assert lab["sine_runs_fitted"] >= 0.8 * lab["sine_runs"]
    assert lab["rho_path_length"] > 0.8 and lab["rho_distance"] > 0.8
