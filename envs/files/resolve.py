"""Which files each distribution of a shipped environment writes (`make env-files`).

For every requirements*.txt and envs/*.yaml, pip resolves the environment for this machine's
platform and Python (`pip install --dry-run --ignore-installed --report`), and each resolved
wheel's file list is read from its zip directory, without installing it (a remote wheel through
HTTP range requests, so the NVIDIA wheels are not downloaded whole; an sdist is built to a wheel).
An envs/*.yaml file stands for its pip equivalent: its conda packages by their PyPI namesakes,
its pip section as written, the project itself left out. envs/files/<file>.json keeps, per
distribution, the paths under the top-level names that more than one distribution writes to
(elsewhere no two can write the same file); tests/core/test_env_files.py checks them.

    python envs/files/resolve.py [requirements.txt envs/pytorch.yaml ...]
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
#: conda-forge names whose PyPI package is called otherwise
PYPI_NAMES = {"matplotlib-base": "matplotlib"}
#: conda packages of the env itself, not Python distributions
NOT_PYPI = {"python", "pip"}


def shipped() -> list[Path]:
    return sorted(ROOT.glob("requirements*.txt")) + sorted(ROOT.glob("envs/*.yaml"))


def requirements(path: Path) -> list[str]:
    """The pip requirement lines of an environment file (the project's own install left out)."""
    if path.suffix == ".txt":
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return [line for line in lines if line]
    reqs = []
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        if isinstance(dep, dict):
            reqs += [line for line in dep["pip"] if not line.startswith(("-e", "."))]
        else:
            name, _, version = dep.partition("=")
            if name not in NOT_PYPI:
                reqs.append(f"{PYPI_NAMES.get(name, name)}=={version}" if version else name)
    return reqs


class RangeFile:
    """A read-only, seekable view of a remote file (HTTP range requests), enough for zipfile."""

    def __init__(self, url: str):
        self.url, self.pos = url, 0
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as head:
            self.size = int(head.headers["Content-Length"])

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, n=-1):
        end = self.size if n is None or n < 0 else min(self.pos + n, self.size)
        if end <= self.pos:
            return b""
        request = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{end - 1}"})
        with urllib.request.urlopen(request) as response:
            data = response.read()
        self.pos += len(data)
        return data


#: where a wheel's ``<name>.data/<scheme>/`` files go, relative to site-packages (a venv's layout)
SCHEMES = {
    "purelib": "",
    "platlib": "",
    "scripts": "../../../bin/",
    "data": "../../../",
    "headers": "../../../include/site/python{}/{}/",
}


def installed_path(path: str) -> str:
    """Where pip puts a file a wheel's RECORD names, relative to site-packages."""
    match = re.fullmatch(r"([^/]+)-[^/-]+\.data/(\w+)/(.+)", path)
    if not match:
        return path
    name, scheme, rest = match.groups()
    return SCHEMES[scheme].format(".".join(map(str, sys.version_info[:2])), name) + rest


def wheel_files(url: str) -> list[str]:
    """The paths a wheel installs, relative to site-packages: its RECORD's, plus the console
    scripts pip writes for its entry points."""
    if url.startswith("file://"):
        source = urllib.request.url2pathname(url[len("file://") :])
    else:
        source = RangeFile(url)
    with zipfile.ZipFile(source) as wheel:
        names = wheel.namelist()
        record = next(n for n in names if re.fullmatch(r"[^/]+\.dist-info/RECORD", n))
        paths = [
            installed_path(row.rsplit(",", 2)[0])
            for row in wheel.read(record).decode().splitlines()
            if row
        ]
        entry_points = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/entry_points\.txt", n)]
        if entry_points:
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str
            parser.read_string(wheel.read(entry_points[0]).decode())
            paths += [
                f"../../../bin/{script}"
                for section in ("console_scripts", "gui_scripts")
                if parser.has_section(section)
                for script in parser.options(section)
            ]
    return sorted(paths)


def distribution_files(item: dict) -> list[str]:
    url = item["download_info"]["url"]
    if url.endswith(".whl"):
        return wheel_files(url)
    with tempfile.TemporaryDirectory() as tmp:  # an sdist: build its wheel
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp, url],
            check=True,
        )
        return wheel_files(next(Path(tmp).glob("*.whl")).as_uri())


def top_level(path: str) -> str:
    """The directory (or file) of site-packages' parent tree a path falls under: ``nvidia`` for
    ``nvidia/cudnn/lib/libcudnn.so.9``, ``../../../bin`` for a console script."""
    parts = path.split("/")
    ups = [p for p in parts if p == ".."]
    return "/".join(parts[: len(ups) + 1])


def manifest(path: Path) -> dict:
    """The resolved distributions of an environment file and their files that could collide."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "requirements.txt").write_text("\n".join(requirements(path)) + "\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                f"{tmp}/report.json",
                "-r",
                f"{tmp}/requirements.txt",
            ],
            check=True,
        )
        report = json.loads((Path(tmp) / "report.json").read_text())
    files = {}
    for item in report["install"]:
        meta = item["metadata"]
        files[f"{meta['name']}=={meta['version']}"] = distribution_files(item)
    owners = Counter(name for paths in files.values() for name in {top_level(p) for p in paths})
    shared = {name for name, n in owners.items() if n > 1}
    return {
        "environment": path.relative_to(ROOT).as_posix(),
        "requirements": requirements(path),
        "python": ".".join(map(str, sys.version_info[:2])),
        "platform": report["environment"]["platform_machine"]
        + "-"
        + report["environment"]["sys_platform"],
        "shared_top_level": sorted(shared),
        "distributions": {
            dist: [p for p in paths if top_level(p) in shared]
            for dist, paths in sorted(files.items())
        },
    }


def main(args: list[str]) -> None:
    for path in [ROOT / a for a in args] or shipped():
        out = HERE / f"{path.name}.json"
        out.write_text(json.dumps(manifest(path.resolve()), indent=1) + "\n")
        print(f"{out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
