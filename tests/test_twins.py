"""A definition a lab writes out and ``labsupport`` also ships must be the same thing.

A lab writes a model or an algorithm on the page, then uses ``labsupport``'s version (faster,
or loaded by later labs). This test finds every top-level ``def``/``class`` of a lab whose name
``labsupport`` also defines, runs the lab's definitions (its imports, functions and classes,
nothing else), and compares each with its twin on the same inputs and weights. A new twin with
no comparison here fails, naming itself; a name that is deliberately a different thing goes in
``NOT_TWINS`` with the reason.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import labsupport

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted((ROOT / "labs").glob("*.ipynb"))

#: (lab stem, name) -> why the lab's definition is not the library's.
NOT_TWINS: dict[tuple[str, str], str] = {}


def library_definitions() -> dict[str, Any]:
    """Every function and class defined in a labsupport module, by name."""
    found = {}
    for info in pkgutil.walk_packages(labsupport.__path__, "labsupport."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) == info.name and callable(value):
                found.setdefault(name, value)
    return found


def lab_definitions(lab: Path) -> tuple[dict[str, Any], set[str]]:
    """The lab's imports, functions and classes run in order: (namespace, defined names)."""
    # a module of its own, as a kernel's __main__ is (dataclasses look their module up)
    module = types.ModuleType(f"lab_{lab.stem}")
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    defined = set()
    for cell in json.loads(lab.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        # IPython's magics become `pass`, keeping the indentation
        lines = [
            line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
            for line in "".join(cell["source"]).splitlines()
        ]
        tree = ast.parse("\n".join(lines))
        keep = [
            node
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)
        ]
        defined |= {node.name for node in keep if isinstance(node, ast.FunctionDef | ast.ClassDef)}
        exec(compile(ast.Module(body=keep, type_ignores=[]), lab.name, "exec"), namespace)
    return namespace, defined


def _same_module(theirs_cls: type, ours_cls: type, *args: Any, inputs: torch.Tensor) -> None:
    torch.manual_seed(0)
    theirs = theirs_cls(*args)
    ours = ours_cls(*args)
    assert {k: v.shape for k, v in theirs.state_dict().items()} == {
        k: v.shape for k, v in ours.state_dict().items()
    }, "different parameters"
    theirs.load_state_dict(ours.state_dict())
    theirs.eval(), ours.eval()
    torch.testing.assert_close(theirs(inputs), ours(inputs))


def _bytelm(ns: dict, lib: Any) -> None:
    _same_module(ns["ByteLM"], lib.ByteLM, 32, 2, 16, inputs=torch.randint(0, 256, (2, 16)))


def _block(ns: dict, lib: Any) -> None:
    _same_module(ns["Block"], lib.Block, 32, 4, inputs=torch.randn(2, 8, 32))


def _non_embedding(ns: dict, lib: Any) -> None:
    model = lib.ByteLM(32, 2, 16)
    assert ns["non_embedding_parameters"](model) == lib.non_embedding_parameters(model)


def _bits_per_byte(ns: dict, lib: Any) -> None:
    torch.manual_seed(0)
    model = lib.ByteLM(32, 1, 16).eval()
    x, y = torch.randint(0, 256, (5, 16)), torch.randint(0, 256, (5, 16))
    theirs = ns["bits_per_byte"]
    # Lab 2's takes the device its windows go to
    extra = {"device": "cpu"} if "device" in inspect.signature(theirs).parameters else {}
    assert theirs(model, x, y, **extra) == pytest.approx(lib.bits_per_byte(model, x, y), rel=1e-5)


def _distillation_loss(ns: dict, lib: Any) -> None:
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 10), torch.randn(6, 10), torch.randint(0, 10, (6,))
    for temperature, alpha in [(1.0, 0.5), (4.0, 0.1), (2.0, 1.0)]:
        torch.testing.assert_close(
            ns["distillation_loss"](s, t, y, temperature, alpha),
            lib.distillation_loss(s, t, y, temperature=temperature, alpha=alpha),
        )


def _moe_layer(ns: dict, lib: Any) -> None:
    for k in (1, 2):
        _same_module(ns["MoELayer"], lib.MoELayer, 6, 8, 3, 4, k, inputs=torch.randn(10, 6))


def _dense_mlp(ns: dict, lib: Any) -> None:
    _same_module(ns["DenseMLP"], lib.DenseMLP, 6, 8, 3, inputs=torch.randn(10, 6))


def _tokens_for_loss(ns: dict, lib: Any) -> None:
    law = labsupport.HOFFMANN_2022
    for N, target in [(1e9, 2.5), (7e10, 2.0), (1e8, 3.0)]:
        assert ns["tokens_for_loss"](law, N, target) == pytest.approx(
            lib.tokens_for_loss(law, N, target), rel=1e-6
        )


def _total_flops(ns: dict, lib: Any) -> None:
    for N, D, queries in [(385, 1.3e5, 0), (1537, 5e4, 1e6), (8e9, 15e12, 1e12)]:
        assert ns["total_flops"](N, D, queries) == pytest.approx(lib.total_flops(N, D, queries), rel=1e-12)


#: name -> compare(the lab's namespace, the module that ships the twin)
COMPARE: dict[str, Callable[[dict, Any], None]] = {
    "Block": _block,
    "ByteLM": _bytelm,
    "non_embedding_parameters": _non_embedding,
    "bits_per_byte": _bits_per_byte,
    "distillation_loss": _distillation_loss,
    "MoELayer": _moe_layer,
    "DenseMLP": _dense_mlp,
    "tokens_for_loss": _tokens_for_loss,
    "total_flops": _total_flops,  # Lab 8's, and the one its decision checks cost with
}


def _twins() -> list[tuple[str, str]]:
    library = library_definitions()
    pairs = []
    for lab in LABS:
        _, defined = lab_definitions(lab)
        pairs += [
            (lab.stem, name) for name in sorted(defined & set(library)) if (lab.stem, name) not in NOT_TWINS
        ]
    return pairs


TWINS = _twins()


def test_the_labs_twins_are_known():
    assert len(TWINS) >= 9, f"fewer twins than the labs wrote: {TWINS}"
    unknown = [pair for pair in TWINS if pair[1] not in COMPARE]
    assert not unknown, f"a lab defines a name labsupport ships, with no comparison in COMPARE: {unknown}"


@pytest.mark.parametrize(("stem", "name"), TWINS, ids=[f"{s}-{n}" for s, n in TWINS])
def test_the_lab_and_labsupport_agree(stem, name):
    namespace, _ = lab_definitions(ROOT / "labs" / f"{stem}.ipynb")
    library = library_definitions()
    module = importlib.import_module(library[name].__module__)
    COMPARE[name](namespace, module)
