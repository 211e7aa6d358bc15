"""Batch independence of the Keras engine (docs/semantics.md, fixed pass shape): on Keras
EfficientNetB0 (random weights, 32x32 inputs), >= 1,000 faults of mixed fault models (some
multi-element) give bit-identical faulty logits and the same outcomes at batch_size 64, 7, 2
and 1, shuffled inside a longer list with other faults, and alone; at one thread and at two.

Threads: TensorFlow fixes its intra-op and inter-op thread pools when its runtime initializes
(the first op); after that ``tf.config.threading.set_*_parallelism_threads`` raises
RuntimeError. This pytest process has initialized TensorFlow already (other tests, fixtures),
so each thread count runs this file as a script in a fresh subprocess that sets both pools
first (checked by reading them back) and writes the logits of every arrangement; the test
compares them. Within one thread count every arrangement must agree bit for bit; across thread
counts results may differ in the last bits (not asserted).

Cost on the 2-core test machine: a sweep walks every step downstream of its site with passes of
the fixed shape, so batch_size 1 and 2 cost a sweep per one or two faults; they run on a stratified
subset of the list (multi-element faults included); the full list runs at 64 and 7, and
shuffled/embedded at 64.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: also when run as a script
from mixed_faults import assert_identical, mixed_fault_list  # noqa: E402

SIDE = 32
N_IMAGES = 12
#: batch size -> faults of the list run at it (None: all; else the first ones of a stratified
#: subset of 200 with every fifth multi-element)
SUBSETS = {7: None, 2: 96, 1: 48}
N_ALONE = 10

pytestmark = pytest.mark.keras


def fault_list(
    sites: pd.DataFrame, seed: int, n_single: int = 900, n_multi: int = 120
) -> pd.DataFrame:
    return mixed_fault_list(sites, seed, N_IMAGES, n_single, n_multi)


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
    faults = fault_list(injector.sites(), seed=7)
    result = {
        "threads": [
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
        ]
    }
    started = time.perf_counter()
    result["ref_golden"], result["ref_faulty"] = injector.logits(faults, x, progress=False)

    rng = np.random.default_rng(10)
    multi = np.flatnonzero(faults["elements"].notna().to_numpy())
    single = np.setdiff1d(np.arange(len(faults)), multi)
    # stratified: every fifth fault of the subset is multi-element
    order = np.concatenate([rng.permutation(multi)[:40], rng.permutation(single)[:160]])
    order = order[
        np.argsort(np.r_[np.arange(40) * 5, np.setdiff1d(np.arange(200), np.arange(40) * 5)])
    ]
    result["subset_order"] = order
    for batch_size, n in SUBSETS.items():
        injector.batch_size = batch_size
        pick = np.arange(len(faults)) if n is None else order[:n]
        result[f"bs{batch_size}_golden"], result[f"bs{batch_size}_faulty"] = injector.logits(
            faults.iloc[pick], x, progress=False
        )
    injector.batch_size = 64

    others = fault_list(injector.sites(), seed=8, n_single=250, n_multi=40)
    mixed = pd.concat([faults, others], ignore_index=True)
    shuffle = np.random.default_rng(9).permutation(len(mixed))
    golden, faulty = injector.logits(mixed.iloc[shuffle], x, progress=False)
    back = np.argsort(shuffle)[: len(faults)]
    result["mixed_golden"], result["mixed_faulty"] = golden[back], faulty[back]

    alone = order[:N_ALONE]
    runs = [injector.logits(faults.iloc[[i]], x, progress=False) for i in alone]
    result["alone_golden"] = np.concatenate([r[0] for r in runs])
    result["alone_faulty"] = np.concatenate([r[1] for r in runs])
    result["n_faults"], result["n_multi"] = len(faults), len(multi)
    result["seconds"] = time.perf_counter() - started
    np.savez(out, **result)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_logits_at_any_batch_size_in_any_list_and_alone(threads, tmp_path):
    from dnnfi.faults.outcomes import classify, summarize_logits

    out = tmp_path / "logits.npz"
    done = subprocess.run(
        [sys.executable, __file__, str(threads), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    r = dict(np.load(out))
    assert list(r["threads"]) == [threads, threads]
    assert r["n_faults"] >= 1000 and r["n_multi"] >= 100
    ref = (r["ref_golden"], r["ref_faulty"])
    counts = classify(summarize_logits(*ref))["outcome"].value_counts()
    # the list exercises the recompute, not only the masking shortcut
    assert counts["masked"] > 50 and counts["benign"] + counts["sdc"] + counts["due"] > 100, counts
    order = r["subset_order"]
    for batch_size, n in SUBSETS.items():
        pick = np.arange(int(r["n_faults"])) if n is None else order[:n]
        assert_identical(
            (ref[0][pick], ref[1][pick]),
            (r[f"bs{batch_size}_golden"], r[f"bs{batch_size}_faulty"]),
            f"batch_size={batch_size}",
        )
    assert_identical(ref, (r["mixed_golden"], r["mixed_faulty"]), "shuffled among other faults")
    pick = order[:N_ALONE]
    assert_identical((ref[0][pick], ref[1][pick]), (r["alone_golden"], r["alone_faulty"]), "alone")
    print(f"threads={threads}: {float(r['seconds']):.0f} s of injections")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
