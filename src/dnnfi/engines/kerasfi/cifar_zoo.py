"""Keras 3 functional classifiers for CIFAR-size inputs: the TensorFI+ study's CIFAR-100 and GTSRB
architectures, and a small residual network that trains on a CPU.

The adaptations to 32x32 inputs follow the weiaicunzai/pytorch-cifar100 family the study used:

- VGG: 3x3 convolutions with batch norm, five max-pools down to 1x1 at 32x32, a
  4096-4096 classifier on the flattened 512 features (not the 7x7x512 ImageNet head);
- ResNet: a 3x3 stride-1 stem without the ImageNet 7x7 convolution and max-pool, four stages
  (64-512 channels, strides 1-2-2-2), basic blocks (18, 34) or bottlenecks (50, 101, 152);
- GoogLeNet: a three-convolution 3x3 stem without downsampling, the 5x5 branch as two 3x3;
- Inception-v3 and -v4: the stems keep the resolution (v4 loses two pixels to a valid 3x3);
- Xception: a 3x3 stem at full resolution, entry flow down to 4x4, eight middle blocks.

Batch norm uses PyTorch's defaults (:func:`_bn`), so that the same training schedules apply.

Every builder takes ``(input_shape, classes)`` (height and width at least 32, any class
count), returns logits (no softmax), and names its layers by stage, block and role, so that a
fault site reads like ``conv3_block2_b_conv`` or ``inception4c_3x3_conv``.
"""

from __future__ import annotations

from functools import partial

MIN_SIDE = 32


def _input(input_shape):
    """The model input, after checking that the image side is at least :data:`MIN_SIDE`."""
    import keras

    if min(input_shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"CIFAR-size architectures need inputs of at least {MIN_SIDE}x{MIN_SIDE}, got {tuple(input_shape)}"
        )
    return keras.Input(tuple(input_shape), name="input")


def _bn(name):
    """Batch norm with PyTorch's defaults (momentum 0.1 there is 0.9 here, epsilon 1e-5), as in the
    reference models; Keras' 0.99 would leave the moving statistics far behind in short trainings."""
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _conv_bn(x, filters, kernel, name, strides=1, padding="same", relu=True):
    """Convolution (no bias: batch norm follows), batch norm, optionally ReLU."""
    from keras import layers

    x = layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    x = _bn(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _head(x, classes, dropout=None):
    """Global average pooling, optional dropout, dense logits."""
    from keras import layers

    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(classes, name="logits")(x)


def _model(inputs, outputs, name):
    """The functional model from ``inputs`` to the logits ``outputs``."""
    import keras

    return keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------------------------------------
# VGG

VGG_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}


def vgg(depth: int, input_shape=(32, 32, 3), classes=100, hidden=4096):
    """VGG-``depth`` with batch norm; blocks ``block{i}_conv{j}`` then ``block{i}_pool``."""
    from keras import layers

    inputs = _input(input_shape)
    x, block, conv = inputs, 1, 1
    for item in VGG_CONFIGS[depth]:
        if item == "M":
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            block, conv = block + 1, 1
        else:
            # bias kept, as in the reference models (BN follows, so it is redundant but a weight site)
            x = layers.Conv2D(item, 3, padding="same", name=f"block{block}_conv{conv}")(x)
            x = _bn(f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
            conv += 1
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(hidden, name=f"fc{i}")(x)
        x = layers.ReLU(name=f"fc{i}_relu")(x)
        x = layers.Dropout(0.5, name=f"fc{i}_dropout")(x)
    return _model(inputs, layers.Dense(classes, name="logits")(x), f"vgg{depth}_cifar")


# ---------------------------------------------------------------------------------------------
# ResNet

RESNET_BLOCKS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def _basic_block(x, filters, strides, name):
    from keras import layers

    y = _conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = _conv_bn(y, filters, 3, f"{name}_b", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        x = _conv_bn(x, filters, 1, f"{name}_shortcut", strides=strides, relu=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, x]))


def _bottleneck(x, filters, strides, name):
    from keras import layers

    y = _conv_bn(x, filters, 1, f"{name}_a")
    y = _conv_bn(y, filters, 3, f"{name}_b", strides=strides)
    y = _conv_bn(y, 4 * filters, 1, f"{name}_c", relu=False)
    if strides != 1 or x.shape[-1] != 4 * filters:
        x = _conv_bn(x, 4 * filters, 1, f"{name}_shortcut", strides=strides, relu=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, x]))


