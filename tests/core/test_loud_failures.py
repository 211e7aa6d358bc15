"""Broken models and data stop a run with one line that says what is wrong, instead of giving a
normal-looking report (framework-free part; tests/keras and tests/torch hold the framework side)."""

import ml_dtypes
import numpy as np
import pytest
from PIL import Image

from dnnfi.data.datasets import Split, load_split
from dnnfi.engines.health import check_finite, first_nonfinite, unreadable
from dnnfi.engines.runner import baseline_job

KEY = "models.lin.allow_nonfinite"


def linear_logits(weights, x):
    """A real (numpy) linear classifier: flattened images times a weight matrix plus a bias."""
    return x.reshape(len(x), -1) @ weights["w"] + weights["b"]


def linear_model(rng):
    return {"w": rng.normal(size=(12, 4)).astype(np.float32), "b": np.zeros(4, np.float32)}


def test_first_nonfinite_names_the_first_tensor_in_order_with_counts():
    tensors = [
        ("steps", np.array([3], np.int64)),
        ("a", np.ones(3)),
        ("b", np.array([np.nan, np.inf, np.nan, 1.0])),
        ("c", np.array([np.inf], np.float16)),
    ]
    assert first_nonfinite(tensors) == "b (2 NaN, 1 Inf)"
    assert first_nonfinite(lambda: iter(tensors[2:][::-1])) == "c (1 Inf)"
    assert first_nonfinite(tensors[:2]) is None
    # Keras gives bfloat16 variables as ml_dtypes arrays, which numpy does not count as inexact
    assert (
        first_nonfinite([("bf16", np.array([1.0, np.nan], ml_dtypes.bfloat16))]) == "bf16 (1 NaN)"
    )


def test_nan_weight_stops_with_the_model_and_the_tensor():
    rng = np.random.default_rng(0)
    model, x = linear_model(rng), rng.normal(size=(6, 2, 2, 3)).astype(np.float32)
    check_finite(
        linear_logits(model, x), model.items, "model lin (lin.npz)", KEY, x
    )  # finite: no error
    model["w"][5, 2] = np.nan
    with pytest.raises(ValueError) as error:
        check_finite(linear_logits(model, x), model.items, "model lin (lin.npz)", KEY, x)
    assert str(error.value) == (
        "model lin (lin.npz): fault-free logits hold NaN/Inf on 6 of 6 images; first non-finite parameter tensor: "
        "w (1 NaN). Set models.lin.allow_nonfinite: true to study such a model anyway."
    )


def test_nan_weight_behind_finite_logits_stops_too():
    logits = np.zeros((3, 4), np.float32)
    tensors = [("w", np.ones(2, np.float32)), ("gate", np.array([np.nan, np.nan], np.float32))]
    with pytest.raises(ValueError) as error:
        check_finite(logits, tensors, "model lin", KEY)
    assert str(error.value) == (
        "model lin: fault-free logits are finite but hide a non-finite parameter (max pooling can drop NaN); "
        "first non-finite parameter tensor: gate (2 NaN). Set models.lin.allow_nonfinite: true to study such a model anyway."
    )


def test_nonfinite_logits_with_finite_weights_blame_the_images_or_an_overflow():
    rng = np.random.default_rng(1)
    model, x = linear_model(rng), rng.normal(size=(5, 2, 2, 3)).astype(np.float32)
    x[3, 0, 1, 2] = np.nan
    with pytest.raises(
        ValueError,
        match="on 1 of 5 images; no parameter tensor holds NaN/Inf, but 1 of 5 input images do",
    ):
        check_finite(linear_logits(model, x), model.items, "model lin", KEY, x)
    x[3, 0, 1, 2] = 3e38  # finite, but the float32 sums overflow
    model["w"][:] = 3e38
    with np.errstate(over="ignore"):
        logits = linear_logits(model, x)
    with pytest.raises(
        ValueError,
        match="no parameter tensor or input image holds NaN/Inf, so an operation overflows",
    ):
        check_finite(logits, model.items, "model lin", KEY, x)


def test_unreadable_file_error_is_one_line():
    message = str(
        unreadable(
            "models.m.path",
            "/x/y.th",
            "PyTorch checkpoint",
            "a state dict",
            RuntimeError("Error(s) in loading:\n\tMissing key(s): a"),
        )
    )
    assert message == (
        "models.m.path: /x/y.th is not a readable PyTorch checkpoint "
        "(expected a state dict: RuntimeError: Error(s) in loading: Missing key(s): a)"
    )


def baseline_files(tmp_path, x, y):
    Split(x, y, ["a", "b", "c", "d"]).save(tmp_path / "test.npz")
    return {
        "name": "lin",
        "path": "results/models/d/lin.npz",
        "test": str(tmp_path / "test.npz"),
        "preprocessing": "none",
    }


def test_baseline_job_stops_on_a_nan_weight_unless_allowed(tmp_path):
    rng = np.random.default_rng(2)
    model, x = linear_model(rng), rng.normal(size=(8, 2, 2, 3)).astype(np.float32)
    files = baseline_files(tmp_path, x, np.arange(8) % 4)
    assert (
        len(
            baseline_job(
                model=model, predict_logits=linear_logits, named_tensors=dict.items, **files
            )
        )
        == 8
    )
    model["b"][1] = -np.inf
    with pytest.raises(
        ValueError,
        match=r"^model lin \(results/models/d/lin.npz\): fault-free logits hold NaN/Inf on 8 of 8 "
        r"images; first non-finite parameter tensor: b \(1 Inf\)\. Set models.lin.allow_nonfinite",
    ):
        baseline_job(model=model, predict_logits=linear_logits, named_tensors=dict.items, **files)
    table = baseline_job(
        model=model,
        predict_logits=linear_logits,
        named_tensors=dict.items,
        **files,
        allow_nonfinite=True,
    )
    assert len(table) == 8


def test_image_folder_of_mixed_sizes_names_the_odd_file_and_both_sizes(tmp_path):
    for name, side in [("airplane/0.png", 32), ("airplane/1.png", 32), ("cat/x.png", 28)]:
        (tmp_path / "test" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((side, side, 3), 7, np.uint8)).save(tmp_path / "test" / name)
    spec = {"source": "image_folder", "path": str(tmp_path), "limit_per_class": None}
    with pytest.raises(ValueError) as error:
        load_split(spec, "test", 0, key="datasets.cifar")
    root = tmp_path / "test"
    assert str(error.value) == (
        f"datasets.cifar: image folder {root}: {root}/cat/x.png is 28x28x3, the first image "
        f"{root}/airplane/0.png is 32x32x3; resize them to one size"
    )
    Image.fromarray(np.full((32, 32, 3), 9, np.uint8)).save(root / "cat/x.png")
    split = load_split(spec, "test", 0, key="datasets.cifar")
    assert (
        split.x.shape == (3, 32, 32, 3)
        and split.y.tolist() == [0, 0, 1]
        and split.x[2, 0, 0, 0] == 9
    )
