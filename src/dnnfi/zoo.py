"""Names of the architectures each framework's model zoo provides, without importing a framework.

The Snakemake workflow checks configs against these lists before any job starts; tests check
that they equal the zoos in :mod:`dnnfi.kerasfi.models` and :mod:`dnnfi.torchfi.models`.
"""

KERAS_ARCHITECTURES = (
    "digits_sequential", "digits_branchy", "small_resnet_cifar",
    "vgg11_cifar", "vgg13_cifar", "vgg16_cifar", "vgg19_cifar", "googlenet_cifar", "inceptionv3_cifar",
    "inceptionv4_cifar", "resnet18_cifar", "resnet34_cifar", "resnet50_cifar", "resnet101_cifar",
    "resnet152_cifar", "xception_cifar",
)
TORCH_ARCHITECTURES = ("digits_mlp", "digits_cnn")
ARCHITECTURES = {"keras": KERAS_ARCHITECTURES, "torch": TORCH_ARCHITECTURES}
