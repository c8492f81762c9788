"""Chapter 4's claims, on Lab 4's own cpu-profile run."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("04_distillation")


def test_the_distilled_student_beats_hard_labels_on_every_seed(lab):
    v = lab["values"]
    assert max(v["distilled_errors"]) < min(v["hard_label_errors"]), (
        v["distilled_errors"],
        v["hard_label_errors"],
    )
    assert v["teacher_error"] < v["distilled_error_median"]
    assert v["gap_closed"] > 0.2


def test_dark_knowledge_helps_even_from_a_teacher_that_saw_only_the_students_labels(lab):
    """Review M5, Hinton et al.'s setting: teacher and student learn from the same examples."""
    v = lab["values"]
    assert v["teacher_error"] < v["same_data_teacher_error"], "the big teacher learned from more labels"
    assert max(v["same_data_distilled_errors"]) < min(v["hard_label_errors"]), (
        v["same_data_distilled_errors"],
        v["hard_label_errors"],
    )


def test_most_of_the_headline_gain_is_the_big_teachers_extra_labels(lab):
    v = lab["values"]
    hard = v["hard_label_error_median"]
    same_data_gain = hard - v["same_data_distilled_error_median"]
    big_teacher_gain = hard - v["distilled_error_median"]
    assert max(v["distilled_errors"]) < min(v["same_data_distilled_errors"])
    assert same_data_gain < 0.5 * big_teacher_gain, (same_data_gain, big_teacher_gain)


def test_the_big_teachers_argmax_labels_help_no_more_than_the_true_labels(lab):
    """What transfers travels in the soft targets, not in better hard labels."""
    v = lab["values"]
    assert v["teacher_argmax_agreement"] > 0.9
    assert abs(v["argmax_label_error_median"] - v["hard_label_error_median"]) < 0.02
    assert max(v["distilled_errors"]) < min(v["argmax_label_errors"])


def test_a_high_temperature_beats_t_equals_1(lab):
    v = lab["values"]
    by_t = dict(zip(v["temperatures"], v["error_by_temperature"], strict=True))
    assert v["best_temperature"] > 1
    assert by_t[v["best_temperature"]] < by_t[1.0] - 0.05


def test_the_teacher_labels_unlabeled_inputs_better_than_the_same_number_of_labels(lab):
    v = lab["values"]
    assert np.all(np.array(v["unlabeled_distilled_error_by_size"]) < np.array(v["hard_label_error_by_size"]))


def test_a_class_the_student_never_saw_is_learned_from_the_teacher(lab):
    """Hinton et al.'s omitted 3s: with hard labels the student cannot name the class at all."""
    v = lab["values"]
    assert v["missing_class_accuracy_hard"] == 0.0
    assert v["missing_class_accuracy_distilled"] > 0.3


def test_the_student_is_far_cheaper(lab):
    v, t = lab["values"], lab["timings"]
    assert v["parameter_ratio"] > 50 and v["flop_ratio"] > 50
    assert t["latency_ratio_batch"] > 1 and t["latency_ratio_one_signal"] > 1


def test_a_distilled_byte_level_student_beats_the_same_student_on_the_bytes_alone(lab):
    """Part 10: the course model teaches a student several times smaller, at equal steps and data."""
    v = lab["values"]
    assert v["lm_size_ratio"] > 4, "several times smaller"
    assert v["lm_distilled_bits_per_byte"] < v["lm_bytes_only_bits_per_byte"] - 0.05
    assert v["lm_teacher_bits_per_byte"] < v["lm_distilled_bits_per_byte"] - 1.0, "far from the teacher"
    assert v["lm_teacher_bits_per_byte"] < 2.5
