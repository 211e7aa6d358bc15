"""The conda envs of the workflow (`snakemake --sdm conda`): every rule's env provides what its
script imports, the envs pin what the requirements files pin, and (opt-in, slow) the demo runs
through `--sdm conda` with the stand-in conda of conda_standin/ (see README, "Conda environments")."""

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conda_envs import (
    REPO,
    env_pins,
    env_requirements,
    needed_distributions,
    requirement_pins,
    rules,
)

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
REQUIREMENTS = sorted(REPO.glob("requirements*.txt"))


def test_every_rule_env_provides_what_its_script_imports():
    # every config of config/ (a rule whose models none of them has would go unchecked: asserted below)
    missing, checked, workflow_rules = [], set(), set()
    for configfile in CONFIGS:
        for conda_envs in ("cpu", "gpu"):
            for rule, entries in rules(configfile, conda_envs).items():
                workflow_rules.add(rule)
                for spec in entries:  # none: no job of this rule with this config
                    checked.add((rule, *spec["frameworks"]))
                    declared = env_pins(Path(spec["env"]))
                    for dist, chain in needed_distributions(
                        Path(spec["script"]), spec["frameworks"]
                    ).items():
                        if dist not in declared:
                            missing.append(
                                f"{configfile.name}, rule {rule}: {Path(spec['env']).name} lacks {dist} "
                                f"({chain})"
                            )
    assert {
        ("prepare_data", "keras", "torch"),
        ("baseline", "keras"),
        ("baseline", "torch"),
    } <= checked
    assert {
        ("inject_weight_rate", "keras"),
        ("inject_weight_rate", "torch"),
        ("stratified_draw", "torch"),
    } <= checked
    checked = {rule for rule, *_ in checked}
    assert checked == workflow_rules, (
        f"rules with a job in no config of config/: {workflow_rules - checked}"
    )
    assert not missing, "\n".join(sorted(set(missing)))


def test_import_analysis_follows_dnnfi_into_functions():
    # statsmodels through dnnfi's own imports (a design's method, then the paired tests); the other
    # framework's engine and unused dataset loaders not at all; an analysis job's script (no model,
    # frameworks []) reaches no framework
    script = REPO / "scripts" / "inject_activation.py"
    torch = needed_distributions(script, ["torch"])
    assert torch["statsmodels"].startswith("inject_activation.py -> dnnfi.designs")
    assert "-> dnnfi.analysis.paired.protection_table ->" in torch["statsmodels"]
    assert torch["statsmodels"].endswith("-> statsmodels.stats.contingency_tables")
    assert {"torch", "torchvision"} <= set(torch) and not {"tensorflow", "keras"} & set(torch)
    assert {"tensorflow", "keras", "torch"} <= set(needed_distributions(script, ["keras", "torch"]))
    stats = needed_distributions(REPO / "scripts" / "stats_weight_rate.py", [])
    assert (
        stats["statsmodels"]
        == "stats_weight_rate.py -> dnnfi.analysis.stats -> statsmodels.formula.api"
    )
    assert "pillow" not in stats  # dnnfi.data.datasets' image loaders: not used by the script
    assert not {"tensorflow", "keras", "torch", "torchvision"} & set(stats)


@pytest.mark.parametrize("env_file", ENV_FILES, ids=[e.stem for e in ENV_FILES])
def test_env_pins_are_requirement_pins(env_file):
    pinned = {}
    for path in REQUIREMENTS:
        for name, version in requirement_pins(path).items():
            pinned.setdefault(name, set()).add(version)
    pins = env_pins(env_file)
    assert all(pins.values()), f"{env_file.name}: unpinned {[n for n, v in pins.items() if not v]}"
    differ = {
        n: (v, sorted(pinned.get(n, []))) for n, v in pins.items() if v not in pinned.get(n, ())
    }
    assert not differ, f"{env_file.name} pins (env, requirements*.txt) differ: {differ}"
    conda, pip = env_requirements(env_file)
    assert not any(name.startswith("-") for name in pip), (
        f"{env_file.name}: pip options in the env file"
    )
    assert conda["python"] == "3.11" and "pip" in conda
    # dnnfi itself comes from the post-deploy script, the same for every env
    assert env_file.with_suffix(".post-deploy.sh").resolve() == REPO / "envs" / "install-dnnfi.sh"