def resnet(depth: int, input_shape=(32, 32, 3), classes=100):
    """ResNet-``depth``: 3x3 stem ``conv1``, stages ``conv2``..``conv5`` of blocks ``conv{s}_block{i}``."""
    inputs = _input(input_shape)
    block = _basic_block if depth < 50 else _bottleneck
    x = _conv_bn(inputs, 64, 3, "conv1")
    for stage, (filters, count) in enumerate(
        zip((64, 128, 256, 512), RESNET_BLOCKS[depth]), start=2
    ):
        for i in range(count):
            x = block(x, filters, 2 if stage > 2 and i == 0 else 1, f"conv{stage}_block{i + 1}")
    return _model(inputs, _head(x, classes), f"resnet{depth}_cifar")


# ---------------------------------------------------------------------------------------------
# GoogLeNet (Inception-v1)

# name: (1x1, 3x3 reduce, 3x3, double-3x3 reduce, double-3x3, pool projection)
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _googlenet_module(x, spec, name):
    from keras import layers

    n1, r3, n3, r5, n5, pool = spec
    b1 = _conv_bn(x, n1, 1, f"{name}_1x1")
    b2 = _conv_bn(_conv_bn(x, r3, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3")
    # the 5x5 branch as two 3x3 convolutions
    b3 = _conv_bn(
        _conv_bn(_conv_bn(x, r5, 1, f"{name}_5x5_reduce"), n5, 3, f"{name}_5x5a"),
        n5,
        3,
        f"{name}_5x5b",
    )
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    b4 = _conv_bn(b4, pool, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b2, b3, b4])


def googlenet(input_shape=(32, 32, 3), classes=100):
    """GoogLeNet: stem ``stem1``..``stem3``, modules ``inception3a``..``inception5b``, pools between stages."""
    from keras import layers

    inputs = _input(input_shape)
    x = _conv_bn(inputs, 64, 3, "stem1")
    x = _conv_bn(x, 64, 3, "stem2")
    x = _conv_bn(x, 192, 3, "stem3")
    for name, spec in GOOGLENET_MODULES.items():
        if name in ("4a", "5a"):
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{name[0]}")(x)
        x = _googlenet_module(x, spec, f"inception{name}")
    return _model(inputs, _head(x, classes, dropout=0.4), "googlenet_cifar")


# ---------------------------------------------------------------------------------------------
# Inception-v3


def _v3_a(x, pool_features, name):
    from keras import layers

    b1 = _conv_bn(x, 64, 1, f"{name}_1x1")
    b5 = _conv_bn(_conv_bn(x, 48, 1, f"{name}_5x5_reduce"), 64, 5, f"{name}_5x5")
    b3 = _conv_bn(
        _conv_bn(_conv_bn(x, 64, 1, f"{name}_3x3_reduce"), 96, 3, f"{name}_3x3a"),
        96,
        3,
        f"{name}_3x3b",
    )
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, pool_features, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b5, b3, bp])


def _v3_b(x, name):
    """Grid reduction 35->17 of the paper (here e.g. 32->15)."""
    from keras import layers

    b3 = _conv_bn(x, 384, 3, f"{name}_3x3", strides=2, padding="valid")
    bd = _conv_bn(_conv_bn(x, 64, 1, f"{name}_3x3dbl_reduce"), 96, 3, f"{name}_3x3dbl_a")
    bd = _conv_bn(bd, 96, 3, f"{name}_3x3dbl_b", strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, bd, bp])


def _v3_c(x, c7, name):
    from keras import layers

    b1 = _conv_bn(x, 192, 1, f"{name}_1x1")
    b7 = _conv_bn(x, c7, 1, f"{name}_7x7_reduce")
    b7 = _conv_bn(_conv_bn(b7, c7, (1, 7), f"{name}_7x7a"), 192, (7, 1), f"{name}_7x7b")
    bd = _conv_bn(x, c7, 1, f"{name}_7x7dbl_reduce")
    for i, (kernel, filters) in enumerate(
        (((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192))
    ):
        bd = _conv_bn(bd, filters, kernel, f"{name}_7x7dbl_{'abcd'[i]}")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, 192, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b7, bd, bp])


