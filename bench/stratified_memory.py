"""Peak memory of a stratified draw job's work on a whole test split (issue: any population size
at bounded memory; docs/semantics.md section 11, "Memory of the draw").

Runs what the pipeline's draw job runs (``dnnfi.designs.stratified.population_strata`` and the
pilot's ``draw_strata``) for the pretrained CIFAR-10 ResNet-56 of the inputs folder (``make
inputs``) on the first ``--images`` test images (default: all 10,000), and prints the images, the
eligible sites, the counts' size by the formula (``draw_bytes``), the golden block, the seconds and
the process's peak RSS (``VmHWM``, the model and the images included). Then, with
``--imagenet-images`` (default 50,000; 0 skips it), the same on that many synthetic 224-px
images (random pixels in a split file in a temporary folder, 7.5 GB for 50,000, read from it and
preprocessed a block at a time as the draw job does: :class:`dnnfi.data.datasets.StoredImages`,
:class:`dnnfi.data.preprocess.PreprocessedRows`) through a small CNN, in a process of its own; then the formula for that population of torchvision's ResNet50 (random
weights, nothing downloaded). Last line: ``population_images=N peak_rss_mb=M`` of the ResNet-56 run.

    .venv/bin/python bench/stratified_memory.py [--images N] [--pilot N] [--imagenet-images N]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from process_memory import memory_mb

from dnnfi.data.datasets import StoredImages, image_folder, inputs_dir
from dnnfi.data.preprocess import PreprocessedRows, preprocess
from dnnfi.designs.strata import draw_strata, pilot_allocation
from dnnfi.designs.stratified import draw_bytes, population_strata
from dnnfi.faults.seeds import rng_for

MB = 2**20
SPEC = {
    "campaign": "bench",
    "sampling": "layer_uniform",
    "bits": None,
    "stratified": {"strata": "field_value"},
}


def resnet56(images: int, pilot: int) -> dict:
    from dnnfi.engines.torchfi.activations import TorchInjector
    from dnnfi.engines.torchfi.cifar import load_cifar_resnet

    test = image_folder(inputs_dir() / "data/cifar10-jpeg/test")
    x = preprocess(test.x[:images], "imagenet_mean_std")
    del test
    model = load_cifar_resnet(inputs_dir() / "models/resnet56-cifar10-4bfd9763.th")
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 32, 32))
    return {"model": "ResNet-56 (CIFAR-10)", **draw(injector, x, pilot)}


def synthetic_split(path: Path, images: int, side: int = 224, chunk: int = 1000) -> None:
    """A split file of ``images`` random uint8 images, laid out as ``Split.save`` (np.savez) lays
    it out but written a chunk of images at a time."""
    rng = np.random.default_rng(0)
    header = {"descr": "|u1", "fortran_order": False, "shape": (images, side, side, 3)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_2_0(f, header)
            for start in range(0, images, chunk):
                n = min(chunk, images - start)
                f.write(rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8).tobytes())
        for name, array in (("y", np.arange(images) % 1000), ("classes", np.arange(1000))):
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())


def synthetic_224(path: Path, pilot: int) -> dict:
    """The draw on the images of the split file ``path`` (:func:`synthetic_split`) through a small
    CNN, read and preprocessed a block at a time as the draw job does (``StoredImages``,
    ``PreprocessedRows``): the counts are all it holds per image."""
    import torch
    from torch import nn

    from dnnfi.engines.torchfi.activations import TorchInjector

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 7, stride=4, padding=3),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 224, 224))
    stored = StoredImages(path)
    x = PreprocessedRows(stored, np.arange(len(stored)), "imagenet_mean_std")
    return {
        "model": "small CNN (224 px, synthetic)",
        **draw(injector, x, pilot),
        "stored split MB": path.stat().st_size / MB,
    }


def draw(injector, x, pilot: int) -> dict:
    """The pilot's draw (``population_strata``, ``draw_strata``) on every image of ``x``."""
    images = len(x)
    before = memory_mb("VmHWM")
    began = time.perf_counter()
    population = np.arange(images)
    atoms, table, codes, counts, site_values, block = population_strata(
        injector, x, population, SPEC, memory_mb=16_000
    )
    faults = draw_strata(
        atoms,
        codes,
        pilot_allocation(table["weight"].to_numpy(), pilot),
        rng_for(0, "bench-memory"),
        counts.__getitem__,
        site_values,
        population,
        block=block,
    )
    sites = injector.sites()
    sites = sites[sites["eligible"]]
    return {
        "images": images,
        "sites": len(sites),
        "strata": len(table),
        "faults drawn": len(faults),
        "block": block,
        "draw MB (formula)": draw_bytes(sites, images, block) / MB,
        "seconds": time.perf_counter() - began,
        "peak RSS MB before": before,
        "peak RSS MB": memory_mb("VmHWM"),
    }


def resnet50_formula(images: int = 50_000) -> dict:
    import torchvision

    from dnnfi.engines.torchfi.activations import TorchInjector

    injector = TorchInjector(
        torchvision.models.resnet50(weights=None), batch_size=16, input_shape=(3, 224, 224)
    )
    sites = injector.sites()
    sites = sites[sites["eligible"]]
    block = injector.rows
    return {
        "model": "ResNet50 (224 px, formula)",
        "images": images,
        "sites": len(sites),
        "block": block,
        "draw MB (formula)": draw_bytes(sites, images, block) / MB,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--pilot", type=int, default=2_000)
    parser.add_argument("--imagenet-images", type=int, default=50_000)
    args = parser.parse_args()
    import pandas as pd

    measured = resnet56(args.images, args.pilot)
    rows = [measured]
    if args.imagenet_images:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "test.npz"
            synthetic_split(path, args.imagenet_images)
            # a process of its own: its peak RSS is its own, not the ResNet-56 run's
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                rows.append(pool.submit(synthetic_224, path, args.pilot).result())
    table = pd.DataFrame([*rows, resnet50_formula(args.imagenet_images or 50_000)])
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print(f"population_images={args.images} peak_rss_mb={measured['peak RSS MB']:.0f}")


if __name__ == "__main__":
    main()
