"""The `device` setting through Snakemake: cuda models' jobs ask for a `gpu`, `conda_envs` picks
the TensorFlow env, a bad value stops before any job, and on a machine without a GPU a job
asked for `cuda` stops with one line naming the config key while the others log their device."""

import re
import shutil
from pathlib import Path

import pytest

from .conda_envs import rules
from .snakemake_runner import REPO, demo_config, snakemake

pytestmark = pytest.mark.workflow

MODEL_RULES = {
    "train",
    "baseline",
    "inject_activation",
    "inject_weight_rate",
    "bounds",
    "stratified_pilot",
    "stratified_draw",
    "stratified_inject",
    "stratified_replay",
}
STRATIFIED_RULES = {
    r for r in MODEL_RULES if r.startswith("stratified")
}  # the demo has no stratified campaign


def planned_jobs(stdout: str) -> list[dict]:
    """(rule, wildcards, resources) of each job a dry run prints."""
    jobs = []
    for block in re.split(r"^rule ", stdout, flags=re.M)[1:]:
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
        wildcards = dict(re.findall(r"(\w+)=([^,\s]+)", fields.get("wildcards", "")))
        resources = dict(re.findall(r"(\w+)=([^,\s]+)", fields.get("resources", "")))
        jobs.append(
            {
                "rule": block.split(":")[0],
                "model": wildcards.get("model"),
                "gpu": resources.get("gpu"),
                "partition": resources.get("slurm_partition"),
            }
        )
    return jobs


def test_cuda_models_ask_for_a_gpu(tmp_path):
    config = demo_config()
    config["models"]["torch_cnn"]["device"] = "cuda"
    config["models"]["keras_branchy"]["device"] = "cuda:1"
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result.stdout)
    model_jobs = [j for j in jobs if j["rule"] in MODEL_RULES]
    assert {j["rule"] for j in model_jobs} == MODEL_RULES - STRATIFIED_RULES
    for job in model_jobs:
        assert job["gpu"] == ("1" if job["model"] in ("torch_cnn", "keras_branchy") else "0"), job
    assert all(
        j["gpu"] is None for j in jobs if j["rule"] not in MODEL_RULES
    )  # data, tables, figures
    on_gpu = sorted({j["rule"] for j in model_jobs if j["gpu"] == "1"})
    assert on_gpu == ["baseline", "bounds", "inject_activation", "inject_weight_rate", "train"]
    frameworks = {name: spec["framework"] for name, spec in config["models"].items()}
    on_gpu = {(j["rule"], frameworks[j["model"]]) for j in model_jobs if j["gpu"] == "1"}
    assert on_gpu == {
        ("baseline", "keras"),
        ("baseline", "torch"),
        ("bounds", "keras"),
        ("inject_activation", "keras"),
        ("inject_weight_rate", "torch"),
        ("train", "keras"),
        ("train", "torch"),
    }


@pytest.mark.parametrize("envs, used", [("cpu", "tensorflow.yaml"), ("gpu", "tensorflow-gpu.yaml")])
def test_conda_envs_picks_the_tensorflow_env(envs, used):
    # the env each rule's jobs get, per framework of the demo's models (the rules' `conda:` functions)
    chosen = {
        (rule, tuple(e["frameworks"])): Path(e["env"]).name
        for rule, entries in rules(REPO / "config" / "config.yaml", envs).items()
        for e in entries
    }
    assert set(chosen.values()) == {"analysis.yaml", "pytorch.yaml", used}
    assert chosen[("inject_activation", ("keras",))] == chosen[("train", ("keras",))] == used
    assert chosen[("inject_activation", ("torch",))] == "pytorch.yaml"


def test_bad_device_stops_before_any_job(tmp_path):
    config = demo_config()
    config["models"]["torch_mlp"]["device"] = "gpu"
    result = snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    message = "config key models.torch_mlp.device: expected pattern ^(auto|cpu|cuda|cuda:[0-9]+)$, got 'gpu'"
    assert [line for line in result.stderr.splitlines() if "models.torch_mlp.device" in line] == [
        message
    ]
    assert not (tmp_path / "results").exists()


FIT = {"epochs": 1, "batch_size": 64, "learning_rate": 0.003}


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine may have a GPU")
def test_cuda_without_a_gpu_stops_its_job_with_one_line_and_jobs_log_their_device(tmp_path):
    config = {
        "datasets": {"digits": {"source": "digits", "taxonomy": "digits"}},
        "models": {
            "t_cuda": {
                "framework": "torch",
                "dataset": "digits",
                "architecture": "digits_mlp",
                "device": "cuda",
                "train": FIT,
            },
            "k_cuda": {
                "framework": "keras",
                "dataset": "digits",
                "architecture": "digits_sequential",
                "device": "cuda",
                "train": FIT,
            },
            "t_auto": {
                "framework": "torch",
                "dataset": "digits",
                "architecture": "digits_mlp",
                "train": FIT,
            },
        },
        "campaigns": {"c": {"kind": "activation", "models": ["t_auto"], "injections": 10}},
    }
    targets = [
        "results/models/digits/t_cuda.pt",
        "results/models/digits/k_cuda.keras",
        "results/baseline/digits/t_auto.parquet",
    ]
    result = snakemake(tmp_path, config, "--cores", "2", "--keep-going", *targets)
    assert result.returncode != 0
    causes = sorted(line for line in result.stderr.splitlines() if line.startswith("Cause: "))
    tail = "sees no GPU on this machine; expected auto or cpu here, or a job on a GPU node"
    assert causes == [
        "Cause: results/logs/train/digits/k_cuda.keras.log: dnnfi.engines.devices.DeviceError: config key models.k_cuda.device: "
        "device cuda requested, but TensorFlow, a build without CUDA here (tensorflow-cpu; GPU jobs need TensorFlow's "
        f"CUDA build: make run GPU=1, config key python.keras or conda_envs: gpu), {tail}",
        "Cause: results/logs/train/digits/t_cuda.pt.log: dnnfi.engines.devices.DeviceError: config key models.t_cuda.device: "
        f"device cuda requested, but PyTorch (torch.cuda.device_count()) {tail}",
    ], result.stderr[-3000:]
    assert not (tmp_path / "results/models/digits/t_cuda.pt").exists()
    assert (tmp_path / "results/baseline/digits/t_auto.parquet").exists()
    for log in ("train/digits/t_auto.pt.log", "baseline/digits/t_auto.log"):
        text = (tmp_path / "results/logs" / log).read_text()
        assert "PyTorch device cpu, CPU (config key device: auto)" in text


def test_slurm_profile_sends_model_jobs_to_the_partition_named_once(tmp_path):
    """The profile with only its model-job partition renamed: jobs of cuda models carry `gpu=1`
    (the plugin's `--gpus=1`) and that partition, the other jobs keep the default one."""
    profile = tmp_path / "profile"
    profile.mkdir()
    text = (REPO / "profiles/slurm/config.yaml").read_text()
    assert text.count('slurm_partition: "main"     # their partition') == 1
    renamed = text.replace('slurm_partition: "main"     # their', 'slurm_partition: "gpu"  # their')
    (profile / "config.yaml").write_text(renamed)
    config = demo_config()
    config["device"] = "cuda"
    result = snakemake(tmp_path / "work", config, "-n", "--workflow-profile", str(profile))
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result.stdout)
    assert {(j["rule"] in MODEL_RULES, j["partition"], j["gpu"]) for j in jobs} == {
        (True, "gpu", "1"),
        (False, "main", None),
    }
