"""An error raised inside a job reaches the terminal as one line (the onerror handler prints the
last error line of each failed job's log; a retried job keeps its earlier attempts' logs); a
taxonomy that does not fit the data stops in data preparation, before any model is trained."""

import numpy as np
import pytest
from PIL import Image

from .snakemake_runner import snakemake

pytestmark = pytest.mark.workflow


def image_folder(root, classes, per_class=2):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                    folder / f"{i}.png"
                )


def test_taxonomy_that_does_not_fit_the_folders_stops_before_training_with_one_line(tmp_path):
    image_folder(tmp_path / "signs", ["stop", "yield"])  # classes known only from the folders
    config = {
        "datasets": {"signs": {"source": "image_folder", "path": "signs", "taxonomy": "digits"}},
        "models": {"m": {"framework": "torch", "dataset": "signs", "architecture": "digits_mlp"}},
        "campaigns": {"c": {"kind": "activation", "models": ["m"], "injections": 10}},
    }
    result = snakemake(tmp_path, config, "--cores", "1", "--retries", "1")
    assert result.returncode != 0
    cause = (
        "dnnfi.analysis.taxonomy.TaxonomyError: config key datasets.signs.taxonomy: taxonomy 'digits': its classes "
        "differ from the data set's classes (10 vs 2 classes, first difference at label 0: 'stop' in the data set, "
        "'0' in the taxonomy)"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("Cause: ")]
    assert lines and all(line.endswith(cause) for line in lines), result.stderr[-3000:]
    assert {line.split(": ")[1] for line in lines} <= {
        "results/logs/prepare_data/signs/train.log",
        "results/logs/prepare_data/signs/test.log",
    }
    for line in lines:  # the same line is in the job's log, and in its first attempt's, kept
        log = tmp_path / line.split(": ")[1]
        assert cause in log.read_text() and " INFO start prepare_data attempt 2 " in log.read_text()
        assert cause in log.with_name(f"{log.stem}.attempt-1.log").read_text()
    assert not (tmp_path / "results/models").exists() and not list(
        (tmp_path / "results/data").rglob("*.npz")
    )


def test_error_inside_a_later_job_is_printed(tmp_path):
    """A data error found while preparing the data (an image of another size) names the file."""
    image_folder(tmp_path / "d", [str(i) for i in range(10)], per_class=1)
    Image.fromarray(np.zeros((9, 9, 3), dtype=np.uint8)).save(tmp_path / "d/test/3/odd.png")
    config = {
        "datasets": {"d": {"source": "image_folder", "path": "d", "taxonomy": "digits"}},
        "models": {"m": {"framework": "torch", "dataset": "d", "architecture": "digits_mlp"}},
        "campaigns": {"c": {"kind": "activation", "models": ["m"], "injections": 10}},
    }
    result = snakemake(tmp_path, config, "--cores", "1", "results/data/d/test.npz")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("Cause: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("Cause: results/logs/prepare_data/d/test.log: ")
    assert "odd.png" in lines[0]
