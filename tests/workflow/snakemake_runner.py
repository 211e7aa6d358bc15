"""Run the real Snakemake CLI of this environment on the repository's Snakefile."""

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir: Path, config: dict | Path, *args: str) -> subprocess.CompletedProcess:
    """``snakemake --directory workdir --configfile <config> *args``; a dict is written to workdir first."""
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        path = workdir / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        config = path
    cmd = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)


def completed_run(tmp_path_factory, name: str, config: dict) -> Path:
    """A fresh working directory where ``config`` ran through Snakemake (2 cores) successfully;
    Snakemake's output in its file snakemake.log."""
    workdir = tmp_path_factory.mktemp(name)
    result = snakemake(workdir, config, "--cores", "2")
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def run_on_models_of(done: Path, workdir: Path, config: dict) -> Path:
    """Run ``config`` in ``workdir`` on the data, models and baselines of the completed run
    ``done`` (copied: no model is trained again, checked); ``workdir``."""
    for part in ("data", "models", "baseline"):
        shutil.copytree(done / "results" / part, workdir / "results" / part)
    result = snakemake(workdir, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    ran = re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, re.M)
    assert not {"prepare_data", "train", "fetch", "baseline"} & set(ran), ran
    return workdir


def rerun_with_one_shard(done: Path, workdir: Path, config: dict, campaign: str) -> None:
    """Run ``campaign`` of ``config`` again in ``workdir`` in one shard, on the data, models and
    baselines of the completed run ``done``."""
    config = copy.deepcopy(config)
    config["campaigns"] = {campaign: {**config["campaigns"][campaign], "shards": 1}}
    run_on_models_of(done, workdir, config)


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())
