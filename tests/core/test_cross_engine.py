"""Cross-engine conformance: the same fault lists through KerasInjector and TorchInjector (fx
path and hook fallback) on one dense network built in both frameworks with identical weights
(tests/cross_engine/common.py) give bit-identical golden and faulty logits (NaN positions equal)
and identical outcomes, and the corrupted values read through the identity head are those that
dnnfi.faults.lists gives on the golden values.

This process imports neither framework: it writes weights, inputs and fault lists to tmp_path
and runs tests/cross_engine/run_keras.py and run_torch.py as subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnnfi.faults.bitflip import FAULT_MODELS
from dnnfi.faults.lists import corrupt_activations, draw_activation_faults, fault_pairs
from dnnfi.faults.outcomes import classify, summarize_logits

HERE = Path(__file__).resolve().parents[1] / "cross_engine"
sys.path.insert(0, str(HERE))
from common import LAYERS, WIDTH, make_inputs, make_weights, numpy_forward  # noqa: E402

SITES = pd.DataFrame(
    {"site": [n for n, _ in LAYERS[:-1]], "size": WIDTH, "dtype": [d for _, d in LAYERS[:-1]]}
)
N_IMAGES = 20
#: per fault model: (faults, draw options); lists of >= 300 faults mixing single, multi-bit and
#: multi-element faults on the fp32, fp16 and bf16 sites
BIT_PLAN = [
    (120, {}),
    (60, {"bits_per_element": 2}),
    (60, {"bits_per_element": 3}),
    (40, {"elements_per_fault": 2}),
    (40, {"elements_per_fault": 3, "bits_per_element": 2}),
    (40, {"elements_per_fault": 2, "bits_per_element": 3}),
]
VALUE_PLAN = [(150, {}), (100, {"elements_per_fault": 2}), (100, {"elements_per_fault": 3})]
#: engine runs -> whether their float32 arithmetic flushes subnormals (FTZ/DAZ): TensorFlow sets
#: that mode on CPU, PyTorch does not unless torch.set_flush_denormal(True) (run_torch.py --ftz)
FLUSH = {"keras": True, "torch": False, "torch_hooks": False, "torch_ftz": True}
ENGINES = list(FLUSH)


def fault_list(fault_model: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = BIT_PLAN if fault_model in ("bitflip", "stuck_at_0", "stuck_at_1") else VALUE_PLAN
    parts = [
        draw_activation_faults(SITES, n, rng, np.arange(N_IMAGES), fault_model=fault_model, **kw)
        for n, kw in plan
    ]
    faults = pd.concat(parts, ignore_index=True)
    faults = faults.iloc[rng.permutation(len(faults))].reset_index(
        drop=True
    )  # multi and single interleaved
    faults["fault_id"] = np.arange(len(faults))
    faults["elements"] = [v if isinstance(v, list) else None for v in faults["elements"]]
    faults["bits"] = [v if isinstance(v, list) else None for v in faults["bits"]]
    return faults


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Fault lists, and per engine its sites table and per list (golden, faulty) logits."""
    work = tmp_path_factory.mktemp("cross_engine")
    weights, x = make_weights(), make_inputs(N_IMAGES)
    np.savez(work / "weights.npz", **weights)
    np.save(work / "inputs.npy", x)
    (work / "faults").mkdir()
    lists = {m: fault_list(m, seed) for seed, m in enumerate(FAULT_MODELS)}
    for m, faults in lists.items():
        faults.to_parquet(work / "faults" / f"{m}.parquet")
    commands = {
        "keras": ["run_keras.py"],
        "torch": ["run_torch.py"],
        "torch_hooks": ["run_torch.py", "--hooks"],
        "torch_ftz": ["run_torch.py", "--ftz"],
    }
    results = {}
    for engine, (script, *flags) in commands.items():
        done = subprocess.run(
            [sys.executable, str(HERE / script), str(work), *flags],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{engine}: {done.stderr[-3000:]}"
        results[engine] = {
            "sites": pd.read_parquet(work / engine / "sites.parquet"),
            "logits": {m: dict(np.load(work / engine / f"{m}.npz")) for m in lists},
        }
    # the lists as the engines read them back (list columns as arrays)
    lists = {m: pd.read_parquet(work / "faults" / f"{m}.parquet") for m in lists}
    return {"weights": weights, "x": x, "lists": lists, **results}


def test_lists_cover_every_format_and_multi_fault_kind(runs):
    for m, faults in runs["lists"].items():
        assert len(faults) >= 300
        assert set(faults["site"]) == {"d1", "d2", "d3"}
        _, _, bits = fault_pairs(faults)
        k = faults["elements"].map(lambda v: 0 if v is None else len(set(v)))
        assert (k == 2).sum() >= 40 and (k == 3).sum() >= 40, m
        if m in ("bitflip", "stuck_at_0", "stuck_at_1"):
            assert (
                faults["bits"].map(lambda v: 0 if v is None else len(v)).max() >= 6
            )  # 3 bits x 2 elements
            assert (bits >= 0).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_list_the_same_eligible_sites(runs, engine):
    sites = runs[engine]["sites"]
    eligible = sites[sites["eligible"]][["site", "dtype", "size"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(eligible, SITES[["site", "dtype", "size"]], check_dtype=False)
    assert sites["site"].iloc[-1] == "head" and not sites["eligible"].iloc[-1]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a), 0, a).view(np.uint32)


def expected_logits(runs, fault_model: str, flush: bool) -> np.ndarray:
    """Independent numpy forward of every fault: golden site values from a float64 forward,
    corrupted by dnnfi.faults.lists (corrupt_activations, hence corrupt), propagated through the +-1
    permutations and the casts; the identity head shows them in the logits."""
    faults, weights, x = runs["lists"][fault_model], runs["weights"], runs["x"]
    golden_layers = numpy_forward(weights, x, flush=flush)
    expected = np.empty((len(faults), WIDTH), np.float32)
    names = [n for n, _ in LAYERS]
    for site, group in faults.groupby("site"):
        index = names.index(site)
        golden_site = golden_layers[index][group["image"].to_numpy()]

        def gather(row, element, golden_site=golden_site):
            return golden_site[row, element]

        def value_range(rows, golden_site=golden_site):
            return golden_site[rows].min(axis=1), golden_site[rows].max(axis=1)

        row, element, new, _ = corrupt_activations(
            group.reset_index(drop=True), gather, value_range
        )
        faulty_site = golden_site.copy()
        faulty_site[row, element] = new
        expected[group.index.to_numpy()] = numpy_forward(weights, None, index, faulty_site, flush)[
            -1
        ].astype(np.float32)
    return expected


def subnormal_faults(runs, fault_model: str) -> np.ndarray:
    """Faults whose logits differ between FTZ/DAZ and IEEE float32 arithmetic (a corrupted value
    that is subnormal in float32)."""
    a, b = expected_logits(runs, fault_model, True), expected_logits(runs, fault_model, False)
    return ~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a), 0, a).view(np.uint32)


