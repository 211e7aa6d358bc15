"""dnnfi.designs: the registry, the one table of compositions, the config form (``design:``, and
today's flag form translated to it), and what the workflow asks of each design (shards, job
parameters, inputs, outputs), checked on a config with a campaign of every design. The job
parameters are compared as the text Snakemake stores (their order included): a change would
rerun existing shards, and their seeds and draws would change the faults."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dnnfi import designs
from dnnfi.designs import COMPOSES_OVER, DESIGNS
from dnnfi.designs.base import Design
from dnnfi.designs.uniform import Uniform
from dnnfi.workflow import config as C

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

#: a campaign of every design, in the design form
CAMPAIGNS = {
    "uni": {"design": "uniform", "models": ["torch_mlp"], "margin": 0.1, "shards": 2},
    "seq": {
        "design": "sequential",
        "models": ["keras_sequential", "torch_cnn"],
        "margin": 0.05,
        "round_size": 300,
        "injections": 1000,
    },
    "seq_clip": {
        "design": "protected",
        "models": ["torch_cnn"],
        "paired_with": "seq",
        "protection": {"method": "clip_to_zero", "layers": "all"},
        "confidence": 0.9,
    },
    "sweep": {
        "design": "bit_sweep",
        "models": ["torch_mlp"],
        "injections": 20,
        "shards": 3,
        "bits": [23, 30, 31],
        "image_sampling": "per_correctness",
        "per_category": 10,
    },
    "strat": {
        "design": "stratified",
        "models": ["torch_mlp"],
        "margin": 0.05,
        "images": 100,
        "shards": 2,
        "stratified": {"pilot": 200, "round": 300, "max_injections": 1100},
    },
    "w": {
        "design": "weight_rate",
        "models": ["torch_mlp"],
        "frates": [0.01],
        "perturbations": ["bitflip", "random"],
        "distribution": "uniform",
        "value_range": [-1, 1],
        "replicas": 3,
        "shards": 3,
        "bits": [30],
    },
}
#: the same campaigns in today's flag form
FLAG_FORM = {
    "uni": {
        "kind": "activation",
        "models": ["torch_mlp"],
        "margin": 0.1,
        "shards": 2,
        "sequential": False,
        "bit_sweep": False,
        "stratified": None,
        "round_size": 500,
    },
    "seq": {
        "kind": "activation",
        "models": ["keras_sequential", "torch_cnn"],
        "margin": 0.05,
        "sequential": True,
        "round_size": 300,
        "injections": 1000,
    },
    "seq_clip": {
        "kind": "activation",
        "models": ["torch_cnn"],
        "paired_with": "seq",
        "protection": {"method": "clip_to_zero", "layers": "all"},
        "confidence": 0.9,
    },
    "sweep": {
        "kind": "activation",
        "models": ["torch_mlp"],
        "injections": 20,
        "shards": 3,
        "bits": [23, 30, 31],
        "image_sampling": "per_correctness",
        "per_category": 10,
        "bit_sweep": True,
    },
    "strat": {
        "kind": "activation",
        "models": ["torch_mlp"],
        "margin": 0.05,
        "images": 100,
        "shards": 2,
        "injections": 5000,
        "stratified": {"pilot": 200, "round": 300, "max_injections": 1100},
    },
    "w": {
        "kind": "weight_rate",
        "models": ["torch_mlp"],
        "frates": [0.01],
        "perturbations": ["bitflip", "random"],
        "distribution": "uniform",
        "value_range": [-1, 1],
        "replicas": 3,
        "shards": 3,
        "bits": [30],
    },
}


def checked(campaigns=CAMPAIGNS) -> dict:
    config = copy.deepcopy(DEMO)
    config["campaigns"] = copy.deepcopy(campaigns)
    C.check(config)
    return config["campaigns"]


def error(campaigns) -> str:
    with pytest.raises(C.ConfigError) as info:
        checked(campaigns)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_every_design_is_registered_by_its_name_with_its_own_schema():
    assert list(DESIGNS) == [
        "uniform",
        "sequential",
        "bit_sweep",
        "stratified",
        "protected",
        "weight_rate",
    ]
    schema = C.load_schema()
    assert schema["properties"]["campaigns"]["additionalProperties"]["properties"]["design"][
        "enum"
    ] == list(DESIGNS)
    for name, design in DESIGNS.items():
        assert design.name == name and design.kind in designs.KINDS and design.summary
        own = schema["$defs"][f"{name}_campaign"]
        assert own["additionalProperties"] is False and {"design", "models"} <= set(
            own["properties"]
        )
    assert [d for d in DESIGNS.values() if d.kind == "weight_rate"] == [DESIGNS["weight_rate"]]


def test_the_design_form_and_the_flag_form_check_to_the_same_campaigns():
    new, old = checked(), checked(FLAG_FORM)
    assert new == old
    assert {n: c["design"] for n, c in new.items()} == {
        n: n_
        for n, n_ in zip(
            CAMPAIGNS,
            ("uniform", "sequential", "protected", "bit_sweep", "stratified", "weight_rate"),
        )
    }
    assert new["seq_clip"]["over"] == "sequential" and new["seq_clip"]["round_size"] == 300
    assert (
        new["seq_clip"]["batch_size"] == 256 and new["seq_clip"]["confidence"] == 0.9
    )  # own keys stay


def test_the_shipped_configs_use_the_design_form():
    for path in sorted((REPO / "config").glob("*.yaml")):
        for name, campaign in yaml.safe_load(path.read_text())["campaigns"].items():
            assert "design" in campaign and "kind" not in campaign, (path.name, name)


@pytest.mark.parametrize(
    "campaigns, message",
    [
        (
            {"x": {"models": ["torch_mlp"]}},
            "config key campaigns.x.design: required, one of uniform, sequential, "
            "bit_sweep, stratified, protected, weight_rate",
        ),
        (
            {"x": {"design": "bitsweep", "models": ["torch_mlp"]}},
            "config key campaigns.x.design: expected enum",
        ),
        (
            {"x": {"kind": "weights", "models": ["torch_mlp"]}},
            "config key campaigns.x.kind: expected enum "
            "['activation', 'weight_rate'], got 'weights'",
        ),
        (
            {"x": {"design": "uniform", "kind": "weight_rate", "models": ["torch_mlp"]}},
            "config key campaigns.x.kind: design uniform is an activation campaign, got kind weight_rate; remove kind",
        ),
        (
            {"x": {"design": "uniform", "sequential": True, "models": ["torch_mlp"]}},
            "config key campaigns.x.sequential: the flag form of design sequential; beside design: uniform remove it",
        ),
        (
            {"x": {"kind": "activation", "bit_sweep": "yes", "models": ["torch_mlp"]}},
            "config key campaigns.x.bit_sweep: expected type boolean, got 'yes'",
        ),
        (
            {
                "x": {
                    "kind": "activation",
                    "sequential": True,
                    "bit_sweep": True,
                    "margin": 0.1,
                    "models": ["torch_mlp"],
                }
            },
            "config key campaigns.x.sequential: bit_sweep and sequential name two designs (bit_sweep, sequential)",
        ),
        # a key the flag form ignored is dropped when translating, refused in the design form
        (
            {"x": {"design": "uniform", "round_size": 5, "models": ["torch_mlp"]}},
            "config key campaigns.x.round_size: not a key of a uniform campaign (it belongs to sequential campaigns)",
        ),
        (
            {
                "x": {
                    "design": "stratified",
                    "injections": 5,
                    "margin": 0.1,
                    "models": ["torch_mlp"],
                }
            },
            "config key campaigns.x.injections: a stratified campaign's injections come from stratified.pilot",
        ),
        (
            {"x": {"design": "sequential", "models": ["torch_mlp"]}},
            "config key campaigns.x.margin: required by a sequential campaign",
        ),
        (
            {"x": {"design": "protected", "paired_with": "y", "models": ["torch_mlp"]}},
            "config key campaigns.x.protection: required by a protected campaign",
        ),
    ],
)
def test_config_form_errors_are_one_line_naming_the_key(campaigns, message):
    assert error(campaigns).startswith(message)


@pytest.mark.parametrize("base", list(DESIGNS))
def test_compositions_are_the_declared_ones(base):
    """Protected runs over exactly the designs COMPOSES_OVER names; the refusal names the key."""
    bases = {
        "uni": "uniform",
        "seq": "sequential",
        "sweep": "bit_sweep",
        "strat": "stratified",
        "w": "weight_rate",
        "seq_clip": "protected",
    }
    pair = next(n for n, d in bases.items() if d == base)
    campaigns = copy.deepcopy(CAMPAIGNS)
    campaigns["p"] = {
        "design": "protected",
        "paired_with": pair,
        "protection": {"method": "range_restriction"},
    }
    if base in COMPOSES_OVER["protected"]:
        assert checked(campaigns)["p"]["over"] == base
    else:
        assert error(campaigns).startswith(
            "config key campaigns.p.paired_with: expected a campaign of design "
            "uniform, sequential or stratified, one of ['seq', 'strat', 'uni']"
        )


def test_a_protected_campaign_takes_no_fault_key():
    campaigns = copy.deepcopy(CAMPAIGNS)
    campaigns["seq_clip"]["round_size"] = 10
    assert error(campaigns) == (
        "config key campaigns.seq_clip.round_size: a protected campaign replays the faults of campaigns.seq "
        "(paired_with); set round_size there, here only design, models, paired_with, protection, batch_size, "
        "cache_mb, confidence"
    )


# the parameters of a shard job (params.campaign) as Snakemake stores them, before the designs
COMMON = (
    "'images': None, 'batch_size': 256, 'cache_mb': 1024, 'fault_model': 'bitflip', 'bits': None, 'sampling': "
    "'layer_uniform', 'bits_per_element': 1, 'elements_per_fault': 1, 'image_sampling': 'uniform', "
    "'per_correct': 5, 'per_misclassified': 30, 'per_category': 3000, 'seed': 2024"
)
PARAMS = {
    ("uni", "torch_mlp"): "{"
    + COMMON
    + ", 'campaign': 'uni', 'kind': 'activation', 'shards': 2, 'injections': 96}",
    ("seq", "torch_cnn"): "{"
    + COMMON
    + ", 'campaign': 'seq', 'kind': 'activation', 'shards': 4, 'injections': 1000, "
    "'margin': 0.05, 'confidence': 0.95, 'round_size': 300}",
    ("seq_clip", "torch_cnn"): "{"
    + COMMON
    + ", 'campaign': 'seq_clip', 'kind': 'activation', 'shards': 4, "
    "'protection': {'method': 'clip_to_zero', 'layers': 'all', 'profile_images': 1000}, "
    "'paired_with': 'seq', 'injections': 1000, 'margin': 0.05, 'confidence': 0.9, "
    "'round_size': 300}",
    ("sweep", "torch_mlp"): "{"
    + COMMON.replace("'bits': None", "'bits': [23, 30, 31]")
    .replace("'image_sampling': 'uniform'", "'image_sampling': 'per_correctness'")
    .replace("'per_category': 3000", "'per_category': 10")
    + ", 'campaign': 'sweep', 'kind': 'activation', 'shards': 3, "
    "'injections': 20, 'bit_sweep': True}",
    (
        "strat",
        "torch_mlp",
    ): "{'images': 100, 'batch_size': 256, 'cache_mb': 1024, 'fault_model': 'bitflip', 'bits': "
    "None, 'sampling': 'layer_uniform', 'image_sampling': 'uniform', 'stratified': {'pilot': "
    "200, 'round': 300, 'max_injections': 1100, 'strata': 'field_value', 'target': "
    "'sdc_rate'}, 'margin': 0.05, 'confidence': 0.95, 'shards': 2, 'seed': 2024, "
    "'campaign': 'strat'}",
    (
        "w",
        "torch_mlp",
    ): "{'images': None, 'frates': [0.01], 'perturbations': ['bitflip', 'random'], 'replicas': 3, "
    "'layer_types': ['conv', 'linear'], 'biases': False, 'normalization': False, 'distribution': "
    "'uniform', 'value_range': [-1, 1], 'bits': [30], 'seed': 2024, 'campaign': 'w', 'kind': "
    "'weight_rate', 'shards': 3}",
}


@pytest.mark.parametrize("name, model", list(PARAMS))
def test_shard_parameters_are_those_of_the_flag_form_workflow(name, model):
    spec = checked()[name]
    assert repr(designs.of(spec).shard_params(name, spec, model, 2024)) == PARAMS[name, model]


def test_shards_inputs_and_outputs_of_each_design():
    campaigns = checked()
    of = {name: designs.of(spec) for name, spec in campaigns.items()}
    d, m = "digits", "torch_cnn"
    root = "results/campaigns"
    assert [of[n].n_shards(campaigns[n], "torch_mlp") for n in ("uni", "sweep", "w")] == [2, 3, 3]
    assert (
        of["seq"].n_shards(campaigns["seq"], m)
        == 4
        == of["seq_clip"].n_shards(campaigns["seq_clip"], m)
    )
    assert of["seq"].shard_inputs("seq", campaigns["seq"], d, m, 2) == {
        "earlier": [f"{root}/seq/{d}/{m}/shard-0.parquet", f"{root}/seq/{d}/{m}/shard-1.parquet"],
        "paired": [],
        "bounds": [],
    }
    assert of["seq_clip"].shard_inputs("seq_clip", campaigns["seq_clip"], d, m, 2) == {
        "earlier": [],
        "paired": f"{root}/seq/{d}/{m}/shard-2.parquet",
        "bounds": f"{root}/seq_clip/{d}/{m}/bounds.csv",
    }
    assert of["uni"].shard_files("uni", campaigns["uni"], d, "torch_mlp") == [
        f"{root}/uni/{d}/torch_mlp/shard-{s}.parquet" for s in (0, 1)
    ]
    strat = of["strat"].shard_files("strat", campaigns["strat"], d, "torch_mlp")
    assert (
        len(strat) == 4 * 2
        and strat[-1] == f"{root}/strat/{d}/torch_mlp/all/round-3/shard-1.parquet"
    )
    outputs = {n: of[n].outputs(n, campaigns[n]) for n in campaigns}
    assert (
        "results/tables/uni/summary.csv" in outputs["uni"]
        and "results/tables/uni/summary.md" in outputs["uni"]
    )
    assert set(outputs["seq_clip"]) - {
        o.replace("/seq/", "/seq_clip/") for o in outputs["seq"]
    } == {
        "results/tables/seq_clip/protection.csv",
        "results/figures/seq_clip/protection.png",
        "results/figures/seq_clip/protection.pdf",
    }
    assert not any(
        "summary" in o for o in outputs["sweep"] + outputs["strat"]
    )  # no unweighted tables
    assert "results/stats/w/tukey.csv" in outputs["w"]
    assert all(len(o) == len(set(o)) for o in outputs.values())


def test_a_shard_holds_at_most_one_image_per_injection_but_a_stratified_round_all():
    """Design.shard_images, the images a shard job preprocesses (its resources' data term)."""
    campaigns = checked()
    held = {
        n: [designs.of(campaigns[n]).shard_images(campaigns[n], "torch_cnn", k) for k in (1000, 30)]
        for n in ("uni", "seq", "seq_clip", "sweep", "strat")
    }
    # uni: the Leveugle size at margin 0.1 (96) on 2 shards; seq: a round; sweep: 20 points on 3
    assert held == {
        "uni": [48, 30],
        "seq": [300, 30],
        "seq_clip": [300, 30],
        "sweep": [7, 7],
        "strat": [1000, 30],
    }


def test_each_design_cuts_the_fault_list_into_its_shards():
    from dnnfi.designs.bit_sweep import DESIGN as sweep
    from dnnfi.designs.sequential import DESIGN as sequential
    from dnnfi.designs.uniform import DESIGN as uniform

    faults = pd.DataFrame({"fault_id": np.arange(23), "point": np.repeat(np.arange(8), 3)[:23]})
    for design, params, n in (
        (uniform, {"shards": 4}, 4),
        (sequential, {"round_size": 5}, 5),
        (sweep, {"shards": 3}, 3),
    ):
        parts = [faults.iloc[design.shard_rows(faults, s, params)] for s in range(n)]
        pd.testing.assert_frame_equal(pd.concat(parts), faults)
    rounds = [sequential.shard_rows(faults, s, {"round_size": 5}) for s in range(5)]
    assert [(r.start, r.stop) for r in rounds] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    assert all(
        len(
            set(faults.iloc[sweep.shard_rows(faults, s, {"shards": 3})]["point"])
            & set(faults.iloc[sweep.shard_rows(faults, s + 1, {"shards": 3})]["point"])
        )
        == 0
        for s in (0, 1)
    )


def test_adding_a_design_is_one_class_registered_by_name(monkeypatch):
    """What the developer docs show: a design with a key of its own, checked and planned like
    the shipped ones (here the uniform design with the images drawn from a fixed share)."""

    class FirstImages(Uniform):
        name = "first_images"
        summary = "the uniform design on the first `share` of the images"
        keys = Uniform.keys | {
            "share": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1,
                "default": 0.5,
                "description": "Share of the images.",
            }
        }

        def shard_params(self, name, campaign, model, seed):
            return super().shard_params(name, campaign, model, seed) | {"share": campaign["share"]}

    monkeypatch.setitem(DESIGNS, "first_images", FirstImages())
    campaigns = checked(
        {"f": {"design": "first_images", "models": ["torch_mlp"], "injections": 10}}
    )
    spec = campaigns["f"]
    assert spec["share"] == 0.5 and designs.of(spec).kind == "activation"
    assert designs.of(spec).shard_params("f", spec, "torch_mlp", 1)["share"] == 0.5
    assert error({"f": {"design": "first_images", "models": ["torch_mlp"], "share": 2}}).startswith(
        "config key campaigns.f.share: expected maximum 1"
    )


def test_importing_the_designs_loads_no_framework_and_no_jsonschema():
    # the job scripts import them in every job's environment (envs/*.yaml: jsonschema only in analysis)
    code = (
        "import sys, dnnfi.designs, dnnfi.engines.runner; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'torch', 'keras', 'snakemake', 'jsonschema')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_design_protocol_is_what_every_design_implements():
    for design in DESIGNS.values():
        assert isinstance(design, Design)
        for method in ("shard_params", "faulty_passes", "outputs"):
            assert getattr(type(design), method) is not getattr(Design, method), (
                design.name,
                method,
            )
