"""Cluster resources of the workflow's jobs (``mem_mb``, ``runtime``) from what each job loads.

Framework-free (the Snakefile imports it; workflow/rules/resources.smk calls it per job). The
formulas, their constants (measured; config/README.md, section Resources) and how to override them:

    mem_mb  = attempt x (BASE_MB[framework] + data + model + activations)
    runtime = attempt x (10 + 3 x passes x seconds_per_pass / 60)      (minutes)
    seconds_per_pass = 1e-4 + 2e-3 x model MB x pixels / (224 x 224 x 3) + 8e-7 x pixels

``data``: the stored split the job loads (as stored: uint8 pixels, float32 for the digits) plus
two float32 copies of the images it uses (the preprocessed images and one working copy).
``model``: 3 x the model file (stored, loaded and one working copy; 4 x while training: gradients
and Adam's two moments); FALLBACK_MODEL_MB before the file exists (a dry run's plan).
``activations``: layer outputs of the images, ACTIVATIONS_PER_INPUT x their input elements x the
precision's bytes: of the golden values the engines keep (two per image, at most ENGINE_MB, their
budget), of every image (stratified draws keep them all), of a training batch (outputs and
gradients); and LIVE_PER_INPUT x the input elements of one pass of PASS_ROWS rows (baselines,
weight_rate, bounds), whose earlier layer outputs are freed as it goes.
A split's shape comes from its .npz header once it exists, else from the data set's config.
"""

from __future__ import annotations

import functools
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: RSS of a job's interpreter with its framework loaded, and of a job that only reads tables
BASE_MB = {"keras": 900, "torch": 900, "analysis": 300}
#: the engines' golden-value budgets: kerasfi.engine.ActivationInjector(memory_mb=4096),
#: torchfi.activations.ActivationInjector(cache_mb=2048) plus its passes
ENGINE_MB = {"keras": 4096, "torch": 2560}
#: rows of one fault-free pass (dnnfi.outcomes.PASS_ROWS; not imported: it pulls in pandas)
PASS_ROWS = {"keras": 128, "torch": 16}
#: layer-output elements of one image, all layers together, per input element
ACTIVATIONS_PER_INPUT = 64
#: layer-output elements alive at once in a pass (a few layers' outputs), per input element
LIVE_PER_INPUT = 16
#: size of a model file not made yet (its job's plan in a dry run; the real job reads the file)
FALLBACK_MODEL_MB = 100
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
#: analysis jobs: their input files' size, times this (tables expand when read)
ANALYSIS_INPUT_FACTOR = 3
MB = 2**20


@dataclass(frozen=True)
class Shape:
    """A split's images: count, elements per image (H x W x C) and bytes per stored element."""

    n: int
    pixels: int
    itemsize: int

    @property
    def stored_mb(self) -> float:
        return self.n * self.pixels * self.itemsize / MB


