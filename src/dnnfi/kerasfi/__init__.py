"""Keras 3 (TensorFlow backend) side of dnnfi: model zoo, training and the fault injector.

Importing this subpackage imports TensorFlow; never import it in a process that uses PyTorch.
"""
