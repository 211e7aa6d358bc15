"""Through Snakemake: a model with a NaN weight and a truncated model file stop their jobs with
one line on the terminal naming the model, the tensor or the config key and the file."""

import subprocess
import sys

import pandas as pd
import pytest

from .snakemake_runner import snakemake

pytestmark = pytest.mark.workflow

# written in a subprocess: this pytest process must stay free of TensorFlow (see the Makefile)
WRITE_MODELS = """
import sys
import numpy as np
from dnnfi.engines.kerasfi.models import build
model = build("digits_sequential", (8, 8, 1), 10, seed=0)
model.save(sys.argv[1] + "/good.keras")
kernel = model.layers[-1].kernel
values = kernel.numpy()
values[3, 5] = np.nan
kernel.assign(values)
model.save(sys.argv[1] + "/bad.keras")
"""


def test_nan_weight_and_truncated_file_stop_their_jobs_with_one_line(tmp_path):
    subprocess.run(
        [sys.executable, "-c", WRITE_MODELS, str(tmp_path)], check=True, capture_output=True
    )
    data = (tmp_path / "good.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    source = {"framework": "keras", "dataset": "digits", "source": "file"}
    config = {
        "seed": 1,
        "threads": 1,
        "datasets": {"digits": {"source": "digits", "taxonomy": "digits"}},
        "models": {
            "bad": {**source, "path": str(tmp_path / "bad.keras")},
            "cut": {**source, "path": str(tmp_path / "cut.keras")},
        },
        "campaigns": {},
    }
    work = tmp_path / "work"
    targets = ["results/baseline/digits/bad.parquet", "results/models/digits/cut.keras"]
    result = snakemake(work, config, "--cores", "2", "--keep-going", *targets)
    assert result.returncode != 0
    terminal = result.stdout + result.stderr
    assert (
        "ValueError: model bad (results/models/digits/bad.keras): fault-free logits hold NaN/Inf on 540 of 540 "
        "images; first non-finite parameter tensor: dense_1/kernel (1 NaN). "
        "Set models.bad.allow_nonfinite: true to study such a model anyway."
    ) in terminal
    assert (
        f"ValueError: models.cut.path: {tmp_path / 'cut.keras'} is not a readable Keras model (expected a .keras "
        "archive or an HDF5 .h5 file written by Keras' model.save: "
    ) in terminal
    config["models"]["bad"]["allow_nonfinite"] = True
    result = snakemake(work, config, "--cores", "2", targets[0])
    assert result.returncode == 0, result.stderr[-3000:]
    baseline = pd.read_parquet(work / targets[0])
    assert len(baseline) == 540 and baseline["confidence"].isna().all()
