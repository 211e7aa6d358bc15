"""Send a rule's logging, warnings and progress bars to its Snakemake log file."""

from __future__ import annotations

import logging
import os
import sys


def start(path: str) -> logging.Logger:
    """Redirect stdout and stderr (Keras' epoch lines, tqdm, warnings, framework chatter) and the
    root logger to ``path``."""
    sys.stderr = sys.stdout = open(path, "w", buffering=1)
    os.dup2(sys.stderr.fileno(), 2)  # native libraries (TensorFlow's C++ logging) write to fd 2
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    logging.captureWarnings(True)
    log = logging.getLogger("dnnfi")
    log.info("Python %s", sys.executable)  # the job's environment (config key python, conda env)
    return log
