#!/usr/bin/env python3
"""Prove that the working tree computes what a base commit computes: same tables, same
statistics, same jobs.

    .venv/bin/python tools/check_unchanged.py [--base 82c7448]     # or: make check-unchanged BASE=...

1. **Runs.** Two configs run through Snakemake twice each, once with the base commit's code (a
   temporary ``git worktree`` of it, with ``PYTHONPATH=<worktree>/src`` so that Snakemake and
   every job script import the base's ``dnnfi`` rather than the editable install) and once with
   the working tree (``PYTHONPATH=<repo>/src``), in separate working directories under
   ``results/unchanged/<config>/{base,head}``:

   - ``demo``: ``config/config.yaml``, the offline demo;
   - ``cifar10``: a subset of ``config/cifar10.yaml`` written to ``results/unchanged/cifar10/``
     (:func:`cifar10_subset`): every campaign design of that config (per-correctness activation
     campaign, range restriction and clip-to-zero protection, stratified, weight rate, float16 /
     bfloat16 precision) plus a bit-sweep and a sequential campaign, which it lacks, on 4 of its
     models (ResNet-20 and ResNet-8, and each in a half format), 20 images per class and split,
     a few dozen injections per model (:data:`SUBSET`). It reads the pretrained
     weights and JPEGs of the inputs folder (``make inputs``; ``$DNNFI_INPUTS``, else ``inputs/``);
     without them only the demo runs, and the tool says so.

   Each side runs its own copy of the config (``config/*.yaml`` of its checkout). A probe
   ``sitecustomize.py`` on the ``PYTHONPATH`` records which ``dnnfi`` every Python process of a
   run (Snakemake and each job) imported; a run that imported another fails the check.

2. **Reuse of trained models.** Training is not reproducible across machines and thread
   schedules, so the head run does not train or fetch: the base run's ``results/data`` and
   ``results/models`` are copied into the head's working directory first and Snakemake is told to
   keep them (see :func:`run_config`). Everything downstream (baselines, injection shards,
   protection bounds, collected injections, tables, statistics, figures) is recomputed by the
   head's code. The copied files are hashed too, to show they were not rebuilt.

3. **Hashes.** SHA-256 of every file under ``results/{data,models,baseline,campaigns,tables,stats}``
   of both runs; a table of equal / different / missing files per folder, every file that is not
   equal by name, and a JSON record (``--record``, default ``results/unchanged/unchanged-<base>.json``):
   ``{"sha256": {config: {relative path: sha256 of the head run}}, "differences": ...}`` with the
   machine's facts (CPU model, ``TF_ENABLE_ONEDNN_OPTS``, package versions), the base commit, the
   head commit and the run times. Figures and logs are not compared (figures embed dates).
   Hashes depend on the machine (CPU kernels, oneDNN): compare base and head on one machine;
   ``tools/unchanged-82c7448.json`` is the record of the restructuring (18b9ba4) against 82c7448.

4. **Dry runs.** For every ``config/*.yaml`` (and the cifar10 subset), ``snakemake -n`` at base
   and at head in empty working directories (each config's external inputs pointed at the inputs
   folder, :func:`at_inputs`): each job is identified by the set of its output files, which
   a rule rename leaves unchanged; for every output set the base's rule name, mapped through
   :data:`RULE_RENAMES`, must be the head's. Jobs without outputs (``all``) are identified by their
   rule name.

   When a refactor renames rules, add ``base name: head name`` to :data:`RULE_RENAMES`, e.g.
   ``"inject_keras_activation": "inject_activation", "inject_torch_activation": "inject_activation"``
   when the framework pair becomes one rule: the output sets stay the same, only the rule name of
   each job changes. A renamed rule missing from the map shows as a rule mismatch per job.
   When a refactor adds a rule, :data:`ADDED_RULES` names it with the files its jobs write: its
   jobs and those files are reported, not counted as differences.

Exit status 0 when every hash and every dry-run job is the same, 1 otherwise. The runs take
minutes to tens of minutes (the record says how long; ``--dry-runs-only`` skips them); the tool is
not part of ``make test``.
"""

import argparse
import copy
import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from importlib.metadata import distributions
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import update_config

from dnnfi.data.inputs import MANIFEST

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
BASE = "82c7448"

