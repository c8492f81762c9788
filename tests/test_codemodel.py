"""Tests of labsupport.lm.model, labsupport.lm.train and the course model they ship."""

from __future__ import annotations

import ast
import itertools
import json
import math
import shutil
import subprocess
import sys

import pytest
import torch
from torch import nn

from labsupport import eval_windows, load_text_corpus
from labsupport.cache import sha256_of
from labsupport.checkpoints import CheckpointError
from labsupport.lm.model import (
    COURSE_MODEL_FILE,
    COURSE_RECORD_FILE,
    HELD_OUT_PACKAGE,
    ByteLM,
    ByteLMConfig,
    bits_per_byte,
    complete,
    course_corpus,
    course_model_record,
    held_out_corpus,
    load_course_model,
    non_embedding_parameters,
    weights_dir,
)
from labsupport.lm.train import learning_rate, train_lm
from tests.conftest import ROOT
from tools.train_course_model import BUDGET_FLOPS, FULL, LAB2_LAW, sized_config


class Uniform(nn.Module):
    """Equal logits for every byte: exactly 8 bits per byte."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.config = ByteLMConfig(16, 1, 8)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*idx.shape, 256)


def test_bytelm_shapes_and_its_parameter_count():
    torch.manual_seed(0)
    model = ByteLM(32, 2, 16)
    assert model(torch.randint(0, 256, (3, 16))).shape == (3, 16, 256)
    blocks = sum(p.numel() for p in model.blocks.parameters()) + sum(p.numel() for p in model.ln.parameters())
    assert non_embedding_parameters(model) == blocks
    assert abs(non_embedding_parameters(model) / (12 * 2 * 32**2) - 1) < 0.1  # about 12 L d^2
    with pytest.raises(ValueError, match="context=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple of 16"):
        ByteLM(24, 1, 8)


def test_the_course_model_is_lab_2s_model():
    """Lab 2 writes ByteLM out; the class the later labs load must be the same model."""
    lab = json.loads((ROOT / "labs" / "02_scaling_laws.ipynb").read_text())
    (cell,) = ["".join(c["source"]) for c in lab["cells"] if "class ByteLM" in "".join(c["source"])]
    tree = ast.parse(cell)
    tree.body = [node for node in tree.body if isinstance(node, ast.ClassDef | ast.FunctionDef)]
    namespace = {"torch": torch, "nn": nn, "F": torch.nn.functional}
    exec(compile(tree, "lab02", "exec"), namespace)
    torch.manual_seed(0)
    theirs = namespace["ByteLM"](32, 2, 16)
    torch.manual_seed(0)
    ours = ByteLM(32, 2, 16)
    assert theirs.state_dict().keys() == ours.state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(theirs.state_dict().values(), ours.state_dict().values(), strict=True)
    )
    x = torch.randint(0, 256, (2, 16))
    assert torch.allclose(theirs(x), ours(x))
    assert namespace["non_embedding_parameters"](theirs) == non_embedding_parameters(ours)


def test_the_held_out_package_is_not_in_the_course_corpus():
    corpus, held_out = course_corpus(), held_out_corpus()
    assert HELD_OUT_PACKAGE in held_out.source and f"without {HELD_OUT_PACKAGE}" in corpus.source
    probe = bytes(held_out.train[1000:1064].tolist())
    assert probe not in bytes(corpus.train.tolist()) + bytes(corpus.val.tolist())


def test_bits_per_byte_of_a_uniform_model_is_eight():
    x = torch.randint(0, 256, (5, 8))
    assert bits_per_byte(Uniform(), x, x, batch_size=2) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="same shape"):
        bits_per_byte(Uniform(), x, x[:, :4])


def test_complete_is_greedy_or_seeded_and_stops_at_a_newline():
    torch.manual_seed(0)
    model = ByteLM(16, 1, 8)
    greedy = complete(model, "def f(", max_bytes=20, stop=None)
    assert greedy == complete(model, "def f(", max_bytes=20, stop=None)
    assert len(greedy.encode("utf-8", errors="surrogateescape")) <= 20 * 3
    # an untrained model is sharply peaked: a high temperature makes the seed matter
    sampled = [complete(model, "x", max_bytes=30, temperature=100.0, seed=s, stop=None) for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2]
    line = complete(model, "x", max_bytes=200, temperature=100.0, seed=0)
    assert "\n" not in line[:-1]
    for kwargs, message in [
        ({"prompt": ""}, "non-empty string"),
        ({"prompt": "a", "temperature": -1.0}, "temperature"),
        ({"prompt": "a", "stop": ""}, "stop"),
    ]:
        with pytest.raises(ValueError, match=message):
            complete(model, **kwargs)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    assert learning_rate(1, 100, 1.0, 10) == pytest.approx(0.1)
    assert learning_rate(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert learning_rate(100, 100, 1.0, 10) == pytest.approx(0.1)
    rates = [learning_rate(s, 100, 1.0, 10) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_train_lm_learns_a_repeating_pattern_and_refuses_frozen_models():
    tokens = torch.tensor(list(b"abcdefgh" * 200), dtype=torch.uint8)
    torch.manual_seed(0)
    model = ByteLM(16, 1, 16)
    x, y = eval_windows(tokens, 16, max_windows=8)
    before = bits_per_byte(model, x, y)
    history = train_lm(model, tokens, steps=60, batch_size=8, context=16, lr=1e-2, seed=0)
    assert len(history.losses) == 60 and history.seconds > 0
    assert bits_per_byte(model, x, y) < min(1.0, before / 4)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_lm(model.requires_grad_(False), tokens, steps=1, batch_size=1, context=16, lr=1e-3, seed=0)


def test_train_lm_evaluates_along_the_way_without_changing_the_run():
    tokens = torch.tensor(list(b"abcdefgh" * 200), dtype=torch.uint8)
    x, y = eval_windows(tokens, 16, max_windows=8)
    runs = {}

    def probe(model):
        return model.training, bits_per_byte(model, x, y)

    for every in (0, 7):
        torch.manual_seed(0)
        model = ByteLM(16, 1, 16)
        hook = {"eval_fn": probe, "eval_every": every} if every else {}
        runs[every] = train_lm(model, tokens, steps=20, batch_size=8, context=16, lr=1e-2, seed=0, **hook)
    assert runs[7].losses == runs[0].losses, "evaluating draws no batches and changes no weights"
    assert runs[7].eval_steps == [7, 14, 20] and runs[0].evals == []
    assert [training for training, _ in runs[7].evals] == [False] * 3
    assert runs[7].evals[-1][1] == pytest.approx(bits_per_byte(model, x, y))
    with pytest.raises(ValueError, match="together"):
        train_lm(model, tokens, steps=1, batch_size=1, context=16, lr=1e-3, seed=0, eval_every=5)


def test_the_course_model_is_sized_by_lab_2s_law():
    sizing = sized_config(LAB2_LAW, BUDGET_FLOPS, FULL.n_layers, FULL.context, FULL.batch_size)
    assert (FULL.d_model, FULL.steps) == (sizing["d_model"], sizing["steps"])
    assert 0.5 < sizing["N"] / sizing["N_opt"] < 2  # the nearest width to the law's optimum


def test_the_shipped_model_matches_its_checksum_and_recorded_bits_per_byte():
    record = course_model_record()
    path = weights_dir() / COURSE_MODEL_FILE
    assert sha256_of(path) == record["sha256"]
    assert (weights_dir() / (COURSE_MODEL_FILE + ".sha256")).read_text().strip() == record["sha256"]
    assert record["training"] == {**vars(FULL)} and record["held_out_package"] == HELD_OUT_PACKAGE
    model = load_course_model()
    assert not model.training and non_embedding_parameters(model) == record["non_embedding_parameters"]
    corpus = course_corpus()
    if record["python"].rsplit(".", 1)[0] != f"{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"the model's validation split is Python {record['python']}'s standard library")
    val_x, val_y = eval_windows(corpus.val, FULL.context, max_windows=FULL.eval_windows)
    assert bits_per_byte(model, val_x, val_y) == pytest.approx(record["val_bits_per_byte"], rel=1e-4)
    assert record["val_bits_per_byte"] < 3.5  # far below the 8 bits of a uniform guess


def test_a_corrupt_or_mismatched_course_model_is_refused(tmp_path):
    shutil.copytree(weights_dir(), tmp_path, dirs_exist_ok=True)
    data = bytearray((tmp_path / COURSE_MODEL_FILE).read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / COURSE_MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        load_course_model(directory=tmp_path)
    shutil.copytree(weights_dir(), tmp_path, dirs_exist_ok=True)
    record = json.loads((tmp_path / COURSE_RECORD_FILE).read_text())
    record["training"]["lr"] = 1.0
    (tmp_path / COURSE_RECORD_FILE).write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="another config"):
        load_course_model(directory=tmp_path)
    with pytest.raises(FileNotFoundError, match="make course-model"):
        course_model_record(tmp_path / "nowhere")


def _check_training_output(out, processes: int) -> None:
    record = course_model_record(out)
    assert record["processes"] == processes and record["training"]["steps"] == 30
    model = load_course_model(directory=out)
    corpus = load_text_corpus("stdlib", max_bytes=300_000, exclude=(HELD_OUT_PACKAGE,))
    val_x, val_y = eval_windows(corpus.val, 32, max_windows=32)
    assert bits_per_byte(model, val_x, val_y) == pytest.approx(record["val_bits_per_byte"], rel=1e-5)
    assert math.isfinite(record["val_bits_per_byte"]) and record["seconds"] > 0


@pytest.mark.slow
def test_the_training_script_runs_end_to_end_in_smoke(tmp_path):
    script = ROOT / "tools" / "train_course_model.py"
    run = subprocess.run(
        [sys.executable, str(script), "--profile", "smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    _check_training_output(tmp_path, processes=1)


@pytest.mark.slow
def test_the_training_script_runs_unchanged_under_torchrun_with_two_gloo_processes(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    script = ROOT / "tools" / "train_course_model.py"
    run = subprocess.run(
        [*torchrun, str(script), "--profile", "smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    _check_training_output(tmp_path, processes=2)
