"""The conda environments of the workflow as data: which env file and script each rule has, what
an env file and a requirements file pin, and which distributions a script's imports need.

Used by tests/workflow/test_conda_envs.py and by the stand-in ``conda`` of conda_standin/; run as a
script (``python conda_envs.py CONFIGFILE CONDA_ENVS``) it prints the rules of the workflow loaded
with that config as JSON (a process of its own per config: Snakemake keeps global state)."""

import ast
import collections
import functools
import json
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
from types import SimpleNamespace

import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"

#: conda-forge names whose package installs the same modules as a PyPI distribution of another name
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
#: distributions that install the same top-level modules: either one in an env provides them
SAME_MODULES = {"tensorflow-cpu": "tensorflow"}
#: an env's own interpreter and installer: not pinned by the requirements files (pip's venv has them)
TOOLS = {"python", "pip"}
#: modules that only the jobs of one framework's models import (dnnfi keeps TensorFlow and PyTorch
#: apart: dnnfi.engines.runner.injector_factory imports the one engine of the model's framework)
FRAMEWORK_MODULES = {
    "keras": ("dnnfi.engines.kerasfi", "keras", "tensorflow"),
    "torch": ("dnnfi.engines.torchfi", "torch", "torchvision"),
}


def canonical(name: str) -> str:
    """The PyPI name of a conda or pip requirement name, normalized (PEP 503), extras dropped."""
    name = re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()
    name = CONDA_TO_PYPI.get(name, name)
    return SAME_MODULES.get(name, name)


def _pin(spec: str, separator: str) -> tuple[str, str | None]:
    name, _, version = spec.split("#")[0].strip().partition(separator)
    return name.strip(), (version.strip() or None)


def env_requirements(path: Path) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The conda and the pip requirements of an env file: {name as written: pinned version or None}."""
    spec = yaml.safe_load(path.read_text())
    conda, pip = {}, {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            pip.update(_pin(line, "==") for line in dep["pip"])
        else:
            conda.update([_pin(dep, "=")])
    return conda, pip


def env_pins(path: Path) -> dict[str, str | None]:
    """Every package of an env file but its interpreter and installer: {canonical PyPI name: version}."""
    conda, pip = env_requirements(path)
    return {canonical(n): v for n, v in [*conda.items(), *pip.items()] if n not in TOOLS}


def requirement_pins(path: Path) -> dict[str, str | None]:
    """{canonical name: version} of a pip requirements file."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonical(n): v for n, v in (_pin(line, "==") for line in lines if line)}