def stored_shape(path: str | Path) -> Shape:
    """The shape of ``x`` in a split's .npz (read from its header, without loading it)."""
    with zipfile.ZipFile(path) as archive, archive.open("x.npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return Shape(shape[0], math.prod(shape[1:]), dtype.itemsize)


# Images per split and classes of the fixed data sets (digits: scikit-learn's 1,797 in all).
SPLITS = {
    "cifar_archive": {"train": 50000, "test": 10000},
    "cifar100_download": {"train": 50000, "test": 10000},
    "gtsrb": {"train": 39209, "test": 12630},
    "imagenet_folder": {"train": 0, "test": 50000},  # the ILSVRC2012 validation set
}
CLASSES = {"cifar100_download": 100, "gtsrb": 43, "imagenet_folder": 1000}


@functools.cache
def _folder(root: str) -> tuple[list[int], int]:
    """(images per class folder, elements per image of the first image) of an image folder."""
    from PIL import Image

    from dnnfi.datasets import IMAGE_SUFFIXES

    folders = sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []
    files = [sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for d in folders]
    first = next((f[0] for f in files if f), None)
    if first is None:
        return [], 0
    with Image.open(first) as image:
        return [len(f) for f in files], image.width * image.height * len(image.getbands())


def estimated_shape(spec: dict, split: str) -> Shape:
    """A split's shape from its data set's config (before prepare_data made it)."""
    source, side = spec["source"], spec.get("image_size", 224)
    if source == "digits":
        test = math.ceil(1797 * spec.get("test_fraction", 0.3))
        return Shape(test if split == "test" else 1797 - test, 64, 4)
    if source == "image_folder":
        per_class, pixels = _folder(str(Path(spec["path"]) / split))
    else:
        classes = CLASSES.get(source, 100 if "100" in spec.get("path", "") else 10)
        per_class = [SPLITS[source][split] // classes] * classes
        pixels = 32 * 32 * 3 if source.startswith("cifar") else side * side * 3
    limit = spec.get("limit_per_class") or max(per_class, default=0)
    n = sum(min(k, limit) for k in per_class)
    return Shape(min(n, spec.get("limit") or n), pixels, 1)


def split_shape(path: str | Path, spec: dict, split: str) -> Shape:
    return stored_shape(path) if Path(path).exists() else estimated_shape(spec, split)


def file_mb(path: str | Path | None) -> float:
    """A model file's size in MB, FALLBACK_MODEL_MB while it does not exist."""
    return Path(path).stat().st_size / MB if path and Path(path).exists() else FALLBACK_MODEL_MB


def activation_mb(images: int, shape: Shape, precision: str = "float32", per_input: int = ACTIVATIONS_PER_INPUT) -> float:
    """Layer outputs of ``images`` images (``per_input`` per input element)."""
    return images * shape.pixels * per_input * BYTES[precision] / MB


def data_mb(shape: Shape, used: int) -> float:
    """The stored split plus two float32 copies of the ``used`` images."""
    return shape.stored_mb + 2 * used * shape.pixels * 4 / MB


def mem_mb(framework: str, shape: Shape, used: int, model_mb: float, activations_mb: float, attempt: int = 1,
           model_copies: int = 3) -> int:
    """A model job's memory (see the module's docstring)."""
    need = BASE_MB[framework] + data_mb(shape, used) + model_copies * model_mb + activations_mb
    return math.ceil(attempt * need)


def engine_mb(framework: str, used: int, shape: Shape, precision: str) -> float:
    """The golden values an injection engine keeps: two per image used, at most its budget."""
    return min(ENGINE_MB[framework], 2 * activation_mb(used, shape, precision))


def pass_mb(framework: str, shape: Shape, precision: str) -> float:
    """Layer outputs alive in one fault-free pass (baselines, weight_rate, bounds)."""
    return activation_mb(PASS_ROWS[framework], shape, precision, LIVE_PER_INPUT)


def seconds_per_pass(model_mb: float, shape: Shape) -> float:
    """One image through the model on one CPU thread: a fixed cost, one proportional to the
    parameters times the image's size (a convolution's work; ResNet50 at 224 px: 0.2 s) and one
    proportional to the image's elements (the layer outputs)."""
    return 1e-4 + 2e-3 * model_mb * shape.pixels / (224 * 224 * 3) + 8e-7 * shape.pixels


def runtime_min(passes: float, model_mb: float, shape: Shape, attempt: int = 1) -> int:
    """Minutes of ``passes`` image passes, three times the estimate, plus 10 for start-up."""
    return math.ceil(attempt * (10 + 3 * passes * seconds_per_pass(model_mb, shape) / 60))


def analysis_mem_mb(input_mb: float, attempt: int = 1) -> int:
    """An analysis job (collect, tables, statistics, figures): its inputs, expanded when read."""
    return math.ceil(attempt * (BASE_MB["analysis"] + ANALYSIS_INPUT_FACTOR * input_mb))
