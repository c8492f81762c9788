"""labsupport.smoothness (Chapter 3): input-gradient norms and parameter trajectories, against autograd
and hand-kept records."""

import pytest
import torch

from labsupport.smoothness import Trajectory, input_gradient_norms
from labsupport.sweep.model import MLPSweep


def test_gradient_norms_of_linear_maps():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g)
    w = torch.randn(4, generator=g)
    torch.testing.assert_close(input_gradient_norms(lambda z: z @ w, x), w.norm().expand(6))
    big_w = torch.randn(4, 3, generator=g)
    # A linear map's Jacobian is big_w.T everywhere; its Frobenius norm is big_w's.
    torch.testing.assert_close(input_gradient_norms(lambda z: z @ big_w, x), big_w.norm().expand(6))
    assert not x.requires_grad


def test_gradient_norms_of_a_sweep_match_each_member():
    sweep = MLPSweep([3, 5], 2, 2, depth=1, generator=torch.Generator().manual_seed(0))
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    norms = input_gradient_norms(sweep, x)
    assert norms.shape == (2, 7)
    for m in range(2):
        member = sweep.member(m)
        jacobians = torch.stack([torch.autograd.functional.jacobian(member, row) for row in x])  # (7, 2, 2)
        torch.testing.assert_close(norms[m], jacobians.flatten(1).norm(dim=1))


def test_gradient_norms_reject_bad_inputs():
    with pytest.raises(TypeError, match="fn must be callable"):
        input_gradient_norms("f", torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"floating-point tensor of shape \(n, d\)"):
        input_gradient_norms(lambda z: z, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="n=3"):
        input_gradient_norms(lambda z: z.sum(), torch.zeros(3, 2))


def test_trajectory_of_one_model_matches_a_manual_record():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trajectory = Trajectory(list(model.parameters()))
    start = torch.cat([p.detach().flatten() for p in model.parameters()])
    previous, length = start.clone(), 0.0
    for _ in range(5):
        loss = model(torch.randn(4, 3)).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectory.update()
        now = torch.cat([p.detach().flatten() for p in model.parameters()])
        length += (now - previous).norm().item()
        previous = now
    assert trajectory.length.ndim == 0
    assert trajectory.length.item() == pytest.approx(length, rel=1e-6)
    assert trajectory.distance.item() == pytest.approx((previous - start).norm().item(), rel=1e-6)
    assert trajectory.distance <= trajectory.length  # a path is never shorter than its chord


def test_trajectory_per_model_for_a_sweep():
    sweep = MLPSweep([4, 4, 8], 1, 1, depth=1, generator=torch.Generator().manual_seed(0))
    members_before = [sweep.member(m) for m in range(3)]
    params, index = zip(*sweep.parameters_by_model(), strict=True)
    trajectory = Trajectory(params, index)
    optimizer = torch.optim.SGD(sweep.parameters(), lr=0.05)
    x = torch.linspace(-1, 1, 16)[:, None]
    target = torch.stack([torch.sin(k * x) for k in (1.0, 2.0, 3.0)])  # (3, 16, 1)
    for _ in range(3):
        loss = (sweep(x) - target).pow(2).mean(dim=(1, 2)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectory.update()
    assert trajectory.length.shape == trajectory.distance.shape == (3,)
    for m in range(3):
        before = torch.cat([p.flatten() for p in members_before[m].parameters()])
        after = torch.cat([p.flatten() for p in sweep.member(m).parameters()])
        # Padding stays at zero, so a member's own distance is the per-model distance.
        assert trajectory.distance[m].item() == pytest.approx((after - before).norm().item(), rel=1e-5)


def test_trajectory_rejects_bad_inputs():
    with pytest.raises(TypeError, match="non-empty sequence of tensors"):
        Trajectory([])
    p = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="one tensor per parameter"):
        Trajectory([p, p], [torch.zeros(3, dtype=torch.long)])
    with pytest.raises(ValueError, match="one entry per row"):
        Trajectory([p], [torch.zeros(2, dtype=torch.long)])
