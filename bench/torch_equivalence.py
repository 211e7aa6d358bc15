r"""Before/after proof for the PyTorch engine's walk (issue #19): a pytest plugin that runs every
fault list a test gives the torch.fx path also through the engine of commit 82c7448 (a separate
golden pass per chunk, every node's golden value cached) and asserts bit-identical golden and
faulty logits.

Usage (one thread; the old engine's ``activations.py``, ``graph.py`` and ``faultops.py`` from
``git show 82c7448:...`` in a package ``oldtorchfi`` on PYTHONPATH, their imports of each other
renamed)::

    OLD=$(mktemp -d) && mkdir $OLD/oldtorchfi && touch $OLD/oldtorchfi/__init__.py
    python bench/old_layout.py 82c7448 $OLD/oldtorchfi src/dnnfi/torchfi/{activations,graph,faultops}.py \
        --rename dnnfi.engines.torchfi.graph=oldtorchfi.graph dnnfi.engines.torchfi.faultops=oldtorchfi.faultops
    OMP_NUM_THREADS=1 PYTHONPATH=src:bench:$OLD pytest -p torch_equivalence tests/torch/test_activations.py ...

At the end it prints how many fault lists and faults were compared.
"""

from __future__ import annotations

import numpy as np
import torch
from oldtorchfi.activations import TorchInjector as OldInjector

from dnnfi.engines.torchfi.activations import TorchInjector

COUNTS = {"lists": 0, "faults": 0}
_new_logits = TorchInjector.logits


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.int32)


def logits(self, faults, images, progress=True):
    golden, faulty = _new_logits(self, faults, images, progress)
    if self.graph is not None and len(faults):
        old = OldInjector(
            self.model,
            self.batch_size,
            self.input_shape,
            True,
            self.cache_bytes / 2**20,
            {"cpu": self.rows, "gpu": self.rows},
            protection=self.protection,
        )
        old_golden, old_faulty = old.logits(faults, images, progress=False)
        assert old.fast
        assert np.array_equal(_bits(golden), _bits(old_golden)), (
            "golden logits differ from the old engine's"
        )
        differ = np.flatnonzero(~(_bits(faulty) == _bits(old_faulty)).all(axis=1))
        assert not len(differ), (
            f"{len(differ)} of {len(faults)} faults' logits differ from the old engine's"
        )
        COUNTS["lists"] += 1
        COUNTS["faults"] += len(faults)
    return golden, faulty


def pytest_configure(config):
    torch.set_num_threads(1)
    TorchInjector.logits = logits


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"torch_equivalence: {COUNTS['lists']} fault lists, {COUNTS['faults']} faults: "
        "bit-identical logits (old engine 82c7448 vs this one)"
    )
