"""Weight faults through the shared contract: tensors, counts, values, exact restore, replicas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dnnfi.engines.runner import evaluate_weight_faults
from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.engines.torchfi.models import predict_logits
from dnnfi.engines.torchfi.weights import WeightInjector, weight_sites, weight_tensors
from dnnfi.faults.bitflip import flip_bits
from dnnfi.faults.lists import draw_weight_faults
from dnnfi.faults.outcomes import classify


@pytest.fixture
def model():
    return cifar_resnet(20).eval()


def values_at(model, faults):
    params = dict(model.named_parameters())
    return np.array(
        [
            params[s].detach().reshape(-1)[e].item()
            for s, e in zip(faults["site"], faults["element"])
        ]
    )


def test_tensor_selection(model):
    default = weight_tensors(model)
    assert len(default) == 19 + 1 and all(
        n.endswith("weight") for n in default
    )  # 19 convs + linear
    assert set(weight_tensors(model, biases=True)) - set(default) == {"linear.bias"}
    norm = set(weight_tensors(model, normalization=True)) - set(default)
    assert len(norm) == 2 * 19 and "layer1.0.bn1.bias" in norm
    assert set(weight_tensors(model, ("linear",))) == {"linear.weight"}
    with pytest.raises(ValueError, match="unknown layer types"):
        weight_tensors(model, ("conv", "attention"))
    sites = weight_sites(model)
    assert sites["site"].tolist() == list(default)
    assert sites.set_index("site").loc[
        "linear.weight", ["shape", "size", "dtype", "kind"]
    ].tolist() == ["10x64", 640, "float32", "weight"]


def test_rate_gives_rounded_count_without_replacement_spread_by_size(model):
    sites = weight_sites(model)
    total = sites["size"].sum()
    faults = draw_weight_faults(sites, np.random.default_rng(0), rate=1e-2, fault_model="zero")
    assert len(faults) == round(1e-2 * total)
    assert not faults.duplicated(["site", "element"]).any()
    share = faults["site"].value_counts(normalize=True)
    big = "layer3.2.conv2.weight"
    assert abs(share[big] - sites.set_index("site").loc[big, "size"] / total) < 0.02


@pytest.mark.parametrize("distribution", ["layer_uniform", "layer_normal", "uniform"])
def test_random_value_distributions(model, distribution):
    injector = WeightInjector(model)
    one = weight_sites(model).query("site == 'layer3.2.conv2.weight'")
    faults = draw_weight_faults(one, np.random.default_rng(2), rate=0.5, fault_model="random")
    w = dict(model.named_parameters())["layer3.2.conv2.weight"].detach().clone()
    with injector.applied(faults, distribution, value_range=[2.0, 3.0]):
        new = values_at(model, faults)
    if distribution == "layer_uniform":
        assert (
            new.min() >= w.min().item()
            and new.max() <= w.max().item()
            and new.max() - new.min() > 0.9 * (w.max() - w.min()).item()
        )
    elif distribution == "layer_normal":
        assert (
            abs(new.mean() - w.mean().item()) < 0.05 * w.std().item()
            and abs(new.std() / w.std().item() - 1) < 0.05
        )
    else:
        assert new.min() >= 2.0 and new.max() <= 3.0 and new.max() - new.min() > 0.9
    assert torch.equal(dict(model.named_parameters())["layer3.2.conv2.weight"], w)


def test_bad_random_settings_and_lists_are_refused(model):
    injector = WeightInjector(model)
    faults = draw_weight_faults(
        weight_sites(model), np.random.default_rng(3), count=5, fault_model="random"
    )
    with pytest.raises(ValueError, match="value_range"):
        with injector.applied(faults, "uniform"):
            pass
    with pytest.raises(ValueError, match="unknown random distribution"):
        with injector.applied(faults, "gaussian"):
            pass
    with pytest.raises(ValueError, match="sites the model does not have"):
        with injector.applied(faults.assign(site="nope.weight")):
            pass
    with pytest.raises(ValueError, match="outside site"):
        with injector.applied(faults.assign(element=10**9)):
            pass


@pytest.mark.parametrize("fault_model", ["bitflip", "stuck_at_0", "stuck_at_1"])
def test_bit_models_on_weights(model, fault_model):
    injector = WeightInjector(model)
    faults = draw_weight_faults(
        weight_sites(model), np.random.default_rng(4), rate=0.01, fault_model=fault_model
    )
    original = values_at(model, faults).astype(np.float32)
    with injector.applied(faults):
        new = values_at(model, faults).astype(np.float32)
    bit = faults["bit"].to_numpy()
    assert bit.min() == 0 and bit.max() == 31
    if fault_model == "bitflip":
        np.testing.assert_array_equal(new.view(np.uint32), flip_bits(original, bit).view(np.uint32))
    else:
        level = (new.view(np.uint32) >> bit.astype(np.uint32)) & 1
        assert (level == int(fault_model[-1])).all()


def test_applied_restores_whole_state_dict_bit_exactly(model):
    injector = WeightInjector(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sites = weight_sites(model, biases=True, normalization=True)
    faults = draw_weight_faults(sites, np.random.default_rng(6), rate=0.02, fault_model="random")
    original = values_at(model, faults)
    with injector.applied(faults):
        changed = sum(int((model.state_dict()[k] != before[k]).sum()) for k in before)
        # nothing else moved (fresh batch norms are constant 1 / 0: their random value is the old one)
        assert changed == (values_at(model, faults) != original).sum() > 0.9 * len(faults)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(RuntimeError), injector.applied(faults):
        raise RuntimeError("evaluation failed")
    assert all(torch.equal(before[k], model.state_dict()[k]) for k in before)


def test_applied_on_non_contiguous_parameter():
    layer = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3)).to(memory_format=torch.channels_last)
    before = layer[0].weight.detach().clone()
    assert not layer[0].weight.is_contiguous()
    faults = draw_weight_faults(
        weight_sites(layer), np.random.default_rng(7), rate=0.1, fault_model="zero"
    )
    with WeightInjector(layer).applied(faults):
        assert (
            layer[0].weight.detach().reshape(-1)[torch.tensor(faults["element"].to_numpy())] == 0
        ).all()
    assert torch.equal(layer[0].weight, before)


def test_replicas_zero_change_masked_and_restored(model):
    x = np.random.default_rng(8).normal(size=(20, 32, 32, 3)).astype(np.float32)
    logits = predict_logits(model, x)
    injector = WeightInjector(model)
    faults = draw_weight_faults(
        weight_sites(model),
        np.random.default_rng(9),
        count=30,
        replicas=3,
        fault_model="bitflip",
        bits=[30],
    )
    # a zero-bit change: stuck-at the level the bit already has
    levels = (values_at(model, faults).astype(np.float32).view(np.uint32) >> 30) & 1
    same = faults.assign(fault_model=np.where(levels == 1, "stuck_at_1", "stuck_at_0"))
    table = classify(
        evaluate_weight_faults(
            injector,
            pd.concat([faults, same.assign(replica=same["replica"] + 3)]),
            x,
            progress=False,
        )
    )
    assert len(table) == 6 * 20 and (table["n_faults"] == 30).all()
    assert (table.loc[table["replica"] >= 3, "outcome"] == "masked").all()
    assert (
        table.loc[table["replica"] < 3, "outcome"] != "masked"
    ).mean() > 0.5  # exponent bit 30: huge weights
    np.testing.assert_array_equal(predict_logits(model, x), logits)  # restored after the replicas
