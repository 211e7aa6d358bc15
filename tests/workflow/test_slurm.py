"""The tiny config through the SLURM profile gives the tables of a local run.

Opt-in: needs a reachable SLURM cluster (`make test-slurm` starts a one-node cluster on this
machine with profiles/slurm/start-local-slurm.sh, then runs this file); skipped otherwise.
"""

import re
import shutil
import subprocess

import pandas as pd
import pytest

from .snakemake_runner import REPO, snakemake
from .test_tiny_run import TINY

pytestmark = pytest.mark.workflow


def slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.mark.skipif(not slurm_up(), reason="no SLURM cluster reachable (run `make test-slurm`)")
def test_slurm_profile_reproduces_the_local_tables(run, tmp_path):
    result = snakemake(tmp_path, TINY, "--workflow-profile", str(REPO / "profiles" / "slurm"))
    assert result.returncode == 0, result.stderr[-5000:]
    assert re.search(
        r"submitted with SLURM jobid \d+", result.stdout + result.stderr, re.I
    )  # through sbatch
    for table in (
        "act/summary.csv",
        "act/scm.csv",
        "null/summary.csv",
        "wr/replicas.csv",
        "seq/summary.csv",
    ):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "results/tables" / table),
            pd.read_csv(run / "results/tables" / table),
        )