#: base rule name -> head rule name, for rules a refactor renamed (see the module docstring)
RULE_RENAMES: dict[str, str] = {
    # issue 21: one rule per step for both frameworks
    **{
        f"{step}_{fw}": step
        for step in ("train", "fetch", "baseline", "bounds")
        for fw in ("keras", "torch")
    },
    **{
        f"inject_{fw}_{kind}": f"inject_{kind}"
        for fw in ("keras", "torch")
        for kind in ("activation", "weight_rate")
    },
    **{f"stratified_{step}_keras": f"stratified_{step}" for step in ("pilot", "draw", "inject")},
}

#: rules a refactor added, with the files of their jobs (a glob under the working directory):
#: their jobs and files exist at head only, and every other file must still be equal
ADDED_RULES: dict[str, str] = {
    # issue 21: the evaluated-image subset computed once and carried in the data
    "evaluated_images": "results/campaigns/*/*/images.parquet",
}

#: folders under results/ whose files are hashed; the first two are copied from base to head
HASHED = ("data", "models", "baseline", "campaigns", "tables", "stats")
REUSED = ("data", "models")

#: recorded with the hashes
PACKAGES = {
    "snakemake",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "statsmodels",
    "matplotlib",
}
CPU_FLAGS = {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"}

#: the cifar10 subset: models kept, and overrides merged into config/cifar10.yaml. Each
#: design runs on a PyTorch and a Keras model (protection: one method on each); about 80 jobs,
#: whose start-up (importing TensorFlow or PyTorch) takes most of the time.
SUBSET_MODELS = ("resnet20", "resnet8", "resnet20_bf16", "resnet8_fp16")
SUBSET = {
    "datasets": {"cifar10": {"limit_per_class": 20}},  # 200 train and 200 test images
    "campaigns": {
        "cifar10_activation": {"per_category": 30},
        "cifar10_ranger": {"models": ["resnet20"], "protection": {"profile_images": 50}},
        "cifar10_clip": {"models": ["resnet8"], "protection": {"profile_images": 50}},
        "cifar10_stratified": {
            "images": 40,
            "stratified": {"pilot": 100, "round": 100, "max_injections": 200},
        },
        "cifar10_stratified_sdc": {
            "images": 40,
            "stratified": {"pilot": 100, "round": 100, "max_injections": 200},
        },
        "cifar10_stratified_ranger": {"models": ["resnet20"], "protection": {"profile_images": 50}},
        "cifar10_weights": {"replicas": 3, "images": 40},
        "cifar10_precision": {
            "models": ["resnet20_bf16", "resnet8_fp16"],
            "per_category": 30,
            "shards": 1,
        },
        # designs config/cifar10.yaml lacks (config/README.md), so that every campaign design runs
        "cifar10_bit_sweep": {
            "kind": "activation",
            "models": ["resnet20", "resnet8"],
            "images": 20,
            "injections": 4,
            "bit_sweep": True,
        },
        "cifar10_sequential": {
            "kind": "activation",
            "models": ["resnet20"],
            "images": 50,
            "injections": 300,
            "margin": 0.1,
            "sequential": True,
            "round_size": 100,
        },
    },
}

#: written to a folder on the PYTHONPATH of every run: each Python process that imported dnnfi
#: appends the file it imported to $CHECK_UNCHANGED_IMPORTS at exit
PROBE = """import atexit, os, sys

def _report():
    if "dnnfi" in sys.modules:
        with open(os.environ["CHECK_UNCHANGED_IMPORTS"], "a") as log:
            log.write(sys.modules["dnnfi"].__file__ + "\\n")

atexit.register(_report)
"""


def at_inputs(config: dict, inputs: Path) -> dict:
    """``config`` with the path of every data set and model that is an external input
    (:data:`dnnfi.data.inputs.MANIFEST`, whichever folder the commit's config names) pointing into
    ``inputs`` (the runs' working directories are elsewhere)."""
    config = copy.deepcopy(config)
    for spec in [*config.get("datasets", {}).values(), *config.get("models", {}).values()]:
        path = str(spec.get("path", ""))
        for entry in MANIFEST:
            if path == entry.path or path.endswith("/" + entry.path):
                spec["path"] = str(inputs / entry.path)
    return config


def cifar10_subset(cifar10: dict, inputs: Path) -> dict:
    """config/cifar10.yaml cut to :data:`SUBSET_MODELS` and :data:`SUBSET`, its external inputs
    in ``inputs``."""
    config = copy.deepcopy(cifar10)
    config["models"] = {m: config["models"][m] for m in SUBSET_MODELS}
    for campaign in config["campaigns"].values():
        if "models" in campaign:  # else a protected campaign's models are its pair's
            campaign["models"] = [m for m in campaign["models"] if m in SUBSET_MODELS]
    update_config(config, SUBSET)
    return at_inputs(config, inputs)


def snakemake(checkout: Path, workdir: Path, config: Path, *args: str, env: dict | None = None):
    """``snakemake`` on ``checkout``'s Snakefile and package, in ``workdir``; output captured."""
    env = os.environ | {"PYTHONPATH": str(checkout / "src")} | (env or {})
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        checkout / "Snakefile",
        "--directory",
        workdir,
        "--configfile",
        config,
        *args,
    ]
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def planned_jobs(dry_run_output: str) -> dict:
    """The jobs of ``snakemake -n`` output: {frozenset of output files (or the rule name of a job
    without outputs): rule name}."""
    jobs, rule = {}, None
    for line in dry_run_output.splitlines():
        if header := re.fullmatch(r"(?:local)?(?:rule|checkpoint) (\w+):", line):
            rule = header.group(1)
            jobs[rule] = rule  # until an output line says otherwise
        elif rule and line.startswith("    output: "):
            del jobs[rule]
            jobs[frozenset(line.removeprefix("    output: ").split(", "))] = rule
            rule = None
        elif not line.startswith("    "):
            rule = None
    return jobs


