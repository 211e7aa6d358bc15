"""Settings of the numerical path outside a model's spec (docs/semantics.md, section 4).
`tensorflow_onednn` fixes TensorFlow's oneDNN kernels for every job: the jobs of a run get the
setting whatever the CPU's default, and changing it reruns exactly the jobs of the Keras models.
`pass_rows` of a framework: a change reruns exactly the jobs of its models that run passes."""

import copy
import re

import pytest

from .snakemake_runner import snakemake
from .test_taxonomy_reruns import planned
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow


def test_keras_jobs_run_with_onednn_off_by_default(run):
    logs = sorted((run / "results/logs/baseline/digits").glob("k*.log"))
    assert [p.stem for p in logs] == ["kbranch", "kseq"]
    for path in logs:
        assert "TF_ENABLE_ONEDNN_OPTS=0" in path.read_text()


def test_turning_onednn_on_reruns_the_keras_models_jobs_only(run):
    config = copy.deepcopy(TINY)
    config["tensorflow_onednn"] = True
    counts, out = planned(snakemake(run, config, "-n"))
    keras_models = sorted(m for m, spec in TINY["models"].items() if spec["framework"] == "keras")
    assert counts["train"] == counts["baseline"] == len(keras_models)
    assert "prepare_data" not in counts and "evaluated_images" not in counts
    retrained = sorted(set(re.findall(r"results/models/digits/(\w+)\.(?:keras|pt)", out)))
    assert retrained == keras_models
    # the models' baselines and campaign files (not the campaigns' evaluated images, inputs here)
    models = re.findall(r"results/(?:baseline|campaigns/\w+)/digits/(\w+)[/.]", out)
    assert set(models) - {"images"} == set(keras_models)


def test_changing_a_frameworks_pass_rows_reruns_its_models_jobs_but_not_training(run):
    config = copy.deepcopy(TINY)
    config["pass_rows"] = {"torch": {"cpu": 8}}
    counts, out = planned(snakemake(run, config, "-n"))
    torch_models = sorted(m for m, spec in TINY["models"].items() if spec["framework"] == "torch")
    assert counts["baseline"] == len(torch_models)
    assert not [rule for rule in counts if rule.startswith(("train", "fetch"))], counts
    rerun = sorted(set(re.findall(r"results/baseline/digits/(\w+)\.parquet", out)))
    assert rerun == torch_models
    assert set(re.findall(r"results/campaigns/\w+/digits/(\w+)/", out)) <= set(torch_models)
