"""docs/semantics.md is the project's own specification: it exists, covers every topic, its worked
bit examples are what the fault contract computes, and nothing shipped points outside the repo."""

import re
from pathlib import Path

import ml_dtypes
import numpy as np
import pandas as pd
import pytest

from dnnfi.faults import corrupt, fault_hits
import yaml

from dnnfi.devices import PASS_ROWS

REPO = Path(__file__).resolve().parents[2]
SPEC = (REPO / "docs" / "semantics.md").read_text()
FORMATS = {"fp32": np.float32, "fp16": np.float16, "bf16": ml_dtypes.bfloat16}


def test_every_topic_has_its_section():
    headings = re.findall(r"^## \d+\. (.+)$", SPEC, flags=re.M)
    for topic in ("bit numbering", "sites", "fault-list contract", "outcomes", "random values",
                  "failure-rate weight faults", "scm", "intervals", "seeds"):
        assert any(topic in h.lower() for h in headings), (topic, headings)
    words = " ".join(SPEC.split())
    assert "**masked**" in words or "`masked`" in words
    keras, torch = PASS_ROWS["keras"], PASS_ROWS["torch"]
    stated = (f"on a CPU {keras['cpu']} rows in Keras, {torch['cpu']} in PyTorch",
              f"on a GPU {keras['gpu']} in Keras, {torch['gpu']} in PyTorch")
    assert all(s in words for s in stated), "pass shapes as in the code"


@pytest.mark.parametrize("row", re.findall(r"^\| (fp32|fp16|bf16) \| ([-\d.]+) \| `(0x[0-9A-F]+)` \| (\w+) bit (\d+) \| `(0x[0-9A-F]+)` \|",
                                           SPEC, flags=re.M))
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
    shipped = [REPO / "README.md", *(REPO / "config").glob("*"), *(REPO / "workflow").rglob("*.*"),
               *(REPO / "docs").glob("*.md"), *(REPO / "src").rglob("*.py"), *(REPO / "scripts").glob("*.py")]
    for path in shipped:
        text = path.read_text(errors="ignore")
        assert "shared/docs" not in text and "design.md" not in text, path
    for path in (REPO / "README.md", REPO / "config" / "README.md", REPO / "workflow" / "report" / "workflow.rst"):
        assert "docs/semantics.md" in path.read_text(), path


def test_the_schema_and_config_docs_give_the_pass_shapes_of_the_code():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    frameworks = schema["properties"]["pass_rows"]["properties"]
    defaults = {fw: {kind: v["default"] for kind, v in spec["properties"].items()} for fw, spec in frameworks.items()}
    assert defaults == PASS_ROWS
    config_docs = (REPO / "config" / "README.md").read_text()
    stated = ", ".join(f"`{fw}: {{cpu: {rows['cpu']}, gpu: {rows['gpu']}}}`" for fw, rows in PASS_ROWS.items())
    assert f"| {stated} |" in config_docs