def _v3_d(x, name):
    """Grid reduction 17->8 of the paper (here e.g. 15->7)."""
    from keras import layers

    b3 = _conv_bn(
        _conv_bn(x, 192, 1, f"{name}_3x3_reduce"), 320, 3, f"{name}_3x3", strides=2, padding="valid"
    )
    b7 = _conv_bn(x, 192, 1, f"{name}_7x7x3_reduce")
    b7 = _conv_bn(_conv_bn(b7, 192, (1, 7), f"{name}_7x7x3_a"), 192, (7, 1), f"{name}_7x7x3_b")
    b7 = _conv_bn(b7, 192, 3, f"{name}_7x7x3_c", strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, b7, bp])


def _split_1x3_3x1(x, filters, name):
    """Parallel 1x3 and 3x1 convolutions of one input, concatenated (Inception-v3 E, v4 C)."""
    from keras import layers

    a = _conv_bn(x, filters, (1, 3), f"{name}_1x3")
    b = _conv_bn(x, filters, (3, 1), f"{name}_3x1")
    return layers.Concatenate(name=f"{name}_concat")([a, b])


def _v3_e(x, name):
    from keras import layers

    b1 = _conv_bn(x, 320, 1, f"{name}_1x1")
    b3 = _split_1x3_3x1(_conv_bn(x, 384, 1, f"{name}_3x3_reduce"), 384, f"{name}_3x3")
    bd = _conv_bn(_conv_bn(x, 448, 1, f"{name}_3x3dbl_reduce"), 384, 3, f"{name}_3x3dbl_a")
    bd = _split_1x3_3x1(bd, 384, f"{name}_3x3dbl_b")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, 192, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, bd, bp])


def inceptionv3(input_shape=(32, 32, 3), classes=100):
    """Inception-v3: stem at full resolution, ``mixed5b``..``mixed7c`` (paper names), two reductions."""
    inputs = _input(input_shape)
    x = _conv_bn(inputs, 32, 3, "stem1")
    x = _conv_bn(x, 32, 3, "stem2")
    x = _conv_bn(x, 64, 3, "stem3")
    x = _conv_bn(x, 80, 1, "stem4")
    x = _conv_bn(x, 192, 3, "stem5")
    for name, pool_features in (("mixed5b", 32), ("mixed5c", 64), ("mixed5d", 64)):
        x = _v3_a(x, pool_features, name)
    x = _v3_b(x, "mixed6a")
    for name, c7 in (("mixed6b", 128), ("mixed6c", 160), ("mixed6d", 160), ("mixed6e", 192)):
        x = _v3_c(x, c7, name)
    x = _v3_d(x, "mixed7a")
    x = _v3_e(x, "mixed7b")
    x = _v3_e(x, "mixed7c")
    return _model(inputs, _head(x, classes, dropout=0.5), "inceptionv3_cifar")


# ---------------------------------------------------------------------------------------------
# Inception-v4


def _v4_stem(x):
    """Figure 3 of the paper without its stride-2 steps: 3x3 valid, 3x3, 3x3, then three
    two-branch concatenations (conv | pool, 1x1-7x7 | 1x1-3x3, conv | pool) to 384 channels."""
    from keras import layers

    x = _conv_bn(x, 32, 3, "stem1", padding="valid")
    x = _conv_bn(x, 32, 3, "stem2")
    x = _conv_bn(x, 64, 3, "stem3")
    x = layers.Concatenate(name="stem_mix1_concat")(
        [
            _conv_bn(x, 96, 3, "stem_mix1_3x3"),
            layers.MaxPooling2D(3, strides=1, padding="same", name="stem_mix1_pool")(x),
        ]
    )
    a = _conv_bn(_conv_bn(x, 64, 1, "stem_mix2_3x3_reduce"), 96, 3, "stem_mix2_3x3")
    b = _conv_bn(x, 64, 1, "stem_mix2_7x7_reduce")
    b = _conv_bn(_conv_bn(b, 64, (7, 1), "stem_mix2_7x1"), 64, (1, 7), "stem_mix2_1x7")
    x = layers.Concatenate(name="stem_mix2_concat")([a, _conv_bn(b, 96, 3, "stem_mix2_7x7_3x3")])
    return layers.Concatenate(name="stem_mix3_concat")(
        [
            _conv_bn(x, 192, 3, "stem_mix3_3x3"),
            layers.MaxPooling2D(3, strides=1, padding="same", name="stem_mix3_pool")(x),
        ]
    )


