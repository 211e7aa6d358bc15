"""Input preprocessing by name, on NHWC numpy arrays (no framework import).

Stored splits keep raw pixels (uint8) so that every model applies its own preprocessing:

- ``none``: float32 cast only (the digits demo, the MLPerf Tiny ResNet-8 with 0-255 inputs);
- ``unit``: pixels / 255;
- ``imagenet_mean_std``: pixels / 255, then (x - mean) / std with the ImageNet RGB statistics
  (torchvision models and the CIFAR ResNet-20/56 weights of ``make inputs``);
- ``half_mean_std``: pixels / 255, then (x - 0.5) / 0.5 (torchvision's ``efficientnet_v2_l`` weights);
- ``keras_caffe``, ``keras_tf``, ``keras_torch``: Keras' own ``preprocess_input`` in that mode
  (VGG/ResNet: caffe; MobileNet/Inception/Xception: tf; DenseNet: torch), for Keras jobs only.

``dnnfi.engines.zoo.family_preprocessing`` names the mode of each keras.applications and torchvision classifier.
"""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PREPROCESSING = (
    "none",
    "unit",
    "imagenet_mean_std",
    "half_mean_std",
    "keras_caffe",
    "keras_tf",
    "keras_torch",
)


def preprocess(x: np.ndarray, name: str) -> np.ndarray:
    """Preprocessed float32 copy of the NHWC batch ``x``."""
    x = np.asarray(x, dtype=np.float32)
    if name == "none":
        return x
    if name == "unit":
        return x / 255.0
    if name == "imagenet_mean_std":
        return (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    if name == "half_mean_std":
        return (x / 255.0 - np.float32(0.5)) / np.float32(0.5)
    if name.startswith("keras_") and name in PREPROCESSING:
        from keras.applications import imagenet_utils

        return imagenet_utils.preprocess_input(x, mode=name.removeprefix("keras_"))
    raise ValueError(f"unknown preprocessing {name!r}: expected one of {PREPROCESSING}")


class PreprocessedRows:
    """Rows ``rows`` of the raw images ``raw`` (an array, or
    :class:`dnnfi.data.datasets.StoredImages` reading them from the split file), preprocessed with
    ``name`` when indexed: a job holds the preprocessed images it is running, not all of them in
    float32 (an ImageNet validation split at 224 px: 7.5 GB stored, 30 GB preprocessed). Indexing
    gives the float32 array of those rows; ``numpy.asarray`` gives all of them."""

    def __init__(self, raw: np.ndarray, rows: np.ndarray, name: str):
        self.raw, self.rows, self.name = raw, np.asarray(rows), name
        self.shape = (len(self.rows), *raw.shape[1:])
        self.ndim = raw.ndim

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> np.ndarray:
        return preprocess(self.raw[self.rows[index]], self.name)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[:] if dtype is None else self[:].astype(dtype)
