"""Names of the architectures each framework's model zoo provides, without importing a framework.

The Snakemake workflow checks configs against these lists before any job starts; tests check
that they equal the zoos in :mod:`dnnfi.kerasfi.models` and :mod:`dnnfi.torchfi.models`.
"""

KERAS_ARCHITECTURES = ("digits_sequential", "digits_branchy")
TORCH_ARCHITECTURES = ("digits_mlp", "digits_cnn")
ARCHITECTURES = {"keras": KERAS_ARCHITECTURES, "torch": TORCH_ARCHITECTURES}