def rules(configfile: Path, conda_envs: str) -> dict[str, list[dict]]:
    """{rule: [{"env": env file, "script": script, "frameworks": [...]}]} of every rule with a
    script, the workflow loaded with ``configfile`` and config key ``conda_envs``: one entry per
    framework of the config's models that the rule's ``model`` wildcard constraint admits (none:
    the rule has no job with this config), its env and script chosen for a model of that framework
    (a rule's `conda:` function and `{params.framework}` in its script path); one entry with all
    frameworks for a rule without a model wildcard (not a job of one model)."""
    out = subprocess.run(
        [sys.executable, __file__, str(configfile), conda_envs],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _load_rules(configfile: str, conda_envs: str) -> dict[str, dict]:
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings

    settings = ConfigSettings(configfiles=[Path(configfile)], config={"conda_envs": conda_envs})
    with SnakemakeApi() as api:
        workflow = api.workflow(
            ResourceSettings(), settings, snakefile=REPO / "Snakefile"
        )._workflow
        models = workflow.config["models"]
        found = {}
        for rule in workflow.rules:
            if rule.script is None:
                continue
            basedir = Path(rule.basedir.get_path_or_uri(secret_free=True))
            if "model" not in rule.wildcard_names:
                # not a job of one model: an analysis job runs none (its script reaches the engines
                # only through design methods it does not call), another may run either framework
                analysis = (
                    Path(str(getattr(rule.conda_env, "file", rule.conda_env))).name
                    == "analysis.yaml"
                )
                frameworks = [] if analysis else sorted(FRAMEWORK_MODULES)
                found[rule.name] = [_entry(basedir, rule.conda_env, rule.script, frameworks)]
                continue
            constraint = rule.wildcard_constraints.get(
                "model", workflow.wildcard_constraints.get("model")
            )
            admitted = {
                spec["framework"]: name
                for name, spec in models.items()
                if re.fullmatch(constraint, name)
            }
            found[rule.name] = [
                _entry(
                    basedir,
                    rule.conda_env(SimpleNamespace(model=model))
                    if callable(rule.conda_env)
                    else rule.conda_env,
                    rule.script.replace("{params.framework}", framework),
                    [framework],
                )
                for framework, model in sorted(admitted.items())
            ]
        return found


def _entry(basedir: Path, env, script: str, frameworks: list[str]) -> dict:
    return {
        "env": str((basedir / str(getattr(env, "file", env))).resolve()),
        "script": str((basedir / script).resolve()),
        "frameworks": frameworks,
    }


def _module_file(module: str) -> Path | None:
    """The source file of a dnnfi module, None for anything else (e.g. a name inside a module)."""
    path = SRC.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if module.split(".")[0] == "dnnfi" and candidate.is_file():
            return candidate
    return None


def _import_units(
    node: ast.Import | ast.ImportFrom, package: str
) -> list[tuple[str, tuple[str, str]]]:
    """[(the name it binds, unit)] of an import statement; a unit is (module, name): the use
    of ``name`` of ``module``, "*" when the module object itself is bound (any of its names may be
    used). ``import a.b`` binds ``a`` and imports ``a.b``."""
    if isinstance(node, ast.Import):
        return [
            (alias.asname, (alias.name, "*"))
            if alias.asname
            else (alias.name.split(".")[0], (alias.name, "*"))
            for alias in node.names
        ]
    base = node.module or ""
    if node.level:
        parent = package.rsplit(".", node.level - 1)[0]
        base = f"{parent}.{base}" if base else parent
    return [
        (
            alias.asname or alias.name,
            (f"{base}.{alias.name}", "*")
            if _module_file(f"{base}.{alias.name}")
            else (base, alias.name),
        )
        for alias in node.names
    ]


def _names(nodes) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


@functools.cache
def _analyse(path: Path, package: str) -> tuple[set, dict[str, set]]:
    """(the units that running the file's module-level code uses, {top-level function or class:
    the units its body uses}). Imports inside a function count as used by it: a branch that a run
    may take counts as taken."""
    tree = ast.parse(path.read_text(), str(path))
    defs = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    top = [
        node
        for node in tree.body
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]

    def imports(nodes) -> list[tuple[str, tuple[str, str]]]:
        return [
            item
            for node in nodes
            for imp in ast.walk(node)
            if isinstance(imp, (ast.Import, ast.ImportFrom))
            for item in _import_units(imp, package)
        ]

    bindings = dict(imports(top))

    def used(nodes) -> set:
        """An imported name counts as used; a name of the body: the function or the import it names."""
        names = _names(nodes)
        return (
            {unit for _, unit in imports(nodes)}
            | {bindings[n] for n in names if n in bindings}
            | {("", n) for n in names if n in defs}
        )

    return used(top), {name: used([node]) for name, node in defs.items()}


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def needed_distributions(script: Path, frameworks: list[str]) -> dict[str, str]:
    """{canonical distribution: the chain of uses that needs it, ending in the module imported} of a
    rule's script: its imports followed through the dnnfi functions and classes it uses
    (transitively); the modules of the frameworks not in ``frameworks`` are not followed
    (FRAMEWORK_MODULES)."""
    excluded = tuple(
        m for f, modules in FRAMEWORK_MODULES.items() if f not in frameworks for m in modules
    )
    distributions = _distributions()
    module_level, defs = _analyse(script, "")
    # breadth first, in a fixed order: each distribution's chain is a shortest one, the same every run
    todo = collections.deque(
        (unit, script.name) for unit in sorted(module_level.union(*defs.values()), key=str)
    )
    needed, seen = {}, set()
    while todo:
        (module, name), chain = todo.popleft()
        if (
            (module, name) in seen
            or module == ""
            or any(module == m or module.startswith(f"{m}.") for m in excluded)
        ):
            continue
        seen.add((module, name))
        where = f"{chain} -> {module}" + (f".{name}" if name not in (None, "*") else "")
        top = module.split(".")[0]
        if _module_file(module):
            path = _module_file(module)
            module_level, defs = _analyse(
                path, module if path.name == "__init__.py" else module.rpartition(".")[0]
            )
            parents = [(module.rsplit(".", i)[0], None) for i in range(1, module.count(".") + 1)]
            uses = module_level | set(parents)
            if name == "*":
                uses = uses.union(*defs.values())
            elif name in defs:
                uses |= defs[name]
            todo.extend(((m or module, n), where) for m, n in sorted(uses, key=str))
        elif top == "dnnfi":
            todo.append(((module.rpartition(".")[0], module.rpartition(".")[2]), chain))
        elif top not in sys.stdlib_module_names and top != "snakemake":
            assert top in distributions, f"{where}: no installed distribution provides {top!r}"
            for dist in distributions[top]:
                needed.setdefault(canonical(dist), f"{chain} -> {module}")
    return needed


if __name__ == "__main__":
    print(json.dumps(_load_rules(*sys.argv[1:])))
