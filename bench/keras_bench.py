"""Keras engine benchmark: time per injection against fault-free inference, from one run.

For ResNet50 (224x224, weights=None) and the pretrained MLPerf-Tiny ResNet-8 (32x32):

- fault-free: compiled whole-model inference, time per image at the best batch size;
- engine: wall time of a whole 3,000-injection campaign (seed-compatible random sites, one
  random bit flip each, over 10 images; building the injector, tracing, golden runs included)
  divided by 3,000;
- TensorFI+-style baseline: every injection recomputes the whole model at batch size 1,
  layer call by layer call with the faulty output replaced (as that tool does), timed on a
  few hundred injections;
- peak resident memory of each of the three, each measured in a process of its own (model,
  images and TensorFlow included).

Without the inputs folder (``make inputs``, ``DNNFI_INPUTS``) it prints "skipping ResNet-8" and runs every other row.

``--device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``): where everything runs, as the pipeline's
``device`` setting.

Protection (``--protection-only`` runs just this row): the engine's fault-free time per image on
ResNet-8 (ResNet50 without the inputs folder) with range restriction / clipping to zero after
every activation, relative to the engine unprotected (bench/protection_cost.py).

Last line: ``keras overhead_resnet50=<engine / fault-free> speedup_vs_tensorfi_plus=<baseline / engine>``.
Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from process_memory import memory_mb


def fault_free_per_image(model, images: np.ndarray, batch_sizes: list[int]) -> tuple[float, int]:
    """Best seconds per image over ``batch_sizes`` (compiled forward, warm), and that batch size."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    best = (np.inf, 0)
    for bs in batch_sizes:
        x = tf.constant(np.resize(images, (bs,) + images.shape[1:]))
        forward(x)
        repeats = max(2, 64 // bs)
        start = time.perf_counter()
        for _ in range(repeats):
            forward(x).numpy()
        best = min(best, ((time.perf_counter() - start) / repeats / bs, bs))
    return best


def engine_per_injection(model, images: np.ndarray, n: int, batch_size: int) -> tuple[float, dict]:
    """Wall seconds per injection of a whole campaign of ``n`` faults, and its outcome counts."""
    from dnnfi.engines.kerasfi.engine import KerasInjector
    from dnnfi.faults.lists import draw_activation_faults
    from dnnfi.faults.outcomes import classify
    from dnnfi.faults.seeds import rng_for

    start = time.perf_counter()
    injector = KerasInjector(model, batch_size=batch_size)
    sites = injector.sites()
    faults = draw_activation_faults(
        sites[sites["eligible"]], n, rng_for(0, "bench", model.name), np.arange(len(images))
    )
    results = classify(injector.run(faults, images, progress=False))
    seconds = time.perf_counter() - start
    return seconds / n, results["outcome"].value_counts().to_dict()


def tensorfi_plus_per_injection(model, images: np.ndarray, n: int) -> float:
    """Seconds per injection when every fault recomputes the whole model at batch size 1."""
    import keras

    from dnnfi.engines.kerasfi.engine import KerasInjector
    from dnnfi.faults.bitflip import flip_bits
    from dnnfi.faults.lists import draw_activation_faults
    from dnnfi.faults.seeds import rng_for

    sites = KerasInjector(model).sites()
    faults = draw_activation_faults(
        sites[sites["eligible"]], n, rng_for(1, "bench", model.name), np.arange(len(images))
    )
    depth = model._nodes_by_depth
    nodes = [node for d in sorted(depth, reverse=True) for node in depth[d] if not node.is_input]
    name_of = {id(node): layer.name for layer in model.layers for node in layer._inbound_nodes}
    start = time.perf_counter()
    for f in faults.itertuples():
        values = {id(model.inputs[0]): keras.ops.convert_to_tensor(images[f.image : f.image + 1])}
        for node in nodes:
            args, kwargs = node.arguments.fill_in(values)
            outs = keras.tree.flatten(node.operation(*args, **kwargs))
            if name_of.get(id(node)) == f.site:
                array = np.array(keras.ops.convert_to_numpy(outs[0]))
                flat = array.reshape(-1)
                flat[f.element : f.element + 1] = flip_bits(
                    flat[f.element : f.element + 1], [f.bit]
                )
                outs[0] = keras.ops.convert_to_tensor(array)
            for ref, out in zip(node.outputs, outs):
                values[id(ref)] = out
        keras.ops.convert_to_numpy(values[id(model.outputs[0])])
    return (time.perf_counter() - start) / n


def resnet8_files():
    """The pretrained ResNet-8's model file and CIFAR-10 test folder in the inputs folder, or None."""
    from dnnfi.data.datasets import inputs_dir

    path = inputs_dir() / "models" / "mlperf-tiny-resnet8-cifar10.h5"
    data = inputs_dir() / "data" / "cifar10-jpeg" / "test"
    return (path, data) if path.is_file() and data.is_dir() else None


def case(name: str, n_images: int):
    """(model, images, fault-free batch sizes, engine batch size) of a benchmark row."""
    import keras

    if name == "ResNet50":
        keras.utils.set_random_seed(0)
        images = (np.random.default_rng(0).random((n_images, 224, 224, 3)) * 255 - 128).astype(
            np.float32
        )
        return (
            keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3)),
            images,
            [1, 8, 16, 32],
            128,
        )
    from dnnfi.data.datasets import image_folder
    from dnnfi.engines.kerasfi.models import load

    path, data = resnet8_files()
    images = (
        image_folder(data, limit_per_class=1).x[:n_images].astype(np.float32)
    )  # raw 0-255 pixels
    return load(path), images, [1, 32, 128, 512], 256


