"""Chapter 4's claims, on Lab 4's own cpu-profile run."""

import numpy as np
import pytest

from labsupport.checks.distill import supported_conclusion


@pytest.fixture(scope="module")
def lab(cpu_run):
    return cpu_run("04_distillation")


def test_the_distilled_student_beats_hard_labels_on_every_seed(lab, claim):
    v = lab["values"]
    worst, best = max(v["distilled_errors"]), min(v["hard_label_errors"])
    claim("worst distilled error", worst, "<", best, "below the best hard-label error")
    assert v["teacher_error"] < v["distilled_error_median"]
    claim("gap_closed", v["gap_closed"], ">", 0.2, "distillation closes a fifth of the gap")


def test_dark_knowledge_helps_even_from_a_teacher_that_saw_only_the_students_labels(lab):
    """Review M5, Hinton et al.'s setting: teacher and student learn from the same examples."""
    v = lab["values"]
    assert v["teacher_error"] < v["same_data_teacher_error"], "the big teacher learned from more labels"
    assert max(v["same_data_distilled_errors"]) < min(v["hard_label_errors"]), (
        v["same_data_distilled_errors"],
        v["hard_label_errors"],
    )


def test_most_of_the_headline_gain_is_the_big_teachers_extra_labels(lab, claim):
    v = lab["values"]
    hard = v["hard_label_error_median"]
    same_data_gain = hard - v["same_data_distilled_error_median"]
    big_teacher_gain = hard - v["distilled_error_median"]
    assert max(v["distilled_errors"]) < min(v["same_data_distilled_errors"])
    claim("same-data gain", same_data_gain, "<", 0.5 * big_teacher_gain, "under half the headline gain")


def test_the_big_teachers_argmax_labels_help_no_more_than_the_true_labels(lab, claim):
    """What transfers travels in the soft targets, not in better hard labels."""
    v = lab["values"]
    claim("teacher_argmax_agreement", v["teacher_argmax_agreement"], ">", 0.9, "the teacher is mostly right")
    difference = abs(v["argmax_label_error_median"] - v["hard_label_error_median"])
    claim("argmax vs true labels", difference, "<", 0.02, "argmax labels help no more than true ones")
    assert max(v["distilled_errors"]) < min(v["argmax_label_errors"])


def test_a_high_temperature_beats_t_equals_1(lab, claim):
    v = lab["values"]
    by_t = dict(zip(v["temperatures"], v["error_by_temperature"], strict=True))
    assert v["best_temperature"] > 1
    claim("error at the best T", by_t[v["best_temperature"]], "<", by_t[1.0] - 0.05, "5 points below T=1")


def test_the_teacher_labels_unlabeled_inputs_better_than_the_same_number_of_labels(lab):
    v = lab["values"]
    assert np.all(np.array(v["unlabeled_distilled_error_by_size"]) < np.array(v["hard_label_error_by_size"]))


def test_a_class_the_student_never_saw_is_learned_from_the_teacher(lab, claim):
    """Hinton et al.'s omitted 3s: with hard labels the student cannot name the class at all."""
    v = lab["values"]
    assert v["missing_class_accuracy_hard"] == 0.0
    claim("missing_class_accuracy_distilled", v["missing_class_accuracy_distilled"], ">", 0.3, "learned")


def test_the_student_is_far_cheaper(lab, claim):
    v, t = lab["values"], lab["timings"]
    assert v["parameter_ratio"] > 50 and v["flop_ratio"] > 50
    claim("latency_ratio_batch", t["latency_ratio_batch"], ">", 1, "the student is faster on a batch")
    claim("latency_ratio_one_signal", t["latency_ratio_one_signal"], ">", 1, "and on one signal")


def test_a_distilled_byte_level_student_beats_the_same_student_on_the_bytes_alone(lab, claim):
    """Part 10: the course model teaches a student several times smaller, at equal steps and data."""
    v = lab["values"]
    assert v["lm_size_ratio"] > 4, "several times smaller"
    distilled, alone = v["lm_distilled_bits_per_byte"], v["lm_bytes_only_bits_per_byte"]
    claim("lm_distilled_bits_per_byte", distilled, "<", alone - 0.05, "distillation helps")
    teacher = v["lm_teacher_bits_per_byte"]
    claim("lm_teacher_bits_per_byte", teacher, "<", distilled - 1.0, "far from the teacher")
    assert v["lm_teacher_bits_per_byte"] < 2.5


def test_a_better_teacher_model_is_not_a_better_teacher(lab, claim):
    """Exercise 2, the designed experiment (the solution's design: every width, the main seeds):
    each wider teacher is a better model, yet a smaller one teaches this student at least as
    well (Cho & Hariharan's capacity gap), and every teacher beats the labels alone."""
    v = lab["values"]
    widths, teachers = v["capacity_teacher_widths"], v["capacity_teacher_errors"]
    students, spreads = v["capacity_student_error_means"], v["capacity_student_error_spreads"]
    assert len(widths) >= 2 and len(v["capacity_seeds"]) >= 2 and widths == sorted(widths)
    assert np.all(np.diff(teachers) < 0), teachers
    best_smaller = min(students[:-1])
    claim("best smaller teacher's students", best_smaller, "<", students[-1], "no worse than the biggest's")
    control = float(np.mean(v["capacity_control_errors"]))
    claim("students of the worst teacher", max(students), "<", control, "beat the labels alone")
    # the conclusion is the one the numbers support: arms of mean m and spread s as (m ± s/2)
    arms = {w: [m - s / 2, m + s / 2] for w, m, s in zip(widths, students, spreads, strict=True)}
    assert v["capacity_conclusion"] == supported_conclusion(arms) != "bigger is better"
