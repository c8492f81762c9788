"""Past one machine: labsupport.lm.parallel on two "nodes" (two torchrun agents on the loopback
address), and the checks of torchrun's environment that decide each process's device."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

from labsupport.lm import process_group
from labsupport.lm.model import load_course_model
from labsupport.lm.parallel import ParallelRun
from labsupport.lm.process_group import Place, choose_device
from labsupport.lm.serve import generate
from tests.conftest import ROOT

PROMPT = b"    def __init__(self, name):\n        self."
NEW_BYTES = 8
ENV = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "0"}


def test_the_place_is_read_from_torchruns_variables():
    assert Place.from_env(ENV) == Place(rank=3, world=8, local_rank=3, local_world=4, node=0)
    assert Place.from_env({k: v for k, v in ENV.items() if k != "GROUP_RANK"}).node is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"LOCAL_WORLD_SIZE": None}, "missing LOCAL_WORLD_SIZE: start this script with torchrun"),
        ({"RANK": "three"}, "RANK must be an integer, got 'three'"),
        ({"RANK": "8"}, r"RANK=8 must be in 0..WORLD_SIZE-1=7"),
        ({"LOCAL_RANK": "4"}, r"LOCAL_RANK=4 must be in 0..LOCAL_WORLD_SIZE-1=3"),
        ({"LOCAL_WORLD_SIZE": "16"}, r"LOCAL_WORLD_SIZE=16 must be in 1..WORLD_SIZE=8"),
        ({"GROUP_RANK": "-1"}, "GROUP_RANK=-1 must be at least 0"),
    ],
)
def test_an_inconsistent_environment_is_refused_by_name(change, message):
    env = {k: v for k, v in (ENV | change).items() if v is not None}
    with pytest.raises(ValueError, match=message):
        Place.from_env(env)


def test_the_gpu_is_chosen_by_the_local_rank_against_this_nodes_gpus():
    """Two nodes of four GPUs: WORLD_SIZE is 8, yet each process has a GPU of its own."""
    place = Place.from_env(ENV)
    assert choose_device(place, gpus=4) == torch.device("cuda", 3)
    assert choose_device(place, gpus=3) == torch.device("cpu")  # too few: gloo on the CPU
    assert choose_device(place, gpus=0) == torch.device("cpu")


def test_too_few_gpus_fall_back_to_gloo_and_each_node_says_so_once(monkeypatch, capsys):
    backends = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(process_group.dist, "init_process_group", backends.append)
    for local_rank in range(2):
        place = Place(rank=2 + local_rank, world=4, local_rank=local_rank, local_world=2, node=1)
        assert process_group.join(place) == torch.device("cpu")
    assert backends == ["gloo", "gloo"]
    assert capsys.readouterr().err.count("this node has 1 GPU(s) for 2 processes") == 1


@pytest.mark.slow
def test_the_script_outside_torchrun_says_how_to_start_it():
    run = subprocess.run(
        [sys.executable, "-m", "labsupport.lm.parallel", "--modes", "tensor", "--prompt-hex", "41",
         "--new-bytes", "1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")},
    )  # fmt: skip
    assert run.returncode == 2
    assert "start this script with torchrun" in run.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_command(endpoint: str, job: str, out: Path) -> list[str]:
    """What each of the two "nodes" runs: the multi-node command of the Beyond one machine page."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", job,
        "--local-addr", "127.0.0.1", "-m", "labsupport.lm.parallel", "--modes", "tensor,pipeline",
        "--prompt-hex", PROMPT.hex(), "--new-bytes", str(NEW_BYTES), "--out", str(out),
    ]  # fmt: skip


@pytest.mark.slow
def test_two_nodes_on_loopback_decode_as_one_process_and_rank_0_holds_the_result(tmp_path):
    """Two torchrun agents meet at a c10d rendezvous on 127.0.0.1, one process each, gloo.

    Each "node" has its own output folder, as two machines have their own disks: the whole
    result (both processes' records) lands in one folder only, rank 0's.
    """
    endpoint, job = f"127.0.0.1:{free_port()}", f"test-{uuid.uuid4().hex[:8]}"
    env = os.environ | {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    folders = [tmp_path / f"node{i}" for i in range(2)]
    agents = []
    for folder in folders:
        folder.mkdir()
        command = node_command(endpoint, job, folder)
        agent = subprocess.Popen(
            command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        agents.append(agent)
    outputs = []
    try:
        for agent in agents:
            outputs.append(agent.communicate(timeout=120))
    finally:
        for agent in agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGKILL)
    for agent, (_, err) in zip(agents, outputs, strict=True):
        assert agent.returncode == 0, err[-3000:]

    holders = [f for f in folders if any(f.iterdir())]
    assert len(holders) == 1, "rank 0's node alone writes the gathered result"
    printed = "".join(out for out, _ in outputs)
    assert printed.count("same bytes as one process: True") == 2, printed  # once per mode

    model = load_course_model()
    single = generate(model, torch.tensor([list(PROMPT)]), NEW_BYTES)[0]
    with torch.no_grad():
        single_logits = model(single[None, :-1])[0, -NEW_BYTES:]
    for mode in ("tensor", "pipeline"):
        ranks = torch.load(holders[0] / f"{mode}.pt", weights_only=True)
        assert [(r["rank"], r["world"], r["local_rank"], r["local_world"]) for r in ranks] == [
            (0, 2, 0, 1),
            (1, 2, 0, 1),
        ]
        assert sorted(r["node"] for r in ranks) == [0, 1], "two nodes, one process each"
        assert {r["backend"] for r in ranks} == {"gloo"}
        run = ParallelRun.from_ranks(mode, ranks)
        assert run.tokens == single.tolist(), mode
        torch.testing.assert_close(run.logits, single_logits, atol=1e-4, rtol=1e-4)
