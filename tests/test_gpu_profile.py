"""The ``gpu`` profile on this CPU: every lab's configuration builds, and the labs that switch to
the papers' data there (Lab 1 and Lab 4: MNIST, Lab 3: CIFAR-10) load it with their own cells and take a
training step, both from files in torchvision's formats (the real loading path, offline) and
without them (the one-line MNIST-1D fallback a learner offline gets)."""

import json

import nbformat
import pytest

from tests.labrun import LABS, execute_cells, lab_env, lab_path
from tests.vision_files import SKIP_CIFAR10_MD5, write_cifar10, write_mnist
from tools.notebook_run import execute

pytestmark = pytest.mark.slow
FALLBACK = "running on MNIST-1D instead"


def first_code_cells(stem: str) -> list[str]:
    """Ids of a lab's set-up cell and of its settings cell (``cfg = ...Settings.for_profile()``)."""
    nb = json.loads(lab_path(stem).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    config = next(c for c in code if ".for_profile()" in "".join(c["source"]))
    return [code[0]["id"], config["id"]]


REPORT = (
    "import json, labsupport\nprint(json.dumps({'config': repr(cfg), 'profile': labsupport.get_profile()}))"
)


@pytest.fixture(scope="module")
def gpu_configurations(tmp_path_factory) -> dict[str, dict]:
    """Every lab's set-up and configuration cells in ``gpu``, one lab after another in one kernel
    (one torch import, not eight); ``%reset -f`` empties the namespace between labs, so a name
    one lab forgot to import cannot come from the lab before."""
    nb = nbformat.v4.new_notebook()
    for lab in LABS:
        cells = {c.id: c for c in nbformat.read(lab, as_version=4).cells}
        nb.cells += [nbformat.v4.new_code_cell("%reset -f")]
        nb.cells += [cells[i] for i in first_code_cells(lab.stem)] + [nbformat.v4.new_code_cell(REPORT)]
    env = lab_env("gpu", tmp_path_factory.mktemp("cache"))
    execute(nb, cwd=LABS[0].parent, env=env, timeout=600)
    reports = [c for c in nb.cells if c.source == REPORT]
    return {
        lab.stem: json.loads("".join(o.get("text", "") for o in cell.outputs))
        for lab, cell in zip(LABS, reports, strict=True)
    }


@pytest.mark.parametrize("stem", [p.stem for p in LABS])
def test_the_gpu_configuration_builds(stem, gpu_configurations):
    result = gpu_configurations[stem]
    assert result["profile"] == "gpu" and "Settings(" in result["config"]


LAB3_STEP = """
import json
optimizer = torch.optim.SGD(initial_mlp.parameters(), lr=cfg.memo_lr, momentum=0.9)
loss = F.cross_entropy(initial_mlp(x_memo[:8]), y_random[:8])
loss.backward()
optimizer.step()
print(json.dumps({"d_in": x_memo.shape[1], "test": list(x_test.shape), "loss": loss.item(),
                  "source": data.source, "dataset": cfg.memo_dataset}))
"""

LAB4_STEP = """
import json
teacher = Teacher(d_in, cfg.teacher_width, cfg.teacher_dropout).to(device)
optimizer = torch.optim.AdamW(teacher.parameters(), lr=cfg.teacher_lr)
loss = F.cross_entropy(teacher(train.x[:8].to(device)), train.y[:8].to(device))
loss.backward()
optimizer.step()
student = Student(d_in, cfg.student_width).to(device)
soft = distillation_loss(student(train.x[:8].to(device)), teacher(train.x[:8].to(device)).detach(),
                         train.y[:8].to(device), cfg.temperature, cfg.alpha)
soft.backward()
print(json.dumps({"d_in": d_in, "test": list(test.x.shape), "loss": loss.item(), "soft": soft.item(),
                  "source": data.source, "dataset": cfg.dataset}))
"""

LAB1_STEP = """
import json
losses = {}
for name, model in contenders.items():
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = F.cross_entropy(model(data.train.x[:8]), data.train.y[:8])
    loss.backward()
    optimizer.step()
    losses[name] = loss.item()
print(json.dumps({"shape": list(data.train.x.shape[1:]), "losses": losses, "source": data.source,
                  "dataset": cfg.dataset}))
"""

LAB1_CELLS = [
    "0a61f253",
    "956afdce",
    "10a1f001",
    "77f86833",
    "d2663e68",
    "c1b16a02",
    "c1b16a03",
    "10a1f007",
]  # + models
LAB3_CELLS = ["71a6c1c2", "d9da36f3", "ea28534d", "f0a9e970", "ba563c64"]  # + the MLP, its loop (F)
LAB4_CELLS = ["1d8f6249", "8547900e", "b6879ea5", "9030e108", "cf0f54aa", "f2747826"]  # + models, loss


def test_lab1_gpu_trains_both_models_on_mnist_files(tmp_path):
    write_mnist(tmp_path / "torchvision")
    out = execute_cells("01_complexity", LAB1_CELLS, profile="gpu", cache=tmp_path, after=LAB1_STEP)
    result = json.loads(out[-1])
    assert result["dataset"] == "mnist" and "torchvision MNIST" in result["source"]
    assert result["shape"] == [1, 28, 28] and set(result["losses"]) == {"MLP", "CNN"}
    assert FALLBACK not in "".join(out)


def test_lab1_gpu_offline_says_so_and_trains_the_1d_twins(tmp_path):
    out = execute_cells("01_complexity", LAB1_CELLS, profile="gpu", cache=tmp_path, after=LAB1_STEP)
    said = [line for line in "".join(out).splitlines() if FALLBACK in line]
    assert len(said) == 1 and "could not load mnist" in said[0]
    result = json.loads(out[-1])
    assert result["shape"] == [40] and "MNIST-1D" in result["source"]


def test_lab3_gpu_runs_on_cifar10_files(tmp_path):
    write_cifar10(tmp_path / "torchvision")
    out = execute_cells(
        "03_memorization", LAB3_CELLS, profile="gpu", cache=tmp_path, before=SKIP_CIFAR10_MD5, after=LAB3_STEP
    )
    result = json.loads(out[-1])
    assert result["dataset"] == "cifar10" and "CIFAR10" in result["source"]
    assert result["d_in"] == 3072 and result["test"] == [4, 3072]
    assert result["loss"] > 0 and FALLBACK not in "".join(out)


def test_lab3_gpu_offline_says_so_and_runs_on_mnist1d(tmp_path):
    out = execute_cells("03_memorization", LAB3_CELLS, profile="gpu", cache=tmp_path, after=LAB3_STEP)
    said = [line for line in "".join(out).splitlines() if FALLBACK in line]
    assert len(said) == 1 and "could not load cifar10" in said[0]
    result = json.loads(out[-1])
    assert result["d_in"] == 40 and "MNIST-1D" in result["source"] and result["loss"] > 0


def test_lab4_gpu_runs_on_mnist_files(tmp_path):
    write_mnist(tmp_path / "torchvision", train=24_010, test=7)  # more than its 24,000 teacher examples
    out = execute_cells("04_distillation", LAB4_CELLS, profile="gpu", cache=tmp_path, after=LAB4_STEP)
    result = json.loads(out[-1])
    assert result["dataset"] == "mnist" and "torchvision MNIST" in result["source"]
    assert result["d_in"] == 784 and result["test"] == [7, 784]
    assert result["loss"] > 0 and result["soft"] > 0 and FALLBACK not in "".join(out)


def test_lab4_gpu_offline_says_so_and_runs_on_mnist1d(tmp_path):
    out = execute_cells("04_distillation", LAB4_CELLS, profile="gpu", cache=tmp_path, after=LAB4_STEP)
    said = [line for line in "".join(out).splitlines() if FALLBACK in line]
    assert len(said) == 1 and "could not load mnist" in said[0]
    result = json.loads(out[-1])
    assert result["d_in"] == 40 and "MNIST-1D" in result["source"]
