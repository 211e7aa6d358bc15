"""Cluster resources of the workflow's jobs (``mem_mb``, ``runtime``) from what each job loads.

Framework-free (the Snakefile imports it; workflow/rules/resources.smk calls it per job). The
formulas (config/README.md, section Resources, with the measurements behind the constants):

    mem_mb  = attempt x MARGIN x (BASE_MB[framework] + data + model + activations)
    runtime = attempt x (10 + 3 x passes x seconds_per_pass / 60)      (minutes)
    seconds_per_pass = 1e-4 + 2e-3 x model MB x pixels / (224 x 224 x 3) + 8e-7 x pixels

``data``: the stored split when the job loads it whole (training, fetch, baseline; as stored:
uint8 pixels, float32 for the digits; the campaign jobs read their evaluated images from the
file by row) plus two float32 copies of the images it holds preprocessed (the preprocessed
images and one working copy): all it evaluates, but a stratified draw preprocesses a block of
pass rows at a time and an injection shard only the images of its faults (the design's
``shard_images``).
``model``: 3 x the model file (stored, loaded and one working copy; 4 x while training: gradients
and Adam's two moments); FALLBACK_MODEL_MB before the file exists (a dry run's plan).
``activations``, in layer outputs of one image (E elements, recorded next to the model file by the
fetch or train job; ACTIVATIONS_PER_INPUT x the input elements before) x the precision's bytes:
a fault-free pass of the CPU's pass rows (config key ``pass_rows``) keeps E per row (baselines,
weight_rate, bounds); an injection job keeps the golden values of the images it uses (at most the
campaign's ``cache_mb``, the engines' golden cache) and one pass (:func:`injection_mb`); a
stratified draw keeps value-class counts of every image and layer output and the golden values of
at most ``cache_mb`` of images (:func:`draw_mb`); training keeps a batch's outputs and their
gradients.
A split's shape comes from its .npz header once it exists, else from the data set's config.
"""

from __future__ import annotations

import functools
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: RSS of a job's interpreter with its framework loaded, and of a job that only reads tables
BASE_MB = {"keras": 900, "torch": 900, "analysis": 300}
#: layer-output elements of one image per input element, before the model exists (keras.applications
#: at 224 px: MobileNetV3Small 35, MobileNetV2 144, ResNet50 246; torchvision resnet18 50)
ACTIVATIONS_PER_INPUT = 64
#: size of a model file not made yet (its job's plan in a dry run; the real job reads the file)
FALLBACK_MODEL_MB = 100
#: layer outputs of a model whose count is not recorded (a dry run's plan; ResNet-152: 516)
FALLBACK_LAYERS = 600
#: a stratified draw's value-class counts of one image at one fp32 site (3 + 2 x 32 uint32)
COUNT_BYTES = (3 + 2 * 32) * 4
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
#: over the sum of what a job holds (allocator slack, transient copies; measured peaks reach 0.98 of the sum)
MARGIN = 1.25
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
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
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

    from dnnfi.data.datasets import IMAGE_SUFFIXES

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


def outputs_mb(images: float, elements: float, precision: str = "float32") -> float:
    """Layer outputs of ``images`` images of ``elements`` layer-output elements each."""
    return images * elements * BYTES[precision] / MB


def data_mb(shape: Shape, used: int, whole_split: bool = True) -> float:
    """The stored split (when the job loads it whole) plus two float32 copies of the ``used``
    images (those held preprocessed)."""
    return whole_split * shape.stored_mb + 2 * used * shape.pixels * 4 / MB


def mem_mb(
    framework: str,
    shape: Shape,
    used: int,
    model_mb: float,
    activations_mb: float,
    attempt: int = 1,
    model_copies: int = 3,
    whole_split: bool = True,
) -> int:
    """A model job's memory (see the module's docstring); ``whole_split``: whether it loads its
    split whole (training, fetch, baseline) or reads its evaluated images by row."""
    need = (
        BASE_MB[framework]
        + data_mb(shape, used, whole_split)
        + model_copies * model_mb
        + activations_mb
    )
    return math.ceil(attempt * MARGIN * need)


def pass_mb(rows: int, elements: float, precision: str) -> float:
    """Layer outputs of one fault-free pass of ``rows`` rows."""
    return outputs_mb(rows, elements, precision)


def injection_mb(rows: int, used: int, elements: float, precision: str, cache_mb: float) -> float:
    """An injection job's layer outputs: the golden values of its images (at most the campaign's
    ``cache_mb``, the engines' golden cache) and one pass of every layer output: the engines keep
    only the tensors alive at a step, for the alive rows and a step's transient copies
    (docs/semantics.md, section 10), which one pass of all E covers (measured: Keras
    MobileNetV3Small at 224 px peaks at 1.6 GB)."""
    return min(outputs_mb(used, elements, precision), cache_mb) + pass_mb(rows, elements, precision)


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
    return math.ceil(attempt * MARGIN * (BASE_MB["analysis"] + ANALYSIS_INPUT_FACTOR * input_mb))


def layer_outputs_file(model_path: str | Path) -> Path:
    """Where the fetch or train job records a model's layer outputs: their elements per image and
    their number."""
    return Path(f"{model_path}.layer_outputs.json")


def write_layer_outputs(model_path: str | Path, sizes: list[int]) -> None:
    """Record the elements per image of each of a model's layer outputs (``sizes``)."""
    record = {"layer_output_elements": int(sum(sizes)), "layer_outputs": len(sizes)}
    layer_outputs_file(model_path).write_text(json.dumps(record))


def _recorded(model_path: str | Path | None, key: str):
    path = layer_outputs_file(model_path) if model_path else None
    return json.loads(path.read_text()).get(key) if path and path.exists() else None


def layer_outputs(model_path: str | Path | None, shape: Shape) -> float:
    """Layer-output elements of one image: as recorded next to the model file, else
    ACTIVATIONS_PER_INPUT x its input elements (before the model exists: a dry run's plan)."""
    return _recorded(model_path, "layer_output_elements") or ACTIVATIONS_PER_INPUT * shape.pixels


def layer_count(model_path: str | Path | None) -> int:
    """A model's layer outputs (an upper bound of its fault sites): as recorded next to the model
    file, else FALLBACK_LAYERS."""
    return _recorded(model_path, "layer_outputs") or FALLBACK_LAYERS


def draw_mb(used: int, layers: int) -> float:
    """A stratified draw's value-class counts (:func:`dnnfi.designs.stratified.draw_bytes`): per
    image and layer output those of every bit (3 + 2 x 32 uint32 at most); its golden block is
    one more pass."""
    return used * layers * COUNT_BYTES / MB
