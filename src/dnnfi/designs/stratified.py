"""The stratified design (``design: stratified``; docs/semantics.md, section 11): the uniform
design's fault distribution sampled by strata in rounds until a target margin; its keys, checks,
rounds and files, the jobs' framework-free bodies and the campaign's table. The strata themselves
(atoms, weights, allocation, drawing) are :mod:`dnnfi.designs.strata`.

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
import yaml

from dnnfi.designs.base import (
    COMMON_KEYS,
    FAULT_LIST_KEYS,
    ConfigError,
    Design,
    campaign_dir,
    check_fault_keys,
    check_single_bit,
    figures,
    only,
    tables,
)
from dnnfi.designs.strata import METRICS as TARGETS
from dnnfi.designs.strata import (
    STRATA,
    atom_table,
    count_dtype,
    draw_strata,
    estimate,
    golden_counts,
    margin_reached,
    pilot_allocation,
    round_allocation,
    strata_of,
    stratum_counts,
)
from dnnfi.designs.uniform import MARGIN
from dnnfi.faults.bitflip import n_bits
from dnnfi.faults.lists import shard_slice
from dnnfi.faults.seeds import rng_for
from dnnfi.workflow.runlog import Progress

POPULATIONS = {"uniform": ("all",), "per_correctness": ("fi_correct", "fi_misclassified")}
METRICS = ("sdc_rate", "sdc_top5_rate", "due_rate", "scm_rate", "scm_probability")


def populations(campaign: dict) -> tuple[str, ...]:
    return POPULATIONS[campaign["image_sampling"]]


def n_rounds(stratified: dict) -> int:
    """Rounds of a model and population, the pilot (round 0) included, at most: every round but
    the last adds at least ``round`` injections (:func:`dnnfi.designs.strata.round_allocation`)."""
    return 1 + -(-(stratified["max_injections"] - stratified["pilot"]) // stratified["round"])


STRATIFIED_KEYS = {
    "margin": MARGIN
    | {
        "description": "Target margin (half-width, share) of stratified.target: the allocation "
        "rounds stop once it is reached; required."
    },
    "stratified": yaml.safe_load("""
type: object
default: {}
description: "The strata and rounds (docs/semantics.md section 11): a pilot, then rounds of Neyman allocation until `target` reaches `margin`."
additionalProperties: false
properties:
  strata: {type: string, default: field_value, description: Stratification (dnnfi.designs.strata.STRATA).}
  pilot: {type: integer, minimum: 1, default: 500, description: Pilot injections per model and population (at least one per stratum).}
  round: {type: integer, minimum: 1, default: 500, description: "Smallest allocation round: each round brings the rounds' injections to the need that the counts so far predict for the margin, at least this many more (docs/semantics.md section 11)."}
  target: {type: string, default: sdc_rate, description: Metric whose achieved margin stops the rounds.}
  max_injections: {type: integer, minimum: 2, default: 10000, description: Most injections per model and population, pilot included.}