def assert_same_logits_and_outcomes(
    first: dict, second: dict, faults: pd.DataFrame, skip=None
) -> pd.Series:
    """Bit-identical golden logits; faulty logits bit-identical outside NaN, NaN at the same
    places; same outcomes (rows ``skip`` excluded from the faulty comparisons). Outcome counts."""
    np.testing.assert_array_equal(_bits(first["golden"]), _bits(second["golden"]))
    keep = np.ones(len(faults), bool) if skip is None else ~skip
    a, b = first["faulty"][keep], second["faulty"][keep]
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    differ = (_bits(a) != _bits(b)).any(axis=1)
    assert not differ.any(), faults[keep][differ].head(10).to_string()
    outcomes = [
        classify(summarize_logits(r["golden"][keep], r["faulty"][keep]))["outcome"]
        .astype(str)
        .to_numpy()
        for r in (first, second)
    ]
    np.testing.assert_array_equal(*outcomes)
    return pd.Series(outcomes[0]).value_counts()


@pytest.mark.parametrize("fault_model", FAULT_MODELS)
def test_keras_and_torch_ftz_give_identical_logits_and_outcomes(runs, fault_model):
    """Both frameworks in the same float32 mode (flush-to-zero, TensorFlow's CPU default): every
    fault, bit for bit."""
    counts = assert_same_logits_and_outcomes(
        runs["keras"]["logits"][fault_model],
        runs["torch_ftz"]["logits"][fault_model],
        runs["lists"][fault_model],
    )
    # the lists exercise real corruption, not only masked faults
    assert counts.get("sdc", 0) + counts.get("benign", 0) + counts.get("due", 0) >= 50, counts
    if fault_model in ("bitflip", "stuck_at_1"):
        assert counts.get("due", 0) > 0 and counts.get("masked", 0) + counts.get("benign", 0) > 0, (
            counts
        )


@pytest.mark.parametrize("other", ["torch", "torch_hooks"])
@pytest.mark.parametrize("fault_model", FAULT_MODELS)
def test_keras_and_default_torch_differ_only_where_a_value_is_subnormal(runs, fault_model, other):
    """With PyTorch's default IEEE arithmetic the engines agree bit for bit on every fault except
    those whose corrupted value is a float32 subnormal, which TensorFlow's CPU kernels flush to
    zero (a framework difference, not an engine one; rare: < 1% of the faults)."""
    faults = runs["lists"][fault_model]
    skip = subnormal_faults(runs, fault_model)
    assert skip.mean() < 0.01
    assert_same_logits_and_outcomes(
        runs["keras"]["logits"][fault_model], runs[other]["logits"][fault_model], faults, skip
    )


@pytest.mark.parametrize("fault_model", FAULT_MODELS)
def test_torch_fx_and_hooks_paths_identical(runs, fault_model):
    assert_same_logits_and_outcomes(
        runs["torch"]["logits"][fault_model],
        runs["torch_hooks"]["logits"][fault_model],
        runs["lists"][fault_model],
    )


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fault_model", FAULT_MODELS)
def test_corrupted_values_equal_dnnfi_faults_on_the_golden_values(runs, engine, fault_model):
    """The logits (= corrupted site values, through the identity head) equal the independent
    numpy forward of the engine's float32 mode: numerically equal, NaN at the same places (-0 and
    +0 may differ); golden logits equal the integer forward."""
    faults, result = runs["lists"][fault_model], runs[engine]["logits"][fault_model]
    golden = numpy_forward(runs["weights"], runs["x"])[-1][faults["image"].to_numpy()]
    np.testing.assert_array_equal(result["golden"], golden)
    row, _, _ = fault_pairs(faults)
    assert (
        np.bincount(row) > 1
    ).sum() >= 150  # multi-element / multi-bit faults are part of the check
    np.testing.assert_array_equal(
        result["faulty"], expected_logits(runs, fault_model, FLUSH[engine])
    )
