"""Batch independence (docs/semantics.md section 4, fixed pass shape): >= 1,000 faults of mixed
fault models (some multi-element) give bit-identical faulty logits and the same outcomes at batch
sizes 64 (the reference), 7, 2 and 1, shuffled inside a longer list with other faults, and alone,
on a model with random weights at one thread count. Across thread counts results may differ in
the last bits (other kernels' blocking): not asserted; within one every arrangement must agree.

Cost: a batch size of 1 or 2 costs a pass per one or two faults, so those run on a stratified
subset of the list (every fifth fault multi-element); the full list runs at 7 and shuffled."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mixed_faults import assert_identical, mixed_fault_list

from dnnfi.faults.outcomes import classify, summarize_logits

__all__ = ["test_same_logits_at_any_batch_size_in_any_list_and_alone"]

N_IMAGES = 12
#: batch size -> faults of the list run at it (None: all; else the first ones of the subset)
SUBSETS = {7: None, 2: 96, 1: 48}
#: threads -> batch size of the shuffled list among other faults
MIXED_BATCH = {1: 7, 2: 64}
#: the runs compared with the reference
ARRANGEMENTS = [f"batch_size_{b}" for b in SUBSETS] + ["alone", "shuffled"]


@dataclass
class BatchIndependence:
    """A framework's side of this test: one model at one thread count."""

    #: the result of :func:`arrangements` on the model at the thread count (PyTorch in this
    #: process, Keras in a fresh one: TensorFlow fixes its thread pools when it starts)
    arrangements: Callable[[], dict]
    name: str  # of the model, engine path and thread count, for the timing line


def arrangements(
    sites: pd.DataFrame, logits: Callable, threads: int, n_alone: int
) -> dict[str, np.ndarray]:
    """The (golden, faulty) logits of a fault list of the model's ``sites`` at batch size 64, and
    of each arrangement of :data:`ARRANGEMENTS` with the positions of its faults in the list:
    ``<name>_index``, ``<name>_golden``, ``<name>_faulty``. ``logits(faults, batch_size)`` runs
    the engine; ``n_alone`` faults of the subset run each alone."""
    faults = mixed_fault_list(sites, 7, N_IMAGES)
    multi = np.flatnonzero(faults["elements"].notna().to_numpy())
    out = {"n_faults": len(faults), "n_multi": len(multi)}

    def keep(name: str, index: np.ndarray, golden: np.ndarray, faulty: np.ndarray) -> None:
        out[f"{name}_index"], out[f"{name}_golden"], out[f"{name}_faulty"] = index, golden, faulty

    out["reference_golden"], out["reference_faulty"] = logits(faults, 64)
    # the stratified subset: every fifth fault multi-element
    rng = np.random.default_rng(10)
    subset = rng.choice(np.setdiff1d(np.arange(len(faults)), multi), 96, replace=False)
    subset[::5] = rng.choice(multi, len(subset[::5]), replace=False)
    for batch_size, n in SUBSETS.items():
        index = np.arange(len(faults)) if n is None else subset[:n]
        keep(f"batch_size_{batch_size}", index, *logits(faults.iloc[index], batch_size))
    alone = [logits(faults.iloc[[i]], 64) for i in subset[:n_alone]]
    keep("alone", subset[:n_alone], *(np.concatenate(part) for part in zip(*alone)))
    # shuffled, inside a longer list with other faults (other sites, images and models)
    others = mixed_fault_list(sites, 8, N_IMAGES, n_single=400, n_multi=40)
    mixed = pd.concat([faults, others], ignore_index=True)
    order = np.random.default_rng(9).permutation(len(mixed))
    golden, faulty = logits(mixed.iloc[order], MIXED_BATCH[threads])
    back = np.argsort(order)[: len(faults)]  # positions of the faults of ``faults`` in the run
    keep("shuffled", np.arange(len(faults)), golden[back], faulty[back])
    return out


def test_same_logits_at_any_batch_size_in_any_list_and_alone(fw: BatchIndependence):
    started = time.perf_counter()
    r = fw.arrangements()
    assert r["n_faults"] >= 1000 and r["n_multi"] >= 100
    reference = (r["reference_golden"], r["reference_faulty"])
    counts = classify(summarize_logits(*reference))["outcome"].value_counts()
    # the list exercises the recompute, not only the masking shortcut
    assert counts["masked"] > 50 and counts["benign"] + counts["sdc"] + counts["due"] > 100, counts
    for name in ARRANGEMENTS:
        index = r[f"{name}_index"]
        assert_identical(
            (reference[0][index], reference[1][index]),
            (r[f"{name}_golden"], r[f"{name}_faulty"]),
            name,
        )
    print(f"{fw.name}: {time.perf_counter() - started:.0f} s")
