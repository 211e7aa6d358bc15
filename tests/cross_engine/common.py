"""Framework-free helpers of the cross-engine conformance test (tests/core/test_cross_engine.py).

One small dense network, built identically by run_keras.py and run_torch.py from one weights file:

    input (FEATURES,) -> d1 Dense/Linear float32 (integer weights and bias)
                      -> d2 float16  (signed permutation, no bias; casts its input)
                      -> d3 bfloat16 (signed permutation, no bias; casts its input)
                      -> head float32 (identity, no bias; casts its input)

Why the arithmetic is exact in both frameworks, so that bit-equality is a fair demand:
- golden values are small integers (|v| < 256), exact in fp32, fp16 and bf16 and in any summation order;
- downstream of a fault site every output element is one input element times +-1 plus zero
  products: adding signed zeros to one value is exact in any order, so a corrupted value
  reaches the logits only through the (round-to-nearest-even) casts between layers;
- an Inf or NaN anywhere gives Inf*0 = NaN in every output of the next matmul (compare NaN-aware).
The identity head makes the logits the d3 values: the corrupted site values can be read off.

The scripts write, per fault list, ``<name>.npz`` with ``golden`` and ``faulty`` logits and
``sites.parquet`` with the engine's sites() table.
"""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np

FEATURES = 8
WIDTH = 12
#: (layer name, dtype of its weights and output); the head is last
LAYERS = [("d1", "float32"), ("d2", "float16"), ("d3", "bfloat16"), ("head", "float32")]
NP_DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def signed_permutation(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, n) matrix with one +-1 per row and column."""
    m = np.zeros((n, n), np.float32)
    m[np.arange(n), rng.permutation(n)] = rng.choice([-1.0, 1.0], n)
    return m


def make_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights as float32 arrays in the math layout ``y = x @ kernel + bias`` (in, out): Keras'
    kernel layout; torch's Linear weight is the transpose."""
    rng = np.random.default_rng(seed)
    return {
        "d1_kernel": rng.integers(-3, 4, (FEATURES, WIDTH)).astype(np.float32),
        "d1_bias": rng.integers(-3, 4, WIDTH).astype(np.float32),
        "d2_kernel": signed_permutation(rng, WIDTH),
        "d3_kernel": signed_permutation(rng, WIDTH),
        "head_kernel": np.eye(WIDTH, dtype=np.float32),
    }


def make_inputs(n: int = 20, seed: int = 1) -> np.ndarray:
    """Integer-valued float32 inputs (n, FEATURES); a few zeros give zero golden values."""
    return np.random.default_rng(seed).integers(-4, 5, (n, FEATURES)).astype(np.float32)


#: smallest normal float32: float32 arithmetic in flush-to-zero / denormals-are-zero mode (as
#: TensorFlow sets it on CPU) reads and writes float32 values of smaller magnitude as zero
FLT_MIN = float(np.finfo(np.float32).tiny)


def _flushed(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.abs(a) < FLT_MIN, 0.0, a)


def numpy_forward(
    weights: dict,
    x: np.ndarray,
    start: int = 0,
    value: np.ndarray | None = None,
    flush: bool = False,
) -> list[np.ndarray]:
    """Values of every layer (list in LAYERS order) computed in float64 with exact rounding to each
    layer's dtype; with ``value`` given, the output of layer ``start`` is replaced by ``value``
    (a faulty site output) and only the layers after it are computed from it. ``flush``: model
    FTZ/DAZ float32 arithmetic (subnormal float32 inputs and results of a matmul are zero)."""
    with np.errstate(all="ignore"):  # Inf * 0, overflowing casts: the IEEE results are wanted
        return _forward(weights, x, start, value, flush)


def _forward(weights, x, start, value, flush):
    outs = []
    h = x.astype(np.float64) if value is None else None
    for i, (name, dtype) in enumerate(LAYERS):
        if value is not None and i < start:
            outs.append(None)
            continue
        if value is not None and i == start:
            h = np.asarray(value)
        else:
            h = _flushed(h) if flush else h.astype(np.float64)
            z = h @ weights[f"{name}_kernel"].astype(np.float64)
            if f"{name}_bias" in weights:
                z = z + weights[f"{name}_bias"]
            z = _flushed(z) if flush else z
            # float64 -> float32 -> format: the products are exact, so the first step is exact
            h = z.astype(np.float32).astype(NP_DTYPES[dtype])
        outs.append(h)
    return outs


def write_results(injector, workdir: Path, out: Path, x: np.ndarray) -> None:
    """Run every fault list of ``workdir/faults`` through ``injector`` and write the sites table
    and, per list, the golden and faulty logits into ``out``."""
    import pandas as pd

    out.mkdir(exist_ok=True)
    injector.sites().to_parquet(out / "sites.parquet")
    for path in sorted((workdir / "faults").glob("*.parquet")):
        golden, faulty = injector.logits(pd.read_parquet(path), x, progress=False)
        np.savez(out / f"{path.stem}.npz", golden=golden, faulty=faulty)
