"""Names of the architectures each model source provides, without importing a framework.

The Snakemake workflow checks configs against these lists before any job starts; tests check
that they equal the zoos in :mod:`dnnfi.kerasfi.models` and :mod:`dnnfi.torchfi.models`.
"""

#: trainable architectures of the project's zoos (source ``train``; torch ones also for ``file``)
KERAS_ARCHITECTURES = (
    "digits_sequential", "digits_branchy", "small_resnet_cifar",
    "vgg11_cifar", "vgg13_cifar", "vgg16_cifar", "vgg19_cifar", "googlenet_cifar", "inceptionv3_cifar",
    "inceptionv4_cifar", "resnet18_cifar", "resnet34_cifar", "resnet50_cifar", "resnet101_cifar",
    "resnet152_cifar", "xception_cifar",
)
TORCH_ARCHITECTURES = ("digits_mlp", "digits_cnn", "resnet20_cifar", "resnet32_cifar", "resnet44_cifar", "resnet56_cifar")
ARCHITECTURES = {"keras": KERAS_ARCHITECTURES, "torch": TORCH_ARCHITECTURES}

#: keras.applications classifiers of the TensorFI+ study (source ``keras_applications``)
KERAS_APPLICATIONS = (
    "VGG16", "VGG19", "MobileNet", "MobileNetV2", "ResNet50", "ResNet101", "ResNet152", "Xception",
    "DenseNet121", "DenseNet169", "InceptionResNetV2", "InceptionV3",
)

#: where a user gets each kind of local data, for the missing-file messages
DATA_HINTS = {
    "image_folder": "a folder with train/<class>/ and test/<class>/ images",
    "imagenet_folder": "the ILSVRC2012 validation images (image-net.org) sorted into one folder per wnid",
    "cifar_archive": "the official python archive cifar-10-python.tar.gz or cifar-100-python.tar.gz "
    "(www.cs.toronto.edu/~kriz/cifar.html), or use source cifar100_download with a network",
    "gtsrb": "the official GTSRB test set (GTSRB_Final_Test_Images.zip, GTSRB_Final_Test_GT.zip) or training set "
    "(GTSRB_Final_Training_Images.zip) from benchmark.ini.rub.de, unpacked",
}
