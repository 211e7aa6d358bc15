"""A real run of a tiny stratified campaign through Snakemake, on a PyTorch and a Keras model: the
table is the library's estimators on the stored outcomes, the rounds are the library's
allocations and stop by the margin, and another shard count gives the same faults and outcomes."""

import numpy as np
import pandas as pd
import pytest

from dnnfi.designs.strata import (
    estimate,
    margin_reached,
    pilot_allocation,
    round_allocation,
    stratum_counts,
)

from .snakemake_runner import rerun_with_one_shard, run_on_models_of
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow

STRAT = {"pilot": 100, "round": 100, "max_injections": 700}
MODELS = ["tmlp", "kbranch"]
CONFIG = {
    **TINY,
    "models": {m: TINY["models"][m] for m in MODELS},
    "campaigns": {
        "strat": {
            "kind": "activation",
            "models": MODELS,
            "images": 100,
            "margin": 0.02,
            "shards": 2,
            "stratified": STRAT,
        },
        # the same faults replayed under range restriction, weighted by the pair's strata (one
        # model: the composition does not depend on the framework)
        "strat_ranger": {
            "kind": "activation",
            "models": ["tmlp"],
            "paired_with": "strat",
            "protection": {"method": "range_restriction", "profile_images": 100},
        },
    },
}
ROUNDS = 7  # the pilot and at most 6 allocation rounds of at least 100 (max_injections 700)


def folder(model: str) -> str:
    return f"results/campaigns/strat/digits/{model}"


@pytest.fixture(scope="module")
def strat(run, tmp_path_factory):
    """The campaign run on the tiny run's models."""
    return run_on_models_of(run, tmp_path_factory.mktemp("strat"), CONFIG)


@pytest.mark.parametrize("model", MODELS)
def test_table_is_the_weighted_estimate_of_the_stored_outcomes(strat, model):
    table = pd.read_csv(strat / "results/tables/strat/stratified.csv")
    assert table[["dataset", "model", "scenario", "strata"]].values.tolist() == [
        ["digits", m, "all", "field_value"] for m in sorted(MODELS)
    ]
    injections = pd.read_parquet(strat / f"{folder(model)}/injections.parquet")
    weights = pd.read_parquet(strat / f"{folder(model)}/all/round-0/strata.parquet")[
        "weight"
    ].to_numpy()
    counts = stratum_counts(injections[injections["round"] > 0], len(weights))
    row = table.set_index("model").loc[model]
    for metric, value in estimate(counts, weights).items():
        for part, suffix in (("estimate", ""), ("lo", "_lo"), ("hi", "_hi"), ("margin", "_margin")):
            assert row[metric + suffix] == pytest.approx(float(value[part]), rel=1e-12)
    assert (
        row["injections"] == len(injections) and row["pilot"] == 100 and row["images"] == 100
    )  # population "all"
    # rounds to the predicted need: at least stratified.round each (the budget is not reached)
    assert row["rounds"] == injections["round"].max()
    assert (injections.groupby("round").size() >= 100).all()
    assert row["achieved_margin"] == row["sdc_rate_margin"]
    assert (row["stopped_by"] == "margin") == (row["achieved_margin"] <= 0.02)
    assert not (strat / "results/tables/strat/summary.csv").exists()  # no unweighted tables
    assert "±2.00%" in (strat / "results/tables/strat/stratified.md").read_text()
    assert all(
        (strat / f"results/figures/strat/stratified.{ext}").stat().st_size > 0
        for ext in ("png", "pdf")
    )


@pytest.mark.parametrize("model", MODELS)
def test_rounds_are_the_library_allocations_and_stop_by_the_margin(strat, model):
    injections = pd.read_parquet(strat / f"{folder(model)}/injections.parquet")
    weights = pd.read_parquet(strat / f"{folder(model)}/all/round-0/strata.parquet")[
        "weight"
    ].to_numpy()
    per_round = {r: stratum_counts(part, len(weights)) for r, part in injections.groupby("round")}
    assert per_round[0]["trials"].tolist() == pilot_allocation(weights, 100).tolist()
    last = max(per_round)
    assert last >= 1 and (last < ROUNDS - 1 or model != "tmlp")  # tmlp stops by the margin
    so_far = None
    for r in range(1, last + 1):
        expected = round_allocation(per_round[0], so_far, weights, "sdc_rate", 0.02, 100, 100, 700)
        assert per_round[r]["trials"].tolist() == expected.tolist()
        assert expected.sum() >= 100 or r == last  # at least a round, unless the budget ends
        so_far = per_round[r] if so_far is None else so_far + per_round[r]
        # every round before the last misses the margin; the last meets it unless it spent the budget
        spent = so_far["trials"].sum() == 700 - 100
        assert margin_reached(so_far, weights, "sdc_rate", 0.02) == (r == last) or (
            r == last and spent
        )
    assert so_far["trials"].sum() <= 700 - 100
    for r in range(last + 1, ROUNDS):
        assert len(pd.read_parquet(strat / f"{folder(model)}/all/round-{r}/faults.parquet")) == 0
    for r in range(
        last + 1
    ):  # a progress line after each drawn round's golden pass, one after its draw
        log = (
            strat / f"results/logs/stratified/strat/digits/{model}/all/round-{r}.log"
        ).read_text()
        assert f" INFO progress round-{r} 1/2 " in log and f" INFO progress round-{r} 2/2 " in log


