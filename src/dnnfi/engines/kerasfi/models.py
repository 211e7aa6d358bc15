"""Keras architectures of the project, training and loading of saved models."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from dnnfi.engines.devices import resolve
from dnnfi.engines.health import missing_file, unreadable
from dnnfi.engines.kerasfi import cifar_zoo
from dnnfi.engines.zoo import KERAS_APPLICATIONS, KERAS_FAMILIES, unknown_name
from dnnfi.workflow.runlog import Progress

log = logging.getLogger(__name__)


def digits_sequential(input_shape=(8, 8, 1), classes=10):
    """A plain chain of layers for 8x8 digits: conv, conv, pool, dense, dense (logits)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(classes),
        ],
        name="digits_sequential",
    )


def digits_branchy(input_shape=(8, 8, 1), classes=10):
    """A non-sequential graph: a residual block (Add) then two parallel convolutions (Concatenate)."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    stem = layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inputs)
    x = layers.Conv2D(16, 3, padding="same", name="res_conv1")(stem)
    x = layers.BatchNormalization(momentum=0.9, name="res_bn1")(x)
    x = layers.ReLU(name="res_relu1")(x)
    x = layers.Conv2D(16, 3, padding="same", name="res_conv2")(x)
    x = layers.BatchNormalization(momentum=0.9, name="res_bn2")(x)
    x = layers.Add(name="res_add")([x, stem])
    x = layers.ReLU(name="res_relu2")(x)
    narrow = layers.Conv2D(8, 1, activation="relu", name="branch_1x1")(x)
    wide = layers.Conv2D(8, 3, padding="same", activation="relu", name="branch_3x3")(x)
    x = layers.Concatenate(name="concat")([narrow, wide])
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_branchy")


ARCHITECTURES = {
    "digits_sequential": digits_sequential,
    "digits_branchy": digits_branchy,
    **cifar_zoo.BUILDERS,
}


def min_side(name: str) -> int:
    """Smallest input side the keras.applications classifier ``name`` accepts."""
    return KERAS_FAMILIES[KERAS_APPLICATIONS[name]][1]


def application(
    name: str,
    input_shape=(224, 224, 3),
    classes: int = 1000,
    weights=None,
    classifier_activation="softmax",
    key: str | None = None,
):
    """A keras.applications classifier of :data:`dnnfi.engines.zoo.KERAS_APPLICATIONS` with its top.

    ``weights``: None (random init), ``"imagenet"`` (downloads; needs 224x224 or 299x299 input
    and 1000 classes) or the path of a local weights file (``key``: its config key, for error
    messages). Inputs are what the architecture's ``keras.applications.<family>.preprocess_input``
    produces (:func:`dnnfi.engines.zoo.family_preprocessing`).
    """
    import keras

    if name not in KERAS_APPLICATIONS:
        raise ValueError(unknown_name("keras.applications architecture", name, KERAS_APPLICATIONS))
    if min(input_shape[:2]) < min_side(name):
        raise ValueError(
            f"{name} needs inputs of at least {min_side(name)}x{min_side(name)}, got {tuple(input_shape)}"
        )
    local = weights not in (None, "imagenet")
    expected = f"weights of Keras' {name} with {classes} classes, a .weights.h5 or .h5 file"
    if local and not Path(weights).is_file():
        raise missing_file(key, weights, expected)
    model = getattr(keras.applications, name)(
        weights=None if local else weights,
        input_shape=tuple(input_shape),
        classes=classes,
        classifier_activation=classifier_activation,
    )
    if local:  # what keras.applications does with a path, with the file named when it fails
        try:
            model.load_weights(weights)
        except Exception as err:
            raise unreadable(key, weights, "Keras weights file", expected, err) from err
    return model


def build(architecture: str, input_shape, classes: int, seed: int | None = None):
    """A fresh, untrained model of a named architecture of :data:`ARCHITECTURES`; ``seed`` fixes
    the initial weights."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown Keras architecture {architecture!r}: expected one of {sorted(ARCHITECTURES)}"
        )
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    return ARCHITECTURES[architecture](tuple(input_shape), classes)


