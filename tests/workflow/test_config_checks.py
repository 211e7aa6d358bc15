"""Every shipped config builds its DAG; bad configs stop before any job with one clear message."""

import copy
import os
import re
import time

import pytest
import yaml

from .snakemake_runner import REPO, demo_config, snakemake

pytestmark = pytest.mark.workflow


FOLDER_SOURCES = {"image_folder", "imagenet_folder"}


def placeholders(config: dict, workdir):
    """Empty stand-ins for every local data and weights file a config names (relative paths)."""
    for spec in config["datasets"].values():
        for key in ("path", "train_path", "csv", "classes_tsv"):
            if key in spec:
                folder = key == "train_path" or (key == "path" and spec["source"] in FOLDER_SOURCES | {"gtsrb"})
                target = workdir / spec[key]
                if folder:
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.touch()
    for spec in config["models"].values():
        if "path" in spec:
            (workdir / spec["path"]).parent.mkdir(parents=True, exist_ok=True)
            (workdir / spec["path"]).touch()


@pytest.mark.parametrize("config", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_dry_run_of_every_shipped_config(config, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = yaml.safe_load(config.read_text())
    for parent in ("datasets", "models"):
        for entry in spec[parent].values():
            for key in ("path", "train_path", "csv", "classes_tsv"):
                if key in entry and os.path.isabs(entry[key]):
                    pytest.fail(f"{config.name}: {parent} path {entry[key]} is absolute; configs use relative paths")
    placeholders(spec, workdir)
    start = time.perf_counter()
    result = snakemake(workdir, config, "-n", "--quiet", "rules")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    assert int(counts["total"]) > 5 and counts["all"] == "1"
    print(f"{config.name}: {counts['total']} jobs, DAG built in {seconds:.1f} s: {counts}")


def broken(edit):
    config = copy.deepcopy(demo_config())
    edit(config)
    return config


CASES = {
    "unknown top-level key": (
        lambda c: c.update(seeds=3),
        "unknown config key seeds: expected one of campaigns, datasets, models, seed, threads",
    ),
    "unknown campaign key": (
        lambda c: c["campaigns"]["activation_bitflip"].update(injection=5),
        "unknown config key campaigns.activation_bitflip.injection: expected one of",
    ),
    "wrong type": (
        lambda c: c["campaigns"]["activation_bitflip"].update(injections="many"),
        "config key campaigns.activation_bitflip.injections: expected type integer, got 'many'",
    ),
    "wrong enum": (
        lambda c: c["campaigns"]["activation_bitflip"].update(fault_model="melt"),
        "config key campaigns.activation_bitflip.fault_model: expected enum ['bitflip', 'zero', 'random', 'stuck_at_0', 'stuck_at_1'], got 'melt'",
    ),
    "unknown model": (
        lambda c: c["campaigns"]["weight_failure_rate"].update(models=["torch_mlp", "resnet9000"]),
        "config key campaigns.weight_failure_rate.models: unknown model 'resnet9000'",
    ),
    "unknown data set": (
        lambda c: c["models"]["torch_cnn"].update(dataset="mnist"),
        "config key models.torch_cnn.dataset: unknown data set 'mnist', expected one of ['digits']",
    ),
    "unknown architecture": (
        lambda c: c["models"]["keras_branchy"].update(architecture="resnet9000"),
        "config key models.keras_branchy.architecture: unknown keras architecture 'resnet9000'",
    ),
    "file model without a path": (
        lambda c: c["models"]["torch_cnn"].update(source="file", architecture="resnet20_cifar"),
        "config key models.torch_cnn.path: required for source file",
    ),
    "missing model file": (
        lambda c: c["models"]["torch_cnn"].update(source="file", architecture="resnet20_cifar", path="w/r20.th"),
        "config key models.torch_cnn.path: w/r20.th not found",
    ),
    "missing data folder": (
        lambda c: c["datasets"]["digits"].update(source="image_folder", path="data/cifar10"),
        "config key datasets.digits.path: data/cifar10 not found",
    ),
}


@pytest.mark.parametrize("edit, message", CASES.values(), ids=CASES.keys())
def test_bad_config_stops_before_any_job(edit, message, tmp_path):
    result = snakemake(tmp_path, broken(edit), "--cores", "1")
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "results").exists()
