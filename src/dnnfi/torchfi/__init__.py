"""PyTorch side of dnnfi: model zoo, training, failure-rate weight faults.

Importing this subpackage imports torch; never import it in a process that uses TensorFlow.
"""