"""),
}
STRATIFIED_KEYS["stratified"]["properties"]["strata"]["enum"] = list(STRATA)
STRATIFIED_KEYS["stratified"]["properties"]["target"]["enum"] = list(TARGETS)
#: the parameters of its jobs (in this order: a job's parameters are compared as text)
PARAM_KEYS = [
    "images",
    "batch_size",
    "cache_mb",
    "fault_model",
    "bits",
    "sampling",
    "image_sampling",
    "stratified",
    "margin",
    "confidence",
    "shards",
]
UNUSED = (
    "a stratified campaign's injections come from stratified.pilot, stratified.round and "
    "stratified.max_injections; remove it"
)


class Stratified(Design):
    name = "stratified"
    shard_rule = "stratified_inject"
    replay_rule = "stratified_replay"
    summary = (
        "the uniform fault distribution sampled by strata: a pilot, then rounds of Neyman allocation until "
        "stratified.target reaches margin; weighted estimates"
    )
    keys = (
        COMMON_KEYS
        | only(
            FAULT_LIST_KEYS,
            "batch_size",
            "cache_mb",
            "fault_model",
            "sampling",
            "bits_per_element",
            "elements_per_fault",
            "image_sampling",
        )
        | STRATIFIED_KEYS
    )
    single_bit = "a stratified campaign"
    hints = {
        key: UNUSED
        for key in ("injections", "per_model", "per_correct", "per_misclassified", "per_category")
    } | {"round_size": "a stratified campaign runs its own rounds (stratified.round); remove it"}

    def check(self, name: str, campaign: dict, config: dict) -> None:
        key, spec = f"config key campaigns.{name}", campaign["stratified"]
        check_fault_keys(name, campaign)
        check_single_bit(name, campaign, self.single_bit)
        if campaign["margin"] is None:
            raise ConfigError(
                f"{key}.margin: required by stratified (the target half-width of stratified.target)"
            )
        if spec["pilot"] + spec["round"] > spec["max_injections"]:
            raise ConfigError(
                f"{key}.stratified.max_injections: {spec['max_injections']} leaves no round of "
                f"{spec['round']} after a pilot of {spec['pilot']}"
            )
        if campaign["shards"] > min(spec["pilot"], spec["round"]):
            raise ConfigError(
                f"{key}.shards: {campaign['shards']} shards cut rounds of "
                f"{min(spec['pilot'], spec['round'])} injections (stratified.pilot, stratified.round); "
                "expected at most that"
            )

    # -- files --------------------------------------------------------------------------------

    def round_dir(self, name: str, dataset: str, model: str, population: str, round_) -> str:
        return f"{campaign_dir(name, dataset, model)}/{population}/round-{round_}"

    def round_shards(
        self, name: str, campaign: dict, dataset: str, model: str, population: str, round_
    ) -> list[str]:
        folder = self.round_dir(name, dataset, model, population, round_)
        return [f"{folder}/shard-{s}.parquet" for s in range(campaign["shards"])]

    def shard_files(self, name: str, campaign: dict, dataset: str, model: str) -> list[str]:
        """Every shard of every round and population of a model."""
        return [
            f
            for p in populations(campaign)
            for r in range(n_rounds(campaign["stratified"]))
            for f in self.round_shards(name, campaign, dataset, model, p, r)
        ]

    def earlier_rounds(
        self, name: str, campaign: dict, dataset: str, model: str, population: str, round_
    ) -> list[str]:
        """A round's draw job reads the outcomes of the rounds before it."""
        return [
            f
            for r in range(int(round_))
            for f in self.round_shards(name, campaign, dataset, model, population, r)
        ]

    def strata_files(self, name: str, campaign: dict, datasets: dict[str, str]) -> list[str]:
        """The strata tables (weights) of a campaign, per model and population (``datasets``:
        the data set of each model)."""
        return [
            f"{self.round_dir(name, datasets[m], m, p, 0)}/strata.parquet"
            for m in campaign["models"]
            for p in populations(campaign)
        ]

    def strata_labels(self, campaign: dict, datasets: dict[str, str]) -> list[dict]:
        """The data set, model and population of each of :meth:`strata_files`, in their order."""
        return [
            {"dataset": datasets[m], "model": m, "population": p}
            for m in campaign["models"]
            for p in populations(campaign)
        ]

    def shard_params(self, name: str, campaign: dict, model: str | None, seed: int) -> dict:
        """The parameters of its draw, inject and table jobs (the same for every model)."""
        return {k: campaign[k] for k in PARAM_KEYS} | {"seed": seed, "campaign": name}

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        spec = campaign["stratified"]
        return max(spec["pilot"], spec["round"]) / campaign["shards"]

    def shard_images(self, campaign: dict, model: str, images: int) -> int:
        """Every image: a round's size follows the need its pilot predicts."""
        return images

    def outputs(self, name: str, campaign: dict) -> list[str]:
        """The weighted table and its figure: no unweighted tables (docs/semantics.md, section 11)."""
        return (
            tables(name, ["stratified"])
            + tables(name, ["stratified"], "md")
            + figures(name, ["stratified"])
        )

    # -- the jobs (plain arguments; the framework is imported only when a job injects) ---------

    def draw_job(
        self,
        params: dict,
        model_spec: dict,
        device: dict,
        dataset: str,
        model: str,
        population: str,
        round_: int,
        model_path: str,
        test: str,
        images: str,
        baseline: str,
        taxonomy: str,
        memory_mb: int,
        earlier=(),
        strata: str | None = None,
        pilot_faults: str | None = None,
    ):
        """The body of a pilot (``round_`` 0) or draw job of a population: (the round's fault list,
        the strata table of the pilot, else None). A round after the earlier rounds (files
        ``earlier``) met the target margin or spent ``max_injections`` is empty and loads no
        framework; ``strata``,
        ``pilot_faults``: the pilot's files, for rounds >= 1; ``memory_mb``: the job's memory."""
        import logging

        from dnnfi.analysis.taxonomy import load

        log = logging.getLogger("dnnfi")
        done = [t for t in map(pd.read_parquet, earlier) if len(t)]
        done = pd.concat(done, ignore_index=True) if done else None
        scm = load(taxonomy).is_scm
        strat = params["stratified"]
        if round_ > 0 and (done["round"] > 0).sum() >= strat["max_injections"] - strat["pilot"]:
            log.info("round %d: the earlier rounds spent stratified.max_injections", round_)
            return pd.read_parquet(pilot_faults).iloc[:0], None
        if round_ > 0 and target_met(done, pd.read_parquet(strata), params, scm):
            log.info("round %d: the earlier rounds meet the target margin; nothing to draw", round_)
            return pd.read_parquet(pilot_faults).iloc[:0], None
        from dnnfi.engines.runner import campaign_injector_factory, evaluated_images
        from dnnfi.faults.precision import check_format

        x, _, keep = evaluated_images(test, images, model_spec["preprocess"])
        correct = pd.read_parquet(baseline)["correct"].to_numpy()[keep]
        injector = campaign_injector_factory(model_spec, model_path, params, device)(x.shape[1:])
        check_format(injector.sites(), model_spec["precision"], f"models.{model}")
        faults, table = round_faults(
            injector,
            x,
            population_images(population, correct),
            params,
            (dataset, model, population),
            round_,
            memory_mb,
            done,
            scm,
        )
        if round_ > 0 and not table.equals(pd.read_parquet(strata)):
            raise ValueError(
                f"round {round_}: the golden pass gave other strata or weights than the pilot's (round 0)"
            )
        log.info("round %d: %d faults over %d strata", round_, len(faults), len(table))
        return faults, (table if round_ == 0 else None)

    def inject_job(
        self,
        params: dict,
        model_spec: dict,
        device: dict,
        shard: int,
        model_path: str,
        test: str,
        images: str,
        faults: str,
    ) -> pd.DataFrame:
        """The body of an inject job: shard ``shard`` of a round's fault list (file ``faults``), run;
        an empty round loads no framework."""
        rows = shard_of_round(pd.read_parquet(faults), shard, params["shards"])
        if not len(rows):
            return rows
        from dnnfi.engines.runner import (
            campaign_injector_factory,
            evaluated_images,
            run_faults,
        )

        x, _, keep = evaluated_images(test, images, model_spec["preprocess"])
        injector = campaign_injector_factory(model_spec, model_path, params, device)(x.shape[1:])
        results = run_faults(injector, rows.reset_index(drop=True), injector.sites(), x)
        results["image"] = keep[
            results["image"].to_numpy()
        ]  # index into the whole test split, as in the baseline
        return results

    def paired_table(self, *tables) -> pd.DataFrame:
        """A protected pair's table weighted by the strata
        (:func:`dnnfi.analysis.paired.stratified_protection_table`; the arguments of
        :meth:`dnnfi.designs.base.Design.paired_table`)."""
        from dnnfi.analysis.paired import stratified_protection_table

        return stratified_protection_table(*tables)

    def table_job(
        self,
        params: dict,
        injections: list[str],
        strata: list[str],
        strata_labels: list[dict],
        baselines: list[str],
        evaluated: list[str],
        labels: list[dict],
    ) -> tuple[pd.DataFrame, str]:
        """The body of the table job: (the stratified table, its Markdown with the caption) from the
        collected ``injections`` files, the ``strata`` files (``strata_labels``: their data set,
        model and population), the ``baselines`` and the ``evaluated`` images' tables of the
        models' data sets (``labels``: their data set and model)."""
        collected = pd.concat([pd.read_parquet(p) for p in injections], ignore_index=True)
        tables_ = {
            (label["dataset"], label["model"], label["population"]): pd.read_parquet(p)
            for p, label in zip(strata, strata_labels, strict=True)
        }
        correct = {}  # per (data set, model): the fault-free correctness of the campaign's images
        for path, images, label in zip(baselines, evaluated, labels, strict=True):
            keep = pd.read_parquet(images)["image"].to_numpy()
            correct[label["dataset"], label["model"]] = pd.read_parquet(path)["correct"].to_numpy()[
                keep
            ]
        table = stratified_table(collected, tables_, params, correct)
        strat = params["stratified"]
        caption = (
            f"Stratified campaign {params['campaign']} ({strat['strata']} strata, weighted estimates; "
            f"target: {strat['target']} to ±{100 * params['margin']:g} points). Each row estimates the rates "
            "over its population: the column Images, the initially correct or misclassified ones among the "
            "campaign's images; the intervals do not include the variation from choosing those images. "
            "Injections include the pilot, which enters no estimate. The unweighted tables are not produced "
            "for a stratified campaign."
        )
        return table, f"{caption}\n\n{published(table).to_markdown(index=False)}\n"


