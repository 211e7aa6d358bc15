"""Bit-sweep campaigns (``design: bit_sweep``, dnnfi.designs.bit_sweep): one-line
refusals, the expansion of points into bits (also through the campaign's drawing and shards), the
per-bit table, and the clustered interval of the bit-uniform rate on synthetic populations with
known answers (coverage by simulation, fixed seeds)."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from dnnfi.designs.bit_sweep import DESIGN as BIT_SWEEP
from dnnfi.designs.bit_sweep import clustered_rate, sweep_table
from dnnfi.designs.uniform import campaign_faults
from dnnfi.faults.lists import bit_sweep, validate_faults
from dnnfi.workflow import config as C

DEMO = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text())
SWEEP = {
    "kind": "activation",
    "models": ["torch_mlp", "torch_cnn"],
    "injections": 50,
    "bit_sweep": True,
}


def checked(extra=None, **keys):
    config = copy.deepcopy(DEMO)
    config["campaigns"]["b"] = copy.deepcopy(SWEEP) | keys
    config["campaigns"].update(extra or {})
    C.check(config)
    return config["campaigns"]


def error(extra=None, **keys) -> str:
    with pytest.raises(C.ConfigError) as info:
        checked(extra, **keys)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_default_off_and_a_valid_sweep():
    campaigns = checked()
    assert campaigns["b"]["design"] == "bit_sweep" and "bit_sweep" not in campaigns["b"].get(
        "kind", ""
    )
    assert campaigns["activation_bitflip"]["design"] == "uniform"
    assert checked(fault_model="stuck_at_1", bits=[30, 23], image_sampling="per_correctness")["b"][
        "bits"
    ] == [30, 23]


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"bit_sweep": "yes"}, "config key campaigns.b.bit_sweep: expected type boolean"),
        (
            {"fault_model": "zero"},
            "config key campaigns.b.fault_model: a bit-sweep campaign needs a single-bit fault model "
            "(bitflip, stuck_at_0, stuck_at_1), not zero",
        ),
        (
            {"fault_model": "random"},
            "config key campaigns.b.fault_model: a bit-sweep campaign needs a single-bit fault model",
        ),
        (
            {"bits_per_element": 2},
            "config key campaigns.b.bits_per_element: a bit-sweep campaign draws single-bit faults of one "
            "element; expected 1",
        ),
        (
            {"elements_per_fault": 3},
            "config key campaigns.b.elements_per_fault: a bit-sweep campaign draws single-bit faults",
        ),
        (
            {"stratified": {}, "margin": 0.01},
            "config key campaigns.b.bit_sweep: stratified and bit_sweep name two designs "
            "(stratified, bit_sweep), and a campaign has one; write design: stratified "
            "or design: bit_sweep",
        ),
        (
            {"sequential": True, "margin": 0.01},
            "config key campaigns.b.sequential: bit_sweep and sequential name two designs",
        ),
        (
            {"margin": 0.01},
            "config key campaigns.b.margin: a bit-sweep campaign runs `injections` points",
        ),
        (
            {"shards": 51},
            "config key campaigns.b.shards: 51 shards for 50 points (bit_sweep: shards cut points) of model torch_mlp",
        ),
    ],
)
def test_refusals_name_the_key(keys, message):
    assert error(**keys).startswith(message)


def test_a_bit_sweep_cannot_be_the_pair_of_a_protected_campaign():
    protected = {
        "p": {"kind": "activation", "paired_with": "b", "protection": {"method": "clip_to_zero"}}
    }
    assert error(protected) == (
        "config key campaigns.p.paired_with: expected a campaign of design uniform, "
        "sequential or stratified, one of ['activation_bitflip'], got 'b' (design bit_sweep)"
    )
    # nor may a protected campaign ask for a sweep itself (its fault keys come from the pair)
    bad = {
        "p": {
            "kind": "activation",
            "paired_with": "activation_bitflip",
            "bit_sweep": True,
            "protection": {"method": "clip_to_zero"},
        }
    }
    assert error(bad).startswith(
        "config key campaigns.p.bit_sweep: a protected campaign replays the faults"
    )


SITES = pd.DataFrame(
    {
        "site": ["in", "a", "h", "out"],
        "size": [5, 40, 12, 10],
        "dtype": ["float32", "float32", "float16", "float32"],
        "eligible": [False, True, True, False],
    }
)


def test_expansion_points_times_bits_point_by_point():
    points = pd.DataFrame({"image": [3, 1, 3], "site": ["h", "a", "a"], "element": [11, 0, 39]})
    full = bit_sweep(points, SITES, "stuck_at_0")
    validate_faults(full, SITES, n_images=4)
    assert len(full) == 16 + 32 + 32 and full["fault_id"].tolist() == list(range(80))
    assert full["point"].tolist() == [0] * 16 + [1] * 32 + [2] * 32
    assert full["bit"].tolist() == list(range(16)) + list(range(32)) * 2
    assert (full["fault_model"] == "stuck_at_0").all() and full["random_u"].isna().all()
    chosen = bit_sweep(points, SITES, "bitflip", bits=[14, 2, 9, 2])  # sorted, duplicates dropped
    assert chosen["bit"].tolist() == [2, 9, 14] * 3 and chosen["point"].tolist() == [
        0,
        0,
        0,
        1,
        1,
        1,
        2,
        2,
        2,
    ]
    assert (
        chosen[["image", "site", "element"]].to_numpy().tolist()[::3] == points.to_numpy().tolist()
    )
    with pytest.raises(ValueError, match="16-bit format"):
        bit_sweep(points, SITES, "bitflip", bits=[20])


def spec(**keys):
    return {
        "seed": 5,
        "campaign": "b",
        "injections": 60,
        "image_sampling": "uniform",
        "sampling": "layer_uniform",
        "fault_model": "bitflip",
        "bits": None,
        "bits_per_element": 1,
        "elements_per_fault": 1,
        "shards": 1,
        "per_correct": 2,
        "per_misclassified": 3,
        "per_category": 10,
    } | keys


@pytest.mark.parametrize(
    "keys",
    [{}, {"image_sampling": "per_correctness"}, {"bits": [9, 3], "sampling": "size_proportional"}],
)
def test_campaign_points_are_the_uniform_campaigns_faults(keys):
    correct = np.array([True, False, True, True, False, True, True])
    plain = campaign_faults(SITES, spec(**keys), "d", "m", correct)
    swept = BIT_SWEEP.fault_list(SITES, spec(**keys), "d", "m", correct)
    first = swept.drop_duplicates("point")
    assert first["point"].tolist() == list(range(len(plain)))
    columns = ["image", "site", "element"]
    assert first[columns].to_numpy().tolist() == plain[columns].to_numpy().tolist()
    widths = swept.groupby("point").size().to_numpy()
    expected = (
        [2] * len(plain) if "bits" in keys else plain["site"].map({"a": 32, "h": 16}).tolist()
    )
    assert widths.tolist() == expected


def test_shards_cut_whole_points_and_only_cut():
    correct = np.ones(7, bool)
    full = BIT_SWEEP.fault_list(SITES, spec(injections=11), "d", "m", correct)
    for shards in (1, 2, 3, 11):
        parts = [
            full.iloc[BIT_SWEEP.shard_rows(full, s, spec(shards=shards))] for s in range(shards)
        ]
        pd.testing.assert_frame_equal(pd.concat(parts), full)
        assert all(len(p) for p in parts)
        owners = [set(p["point"]) for p in parts]
        assert sum(len(o) for o in owners) == 11  # no point split over two shards


def _population(rng, kind, campaigns, points, bits=32):
    """Events (campaigns, points, bits) of a clustered population and its bit-uniform rate."""
    if kind == "clustered":  # 10% of the points are sensitive: exponent bits fail often there
        sensitive = rng.random((campaigns, points)) < 0.1
        hot, cold = np.zeros(bits), np.zeros(bits)
        hot[23:31], cold[30] = 0.6, 0.05
        prob, truth = (
            np.where(sensitive[..., None], hot, cold),
            0.1 * hot.mean() + 0.9 * cold.mean(),
        )
    elif kind == "rare":  # 2% of the points fail on a few bits, the others never
        hot = np.zeros(bits)
        hot[25:31] = 0.8
        prob, truth = (
            np.where((rng.random((campaigns, points)) < 0.02)[..., None], hot, 0.0),
            0.02 * hot.mean(),
        )
    else:  # independent bits: the sweep is as good as independent injections
        prob, truth = np.full((campaigns, points, bits), 0.05), 0.05
    return (rng.random(prob.shape) < prob).sum(axis=-1), truth


@pytest.mark.parametrize(
    "kind, points", [("clustered", 100), ("clustered", 50), ("rare", 300), ("independent", 100)]
)
def test_clustered_interval_covers_and_the_naive_one_does_not(kind, points):
    rng = np.random.default_rng(21)
    events, truth = _population(rng, kind, 3000, points)
    bits = np.full_like(events, 32)
    est = clustered_rate(events, bits)
    assert est["estimate"].mean() == pytest.approx(truth, rel=0.05)  # unbiased
    covered = ((est["lo"] <= truth) & (truth <= est["hi"])).mean()
    lo, hi = proportion_confint(
        events.sum(-1), 32 * points, method="wilson"
    )  # injections as independent
    naive = ((lo <= truth) & (truth <= hi)).mean()
    assert covered >= 0.93
    assert ((points <= est["n_eff"]) & (est["n_eff"] <= 32 * points)).all()
    if kind == "independent":
        assert (
            naive >= 0.93 and np.median(est["n_eff"]) > 0.8 * 32 * points
        )  # nothing lost without clustering
    else:
        assert naive < 0.9  # the independent interval is too narrow over bits


def test_clustered_rate_edge_cases():
    zero = clustered_rate([0, 0, 0], [32, 32, 32])
    lo, hi = proportion_confint(0, 3, method="wilson")
    assert (zero["estimate"], zero["n_eff"], zero["lo"], zero["hi"]) == (0, 3, 0, pytest.approx(hi))
    one = clustered_rate([5], [32])  # one point: no spread to estimate
    assert one["n_eff"] == 1 and one["estimate"] == 5 / 32
    same = clustered_rate(
        [1, 1, 1, 1], [32, 32, 32, 32]
    )  # no spread between points: as many trials as bits
    assert same["n_eff"] == 128
    # unequal widths (a float16 site in a float32 model): the mean of the per-point shares
    assert clustered_rate([8, 4], [32, 16])["estimate"] == 0.25


def test_table_recounts_the_injections():
    rng = np.random.default_rng(3)
    points, bits = 40, 16
    n = points * bits
    outcome = rng.choice(["masked", "benign", "sdc", "due"], size=n, p=[0.6, 0.2, 0.15, 0.05])
    injections = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "point": np.repeat(np.arange(points), bits),
            "bit": np.tile(np.arange(bits), points),
            "outcome": outcome,
            "sdc_top5": (outcome == "sdc") & (rng.random(n) < 0.5),
            "scenario": np.repeat(
                rng.choice(
                    ["fi_correct", "fi_misclassified_scm", "fi_misclassified_nonscm"], points
                ),
                bits,
            ),
        }
    )
    injections["scm"] = (outcome == "sdc") & (rng.random(n) < 0.3)
    table = sweep_table(injections, 0.9)
    assert table["scenario"].drop_duplicates().tolist() == ["all", "fi_correct", "fi_misclassified"]
    for scenario, part in (
        ("all", injections),
        ("fi_correct", injections[injections["scenario"] == "fi_correct"]),
    ):
        rows = table[(table["scenario"] == scenario) & (table["bit"] != "all")]
        assert rows["bit"].tolist() == list(range(bits))
        assert rows["points"].tolist() == part.groupby("bit").size().tolist()
        sdc = part.assign(s=part["outcome"] == "sdc").groupby("bit")["s"].sum().to_numpy()
        assert rows["sdc"].tolist() == sdc.tolist()
        lo, hi = proportion_confint(sdc, rows["points"].to_numpy(), alpha=0.1, method="wilson")
        assert np.allclose(rows["sdc_rate_lo"], np.minimum(lo, sdc / rows["points"]))
        overall = table[(table["scenario"] == scenario) & (table["bit"] == "all")].iloc[0]
        per_point = (
            part.assign(d=part["outcome"] == "due").groupby("point")["d"].agg(["sum", "size"])
        )
        expected = clustered_rate(per_point["sum"], per_point["size"], 0.9)
        assert overall["points"] == len(per_point) and overall["injections"] == len(part)
        assert overall["due_rate"] == pytest.approx(float(expected["estimate"]))
        assert overall["due_rate_lo"] == pytest.approx(float(expected["lo"]))
        assert overall["due_rate_n_eff"] == pytest.approx(float(expected["n_eff"]))
        assert overall["scm"] == part["scm"].sum()
