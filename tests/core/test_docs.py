"""docs/semantics.md is the project's own specification: it exists, covers every topic, its worked
bit examples are what the fault contract computes, and nothing shipped points outside the repo."""

import re
from pathlib import Path

import ml_dtypes
import numpy as np
import pandas as pd
import pytest
import yaml

from dnnfi.designs import DESIGNS
from dnnfi.engines.devices import PASS_ROWS
from dnnfi.faults.lists import corrupt, fault_hits
from dnnfi.workflow.config import load_schema

REPO = Path(__file__).resolve().parents[2]
SPEC = (REPO / "docs" / "semantics.md").read_text()
FORMATS = {"fp32": np.float32, "fp16": np.float16, "bf16": ml_dtypes.bfloat16}


def test_every_topic_has_its_section():
    headings = re.findall(r"^## \d+\. (.+)$", SPEC, flags=re.M)
    for topic in (
        "bit numbering",
        "sites",
        "fault-list contract",
        "outcomes",
        "random values",
        "failure-rate weight faults",
        "scm",
        "intervals",
        "seeds",
    ):
        assert any(topic in h.lower() for h in headings), (topic, headings)
    words = " ".join(SPEC.split())
    assert "**masked**" in words or "`masked`" in words
    keras, torch = PASS_ROWS["keras"], PASS_ROWS["torch"]
    stated = (
        f"on a CPU {keras['cpu']} rows in Keras, {torch['cpu']} in PyTorch",
        f"on a GPU {keras['gpu']} in Keras, {torch['gpu']} in PyTorch",
    )
    assert all(s in words for s in stated), "pass shapes as in the code"


@pytest.mark.parametrize(
    "row",
    re.findall(
        r"^\| (fp32|fp16|bf16) \| ([-\d.]+) \| `(0x[0-9A-F]+)` \| (\w+) bit (\d+) \| `(0x[0-9A-F]+)` \|",
        SPEC,
        flags=re.M,
    ),
)
def test_worked_bit_examples_are_what_the_contract_computes(row):
    fmt, value, encoding, model, bit, result = row
    old = np.array([float(value)], dtype=FORMATS[fmt])
    uint = np.uint32 if fmt == "fp32" else np.uint16
    assert int(old.view(uint)[0]) == int(encoding, 16)
    faults = pd.DataFrame({"element": [0], "bit": [int(bit)], "fault_model": [model]})
    _, _, mask = fault_hits(faults)
    new = corrupt(old, np.array([model]), mask, np.zeros(1))
    assert int(new.view(uint)[0]) == int(result, 16)


def test_enough_worked_examples_are_checked():
    assert len(re.findall(r"^\| (fp32|fp16|bf16) \|", SPEC, flags=re.M)) >= 15


def test_nothing_shipped_points_outside_the_repository():
    shipped = [
        REPO / "README.md",
        *(REPO / "config").glob("*"),
        *(REPO / "workflow").rglob("*.*"),
        *(REPO / "docs").glob("*.md"),
        *(REPO / "src").rglob("*.py"),
        *(REPO / "scripts").glob("*.py"),
    ]
    for path in shipped:
        text = path.read_text(errors="ignore")
        assert "shared/docs" not in text and "design.md" not in text, path
    for path in (
        REPO / "README.md",
        REPO / "config" / "README.md",
        REPO / "workflow" / "report" / "workflow.rst",
    ):
        assert "docs/semantics.md" in path.read_text(), path


def test_the_schema_and_config_docs_give_the_pass_shapes_of_the_code():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    frameworks = schema["properties"]["pass_rows"]["properties"]
    defaults = {
        fw: {kind: v["default"] for kind, v in spec["properties"].items()}
        for fw, spec in frameworks.items()
    }
    assert defaults == PASS_ROWS
    config_docs = (REPO / "config" / "README.md").read_text()
    stated = ", ".join(
        f"`{fw}: {{cpu: {rows['cpu']}, gpu: {rows['gpu']}}}`" for fw, rows in PASS_ROWS.items()
    )
    assert f"| {stated} |" in config_docs


