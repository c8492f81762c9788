"""The capstone's checkable task: finish a line of Python so that it parses."""

import numpy as np
import pytest
import torch

from labsupport.lm.linetask import line_tasks, parses, solve
from labsupport.lm.model import ByteLM

CODE = b"".join(
    b"x = 1\n    result = compute_value(alpha, beta, gamma)\n"
    + f"    if value_{i} > threshold and not done:\n".encode()
    + b"        return {'key': items[0], 'other': items[-1]}\n"
    for i in range(40)
)


def test_parses_accepts_whole_lines_and_block_openers_and_refuses_broken_ones():
    assert parses(b"    x = f(a, b)")
    assert parses(b"if x > 1:")
    assert parses(b"def f(a, b=2):")
    assert not parses(b"x = f(a, ")
    assert parses(b"        return self._value"), "a line that needs a function parses inside one"
    assert parses(b"await asyncio.sleep(0)") and parses(b"break")
    assert not parses(b"else:"), "lines that need another before them never parse alone"
    assert not parses(b"# a comment")
    assert not parses(b"   ")
    assert parses(b"s = '\\d'"), "a SyntaxWarning is not an error"


def test_tasks_are_cut_where_the_line_does_not_parse_yet():
    tasks = line_tasks(torch.tensor(list(CODE)), count=10, prompt_bytes=32, seed=0)
    assert len(tasks) == 10 and tasks.prompts.shape == (10, 32)
    for prompt, head in zip(tasks.prompts, tasks.heads, strict=True):
        assert not parses(head), head
        assert bytes(prompt.tolist()).endswith(head.lstrip()[-5:])
    again = line_tasks(torch.tensor(list(CODE)), count=10, prompt_bytes=32, seed=0)
    assert again.heads == tasks.heads
    with pytest.raises(ValueError, match="qualify"):
        line_tasks(torch.tensor(list(CODE)), count=10_000, prompt_bytes=32)


def test_solve_checks_every_sample_and_a_greedy_model_agrees_with_itself():
    tasks = line_tasks(torch.tensor(list(CODE)), count=4, prompt_bytes=16, seed=0)
    torch.manual_seed(0)
    model = ByteLM(16, 1, 32).eval()
    sampled = solve(model, tasks, samples=3, new_bytes=8, temperature=1.0, seed=0)
    assert sampled.shape == (4, 3) and sampled.dtype == np.bool_
    greedy = solve(model, tasks, samples=2, new_bytes=8, temperature=0.0)
    assert (greedy[:, 0] == greedy[:, 1]).all()
    with pytest.raises(ValueError, match="new_bytes"):
        solve(model, tasks, samples=1, new_bytes=17, temperature=0.0)
