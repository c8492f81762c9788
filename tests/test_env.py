"""labsupport.env: run profiles, device choice, seeding, threads and the environment report."""

import random

import numpy as np
import pytest
import torch

from labsupport import configure_threads, env_report, get_device, get_profile, set_seed
from labsupport.env import by_profile


def test_profile_from_environment(monkeypatch):
    for name in ("smoke", "cpu", "gpu"):
        monkeypatch.setenv("LABSUPPORT_PROFILE", name)
        assert get_profile() == name


def test_unset_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("LABSUPPORT_PROFILE", raising=False)
    assert get_profile() == ("gpu" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile() == "gpu"


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"run profile must be one of \['smoke', 'cpu', 'gpu'\], got 'fast'"):
        get_profile()


def test_by_profile_picks_and_validates(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_PROFILE", "smoke")
    assert by_profile(smoke=1, cpu=2, gpu=3) == 1
    assert by_profile("gpu", smoke=1, cpu=2, gpu=3) == 3
    with pytest.raises(ValueError, match="must be one of"):
        by_profile("large", smoke=1, cpu=2, gpu=3)
    with pytest.raises(TypeError, match="must be a str"):
        by_profile(3, smoke=1, cpu=2, gpu=3)


def test_get_device_prefers_cuda_then_mps(monkeypatch):
    assert get_device().type in {"cuda", "mps", "cpu"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_set_seed_makes_every_generator_repeat():
    def draw():
        generator = set_seed(123)
        return (
            random.random(),
            np.random.rand(),
            torch.rand(1).item(),
            torch.rand(1, generator=generator).item(),
        )

    assert draw() == draw()
    assert set_seed(1).initial_seed() == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        set_seed(bad)


def test_configure_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("LABSUPPORT_THREADS", raising=False)
        assert configure_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("LABSUPPORT_THREADS", "2")
        assert configure_threads() == 2 and torch.get_num_threads() == 2
        assert configure_threads(1) == 1
        monkeypatch.setenv("LABSUPPORT_THREADS", "many")
        with pytest.raises(ValueError, match="LABSUPPORT_THREADS must be a positive int, got 'many'"):
            configure_threads()
        with pytest.raises(ValueError, match="num_threads must be a positive int, got 0"):
            configure_threads(0)
        with pytest.raises(ValueError, match="num_threads must be a positive int, got True"):
            configure_threads(True)
    finally:
        torch.set_num_threads(before)


def test_env_report_names_what_a_bug_report_needs(monkeypatch):
    monkeypatch.setenv("LABSUPPORT_PROFILE", "smoke")
    report = env_report()
    for field in (
        "profile      : smoke",
        "device",
        "torch        : " + torch.__version__,
        "torchvision",
        "threads",
        "cpu",
    ):
        assert field in report


def test_import_changes_no_global_state():
    import subprocess
    import sys

    code = (
        "import torch; before = torch.get_num_threads(); state = torch.random.get_rng_state();"
        "import labsupport;"
        "assert torch.get_num_threads() == before;"
        "assert torch.equal(state, torch.random.get_rng_state())"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
