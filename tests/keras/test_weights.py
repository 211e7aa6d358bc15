"""Weight and bias faults through the shared contract: sites by layer type, counts and rates,
every fault model and distribution, exact restore, zero-change replicas, a hand-edit reference."""

import keras
import numpy as np
import pytest
from conftest import zoo

from dnnfi.engines.kerasfi.models import digits_sequential
from dnnfi.engines.kerasfi.weights import WeightInjector, weight_sites
from dnnfi.engines.runner import evaluate_weight_faults
from dnnfi.faults.lists import draw_weight_faults
from dnnfi.faults.outcomes import classify
from dnnfi.faults.seeds import rng_for

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return zoo()


def snapshot(model):
    return [np.array(v.numpy()) for v in model.weights]


def test_weight_sites_by_layer_type(model):
    kernels = weight_sites(model)
    assert kernels["site"].tolist() == [
        "stem/kernel",
        "inner/inner_dw/kernel",
        "shared_pw/kernel",
        "logits/kernel",
    ]
    assert kernels["size"].tolist() == [3 * 3 * 3 * 16, 3 * 3 * 16, 16 * 16, 32 * 10]
    assert weight_sites(model, ("linear",))["site"].tolist() == ["logits/kernel"]
    biases = set(weight_sites(model, biases=True)["site"]) - set(kernels["site"])
    assert biases == {"stem/bias", "inner/inner_dw/bias", "shared_pw/bias", "logits/bias"}
    norm = set(weight_sites(model, normalization=True)["site"]) - set(kernels["site"])
    assert norm == {"inner/inner_bn/gamma", "inner/inner_bn/beta"}  # never the moving statistics
    with pytest.raises(ValueError, match="unknown layer types"):
        weight_sites(model, ("conv", "attention"))


def test_rate_gives_rounded_count_without_replacement(model):
    sites = weight_sites(model, biases=True)
    faults = draw_weight_faults(sites, rng_for(1, "w"), rate=0.01, replicas=3)
    total = sites["size"].sum()
    assert (faults.groupby("replica").size() == round(0.01 * total)).all()
    assert not faults.duplicated(["replica", "site", "element"]).any()


def test_replicas_restore_weights_bit_exactly_and_match_a_manual_edit(model, images16):
    injector = WeightInjector(model)
    sites = injector.sites(biases=True)
    faults = draw_weight_faults(
        sites, rng_for(2, "w"), count=20, replicas=4, fault_model="bitflip", bits=[30]
    )
    before = snapshot(model)
    results = classify(evaluate_weight_faults(injector, faults, images16, progress=False))
    after = snapshot(model)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(before, after))
    assert len(results) == 4 * len(images16) and (results["n_faults"] == 20).all()
    # the exponent's top bit makes weights huge: outputs change for every image
    assert (results["outcome"] != "masked").all()
    # reference: edit the numpy weights by hand, run the model, compare top-1
    replica = faults[faults["replica"] == 1]
    variables = {v.path: v for v in model.weights}
    for site, rows in replica.groupby("site"):
        flat = variables[site].numpy().reshape(-1).copy()
        raw = flat.view(np.uint32)
        raw[rows["element"].to_numpy()] ^= np.uint32(1 << 30)
        variables[site].assign(flat.reshape(variables[site].shape))
    manual = keras.ops.convert_to_numpy(model(images16))
    for var, original in zip(model.weights, before):
        var.assign(original)
    with np.errstate(invalid="ignore"):
        expected = np.where(np.isfinite(manual).all(1), manual.argmax(1), -1)
    got = results[results["replica"] == 1]
    assert np.array_equal(np.where(got["finite"], got["faulty_top1"], -1), expected)


def test_zero_change_replicas_are_all_masked():
    keras.utils.set_random_seed(1)
    images = np.random.default_rng(0).random((10, 8, 8, 1)).astype("float32")
    model = digits_sequential()
    injector = WeightInjector(model)
    sites = injector.sites()
    faults = draw_weight_faults(sites, rng_for(3, "w"), count=50, replicas=2, fault_model="zero")
    # zero on weights that are already zero changes nothing
    variables = {v.path: v for v in model.weights}
    for site in faults["site"].unique():
        flat = variables[site].numpy().reshape(-1).copy()
        flat[faults.loc[faults["site"] == site, "element"].to_numpy()] = 0.0
        variables[site].assign(flat.reshape(variables[site].shape))
    results = classify(evaluate_weight_faults(injector, faults, images, progress=False))
    assert (
        len(results) == 20 and (results["outcome"] == "masked").all() and results["identical"].all()
    )


def test_weight_faults_reject_both_count_and_rate(model):
    sites = weight_sites(model)
    with pytest.raises(ValueError, match="exactly one"):
        draw_weight_faults(sites, rng_for(0), count=3, rate=0.1)
    with pytest.raises(ValueError, match="outside"):
        draw_weight_faults(sites, rng_for(0), count=10**9)


@pytest.mark.parametrize("fault_model", ["random", "stuck_at_1"])
@pytest.mark.parametrize("distribution", ["layer_uniform", "layer_normal", "uniform"])
def test_random_and_stuck_at_values(model, fault_model, distribution):
    """The values the variables hold during a replica are those of the shared contract."""
    from dnnfi.faults.lists import corrupt_weights

    injector = WeightInjector(model)
    faults = draw_weight_faults(
        injector.sites(), rng_for(4, "w"), rate=0.2, fault_model=fault_model
    )
    variables = {v.path: v for v in model.weights}
    before = snapshot(model)
    with injector.applied(faults, distribution, value_range=[2.0, 3.0]):
        for site, rows in faults.groupby("site"):
            got = variables[site].numpy().reshape(-1)[rows["element"].to_numpy()]
            original = np.array(before[[v.path for v in model.weights].index(site)])
            expected = corrupt_weights(original, rows, distribution, [2.0, 3.0])[1]
            assert got.tobytes() == expected.tobytes()
            if fault_model == "random" and distribution == "uniform":
                assert got.min() >= 2.0 and got.max() <= 3.0
            if fault_model == "random" and distribution == "layer_uniform":
                assert got.min() >= original.min() and got.max() <= original.max()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(before, snapshot(model)))
