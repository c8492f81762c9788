"""Chapter 6's headline effects on real, small MNIST-1D runs (quantization, outliers, LoRA)."""

from __future__ import annotations

import copy
import statistics

import pytest
import torch
from torch import nn

from labsupport import Split, count_parameters, evaluate, fit, load_mnist1d
from labsupport.lora import add_lora
from labsupport.quantize import fake_quantize

pytestmark = pytest.mark.slow
SEEDS = (0, 1, 2)


class MLP(nn.Module):
    def __init__(self, width: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(40, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture(scope="module")
def data():
    return load_mnist1d(10_000)


@pytest.fixture(scope="module")
def models(data) -> list[MLP]:
    """One trained MLP per seed, as in Lab 6 part 1 (about 5 s each)."""
    out = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = MLP()
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
        fit(model, data.train, steps=1500, batch_size=128, optimizer=optimizer, progress=False,
            generator=torch.Generator().manual_seed(seed))  # fmt: skip
        out.append(model.eval())
    return out


def quantized_copy(model: nn.Module, **how) -> nn.Module:
    q = copy.deepcopy(model)
    with torch.no_grad():
        for layer in q.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(fake_quantize(layer.weight, **how))
    return q


def accuracy(model: nn.Module, split: Split) -> float:
    return evaluate(model, split)["accuracy"]


def test_int8_per_channel_keeps_accuracy_and_int4_needs_groups(data, models):
    fp32 = [accuracy(m, data.test) for m in models]
    int8 = [accuracy(quantized_copy(m, bits=8, granularity="channel"), data.test) for m in models]
    int4_tensor = [accuracy(quantized_copy(m, bits=4), data.test) for m in models]
    int4_group = [
        accuracy(quantized_copy(m, bits=4, granularity="group", group_size=8), data.test) for m in models
    ]
    drops = [a - b for a, b in zip(fp32, int8, strict=True)]
    loss_tensor = statistics.median(a - b for a, b in zip(fp32, int4_tensor, strict=True))
    loss_group = statistics.median(a - b for a, b in zip(fp32, int4_group, strict=True))
    # Measured while writing the test (seeds 0-4): int8 per channel moved accuracy by at most
    # 0.2 points; int4 per tensor lost 2.8-5.1 points, int4 in groups of 8 lost -0.6 to 0.9
    # (medians 3.8 and 0.2). "Within 1 point" for int8 is the chapter's claim; "2 points more"
    # for int4 fails if the group scales did nothing (then both lose the same).
    assert max(drops) < 0.01, (fp32, int8)
    assert loss_tensor > loss_group + 0.02, (fp32, int4_tensor, int4_group)


def with_outliers(model: MLP, rows: torch.Tensor, factor: float) -> nn.Module:
    """The same function with `rows` of the first layer `factor` times larger (Lab 6 part 3).

    ReLU(k z) = k ReLU(z) for k > 0, so dividing the matching columns of the next layer by k
    leaves the network's output unchanged in exact arithmetic.
    """
    out = copy.deepcopy(model)
    with torch.no_grad():
        out.net[0].weight[rows] *= factor
        out.net[0].bias[rows] *= factor
        out.net[2].weight[:, rows] /= factor
    return out


def test_outlier_rows_break_per_tensor_int8_but_not_per_channel(data, models):
    rows = torch.arange(4)
    fp32, tensor, channel = [], [], []
    for m in models:
        big = with_outliers(m, rows, factor=200.0)
        fp32.append(accuracy(big, data.test))
        tensor.append(accuracy(quantized_copy(big, bits=8), data.test))
        channel.append(accuracy(quantized_copy(big, bits=8, granularity="channel"), data.test))
    # Measured (seeds 0-4): fp32 accuracy unchanged by the rescaling; per-tensor int8 lost 49-62
    # points, per-channel int8 at most 1.1. Thresholds of 10 and 2 points leave wide margins.
    assert statistics.median(a - b for a, b in zip(fp32, tensor, strict=True)) > 0.10, (fp32, tensor)
    assert max(a - b for a, b in zip(fp32, channel, strict=True)) < 0.02, (fp32, channel)


def shifted(split: Split) -> Split:
    """Lab 6 part 4's new task: every signal rolled 13 steps along its length."""
    return Split(torch.roll(split.x, 13, dims=-1), split.y)


def fine_tune(model: nn.Module, train: Split, test: Split, seed: int) -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    fit(model, train, steps=400, batch_size=128, optimizer=torch.optim.Adam(params, lr=3e-3),
        progress=False, generator=torch.Generator().manual_seed(seed))  # fmt: skip
    return accuracy(model, test)


def test_lora_gets_close_to_full_fine_tuning_with_few_parameters(data, models):
    train = shifted(Split(data.train.x[:1000], data.train.y[:1000]))
    test = shifted(data.test)
    full, lora, last, fraction = [], [], [], []
    for seed, m in zip(SEEDS, models, strict=True):
        full.append(fine_tune(copy.deepcopy(m), train, test, seed))
        torch.manual_seed(seed)
        adapted = add_lora(copy.deepcopy(m), rank=8)
        fraction.append(count_parameters(adapted, trainable_only=True) / count_parameters(m))
        lora.append(fine_tune(adapted, train, test, seed))
        head_only = copy.deepcopy(m).requires_grad_(False)
        head_only.net[4].requires_grad_(True)
        last.append(fine_tune(head_only, train, test, seed))
    full_acc, lora_acc, last_acc = (statistics.median(v) for v in (full, lora, last))
    # Measured (seeds 0-4): full 0.528-0.536, LoRA r=8 0.510-0.525 with 10.9% of the parameters
    # trainable, last layer only 0.418-0.449. LoRA within 4 points of full and 4 points above the
    # last layer: fails if the adapters did not train, or if they were only as good as the head.
    assert max(fraction) < 0.15, fraction
    assert lora_acc > full_acc - 0.04, (full, lora)
    assert lora_acc > last_acc + 0.04, (lora, last)
