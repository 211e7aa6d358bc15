"""PyTorch side of the cross-engine conformance test: ``python run_torch.py WORKDIR [--hooks] [--ftz]``.

Same inputs as run_keras.py; writes WORKDIR/torch/ (``--hooks``: torch_hooks/, the TorchInjector
fallback without torch.fx; ``--ftz``: torch_ftz/, with torch.set_flush_denormal(True), the
flush-to-zero / denormals-are-zero mode TensorFlow uses on CPU): sites.parquet and <name>.npz
(golden, faulty logits).
"""

import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch  # noqa: E402
from common import FEATURES, LAYERS, WIDTH, write_results
from torch import nn  # noqa: E402

from dnnfi.engines.torchfi.activations import TorchInjector  # noqa: E402

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class CastLinear(nn.Linear):
    """A Linear whose weights are in its own dtype and that casts its input to it (Keras' per-layer
    dtype policy); without children, so one module call = one fault site, as in Keras."""

    def forward(self, x):
        return nn.functional.linear(x.to(self.weight.dtype), self.weight, self.bias)


def build(weights: dict) -> nn.Module:
    modules = OrderedDict()
    fan_in = FEATURES
    for name, dtype in LAYERS:
        bias = f"{name}_bias" in weights
        layer = CastLinear(fan_in, WIDTH, bias=bias)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weights[f"{name}_kernel"].T.copy()))
            if bias:
                layer.bias.copy_(torch.from_numpy(weights[f"{name}_bias"]))
        modules[name] = layer.to(TORCH_DTYPES[dtype])
        fan_in = WIDTH
    return nn.Sequential(modules).eval()


def main(workdir: Path, hooks: bool, ftz: bool) -> None:
    if ftz and not torch.set_flush_denormal(True):
        raise SystemExit(
            "this CPU cannot flush denormals (torch.set_flush_denormal returned False)"
        )
    weights = dict(np.load(workdir / "weights.npz"))
    x = torch.from_numpy(np.load(workdir / "inputs.npy"))
    model = build(weights)
    injector = TorchInjector(model, batch_size=64, input_shape=(FEATURES,), use_fx=not hooks)
    if injector.fast == hooks:
        raise SystemExit(
            f"expected the {'hook' if hooks else 'torch.fx'} path, the injector chose the other"
        )
    write_results(
        injector,
        workdir,
        workdir / ("torch_hooks" if hooks else "torch_ftz" if ftz else "torch"),
        x,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--hooks" in sys.argv[2:], "--ftz" in sys.argv[2:])
