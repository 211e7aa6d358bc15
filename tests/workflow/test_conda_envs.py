"""The conda envs of the workflow (`snakemake --sdm conda`): every rule's env provides what its
script imports, the envs pin what the requirements files pin, and (opt-in, slow) the demo runs
through `--sdm conda` with the stand-in conda of conda_standin/ (see README, "Conda environments")."""

from pathlib import Path

import pytest

from .conda_envs import REPO, env_pins, env_requirements, needed_distributions, requirement_pins, rules

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
REQUIREMENTS = sorted(REPO.glob("requirements*.txt"))


def test_every_rule_env_provides_what_its_script_imports():
    # every config of config/ (a rule whose models none of them has would go unchecked: asserted below)
    missing, checked, workflow_rules = [], set(), set()
    for configfile in CONFIGS:
        for conda_envs in ("cpu", "gpu"):
            for rule, spec in rules(configfile, conda_envs).items():
                workflow_rules.add(rule)
                if not spec["frameworks"]:
                    continue  # no job of this rule with this config
                checked.add(rule)
                declared = env_pins(Path(spec["env"]))
                for dist, chain in needed_distributions(Path(spec["script"]), spec["frameworks"]).items():
                    if dist not in declared:
                        missing.append(f"{configfile.name}, rule {rule}: {Path(spec['env']).name} lacks {dist} ({chain})")
    assert {"prepare_data", "baseline_keras", "baseline_torch", "stats_weight_rate"} <= checked
    assert checked == workflow_rules, f"rules with a job in no config of config/: {workflow_rules - checked}"
    assert not missing, "\n".join(sorted(set(missing)))


def test_import_analysis_follows_dnnfi_into_functions():
    # the chains the issue found by hand: statsmodels through dnnfi's own imports, jsonschema
    # through dnnfi.config; the other framework's engine and unused dataset loaders not at all
    script = REPO / "scripts" / "inject_activation.py"
    torch = needed_distributions(script, ["torch"])
    assert "-> dnnfi.samplesize.sequential_stop -> statsmodels.stats.proportion" in torch["statsmodels"]
    assert {"torch", "torchvision"} <= set(torch) and not {"tensorflow", "keras"} & set(torch)
    assert {"tensorflow", "keras", "torch"} <= set(needed_distributions(script, ["keras", "torch"]))
    stats = needed_distributions(REPO / "scripts" / "stats_weight_rate.py", ["keras", "torch"])
    assert stats["jsonschema"].startswith("stats_weight_rate.py -> dnnfi.config") and stats["jsonschema"].endswith(
        "-> jsonschema")
    assert "pillow" not in stats  # dnnfi.datasets' image loaders: not used by the script


@pytest.mark.parametrize("env_file", ENV_FILES, ids=[e.stem for e in ENV_FILES])
def test_env_pins_are_requirement_pins(env_file):
    pinned = {}
    for path in REQUIREMENTS:
        for name, version in requirement_pins(path).items():
            pinned.setdefault(name, set()).add(version)
    pins = env_pins(env_file)
    assert all(pins.values()), f"{env_file.name}: unpinned {[n for n, v in pins.items() if not v]}"
    differ = {n: (v, sorted(pinned.get(n, []))) for n, v in pins.items() if v not in pinned.get(n, ())}
    assert not differ, f"{env_file.name} pins (env, requirements*.txt) differ: {differ}"
    conda, pip = env_requirements(env_file)
    assert not any(name.startswith("-") for name in pip), f"{env_file.name}: pip options in the env file"
    assert conda["python"] == "3.11" and "pip" in conda
    # dnnfi itself comes from the post-deploy script, the same for every env
    assert env_file.with_suffix(".post-deploy.sh").resolve() == REPO / "envs" / "install-dnnfi.sh"
