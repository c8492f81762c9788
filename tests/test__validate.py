"""labsupport._validate: the argument checks every module shares, and the call sites that use them."""

import math

import pytest
import torch
from torch import nn

from labsupport._validate import (
    describe,
    function,
    instance,
    int_in,
    module,
    non_negative_int,
    number_in,
    one_of,
    positive_int,
    tensor,
    top_k,
)


def test_valid_values_pass_through():
    layer = nn.Linear(2, 2)
    x = torch.zeros(3, dtype=torch.long)
    assert positive_int("k", 3) == 3 and non_negative_int("n", 0) == 0
    assert int_in("bits", 8, 2, 8) == 8 and int_in("n", 10, 10) == 10
    assert number_in("p", 0.5, 0, 1) == 0.5 and number_in("lr", 3, 0, low_open=True) == 3
    assert one_of("task", "cpu", ("smoke", "cpu")) == "cpu" and one_of("fallback", None, ("a", None)) is None
    assert tensor("x", x, ndim=1, dtype=torch.long) is x and tensor("x", x, dtype="integer") is x
    assert module("model", layer) is layer and function("fn", print) is print
    assert instance("layer", layer, nn.Linear) is layer and top_k(2, 4) == (2, 4)


@pytest.mark.parametrize("bad", [0, -1, 1.0, "1", True, None])
def test_positive_int_rejects(bad):
    with pytest.raises(ValueError, match=rf"k must be a positive int, got {bad!r}"):
        positive_int("k", bad)


@pytest.mark.parametrize("bad", [-1, 0.0, None, False, True])
def test_non_negative_int_rejects(bad):
    with pytest.raises(ValueError, match=r"n must be a non-negative int, got"):
        non_negative_int("n", bad)


