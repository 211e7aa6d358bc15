"""Weight faults of an engine through the shared contract (docs/semantics.md section 6): sites by
layer type, counts and rates, refused settings and lists, the values every fault model and
distribution writes, bit-exact restores, zero-change replicas and a hand-edited reference."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dnnfi.engines.runner import evaluate_weight_faults
from dnnfi.faults.bitflip import flip_bits
from dnnfi.faults.lists import corrupt_weights, draw_weight_faults
from dnnfi.faults.outcomes import classify
from dnnfi.faults.seeds import rng_for

__all__ = [
    "test_weight_sites_by_layer_type",
    "test_rate_gives_rounded_count_without_replacement_spread_by_size",
    "test_bad_draws_settings_and_lists_are_refused",
    "test_values_during_a_replica",
    "test_random_value_distributions",
    "test_applied_restores_every_weight_bit_exactly",
    "test_replicas_restore_weights_and_match_a_manual_edit",
    "test_zero_faults_on_zero_weights_are_all_masked",
]

DISTRIBUTIONS = ["layer_uniform", "layer_normal", "uniform"]


@dataclass
class Weights:
    """A framework's side of these tests."""

    model: Any  # convolutions, batch norm and a linear layer, fresh for each test
    images: np.ndarray
    weight_sites: Callable  # weight_sites(model, layer_types, biases, normalization)
    weight_injector: Callable
    weights: Callable[[Any], dict]  # numpy copy of every tensor of a model (statistics too)
    assign: Callable[[Any, dict], None]  # set every tensor of a model from such a copy
    forward: Callable[[Any, np.ndarray], np.ndarray]  # the model's own forward pass: logits
    kernels: dict  # site -> shape of the default sites, in model order
    linear: list  # the sites of layer type linear
    biases: set  # the sites biases=True adds
    normalization: set  # the sites normalization=True adds (never the statistics)
    #: a model with a weight tensor of thousands of elements, and that tensor: enough values for
    #: the statistics of random values and of a draw's spread
    big_model: Any
    big_site: str


def at(weights: dict, faults: pd.DataFrame) -> np.ndarray:
    """The values of a copy of the weights (``Weights.weights``) at the faults' elements."""
    return np.array([weights[s].reshape(-1)[e] for s, e in zip(faults["site"], faults["element"])])


def assert_unchanged(fw: Weights, model, before: dict) -> None:
    """Every tensor of the model holds the bits of the copy ``before``."""
    after = fw.weights(model)
    assert all(before[k].tobytes() == after[k].tobytes() for k in before)


def test_weight_sites_by_layer_type(fw: Weights):
    model = fw.model
    kernels = fw.weight_sites(model)
    assert dict(zip(kernels["site"], kernels["shape"])) == fw.kernels
    assert kernels["site"].tolist() == list(fw.kernels)  # in model order
    sizes = [np.prod([int(n) for n in shape.split("x")]) for shape in kernels["shape"]]
    assert kernels["size"].tolist() == sizes and set(kernels["dtype"]) == {"float32"}
    assert kernels["kind"].tolist() == [re.split("[./]", s)[-1] for s in kernels["site"]]
    assert fw.weight_sites(model, ("linear",))["site"].tolist() == fw.linear
    biases = set(fw.weight_sites(model, biases=True)["site"]) - set(kernels["site"])
    assert biases == fw.biases
    norm = set(fw.weight_sites(model, normalization=True)["site"]) - set(kernels["site"])
    assert norm == fw.normalization
    with pytest.raises(ValueError, match="unknown layer types"):
        fw.weight_sites(model, ("conv", "attention"))


def test_rate_gives_rounded_count_without_replacement_spread_by_size(fw: Weights):
    sites = fw.weight_sites(fw.model, biases=True)
    faults = draw_weight_faults(sites, rng_for(1, "w"), rate=0.01, replicas=3)
    assert (faults.groupby("replica").size() == round(0.01 * sites["size"].sum())).all()
    assert not faults.duplicated(["replica", "site", "element"]).any()
    # each site's share of the faults is its share of the elements (thousands of faults)
    sites = fw.weight_sites(fw.big_model)
    faults = draw_weight_faults(sites, rng_for(0, "w"), rate=0.5, fault_model="zero")
    share = faults["site"].value_counts(normalize=True)[fw.big_site]
    assert (
        abs(share - sites.set_index("site").loc[fw.big_site, "size"] / sites["size"].sum()) < 0.02
    )


def test_bad_draws_settings_and_lists_are_refused(fw: Weights):
    injector, before = fw.weight_injector(fw.model), fw.weights(fw.model)
    sites = injector.sites()
    with pytest.raises(ValueError, match="exactly one"):
        draw_weight_faults(sites, rng_for(0), count=3, rate=0.1)
    with pytest.raises(ValueError, match="outside"):
        draw_weight_faults(sites, rng_for(0), count=10**9)
    faults = draw_weight_faults(sites, rng_for(3, "w"), count=5, fault_model="random")
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
    assert_unchanged(fw, fw.model, before)


