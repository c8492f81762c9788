"""The T4 estimate of the ``gpu`` profile (``tools/gpu_estimate.py``): its counter agrees with the
course's, Lab 1's ledger matches a count by hand, and its table is what the title cells read."""

import contextlib
import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from labsupport import count_flops
from labsupport.settings.complexity import ComplexitySettings
from tools import gpu_estimate, sync_labs
from tools.gpu_count import Cost, cuda_like_optimizers, measure
from tools.gpu_labs import lab_complexity
from tools.gpu_ledger import Workload, definitions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lab1() -> dict:
    return definitions("01_complexity")


def test_the_counter_agrees_with_count_flops(lab1):
    """The same FLOPs as labsupport.count_flops, attention included, forward and backward."""
    torch.manual_seed(0)
    cases = [
        (lab1["TinyTransformer"](256, 32, n_layers=2, d_model=64, n_heads=4), torch.randint(0, 256, (3, 32))),
        (lab1["SmallCNN"](8), torch.randn(5, 1, 28, 28)),
    ]
    for model, x in cases:
        with torch.no_grad():
            forward = measure(lambda m=model, x=x: m(x))
        assert forward.flops == count_flops(model, x) > 0

        def train(m: nn.Module = model, x: torch.Tensor = x) -> None:
            m(x).sum().backward()

        assert measure(train).flops == count_flops(model, x, backward=True)


def test_lab1_training_is_counted_as_by_hand():
    """Lab 1's gpu ledger: the MLP's Adam steps and the timed matmul, against a count by hand."""
    cfg = ComplexitySettings.for_profile("gpu")
    rows = {w.what: w for w in lab_complexity(cfg)}
    dims = [784, 256, 256, 10]
    products = sum(a * b for a, b in itertools.pairwise(dims))
    # forward 2 FLOPs per multiply-add; backward the weights' gradients (as many) and the inputs'
    # of every layer but the first (the images need none)
    by_hand = cfg.train_batch * (2 * products + 2 * products + 2 * (products - 784 * 256))
    mlp = rows["MLP training"]
    assert (mlp.cost.flops, mlp.repeat) == (by_hand, cfg.train_steps)
    matmul = rows[f"{cfg.matmul_n}x{cfg.matmul_n} matmul"]
    assert matmul.total.flops == 2 * cfg.matmul_n**3 * (cfg.repeats + 2)
    # the training data (MNIST's 60,000 images) stays on the device: resident, not per step
    assert mlp.resident > 60_000 * 784 * 4
    longer = {w.what: w for w in lab_complexity(dataclasses.replace(cfg, train_steps=2 * cfg.train_steps))}
    assert longer["MLP training"].total.flops == 2 * mlp.total.flops


def test_peak_memory_follows_frees():
    """A chain of layers without gradients holds two activations at once, not all of them."""
    layers = nn.Sequential(*[nn.Linear(256, 256) for _ in range(8)])
    x = torch.randn(1024, 256)
    with torch.no_grad():
        peak = measure(lambda: layers(x)).peak
    one = 1024 * 256 * 4
    assert one <= peak <= 3 * one


def test_optimizers_count_as_on_a_gpu_inside_the_context():
    """On a GPU Adam uses multi-tensor kernels: fewer launches than its loop over tensors."""
    model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(6)])
    model(torch.randn(2, 8)).sum().backward()
    counts = []
    for cuda in (False, True):
        with cuda_like_optimizers() if cuda else contextlib.nullcontext():
            adam = torch.optim.Adam(model.parameters())
            adam.step()
            counts.append(measure(adam.step).ops)
    assert counts[1] < counts[0] / 2


def test_the_time_model():
    """FLOPs at the device's rate, launches at its time per operation, host work at the host's."""
    gpu = gpu_estimate.Machine("gpu", 1e12, 1e11, 1e11, 1e-5)
    cpu = gpu_estimate.Machine("cpu", 1e10, 5e9, 1e10, 2e-6)
    step = Cost(flops=1e9, ops=100, traffic=1e8)
    assert gpu.seconds(Workload("w", 10, step), cpu) == pytest.approx(10 * (1e-3 + 1e-3 + 1e-3))
    assert gpu.seconds(Workload("w", 10, step, fp64=True), cpu) == pytest.approx(10 * (1e-2 + 2e-3))
    assert gpu.seconds(Workload("w", 10, step, host=True), cpu) == pytest.approx(10 * (0.1 + 2e-4 + 1e-2))
    assert [gpu_estimate.minutes(s) for s in (5, 60, 61, 600)] == [1, 1, 2, 10]


def test_an_unknown_lab_is_refused():
    with pytest.raises(ValueError, match="no ledger for '09_missing'"):
        gpu_estimate.ledger("09_missing", "gpu")


def test_the_table_is_what_the_title_cells_read(tmp_path, monkeypatch):
    cpu = gpu_estimate.Machine("cpu", 5e10, 2e10, 1e10, 1e-5)
    e = gpu_estimate.Estimate(
        "01_complexity", 4e13, 0.9 * 2**30, 100.0, 5.0, 5e11, 20.0, 34.0, 5e10, "CNN training"
    )
    path = tmp_path / "gpu_estimates.md"
    path.write_text(gpu_estimate.table([e], cpu), encoding="utf-8")
    monkeypatch.setattr(sync_labs, "GPU_ESTIMATES", path)
    minutes = gpu_estimate.minutes(100 + 5 + (34 - 20) + gpu_estimate.COLAB_SETUP_SECONDS + 5)
    assert sync_labs.gpu_minutes() == {"01_complexity": minutes}
    assert sync_labs.gpu_text("01_complexity") == f"gpu on a free Colab T4 ≈ {minutes} min (estimate)"
    assert sync_labs.GPU_RE.fullmatch(sync_labs.gpu_text("01_complexity"))
    assert "| 01_complexity | 40.0 | 0.90 |" in path.read_text(encoding="utf-8")


def test_every_lab_has_a_ledger_and_its_title_states_the_estimate():
    labs = sorted(p.stem for p in (ROOT / "labs").glob("*.ipynb"))
    assert sorted(gpu_estimate.LEDGERS) == labs
    assert sorted(sync_labs.gpu_minutes()) == labs, "run `python -m tools.gpu_estimate` after adding a lab"
    for lab in labs:
        cells = json.loads((ROOT / "labs" / f"{lab}.ipynb").read_text(encoding="utf-8"))["cells"]
        assert sync_labs.gpu_text(lab) in "".join(cells[0]["source"]), (
            f"{lab}: the title cell must state {sync_labs.gpu_text(lab)!r} (make sync-labs)"
        )
