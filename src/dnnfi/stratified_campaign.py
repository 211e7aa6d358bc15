"""Stratified activation campaigns in the workflow (config key ``stratified``; docs/semantics.md,
section 11): config checks, the jobs' framework-free bodies and the campaign's table.

Per model and *population* (the images the rates refer to: ``all`` the campaign's images, or
with ``per_correctness`` image sampling ``fi_correct`` and ``fi_misclassified``, each its own
stratified campaign) round 0 is the pilot and rounds 1..R the allocation rounds. One job draws a
round's whole fault list from the seed, the round number and the pilot's outcomes (and decides
from the earlier rounds' outcomes whether the target margin is met, which leaves the round
empty); ``shards`` inject jobs only cut that list. Framework-free: the injector is passed in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnnfi.bitflip import n_bits
from dnnfi.faults import shard_slice
from dnnfi.runlog import Progress
from dnnfi.sampling import (atom_table, draw_strata, estimate, margin_reached, pilot_allocation, round_allocation,
                            strata_of, stratum_counts)
from dnnfi.seeds import rng_for

POPULATIONS = {"uniform": ("all",), "per_correctness": ("fi_correct", "fi_misclassified")}
METRICS = ("sdc_rate", "sdc_top5_rate", "due_rate", "scm_rate", "scm_probability")


def populations(campaign: dict) -> tuple[str, ...]:
    return POPULATIONS[campaign["image_sampling"]]


def n_rounds(stratified: dict) -> int:
    """Rounds of a model and population, the pilot (round 0) included, at most."""
    return 1 + (stratified["max_injections"] - stratified["pilot"]) // stratified["round"]


def check(name: str, campaign: dict) -> str | None:
    """The one-line reason a campaign's ``stratified`` key cannot be honoured (None if it can;
    the single-bit fault keys are checked by :func:`dnnfi.config.check_single_bit`)."""
    key, spec = f"config key campaigns.{name}", campaign["stratified"]
    if campaign["margin"] is None:
        return f"{key}.margin: required by stratified (the target half-width of stratified.target)"
    if campaign["sequential"]:
        return f"{key}.sequential: a stratified campaign runs its own rounds (stratified.round); remove it"
    if campaign["per_model"]:
        return f"{key}.per_model: a stratified campaign's injections come from stratified.max_injections; remove it"
    if spec["pilot"] + spec["round"] > spec["max_injections"]:
        return (f"{key}.stratified.max_injections: {spec['max_injections']} leaves no round of {spec['round']} "
                f"after a pilot of {spec['pilot']}")
    if campaign["shards"] > min(spec["pilot"], spec["round"]):
        return (f"{key}.shards: {campaign['shards']} shards cut rounds of {min(spec['pilot'], spec['round'])} "
                "injections (stratified.pilot, stratified.round); expected at most that")
    return None


def population_images(population: str, correct: np.ndarray) -> np.ndarray:
    """Positions (among the campaign's images) of a population's images."""
    if population == "all":
        return np.arange(len(correct))
    return np.flatnonzero(correct == (population == "fi_correct"))


def check_memory(sites: pd.DataFrame, n_images: int, campaign: str, memory_bytes: int) -> None:
    """Refuse a population whose golden site values (every eligible site output of every image,
    held in memory to draw elements by value class) would take more than half of ``memory_bytes``
    (the job's memory, its resource ``mem_mb``)."""
    need = int((sites["size"] * sites["dtype"].map(n_bits) // 8).sum()) * n_images
    if need > memory_bytes // 2:
        raise ValueError(f"config key campaigns.{campaign}.images: the strata's golden pass holds every site "
                         f"output of the population's {n_images} images in memory, {need / 2**30:.1f} GiB, more than "
                         f"half of the job's {memory_bytes / 2**30:.1f} GiB (resource mem_mb); expected fewer images")


def design(injector, x: np.ndarray, images: np.ndarray, spec: dict, memory_mb: int):
    """(atoms, strata table, stratum of each atom, golden values per site) of a population:
    exact weights counted from one golden pass over the population's images ``x[images]``
    (``memory_mb``: the job's memory, see :func:`check_memory`)."""
    sites = injector.sites()
    sites = sites[sites["eligible"]]
    check_memory(sites, len(images), spec["campaign"], memory_mb * 2**20)
    values = injector.golden_site_values(x[images], list(sites["site"]))
    atoms = atom_table(sites, values.__getitem__, spec["sampling"], spec["bits"])
    table, codes = strata_of(atoms, spec["stratified"]["strata"])
    return atoms, table, codes, values


def outcome_counts(results: pd.DataFrame, n_strata: int, scm) -> pd.DataFrame:
    """Per-stratum counts of injections with ``stratum``, ``outcome``, ``sdc_top5`` and the top-1
    columns; ``scm(golden_top1, faulty_top1)`` is the taxonomy's rule."""
    flagged = results.assign(scm=scm(results["golden_top1"], results["faulty_top1"]))
    return stratum_counts(flagged, n_strata)


def target_met(earlier: pd.DataFrame, strata: pd.DataFrame, spec: dict, scm) -> bool:
    """Whether the allocation rounds among ``earlier`` (outcomes with ``round``) meet the target margin."""
    done = earlier[earlier["round"] > 0]
    return len(done) > 0 and margin_reached(outcome_counts(done, len(strata), scm), strata["weight"].to_numpy(),
                                            spec["stratified"]["target"], spec["margin"], spec["confidence"])


def round_faults(injector, x: np.ndarray, images: np.ndarray, spec: dict, keys: tuple, r: int, memory_mb: int,
                 pilot: pd.DataFrame | None = None, scm=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fault list of round r, strata table) of a population; ``keys``: (data set, model,
    population); ``memory_mb``: the job's memory (:func:`check_memory`); ``pilot``: the outcomes
    of round 0, for rounds r >= 1 (whose allocation depends on them and on r only,
    :func:`dnnfi.sampling.round_allocation`)."""
    strat = spec["stratified"]
    if len(images) == 0:
        raise ValueError(f"model {keys[1]}: population {keys[2]} has no image among the campaign's images, "
                         f"so its rates are undefined (config key campaigns.{spec['campaign']}.image_sampling)")
    steps = Progress(total=2, desc=f"round-{r}", mininterval=0)  # a line after the golden pass, one at the end
    atoms, table, codes, values = design(injector, x, images, spec, memory_mb)
    steps.update()
    weights = table["weight"].to_numpy()
    if r == 0:
        if strat["pilot"] < len(table):
            raise ValueError(f"config key campaigns.{spec['campaign']}.stratified.pilot: {strat['pilot']} injections "
                             f"for {len(table)} strata of model {keys[1]} ({keys[2]}); expected at least one per stratum")
        n = pilot_allocation(weights, strat["pilot"])
    else:
        n = round_allocation(outcome_counts(pilot, len(table), scm), weights, strat["target"], r, strat["round"])
    rng = rng_for(spec["seed"], spec["campaign"], *keys, r)
    faults = draw_strata(atoms, codes, n, rng, values.__getitem__, images, spec["fault_model"])
    steps.update()
    steps.close()
    return faults.assign(round=r, population=keys[2]), table


def shard_of_round(faults: pd.DataFrame, shard: int, shards: int) -> pd.DataFrame:
    return faults.iloc[shard_slice(len(faults), shard, shards)]


def summary_row(injections: pd.DataFrame, strata: pd.DataFrame, spec: dict) -> dict:
    """One row of the stratified table from a population's classified, SCM-annotated injections
    (``round``, ``stratum``; the pilot's outcomes enter no estimate) and its strata table."""
    strat = spec["stratified"]
    rounds = injections[injections["round"] > 0]
    row = {"strata": strat["strata"], "n_strata": len(strata), "target": strat["target"],
           "target_margin": spec["margin"], "confidence": spec["confidence"], "injections": len(injections),
           "pilot": int((injections["round"] == 0).sum()), "rounds": rounds["round"].nunique()}
    estimates = estimate(stratum_counts(rounds, len(strata)), strata["weight"].to_numpy(), spec["confidence"])
    row["achieved_margin"] = float(estimates[strat["target"]]["margin"])
    row["stopped_by"] = "margin" if row["achieved_margin"] <= spec["margin"] else "max_injections"
    for metric in METRICS:
        for part, column in (("estimate", metric), ("lo", f"{metric}_lo"), ("hi", f"{metric}_hi"),
                             ("margin", f"{metric}_margin")):
            row[column] = float(estimates[metric][part])
    return row


def stratified_table(injections: pd.DataFrame, strata: dict[tuple, pd.DataFrame], spec: dict,
                     correct: dict[tuple, np.ndarray]) -> pd.DataFrame:
    """Per data set, model and population (``scenario``): the population's ``images``, the
    weighted estimates with intervals, the design, the injections (pilot included), the allocation
    rounds and the achieved margin. ``correct[(dataset, model)]``: whether the fault-free model
    classifies each of the campaign's images correctly."""
    rows = []
    for (dataset, model, population), table in sorted(strata.items()):
        mine = injections[(injections["dataset"] == dataset) & (injections["model"] == model)
                          & (injections["population"] == population)]
        images = len(population_images(population, correct[dataset, model]))
        rows.append({"dataset": dataset, "model": model, "scenario": population, "images": images}
                    | summary_row(mine, table, spec))
    return pd.DataFrame(rows)


def published(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown layout of :func:`stratified_table` (percent, intervals in brackets)."""
    from dnnfi.aggregate import SCENARIO_LABELS
    from dnnfi.intervals import percent

    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    out = pd.DataFrame({"Data set": table["dataset"], "Model": table["model"],
                        "Scenario": table["scenario"].map(SCENARIO_LABELS), "Images": table["images"],
                        "Design": [f"{s} ({n} strata)" for s, n in zip(table["strata"], table["n_strata"])],
                        "Injections (pilot)": [f"{n} ({p})" for n, p in zip(table["injections"], table["pilot"])],
                        "Rounds": table["rounds"], "Target": table["target"],
                        "Achieved margin": ["±" + s for s in percent(table["achieved_margin"])],
                        "Target margin": ["±" + s for s in percent(table["target_margin"])]})
    names = {"sdc_rate": "SDC rate", "sdc_top5_rate": "SDC top-5", "due_rate": "DUE rate",
             "scm_rate": "SCM rate", "scm_probability": "SCM probability"}
    for metric, label in names.items():
        out[f"{label} [{conf} CI]"] = percent(table[metric], table[f"{metric}_lo"], table[f"{metric}_hi"])
    return out
