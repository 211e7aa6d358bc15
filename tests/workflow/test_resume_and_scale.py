"""A killed run resumes without redoing finished shards and gives the uninterrupted tables; a
million-injection campaign builds its DAG from static shard lists."""

import copy
import os
import re
import signal
import subprocess
import time
from base64 import urlsafe_b64encode

import pandas as pd
import pytest

from .snakemake_runner import REPO, SNAKEMAKE, snakemake
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow


def test_killed_run_resumes_without_recomputing_finished_shards(run, tmp_path):
    config = copy.deepcopy(TINY)
    config["campaigns"] = {"act": TINY["campaigns"]["act"]}
    snakemake(tmp_path, config, "-n")  # writes config.yaml
    cmd = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "config.yaml"),
        "--cores",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    first = tmp_path / "results/campaigns/act/digits/kseq/shard-0.parquet"
    # Snakemake marks a job's output incomplete while it runs and drops the marker once it records the job done
    marker = (
        tmp_path
        / ".snakemake/incomplete"
        / urlsafe_b64encode(str(first.relative_to(tmp_path)).encode()).decode()
    )
    deadline = time.time() + 900
    while (
        (not first.exists() or marker.exists()) and proc.poll() is None and time.time() < deadline
    ):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean shutdown: like a node failure
    proc.wait()
    assert first.exists()
    assert snakemake(tmp_path, config, "--unlock").returncode == 0  # the lock a killed run leaves
    # a shard whose job had not been recorded as done when the run died counts as incomplete
    plan = snakemake(tmp_path, config, "-n", "--rerun-incomplete")
    outputs = "\n".join(
        line for line in plan.stdout.splitlines() if line.strip().startswith("output:")
    )
    redo = set(re.findall(r"results/campaigns/act/digits/\w+/shard-\d+\.parquet", outputs))
    finished = {
        p: p.stat().st_mtime_ns
        for p in (tmp_path / "results/campaigns").rglob("shard-*.parquet")
        if str(p.relative_to(tmp_path)) not in redo
    }
    assert 0 < len(finished) < 6 and redo

    result = snakemake(tmp_path, config, "--cores", "2", "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())
    resumed = pd.read_csv(tmp_path / "results/tables/act/summary.csv")
    uninterrupted = pd.read_csv(run / "results/tables/act/summary.csv")
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_million_injection_campaign_dag(tmp_path):
    config = {
        "datasets": {
            "cifar10": {"source": "image_folder", "path": "cifar10", "taxonomy": "cifar10"}
        },
        "models": {
            "resnet20": {
                "framework": "torch",
                "dataset": "cifar10",
                "source": "file",
                "architecture": "resnet20_cifar",
                "path": "resnet20.th",
                "preprocess": "imagenet_mean_std",
            }
        },
        "campaigns": {
            "million": {
                "kind": "activation",
                "models": ["resnet20"],
                "injections": 1_000_000,
                "shards": 500,
            }
        },
    }
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "resnet20.th").touch()
    start = time.perf_counter()
    result = snakemake(tmp_path, config, "-n", "--quiet", "rules")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(
        line.split()[:2]
        for line in result.stdout.splitlines()
        if line[:1].isalpha() and len(line.split()) == 2
    )
    assert counts["inject_activation"] == "500" and counts["total"] == "508"
    print(f"1,000,000 injections in 500 shards: DAG built and printed in {seconds:.1f} s")
