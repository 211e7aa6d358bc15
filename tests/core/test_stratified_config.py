"""The ``stratified`` key of activation campaigns: defaults, and one-line refusals of what the
design cannot honour (dnnfi.workflow.config, dnnfi.designs.stratified)."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from dnnfi.designs.stratified import n_rounds, populations
from dnnfi.workflow import config as C

DEMO = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "config.yaml").read_text())
STRAT = {
    "kind": "activation",
    "models": ["torch_mlp", "torch_cnn"],
    "margin": 0.01,
    "stratified": {},
}


def checked(**keys):
    config = copy.deepcopy(DEMO)
    config["campaigns"]["s"] = copy.deepcopy(STRAT) | keys
    C.check(config)
    return config["campaigns"]["s"]


def error(**keys) -> str:
    with pytest.raises(C.ConfigError) as info:
        checked(**keys)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_defaults_and_rounds():
    campaign = checked()
    assert campaign["stratified"] == {
        "strata": "field_value",
        "pilot": 500,
        "round": 500,
        "target": "sdc_rate",
        "max_injections": 10000,
    }
    assert n_rounds(campaign["stratified"]) == 20 and populations(campaign) == ("all",)
    assert populations(checked(image_sampling="per_correctness")) == (
        "fi_correct",
        "fi_misclassified",
    )
    assert (
        checked(stratified=None)["design"] == "uniform"
    )  # the flag form: uniform sampling, as before
    assert checked(models=["torch_mlp", "keras_sequential"])["models"] == [
        "torch_mlp",
        "keras_sequential",
    ]


@pytest.mark.parametrize(
    "keys, message",
    [
        (
            {"stratified": {"strata": "layer"}},
            "config key campaigns.s.stratified.strata: expected enum",
        ),
        (
            {"stratified": {"target": "due_rate"}},
            "config key campaigns.s.stratified.target: expected enum",
        ),
        (
            {"stratified": {"rounds": 3}},
            "unknown config key campaigns.s.stratified.rounds: expected one of max_injections",
        ),
        (
            {"fault_model": "random"},
            "config key campaigns.s.fault_model: a stratified campaign needs a single-bit fault model "
            "(bitflip, stuck_at_0, stuck_at_1), not random",
        ),
        (
            {"bits_per_element": 2},
            "config key campaigns.s.bits_per_element: a stratified campaign draws single-bit faults",
        ),
        (
            {"elements_per_fault": 2},
            "config key campaigns.s.elements_per_fault: a stratified campaign draws single-bit",
        ),
        ({"margin": None}, "config key campaigns.s.margin: required by stratified"),
        (
            {"sequential": True},
            "config key campaigns.s.sequential: stratified and sequential name two designs "
            "(stratified, sequential), and a campaign has one; write design: stratified or design: "
            "sequential",
        ),
        (
            {"per_model": {"torch_mlp": {"injections": 5}}},
            "config key campaigns.s.per_model: a stratified campaign's "
            "injections come from stratified.pilot, stratified.round and "
            "stratified.max_injections; remove it",
        ),
        (
            {"stratified": {"pilot": 600, "round": 500, "max_injections": 1000}},
            "config key campaigns.s.stratified.max_injections: 1000 leaves no round of 500 after a pilot of 600",
        ),
        (
            {"shards": 3, "stratified": {"pilot": 2, "round": 100}},
            "config key campaigns.s.shards: 3 shards cut rounds of 2 injections",
        ),
    ],
)
def test_what_the_design_cannot_honour_is_refused(keys, message):
    assert message in error(**keys)


def test_table_row_weights_the_allocation_rounds_only():
    import pandas as pd

    from dnnfi.designs.stratified import published, stratified_table

    strata = pd.DataFrame({"stratum": [0, 1], "weight": [0.9, 0.1]})
    # pilot: 2 SDCs in stratum 1 (must not count); rounds 1-2: stratum 0 clean, stratum 1 one SDC in 4, an SCM
    rows = (
        [(0, 1, "sdc", True)] * 2
        + [(1, 0, "masked", False)] * 10
        + [(2, 1, "sdc", True)]
        + [(2, 1, "masked", False)] * 3
    )
    injections = pd.DataFrame(rows, columns=["round", "stratum", "outcome", "scm"]).assign(
        dataset="d", model="m", population="all", sdc_top5=False
    )
    spec = checked(stratified={"pilot": 2, "round": 7, "max_injections": 30}, margin=0.5)
    table = stratified_table(
        injections, {("d", "m", "all"): strata}, spec, {("d", "m"): np.array([True, False, True])}
    )
    row = table.iloc[0]
    assert (row["images"], row["injections"], row["pilot"], row["rounds"], row["n_strata"]) == (
        3,
        16,
        2,
        2,
        2,
    )
    assert row["sdc_rate"] == pytest.approx(0.1 / 4) and row["scm_probability"] == pytest.approx(
        1.0
    )
    assert row["achieved_margin"] == row["sdc_rate_margin"] and row["stopped_by"] == "margin"
    # uniform sampling's injections for the target margin 0.5 at the estimated SDC rate
    assert row["uniform_injections"] == pytest.approx(1.959964**2 * 0.025 * 0.975 / 0.25, rel=1e-6)
    assert row["gain"] == pytest.approx(row["uniform_injections"] / 16)
    assert published(table)["SDC rate [95% CI]"].iloc[0].startswith("2.50% [")
    # a per_correctness population holds the initially correct (or misclassified) images only
    correct = {("d", "m"): np.array([True, False, True, True])}
    by_population = {
        p: stratified_table(injections.assign(population=p), {("d", "m", p): strata}, spec, correct)
        for p in ("fi_correct", "fi_misclassified")
    }
    assert [t["images"].iloc[0] for t in by_population.values()] == [3, 1]


def test_a_population_too_large_for_memory_is_refused_naming_images():
    import pandas as pd

    from dnnfi.designs.stratified import check_memory, count_bytes, draw_bytes

    # two float32 sites of 1,000 and one bfloat16 site of 500 elements: 9,000 bytes of outputs and
    # (3 + 2 x 32) x 2 x 2 + (3 + 2 x 16) x 2 = 338 bytes of uint16 counts per image
    sites = pd.DataFrame({"size": [1000, 1000, 500], "dtype": ["float32", "float32", "bfloat16"]})
    assert count_bytes(sites) == 338
    # a site of 65,536 elements per image or more counts in uint32
    assert count_bytes(pd.DataFrame({"size": [2**16], "dtype": ["float32"]})) == 67 * 4
    # only the counts grow with the population: 10,000 images, one pass of 16 images' outputs
    assert draw_bytes(sites, 10_000, 16) == 10_000 * 338 + 16 * 9000
    need = 100 * 338 + 10 * 9000
    check_memory(sites, 100, 10, "s", memory_bytes=2 * need)  # exactly half: accepted
    with pytest.raises(ValueError) as info:
        check_memory(sites, 101, 10, "s", memory_bytes=2 * need)
    assert str(info.value).startswith(
        "config key campaigns.s.images: the strata's golden pass counts the values of every site "
        "for each of the population's 101 images, 0.0 GiB with one block of 10 images' site outputs"
    )


@pytest.mark.parametrize(
    "target, sdc_rate, scm_probability, margin, expected",
    [
        ("sdc_rate", 0.01173, 0.5, 0.001, 44_532),  # docs/sampling.md: about 45,000
        ("scm_probability", 0.01156, 0.457, 0.05, 32_985),  # about 33,000 (382 SDCs)
        ("scm_probability", 0.0, 0.457, 0.05, np.nan),
        ("sdc_rate", 0.0, 0.5, 0.001, np.nan),
    ],
)
def test_uniform_injections_for_a_margin_at_the_estimated_rates(
    target, sdc_rate, scm_probability, margin, expected
):
    from dnnfi.designs.stratified import uniform_injections

    got = uniform_injections(target, sdc_rate, scm_probability, margin, 0.95)
    assert got == pytest.approx(expected, rel=1e-3, nan_ok=True)
