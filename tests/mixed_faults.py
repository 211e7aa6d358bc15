"""Engine-test helpers: a mixed fault list, the bit-identity checks and the device refusal
check (framework-free, importable from every test process)."""

import re

import numpy as np
import pandas as pd
import pytest

from dnnfi.engines.devices import DeviceError
from dnnfi.faults.lists import draw_activation_faults, draw_weight_faults
from dnnfi.faults.outcomes import classify, summarize_logits
from dnnfi.faults.seeds import rng_for


def mixed_fault_list(
    sites: pd.DataFrame, seed: int, n_images: int, n_single: int = 900, n_multi: int = 120
) -> pd.DataFrame:
    """Bit flips (60%), zero, random, stuck-at-0 and stuck-at-1 (10% each) single faults, then
    multi-element faults (3 elements x 2 bits flipped, 2 elements zeroed), ``fault_id`` in order."""
    eligible = sites[sites["eligible"]]
    rng = np.random.default_rng(seed)
    images = np.arange(n_images)
    parts = [draw_activation_faults(eligible, int(n_single * 0.6), rng, images)]
    parts += [
        draw_activation_faults(eligible, int(n_single * 0.1), rng, images, fault_model=m)
        for m in ("zero", "random", "stuck_at_0", "stuck_at_1")
    ]
    parts += [
        draw_activation_faults(
            eligible, n_multi // 2, rng, images, elements_per_fault=3, bits_per_element=2
        ),
        draw_activation_faults(
            eligible, n_multi // 2, rng, images, fault_model="zero", elements_per_fault=2
        ),
    ]
    faults = pd.concat(parts, ignore_index=True)
    faults["elements"] = [v if isinstance(v, list) else None for v in faults["elements"]]
    faults["bits"] = [v if isinstance(v, list) else None for v in faults["bits"]]
    faults["fault_id"] = np.arange(len(faults))
    return faults


def assert_identical(reference: tuple, other: tuple, what: str) -> None:
    """(golden, faulty) logits of two runs of the same faults: bit-identical, same outcomes."""
    for name, a, b in zip(("golden", "faulty"), reference, other):
        same = (a.view(np.uint32) == b.view(np.uint32)).all(axis=1)
        assert same.all(), (
            f"{what}: {name} logits differ in {np.count_nonzero(~same)} of {len(same)} faults"
        )
    outcomes = [
        classify(summarize_logits(*r))["outcome"].astype(str).to_numpy() for r in (reference, other)
    ]
    np.testing.assert_array_equal(*outcomes, err_msg=what)


def assert_same_replica(default, other, images: np.ndarray, rate: float) -> None:
    """One random-value weight replica gives bit-identical logits through two weight injectors
    of the same model (e.g. the default device and ``device="cpu"``)."""
    faults = draw_weight_faults(
        default.sites(), rng_for(0, "replica"), rate=rate, fault_model="random"
    )
    with default.applied(faults):
        expected = default.logits(images)
    with other.applied(faults):
        np.testing.assert_array_equal(
            other.logits(images).view(np.uint32), expected.view(np.uint32)
        )


def assert_refused_without_gpu(injector, weight_injector, model, framework: str) -> None:
    """Both injectors of a framework, asked for a GPU on a machine without one, stop with the
    one-line message (``framework``: its name and GPU count call, as in the message)."""
    for make, device in ((injector, "cuda"), (weight_injector, "cuda:1")):
        message = f"^device {device} requested, but {re.escape(framework)} sees no GPU on this machine; expected auto"
        with pytest.raises(DeviceError, match=message):
            make(model, device=device)
