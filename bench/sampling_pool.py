"""The ground-truth pool of ``make bench-sampling``: a uniform bit-sweep campaign on the
pretrained CIFAR-10 ResNet-20 (the inputs folder, ``make inputs``), 1,000,000 injections.

31,250 points (image, site, element) are drawn as an activation campaign draws them (image
uniform over 100 test images spread over the split, layer-uniform site, uniform element) and each
is swept over all 32 bits (:func:`dnnfi.faults.lists.bit_sweep`). With the bit uniform, every pool row
is one draw of the campaign's fault distribution (rows of one point are dependent, which the
bench accounts for by treating the pool as the finite population it resamples). Blocks are stored
as they finish (``results/bench/sampling/pool-*.parquet``), so an interrupted run resumes.

Usage: ``python bench/sampling_pool.py`` (also the first step of ``bench/sampling_bench.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dnnfi.analysis.taxonomy import load as load_taxonomy
from dnnfi.data.datasets import image_folder, inputs_dir, spread_indices
from dnnfi.data.preprocess import preprocess
from dnnfi.faults.lists import bit_sweep, draw_activation_faults
from dnnfi.faults.outcomes import classify
from dnnfi.faults.seeds import rng_for

OUT = Path("results/bench/sampling")
SEED, IMAGES, POINTS, BLOCK = 2026, 100, 31_250, 1_250


def setup():
    """(injector, eligible sites, preprocessed images, labels, taxonomy) of the bench."""
    from dnnfi.engines.torchfi.activations import TorchInjector
    from dnnfi.engines.torchfi.cifar import load_cifar_resnet

    test = image_folder(inputs_dir() / "data/cifar10-jpeg/test")
    keep = spread_indices(len(test.y), IMAGES)
    x = preprocess(test.x[keep], "imagenet_mean_std")
    model = load_cifar_resnet(inputs_dir() / "models/resnet20-cifar10-12fca82f.th")
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 32, 32))
    sites = injector.sites()
    return (
        injector,
        sites[sites["eligible"]].reset_index(drop=True),
        x,
        test.y[keep],
        load_taxonomy("cifar10", test.classes),
    )


def golden_bits(injector, x, sites, points: pd.DataFrame) -> np.ndarray:
    """uint32 encoding of the golden value at each point."""
    values = injector.golden_site_values(x, list(sites["site"]))
    out = np.zeros(len(points), np.uint32)
    for site, rows in points.groupby("site").groups.items():
        rows = np.asarray(rows)
        out[rows] = values[site][
            points["image"].to_numpy()[rows], points["element"].to_numpy()[rows]
        ].view(np.uint32)
    return out


def timing_of_blocks() -> dict[str, float]:
    """Engine seconds of each stored block."""
    path = OUT / "pool-time.json"
    return json.loads(path.read_text()) if path.exists() else {}


def build() -> pd.DataFrame:
    """The pool (one row per injection), computing the blocks that are missing."""
    OUT.mkdir(parents=True, exist_ok=True)
    injector, sites, x, labels, taxonomy = setup()
    points = draw_activation_faults(
        sites, POINTS, rng_for(SEED, "bench-sampling", "pool"), np.arange(IMAGES)
    )
    points = points[["image", "site", "element"]]
    points["golden_bits"] = golden_bits(injector, x, sites, points)
    timing = timing_of_blocks()
    for start in range(0, POINTS, BLOCK):
        path = OUT / f"pool-{start // BLOCK:03d}.parquet"
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
        (OUT / "pool-time.json").write_text(json.dumps(timing, indent=1))
        print(f"{path.name}: {len(table)} injections in {timing[path.name]:.0f} s", flush=True)
    parts = sorted(OUT.glob("pool-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


if __name__ == "__main__":
    pool = build()
    print(f"pool: {len(pool)} injections, SDC {100 * (pool['outcome'] == 'sdc').mean():.3f}%")
