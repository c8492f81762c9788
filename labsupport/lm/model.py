"""The course's code model: Lab 2's byte-level transformer, trained once on the standard library.

Lab 2 builds :class:`ByteLM` (token and position embeddings, pre-LayerNorm blocks, an output
layer tied to the token embedding) and trains a sweep of small ones. The *course model* is one
larger member of that family, sized with Lab 2's scaling law and trained by
``tools/train_course_model.py`` (``make course-model``) on the Python standard library's
source, without the ``asyncio`` package (held out for Lab 6, which narrows the model to it).
Its weights ship inside this package (``labsupport/weights/``), so every lab and Colab gets
them with the install::

    model = load_course_model()  # checked against its checksum, loaded with weights_only
    print(complete(model, "def __init__(self"))  # greedy, one line

Labs 4 and 6 distil, quantize and narrow it; Lab 7 serves it, with two drafts distilled from it
(:data:`DRAFT_MODELS`, ``tools/train_draft_models.py``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labsupport._validate import int_in, module, non_negative_int, number_in, positive_int, tensor
from labsupport.cache import sha256_of
from labsupport.checkpoints import read_checkpoint_file
from labsupport.lm.corpus import TextCorpus, load_text_corpus

#: Where the shipped weights and their training record live, inside the package.
WEIGHTS_DIR = "weights"
COURSE_MODEL = "course_model"
COURSE_MODEL_FILE = f"{COURSE_MODEL}.pt"
COURSE_RECORD_FILE = f"{COURSE_MODEL}.json"
#: Small models distilled from the course model (``tools/train_draft_models.py``), the drafts
#: of Lab 7's speculative decoding: name -> what it is.
DRAFT_MODELS = {
    "draft_student": "Lab 4's student (d_model 16, two layers), distilled for longer",
    "draft_bigram": "d_model 64 and no blocks: a bigram model, distilled",
}
#: The package the course model never saw, for Lab 6's narrowing.
HELD_OUT_PACKAGE = "asyncio"


@dataclass(frozen=True)
class ByteLMConfig:
    """The shape of a :class:`ByteLM`: width, depth and context (bytes)."""

    d_model: int
    n_layers: int
    context: int

    def __post_init__(self) -> None:
        positive_int("d_model", self.d_model)
        non_negative_int("n_layers", self.n_layers)  # 0: embeddings only, a bigram model
        positive_int("context", self.context)
        if self.d_model % 16:
            raise ValueError(f"d_model must be a multiple of 16 (heads of 16 dimensions), got {self.d_model}")


class Block(nn.Module):
    """Pre-LayerNorm transformer block: causal self-attention, then an MLP with 4*d hidden units."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B, T, d)
        B, T, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)  # each (B, T, d)
        q, k, v = (t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, T, d/heads)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class ByteLM(nn.Module):
    """A byte-level language model (Lab 2): 256 tokens, output layer tied to the token embedding."""

    def __init__(self, d_model: int, n_layers: int, context: int) -> None:
        super().__init__()
        self.config = ByteLMConfig(d_model, n_layers, context)
        self.tok = nn.Embedding(256, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.Sequential(*[Block(d_model, max(1, d_model // 16)) for _ in range(n_layers)])
        self.ln = nn.LayerNorm(d_model)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # (B, T) bytes -> (B, T, 256) logits
        if idx.shape[-1] > self.config.context:
            raise ValueError(f"at most context={self.config.context} bytes per window, got {idx.shape[-1]}")
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        return self.ln(self.blocks(x)) @ self.tok.weight.T


def non_embedding_parameters(model: ByteLM) -> int:
    """N as Kaplan et al. count it (Chapter 2): every parameter but the token and position embeddings."""
    module("model", model)
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("tok.", "pos.")))


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def bits_per_byte(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 64) -> float:
    """Mean next-byte cross-entropy in bits on fixed windows ``x -> y`` (each ``(W, T)``)."""
    module("model", model)
    tensor("x", x, ndim=2)
    tensor("y", y, ndim=2)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    positive_int("batch_size", batch_size)
    device, was_training = _device_of(model), model.training
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size].to(device))  # (b, T, 256)
        total += F.cross_entropy(
            logits.flatten(0, 1).float(), y[i : i + batch_size].to(device).flatten(), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel() / math.log(2)


@torch.no_grad()
def complete(
    model: ByteLM,
    prompt: str,
    *,
    max_bytes: int = 80,
    temperature: float = 0.0,
    seed: int = 0,
    stop: str | None = "\n",
) -> str:
    """Continue ``prompt`` byte by byte: greedy (``temperature=0``) or sampled at ``temperature``.

    Generation stops after ``max_bytes`` bytes or at the first ``stop`` string (``None``: never);
    the continuation is returned without the prompt.
    """
    module("model", model)
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    int_in("max_bytes", max_bytes, 1)
    number_in("temperature", temperature, 0, None)
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise ValueError(f"stop must be a non-empty string or None, got {stop!r}")
    device, was_training = _device_of(model), model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    context = model.config.context
    idx = torch.tensor(list(prompt.encode()), dtype=torch.long)[None]  # (1, T)
    new = bytearray()
    for _ in range(max_bytes):
        logits = model(idx[:, -context:].to(device))[0, -1].float().cpu()  # (256,)
        if temperature == 0:
            token = int(logits.argmax())
        else:
            token = int(torch.multinomial(F.softmax(logits / temperature, dim=0), 1, generator=generator))
        new.append(token)
        idx = torch.cat([idx, torch.tensor([[token]])], dim=1)
        if stop is not None and new.endswith(stop.encode()):
            break
    model.train(was_training)
    return new.decode("utf-8", errors="replace")


def weights_dir() -> Path:
    """The folder inside the installed package that holds the shipped course model."""
    return Path(str(resources.files("labsupport") / WEIGHTS_DIR))


def _model_name(name: str) -> str:
    if name != COURSE_MODEL and name not in DRAFT_MODELS:
        raise ValueError(f"no shipped model {name!r}; the models are {[COURSE_MODEL, *DRAFT_MODELS]}")
    return name


def _make_target(name: str) -> str:
    return "course-model" if name == COURSE_MODEL else "draft-models"


def course_model_record(directory: Path | None = None, *, name: str = COURSE_MODEL) -> dict[str, Any]:
    """What ``tools/train_course_model.py`` recorded: config, sizes, time, bits per byte, checksum.

    ``directory`` defaults to :func:`weights_dir` (the shipped model); ``name`` picks one of
    the drafts (:data:`DRAFT_MODELS`) instead of the course model.
    """
    path = Path(directory or weights_dir()) / f"{_model_name(name)}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"the record of {name} is missing at {path}; run `make {_make_target(name)}` to train it"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def course_corpus(directory: Path | None = None) -> TextCorpus:
    """The corpus the course model trained on: the standard library without :data:`HELD_OUT_PACKAGE`.

    Its validation split holds files the model never trained on. (On another Python version
    the standard library, and so the split, differs a little from the recorded one.)
    """
    record = course_model_record(directory)
    return load_text_corpus(
        "stdlib", max_bytes=record["training"]["corpus_bytes"], exclude=(record["held_out_package"],)
    )


def held_out_corpus(directory: Path | None = None) -> TextCorpus:
    """The package the course model never saw (:data:`HELD_OUT_PACKAGE`), split by files like the rest."""
    record = course_model_record(directory)
    return load_text_corpus(
        "stdlib", max_bytes=record["training"]["corpus_bytes"], only=record["held_out_package"]
    )


def load_course_model(
    device: torch.device | str | None = None, *, directory: Path | None = None, name: str = COURSE_MODEL
) -> ByteLM:
    """The shipped course model in eval mode, on ``device`` (default: the CPU).

    The file must match the SHA-256 in its training record and is read with
    ``torch.load(..., weights_only=True)`` (through :mod:`labsupport.checkpoints`).
    ``directory`` loads another training run's output instead of the shipped model; ``name``
    loads one of the drafts distilled from it (:data:`DRAFT_MODELS`).
    """
    record = course_model_record(directory, name=name)
    path = Path(directory or weights_dir()) / f"{name}.pt"
    what = "the course model" if name == COURSE_MODEL else f"the draft model {name}"
    if not path.is_file():
        raise FileNotFoundError(
            f"the weights of {what} are missing at {path}; run `make {_make_target(name)}`"
        )
    if sha256_of(path) != record["sha256"]:
        raise ValueError(
            f"{what} at {path} does not match the checksum in its record "
            f"({record['sha256'][:12]}...); reinstall labsupport or run `make {_make_target(name)}`"
        )
    shape = ByteLMConfig(**record["model"])
    model = ByteLM(shape.d_model, shape.n_layers, shape.context)
    read_checkpoint_file(path, model, record["training"], label=what)
    return model.to("cpu" if device is None else device).eval()
