"""tools/check_unchanged.py's pure parts: hashing and comparing result files, parsing and
comparing dry-run plans under a rule-rename map and the added rules, the cifar10 subset (the runs themselves take
minutes and are not part of the tests)."""

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "check_unchanged", ROOT / "tools" / "check_unchanged.py"
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256 of b"abc"
SHA_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hashes_and_comparison(tmp_path):
    for side, text in (("base", b"abc"), ("head", b"")):
        (tmp_path / side / "results/tables/c").mkdir(parents=True)
        (tmp_path / side / "results/tables/c/summary.csv").write_bytes(b"abc")
        (tmp_path / side / "results/stats/c").mkdir(parents=True)
        (tmp_path / side / "results/stats/c/tukey.csv").write_bytes(text)
        (tmp_path / side / "results/figures").mkdir(parents=True)
        (tmp_path / side / "results/figures/sdc.png").write_bytes(text)  # not hashed
    (tmp_path / "base/results/tables/c/only_base.csv").write_bytes(b"abc")
    (tmp_path / "head/results/campaigns/c/d/m").mkdir(parents=True)
    (tmp_path / "head/results/campaigns/c/d/m/shard-0.parquet").write_bytes(b"")
    (tmp_path / "head/results/campaigns/c/d/images.parquet").write_bytes(b"")  # ADDED_RULES
    base, head = check.sha256_files(tmp_path / "base"), check.sha256_files(tmp_path / "head")
    assert base == {
        "results/tables/c/summary.csv": SHA_ABC,
        "results/tables/c/only_base.csv": SHA_ABC,
        "results/stats/c/tukey.csv": SHA_ABC,
    }
    assert head == {
        "results/tables/c/summary.csv": SHA_ABC,
        "results/stats/c/tukey.csv": SHA_EMPTY,
        "results/campaigns/c/d/m/shard-0.parquet": SHA_EMPTY,
        "results/campaigns/c/d/images.parquet": SHA_EMPTY,
    }
    table = check.compare_hashes(base, head)
    assert table["status"].to_dict() == {
        "results/tables/c/summary.csv": "equal",
        "results/tables/c/only_base.csv": "missing at head",
        "results/stats/c/tukey.csv": "different",
        "results/campaigns/c/d/m/shard-0.parquet": "missing at base",
        "results/campaigns/c/d/images.parquet": "added (ADDED_RULES)",
    }
    assert table.loc["results/stats/c/tukey.csv", "folder"] == "stats"


DRY_RUN = """Building DAG of jobs...
Job stats:
job                         count
------------------------  -------
inject_keras_activation         2

[Sat Dec  5 07:58:27 2026]
rule inject_keras_activation:
    input: results/models/d/k.keras
    output: results/campaigns/a/d/k/shard-0.parquet
    jobid: 3
    wildcards: campaign=a, dataset=d, model=k, shard=0
[Sat Dec  5 07:58:27 2026]
rule inject_torch_activation:
    output: results/campaigns/a/d/t/shard-0.parquet
    jobid: 4
[Sat Dec  5 07:58:27 2026]
localrule summarize:
    input: results/campaigns/a/d/k/shard-0.parquet
    output: results/tables/a/summary.csv, results/tables/a/summary.md
    jobid: 1
[Sat Dec  5 07:58:27 2026]
localrule all:
    input: results/tables/a/summary.csv
    jobid: 0
    reason: Input files updated by another job: results/tables/a/summary.csv
Job stats:
"""


def test_dry_run_plans_compare_by_outputs_with_renames():
    base = check.planned_jobs(DRY_RUN)
    assert base == {
        frozenset({"results/campaigns/a/d/k/shard-0.parquet"}): "inject_keras_activation",
        frozenset({"results/campaigns/a/d/t/shard-0.parquet"}): "inject_torch_activation",
        frozenset({"results/tables/a/summary.csv", "results/tables/a/summary.md"}): "summarize",
        "all": "all",
    }
    merged = check.planned_jobs(
        DRY_RUN.replace("inject_keras_activation:", "inject_activation:").replace(
            "inject_torch_activation:", "inject_activation:"
        )
    )
    renames = {
        "inject_keras_activation": "inject_activation",
        "inject_torch_activation": "inject_activation",
    }
    assert check.compare_plans(base, merged, renames) == []
    assert check.compare_plans(base, merged, {}) == [
        "rule inject_keras_activation at base (after RULE_RENAMES), inject_activation at head: "
        "results/campaigns/a/d/k/shard-0.parquet",
        "rule inject_torch_activation at base (after RULE_RENAMES), inject_activation at head: "
        "results/campaigns/a/d/t/shard-0.parquet",
    ]
    added = {**merged, frozenset({"results/campaigns/a/d/images.parquet"}): "evaluated_images"}
    assert check.compare_plans(base, added, renames) == []  # a rule of ADDED_RULES
    other = {**merged, frozenset({"results/x.csv"}): "new_rule"}
    assert check.compare_plans(base, other, renames) == ["only at head: new_rule: results/x.csv"]
    fewer = {k: v for k, v in merged.items() if v != "summarize"}
    assert check.compare_plans(base, fewer, renames) == [
        "only at base: summarize: results/tables/a/summary.csv, results/tables/a/summary.md"
    ]


def test_cifar10_subset_keeps_every_design_on_few_models():
    config = yaml.safe_load((ROOT / "config/cifar10.yaml").read_text())
    subset = check.cifar10_subset(config, Path("/data/in"))
    assert list(subset["models"]) == list(check.SUBSET_MODELS)
    assert set(config["campaigns"]) < set(subset["campaigns"])
    assert all(
        c["models"] and set(c["models"]) <= set(check.SUBSET_MODELS)
        for c in subset["campaigns"].values()
    )
    assert subset["datasets"]["cifar10"]["path"] == "/data/in/data/cifar10-jpeg"
    assert subset["models"]["resnet8"]["path"] == "/data/in/models/mlperf-tiny-resnet8-cifar10.h5"
    # a config naming its inputs elsewhere (an older commit's) is pointed at the same files
    moved = check.at_inputs(
        {"models": {"m": {"path": "../x/models/resnet20-cifar10-12fca82f.th"}}}, Path("/i")
    )
    assert moved["models"]["m"]["path"] == "/i/models/resnet20-cifar10-12fca82f.th"
    assert (
        check.at_inputs({"models": {"m": {"path": "own.h5"}}}, Path("/i"))["models"]["m"]["path"]
        == "own.h5"
    )
