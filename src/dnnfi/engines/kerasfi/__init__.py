"""Keras 3 (TensorFlow backend) side of dnnfi.

- :mod:`~dnnfi.engines.kerasfi.graph`: a functional graph flattened into compiled steps (one per call);
- :mod:`~dnnfi.engines.kerasfi.engine`: activation faults (:class:`KerasInjector`), downstream-only;
- :mod:`~dnnfi.engines.kerasfi.weights`: weight and bias faults (:class:`WeightInjector`);
- :mod:`~dnnfi.engines.kerasfi.models`: demo architectures, keras.applications builders, train/load;
- :mod:`~dnnfi.engines.kerasfi.cifar_zoo`: the TensorFI+ CIFAR-100/GTSRB architectures for 32x32 inputs.

Importing this subpackage imports TensorFlow; never import it in a process that uses PyTorch.
"""

import logging
import os

if (
    "DNNFI_THREADS" in os.environ
):  # a Snakemake job's threads (dnnfi.workflow.runlog.start), set before any op
    import tensorflow as tf

    threads = int(os.environ["DNNFI_THREADS"])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    logging.getLogger("dnnfi").info(
        "TensorFlow threads: intra-op %d, inter-op %d",
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