def _v4_a(x, name):
    from keras import layers

    b1 = _conv_bn(x, 96, 1, f"{name}_1x1")
    b3 = _conv_bn(_conv_bn(x, 64, 1, f"{name}_3x3_reduce"), 96, 3, f"{name}_3x3")
    bd = _conv_bn(_conv_bn(x, 64, 1, f"{name}_3x3dbl_reduce"), 96, 3, f"{name}_3x3dbl_a")
    bd = _conv_bn(bd, 96, 3, f"{name}_3x3dbl_b")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, 96, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, bd, bp])


def _v4_reduction_a(x, name, k=192, l=224, m=256, n=384):  # noqa: E741 (the paper's k, l, m, n)
    from keras import layers

    b3 = _conv_bn(x, n, 3, f"{name}_3x3", strides=2, padding="valid")
    bd = _conv_bn(_conv_bn(x, k, 1, f"{name}_3x3dbl_reduce"), l, 3, f"{name}_3x3dbl_a")
    bd = _conv_bn(bd, m, 3, f"{name}_3x3dbl_b", strides=2, padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, bd, bp])


def _v4_b(x, name):
    from keras import layers

    b1 = _conv_bn(x, 384, 1, f"{name}_1x1")
    b7 = _conv_bn(x, 192, 1, f"{name}_7x7_reduce")
    b7 = _conv_bn(_conv_bn(b7, 224, (1, 7), f"{name}_7x7a"), 256, (7, 1), f"{name}_7x7b")
    bd = _conv_bn(x, 192, 1, f"{name}_7x7dbl_reduce")
    for i, (kernel, filters) in enumerate(
        (((1, 7), 192), ((7, 1), 224), ((1, 7), 224), ((7, 1), 256))
    ):
        bd = _conv_bn(bd, filters, kernel, f"{name}_7x7dbl_{'abcd'[i]}")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, 128, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b7, bd, bp])


def _v4_reduction_b(x, name):
    from keras import layers

    b3 = _conv_bn(_conv_bn(x, 192, 1, f"{name}_3x3_reduce"), 192, 3, f"{name}_3x3", strides=2)
    b7 = _conv_bn(x, 256, 1, f"{name}_7x7x3_reduce")
    b7 = _conv_bn(_conv_bn(b7, 256, (1, 7), f"{name}_7x7x3_a"), 320, (7, 1), f"{name}_7x7x3_b")
    b7 = _conv_bn(b7, 320, 3, f"{name}_7x7x3_c", strides=2)
    bp = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, b7, bp])


def _v4_c(x, name):
    from keras import layers

    b1 = _conv_bn(x, 256, 1, f"{name}_1x1")
    b3 = _split_1x3_3x1(_conv_bn(x, 384, 1, f"{name}_3x3_reduce"), 256, f"{name}_3x3")
    bd = _conv_bn(_conv_bn(x, 384, 1, f"{name}_3x3dbl_reduce"), 448, (1, 3), f"{name}_3x3dbl_a")
    bd = _split_1x3_3x1(_conv_bn(bd, 512, (3, 1), f"{name}_3x3dbl_b"), 256, f"{name}_3x3dbl_c")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv_bn(bp, 256, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, bd, bp])


def inceptionv4(input_shape=(32, 32, 3), classes=100):
    """Inception-v4: stem, 4 x ``inception_a``, ``reduction_a``, 7 x ``inception_b``,
    ``reduction_b``, 3 x ``inception_c`` (30x30 -> 14x14 -> 7x7 at 32x32 inputs)."""
    inputs = _input(input_shape)
    x = _v4_stem(inputs)
    for i in range(4):
        x = _v4_a(x, f"inception_a{i + 1}")
    x = _v4_reduction_a(x, "reduction_a")
    for i in range(7):
        x = _v4_b(x, f"inception_b{i + 1}")
    x = _v4_reduction_b(x, "reduction_b")
    for i in range(3):
        x = _v4_c(x, f"inception_c{i + 1}")
    return _model(inputs, _head(x, classes, dropout=0.2), "inceptionv4_cifar")


# ---------------------------------------------------------------------------------------------
# Xception


