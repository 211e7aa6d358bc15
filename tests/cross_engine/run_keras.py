"""Keras side of the cross-engine conformance test: ``python run_keras.py WORKDIR``.

WORKDIR holds weights.npz, inputs.npy and faults/<name>.parquet (written by
tests/core/test_cross_engine.py); writes WORKDIR/keras/sites.parquet and keras/<name>.npz
(golden and faulty logits of KerasInjector.logits). The network is described in common.py.
"""

import sys
from pathlib import Path

import keras  # noqa: E402
import numpy as np
from common import FEATURES, LAYERS, WIDTH, write_results

from dnnfi.engines.kerasfi.engine import KerasInjector  # noqa: E402


def build(weights: dict) -> keras.Model:
    inputs = keras.Input((FEATURES,), name="x")
    h = inputs
    for name, dtype in LAYERS:
        # a per-layer dtype policy: weights and output in ``dtype``, floating inputs cast to it
        layer = keras.layers.Dense(
            WIDTH, name=name, dtype=dtype, use_bias=f"{name}_bias" in weights
        )
        h = layer(h)
        layer.kernel.assign(weights[f"{name}_kernel"].astype(layer.kernel.dtype))
        if layer.use_bias:
            layer.bias.assign(weights[f"{name}_bias"].astype(layer.bias.dtype))
    return keras.Model(inputs, h, name="cross_engine")


def main(workdir: Path) -> None:
    weights = dict(np.load(workdir / "weights.npz"))
    x = np.load(workdir / "inputs.npy")
    model = build(weights)
    write_results(KerasInjector(model, batch_size=64), workdir, workdir / "keras", x)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