def population_images(population: str, correct: np.ndarray) -> np.ndarray:
    """Positions (among the campaign's images) of a population's images."""
    if population == "all":
        return np.arange(len(correct))
    return np.flatnonzero(correct == (population == "fi_correct"))


def count_bytes(sites: pd.DataFrame) -> int:
    """Bytes of one image's value-class counts over ``sites`` (:func:`dnnfi.designs.strata.image_counts`:
    3 + 2 x bits per site, 2 bytes each below 65,536 elements per image, else 4)."""
    itemsize = sites["size"].map(lambda size: np.dtype(count_dtype(size)).itemsize)
    return int(((3 + 2 * sites["dtype"].map(n_bits)) * itemsize).sum())


def output_bytes(sites: pd.DataFrame) -> int:
    """Bytes of one image's outputs of ``sites``."""
    return int((sites["size"] * sites["dtype"].map(n_bits) // 8).sum())


def draw_bytes(sites: pd.DataFrame, n_images: int, block: int) -> int:
    """What the draw holds besides the model and the images: the counts of every image and the
    site outputs of one block of ``block`` images."""
    return n_images * count_bytes(sites) + block * output_bytes(sites)


def check_memory(
    sites: pd.DataFrame, n_images: int, block: int, campaign: str, memory_bytes: int
) -> None:
    """Refuse a population whose counts and golden block (:func:`draw_bytes`) would take more than
    half of ``memory_bytes`` (the job's memory, its resource ``mem_mb``)."""
    need = draw_bytes(sites, n_images, block)
    if need > memory_bytes // 2:
        raise ValueError(
            f"config key campaigns.{campaign}.images: the strata's golden pass counts the values of "
            f"every site for each of the population's {n_images} images, {need / 2**30:.1f} GiB "
            f"with one block of {block} images' site outputs, more than half of the job's "
            f"{memory_bytes / 2**30:.1f} GiB (resource mem_mb); expected fewer images"
        )


def population_strata(injector, x: np.ndarray, images: np.ndarray, spec: dict, memory_mb: int):
    """(atoms, strata table, stratum of each atom, per-image counts, golden values of population
    positions, images per golden block) of a population: exact weights counted in golden passes
    over the population's images ``x[images]``, of which only the counts are kept
    (``memory_mb``: the job's memory, see :func:`check_memory`)."""
    sites = injector.sites()
    sites = sites[sites["eligible"]]
    block = injector.rows  # images per golden pass: one engine pass, whose values are dropped
    check_memory(sites, len(images), block, spec["campaign"], memory_mb * 2**20)

    def site_values(positions: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        return injector.golden_site_values(x[images[positions]], names)

    counts = golden_counts(site_values, len(images), list(sites["site"]), block)
    atoms = atom_table(sites, counts.__getitem__, spec["sampling"], spec["bits"])
    table, codes = strata_of(atoms, spec["stratified"]["strata"])
    return atoms, table, codes, counts, site_values, block


def outcome_counts(results: pd.DataFrame, n_strata: int, scm) -> pd.DataFrame:
    """Per-stratum counts of injections with ``stratum``, ``outcome``, ``sdc_top5`` and the top-1
    columns; ``scm(golden_top1, faulty_top1)`` is the taxonomy's rule."""
    flagged = results.assign(scm=scm(results["golden_top1"], results["faulty_top1"]))
    return stratum_counts(flagged, n_strata)


def target_met(earlier: pd.DataFrame, strata: pd.DataFrame, spec: dict, scm) -> bool:
    """Whether the allocation rounds among ``earlier`` (outcomes with ``round``) meet the target margin."""
    done = earlier[earlier["round"] > 0]
    return len(done) > 0 and margin_reached(
        outcome_counts(done, len(strata), scm),
        strata["weight"].to_numpy(),
        spec["stratified"]["target"],
        spec["margin"],
        spec["confidence"],
    )


def round_faults(
    injector,
    x: np.ndarray,
    images: np.ndarray,
    spec: dict,
    keys: tuple,
    r: int,
    memory_mb: int,
    earlier: pd.DataFrame | None = None,
    scm=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fault list of round r, strata table) of a population; ``keys``: (data set, model,
    population); ``memory_mb``: the job's memory (:func:`check_memory`); ``earlier``: the
    outcomes of the rounds before r >= 1, with ``round`` (its allocation follows the pilot's and
    the need they predict, :func:`dnnfi.designs.strata.round_allocation`)."""
    strat = spec["stratified"]
    if len(images) == 0:
        raise ValueError(
            f"model {keys[1]}: population {keys[2]} has no image among the campaign's images, "
            f"so its rates are undefined (config key campaigns.{spec['campaign']}.image_sampling)"
        )
    steps = Progress(
        total=2, desc=f"round-{r}", mininterval=0
    )  # a line after the golden pass, one at the end
    atoms, table, codes, counts, site_values, block = population_strata(
        injector, x, images, spec, memory_mb
    )
    steps.update()
    weights = table["weight"].to_numpy()
    if r == 0:
        if strat["pilot"] < len(table):
            raise ValueError(
                f"config key campaigns.{spec['campaign']}.stratified.pilot: {strat['pilot']} injections "
                f"for {len(table)} strata of model {keys[1]} ({keys[2]}); expected at least one per stratum"
            )
        n = pilot_allocation(weights, strat["pilot"])
    else:
        rounds = earlier[earlier["round"] > 0]
        n = round_allocation(
            outcome_counts(earlier[earlier["round"] == 0], len(table), scm),
            outcome_counts(rounds, len(table), scm) if len(rounds) else None,
            weights,
            strat["target"],
            spec["margin"],
            strat["pilot"],
            strat["round"],
            strat["max_injections"],
            confidence=spec["confidence"],
        )
    rng = rng_for(spec["seed"], spec["campaign"], *keys, r)
    faults = draw_strata(
        atoms, codes, n, rng, counts.__getitem__, site_values, images, spec["fault_model"], block
    )
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
    row = {
        "strata": strat["strata"],
        "n_strata": len(strata),
        "target": strat["target"],
        "target_margin": spec["margin"],
        "confidence": spec["confidence"],
        "injections": len(injections),
        "pilot": int((injections["round"] == 0).sum()),
        "rounds": rounds["round"].nunique(),
    }
    estimates = estimate(
        stratum_counts(rounds, len(strata)), strata["weight"].to_numpy(), spec["confidence"]
    )
    row["achieved_margin"] = float(estimates[strat["target"]]["margin"])
    row["stopped_by"] = "margin" if row["achieved_margin"] <= spec["margin"] else "max_injections"
    row["uniform_injections"] = uniform_injections(
        strat["target"],
        float(estimates["sdc_rate"]["estimate"]),
        float(estimates["scm_probability"]["estimate"]),
        max(row["achieved_margin"], spec["margin"]),  # a margin beyond the target is no gain
        spec["confidence"],
    )
    row["gain"] = row["uniform_injections"] / row["injections"]
    for metric in METRICS:
        for part, column in (
            ("estimate", metric),
            ("lo", f"{metric}_lo"),
            ("hi", f"{metric}_hi"),
            ("margin", f"{metric}_margin"),
        ):
            row[column] = float(estimates[metric][part])
    return row


def uniform_injections(
    target: str, sdc_rate: float, scm_probability: float, margin: float, confidence: float
) -> float:
    """Injections a uniform campaign needs for ``margin`` on ``target`` at the estimated rates:
    z^2 p (1 - p) / margin^2 for the SDC rate; that many SDCs for the SCM probability R (z^2 R
    (1 - R) / margin^2), divided by the SDC rate. NaN where the rates give no such number."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    p = sdc_rate if target == "sdc_rate" else scm_probability
    need = z**2 * p * (1 - p) / margin**2
    if target != "sdc_rate":
        need = need / sdc_rate if sdc_rate > 0 else np.nan
    return float(need) if need > 0 else np.nan


def stratified_table(
    injections: pd.DataFrame,
    strata: dict[tuple, pd.DataFrame],
    spec: dict,
    correct: dict[tuple, np.ndarray],
) -> pd.DataFrame:
    """Per data set, model and population (``scenario``): the population's ``images``, the
    weighted estimates with intervals, the design, the injections (pilot included), the allocation
    rounds and the achieved margin. ``correct[(dataset, model)]``: whether the fault-free model
    classifies each of the campaign's images correctly."""
    rows = []
    for (dataset, model, population), table in sorted(strata.items()):
        mine = injections[
            (injections["dataset"] == dataset)
            & (injections["model"] == model)
            & (injections["population"] == population)
        ]
        images = len(population_images(population, correct[dataset, model]))
        rows.append(
            {"dataset": dataset, "model": model, "scenario": population, "images": images}
            | summary_row(mine, table, spec)
        )
    return pd.DataFrame(rows)


def published(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown layout of :func:`stratified_table` (percent, intervals in brackets)."""
    from dnnfi.analysis.aggregate import SCENARIO_LABELS
    from dnnfi.analysis.intervals import percent

    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    out = pd.DataFrame(
        {
            "Data set": table["dataset"],
            "Model": table["model"],
            "Scenario": table["scenario"].map(SCENARIO_LABELS),
            "Images": table["images"],
            "Design": [f"{s} ({n} strata)" for s, n in zip(table["strata"], table["n_strata"])],
            "Injections (pilot)": [
                f"{n} ({p})" for n, p in zip(table["injections"], table["pilot"])
            ],
            "Rounds": table["rounds"],
            "Target": table["target"],
            "Achieved margin": ["±" + s for s in percent(table["achieved_margin"])],
            "Target margin": ["±" + s for s in percent(table["target_margin"])],
            "Uniform injections for that margin (gain)": [
                f"{u:,.0f} ({g:.1f}x)" if np.isfinite(u) else ""
                for u, g in zip(table["uniform_injections"], table["gain"])
            ],
        }
    )
    names = {
        "sdc_rate": "SDC rate",
        "sdc_top5_rate": "SDC top-5",
        "due_rate": "DUE rate",
        "scm_rate": "SCM rate",
        "scm_probability": "SCM probability",
    }
    for metric, label in names.items():
        out[f"{label} [{conf} CI]"] = percent(
            table[metric], table[f"{metric}_lo"], table[f"{metric}_hi"]
        )
    return out


DESIGN = Stratified()