def _sep_bn(x, filters, name, relu_first=True):
    """(ReLU,) depthwise-separable 3x3 convolution, batch norm: the Xception unit."""
    from keras import layers

    if relu_first:
        x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sepconv")(
        x
    )
    return _bn(f"{name}_bn")(x)


def _xception_down(x, filters, name, relu_first=True):
    """Two separable units and a stride-2 max-pool, plus a strided 1x1 projection shortcut."""
    from keras import layers

    shortcut = _conv_bn(x, filters[1], 1, f"{name}_shortcut", strides=2, relu=False)
    y = _sep_bn(x, filters[0], f"{name}_sep1", relu_first=relu_first)
    y = _sep_bn(y, filters[1], f"{name}_sep2")
    y = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(y)
    return layers.Add(name=f"{name}_add")([y, shortcut])


def xception(input_shape=(32, 32, 3), classes=100):
    """Xception: stem ``stem1``/``stem2`` (3x3, stride 1), entry flow ``entry1``..``entry3``
    (32x32 -> 4x4), ``middle1``..``middle8``, ``exit``; every block has an Add shortcut."""
    from keras import layers

    inputs = _input(input_shape)
    x = _conv_bn(inputs, 32, 3, "stem1")
    x = _conv_bn(x, 64, 3, "stem2")
    # the stem ends in a ReLU already, so the first separable unit skips its own
    x = _xception_down(x, (128, 128), "entry1", relu_first=False)
    x = _xception_down(x, (256, 256), "entry2")
    x = _xception_down(x, (728, 728), "entry3")
    for i in range(8):
        y = x
        for j in range(3):
            y = _sep_bn(y, 728, f"middle{i + 1}_sep{j + 1}")
        x = layers.Add(name=f"middle{i + 1}_add")([y, x])
    x = _xception_down(x, (728, 1024), "exit")
    x = layers.ReLU(name="exit_sep3_relu")(_sep_bn(x, 1536, "exit_sep3", relu_first=False))
    x = layers.ReLU(name="exit_sep4_relu")(_sep_bn(x, 2048, "exit_sep4", relu_first=False))
    return _model(inputs, _head(x, classes), "xception_cifar")


# ---------------------------------------------------------------------------------------------
# The small model trained by the pipeline


def small_resnet(input_shape=(32, 32, 3), classes=10, width=16):
    """A small residual network that trains on a 2-core CPU in minutes (about 0.1M parameters).

    Stem, three residual stages (``width``, 2x, 4x channels at strides 1, 2, 2; one basic block
    each, projection shortcuts), then a ``mixed`` block at the lowest resolution whose 1x1 and
    3x3 branches are concatenated, merged by a 1x1 convolution and added to its input: a
    non-sequential graph with both Add and Concatenate merges. Measured: 75.0% top-1 on the
    CIFAR-10 JPEG test split after 12 epochs of :func:`dnnfi.engines.kerasfi.models.train` (batch 256,
    Adam 2e-3, ``augment=True``, seed 0, ``unit`` inputs), 18 minutes on a shared 2-core CPU.
    """
    from keras import layers

    inputs = _input(input_shape)
    x = _conv_bn(inputs, width, 3, "stem")
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        x = _basic_block(x, filters, 1 if stage == 1 else 2, f"stage{stage}")
    branches = [_conv_bn(x, 2 * width, 1, "mixed_1x1"), _conv_bn(x, 2 * width, 3, "mixed_3x3")]
    y = _conv_bn(
        layers.Concatenate(name="mixed_concat")(branches), 4 * width, 1, "mixed_merge", relu=False
    )
    x = layers.ReLU(name="mixed_out")(layers.Add(name="mixed_add")([y, x]))
    return _model(inputs, _head(x, classes), "small_resnet_cifar")


#: architecture name -> builder(input_shape, classes)
BUILDERS = {
    **{f"vgg{d}_cifar": partial(vgg, d) for d in VGG_CONFIGS},
    "googlenet_cifar": googlenet,
    "inceptionv3_cifar": inceptionv3,
    "inceptionv4_cifar": inceptionv4,
    **{f"resnet{d}_cifar": partial(resnet, d) for d in RESNET_BLOCKS},
    "xception_cifar": xception,
    "small_resnet_cifar": small_resnet,
}
