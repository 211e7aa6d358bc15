"""The pip path's interpreter per framework (config key ``python``; config/README.md).

Without conda, Snakemake runs every rule's script with its own Python. A model job whose
framework has an interpreter in ``python`` (``keras: .venv-gpu/bin/python``: TensorFlow's CUDA 12
build, which cannot share a virtual environment with PyTorch's CUDA 13 wheels) first replaces its
process by that interpreter running the same script (Snakemake's generated copy, which carries the
job's inputs, outputs and params). The process keeps its id, so benchmarks and the cluster's job
accounting follow it. Snakemake's interpreter must have the same Python version.
"""

from __future__ import annotations

import os
import sys


def switch(config: dict, model: str) -> None:
    """Re-run the job's script under the interpreter of the framework of ``model`` in the study's
    ``config``, if one is configured and this is not it; call it right after ``runlog.start``,
    before a framework is imported."""
    framework = config["models"][model]["framework"]
    python = config.get("python", {}).get(framework)
    if python and os.path.abspath(python) != sys.executable:
        os.execv(python, [python, sys.argv[0]])
