"""Names of the architectures each model source provides, without importing a framework.

The Snakemake workflow checks configs against these lists before any job starts; tests check
that they equal the zoos in :mod:`dnnfi.engines.kerasfi.models` and :mod:`dnnfi.engines.torchfi.models` and the
classifiers of the installed keras.applications and torchvision.
"""

import difflib

#: trainable architectures of the project's zoos (source ``train``; torch ones also for ``file``)
KERAS_ARCHITECTURES = (
    "digits_sequential",
    "digits_branchy",
    "small_resnet_cifar",
    "vgg11_cifar",
    "vgg13_cifar",
    "vgg16_cifar",
    "vgg19_cifar",
    "googlenet_cifar",
    "inceptionv3_cifar",
    "inceptionv4_cifar",
    "resnet18_cifar",
    "resnet34_cifar",
    "resnet50_cifar",
    "resnet101_cifar",
    "resnet152_cifar",
    "xception_cifar",
)
TORCH_ARCHITECTURES = (
    "digits_mlp",
    "digits_cnn",
    "resnet20_cifar",
    "resnet32_cifar",
    "resnet44_cifar",
    "resnet56_cifar",
)
ARCHITECTURES = {"keras": KERAS_ARCHITECTURES, "torch": TORCH_ARCHITECTURES}

# The model zoos of the pinned Keras and torchvision (requirements.txt, envs/): listed here because
# config checking runs in the Snakemake process, which must not import TensorFlow or PyTorch and
# may not even have them (`--sdm conda` runs jobs in their own environments);
# tests/keras/test_applications.py and tests/torch/test_models.py check that these lists equal
# what the installed packages provide.

#: keras.applications families (the submodule of each classifier) -> (``dnnfi.data.preprocess`` mode
#: equal to ``keras.applications.<family>.preprocess_input``, smallest input side). ``none``: the
#: model rescales its 0-255 input itself (its first layers; they are fault sites like any other).
KERAS_FAMILIES = {
    "convnext": ("none", 32),
    "densenet": ("keras_torch", 32),
    "efficientnet": ("none", 32),
    "efficientnet_v2": ("none", 32),
    "inception_resnet_v2": ("keras_tf", 75),
    "inception_v3": ("keras_tf", 75),
    "mobilenet": ("keras_tf", 32),
    "mobilenet_v2": ("keras_tf", 32),
    "mobilenet_v3": ("none", 32),
    "nasnet": ("keras_tf", 32),
    "resnet": ("keras_caffe", 32),
    "resnet_v2": ("keras_tf", 32),
    "vgg16": ("keras_caffe", 32),
    "vgg19": ("keras_caffe", 32),
    "xception": ("keras_tf", 71),
}

#: keras.applications classifiers (source ``keras_applications``) -> family
KERAS_APPLICATIONS = {
    **{f"ConvNeXt{s}": "convnext" for s in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{d}": "densenet" for d in (121, 169, 201)},
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{s}": "efficientnet_v2" for s in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2",
    "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3",
    "NASNetMobile": "nasnet",
    "NASNetLarge": "nasnet",
    **{f"ResNet{d}": "resnet" for d in (50, 101, 152)},
    **{f"ResNet{d}V2": "resnet_v2" for d in (50, 101, 152)},
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "Xception": "xception",
}

#: torchvision classifiers (source ``torchvision``): ``torchvision.models.list_models(module=torchvision.models)``
TORCHVISION_CLASSIFIERS = (
    "alexnet",
    "convnext_base",
    "convnext_large",
    "convnext_small",
    "convnext_tiny",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    *(f"efficientnet_b{i}" for i in range(8)),
    "efficientnet_v2_l",
    "efficientnet_v2_m",
    "efficientnet_v2_s",
    "googlenet",
    "inception_v3",
    "maxvit_t",
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    *(f"regnet_x_{s}" for s in ("16gf", "1_6gf", "32gf", "3_2gf", "400mf", "800mf", "8gf")),
    *(
        f"regnet_y_{s}"
        for s in ("128gf", "16gf", "1_6gf", "32gf", "3_2gf", "400mf", "800mf", "8gf")
    ),
    "resnet101",
    "resnet152",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "resnext50_32x4d",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "swin_b",
    "swin_s",
    "swin_t",
    "swin_v2_b",
    "swin_v2_s",
    "swin_v2_t",
    *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")),
    "vit_b_16",
    "vit_b_32",
    "vit_h_14",
    "vit_l_16",
    "vit_l_32",
    "wide_resnet101_2",
    "wide_resnet50_2",
)
#: torchvision classifiers whose ImageNet weights expect another normalization than ``imagenet_mean_std``
TORCHVISION_PREPROCESSING = {"efficientnet_v2_l": "half_mean_std"}


def family_preprocessing(source: str, architecture: str) -> str | None:
    """The preprocessing the ImageNet weights of a keras_applications or torchvision classifier
    expect (None for other sources)."""
    if source == "keras_applications":
        return KERAS_FAMILIES[KERAS_APPLICATIONS[architecture]][0]
    if source == "torchvision":
        return TORCHVISION_PREPROCESSING.get(architecture, "imagenet_mean_std")
    return None


def unknown_name(what: str, value, known, context: str = "") -> str:
    """``unknown <what> <value><context>`` with its close matches (difflib) and the names expected."""
    close = difflib.get_close_matches(str(value), known, n=3)
    hint = f" (close matches: {', '.join(close)})" if close else ""
    listing = (
        sorted(known) if len(known) <= 20 else f"the {len(known)} names listed in config/README.md"
    )
    return f"unknown {what} {value!r}{context}{hint}, expected one of {listing}"
