"""Source files of an earlier commit with their dnnfi imports moved to today's package layout: the
before/after benches (keras_equality.py, torch_equivalence.py) import an earlier engine beside
today's package.

    python bench/old_layout.py COMMIT OUTDIR FILE... [--rename OLD=NEW ...]

writes each FILE of COMMIT (a path at that commit) into OUTDIR, names rewritten."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: modules of the flat layout before issue 21 -> where they are now
MOVED = {
    "faults": "faults.lists",
    "bitflip": "faults.bitflip",
    "precision": "faults.precision",
    "seeds": "faults.seeds",
    "outcomes": "faults.outcomes",
    "protection": "engines.protection",
    "devices": "engines.devices",
    "kerasfi": "engines.kerasfi",
    "torchfi": "engines.torchfi",
    "runlog": "workflow.runlog",
}
_OLD = re.compile(r"(?<![\w.])dnnfi\.(" + "|".join(MOVED) + r")\b")


def old_source(commit: str, path: str, renames: dict[str, str] | None = None) -> str:
    """The text of ``path`` at ``commit``, its dnnfi modules renamed to today's, then ``renames``."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    source = _OLD.sub(lambda m: f"dnnfi.{MOVED[m.group(1)]}", source)
    for old, new in (renames or {}).items():
        source = source.replace(old, new)
    return source


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--rename"]
    commit, out, *rest = args
    renames = dict(a.split("=", 1) for a in rest if "=" in a)
    for path in (a for a in rest if "=" not in a):
        (Path(out) / Path(path).name).write_text(old_source(commit, path, renames))
