"""A real run of a tiny config through Snakemake: tables, shard-layout independence, partial
reruns, the report, and the job logs (`dnnfi-status`, progress lines, threads)."""

import copy
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from .snakemake_runner import snakemake

pytestmark = pytest.mark.workflow

FIT = {"epochs": 15, "batch_size": 64, "learning_rate": 0.003}
TINY = {
    "seed": 11,
    "threads": 1,
    "datasets": {"digits": {"source": "digits", "taxonomy": "digits"}},
    "models": {
        "kseq": {
            "framework": "keras",
            "dataset": "digits",
            "architecture": "digits_sequential",
            "train": FIT,
        },
        "kbranch": {
            "framework": "keras",
            "dataset": "digits",
            "architecture": "digits_branchy",
            "train": FIT,
        },
        "tmlp": {
            "framework": "torch",
            "dataset": "digits",
            "architecture": "digits_mlp",
            "train": FIT,
        },
    },
    "campaigns": {
        "act": {
            "kind": "activation",
            "models": ["kseq", "kbranch"],
            "injections": 300,
            "shards": 3,
            "images": 100,
        },
        # every output of kseq's eligible layers is >= 0 (ReLU, pooling): forcing the sign bit to 0 changes nothing
        "null": {
            "kind": "activation",
            "models": ["kseq"],
            "injections": 200,
            "fault_model": "stuck_at_0",
            "bits": [31],
        },
        "wr": {
            "kind": "weight_rate",
            "models": ["tmlp"],
            "frates": [0.05, 0.1],
            "replicas": 2,
            "shards": 2,
            "images": 100,
        },
        # one model, one frate, one perturbation: the tests across models, frates and factors do not apply
        "wr1": {
            "kind": "weight_rate",
            "models": ["tmlp"],
            "frates": [0.05],
            "perturbations": ["zero"],
            "replicas": 2,
            "images": 50,
        },
        "lev": {"kind": "activation", "models": ["kseq"], "margin": 0.1, "images": 100},
        "tact": {
            "kind": "activation",
            "models": ["tmlp"],
            "injections": 200,
            "fault_model": "random",
            "images": 100,
        },
        "seq": {
            "kind": "activation",
            "models": ["kseq"],
            "injections": 1000,
            "margin": 0.05,
            "sequential": True,
            "round_size": 100,
            "images": 100,
        },
        # protection on the same faults as act (kbranch only) and tact, one engine and method each
        "kclip": {
            "kind": "activation",
            "models": ["kbranch"],
            "paired_with": "act",
            "protection": {"method": "clip_to_zero", "profile_images": 200},
        },
        "tranger": {
            "kind": "activation",
            "paired_with": "tact",
            "protection": {"method": "range_restriction"},
        },
    },
}
MLP_WEIGHTS = 64 * 64 + 64 * 64 + 64 * 10


def test_activation_tables(run):
    summary = pd.read_csv(run / "results/tables/act/summary.csv").set_index("model")
    assert sorted(summary.index) == ["kbranch", "kseq"]
    assert (summary["injections"] == 300).all()
    rates = summary[["masked_rate", "benign_rate", "sdc_rate", "due_rate"]].sum(axis=1)
    assert np.allclose(rates, 1.0)
    assert (
        (summary["sdc_rate_lo"] <= summary["sdc_rate"])
        & (summary["sdc_rate"] <= summary["sdc_rate_hi"])
    ).all()
    assert summary["top1_accuracy"].between(0.8, 1.0).all()
    injections = pd.read_parquet(run / "results/campaigns/act/digits/kseq/injections.parquet")
    assert len(injections) == 300 and injections["fault_id"].tolist() == list(range(300))
    spread = set(
        np.linspace(0, 539, 100).round().astype(int)
    )  # 100 of the 540 test images, evenly spread
    assert set(injections["image"]) <= spread and injections["bit"].between(0, 31).all()
    scm = pd.read_csv(run / "results/tables/act/scm.csv")
    assert set(scm["scenario"]) >= {"fault_free", "fi_correct"}
    assert (scm["scm"] <= scm["mispredictions"]).all()


def test_faults_that_change_nothing_give_zero_sdc(run):
    summary = pd.read_csv(run / "results/tables/null/summary.csv")
    assert summary["sdc_rate"].tolist() == [0.0] and summary["masked_rate"].tolist() == [1.0]