def compare_plans(base: dict, head: dict, renames: dict[str, str]) -> list[str]:
    """What differs between two :func:`planned_jobs`, one line per job, rule renames applied."""

    def name(key):
        return key if isinstance(key, str) else ", ".join(sorted(key))

    renamed = {
        renames.get(k, k) if isinstance(k, str) else k: renames.get(r, r) for k, r in base.items()
    }
    lines = [f"only at base: {renamed[k]}: {name(k)}" for k in renamed.keys() - head.keys()]
    lines += [
        f"only at head: {head[k]}: {name(k)}"
        for k in head.keys() - renamed.keys()
        if head[k] not in ADDED_RULES
    ]
    lines += [
        f"rule {renamed[k]} at base (after RULE_RENAMES), {head[k]} at head: {name(k)}"
        for k in renamed.keys() & head.keys()
        if renamed[k] != head[k]
    ]
    return sorted(lines)


def sha256_files(workdir: Path) -> dict[str, str]:
    """{path relative to workdir: SHA-256} of every file under results/<HASHED folder>."""
    hashes = {}
    for folder in HASHED:
        for path in sorted((workdir / "results" / folder).rglob("*")):
            if path.is_file():
                with path.open("rb") as f:
                    hashes[str(path.relative_to(workdir))] = hashlib.file_digest(
                        f, "sha256"
                    ).hexdigest()
    return hashes


def compare_hashes(base: dict[str, str], head: dict[str, str]) -> pd.DataFrame:
    """One row per file of either run: base and head SHA-256, status equal / different /
    missing at base / missing at head, and the results/ folder it is in."""
    table = pd.DataFrame(
        {"base": pd.Series(base, dtype=object), "head": pd.Series(head, dtype=object)}
    )
    table["status"] = "different"
    table.loc[table["base"] == table["head"], "status"] = "equal"
    table.loc[table["base"].isna(), "status"] = "missing at base"
    table.loc[table["head"].isna(), "status"] = "missing at head"
    added = table.index.map(lambda p: any(fnmatch.fnmatch(p, g) for g in ADDED_RULES.values()))
    table.loc[table["base"].isna() & added, "status"] = "added (ADDED_RULES)"
    table["folder"] = [path.split("/")[1] for path in table.index]
    return table.rename_axis("path")


def imported_from(imports: Path) -> Counter:
    """How many processes imported dnnfi from which file (the probe's log)."""
    return Counter(imports.read_text().splitlines()) if imports.exists() else Counter()


