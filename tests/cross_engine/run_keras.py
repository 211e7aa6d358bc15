"""Keras side of the cross-engine conformance test: ``python run_keras.py WORKDIR``.

WORKDIR holds weights.npz, inputs.npy and faults/<name>.parquet (written by
tests/core/test_cross_engine.py); writes WORKDIR/keras/sites.parquet and keras/<name>.npz
(golden and faulty logits of KerasInjector.logits). The network is described in common.py.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from common import FEATURES, LAYERS, WIDTH

import keras  # noqa: E402
from dnnfi.kerasfi.engine import KerasInjector  # noqa: E402


def build(weights: dict) -> keras.Model:
    inputs = keras.Input((FEATURES,), name="x")
    h = inputs
    for name, dtype in LAYERS:
        # a per-layer dtype policy: weights and output in ``dtype``, floating inputs cast to it
        layer = keras.layers.Dense(WIDTH, name=name, dtype=dtype, use_bias=f"{name}_bias" in weights)
        h = layer(h)
        layer.kernel.assign(weights[f"{name}_kernel"].astype(layer.kernel.dtype))
        if layer.use_bias:
            layer.bias.assign(weights[f"{name}_bias"].astype(layer.bias.dtype))
    return keras.Model(inputs, h, name="cross_engine")


def main(workdir: Path) -> None:
    weights = dict(np.load(workdir / "weights.npz"))
    x = np.load(workdir / "inputs.npy")
    model = build(weights)
    out = workdir / "keras"
    out.mkdir(exist_ok=True)
    injector = KerasInjector(model, batch_size=64)
    injector.sites().to_parquet(out / "sites.parquet")
    for path in sorted((workdir / "faults").glob("*.parquet")):
        faults = pd.read_parquet(path)
        golden, faulty = injector.logits(faults, x, progress=False)
        np.savez(out / f"{path.stem}.npz", golden=golden, faulty=faulty)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
