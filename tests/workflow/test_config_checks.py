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
                folder = key == "train_path" or (
                    key == "path" and spec["source"] in FOLDER_SOURCES | {"gtsrb"}
                )
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
                    pytest.fail(
                        f"{config.name}: {parent} path {entry[key]} is absolute; configs use relative paths"
                    )
    placeholders(spec, workdir)
    start = time.perf_counter()
    result = snakemake(workdir, config, "-n", "--quiet", "rules")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    assert int(counts["total"]) > 5 and counts["all"] == "1"
    readme = dict(
        re.findall(
            r"^\| `config/(\S+\.yaml)` \| [^|]+ \| (\d+) \|", (REPO / "README.md").read_text(), re.M
        )
    )
    assert readme.get(config.name) == counts["total"], f"README's jobs column for {config.name}"
    print(f"{config.name}: {counts['total']} jobs, DAG built in {seconds:.1f} s: {counts}")


def broken(edit):
    config = copy.deepcopy(demo_config())
    edit(config)
    return config


CASES = {
    "unknown top-level key": (
        lambda c: c.update(seeds=3),
        "unknown config key seeds: expected one of campaigns, conda_envs, datasets, device, models, pass_rows, python, seed, tensorflow_onednn, threads",
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
    "misspelled keras.applications classifier": (
        lambda c: c["models"]["keras_branchy"].update(
            source="keras_applications", architecture="EfficientNetB9"
        ),
        "config key models.keras_branchy.architecture: unknown keras architecture 'EfficientNetB9' for source "
        "keras_applications (close matches: EfficientNetB7, EfficientNetB6, EfficientNetB5)",
    ),
    "file model without a path": (
        lambda c: c["models"]["torch_cnn"].update(source="file", architecture="resnet20_cifar"),
        "config key models.torch_cnn.path: required for source file",
    ),
    "missing model file": (
        lambda c: c["models"]["torch_cnn"].update(
            source="file", architecture="resnet20_cifar", path="w/r20.th"
        ),
        "config key models.torch_cnn.path: w/r20.th not found",
    ),
    "missing data folder": (
        lambda c: c["datasets"]["digits"].update(source="image_folder", path="data/cifar10"),
        "config key datasets.digits.path: data/cifar10 not found",
    ),
    "activation key on a weight_rate campaign": (
        lambda c: c["campaigns"]["weight_failure_rate"].update(fault_model="bitflip"),
        "config key campaigns.weight_failure_rate.fault_model: not a key of a weight_rate campaign (it belongs to "
        "uniform, sequential, bit_sweep, stratified campaigns); expected one of biases, bits, confidence, design, "
        "distribution, frates, images, layer_types, models, normalization, perturbations, replicas, shards, value_range",
    ),
    "weight_rate key on an activation campaign": (
        lambda c: c["campaigns"]["activation_bitflip"].update(replicas=5),
        "config key campaigns.activation_bitflip.replicas: not a key of a uniform campaign",
    ),
    "more shards than injections": (
        lambda c: c["campaigns"]["activation_bitflip"].update(
            per_model={"keras_branchy": {"injections": 2}}
        ),
        "config key campaigns.activation_bitflip.shards: 3 shards for 2 injections of model keras_branchy "
        "(per_model.keras_branchy.injections); expected at most 2",
    ),
    "more shards than the Leveugle sample size": (
        lambda c: c["campaigns"]["activation_bitflip"].update(
            margin=0.5, shards=5
        ),  # 1.96^2/4/0.25 = 3.84 -> 4
        "config key campaigns.activation_bitflip.shards: 5 shards for 4 injections of model keras_sequential "
        "(Leveugle sample size of margin 0.5); expected at most 4",
    ),
    "more shards than per_correctness can give": (
        lambda c: c["campaigns"]["activation_bitflip"].update(
            image_sampling="per_correctness", per_category=1
        ),
        "config key campaigns.activation_bitflip.shards: 3 shards for 2 injections of model keras_sequential "
        "(2 x per_category (per_correctness image sampling)); expected at most 2",
    ),
    "stratified campaign without a margin": (
        lambda c: c["campaigns"].update(s={"design": "stratified", "models": ["torch_mlp"]}),
        "config key campaigns.s.margin: required by stratified",
    ),
    "more shards than weight replicas": (
        lambda c: c["campaigns"]["weight_failure_rate"].update(
            frates=[0.01], perturbations=["zero"], replicas=2, shards=3
        ),
        "config key campaigns.weight_failure_rate.shards: 3 shards for 2 replicas per model "
        "(1 frates x 1 perturbations x 2 replicas); expected at most 2",
    ),
    "one replica": (
        lambda c: c["campaigns"]["weight_failure_rate"].update(replicas=1, shards=1),
        "config key campaigns.weight_failure_rate.replicas: 1 replica gives no variance, so no statistic of the "
        "campaign (std, ANOVA, Levene, Bartlett, Tukey, std intervals) can be computed; expected at least 2",
    ),
    "taxonomy of other classes": (
        lambda c: c["datasets"]["digits"].update(taxonomy="cifar10"),
        "config key datasets.digits.taxonomy: taxonomy 'cifar10': its classes differ from the data set's classes",
    ),
    "unknown taxonomy": (
        lambda c: c["datasets"]["digits"].update(taxonomy="digit"),
        "config key datasets.digits.taxonomy: unknown taxonomy 'digit', expected one of",
    ),
    "missing taxonomy file": (
        lambda c: c["datasets"]["digits"].update(taxonomy="taxonomies/speed.yaml"),
        "config key datasets.digits.taxonomy: taxonomies/speed.yaml not found",
    ),
}


@pytest.mark.parametrize("edit, message", CASES.values(), ids=CASES.keys())
def test_bad_config_stops_before_any_job(edit, message, tmp_path):
    result = snakemake(tmp_path, broken(edit), "--cores", "1")
    assert result.returncode != 0
    assert message in result.stderr
    # one line, once (a missing file is also warned about while parsing: a dry run shows the plan)
    errors = [
        line
        for line in result.stderr.splitlines()
        if message[:60] in line and "a real run stops here" not in line
    ]
    assert len(errors) == 1
    assert '  File "' not in result.stderr, "no traceback frames after the line"
    assert not (tmp_path / "results").exists()


def test_one_model_weight_campaign_and_all_five_perturbations_are_planned(tmp_path):
    def edit(c):
        c["campaigns"]["weight_failure_rate"].update(
            models=["torch_mlp"],
            perturbations=["zero", "random", "bitflip", "stuck_at_0", "stuck_at_1"],
        )
        c["campaigns"]["activation_bitflip"].update(margin=0.5, shards=4)
        c["models"]["torch_mlp"]["allow_nonfinite"] = True

    result = snakemake(tmp_path, broken(edit), "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.M))
    # 4 shards x 2 models for activation_bitflip and as many for its protected pair activation_ranger
    assert counts["inject_weight_rate"] == "2" and counts["inject_activation"] == "16"
    assert counts["stats_weight_rate"] == "1"
