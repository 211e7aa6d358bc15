"""Twin tests written once: each module here checks one property of both engines through a small
per-framework adapter (a dataclass of the module). TensorFlow and PyTorch never share a process,
so nothing here imports either: tests/keras/test_X.py and tests/torch/test_X.py import the
module's tests (``from engines.X import *``) and define the fixture ``fw``, the adapter of their
framework, and each suite collects them with its own."""
