"""Local data and weights are inputs of the jobs that read them: a model file or an image replaced
in place reruns exactly what depends on it; a wrong sha256 stops the job that reads the file."""

import os
import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from dnnfi.data.inputs import sha256
from dnnfi.engines.torchfi.cifar import cifar_resnet

from .snakemake_runner import snakemake

pytestmark = pytest.mark.workflow

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CONFIG = {
    "threads": 1,
    "datasets": {
        d: {
            "source": "image_folder",
            "path": f"images_{d}",
            "classes": CLASSES,
            "taxonomy": "cifar10",
        }
        for d in ("a", "b")
    },
    "models": {
        m: {
            "framework": "torch",
            "dataset": d,
            "source": "file",
            "architecture": "resnet20_cifar",
            "path": f"{m}.th",
            "preprocess": "imagenet_mean_std",
        }
        for m, d in (("ra", "a"), ("rb", "b"))
    },
    "campaigns": {
        "act": {
            "kind": "activation",
            "models": ["ra", "rb"],
            "injections": 20,
            "shards": 2,
            "images": 10,
        }
    },
}
#: what a replaced model file of ra reruns: its own jobs and the campaign's tables and figures
MODEL_JOBS = {
    "results/models/a/ra.pt",
    "results/baseline/a/ra.parquet",
    "results/campaigns/act/a/ra/shard-0.parquet",
    "results/campaigns/act/a/ra/shard-1.parquet",
    "results/campaigns/act/a/ra/injections.parquet",
}
CAMPAIGN_JOBS = {"results/tables/act/summary.csv", "results/figures/act/sdc_rate.png"}


def checkpoint(path, seed):
    torch.manual_seed(seed)
    model = cifar_resnet(20, 10)
    for (
        module
    ) in model.modules():  # running statistics away from 0/1: the seed shows in the outputs
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    torch.save({"state_dict": model.state_dict()}, path)


def images(root, seed):
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / "test" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            root / "test" / name / "0.png"
        )


def planned(workdir, config) -> set[str]:
    """The outputs of the jobs a dry run plans."""
    result = snakemake(workdir, config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = re.findall(r"^\s+output: (.+)$", result.stdout + result.stderr, re.M)
    return {path for line in lines for path in line.split(", ")}


def per_dataset(outputs: set[str]) -> set[str]:
    """The outputs of one data set's jobs (data, models, baselines, shards), not the campaign's tables."""
    return {p for p in outputs if re.search(r"/[ab]/", p)}


def run(workdir, config):
    result = snakemake(workdir, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_replaced_model_file_or_image_reruns_exactly_its_dependents(tmp_path):
    for seed, (model, dataset) in enumerate((("ra", "a"), ("rb", "b"))):
        checkpoint(tmp_path / f"{model}.th", seed)
        images(tmp_path / f"images_{dataset}", seed)
    run(tmp_path, CONFIG)
    assert planned(tmp_path, CONFIG) == set()
    before = pd.read_parquet(tmp_path / "results/baseline/a/ra.parquet")
    untouched = {
        p: p.stat().st_mtime_ns
        for p in (tmp_path / "results").rglob("*")
        if "/b/" in str(p) and p.is_file()
    }

    checkpoint(tmp_path / "ra.th", seed=7)  # other weights at the same path
    plan = planned(tmp_path, CONFIG)
    assert per_dataset(plan) == MODEL_JOBS and CAMPAIGN_JOBS <= plan, plan
    run(tmp_path, CONFIG)
    after = pd.read_parquet(tmp_path / "results/baseline/a/ra.parquet")
    assert len(after) == len(before) and not after.equals(before)  # the new weights' numbers
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched

    image = tmp_path / "images_a/test/cat/0.png"
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(
        image
    )  # one image replaced in place
    plan = planned(tmp_path, CONFIG)
    assert (
        per_dataset(plan)
        == MODEL_JOBS | {"results/data/a/test.npz", "results/campaigns/act/a/images.parquet"}
        and CAMPAIGN_JOBS <= plan
    ), plan
    run(tmp_path, CONFIG)
    cat = CLASSES.index("cat")
    with np.load(tmp_path / "results/data/a/test.npz") as data:
        assert (data["x"][data["y"] == cat] == 0).all()

    os.remove(tmp_path / "ra.th")
    result = snakemake(tmp_path, CONFIG, "--cores", "2")
    assert result.returncode != 0
    assert "config key models.ra.path: ra.th not found" in result.stderr


def test_a_wrong_checksum_stops_the_job_that_reads_the_file(tmp_path):
    checkpoint(tmp_path / "ra.th", 0)
    images(tmp_path / "images_a", 0)
    config = {
        "threads": 1,
        "datasets": {"a": CONFIG["datasets"]["a"] | {"sha256": sha256(tmp_path / "images_a")}},
        "models": {"ra": CONFIG["models"]["ra"] | {"sha256": "0" * 64}},
        "campaigns": {"act": CONFIG["campaigns"]["act"] | {"models": ["ra"]}},
    }
    result = snakemake(tmp_path, config, "--cores", "1", "results/models/a/ra.pt")
    assert result.returncode != 0
    assert (
        f"config key models.ra.sha256: ra.th has SHA-256 {sha256(tmp_path / 'ra.th')}, expected {'0' * 64}"
        in result.stderr
    )
    assert (tmp_path / "results/data/a/test.npz").exists()  # the data's checksum matched