def phase(what: str, name: str, args) -> tuple:
    """One measurement in a process of its own: (its result, the process's peak RSS in MB)."""
    import tensorflow as tf
    from protection_cost import protection_row

    from dnnfi.engines.kerasfi.engine import KerasInjector
    from dnnfi.engines.kerasfi.models import use_device

    with tf.device(use_device(args.device)):  # the model's variables and every pass
        model, images, batch_sizes, engine_batch = case(name, args.images)
        if what == "fault-free":
            result = fault_free_per_image(model, images, batch_sizes)
        elif what == "engine":
            result = engine_per_injection(model, images, args.injections, engine_batch)
        elif what == "tfi+":
            result = tensorfi_plus_per_injection(model, images, args.baseline_injections)
        else:
            result = protection_row(
                name,
                lambda protection=None: KerasInjector(model, protection=protection),
                np.resize(images, (64,) + images.shape[1:]),
                np.resize(images, (256,) + images.shape[1:]),
            )
    return result, memory_mb("VmHWM")


def measure(args) -> list[tuple]:
    """One row per model: fault-free, engine and TensorFI+-style times, each one's peak memory
    (each measured in a process of its own), outcomes (none with ``--protection-only``); prints
    the protection cost row first."""
    import multiprocessing

    import pandas as pd

    names = ["ResNet50"]
    if resnet8_files() is None:
        print(
            "skipping ResNet-8: its model or images are not in the inputs folder (make inputs, DNNFI_INPUTS)"
        )
    else:
        names.append("ResNet-8")
    pool = multiprocessing.get_context("spawn")

    def separately(what, name):
        with pool.Pool(1) as process:
            return process.apply(phase, (what, name, args))

    print(
        pd.DataFrame([separately("protection", names[-1])[0]]).round(3).to_string(index=False),
        flush=True,
    )
    if args.protection_only:
        return []
    rows = []
    for name in names:
        (free, best_bs), mem_free = separately("fault-free", name)
        (engine, outcomes), mem_engine = separately("engine", name)
        baseline, mem_baseline = separately("tfi+", name)
        rows.append(
            (name, free, best_bs, engine, baseline, mem_free, mem_engine, mem_baseline, outcomes)
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--injections", type=int, default=3000)
    parser.add_argument("--baseline-injections", type=int, default=200)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument(
        "--device", default="auto", help="auto (the first GPU, else the CPU), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--protection-only", action="store_true", help="only the protection cost row"
    )
    args = parser.parse_args()

    import tensorflow as tf

    from dnnfi.engines.kerasfi.models import use_device

    rows = measure(args)
    print(f"device={use_device(args.device)} tensorflow={tf.__version__}")
    if not rows:
        return
    print(
        f"{'model':<10} {'fault-free s/img':>16} {'best bs':>7} {'engine s/inj':>12} {'tfi+ s/inj':>10} "
        f"{'overhead':>8} {'tfi+ ratio':>10} {'speedup':>7} {'peak MB free/eng/tfi+':>22}  outcomes"
    )
    for name, free, bs, engine, baseline, m1, m2, m3, outcomes in rows:
        print(
            f"{name:<10} {free:>16.5f} {bs:>7d} {engine:>12.5f} {baseline:>10.5f} {engine / free:>8.3f} "
            f"{baseline / free:>10.2f} {baseline / engine:>7.1f} {f'{m1:.0f}/{m2:.0f}/{m3:.0f}':>22}  {outcomes}"
        )
    name, free, _, engine, baseline, *_ = rows[0]
    print(
        f"keras overhead_resnet50={engine / free:.3f} speedup_vs_tensorfi_plus={baseline / engine:.2f}"
    )


if __name__ == "__main__":
    main()
