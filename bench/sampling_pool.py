"""The ground-truth pool of ``make bench-sampling``: a uniform bit-sweep campaign on the
pretrained CIFAR-10 ResNet-20 (the inputs folder, ``make inputs``) over the whole test split,
1,000,000 injections.

31,250 points (image, site, element) are drawn as an activation campaign draws them (image
uniform over all 10,000 test images, layer-uniform site, uniform element) and each is swept over
all 32 bits (:func:`dnnfi.faults.lists.bit_sweep`). With the bit uniform, every pool row is one
draw of the campaign's fault distribution (rows of one point are dependent, which the bench
accounts for by treating the pool as the finite population it resamples). Blocks are stored as
they finish (``results/bench/sampling/pool-<images>/pool-*.parquet``), so an interrupted run
resumes; a pool of another image count is another folder.

Usage: ``python bench/sampling_pool.py`` (also the first step of ``bench/sampling_bench.py``).
"""

from __future__ import annotations

import json
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


def setup():
    """(injector, eligible sites, preprocessed test split, labels, taxonomy) of the bench."""
    from dnnfi.engines.torchfi.activations import TorchInjector
    from dnnfi.engines.torchfi.cifar import load_cifar_resnet

    test = image_folder(inputs_dir() / "data/cifar10-jpeg/test")
    x = preprocess(test.x, "imagenet_mean_std")
    model = load_cifar_resnet(inputs_dir() / "models/resnet20-cifar10-12fca82f.th")
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 32, 32))
    sites = injector.sites()
    return (
        injector,
        sites[sites["eligible"]].reset_index(drop=True),
        x,
        test.y,
        load_taxonomy("cifar10", test.classes),
    )


def out_dir(images: int) -> Path:
    return Path(f"results/bench/sampling/pool-{images}")


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
            out[rows] = values[site][position, points["element"].to_numpy()[rows]].view(np.uint32)
    return out


def timing_of_blocks(images: int) -> dict[str, float]:
    """Engine seconds of each stored block of the pool over ``images`` test images."""
    path = out_dir(images) / "pool-time.json"
    return json.loads(path.read_text()) if path.exists() else {}


def build() -> tuple[pd.DataFrame, float]:
    """(the pool, one row per injection; its engine seconds), computing the blocks that are missing."""
    injector, sites, x, labels, taxonomy = setup()
    out = out_dir(len(x))
    out.mkdir(parents=True, exist_ok=True)
    points = draw_activation_faults(
        sites, POINTS, rng_for(SEED, "bench-sampling", "pool"), np.arange(len(x))
    )
    points = points[["image", "site", "element"]].reset_index(drop=True)
    points["golden_bits"] = golden_bits(injector, x, sites, points)
    timing = timing_of_blocks(len(x))
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
    parts = sorted(out.glob("pool-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True), sum(timing.values())


if __name__ == "__main__":
    pool, _ = build()
    print(f"pool: {len(pool)} injections, SDC {100 * (pool['outcome'] == 'sdc').mean():.3f}%")
