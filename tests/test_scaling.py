"""Tests of labsupport.scaling, and of Lab 2's headline effects on real small runs."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labsupport import MLPSweep, Split, evaluate_sweep, train_sweep
from labsupport.corpus import eval_windows, load_text_corpus, sample_windows
from labsupport.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    ChinchillaLaw,
    _chinchilla_objective,
    chinchilla_grid,
    fit_chinchilla,
    fit_power_law,
    isoflop_minimum,
)

# ---------------------------------------------------------------- power law with irreducible term


def test_power_law_recovers_known_constants():
    rng = np.random.default_rng(0)
    x = np.logspace(3, 6, 8)
    y = (1.5 + 30.0 * x**-0.4) * np.exp(rng.normal(0, 1e-3, len(x)))  # 0.1% noise
    law = fit_power_law(x, y)
    assert pytest.approx(1.5, abs=0.02) == law.E
    assert law.alpha == pytest.approx(0.4, abs=0.02)
    assert pytest.approx(30.0, rel=0.1) == law.A
    assert law.r2 > 0.999 and law.rms_log_error < 2e-3
    np.testing.assert_allclose(law(x), y, rtol=5e-3)


def test_pure_power_law_is_the_log_log_line():
    x = np.array([10.0, 100.0, 1000.0])
    law = fit_power_law(x, 3.0 * x**-0.2, irreducible=False)
    assert (law.E, law.A, law.alpha) == (0.0, pytest.approx(3.0), pytest.approx(0.2))
    assert law.r2 == pytest.approx(1.0)


def test_goodness_of_fit_drops_when_the_law_is_wrong():
    x = np.logspace(2, 5, 8)
    y = 1.0 + 5.0 * x**-0.3
    y[3] *= 1.3  # one run 30% off the law
    assert fit_power_law(x, y).r2 < 0.95 < fit_power_law(x, 1.0 + 5.0 * x**-0.3).r2


# ---------------------------------------------------------------- Chinchilla parametric law


def test_objective_gradient_matches_autograd():
    rng = np.random.default_rng(1)
    N, D = np.logspace(6, 9, 12), np.logspace(8, 11, 12)[rng.permutation(12)]
    L = HOFFMANN_2022(N, D) * np.exp(rng.normal(0, 0.01, 12))  # residuals on both sides of delta
    theta = np.array([5.0, 6.0, 0.4, 0.3, 0.25])
    value, grad = _chinchilla_objective(theta, np.log(N), np.log(D), np.log(L), 1e-3)

    t = torch.tensor(theta, requires_grad=True, dtype=torch.float64)
    log_N, log_D, log_L = (torch.tensor(np.log(v)) for v in (N, D, L))
    pred = torch.logsumexp(torch.stack([t[0] - t[3] * log_N, t[1] - t[4] * log_D, t[2].expand(12)]), dim=0)
    loss = F.huber_loss(pred, log_L, delta=1e-3, reduction="sum")  # torch's Huber: the same definition
    loss.backward()
    assert value[0] == pytest.approx(loss.item(), rel=1e-10)
    np.testing.assert_allclose(grad[0], t.grad.numpy(), rtol=1e-8)


def test_chinchilla_fit_recovers_known_constants():
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 10, 6), 5)
    D = np.tile(np.logspace(9, 12, 5), 6)
    L = HOFFMANN_2022(N, D) * np.exp(rng.normal(0, 0.002, len(N)))  # 0.2% noise
    law = fit_chinchilla(N, D, L, starts=8)
    assert pytest.approx(1.69, abs=0.03) == law.E
    assert law.alpha == pytest.approx(0.34, abs=0.02)
    assert law.beta == pytest.approx(0.28, abs=0.02)
    assert law.r2 > 0.999 and law.huber < 1e-3
    # what matters downstream: the allocation it implies
    assert law.a == pytest.approx(HOFFMANN_2022.a, abs=0.02)


def test_grid_is_the_papers():
    grid = chinchilla_grid()
    assert grid.shape == (6 * 6 * 5 * 5 * 5, 5)
    assert sorted(set(grid[:, 0])) == [0, 5, 10, 15, 20, 25]
    assert sorted(set(grid[:, 3])) == [0, 0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize("law", [HOFFMANN_2022, BESIROGLU_2024], ids=["hoffmann", "besiroglu"])
def test_compute_optimal_minimises_the_law_at_fixed_compute(law):
    C = 5.76e23
    N_opt, D_opt = law.compute_optimal(C)
    assert 6 * N_opt[0] * D_opt[0] == pytest.approx(C)
    N = np.logspace(9, 12, 20001)  # brute force along the iso-compute line
    best = N[np.argmin(law(N, C / (6 * N)))]
    assert N_opt[0] == pytest.approx(best, rel=1e-3)
    # the exponents: N_opt grows like C**a
    N_big, _ = law.compute_optimal(C * 1000)
    assert math.log(N_big[0] / N_opt[0], 1000) == pytest.approx(law.a)


def test_published_exponents():
    # Hoffmann et al. Table 2 gives a = 0.46 for approach 3 (from unrounded constants);
    # Besiroglu et al. report a = 0.513.
    assert HOFFMANN_2022.a == pytest.approx(0.46, abs=0.01)
    assert BESIROGLU_2024.a == pytest.approx(0.513, abs=0.002)
    assert HOFFMANN_2022.a + HOFFMANN_2022.b == pytest.approx(1.0)


def test_isoflop_minimum_finds_the_vertex():
    N = np.logspace(2, 4, 7)
    loss = 0.3 * (np.log(N) - np.log(700.0)) ** 2 + 1.0
    assert isoflop_minimum(N, loss) == pytest.approx(700.0, rel=1e-6)
    with pytest.raises(ValueError, match="not U-shaped"):
        isoflop_minimum(N, 5.0 - loss)  # a hill, not a valley


def test_bad_inputs():
    with pytest.raises(ValueError, match="needs at least 4 points"):
        fit_power_law([1, 2, 3], [3, 2, 1])
    with pytest.raises(ValueError, match="must be finite and positive"):
        fit_power_law([1, 2, 3, 4], [3, 2, 0, 1])
    with pytest.raises(ValueError, match="must be finite and positive"):
        fit_power_law([1, -2, 3, 4], [4, 3, 2, 1])
    with pytest.raises(ValueError, match="the same length"):
        fit_power_law([1, 2, 3, 4], [5, 4, 3, 2, 1])
    with pytest.raises(ValueError, match="at least two different values"):
        fit_power_law([2, 2, 2, 2], [4, 3, 2, 1])
    with pytest.raises(ValueError, match="one-dimensional"):
        fit_power_law(np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(TypeError, match="sequence of numbers"):
        fit_power_law(["a", "b", "c", "d"], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="needs at least 6 points"):
        fit_chinchilla([1e6] * 5, [1e9] * 5, [3.0] * 5)
    with pytest.raises(ValueError, match="the same length"):
        fit_chinchilla([1e6] * 6, [1e9] * 7, [3.0] * 6)
    with pytest.raises(ValueError, match="need delta > 0"):
        fit_chinchilla([1e6] * 6, [1e9] * 6, [3.0] * 6, delta=0)
    with pytest.raises(ValueError, match="C must be finite and positive"):
        HOFFMANN_2022.compute_optimal(-1.0)
    with pytest.raises(ValueError, match="needs at least 3 points"):
        isoflop_minimum([1, 2], [2, 1])
    assert isinstance(BESIROGLU_2024, ChinchillaLaw)


# ---------------------------------------------------------------- Lab 2's effects on real runs


def _teacher_sampler(d_in: int, width: int, seed: int):
    torch.manual_seed(seed)
    teacher = nn.Sequential(
        nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1)
    )
    teacher.requires_grad_(False)
    ref = teacher(torch.randn(20_000, d_in, generator=torch.Generator().manual_seed(12345)))
    mean, std = ref.mean(), ref.std()

    def sample(batch_size, generator):
        x = torch.randn(batch_size, d_in, generator=generator)
        return x, (teacher(x) - mean) / std

    return sample


@pytest.mark.slow
def test_isoflop_profiles_have_interior_minima_that_grow_with_compute():
    """Lab 2, part 2 at the cpu profile's two smaller budgets (about 10 s on one thread)."""
    d_in, batch_size, seeds = 4, 128, 2
    sample = _teacher_sampler(d_in, 64, seed=0)
    test = Split(*sample(10_000, torch.Generator().manual_seed(1)))
    grid = [round(2 ** (k / 2)) for k in range(4, 18)]
    minima = []
    for C in (4e7, 1.2e8):
        widths = [w for w in grid if 50 <= C / (6 * (w * (d_in + 2) + 1) * batch_size) <= 2000]
        sweep = MLPSweep(
            [w for w in widths for _ in range(seeds)], d_in, 1, generator=torch.Generator().manual_seed(1)
        )
        N = np.array(sweep.parameter_counts()[::seeds])
        steps = [max(1, round(C / (6 * n * batch_size))) for n in sweep.parameter_counts()]
        train_sweep(sweep, sample, steps=steps, batch_size=batch_size, lr=1e-2, schedule="cosine",
                    generator=torch.Generator().manual_seed(1), progress=False)  # fmt: skip
        loss = evaluate_sweep(sweep, test)["loss"].view(len(widths), seeds).mean(1).numpy()
        best = int(loss.argmin())
        # an interior minimum: the smallest and the largest students are both worse than the best
        assert 0 < best < len(widths) - 1, (C, N.tolist(), loss.tolist())
        minima.append(isoflop_minimum(N, loss))
        assert N.min() < minima[-1] < N.max()
    assert minima[1] >= minima[0], minima


