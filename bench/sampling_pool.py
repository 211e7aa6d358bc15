"""The ground-truth pools of ``make bench-sampling`` and ``make bench-sampling-ceiling``: a uniform
bit-sweep campaign on a pretrained CIFAR-10 model of the inputs folder (``make inputs``; the
PyTorch ResNet-20, or the Keras ResNet-8 of MLPerf Tiny) over the whole test split, 1,000,000
injections.

31,250 points (image, site, element) are drawn as an activation campaign draws them (image
uniform over all 10,000 test images, layer-uniform site, uniform element) and each is swept over
all 32 bits (:func:`dnnfi.faults.lists.bit_sweep`). With the bit uniform, every pool row is one
draw of the campaign's fault distribution (rows of one point are dependent, which the bench
accounts for by treating the pool as the finite population it resamples). Blocks are stored as
they finish (``results/bench/sampling/<model>-<images>/pool-*.parquet``), so an interrupted run
resumes; a pool of another model or image count is another folder.

Usage: ``python bench/sampling_pool.py [resnet20|resnet8]`` (ResNet-20's is also the first step of
``bench/sampling_bench.py``). Each model's framework runs in the process that builds its pool.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dnnfi.analysis.taxonomy import load as load_taxonomy
from dnnfi.data.datasets import image_folder, inputs_dir
from dnnfi.data.preprocess import preprocess
from dnnfi.faults.lists import bit_sweep, draw_activation_faults
from dnnfi.faults.outcomes import classify
from dnnfi.faults.seeds import rng_for

SEED, POINTS, BLOCK = 2026, 31_250, 1_250
#: test images whose golden site outputs are held at a time (2.6 MB each for ResNet-20)
GOLDEN_BLOCK = 256
MODELS = ("resnet20", "resnet8")


def _injector(model: str):
    """(injector, preprocessing) of a pool's model, as config/cifar10.yaml runs it."""
    if model == "resnet20":
        from dnnfi.engines.torchfi.activations import TorchInjector
        from dnnfi.engines.torchfi.cifar import load_cifar_resnet

        net = load_cifar_resnet(inputs_dir() / "models/resnet20-cifar10-12fca82f.th")
        return TorchInjector(net, batch_size=256, input_shape=(3, 32, 32)), "imagenet_mean_std"
    if model == "resnet8":
        from dnnfi.engines.kerasfi.engine import KerasInjector
        from dnnfi.engines.kerasfi.models import load

        net = load(inputs_dir() / "models/mlperf-tiny-resnet8-cifar10.h5")
        return KerasInjector(net, batch_size=512), "none"
    raise ValueError(f"unknown pool model {model!r}: expected one of {MODELS}")


def setup(model: str = "resnet20"):
    """(injector, eligible sites, preprocessed test split, labels, taxonomy) of a pool's model."""
    injector, preprocessing = _injector(model)
    test = image_folder(inputs_dir() / "data/cifar10-jpeg/test")
    sites = injector.sites()
    return (
        injector,
        sites[sites["eligible"]].reset_index(drop=True),
        preprocess(test.x, preprocessing),
        test.y,
        load_taxonomy("cifar10", test.classes),
    )


def out_dir(model: str, images: int) -> Path:
    return Path(f"results/bench/sampling/{model}-{images}")


def golden_bits(injector, x, sites, points: pd.DataFrame) -> np.ndarray:
    """uint32 encoding of the golden value at each point, from golden passes over the points'
    images ``GOLDEN_BLOCK`` at a time (all site outputs of the split would not fit)."""
    out = np.zeros(len(points), np.uint32)
    image = points["image"].to_numpy()
    used = np.unique(image)
    for start in range(0, len(used), GOLDEN_BLOCK):
        block = used[start : start + GOLDEN_BLOCK]
        values = injector.golden_site_values(x[block], list(sites["site"]))
        mine = points[np.isin(image, block)]
        for site, rows in mine.groupby("site").groups.items():
            rows = np.asarray(rows)
            position = np.searchsorted(block, image[rows])
            site_values = np.asarray(values[site])
            out[rows] = site_values[position, points["element"].to_numpy()[rows]].view(np.uint32)
    return out


def timing_of_blocks(out: Path) -> dict[str, float]:
    """Engine seconds of each stored block of the pool in ``out``."""
    path = out / "pool-time.json"
    return json.loads(path.read_text()) if path.exists() else {}


def build(model: str = "resnet20") -> tuple[pd.DataFrame, float]:
    """(the pool, one row per injection; its engine seconds), computing the blocks that are missing."""
    injector, sites, x, labels, taxonomy = setup(model)
    out = out_dir(model, len(x))
    out.mkdir(parents=True, exist_ok=True)
    points = draw_activation_faults(
        sites, POINTS, rng_for(SEED, "bench-sampling", "pool"), np.arange(len(x))
    )
    points = points[["image", "site", "element"]].reset_index(drop=True)
    points["golden_bits"] = golden_bits(injector, x, sites, points)
    timing = timing_of_blocks(out)
    for start in range(0, POINTS, BLOCK):
        path = out / f"pool-{start // BLOCK:03d}.parquet"
        if path.exists():
            continue
        began = time.perf_counter()
        faults = bit_sweep(points.iloc[start : start + BLOCK], sites)
        faults["point"] += start
        results = classify(injector.run(faults, x, progress=False))
        correct = results["golden_top1"].to_numpy() == labels[results["image"].to_numpy()]
        sdc = (results["outcome"] == "sdc").to_numpy()
        table = pd.DataFrame(
            {
                "point": results["point"],
                "image": results["image"],
                "site": results["site"],
                "bit": results["bit"],
                "golden_bits": points["golden_bits"].to_numpy()[results["point"]],
                "outcome": results["outcome"].astype(str),
                "sdc_top5": results["sdc_top5"],
                "correct": correct,
                "scm": sdc & taxonomy.is_scm(results["golden_top1"], results["faulty_top1"]),
            }
        )
        table.to_parquet(path)
        timing[path.name] = time.perf_counter() - began
        (out / "pool-time.json").write_text(json.dumps(timing, indent=1))
        print(f"{path.name}: {len(table)} injections in {timing[path.name]:.0f} s", flush=True)
    return stored(out), sum(timing.values())


def stored(out: Path) -> pd.DataFrame:
    """The pool of folder ``out``, whole (no framework needed to read it)."""
    parts = sorted(out.glob("pool-*.parquet"))
    blocks = -(-POINTS // BLOCK)
    if len(parts) != blocks:
        raise FileNotFoundError(f"{out}: {len(parts)} of {blocks} pool blocks")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


if __name__ == "__main__":
    pool, _ = build(*sys.argv[1:])
    print(f"pool: {len(pool)} injections, SDC {100 * (pool['outcome'] == 'sdc').mean():.3f}%")
