"""One CUDA stack per environment (issue 20): no two distributions of a shipped environment write
the same file (TensorFlow's CUDA 12 wheels and PyTorch's CUDA 13 wheels both write
nvidia/cudnn/lib/libcudnn*.so.9 and nvidia/nccl/lib/libnccl.so.2: whichever comes last wins).

The venv running the tests is checked through its installed RECORD files. Every requirements*.txt
and envs/*.yaml is checked through envs/files/<file>.json (`make env-files`: pip's resolution of
the file and each wheel's RECORD), which must hold the file's current requirements: a pin changed
without rerunning `make env-files` fails here instead of going unchecked."""

import importlib.metadata
import importlib.util
import json
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("env_files", ROOT / "envs" / "files" / "resolve.py")
env_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(env_files)


def written_twice(files_by_distribution: dict[str, list[str]]) -> str:
    """``path: dist, dist`` lines of the paths more than one distribution writes ('' if none)."""
    owners = defaultdict(set)
    for distribution, files in files_by_distribution.items():
        for path in files:
            owners[path].add(distribution)
    return "\n".join(
        f"{path}: {', '.join(sorted(d))}" for path, d in sorted(owners.items()) if len(d) > 1
    )


def canonical(requirement: str) -> str:
    """``name==version`` with the name normalized (PEP 503) and extras dropped."""
    name, version = re.fullmatch(r"([^=\[ ]+)(?:\[[^\]]*\])?==(\S+)", requirement).groups()
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_installed_distributions_write_distinct_files():
    files = {}
    for dist in importlib.metadata.distributions():
        key = f"{dist.metadata['Name']}=={dist.version}"
        files[key] = [os.path.normpath(dist.locate_file(f)) for f in dist.files or []]
    assert len(files) > 50  # the project's whole environment, not an empty path
    clashes = written_twice(files)
    assert not clashes, f"files written by two installed distributions:\n{clashes}"


@pytest.mark.parametrize("env", env_files.shipped(), ids=lambda path: path.name)
def test_shipped_environment_writes_each_file_once(env):
    manifest_path = ROOT / "envs" / "files" / f"{env.name}.json"
    assert manifest_path.is_file(), f"{manifest_path.relative_to(ROOT)} missing: run make env-files"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["requirements"] == env_files.requirements(env), (
        f"{manifest_path.name} is stale: run make env-files"
    )
    resolved = {canonical(d) for d in manifest["distributions"]}
    pinned = {canonical(r) for r in manifest["requirements"] if "==" in r}
    assert pinned <= resolved, f"resolved against other pins: {sorted(pinned - resolved)}"
    clashes = written_twice(manifest["distributions"])
    assert not clashes, f"{env.name}: files written by two distributions:\n{clashes}"
