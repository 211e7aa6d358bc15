"""Multi-element and multi-bit faults in the Keras engine against the simple reference
(tests/keras/reference.py), bit for bit: both compute every forward at the fixed pass shape of
PASS_ROWS rows, so golden and faulty logits must be identical, on the non-sequential zoo graph
(nested Sequential, a layer called twice, Add, Concatenate) in float32 and mixed precision."""

import numpy as np
import pandas as pd
import pytest
from conftest import zoo
from reference import reference_logits

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.faults.lists import draw_activation_faults, fault_pairs
from dnnfi.faults.outcomes import classify, summarize_logits

pytestmark = pytest.mark.keras

FAULT_MODELS = ["bitflip", "zero", "random", "stuck_at_0", "stuck_at_1"]
PER_KIND = 40
_INJECTORS = {}


def injector_for(policy):
    """One model and injector per precision policy for the whole module (steps traced once)."""
    if policy not in _INJECTORS:
        model = zoo(policy)
        _INJECTORS[policy] = (model, KerasInjector(model, batch_size=32))
    return _INJECTORS[policy]


def multi_faults(injector, fault_model, n_images, seed):
    """PER_KIND faults of 2 and of 3 elements each (2 bits per element for bit models), interleaved."""
    sites = injector.sites()
    eligible = sites[sites["eligible"]]
    rng = np.random.default_rng(seed)
    extra = (
        {"bits_per_element": 2} if fault_model in ("bitflip", "stuck_at_0", "stuck_at_1") else {}
    )
    parts = [
        draw_activation_faults(
            eligible,
            PER_KIND,
            rng,
            np.arange(n_images),
            fault_model=fault_model,
            elements_per_fault=k,
            **extra,
        )
        for k in (2, 3)
    ]
    faults = pd.concat(parts, ignore_index=True)
    faults = faults.iloc[rng.permutation(len(faults))].reset_index(drop=True)
    faults["fault_id"] = np.arange(len(faults))
    return faults


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("fault_model", FAULT_MODELS)
def test_multi_element_faults_equal_the_reference_bit_for_bit(policy, fault_model, images16):
    model, injector = injector_for(policy)
    faults = multi_faults(
        injector, fault_model, len(images16), seed=FAULT_MODELS.index(fault_model)
    )
    row, element, bit = fault_pairs(faults)
    per_fault = pd.DataFrame({"row": row, "element": element}).groupby("row")["element"].nunique()
    assert sorted(per_fault.unique()) == [2, 3]
    if fault_model != "zero" and fault_model != "random":
        assert (np.bincount(row) == 2 * per_fault.to_numpy()).all()  # two bits per element

    golden, faulty = injector.logits(faults, images16, progress=False)
    ref_golden, ref_faulty = reference_logits(model, faults, images16)
    np.testing.assert_array_equal(golden.view(np.uint32), ref_golden.view(np.uint32))
    np.testing.assert_array_equal(np.isnan(faulty), np.isnan(ref_faulty))
    same = (
        np.where(np.isnan(faulty), 0, faulty).view(np.uint32)
        == np.where(np.isnan(ref_faulty), 0, ref_faulty).view(np.uint32)
    ).all(axis=1)
    assert same.all(), faults[~same].head().to_string()
    ours = classify(summarize_logits(golden, faulty))
    reference = classify(summarize_logits(ref_golden, ref_faulty))
    np.testing.assert_array_equal(ours["outcome"].astype(str), reference["outcome"].astype(str))
    np.testing.assert_array_equal(ours["identical"], reference["identical"])
    # the faults do change the logits, and their later elements matter: the first pair alone
    # (element, bit) gives other logits for many of them
    assert (~ours["identical"]).sum() >= 10
    first_only = faults.drop(columns=["elements", "bits"])
    _, first_faulty = injector.logits(first_only, images16, progress=False)
    differs = ~(
        np.where(np.isnan(first_faulty), 0, first_faulty).view(np.uint32)
        == np.where(np.isnan(faulty), 0, faulty).view(np.uint32)
    ).all(axis=1)
    assert differs.sum() >= 5


@pytest.mark.parametrize("fault_model", ["bitflip", "stuck_at_0", "stuck_at_1"])
def test_pairs_repeated_on_one_element_follow_the_contract(fault_model, images16):
    """Pairs on one element apply in turn (docs/semantics.md): a bit flipped twice is back (XOR),
    a stuck-at bit forced twice is forced once. Faults [(e, b), (e, b), (e2, b2)] equal the
    reference and, for bit flips, the single fault (e2, b2); for stuck-at, the fault
    [(e, b), (e2, b2)]."""
    model, injector = injector_for("float32")
    sites = injector.sites()
    eligible = sites[sites["eligible"]]
    base = draw_activation_faults(
        eligible,
        60,
        np.random.default_rng(11),
        np.arange(len(images16)),
        fault_model=fault_model,
        elements_per_fault=2,
        bits=[20, 22, 23, 29, 30, 31],
    )
    e, e2 = [v[0] for v in base["elements"]], [v[1] for v in base["elements"]]
    b, b2 = [v[0] for v in base["bits"]], [v[1] for v in base["bits"]]
    repeated = base.assign(
        elements=[[x, x, y] for x, y in zip(e, e2)], bits=[[x, x, y] for x, y in zip(b, b2)]
    )
    golden, faulty = injector.logits(repeated, images16, progress=False)
    ref_golden, ref_faulty = reference_logits(model, repeated, images16)
    np.testing.assert_array_equal(np.isnan(faulty), np.isnan(ref_faulty))
    np.testing.assert_array_equal(
        np.where(np.isnan(faulty), 0, faulty).view(np.uint32),
        np.where(np.isnan(ref_faulty), 0, ref_faulty).view(np.uint32),
    )
    if fault_model == "bitflip":
        equivalent = base.drop(columns=["elements", "bits"]).assign(element=e2, bit=b2)
    else:
        equivalent = base.assign(
            elements=[[x, y] for x, y in zip(e, e2)], bits=[[x, y] for x, y in zip(b, b2)]
        )
    _, expected = injector.logits(equivalent, images16, progress=False)
    np.testing.assert_array_equal(
        np.where(np.isnan(faulty), 0, faulty).view(np.uint32),
        np.where(np.isnan(expected), 0, expected).view(np.uint32),
    )
    assert (~(faulty == golden).all(axis=1)).sum() >= 10  # the faults do change the logits
