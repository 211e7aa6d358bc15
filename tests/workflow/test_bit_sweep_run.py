"""A real run of a tiny bit-sweep campaign through Snakemake: every point swept over all its bits,
bit_sweep.csv equal to an independent recount of the collected injections, no tables that assume
independent injections, and the same faults, outcomes and tables with one shard as with two."""

import copy

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from dnnfi.designs.bit_sweep import clustered_rate

from .snakemake_runner import rerun_with_one_shard, run_on_models_of, snakemake
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow

POINTS = 30
CONFIG = {
    **TINY,
    "models": {"tmlp": TINY["models"]["tmlp"]},
    "campaigns": {
        "sweep": {
            "kind": "activation",
            "models": ["tmlp"],
            "images": 60,
            "injections": POINTS,
            "shards": 2,
            "bit_sweep": True,
        }
    },
}
FOLDER = "results/campaigns/sweep/digits/tmlp"


@pytest.fixture(scope="module")
def sweep(run, tmp_path_factory):
    """The campaign run on the tiny run's model."""
    return run_on_models_of(run, tmp_path_factory.mktemp("sweep"), CONFIG)


def test_every_point_is_swept_over_its_32_bits(sweep):
    injections = pd.read_parquet(sweep / f"{FOLDER}/injections.parquet")
    assert len(injections) == 32 * POINTS and injections["fault_id"].tolist() == list(
        range(32 * POINTS)
    )
    assert injections["point"].tolist() == np.repeat(np.arange(POINTS), 32).tolist()
    assert injections["bit"].tolist() == list(range(32)) * POINTS
    assert (injections.groupby("point")[["image", "site", "element"]].nunique() == 1).all().all()
    # the shards cut whole points: shard 0 holds points 0..14
    shard = pd.read_parquet(sweep / f"{FOLDER}/shard-0.parquet")
    assert sorted(set(shard["point"])) == list(range(POINTS // 2))


def test_table_is_an_independent_recount(sweep):
    table = pd.read_csv(sweep / "results/tables/sweep/bit_sweep.csv", dtype={"bit": str})
    injections = pd.read_parquet(sweep / f"{FOLDER}/injections.parquet")
    scenario = np.where(injections["scenario"] == "fi_correct", "fi_correct", "fi_misclassified")
    for name, part in [("all", injections)] + [
        (s, injections[scenario == s]) for s in sorted(set(scenario))
    ]:
        rows = table[table["scenario"] == name].set_index("bit")
        assert list(rows.index) == [str(b) for b in range(32)] + ["all"]
        points = part["point"].nunique()
        for bit in range(32):
            these, row = part[part["bit"] == bit], rows.loc[str(bit)]
            assert row["points"] == len(these) == points
            counts = {
                "sdc": (these["outcome"] == "sdc").sum(),
                "due": (these["outcome"] == "due").sum(),
                "sdc_top5": these["sdc_top5"].sum(),
                "scm": these["scm"].sum(),
            }
            for event, k in counts.items():
                assert row[event] == k
                lo, hi = proportion_confint(k, points, method="wilson")
                assert row[f"{event}_rate"] == pytest.approx(k / points)
                assert row[f"{event}_rate_lo"] == pytest.approx(min(lo, k / points), abs=1e-12)
                assert row[f"{event}_rate_hi"] == pytest.approx(max(hi, k / points), abs=1e-12)
        overall = rows.loc["all"]
        assert overall["points"] == points and overall["injections"] == len(part)
        sdc = part.assign(e=part["outcome"] == "sdc").groupby("point")["e"].agg(["sum", "size"])
        expected = clustered_rate(sdc["sum"].to_numpy(), sdc["size"].to_numpy())
        assert overall["sdc_rate"] == pytest.approx(sdc["sum"].sum() / len(part))
        for part_name in ("lo", "hi", "n_eff"):
            assert overall[
                f"sdc_rate_{part_name}" if part_name != "n_eff" else "sdc_rate_n_eff"
            ] == pytest.approx(float(expected[part_name]))
        assert points <= overall["sdc_rate_n_eff"] <= len(part)
    assert table["sdc"].sum() > 0  # the tiny MLP does fail on some bits
    for name in (
        "summary",
        "outcomes",
        "by_bit",
        "scm",
    ):  # no tables that assume independent injections
        assert not (sweep / f"results/tables/sweep/{name}.csv").exists()
    assert (sweep / "results/figures/sweep/bit_sweep.png").stat().st_size > 0
    assert "FI, all images" in (sweep / "results/tables/sweep/bit_sweep.md").read_text()


def test_same_faults_outcomes_and_tables_with_one_shard(sweep, tmp_path):
    rerun_with_one_shard(sweep, tmp_path, CONFIG, "sweep")
    columns = [
        "fault_id",
        "point",
        "image",
        "site",
        "element",
        "bit",
        "outcome",
        "faulty_top1",
        "sdc_top5",
        "scm",
    ]
    one = pd.read_parquet(tmp_path / f"{FOLDER}/injections.parquet")[columns]
    two = pd.read_parquet(sweep / f"{FOLDER}/injections.parquet")[columns]
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "results/tables/sweep/bit_sweep.csv"),
        pd.read_csv(sweep / "results/tables/sweep/bit_sweep.csv"),
    )


def test_refusals_stop_the_workflow_before_any_job(tmp_path):
    config = copy.deepcopy(CONFIG)
    config["campaigns"]["sweep"]["margin"] = 0.01
    result = snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    assert (
        "config key campaigns.sweep.margin: a bit-sweep campaign runs `injections` points"
        in result.stderr
    )
    assert not (tmp_path / "results").exists()