def test_same_faults_and_outcomes_with_one_shard(strat, tmp_path):
    rerun_with_one_shard(strat, tmp_path, CONFIG, "strat")
    columns = [
        "round",
        "stratum",
        "fault_id",
        "image",
        "site",
        "element",
        "bit",
        "outcome",
        "faulty_top1",
        "scm",
    ]
    for model in MODELS:
        one = pd.read_parquet(tmp_path / f"{folder(model)}/injections.parquet")[columns]
        two = pd.read_parquet(strat / f"{folder(model)}/injections.parquet")[columns]
        pd.testing.assert_frame_equal(
            one.sort_values(["round", "fault_id"], ignore_index=True),
            two.sort_values(["round", "fault_id"], ignore_index=True),
        )
    assert np.array_equal(
        pd.read_csv(tmp_path / "results/tables/strat/stratified.csv").to_numpy(),
        pd.read_csv(strat / "results/tables/strat/stratified.csv").to_numpy(),
    )


def test_protected_pair_replays_every_round_weighted_by_the_pairs_strata(strat, model="tmlp"):
    keys = ["population", "round", "stratum", "fault_id", "image", "site", "element", "bit"]
    replays = f"results/campaigns/strat_ranger/digits/{model}"
    paired, replayed = (
        pd.read_parquet(strat / f"{f}/injections.parquet")[keys].sort_values(
            keys, ignore_index=True
        )
        for f in (folder(model), replays)
    )
    pd.testing.assert_frame_equal(paired, replayed)
    for r in range(ROUNDS):  # the pair's empty rounds (after its stop) replayed as they are
        for s in range(2):
            shard = f"all/round-{r}/shard-{s}.parquet"
            assert len(pd.read_parquet(strat / f"{replays}/{shard}")) == len(
                pd.read_parquet(strat / f"{folder(model)}/{shard}")
            )
    table = pd.read_csv(strat / "results/tables/strat_ranger/protection.csv")
    rows = table[table["model"] == model].set_index("measure")
    assert set(table["model"]) == {model}  # the pair runs on one of the models
    assert rows["scenario"].tolist() == ["all"] * 4 + ["fault_free"]
    assert rows.loc["top1_accuracy", "trials"] == 100
    # each side's rates are the weighted estimates of its own stratified table
    for campaign, side in (("strat", "unprotected"), ("strat_ranger", "protected")):
        weighted = pd.read_csv(strat / f"results/tables/{campaign}/stratified.csv")
        weighted = weighted.set_index("model").loc[model]
        for measure, metric in (
            ("sdc", "sdc_rate"),
            ("due", "due_rate"),
            ("scm", "scm_rate"),
            ("scm_probability", "scm_probability"),
        ):
            assert rows.loc[measure, f"rate_{side}"] == pytest.approx(weighted[metric], rel=1e-12)
    for measure in ("sdc", "due", "scm", "scm_probability"):
        row = rows.loc[measure]
        assert row["difference"] == pytest.approx(row["rate_protected"] - row["rate_unprotected"])
        assert row["difference_lo"] <= row["difference"] <= row["difference_hi"]
        assert row["trials"] == (paired["round"] > 0).sum()
    assert 0 < rows.loc["sdc", "mcnemar_p"] <= 1 and pd.isna(
        rows.loc["scm_probability", "mcnemar_p"]
    )
    assert all(
        (strat / f"results/figures/strat_ranger/{name}.{ext}").stat().st_size > 0
        for name in ("protection", "stratified")
        for ext in ("png", "pdf")
    )