@pytest.mark.parametrize("fault_model", ["bitflip", "stuck_at_0", "stuck_at_1", "random"])
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_values_during_a_replica(fw: Weights, fault_model, distribution):
    """The values the tensors hold during a replica are those of the shared contract: bit
    models flip or set the drawn bit whatever the distribution, random values follow it."""
    model = fw.model
    injector = fw.weight_injector(model)
    faults = draw_weight_faults(
        injector.sites(), rng_for(4, "w"), rate=0.2, fault_model=fault_model
    )
    before = fw.weights(model)
    with injector.applied(faults, distribution, value_range=[2.0, 3.0]):
        during = fw.weights(model)
    for site, rows in faults.groupby("site"):
        element, original = rows["element"].to_numpy(), before[site]
        got = during[site].reshape(-1)[element]
        expected = corrupt_weights(original, rows, distribution, [2.0, 3.0])[1]
        assert got.tobytes() == expected.tobytes()
        old = original.reshape(-1)[element]
        if fault_model == "bitflip":
            bit = rows["bit"].to_numpy()
            assert got.view(np.uint32).tolist() == flip_bits(old, bit).view(np.uint32).tolist()
        elif fault_model != "random":
            level = (got.view(np.uint32) >> rows["bit"].to_numpy().astype(np.uint32)) & 1
            assert (level == int(fault_model[-1])).all()
        elif distribution == "uniform":
            assert got.min() >= 2.0 and got.max() <= 3.0
        elif distribution == "layer_uniform":
            assert got.min() >= original.min() and got.max() <= original.max()
    if fault_model != "random":
        assert faults["bit"].min() == 0 and faults["bit"].max() == 31
    assert_unchanged(fw, model, before)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_random_value_distributions(fw: Weights, distribution):
    """Random values on half the elements of a big tensor follow the distribution."""
    model, site = fw.big_model, fw.big_site
    injector = fw.weight_injector(model)
    one = fw.weight_sites(model).query("site == @site")
    faults = draw_weight_faults(one, rng_for(2, "w"), rate=0.5, fault_model="random")
    w = fw.weights(model)[site]
    with injector.applied(faults, distribution, value_range=[2.0, 3.0]):
        new = fw.weights(model)[site].reshape(-1)[faults["element"].to_numpy()]
    if distribution == "layer_uniform":
        assert (
            new.min() >= w.min()
            and new.max() <= w.max()
            and new.max() - new.min() > 0.9 * (w.max() - w.min())
        )
    elif distribution == "layer_normal":
        assert abs(new.mean() - w.mean()) < 0.05 * w.std() and abs(new.std() / w.std() - 1) < 0.05
    else:
        assert new.min() >= 2.0 and new.max() <= 3.0 and new.max() - new.min() > 0.9
    assert fw.weights(model)[site].tobytes() == w.tobytes()


def test_applied_restores_every_weight_bit_exactly(fw: Weights):
    model = fw.model
    injector = fw.weight_injector(model)
    before = fw.weights(model)
    sites = injector.sites(biases=True, normalization=True)
    faults = draw_weight_faults(sites, rng_for(6, "w"), rate=0.02, fault_model="random")
    original = at(before, faults)
    with injector.applied(faults):
        during = fw.weights(model)
        changed = sum(int((during[k] != before[k]).sum()) for k in before)
        # nothing else moved, and every fault changed its value but on constant tensors (fresh
        # batch norms, Keras' zero biases), where the random value is the old one
        varying = faults["site"].map(lambda site: np.ptp(before[site]) > 0)
        assert changed == (at(during, faults) != original).sum() == varying.sum() > 0
    assert_unchanged(fw, model, before)
    with pytest.raises(RuntimeError), injector.applied(faults):
        raise RuntimeError("evaluation failed")
    assert_unchanged(fw, model, before)


def test_replicas_restore_weights_and_match_a_manual_edit(fw: Weights):
    """Replicas of 20 flips of bit 30 (the exponent's top bit: huge weights), then replicas of the
    same faults as stuck-at the level the bit already has (no change), in one run."""
    model, images = fw.model, fw.images
    injector = fw.weight_injector(model)
    sites = injector.sites(biases=True)
    faults = draw_weight_faults(
        sites, rng_for(2, "w"), count=20, replicas=4, fault_model="bitflip", bits=[30]
    )
    before, logits = fw.weights(model), injector.logits(images)
    levels = (at(before, faults).view(np.uint32) >> 30) & 1
    same = faults.assign(
        fault_model=np.where(levels == 1, "stuck_at_1", "stuck_at_0"), replica=faults["replica"] + 4
    )
    results = classify(
        evaluate_weight_faults(injector, pd.concat([faults, same]), images, progress=False)
    )
    assert_unchanged(fw, model, before)
    np.testing.assert_array_equal(injector.logits(images), logits)
    assert len(results) == 8 * len(images) and (results["n_faults"] == 20).all()
    flipped = results["replica"] < 4
    # outputs change for every image
    assert (results.loc[flipped, "outcome"] != "masked").all()
    assert (results.loc[~flipped, "outcome"] == "masked").all()
    # reference: edit the numpy weights by hand, run the model, compare top-1
    edited = fw.weights(model)
    for site, rows in faults[faults["replica"] == 1].groupby("site"):
        edited[site].reshape(-1).view(np.uint32)[rows["element"].to_numpy()] ^= np.uint32(1 << 30)
    fw.assign(model, edited)
    manual = fw.forward(model, images)
    fw.assign(model, before)
    with np.errstate(invalid="ignore"):
        expected = np.where(np.isfinite(manual).all(1), manual.argmax(1), -1)
    got = results[results["replica"] == 1]
    assert np.array_equal(np.where(got["finite"], got["faulty_top1"], -1), expected)


def test_zero_faults_on_zero_weights_are_all_masked(fw: Weights):
    model, images = fw.model, fw.images
    injector = fw.weight_injector(model)
    faults = draw_weight_faults(
        injector.sites(), rng_for(3, "w"), count=50, replicas=2, fault_model="zero"
    )
    zeroed = fw.weights(model)
    for site, rows in faults.groupby("site"):
        zeroed[site].reshape(-1)[rows["element"].to_numpy()] = 0.0
    fw.assign(model, zeroed)
    results = classify(evaluate_weight_faults(injector, faults, images, progress=False))
    assert len(results) == 2 * len(images)
    assert (results["outcome"] == "masked").all() and results["identical"].all()
