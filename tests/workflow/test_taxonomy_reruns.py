"""The taxonomy is an input of the SCM jobs only: changing `taxonomy:` or editing the file reruns
the SCM annotation and what follows it, never data preparation, training, baselines or shards."""

import copy
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from .snakemake_runner import REPO, snakemake
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow

DIGITS = yaml.safe_load((REPO / "src/dnnfi/analysis/taxonomies/digits.yaml").read_text())
SCM_JOBS = {"collect_model", "summarize_activation", "figures_activation", "all"}
ACTIVATION_MODELS = {
    ("act", "kseq"),
    ("act", "kbranch"),
    ("null", "kseq"),
    ("lev", "kseq"),
    ("tact", "tmlp"),
    ("seq", "kseq"),
    ("kclip", "kbranch"),
    ("tranger", "tmlp"),
}
#: the protected campaigns' paired tables count SCM too
PROTECTION_JOBS = {"summarize_protection", "figures_protection"}


def taxonomy(critical: list[str]) -> str:
    spec = copy.deepcopy(DIGITS)
    spec["name"] = "speed"
    spec["supergroups"] = {"A": critical, "B": [g for g in spec["groups"] if g not in critical]}
    return yaml.safe_dump(spec, sort_keys=False)


def planned(result) -> tuple[dict, str]:
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", out, re.M) if k != "total"}, out


def test_changing_the_taxonomy_reruns_only_the_scm_jobs(run):
    (run / "speed.yaml").write_text(taxonomy(["high"]))
    config = copy.deepcopy(TINY)
    config["datasets"]["digits"]["taxonomy"] = "speed.yaml"
    counts, out = planned(snakemake(run, config, "-n"))
    assert set(counts) == SCM_JOBS | PROTECTION_JOBS, counts
    # one collect job per model of each activation campaign; the weight campaign does not use it
    collected = set(re.findall(r"results/campaigns/(\w+)/digits/(\w+)/injections\.parquet", out))
    assert counts["collect_model"] == len(ACTIVATION_MODELS) and collected >= ACTIVATION_MODELS
    assert "results/campaigns/wr/" not in out


def test_editing_the_taxonomy_file_reruns_the_scm_tables(run, tmp_path):
    shutil.copytree(run / "results", tmp_path / "results")  # keeps the mtimes: nothing is outdated
    config = copy.deepcopy(TINY)
    config["campaigns"] = {"act": TINY["campaigns"]["act"]}
    config["datasets"]["digits"]["taxonomy"] = "speed.yaml"
    (tmp_path / "speed.yaml").write_text(taxonomy([]))  # no safety-critical group: no SCM at all
    first = snakemake(tmp_path, config, "--cores", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    ran = set(re.findall(r"^localrule (\w+):", first.stdout + first.stderr, re.M))
    assert ran == SCM_JOBS, ran
    scm = pd.read_csv(tmp_path / "results/tables/act/scm.csv")
    assert scm["scm"].sum() == 0 and scm["mispredictions"].sum() > 0

    (tmp_path / "speed.yaml").write_text(
        taxonomy(["low", "mid", "high"])
    )  # every change of band is SCM
    counts, _ = planned(snakemake(tmp_path, config, "-n"))
    assert counts == {
        "collect_model": 2,
        "summarize_activation": 1,
        "figures_activation": 1,
        "all": 1,
    }
    second = snakemake(tmp_path, config, "--cores", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    band = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])  # low 0-2, mid 3-6, high 7-9
    for model in ("kseq", "kbranch"):
        inj = pd.read_parquet(tmp_path / f"results/campaigns/act/digits/{model}/injections.parquet")
        expected = (inj["outcome"] == "sdc") & (
            band[inj["golden_top1"]] != band[inj["faulty_top1"]]
        )
        assert inj["scm"].tolist() == expected.tolist() and expected.any()
    scm = pd.read_csv(tmp_path / "results/tables/act/scm.csv")
    fi = scm[scm["scenario"] == "fi_correct"].set_index("model")
    for model in ("kseq", "kbranch"):
        inj = pd.read_parquet(tmp_path / f"results/campaigns/act/digits/{model}/injections.parquet")
        assert fi.loc[model, "scm"] == inj.loc[inj["scenario"] == "fi_correct", "scm"].sum() > 0
