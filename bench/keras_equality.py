"""Before/after proof for the Keras engine: the same fault lists give bit-identical golden and
faulty logits through the engine of a reference commit and through the working tree's engine.

Runs at one thread (TensorFlow intra- and inter-op), in passes of 128 rows (the old engine's),
on the models of the Keras engine tests (tests/keras/test_engine.py, test_protection.py): the
nested/shared-layer zoo in three precisions, keras.applications at test sizes, and with the
inputs folder (``make inputs``) the pretrained ResNet-8, plain and range-restricted.
``--commit``: the engine to compare against (default 32084dd, the last one with 128-row padded
golden passes and chunked sweeps).
Prints one line per model and the totals; exits non-zero on the first difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from old_layout import old_source  # noqa: E402


def old_engine(commit: str):
    """The module dnnfi.engines.kerasfi.engine as it was at ``commit`` (before the layout of issue 21)."""
    # its pass rows, a constant of dnnfi.outcomes then (now dnnfi.engines.devices.PASS_ROWS, per device)
    source = old_source(
        commit,
        "src/dnnfi/kerasfi/engine.py",
        {
            "from dnnfi.faults.outcomes import PASS_ROWS, summarize_logits": "from dnnfi.faults.outcomes import summarize_logits\nPASS_ROWS = {'keras': 128}"
        },
    )
    path = Path(tempfile.mkdtemp()) / "old_keras_engine.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_keras_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(names: list[str]):
    """(name, model, images, fault list keyword arguments per list, protection) per model."""
    import keras

    sys.path.insert(0, str(ROOT / "tests" / "keras"))
    from conftest import random_images, zoo

    from dnnfi.engines.kerasfi.models import application

    images16 = np.random.default_rng(1).normal(0, 1, (12, 16, 16, 3)).astype("float32")
    lists = [
        {},
        {"bits_per_element": 3},
        {"elements_per_fault": 4},
        {"fault_model": "zero", "elements_per_fault": 2},
        {"fault_model": "random"},
        {"fault_model": "stuck_at_1", "bits_per_element": 2},
    ]
    for policy in ["float32", "mixed_float16", "mixed_bfloat16"]:
        if f"zoo_{policy}" in names:
            yield f"zoo_{policy}", zoo(policy), images16, [dict(n=120, **kw) for kw in lists], None
    for name, side in [
        ("ResNet50", 32),
        ("DenseNet121", 32),
        ("InceptionV3", 75),
        ("MobileNetV2", 32),
        ("Xception", 71),
    ]:
        if name in names:
            keras.utils.set_random_seed(0)
            model = application(name, (side, side, 3), classes=10, classifier_activation=None)
            yield name, model, random_images(6, side), [dict(n=500)], None
    if "ResNet-8" in names:
        from dnnfi.data.datasets import image_folder, inputs_dir
        from dnnfi.engines.kerasfi.engine import KerasInjector
        from dnnfi.engines.kerasfi.models import load
        from dnnfi.engines.protection import Protection

        path = inputs_dir() / "models" / "mlperf-tiny-resnet8-cifar10.h5"
        data = inputs_dir() / "data" / "cifar10-jpeg" / "test"
        if not path.is_file() or not data.is_dir():
            print(f"skipping ResNet-8: {path} or {data} not found (make inputs, DNNFI_INPUTS)")
            return
        model = load(path)
        images = image_folder(data, limit_per_class=2).x.astype("float32")
        yield "ResNet-8", model, images, [dict(n=500)], None
        plain = KerasInjector(model)
        protection = Protection.from_bounds(
            "range_restriction", "activations", plain.ranges(images[:5]), plain.sites()
        )
        yield "ResNet-8 protected", model, images, [dict(n=500)], protection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="32084dd")
    parser.add_argument(
        "--models",
        nargs="*",
        default=[
            "zoo_float32",
            "zoo_mixed_float16",
            "zoo_mixed_bfloat16",
            "ResNet50",
            "DenseNet121",
            "InceptionV3",
            "MobileNetV2",
            "Xception",
            "ResNet-8",
        ],
    )
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from dnnfi.engines.kerasfi.engine import KerasInjector
    from dnnfi.faults.lists import draw_activation_faults
    from dnnfi.faults.seeds import rng_for

    old = old_engine(args.commit)
    total = 0
    for name, model, images, lists, protection in cases(args.models):
        # at the old engine's pass shape (128 rows on any device), not today's defaults
        new_injector = KerasInjector(
            model, pass_rows={"cpu": 128, "gpu": 128}, protection=protection
        )
        old_injector = old.KerasInjector(model, batch_size=128, protection=protection)
        sites = new_injector.sites()
        n = 0
        for i, kw in enumerate(lists):
            faults = draw_activation_faults(
                sites[sites["eligible"]],
                kw.pop("n"),
                rng_for(3, name, i),
                np.arange(len(images)),
                **kw,
            )
            before = old_injector.logits(faults, images, progress=False)
            after = new_injector.logits(faults, images, progress=False)
            for a, b, what in zip(before, after, ["golden", "faulty"]):
                if not np.array_equal(a.view(np.uint32), b.view(np.uint32)):
                    sys.exit(f"{name}: {what} logits differ ({kw})")
            n += len(faults)
        total += n
        print(f"{name}: {n} faults, bit-identical", flush=True)
    print(f"total: {total} faults bit-identical to {args.commit}")


if __name__ == "__main__":
    main()