def run_config(name: str, configs: dict[str, Path], base_src: Path, out: Path, cores: int) -> dict:
    """Run one config at base, then at head reusing the base's data and models; hash both."""
    probe = out / "probe"
    result = {"seconds": {}, "imports": {}}
    for side, checkout in (("base", base_src), ("head", REPO)):
        workdir = out / name / side
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        imports = out / name / f"{side}-imports.txt"
        env = {"PYTHONPATH": f"{probe}:{checkout / 'src'}", "CHECK_UNCHANGED_IMPORTS": str(imports)}
        args = ["--cores", str(cores)]
        if side == "head":
            # The copies carry no .snakemake metadata, so the params, input, code and
            # software-env triggers have no record to compare with; mtime is the only trigger
            # left, and copy2 keeps the base's mtimes, under which every output is newer than
            # its inputs (the external images and weights are untouched, a model is newer than
            # its data). `--rerun-triggers mtime` states this explicitly, and the dry run below
            # checks it: no head job may write under the copied folders.
            for folder in REUSED:
                shutil.copytree(
                    out / name / "base" / "results" / folder, workdir / "results" / folder
                )
            args += ["--rerun-triggers", "mtime"]
            plan = snakemake(checkout, workdir, configs[side], "-n", *args, env=env)
            reused = {("results", folder) for folder in REUSED}
            rebuilt = [
                f
                for outputs in planned_jobs(plan.stdout)
                if not isinstance(outputs, str)
                for f in outputs
                if Path(f).parts[:2] in reused
            ]
            if plan.returncode or rebuilt:
                sys.exit(
                    f"{name}: the head run would rebuild copied files {rebuilt[:5]}\n{plan.stdout[-3000:]}"
                )
        print(f"{name}: running {side} ({checkout}) in {workdir}", flush=True)
        imports.unlink(missing_ok=True)
        start = time.monotonic()
        run = snakemake(checkout, workdir, configs[side], *args, env=env)
        result["seconds"][side] = round(time.monotonic() - start)
        (out / name / f"{side}.log").write_text(run.stdout)
        if run.returncode:
            sys.exit(
                f"{name}: the {side} run failed (log {out / name / side}.log):\n{run.stdout[-3000:]}"
            )
        result["imports"][side] = dict(imported_from(imports))
        print(
            f"{name}: {side} took {result['seconds'][side]} s; dnnfi imported from "
            + ", ".join(f"{path} ({n} processes)" for path, n in result["imports"][side].items()),
            flush=True,
        )
        result["imports_ok"] = result.get("imports_ok", True) and list(result["imports"][side]) == [
            str(checkout / "src" / "dnnfi" / "__init__.py")
        ]
    result["table"] = compare_hashes(
        sha256_files(out / name / "base"), sha256_files(out / name / "head")
    )
    return result


