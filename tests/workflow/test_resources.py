"""Each job's declared memory (resource mem_mb, dnnfi.workflow.resources) against its measured peak RSS
(its Snakemake benchmark file): on the tiny run (tests/workflow/test_tiny_run.py, every rule of the demo) and on a synthetic 224-px study of a keras.applications
and a torchvision model with random weights, every job's peak is below its mem_mb and at least a
quarter of it. And the plans of the shipped configs ask for what their data takes."""

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from .snakemake_runner import REPO, snakemake

pytestmark = pytest.mark.workflow

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STUDY_224 = {
    "seed": 5,
    "threads": 2,
    "datasets": {"synth": {"source": "image_folder", "path": "synth", "taxonomy": "cifar10"}},
    "models": {
        "kmobile": {
            "framework": "keras",
            "dataset": "synth",
            "source": "keras_applications",
            "architecture": "MobileNetV3Small",
        },
        "tresnet": {
            "framework": "torch",
            "dataset": "synth",
            "source": "torchvision",
            "architecture": "resnet18",
        },
    },
    "campaigns": {
        "act": {
            "kind": "activation",
            "models": ["kmobile", "tresnet"],
            "injections": 60,
            "shards": 2,
            "images": 20,
        },
        "wr": {
            "kind": "weight_rate",
            "models": ["tresnet"],
            "frates": [0.01],
            "perturbations": ["zero"],
            "replicas": 2,
            "images": 20,
        },
        "strat": {
            "kind": "activation",
            "models": ["tresnet"],
            "images": 10,
            "margin": 0.2,
            "stratified": {"pilot": 60, "round": 60, "max_injections": 120},
        },
    },
}


def random_image_folder(root, per_class: int, side: int = 224) -> None:
    """test/<class>/<i>.png: random RGB images, the cifar10 taxonomy's ten classes."""
    rng = np.random.default_rng(0)
    for name in CLASSES:
        folder = root / "test" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
                folder / f"{i}.png"
            )


def declared_memory(log: str) -> dict[str, int]:
    """Benchmark file -> mem_mb of every job of a run, read from Snakemake's job headers."""
    jobs = re.findall(r"benchmark: (\S+)\n(?:    .*\n)*?    resources: .*?\bmem_mb=(\d+)", log)
    return {path: int(mb) for path, mb in jobs}


def peak_rss(log: str) -> int:
    """A job's peak RSS in MB as the kernel counted it, logged at exit (dnnfi.workflow.runlog)."""
    return int(re.findall(r"peak RSS (\d+) MB", log)[-1])


def peaks_against_declared(workdir, log: str) -> pd.DataFrame:
    """Per job: declared mem_mb, the benchmark's sampled max_rss, the kernel's peak RSS (MB), and
    whether it was idle: a shard of a sequential campaign after its stop, which loads no model."""
    rows = []
    for path, mb in declared_memory(log).items():
        job_log = (
            workdir / path.replace("results/benchmarks/", "results/logs/").replace(".tsv", ".log")
        ).read_text()
        rows.append(
            {
                "job": path.removeprefix("results/benchmarks/").removesuffix(".tsv"),
                "mem_mb": mb,
                "max_rss": pd.read_csv(workdir / path, sep="\t")["max_rss"].max(),
                "peak_rss": peak_rss(job_log),
                "idle": " INFO 0 injections:" in job_log,
            }
        )
    table = pd.DataFrame(rows).sort_values("job", ignore_index=True)
    print(table.to_string())
    return table


def check_peaks(table: pd.DataFrame) -> None:
    """Every job's peak below its mem_mb, and mem_mb at most 4 x the peak of every job that was
    not idle. The benchmark's max_rss samples the job (every second, then every 30 s) and can miss
    a short peak, so the lower bound uses the kernel's count; both are below mem_mb."""
    assert len(table) and table["max_rss"].notna().all(), table
    over = (table["max_rss"] >= table["mem_mb"]) | (table["peak_rss"] >= table["mem_mb"])
    assert not over.any(), table[over]
    loose = ~table["idle"] & (table["mem_mb"] > 4 * table["peak_rss"])
    assert not loose.any(), table[loose]


def measured(workdir, log: str) -> pd.DataFrame:
    """:func:`peaks_against_declared` of a run whose Snakemake output is ``log``."""
    table = peaks_against_declared(workdir, log)
    jobs = len(re.findall(r"^\[.*\]\n(?:local)?rule ", log, re.M))
    assert len(table) == jobs - 1, (len(table), jobs)  # every job but `all` has a benchmark
    return table


def test_tiny_run_jobs_peak_within_their_memory(run):
    """The tiny run has every rule of the demo (config/config.yaml) and more."""
    check_peaks(measured(run, (run / "snakemake.log").read_text()))


def test_224px_study_jobs_peak_within_their_memory(tmp_path):
    random_image_folder(tmp_path / "synth", per_class=20)
    result = snakemake(tmp_path, STUDY_224, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    check_peaks(measured(tmp_path, result.stdout + result.stderr))


def planned_memory(workdir, config: str) -> dict[str, int]:
    """Job (rule and wildcards) -> mem_mb of a shipped config's dry-run plan."""
    result = snakemake(workdir, REPO / "config" / config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(
        r"rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)\n(?:    .*\n)*?    resources: .*?\bmem_mb=(\d+)",
        result.stdout,
    )
    return {f"{rule} {wildcards}": int(mb) for rule, wildcards, mb in jobs}


def test_imagenet_baselines_ask_for_their_images(tmp_path):
    """10,000 ImageNet images as float32: 6.0 GB at 224 px, 10.7 GB at 299 px."""
    plan = planned_memory(tmp_path, "tensorfi_plus.yaml")
    for side in (224, 299):
        baselines = [
            mb for job, mb in plan.items() if job.startswith(f"baseline dataset=imagenet_{side},")
        ]
        assert baselines and min(baselines) > 10_000 * side * side * 3 * 4 / 2**20