def shift_flip(x: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """The standard CIFAR augmentation of an NHWC batch: each image zero-padded by ``pad`` pixels
    and cropped back to its size at a random offset, then mirrored left-right with probability 1/2."""
    n, h, w = x.shape[:3]
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    out = np.stack([padded[k, dy[k] : dy[k] + h, dx[k] : dx[k] + w] for k in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def _augmented_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """A keras.utils.PyDataset of :func:`shift_flip` batches, reshuffled every epoch; every draw
    derives from (seed, epoch, batch) so that the order in which Keras asks for batches is irrelevant."""
    import keras

    class Augmented(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.random.default_rng((seed, 0)).permutation(len(x))

        def __len__(self):
            return -(-len(x) // batch_size)

        def __getitem__(self, i):
            rows = self.order[i * batch_size : (i + 1) * batch_size]
            return shift_flip(x[rows], np.random.default_rng((seed, self.epoch, i))), y[rows]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((seed, self.epoch)).permutation(len(x))

    return Augmented()


def train(
    model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    augment: bool = False,
):
    """Train with Adam on logits (sparse categorical cross-entropy); returns the Keras history.

    A seeded random 10% of the images is held out for validation (stored image-folder splits
    are sorted by class, so their last 10% would be one class only). ``augment``: random shifts
    and mirroring of every training batch (:func:`shift_flip`), done in the input pipeline so
    that the trained model has no augmentation layers (its layers are the fault sites).
    TensorFlow's deterministic ops make a rerun give the same weights.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    order = np.random.default_rng(seed).permutation(len(x))
    fit_rows, val_rows = np.sort(order[: int(len(x) * 0.9)]), np.sort(order[int(len(x) * 0.9) :])
    validation = (x[val_rows], y[val_rows])

    class EpochProgress(keras.callbacks.Callback):  # a progress line per epoch, with its metrics
        def on_train_begin(self, logs=None):
            self.bar = Progress(total=epochs, desc="epochs", mininterval=0)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            self.bar.update()

        def on_train_end(self, logs=None):
            self.bar.close()

    progress = EpochProgress()
    if not augment:
        return model.fit(
            x[fit_rows],
            y[fit_rows],
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
            validation_data=validation,
            callbacks=[progress],
        )
    batches = _augmented_batches(x[fit_rows], y[fit_rows], batch_size, seed)
    return model.fit(
        batches, epochs=epochs, verbose=0, validation_data=validation, callbacks=[progress]
    )


def trained(spec: dict, split, seed: int, device: dict):
    """A new model of a config's ``spec`` (architecture, preprocess, train) trained on ``split`` (a
    :class:`dnnfi.data.datasets.Split`) on ``device`` (:func:`on_device`); ``seed`` fixes the
    initial weights and the training (the train rule)."""
    from dnnfi.data.preprocess import preprocess

    with on_device(**device):
        model = build(spec["architecture"], split.x.shape[1:], len(split.classes), seed=seed)
        x = preprocess(split.x, spec["preprocess"])
        history = train(model, x, split.y, seed=seed, **spec["train"])
    log.info("final training accuracy %.4f", history.history["accuracy"][-1])
    return model


def fetched(spec: dict, input_shape, classes: int, key: str):
    """(model, architecture, pretrained: whether it holds trained weights) of a config's ``spec``
    of source ``file`` (a saved Keras model) or ``keras_applications`` (``weights``: None, imagenet
    or a local file; ``path`` wins) for ``input_shape`` and ``classes`` (the fetch rule); ``key``:
    the config key of the file."""
    weights = spec.get("path", spec["weights"])
    if spec["source"] == "file":
        model = load(weights, key)
    else:
        model = application(spec["architecture"], input_shape, classes, weights, key=key)
    log.info(
        "%s: %d layers, input %s, output %s",
        model.name,
        len(model.layers),
        model.input_shape,
        model.output_shape,
    )
    # a saved model's spec names no architecture: the archive holds it
    return model, spec.get("architecture", model.name), weights is not None


def save(model, architecture: str, input_shape, classes: int, path, pretrained: bool = False):
    """Save ``model`` as a .keras archive (``path``), and the size of its layer outputs for the
    resources of its jobs. The archive holds the architecture, input shape and classes itself:
    the other arguments are those of :func:`dnnfi.engines.torchfi.models.save`, so that one job
    script saves the models of both frameworks."""
    from dnnfi.workflow.resources import write_layer_outputs

    model.save(path)
    write_layer_outputs(path, layer_output_sizes(model))


def use_device(device: str = "auto", key: str | None = None) -> str:
    """The TensorFlow device (``/CPU:0``, ``/GPU:N``) of a ``device`` setting, for ``tf.device``
    (:func:`dnnfi.engines.devices.resolve`: one line naming ``key`` when TensorFlow sees no such GPU;
    logged when ``key`` is given). On a GPU it first makes the process's ops deterministic and
    fp32 exact (docs/semantics.md, section 15)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    counted = "TensorFlow (tf.config.list_physical_devices('GPU'))"
    if not tf.test.is_built_with_cuda():  # tensorflow-cpu: a GPU on the node would not help
        counted = (
            "TensorFlow, a build without CUDA here (tensorflow-cpu; GPU jobs need TensorFlow's CUDA build: "
            "make run GPU=1, config key python.keras or conda_envs: gpu),"
        )
    name = resolve(device, len(gpus), counted, key)
    for gpu in gpus:  # TensorFlow would map all of a GPU's memory for the first job on it
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (
            RuntimeError
        ):  # TensorFlow already runs: its allocation policy (not a result) is fixed
            break
    if name != "cpu":
        tf.config.experimental.enable_op_determinism()
        # fp32 stays fp32: TF32 would round a flipped low mantissa bit away in the next layer
        tf.config.experimental.enable_tensor_float_32_execution(False)
    placed = "/CPU:0" if name == "cpu" else f"/GPU:{name.partition(':')[2]}"
    if key:  # a job's log says where it ran
        log.info(
            "TensorFlow device %s (config key %s: %s); oneDNN CPU kernels: TF_ENABLE_ONEDNN_OPTS=%s",
            placed,
            key,
            device,
            os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TensorFlow's choice for this CPU)"),
        )
    return placed


def on_device(device: str = "auto", key: str | None = None):
    """``tf.device`` of a ``device`` setting (:func:`use_device`), for the whole body of a job."""
    import tensorflow as tf

    return tf.device(use_device(device, key))


def load(path: str | Path, key: str | None = None, precision: str = "float32"):
    """Load a saved Keras model (``.keras`` or ``.h5``) and run it in ``precision`` (see
    :func:`with_precision`); a missing or unreadable file stops with one line naming ``key`` (the
    config key, when known) and the path."""
    import keras

    path = Path(path)
    expected = "a .keras archive or an HDF5 .h5 file written by Keras' model.save"
    if not path.is_file():
        raise missing_file(key, path, expected)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # a truncated or foreign file fails in many ways: OSError, BadZipFile, ValueError, ...
        raise unreadable(key, path, "Keras model", expected, err) from err
    return with_precision(model, precision)


def with_precision(model, precision: str):
    """``model`` rebuilt to run in ``precision`` (docs/semantics.md section 14), or ``model``
    itself for float32.

    A loaded model keeps the dtype policy it was saved with, so it is cloned with every layer
    under the pure policy ``precision`` (variables and computation in the format, not a
    ``mixed_*`` policy, whose float32 variables would make weight faults hit float32 bits) and
    an input of that dtype; the weights are copied, rounded to the format (to nearest, ties to
    even). Inside a layer Keras may compute wider (BatchNormalization works in float32 and
    rounds its output), as accelerator kernels accumulate wider: the format holds every weight,
    the input and every layer output.
    """
    import keras

    from dnnfi.engines.kerasfi.graph import _functional, numpy_dtype
    from dnnfi.faults.precision import check_precision

    if check_precision(precision) == "float32":
        return model
    model = _functional(model)
    if len(model.inputs) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(model.inputs)} inputs: precision {precision} needs one"
        )

    def under_policy(layer):
        return layer.__class__.from_config(layer.get_config() | {"dtype": precision})

    inputs = keras.tree.map_structure(
        lambda t: keras.Input(t.shape[1:], dtype=precision, name=t.name), model.input
    )
    clone = keras.models.clone_model(
        model, input_tensors=inputs, clone_function=under_policy, recursive=True
    )
    clone.set_weights(
        [
            np.asarray(w).astype(numpy_dtype(str(v.dtype)))
            for w, v in zip(model.get_weights(), clone.weights)
        ]
    )
    return clone


def named_tensors(model):
    """(path, array) of every weight variable in model order, trainable or not (e.g. BatchNorm's
    moving variance), one at a time, for :func:`dnnfi.engines.health.first_nonfinite`."""
    for var in model.weights:
        yield var.path, np.asarray(var)


def predict_logits(model, x: np.ndarray, pass_rows: dict | None = None) -> np.ndarray:
    """Model outputs for ``x`` (n, classes): the activation engine's fault-free path (the same
    compiled layer steps in passes of ``pass_rows``, see :class:`dnnfi.engines.kerasfi.engine.KerasInjector`),
    so a baseline's top-1 is the golden top-1 of every campaign."""
    from dnnfi.engines.kerasfi.engine import KerasInjector

    injector = KerasInjector(model, pass_rows=pass_rows)
    log.info("passes of %d rows", injector.rows)
    return np.asarray(injector.golden_logits(np.asarray(x, dtype=np.float32)), dtype=np.float32)


def layer_output_sizes(model) -> list[int]:
    """Elements of the output of every layer (inputs excluded) for one image."""
    import math

    import keras

    return [
        math.prod(layer.output.shape[1:])
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