CONFIG_README = (REPO / "config" / "README.md").read_text()
SCHEMA = load_schema()  # the schema file with every design's keys (dnnfi.designs)


def documented_rows(key: str) -> list[str]:
    """The table rows of a key (of a mapping: of its subkeys, `key.<sub>`)."""
    return [
        line
        for line in CONFIG_README.splitlines()
        if line.startswith((f"| `{key}` |", f"| `{key}.", f"| `{key}.<"))
    ]


def schema_keys():
    """(section, key, property) of every config key of the schema (train.* as train.<key>)."""
    props = SCHEMA["properties"]
    yield from (("top", k, v) for k, v in props.items())
    for section in ("datasets", "models"):
        for k, v in props[section]["additionalProperties"]["properties"].items():
            yield section, k, v
            yield from (
                (section, f"{k}.{sub}", sv)
                for sub, sv in v.get("properties", {}).items()
                if k == "train"
            )
    yield "campaigns", "design", props["campaigns"]["additionalProperties"]["properties"]["design"]
    for design in DESIGNS:
        yield from (
            (design, k, v)
            for k, v in SCHEMA["$defs"][f"{design}_campaign"]["properties"].items()
            if k != "design"
        )


@pytest.mark.parametrize(
    "section, key, prop", list(schema_keys()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_config_key_and_its_values_are_documented(section, key, prop):
    rows = documented_rows(key)
    assert rows, f"config/README.md documents no `{key}` ({section})"
    for value in prop.get("enum", []) + prop.get("items", {}).get("enum", []):
        own_row = f"| `{value}` |" in CONFIG_README  # e.g. the table of data set sources
        assert own_row or any(f"`{value}`" in row for row in rows), (
            f"`{key}`: value {value} undocumented"
        )


def test_bits_per_element_is_described_alike_in_schema_and_readme():
    schema = SCHEMA["$defs"]["uniform_campaign"]["properties"]["bits_per_element"]["description"]
    (row,) = documented_rows("bits_per_element")
    for model in ("bitflip", "stuck_at_0", "stuck_at_1"):
        assert model in schema and model in row.replace("stuck_at_0/1", "stuck_at_0 stuck_at_1")


def test_the_outputs_table_lists_every_table_and_figure_format():
    from dnnfi.designs import uniform, weight_rate

    readme = (REPO / "README.md").read_text()
    table = readme.split("## Where the outputs land")[1].split("\n## ")[0]
    for design in (uniform, weight_rate):
        for t in design.TABLES:
            assert re.search(rf"results/tables/<campaign>/[^|]*\b{t}\b", table), (
                design.__name__,
                t,
            )
    assert "results/figures/<campaign>/*.{png,pdf}" in table


def test_the_protection_factors_in_docs_are_those_of_the_table():
    doc = (REPO / "docs" / "cifar10.md").read_text()
    factors = {"SDC": [], "SCM": []}
    for measure in factors:
        for row in re.findall(rf"^\| [^|]+ \| {measure} rate \(3,000\) \|(.+)$", doc, re.M):
            cells = [c.strip() for c in row.split("|")]
            unprotected = int(re.search(r"\((\d+)\)", cells[0]).group(1))
            for protected in (cells[1], cells[4]):  # range restriction, clip to zero
                n = int(re.search(r"\((\d+)\)", protected).group(1))
                if n:
                    factors[measure].append(unprotected / n)
    stated = re.search(r"SDC falls\s+([\d.]+)x to ([\d.]+)x and SCM ([\d.]+)x to ([\d.]+)x", doc)
    assert stated, "the sentence giving the protection factors"
    lo_sdc, hi_sdc, lo_scm, hi_scm = map(float, stated.groups())
    for (lo, hi), measure in (((lo_sdc, hi_sdc), "SDC"), ((lo_scm, hi_scm), "SCM")):
        assert len(factors[measure]) >= 7, measure
        assert lo == pytest.approx(min(factors[measure]), rel=0.03) and hi == pytest.approx(
            max(factors[measure]), rel=0.03
        )
