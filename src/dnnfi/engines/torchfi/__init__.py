"""PyTorch side of dnnfi: model zoo, failure-rate weight faults, activation fault injection.

- :mod:`~dnnfi.engines.torchfi.models`: demo architectures, ``build``/``train``/``save``/``load``,
  ``torchvision_model`` (VGG19, ResNet50, InceptionV3, ... from torchvision or a local file);
- :mod:`~dnnfi.engines.torchfi.cifar`: the CIFAR ResNet-20/32/44/56 family and its published weights;
- :mod:`~dnnfi.engines.torchfi.weights`: weight faults (:class:`WeightInjector`) on the shared contract;
- :mod:`~dnnfi.engines.torchfi.activations`: ``TorchInjector``, the Keras engine's API for module calls;
- :mod:`~dnnfi.engines.torchfi.graph`: the torch.fx prefix-reuse machinery behind it;
- :mod:`~dnnfi.engines.torchfi.faultops`: torch tensors <-> the fault contract of :mod:`dnnfi.faults.lists`.

Importing this subpackage imports torch; never import it in a process that uses TensorFlow.
"""

import logging
import os

if (
    "DNNFI_THREADS" in os.environ
):  # a Snakemake job's threads (dnnfi.workflow.runlog.start), set before any op
    import torch

    threads = int(os.environ["DNNFI_THREADS"])
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    logging.getLogger("dnnfi").info(
        "PyTorch threads: intra-op %d, inter-op %d",
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
    )