def test_margin_gives_the_leveugle_sample_size(run):
    summary = pd.read_csv(run / "results/tables/lev/summary.csv")
    assert summary["injections"].tolist() == [96]  # 1.96^2 x 0.25 / 0.1^2 = 96.04
    assert summary["target_margin"].tolist() == [0.1]


def test_torch_activation_campaign(run):
    injections = pd.read_parquet(run / "results/campaigns/tact/digits/tmlp/injections.parquet")
    assert len(injections) == 200 and (injections["fault_model"] == "random").all()
    assert injections["random_u"].between(0, 1).all() and injections["site"].nunique() > 1
    summary = pd.read_csv(run / "results/tables/tact/summary.csv")
    assert summary["injections"].tolist() == [200]


def test_sequential_campaign_stops_at_the_target_margin(run):
    from dnnfi.designs.sequential import sequential_stop

    rounds = [
        pd.read_parquet(run / f"results/campaigns/seq/digits/kseq/shard-{i}.parquet")
        for i in range(10)
    ]
    done = pd.concat(rounds).sort_values("fault_id")
    stop = sequential_stop((done["outcome"] == "sdc").to_numpy(), 0.05, 100)
    assert stop is not None and len(done) == stop < 1000
    assert all(len(r) == 100 for r in rounds[: stop // 100]) and all(
        len(r) == 0 for r in rounds[stop // 100 :]
    )
    summary = pd.read_csv(run / "results/tables/seq/summary.csv")
    assert summary["injections"].tolist() == [stop] and summary["sdc_rate_margin"].iloc[0] <= 0.05


def test_shard_files_hold_their_fault_lists(run):
    shard = pd.read_parquet(run / "results/campaigns/act/digits/kbranch/shard-1.parquet")
    assert shard["fault_id"].tolist() == list(range(100, 200))
    assert {"site", "element", "bit", "fault_model", "outcome", "faulty_top5"} <= set(shard.columns)
    weights = pd.concat(
        pd.read_parquet(run / f"results/campaigns/wr/digits/tmlp/shard-{i}.parquet") for i in (0, 1)
    )
    assert len(weights) == 8  # 2 frates x 2 perturbations x 2 replicas
    expected = {0.05: round(0.05 * MLP_WEIGHTS), 0.1: round(0.1 * MLP_WEIGHTS)}
    assert (weights["n_faults"] == weights["frate"].map(expected)).all()
    # the fault contract's stored columns, the same for Keras and PyTorch shards
    assert all(
        len(set(zip(s, e))) == n
        for s, e, n in zip(weights["fault_site"], weights["fault_element"], weights["n_faults"])
    )
    zero = weights[weights["perturbation"] == "zero"]
    assert all(
        (np.asarray(b) == -1).all() and np.isnan(u).all()
        for b, u in zip(zero["fault_bit"], zero["fault_random_u"])
    )


def test_weight_tables_and_statistics(run):
    replicas = pd.read_csv(run / "results/tables/wr/replicas.csv")
    assert len(replicas) == 9 and replicas.loc[replicas["frate"] == 0, "perturbation"].tolist() == [
        "none"
    ]
    anova = pd.read_csv(run / "results/stats/wr/anova_factorial.csv")
    assert "C(frate)" in set(anova["term"]) and "C(perturbation)" in set(anova["term"])
    assert (
        anova.loc[anova["term"] != "Residual", "p_value"].between(0, 1).all()
        and anova["reason"].isna().all()
    )
    # one model: nothing to compare across models; the rows say so instead of F = NaN, reject = False
    for name, reason in (
        ("anova_models", "one model: no comparison across models"),
        ("tukey", "one model: no pairs of models to compare"),
    ):
        table = pd.read_csv(run / f"results/stats/wr/{name}.csv")
        assert list(table.columns) == ["frate", "perturbation", "reason"]
        assert sorted(zip(table["frate"], table["perturbation"])) == [
            (0.05, "random"),
            (0.05, "zero"),
            (0.1, "random"),
            (0.1, "zero"),
        ]
        assert (table["reason"] == reason).all()
    variances = pd.read_csv(run / "results/stats/wr/equal_variance.csv")
    assert (
        len(variances) == 4 and (variances["frates"] == 2).all()
    )  # (zero, random) x (levene, bartlett)
    # with 2 replicas both deviations from the median are equal: Levene is undefined, not "p = 1e-31, reject"
    levene = variances[variances["test"] == "levene"]
    assert levene["statistic"].isna().all() and levene["reject_equal_variances"].isna().all()
    assert (
        levene["reason"]
        .str.startswith("levene undefined: the deviations from the median do not vary")
        .all()
    )
    bartlett = variances[variances["test"] == "bartlett"]
    assert (
        bartlett["p_value"].between(0, 1) | bartlett["reason"].str.startswith("bartlett undefined")
    ).all()


def test_single_setting_weight_campaign_marks_its_tests_not_applicable(run):
    def stats(name):
        return pd.read_csv(run / f"results/stats/wr1/{name}.csv")

    factorial = stats("anova_factorial")
    assert list(factorial.columns) == ["term", "reason"] and factorial["term"].isna().all()
    assert factorial["reason"].tolist() == [
        "one model, one frate and one perturbation: no factor varies"
    ]
    assert stats("equal_variance").to_dict("list") == {
        "model": ["tmlp", "tmlp"],
        "perturbation": ["zero", "zero"],
        "test": ["levene", "bartlett"],
        "reason": ["one frate: no variances across frates to compare"] * 2,
    }
    assert stats("tukey")["reason"].tolist() == ["one model: no pairs of models to compare"]
    descriptive = stats("descriptive")
    replicas = pd.read_csv(run / "results/tables/wr1/replicas.csv")
    errors = replicas.loc[replicas["frate"] == 0.05, "top1_error"]
    assert len(errors) == 2 and descriptive["mean"].tolist() == pytest.approx([errors.mean()])
    assert (run / "results/figures/wr1/std_intervals.png").stat().st_size > 5_000
    for figure in ("error_vs_frate", "replica_boxplots"):
        assert (run / f"results/figures/wr/{figure}.png").stat().st_size > 10_000


def test_same_faults_and_outcomes_with_one_shard(run, tmp_path):
    for part in ("data", "models", "baseline"):
        shutil.copytree(run / "results" / part, tmp_path / "results" / part)
    config = copy.deepcopy(TINY)
    config["campaigns"] = {
        "act": {**TINY["campaigns"]["act"], "shards": 1},
        "wr": {**TINY["campaigns"]["wr"], "shards": 1},
    }
    result = snakemake(tmp_path, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    assert "rule train_" not in result.stdout + result.stderr
    columns = ["fault_id", "image", "site", "element", "bit", "outcome", "faulty_top1"]
    for model in ("kseq", "kbranch"):
        one = pd.read_parquet(
            tmp_path / f"results/campaigns/act/digits/{model}/injections.parquet"
        )[columns]
        three = pd.read_parquet(run / f"results/campaigns/act/digits/{model}/injections.parquet")[
            columns
        ]
        pd.testing.assert_frame_equal(one, three)
    key = ["frate", "perturbation", "replica"]
    one = pd.read_csv(tmp_path / "results/tables/wr/replicas.csv").sort_values(
        key, ignore_index=True
    )
    two = pd.read_csv(run / "results/tables/wr/replicas.csv").sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(one, two)


def test_changing_one_models_injections_reruns_only_its_shards(run):
    config = copy.deepcopy(TINY)
    config["campaigns"]["act"]["per_model"] = {"kbranch": {"injections": 450}}
    result = snakemake(run, config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
    assert (
        counts["inject_activation"] == "6"
    )  # act's 3 shards and their replays by its protected pair kclip
    assert set(re.findall(r"results/campaigns/(act|kclip)/digits/(\w+)/shard-\d", out)) == {
        ("act", "kbranch"),
        ("kclip", "kbranch"),
    }
    assert not {"train", "baseline", "inject_weight_rate"} & set(counts)


def test_report_contains_the_figures(run):
    result = snakemake(run, TINY, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (run / "report.html").read_text(errors="ignore")
    for name in (
        "sdc_rate.png",
        "scm_probability.png",
        "sdc_by_bit.png",
        "error_vs_frate.png",
        "replica_boxplots.png",
    ):
        assert name in html


@pytest.mark.parametrize(
    "campaign,paired,model", [("kclip", "act", "kbranch"), ("tranger", "tact", "tmlp")]
)
def test_protected_campaign_replays_the_paired_faults(run, campaign, paired, model):
    protected = pd.read_parquet(
        run / f"results/campaigns/{campaign}/digits/{model}/injections.parquet"
    )
    unprotected = pd.read_parquet(
        run / f"results/campaigns/{paired}/digits/{model}/injections.parquet"
    )
    keys = ["fault_id", "image", "site", "element", "bit", "fault_model"]
    pd.testing.assert_frame_equal(protected[keys], unprotected[keys])
    bounds = pd.read_csv(run / f"results/campaigns/{campaign}/digits/{model}/bounds.csv")
    assert (
        list(bounds.columns) == ["site", "layer", "min", "max"]
        and (bounds["min"] <= bounds["max"]).all()
    )
    table = pd.read_csv(run / f"results/tables/{campaign}/protection.csv")
    assert set(table["scenario"]) >= {"all", "fi_correct", "fault_free"}
    rows = table[table["scenario"] == "all"].set_index("measure")
    assert sorted(rows.index) == ["due", "scm", "sdc"] and (rows["trials"] == len(protected)).all()
    sdc = rows.loc["sdc"]
    assert sdc["count_unprotected"] == (unprotected["outcome"] == "sdc").sum()
    assert sdc["count_protected"] == (protected["outcome"] == "sdc").sum()
    assert sdc["difference"] == (sdc["only_protected"] - sdc["only_unprotected"]) / len(protected)
    assert (
        sdc["difference_lo"] <= sdc["difference"] <= sdc["difference_hi"]
        and 0 <= sdc["mcnemar_p"] <= 1
    )
    accuracy = table[table["scenario"] == "fault_free"].iloc[0]
    assert (
        accuracy["trials"] == 100 and accuracy["rate_unprotected"] >= 0.8
    )  # the 100 evaluated images
    assert (run / f"results/figures/{campaign}/protection.png").stat().st_size > 10_000


def test_status_reads_the_finished_runs_job_logs(run):
    result = subprocess.run(
        [sys.executable, "-m", "dnnfi.workflow.status"], cwd=run, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    logs = list((run / "results/logs").rglob("*.log"))
    assert not [
        p for p in logs if ".attempt-" in p.name
    ]  # every job's attempt succeeded: none kept
    summary, header, *rows = result.stdout.splitlines()
    assert summary == f"{len(logs)} jobs: {len(logs)} done"
    assert header.split() == ["JOB", "STATE", "ATTEMPT", "PROGRESS", "RATE", "ETA", "UPDATED"]
    rows = {row.split()[0]: row.split() for row in rows}
    for job, progress in [
        ("train/digits/tmlp.pt", "epochs 15/15"),
        ("train/digits/kseq.keras", "epochs 15/15"),
        ("baseline/digits/tmlp", "passes 34/34"),  # 540 test images in passes of 16
        ("inject/wr/digits/tmlp/shard-0", "replicas 4/4"),  # 2 frates x 2 perturbations x 2 / 2
        ("bounds/kclip/digits/kbranch", "bounds 3/3"),
        ("bounds/tranger/digits/tmlp", "bounds 3/3"),
    ]:
        assert rows[job][1:6] == ["done", "1", *progress.split(), "(100%)"], rows[job]
        assert re.fullmatch(r"[\d.e+-]+/s", rows[job][6]) and rows[job][7] == "-"
    train = (run / "results/logs/train/digits/tmlp.pt.log").read_text()
    assert " INFO progress epochs 0/15 ?/s eta ?\n" in train  # then a line per epoch, with its loss
    assert re.findall(
        r" INFO progress epochs (\d+)/15 \S+/s eta \d+ loss=\d\.\d{4}$", train, re.M
    ) == [str(epoch) for epoch in range(1, 16)]


@pytest.mark.parametrize(
    "log, framework",
    [
        ("train/digits/tmlp.pt", "PyTorch"),
        ("train/digits/kseq.keras", "TensorFlow"),
        ("inject/act/digits/kseq/shard-0", "TensorFlow"),
    ],
)
def test_jobs_use_the_threads_snakemake_gives_them(run, log, framework):
    text = (run / f"results/logs/{log}.log").read_text()
    assert " threads 1 host " in text  # TINY's threads: 1, on a machine with more cores
    assert f"INFO {framework} threads: intra-op 1, inter-op 1\n" in text
