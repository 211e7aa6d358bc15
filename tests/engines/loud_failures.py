"""Models with NaN/Inf weights stop the baseline with one line naming the model and the first
non-finite tensor in model order, and a diverged training names the learning rate (see
dnnfi.engines.health)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytest

from dnnfi.data.datasets import Split
from dnnfi.engines.health import check_trained
from dnnfi.engines.runner import baseline_job

__all__ = [
    "test_nan_weight_stops_the_baseline_naming_the_first_tensor",
    "test_diverged_training_names_the_learning_rate",
]


@dataclass
class LoudFailures:
    """A framework's side of these tests."""

    #: a seeded 3x3 convolution (4 channels), batch norm, ReLU, flatten and linear (3 classes) on
    #: 4x4x1 inputs
    tiny_cnn: Callable[[], Any]
    suffix: str  # of its model files
    predict_logits: Callable
    named_tensors: Callable
    #: set one element of a named tensor (parameter or batch-norm statistic) in place
    set_element: Callable[[Any, str, Any, float], None]
    first: tuple[str, Any]  # (name, index) of an element of the batch norm's variance
    later: tuple[str, Any]  # and of the linear layer's weights, later in model order
    #: (model, loss per epoch) of a seeded digits model trained to divergence on (x, y)
    diverge: Callable[[np.ndarray, np.ndarray], tuple[Any, Any]]
    diverged: str  # pattern of the first non-finite tensor it then holds


def test_nan_weight_stops_the_baseline_naming_the_first_tensor(fw: LoudFailures, tmp_path):
    model, x = fw.tiny_cnn(), np.random.default_rng(0).normal(size=(5, 4, 4, 1)).astype(np.float32)
    Split(x, np.arange(len(x)) % 3, ["a", "b", "c"]).save(tmp_path / "test.npz")
    path = f"results/models/d/tiny{fw.suffix}"
    baseline = partial(
        baseline_job,
        model=model,
        predict_logits=fw.predict_logits,
        named_tensors=fw.named_tensors,
        name="tiny",
        path=path,
        test=str(tmp_path / "test.npz"),
        preprocessing="none",
    )
    table = baseline()
    assert len(table) == 5 and table["correct"].dtype == bool
    (first, first_at), (later, later_at) = fw.first, fw.later
    fw.set_element(model, later, later_at, np.nan)
    fw.set_element(model, first, first_at, np.inf)
    with pytest.raises(ValueError) as error:
        baseline()
    assert str(error.value) == (
        f"model tiny ({path}): fault-free logits hold NaN/Inf on 5 of 5 images; first non-finite "
        f"parameter tensor: {first} (1 Inf). Set models.tiny.allow_nonfinite: true to study such a model anyway."
    )
    fw.set_element(model, first, first_at, 1.0)
    with pytest.raises(
        ValueError, match=rf"first non-finite parameter tensor: {re.escape(later)} \(1 NaN\)\. "
    ):
        baseline()
    assert len(baseline(allow_nonfinite=True)) == 5


def test_diverged_training_names_the_learning_rate(fw: LoudFailures):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8, 8, 1)).astype(np.float32), rng.integers(0, 10, 64)
    model, losses = fw.diverge(x, y)
    assert np.isnan(losses).all()
    with pytest.raises(
        ValueError,
        match=r"^models.m.train: training diverged \(first non-finite parameter tensor: "
        rf"{fw.diverged}\); lower models.m.train.learning_rate$",
    ):
        check_trained(fw.named_tensors(model), "models.m.train")
