"""External inputs: the SHA-256 of files and folders, `make inputs` (from local file:// sources:
nothing downloads here), and the manifest agreeing with the shipped config and the real files."""

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from dnnfi.data import inputs
from dnnfi.data.datasets import inputs_dir
from dnnfi.data.inputs import MANIFEST, Input, fetch, sha256, verify

REPO = Path(__file__).resolve().parents[2]


def tree(root: Path) -> Path:
    for rel, data in (
        ("test/cat/0.jpg", b"cat"),
        ("test/dog/1.jpg", b"dog"),
        ("train/cat/0.jpg", b"cat2"),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_sha256_of_a_file_and_the_tree_digest_of_a_folder_are_what_coreutils_compute(tmp_path):
    root = tree(tmp_path / "images")
    assert sha256(root / "test/cat/0.jpg") == hashlib.sha256(b"cat").hexdigest()
    shell = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
    coreutils = subprocess.run(
        shell, shell=True, cwd=root, capture_output=True, text=True, check=True
    ).stdout
    assert sha256(root) == coreutils.split()[0]
    before = sha256(root)
    (root / "test/dog/1.jpg").write_bytes(b"dog!")  # one image changed in place
    assert sha256(root) != before


def test_a_mismatch_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "w.th").write_bytes(b"weights")
    verify(tmp_path / "w.th", hashlib.sha256(b"weights").hexdigest(), "config key models.m.sha256")
    with pytest.raises(ValueError) as err:
        verify(tmp_path / "w.th", "0" * 64, "config key models.m.sha256")
    assert str(err.value).startswith(
        f"config key models.m.sha256: {tmp_path / 'w.th'} has SHA-256 "
        f"{hashlib.sha256(b'weights').hexdigest()}, expected {'0' * 64}"
    )
    assert "\n" not in str(err.value)


def test_make_inputs_downloads_what_is_missing_and_verifies_everything(tmp_path, capsys):
    source = tmp_path / "publisher"
    (source / "w.th").parent.mkdir(parents=True)
    (source / "w.th").write_bytes(b"weights")
    images = tree(source / "repo-master")
    (images / "README.md").write_text("not kept")
    with zipfile.ZipFile(source / "images.zip", "w") as zf:
        for f in images.rglob("*"):
            zf.write(f, f.relative_to(source))
    (images / "README.md").unlink()
    manifest = (
        Input("models/w.th", (source / "w.th").as_uri(), sha256(source / "w.th"), "weights"),
        Input(
            "data/images",
            (source / "images.zip").as_uri(),
            sha256(images),
            "images",
            ("train", "test"),
        ),
    )
    fetch(tmp_path / "inputs", manifest)
    assert (tmp_path / "inputs/models/w.th").read_bytes() == b"weights"
    assert sha256(tmp_path / "inputs/data/images") == sha256(images)
    assert not (tmp_path / "inputs/data/images/README.md").exists()
    assert capsys.readouterr().out.count("SHA-256 verified") == 2

    (tmp_path / "inputs/models/w.th").write_bytes(
        b"other weights"
    )  # present but not the published file
    with pytest.raises(SystemExit) as err:
        fetch(tmp_path / "inputs", manifest)
    assert str(err.value).startswith("models/w.th: ") and "expected " + sha256(
        source / "w.th"
    ) in str(err.value)


def test_the_shipped_config_checks_the_manifest_checksums():
    config = yaml.safe_load((REPO / "config/cifar10.yaml").read_text())
    manifest = {f"inputs/{entry.path}": entry.sha256 for entry in MANIFEST}
    entries = [*config["datasets"].values(), *config["models"].values()]
    local = [e for e in entries if "path" in e]
    assert local and all(e.get("sha256") == manifest[e["path"]] for e in local)
    assert set(manifest) == {e["path"] for e in local}


def test_every_entry_has_its_source_and_documentation():
    readme = (REPO / "README.md").read_text()
    for entry in MANIFEST:
        assert entry.url.startswith("https://") and len(entry.sha256) == 64
        assert entry.path in readme, entry.path
    assert "make inputs" in readme and inputs.__name__ in (REPO / "Makefile").read_text()


@pytest.mark.skipif(
    not inputs_dir().is_dir(),
    reason="needs the inputs folder (real images and weights; make inputs, DNNFI_INPUTS)",
)
def test_the_local_copies_are_the_published_files():
    for entry in MANIFEST:
        verify(inputs_dir() / entry.path, entry.sha256, entry.path)
