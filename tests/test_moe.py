"""labsupport.moe (Chapter 5): the reference MoE layer, its loss and its evaluation."""

import pytest
import torch

from labsupport.data import Split
from labsupport.moe import DenseMLP, MoELayer, evaluate_moe, mse_with_balance
from labsupport.routing import expert_capacity, load_balancing_loss, within_capacity


def test_moe_layer_with_all_experts_is_the_softmax_mixture():
    torch.manual_seed(0)
    layer = MoELayer(4, 5, 2, num_experts=3, k=3)
    x = torch.randn(16, 4)
    y, _ = layer(x)
    probs = layer.router(x).softmax(dim=1)
    want = sum(probs[:, e, None] * layer.experts[e](x) for e in range(3))
    assert torch.allclose(y, want, atol=1e-6)


def test_moe_layer_top1_uses_one_expert_per_input():
    torch.manual_seed(1)
    layer = MoELayer(4, 5, 2, num_experts=4, k=1)
    x = torch.randn(16, 4)
    y, balance = layer(x)
    probs = layer.router(x).softmax(dim=1)
    best = probs.argmax(dim=1)
    for t in range(16):
        want = probs[t, best[t]] * layer.experts[int(best[t])](x[t : t + 1])[0]
        assert torch.allclose(y[t], want, atol=1e-6)
    assert balance.item() == pytest.approx(load_balancing_loss(probs, best[:, None]).item())


def test_moe_layer_drops_overflowing_inputs():
    torch.manual_seed(2)
    layer = MoELayer(4, 5, 1, num_experts=4, k=1)
    x = torch.randn(64, 4)
    full, _ = layer(x)
    capped, _ = layer(x, capacity_factor=0.5)
    _, _, chosen = layer.route(x)
    keep = within_capacity(chosen, 4, expert_capacity(64, 4, 1, 0.5))[:, 0]
    assert torch.equal(capped[~keep], torch.zeros_like(capped[~keep]))  # dropped: no expert output
    assert torch.allclose(capped[keep], full[keep])
    assert (~keep).any()  # the test would be empty otherwise


def test_moe_layer_rejects_bad_sizes():
    with pytest.raises(ValueError, match="at most num_experts=4"):
        MoELayer(3, 8, 1, num_experts=4, k=5)
    with pytest.raises(ValueError, match="d_hidden must be a positive int"):
        MoELayer(3, 0, 1, num_experts=4)


def test_mse_with_balance_and_evaluate_moe():
    torch.manual_seed(3)
    prediction, target, balance = torch.randn(8, 1), torch.randn(8, 1), torch.tensor(1.5)
    loss = mse_with_balance(0.2)((prediction, balance), target)
    assert loss.item() == pytest.approx(torch.nn.functional.mse_loss(prediction, target).item() + 0.3)
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        mse_with_balance(-0.1)
    with pytest.raises(ValueError, match="alpha must be a number >= 0, got True"):
        mse_with_balance(True)

    data = Split(torch.randn(100, 3), torch.randn(100, 1))
    layer = MoELayer(3, 4, 1, num_experts=4)
    plain = evaluate_moe(layer, data, batch_size=32)
    assert set(plain) == {"loss"}
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(layer(data.x)[0], data.y).item()
    assert plain["loss"] == pytest.approx(want, rel=1e-5)
    capped = evaluate_moe(layer, data, batch_size=32, capacity_factor=1.0)
    assert 0.0 <= capped["dropped_fraction"] < 1.0
    assert "dropped_fraction" not in evaluate_moe(DenseMLP(3, 4, 1), data, batch_size=32)
    with pytest.raises(TypeError, match="labsupport Split"):
        evaluate_moe(layer, (data.x, data.y), batch_size=32)