STANDIN = Path(__file__).parent / "conda_standin" / "bin"


@pytest.mark.skipif(
    not os.environ.get("DNNFI_TEST_CONDA"),
    reason="opt-in and slow (builds the envs): make test-conda",
)
def test_demo_runs_through_sdm_conda_with_the_standin(tmp_path):
    """The demo through `snakemake --sdm conda` with the stand-in conda on PATH: Snakemake copies,
    hashes and creates each env and runs its post-deploy script as with conda; every job runs in
    its env. The Snakemake process runs from a venv of its own (snakemake and dnnfi with its
    dependencies, no framework: the workflow's config checks import dnnfi), so a job that needed
    TensorFlow or PyTorch outside its env would fail. Envs and that venv are kept under
    $DNNFI_TEST_CONDA and reused by the next run."""
    keep = Path(os.environ["DNNFI_TEST_CONDA"]).resolve()
    host = keep / "snakemake"
    if not (host / "bin" / "snakemake").exists():
        subprocess.run([sys.executable, "-m", "venv", host], check=True)
        subprocess.run(
            [
                host / "bin" / "python",
                "-m",
                "pip",
                "install",
                "--quiet",
                "-e",
                REPO,
                "-c",
                REPO / "requirements.txt",
                f"snakemake=={requirement_pins(REPO / 'requirements.txt')['snakemake']}",
            ],
            check=True,
        )
    path = [str(STANDIN), str(host / "bin")] + [
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {
        "PATH": os.pathsep.join(path)
    }
    # --directory elsewhere: the post-deploy script must find the project without the working directory
    run = subprocess.run(
        [
            host / "bin" / "snakemake",
            "--snakefile",
            REPO / "Snakefile",
            "--directory",
            tmp_path,
            "--configfile",
            REPO / "config" / "config.yaml",
            "--sdm",
            "conda",
            "--conda-prefix",
            keep / "envs",
            "--cores",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    done = re.search(r"(\d+) of (\d+) steps \(100%\) done", run.stderr)
    assert done and done[1] == done[2], run.stderr[-3000:]
    # every job ran in its rule's env: Snakemake records the env file of each output's job
    specs = rules(REPO / "config" / "config.yaml", "cpu")
    ran = set()
    for record in (
        json.loads(p.read_text()) for p in (tmp_path / ".snakemake" / "metadata").iterdir()
    ):
        env_files = {Path(spec["env"]).read_text() for spec in specs[record["rule"]]}
        assert base64.b64decode(record["conda_env"]).decode() in env_files, record["rule"]
        ran.add(record["rule"])
    jobs = re.findall(r"^(?:local)?rule (\w+):", run.stderr, flags=re.M)
    assert ran == set(jobs) - {"all"} and len(ran) >= 14
    # each env (isolated from the Snakemake process: python -I) imports what its rules' scripts
    # need, and runs this checkout's dnnfi
    built = {Path(f).read_text(): Path(f).with_suffix("") for f in (keep / "envs").glob("*.yaml")}
    needs = {}
    for spec in (spec for entries in specs.values() for spec in entries):
        for chain in needed_distributions(Path(spec["script"]), spec["frameworks"]).values():
            needs.setdefault(spec["env"], set()).add(chain.rsplit(" -> ", 1)[1])
    assert len(needs) == 3
    for env_file, modules in needs.items():
        prefix = built[Path(env_file).read_text()]
        code = f"import dnnfi, {', '.join(sorted(modules))}; print(dnnfi.__file__)"
        out = subprocess.run(
            [prefix / "bin" / "python", "-I", "-c", code], capture_output=True, text=True, env=env
        )
        assert out.returncode == 0, f"{Path(env_file).name}: {out.stderr[-2000:]}"
        assert out.stdout.strip() == str(REPO / "src" / "dnnfi" / "__init__.py")