def test_int_in_names_the_range():
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 8\], got 9"):
        int_in("bits", 9, 2, 8)
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 8\], got True"):
        int_in("bits", True, 2, 8)
    with pytest.raises(ValueError, match="num_samples must be an int >= 10, got 9"):
        int_in("num_samples", 9, 10)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("p", 1.5, 0, 1), {}, r"p must be a number in \[0, 1\], got 1.5"),
        (("p", True, 0, 1), {}, r"p must be a number in \[0, 1\], got True"),
        (("p", 1.0, 0, 1), {"low_open": True, "high_open": True}, r"p must be a number in \(0, 1\), got 1.0"),
        (("lr", 0.0, 0), {"low_open": True}, "lr must be a number > 0, got 0.0"),
        (("ridge", -1, 0), {}, "ridge must be a number >= 0, got -1"),
        (("x", math.inf), {}, "x must be a finite number, got inf"),
        (("x", math.nan, 0), {}, "x must be a number >= 0, got nan"),
        (("x", "1", None, 2), {}, "x must be a number <= 2, got '1'"),
    ],
)
def test_number_in_rejects(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        number_in(*args, **kwargs)


def test_one_of_is_worded_one_way():
    with pytest.raises(
        ValueError, match=r"^task must be one of \['regression', 'classification'\], got 'ranking'$"
    ):
        one_of("task", "ranking", ("regression", "classification"))
    with pytest.raises(ValueError, match=r"got 1 \(a hint\)$"):
        one_of("mode", 1, ["1", True], hint=" (a hint)")


def test_tensor_says_what_was_expected_and_given():
    with pytest.raises(
        TypeError, match=r"x must be a 1-D tensor, got a torch.float32 tensor of shape \(2, 2\)"
    ):
        tensor("x", torch.zeros(2, 2), ndim=1)
    with pytest.raises(TypeError, match=r"x must be a tensor of dtype torch\.int64, got list"):
        tensor("x", [1, 2], dtype=torch.long)
    with pytest.raises(TypeError, match=r"w must be a floating-point tensor, got a torch\.int64 tensor"):
        tensor("w", torch.arange(3), dtype="floating")
    with pytest.raises(TypeError, match=r"i must be an integer tensor, got a torch\.bool tensor"):
        tensor("i", torch.zeros(2, dtype=torch.bool), dtype="integer")
    with pytest.raises(TypeError, match="y must be a tensor of labels, got int"):
        tensor("y", 3, what="tensor of labels")
    assert describe(torch.zeros(3)) == "a torch.float32 tensor of shape (3,)" and describe(3) == "int"


def test_objects_of_the_wrong_kind_are_type_errors():
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got str"):
        module("model", "model")
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        function("fn", 3)
    with pytest.raises(TypeError, match=r"layer must be a Linear or a Conv1d, got a torch\.float32 tensor"):
        instance("layer", torch.zeros(1), (nn.Linear, nn.Conv1d))


def test_top_k():
    with pytest.raises(ValueError, match=r"k \(experts per token\) must be at most num_experts=4, got k=5"):
        top_k(5, 4)
    with pytest.raises(ValueError, match="k must be a positive int, got True"):
        top_k(True, 4)


# ---------------------------------------------------------------- call sites that accepted True before


def _calls():
    from labsupport.complexity import memory_bytes
    from labsupport.data import Split, corrupt_labels, load_mnist1d
    from labsupport.distill import Recipe, train_students
    from labsupport.lm.corpus import eval_windows, sample_windows
    from labsupport.scaling import fit_chinchilla
    from labsupport.timing import matmul_flops_per_second, time_it
    from labsupport.train import evaluate, fit

    tokens = torch.arange(100, dtype=torch.uint8)
    model = nn.Linear(3, 2)
    data = Split(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)
    return {
        "load_mnist1d(seed=True)": (lambda: load_mnist1d(seed=True, cache=False), "seed"),
        "sample_windows(batch_size=True)": (lambda: sample_windows(tokens, True, 4), "batch_size"),
        "sample_windows(context=True)": (lambda: sample_windows(tokens, 2, True), "context"),
        "eval_windows(max_windows=True)": (lambda: eval_windows(tokens, 4, max_windows=True), "max_windows"),
        "fit(steps=True)": (lambda: fit(model, data, steps=True, batch_size=2, optimizer=opt), "steps"),
        "fit(batch_size=True)": (
            lambda: fit(model, data, steps=1, batch_size=True, optimizer=opt),
            "batch_size",
        ),
        "evaluate(batch_size=True)": (lambda: evaluate(model, data, batch_size=True), "batch_size"),
        "time_it(repeats=True)": (lambda: time_it(lambda: None, repeats=True), "repeats"),
        "time_it(warmup=True)": (lambda: time_it(lambda: None, warmup=True), "warmup"),
        "matmul_flops_per_second(True)": (lambda: matmul_flops_per_second(True), "n"),
        "memory_bytes(True)": (lambda: memory_bytes(True), "num_params"),
        "train_students(steps=True)": (
            lambda: train_students(
                lambda: nn.Linear(3, 2), [Recipe(0, torch.arange(4))], x, y, steps=True, batch_size=2
            ),
            "steps",
        ),
        "train_students(batch_size=True)": (
            lambda: train_students(
                lambda: nn.Linear(3, 2), [Recipe(0, torch.arange(4))], x, y, steps=1, batch_size=True
            ),
            "batch_size",
        ),
        "Recipe(temperature=True)": (lambda: Recipe(0, torch.arange(4), temperature=True), "temperature"),
        "corrupt_labels(num_classes=True)": (lambda: corrupt_labels(y, 0.5, True), "num_classes"),
        "fit_chinchilla(starts=True)": (
            lambda: fit_chinchilla([1e6] * 6, [1e9] * 6, [3.0] * 6, starts=True),
            "starts",
        ),
    }


@pytest.mark.parametrize("call", sorted(_calls()))
def test_true_is_rejected_where_an_int_or_a_number_is_expected(call):
    fn, name = _calls()[call]
    with pytest.raises(ValueError, match=rf"^{name} must be .*, got True$"):
        fn()