def dry_runs(
    sides: dict[str, Path], extra: dict[str, dict[str, Path]], out: Path, inputs: Path
) -> dict:
    """:func:`compare_plans` of every config/*.yaml of either side and of ``extra`` configs
    ({name: {side: config file}}), each planned in an empty working directory."""
    configs = {
        p.stem: {}
        for checkout in sides.values()
        for p in sorted((checkout / "config").glob("*.yaml"))
    }
    for side, checkout in sides.items():
        for name in configs:
            if (checkout / "config" / f"{name}.yaml").exists():
                configs[name][side] = checkout / "config" / f"{name}.yaml"
    configs |= extra
    results = {}
    for name, files in configs.items():
        plans = {}
        for side, checkout in sides.items():
            if side not in files:
                continue
            folder = out / "dry-run" / side / name
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "work").mkdir(parents=True)
            config = folder / "config.yaml"
            config.write_text(
                yaml.safe_dump(at_inputs(yaml.safe_load(files[side].read_text()), inputs))
            )
            run = snakemake(checkout, folder / "work", config, "-n")
            if run.returncode:
                print(f"dry run of {name} at {side} failed:\n{run.stdout[-2000:]}")
            plans[side] = planned_jobs(run.stdout) if run.returncode == 0 else {}
        differences = (
            compare_plans(plans["base"], plans["head"], RULE_RENAMES)
            if len(plans) == 2
            else [f"config only at {side}" for side in plans]
        )
        if len(plans) == 2 and not plans["base"]:
            differences.append("no jobs at base")
        results[name] = {
            "jobs": {side: len(jobs) for side, jobs in plans.items()},
            "rules": dict(sorted(Counter(plans.get("head", {}).values()).items())),
            "differences": differences,
        }
        print(
            f"dry run {name}: {results[name]['jobs']} jobs, "
            + (f"{len(differences)} differences" if differences else "same jobs"),
            flush=True,
        )
        for line in differences[:20]:
            print("   ", line)
    return results


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", REPO, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def machine_facts() -> dict:
    """What the hashes depend on besides the code: CPU, its vector extensions (TensorFlow's
    and PyTorch's kernels), oneDNN, package versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    return {
        "cpu": model.group(1) if model else platform.processor(),
        "cpus": os.cpu_count(),
        "cpu_flags": sorted(set(flags.group(1).split() if flags else ()) & CPU_FLAGS),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get(
            "TF_ENABLE_ONEDNN_OPTS",
            "unset (the jobs get it from config key tensorflow_onednn, default false: 0)",
        ),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": dict(
            sorted(
                (d.metadata["Name"].lower().replace("_", "-"), d.version)
                for d in distributions()
                if d.metadata["Name"].lower().replace("_", "-") in PACKAGES
            )
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BASE, help=f"base commit (default {BASE})")
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "unchanged", help="working folder"
    )
    parser.add_argument(
        "--record", type=Path, help="JSON record (default <out>/unchanged-<base>.json)"
    )
    parser.add_argument(
        "--cores", type=int, default=2, help="Snakemake --cores of each run (default 2)"
    )
    parser.add_argument(
        "--dry-runs-only", action="store_true", help="compare the dry-run jobs only (minutes)"
    )
    args = parser.parse_args()
    out = args.out.resolve()
    base = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    head = git("rev-parse", "HEAD") + (
        "-dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    )
    print(f"base {base}, head {head} (working tree {REPO})")
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe").mkdir(exist_ok=True)
    (out / "probe" / "sitecustomize.py").write_text(PROBE)
    base_src = out / "base-src"
    if base_src.exists():
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", base_src], check=False)
        shutil.rmtree(base_src, ignore_errors=True)
    git("worktree", "add", "--detach", str(base_src), base)
    sides = {"base": base_src, "head": REPO}
    inputs = Path(os.environ.get("DNNFI_INPUTS", REPO / "inputs")).resolve()
    try:
        configs = {
            "demo": {side: checkout / "config" / "config.yaml" for side, checkout in sides.items()}
        }
        if all((inputs / entry.path).exists() for entry in MANIFEST):
            configs["cifar10"] = {}
            for side, checkout in sides.items():
                subset = cifar10_subset(
                    yaml.safe_load((checkout / "config" / "cifar10.yaml").read_text()), inputs
                )
                configs["cifar10"][side] = out / "cifar10" / f"{side}-config.yaml"
                configs["cifar10"][side].parent.mkdir(parents=True, exist_ok=True)
                configs["cifar10"][side].write_text(yaml.safe_dump(subset, sort_keys=False))
        else:
            print(
                f"inputs folder {inputs} (make inputs, DNNFI_INPUTS) incomplete: the cifar10 subset does not run, only the demo"
            )
        runs = (
            {}
            if args.dry_runs_only
            else {
                name: run_config(name, files, base_src, out, args.cores)
                for name, files in configs.items()
            }
        )
        plans = dry_runs(
            sides,
            {f"{name}-subset": files for name, files in configs.items() if name != "demo"},
            out,
            inputs,
        )
    finally:
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", base_src], check=False)

    same = True
    for name, run in runs.items():
        table = run["table"]
        print(
            f"\n{name}: {len(table)} files, base {run['seconds']['base']} s, head {run['seconds']['head']} s"
        )
        print(pd.crosstab(table["folder"], table["status"]).to_string())
        unequal = table[~table["status"].isin(["equal", "added (ADDED_RULES)"])]
        if len(unequal):
            print(unequal[["status"]].to_string())
        if not run["imports_ok"]:
            print(f"{name}: a run imported another dnnfi than its checkout's: {run['imports']}")
        same &= unequal.empty and run["imports_ok"]
    same &= not any(plan["differences"] for plan in plans.values())

    record = {
        "base": base,
        "head": head,
        "identical": same,
        "machine": machine_facts(),
        "changed_files": git(
            "diff", "--name-only", base
        ).splitlines(),  # working tree vs base, tracked files
        "runs": {
            name: {"seconds": run["seconds"], "files": len(run["table"]), "imports": run["imports"]}
            for name, run in runs.items()
        },
        "dry_runs": plans,
        "differences": {
            name: run["table"]
            .loc[run["table"]["status"] != "equal", ["base", "head", "status"]]
            .to_dict("index")
            for name, run in runs.items()
        },
        "sha256": {name: run["table"]["head"].dropna().to_dict() for name, run in runs.items()},
    }
    record_path = args.record or out / f"unchanged-{args.base}.json"
    record_path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    print(
        f"\n{'IDENTICAL' if same else 'DIFFERENT'}: base {base} vs head {head}; record {record_path}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