class _TinyLM(nn.Module):
    """A byte-level transformer built from PyTorch's own encoder layer (causal mask)."""

    def __init__(self, d_model: int, context: int):
        super().__init__()
        self.tok = nn.Embedding(256, d_model)
        self.pos = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, max(1, d_model // 16), 4 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d_model)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context))

    def forward(self, idx):
        T = idx.shape[1]
        h = self.tok(idx) + self.pos(torch.arange(T))
        return self.ln(self.layers(h, mask=self.mask[:T, :T], is_causal=True)) @ self.tok.weight.T


@pytest.mark.slow
def test_language_model_sweep_follows_a_power_law(tmp_path, monkeypatch):
    """Lab 2, part 3 in small: final loss against size is described by E + A / N**alpha."""
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path))
    corpus = load_text_corpus(max_bytes=1_000_000)
    context, batch, steps, warmup = 64, 32, 200, 20
    val_x, val_y = eval_windows(corpus.val, context, max_windows=128)
    sizes, losses = [], []
    for d in (8, 12, 16, 24, 32):
        torch.manual_seed(0)
        model = _TinyLM(d, context)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0)
        g = torch.Generator().manual_seed(0)
        for step in range(1, steps + 1):
            for group in opt.param_groups:
                group["lr"] = 1e-2 * min(1.0, step / warmup)
            x, y = sample_windows(corpus.train, batch, context, g)
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val = F.cross_entropy(model(val_x).flatten(0, 1), val_y.flatten()).item() / math.log(2)
        sizes.append(sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("tok", "pos"))))
        losses.append(val)
    law = fit_power_law(sizes, losses)
    # Five runs, three constants. Measured here: R² of log L = 0.9996 and an rms error of 0.1%.
    # The thresholds leave room for other CPUs and library versions, yet a sweep whose loss does
    # not fall smoothly with N fails them (without the warm-up, at a quarter of the tokens, the
    # same sweep gave R² = 0.66 and a 2% error: the noise then hides the law).
    assert law.alpha > 0, law
    assert law.r2 >= 0.98, law
    assert law.rms_log_error < 0.01, law
    assert all(a > b for a, b in pairwise(losses)), losses  # bigger is better here
