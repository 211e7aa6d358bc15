"""Failure-rate weight faults: tensors, counts, perturbations, exact restore, replica evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnnfi.bitflip import flip_bits
from dnnfi.torchfi.cifar import cifar_resnet
from dnnfi.torchfi.models import predict_logits
from dnnfi.torchfi.weights import applied, draw, evaluate_replica, run_replicas, top_errors, weight_tensors


@pytest.fixture
def model():
    return cifar_resnet(20).eval()


def flat_values(tensors, faults):
    return np.array([tensors[p].detach().reshape(-1)[i].item() for p, i in zip(faults.param, faults.index)], dtype=np.float32)


def test_tensor_selection(model):
    default = weight_tensors(model)
    assert len(default) == 19 + 1 and all(n.endswith("weight") for n in default)  # 19 convs + linear
    assert set(weight_tensors(model, biases=True)) - set(default) == {"linear.bias"}
    norm = set(weight_tensors(model, normalization=True)) - set(default)
    assert len(norm) == 2 * 19 and "layer1.0.bn1.bias" in norm
    assert set(weight_tensors(model, ("linear",))) == {"linear.weight"}
    with pytest.raises(ValueError, match="unknown layer types"):
        weight_tensors(model, ("conv", "attention"))


def test_count_and_locations(model):
    tensors = weight_tensors(model)
    total = sum(t.numel() for t in tensors.values())
    faults = draw(tensors, 1e-2, "zero", np.random.default_rng(0))
    assert len(faults) == round(1e-2 * total)
    flat = [(p, i) for p, i in zip(faults.param, faults.index)]
    assert len(set(flat)) == len(flat)  # without replacement
    assert all(0 <= i < tensors[p].numel() for p, i in flat)
    # uniform over the flat index space: each tensor's share follows its size
    share = {p: np.mean(faults.param == p) for p in tensors}
    assert abs(share["layer3.2.conv2.weight"] - tensors["layer3.2.conv2.weight"].numel() / total) < 0.02
    assert (faults.value == 0).all()


def test_random_value_distributions(model):
    tensors = weight_tensors(model)
    uniform = draw(tensors, 0.05, "random", np.random.default_rng(1))
    lo = np.array([tensors[p].min().item() for p in uniform.param])
    hi = np.array([tensors[p].max().item() for p in uniform.param])
    assert ((uniform.value >= lo) & (uniform.value <= hi)).all()
    one = {"layer3.2.conv2.weight": tensors["layer3.2.conv2.weight"]}
    normal = draw(one, 0.5, "random", np.random.default_rng(2), distribution="layer_normal")
    w = one["layer3.2.conv2.weight"]
    assert abs(normal.value.mean() - w.mean().item()) < 0.05 * w.std().item()
    assert abs(normal.value.std() / w.std().item() - 1) < 0.05
    ranged = draw(tensors, 0.05, "random", np.random.default_rng(3), distribution="uniform", value_range=(2.0, 3.0))
    assert ranged.value.min() >= 2.0 and ranged.value.max() <= 3.0 and ranged.value.max() - ranged.value.min() > 0.9
    with pytest.raises(ValueError, match="value_range"):
        draw(tensors, 0.05, "random", np.random.default_rng(3), distribution="uniform")
    with pytest.raises(ValueError, match="perturbation"):
        draw(tensors, 0.05, "noise", np.random.default_rng(3))


def test_bitflip_values(model):
    tensors = weight_tensors(model)
    faults = draw(tensors, 0.01, "bitflip", np.random.default_rng(4))
    original = flat_values(tensors, faults)
    assert faults.bit.min() == 0 and faults.bit.max() == 31
    np.testing.assert_array_equal(faults.value.view(np.uint32), flip_bits(original, faults.bit).view(np.uint32))
    only_sign = draw(tensors, 0.01, "bitflip", np.random.default_rng(5), bits=[31])
    np.testing.assert_array_equal(only_sign.value, -flat_values(tensors, only_sign))


def test_applied_sets_values_and_restores_whole_state_dict(model):
    tensors = weight_tensors(model, biases=True, normalization=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    faults = draw(tensors, 0.02, "random", np.random.default_rng(6))
    original = flat_values(tensors, faults)
    with applied(tensors, faults):
        np.testing.assert_array_equal(flat_values(tensors, faults), faults.value)
        changed = sum(int((model.state_dict()[k] != before[k]).sum()) for k in before)
        # nothing else moved (fresh batch norms are constant 1 / 0: their random value is the old one)
        assert changed == (faults.value != original).sum() > 0.9 * len(faults)
    after = model.state_dict()
    assert all(torch.equal(before[k].view(torch.uint8) if before[k].is_floating_point() else before[k],
                           after[k].view(torch.uint8) if after[k].is_floating_point() else after[k]) for k in before)
    with pytest.raises(RuntimeError), applied(tensors, faults):
        raise RuntimeError("evaluation failed")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_applied_on_non_contiguous_parameter():
    layer = torch.nn.Conv2d(4, 8, 3).to(memory_format=torch.channels_last)
    tensors = weight_tensors(layer)
    assert not tensors["weight"].is_contiguous()
    before = tensors["weight"].clone()
    faults = draw(tensors, 0.1, "zero", np.random.default_rng(7))
    with applied(tensors, faults):
        assert (tensors["weight"].reshape(-1)[torch.as_tensor(faults.index)] == 0).all()
    assert torch.equal(tensors["weight"], before)


def test_replica_errors(model):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 32, 32, 3)).astype(np.float32)
    logits = predict_logits(model, x)
    y = np.argsort(-logits, axis=1)[:, 2]  # every label is the clean model's third choice
    assert top_errors(model, x, y) == (1.0, 0.0)
    tensors = weight_tensors(model)
    none = evaluate_replica(model, tensors, draw(tensors, 0.0, "zero", rng), x, y)
    assert none == {"n_faults": 0, "top1_error": 1.0, "top5_error": 0.0}
    table = run_replicas(model, x, y, 0.05, "random", [np.random.default_rng(s) for s in (1, 2, 1)], progress=False)
    assert list(table["replica"]) == [0, 1, 2]
    assert table["top1_error"].iloc[0] == table["top1_error"].iloc[2]  # same generator seed, same replica
    assert (table["n_faults"] == round(0.05 * sum(t.numel() for t in tensors.values()))).all()
    assert table["top5_error"].max() > 0  # 5% random weights move the predictions
    np.testing.assert_array_equal(predict_logits(model, x), logits)  # restored after the replicas
