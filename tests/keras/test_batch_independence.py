"""The shared batch-independence test (tests/engines/batch_independence.py) on the Keras engine:
Keras EfficientNetB0 (random weights, 32x32 inputs), at one thread and at two.

Threads: TensorFlow fixes its intra-op and inter-op thread pools when its runtime initializes
(the first op); after that ``tf.config.threading.set_*_parallelism_threads`` raises
RuntimeError. This pytest process has initialized TensorFlow already (other tests, fixtures),
so each thread count runs this file as a script in a fresh subprocess that sets both pools
first (checked by reading them back) and writes the logits of every arrangement; the test
compares them. A Keras walk holds a batch size rounded up to whole passes (128 rows on a CPU), so
here the runs differ in their lists (subset, alone, shuffled among others), not in their passes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: also when run as a script
from engines.batch_independence import *  # noqa: E402, F403 (the shared test)
from engines.batch_independence import N_IMAGES, BatchIndependence, arrangements  # noqa: E402

SIDE = 32

pytestmark = pytest.mark.keras


def main(threads: int, out: Path) -> None:
    """Subprocess: set TensorFlow's thread pools before anything runs, then every arrangement."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    from dnnfi.engines.kerasfi.engine import KerasInjector

    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(
        weights=None, input_shape=(SIDE, SIDE, 3), classes=10, classifier_activation=None
    )
    x = np.random.default_rng(1).uniform(0, 255, (N_IMAGES, SIDE, SIDE, 3)).astype("float32")
    # one injector (its compiled steps are traced once); batch_size is read per run
    injector = KerasInjector(model, batch_size=64)

    def logits(faults, batch_size):
        injector.batch_size = batch_size
        return injector.logits(faults, x, progress=False)

    result = arrangements(injector.sites(), logits, threads, n_alone=10)
    result["threads"] = [
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    ]
    np.savez(out, **result)


def in_subprocess(threads: int, folder: Path) -> dict:
    """The arrangements of :func:`main` at ``threads``, run in a fresh process."""
    out = folder / "logits.npz"
    done = subprocess.run(
        [sys.executable, __file__, str(threads), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = dict(np.load(out))
    assert list(result.pop("threads")) == [threads, threads]
    return result


@pytest.fixture(params=[1, 2])
def fw(request, tmp_path):
    threads = request.param
    return BatchIndependence(
        arrangements=lambda: in_subprocess(threads, tmp_path),
        name=f"EfficientNetB0 threads={threads}",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
