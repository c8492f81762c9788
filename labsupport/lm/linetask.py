"""A task whose answers can be checked: finish a line of Python so that it parses.

Each task is a line of held-out code cut in its second half at a point where the line does not
parse yet (an open bracket, a dangling operator, a name cut in two). The model sees the bytes
before the cut and writes until the end of the line; the **verifier** is Python's own
compiler. Any completion that makes the line parse counts, not only the original one, so a
model may be right in ways the file was not::

    tasks = line_tasks(corpus.val, count=128, prompt_bytes=96, seed=0)
    solved = solve(model, tasks, samples=8, new_bytes=32, temperature=0.8, seed=0)
    solved.mean()  # the share of (task, sample) pairs whose line parses
    solved.any(axis=1).mean()  # best of 8 with the verifier choosing
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from labsupport._validate import int_in, module, number_in, positive_int, tensor
from labsupport.lm.model import ByteLM
from labsupport.lm.serve import generate


def parses(line: bytes) -> bool:
    """Whether ``line`` (one line of Python, indentation removed) compiles on its own.

    A line that opens a block (``if x:``, ``def f():``) compiles with a ``pass`` body; one
    that needs a function or a loop around it (``return x``, ``await y``, ``break``) compiles
    inside one. Lines that only make sense after another (``else:``, ``except E:``) never
    parse alone, and the tasks are drawn so that the original line parses.
    """
    text = line.strip().decode("utf-8", errors="replace")
    if not text or text.startswith("#"):
        return False
    bodies = (text, text + "\n    pass")
    wrapped = [
        b
        for head in ("async def _():\n", "for _ in ():\n")
        for b in (head + "    " + x.replace("\n", "\n    ") for x in bodies)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "invalid escape sequence" in a sampled string
        for candidate in (*bodies, *wrapped):
            try:
                compile(candidate, "<line>", "exec")
                return True
            except (SyntaxError, ValueError):
                pass
    return False


@dataclass(frozen=True)
class LineTasks:
    """``prompts`` ``(count, prompt_bytes)``: the bytes before each cut; ``heads``: each cut line's start."""

    prompts: torch.Tensor
    heads: list[bytes]

    def __len__(self) -> int:
        return len(self.heads)


def line_tasks(
    tokens: torch.Tensor, *, count: int, prompt_bytes: int, seed: int = 0, max_line: int = 72
) -> LineTasks:
    """Draw ``count`` tasks from the lines of ``tokens`` (bytes of held-out code), in file order.

    A line qualifies when it has at least 20 characters, at most ``max_line`` bytes, parses
    on its own and has ``prompt_bytes`` bytes before its cut. The cut falls at a seeded random
    point of the second half of the line where the head alone does not parse. The ``count``
    tasks are a seeded random choice among all qualifying lines, kept in file order.
    """
    tensor("tokens", tokens, ndim=1)
    positive_int("count", count)
    positive_int("prompt_bytes", prompt_bytes)
    data = bytes(tokens.tolist())
    rng = np.random.default_rng(seed)
    prompts, heads, start = [], [], 0
    for line in data.split(b"\n"):
        line_start, start = start, start + len(line) + 1
        body = line.strip()
        if len(body) < 20 or len(line) > max_line or not parses(line):
            continue
        indent = len(line) - len(line.lstrip())
        cut = line_start + indent + int(rng.integers(len(body) // 2, len(body) - 2))
        if cut < prompt_bytes or parses(data[line_start:cut]):
            continue
        prompts.append(list(data[cut - prompt_bytes : cut]))
        heads.append(data[line_start:cut])
    if len(heads) < count:
        raise ValueError(f"only {len(heads)} lines qualify as tasks; asked for count={count}")
    keep = np.sort(rng.choice(len(heads), size=count, replace=False))
    return LineTasks(torch.tensor([prompts[i] for i in keep]), [heads[i] for i in keep])


def solve(
    model: ByteLM,
    tasks: LineTasks,
    *,
    samples: int,
    new_bytes: int,
    temperature: float,
    seed: int = 0,
) -> np.ndarray:
    """``(tasks, samples)`` booleans: whether each sampled completion makes its line parse.

    Every task is continued ``samples`` times (``temperature = 0``: greedily, so all samples
    agree), ``new_bytes`` bytes each, cut at the first newline, then checked by :func:`parses`.
    """
    module("model", model)
    positive_int("samples", samples)
    int_in("new_bytes", new_bytes, 1, model.config.context - tasks.prompts.shape[1])
    number_in("temperature", temperature, 0, None)
    prompts = tasks.prompts.repeat_interleave(samples, dim=0)
    generator = torch.Generator(next(model.parameters()).device).manual_seed(seed)
    out = generate(model, prompts, new_bytes, temperature=temperature, generator=generator)
    out = out[:, tasks.prompts.shape[1] :]
    solved = [
        parses(tasks.heads[i // samples] + bytes(row.tolist()).split(b"\n")[0]) for i, row in enumerate(out)
    ]
    return np.array(solved, dtype=bool).reshape(len(tasks), samples)
