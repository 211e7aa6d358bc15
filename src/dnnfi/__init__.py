"""dnnfi: fault injection in image classifiers (Keras and PyTorch), outcomes, SCM and statistics.

Importing the package imports neither TensorFlow nor PyTorch: the framework engines live in
:mod:`dnnfi.engines.kerasfi` and :mod:`dnnfi.engines.torchfi` and are imported only when used.
"""

__version__ = "0.1.0"
