"""per_correctness image sampling: the injection count follows from the baseline, so a shard can be
empty even when the config passes its check (shards <= 2 x per_category). Such a shard must
write an empty table and the campaign's tables must count the injections that exist."""

import copy
import shutil

import pandas as pd
import pytest

from dnnfi.data.datasets import spread_indices

from .snakemake_runner import snakemake
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow


def test_per_correctness_campaign_with_empty_shards(run, tmp_path):
    for part in ("data", "models", "baseline"):
        shutil.copytree(run / "results" / part, tmp_path / "results" / part)
    campaign = {
        "kind": "activation",
        "models": ["kseq"],
        "image_sampling": "per_correctness",
        "per_correct": 1,
        "per_misclassified": 1,
        "per_category": 2,
        "shards": 4,
        "images": 20,
    }
    config = copy.deepcopy(TINY)
    config["campaigns"] = {"pc": campaign}
    baseline = pd.read_parquet(run / "results/baseline/digits/kseq.parquet")
    correct = baseline["correct"].to_numpy()[spread_indices(len(baseline), 20)]
    expected = min(2, int(correct.sum())) + min(2, int((~correct).sum()))
    assert (
        expected < 4
    )  # the tiny model misclassifies fewer than 2 of these images: some shard is empty
    result = snakemake(tmp_path, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    shards = [
        pd.read_parquet(tmp_path / f"results/campaigns/pc/digits/kseq/shard-{i}.parquet")
        for i in range(4)
    ]
    assert sum(len(s) for s in shards) == expected and min(len(s) for s in shards) == 0
    summary = pd.read_csv(tmp_path / "results/tables/pc/summary.csv")
    assert summary["injections"].tolist() == [expected]
