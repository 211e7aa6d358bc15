"""The weight failure-rate design (``design: weight_rate``; docs/semantics.md, section 6): per
model, frate and perturbation, ``replicas`` independent corruptions of round(frate x N) stored
weights, each evaluated on the same images; replica errors, descriptive statistics and tests.

A replica's generator derives from (seed, campaign, data set, model, frate, perturbation,
replica), so any shard layout draws the same faults; ``shards`` cut the (frate, perturbation,
replica) units of a model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import yaml

from dnnfi.designs.base import (
    BIT_MODELS,
    COMMON_KEYS,
    ConfigError,
    Design,
    ShardJob,
    figures,
    statistics,
    tables,
)
from dnnfi.faults.bitflip import FAULT_MODELS
from dnnfi.faults.lists import DISTRIBUTIONS

WEIGHT_KEYS = yaml.safe_load("""
frates:
  type: array
  minItems: 1
  uniqueItems: true
  items: {type: number, exclusiveMinimum: 0, maximum: 1}
  default: [0.00001, 0.00003, 0.00005]
  description: Failure rates (share of weights corrupted per replica).
perturbations:
  type: array
  minItems: 1
  uniqueItems: true
  items: {type: string}
  default: [zero, random]
  description: "zero: set to 0; random: a value from `distribution`; bitflip: one bit flipped (from `bits`); stuck_at_0 / stuck_at_1: one bit (from `bits`) forced to 0 / 1."
distribution:
  type: string
  default: layer_uniform
  description: "Random values: uniform in the tensor's own [min, max], normal with its mean and std, or uniform in `value_range`."
value_range:
  type: [array, "null"]
  items: {type: number}
  minItems: 2
  maxItems: 2
  default: null
  description: "[low, high] of the uniform distribution."
replicas:
  type: integer
  minimum: 1
  default: 10
  description: Independent draws per (model, frate, perturbation); at least 2 (the statistics need a variance).
biases:
  type: boolean
  default: false
  description: Also corrupt the biases of the chosen layer types.
normalization:
  type: boolean
  default: false
  description: Also corrupt the scale and shift of normalization layers.
layer_types:
  type: array
  minItems: 1
  uniqueItems: true
  items: {type: string, enum: [conv, linear]}
  default: [conv, linear]
  description: Layer types whose weights may be corrupted.
""")
# the fault contract's values (dnnfi.faults), written once
WEIGHT_KEYS["perturbations"]["items"]["enum"] = list(FAULT_MODELS)
WEIGHT_KEYS["distribution"]["enum"] = list(DISTRIBUTIONS)
#: the keys of a shard job's parameters (in this order: a job's parameters are compared as text)
SHARD_KEYS = [
    "images",
    "frates",
    "perturbations",
    "replicas",
    "layer_types",
    "biases",
    "normalization",
    "distribution",
    "value_range",
    "bits",
]
TABLES = ["summary", "replicas"]
#: statistics of a weight_rate campaign (``results/stats/<campaign>/<name>.csv``)
STATS = (
    "descriptive",
    "anova_models",
    "anova_factorial",
    "equal_variance",
    "std_intervals",
    "tukey",
)
FIGURES = ["error_vs_frate", "replica_boxplots", "std_intervals"]


def units(campaign: dict) -> int:
    """Replicas of one model: frates x perturbations x replicas."""
    return len(campaign["frates"]) * len(campaign["perturbations"]) * campaign["replicas"]


def stats_not_applicable(campaign: dict) -> dict[str, str]:
    """The statistics a campaign's layout cannot support, with the reason (test name -> reason);
    the stats job writes their rows as not applicable instead of numbers."""
    reasons = {}
    if len(campaign["models"]) < 2:
        reasons["anova_models"] = "one model: no comparison across models"
        reasons["tukey"] = "one model: no pairs of models to compare"
    if len(campaign["frates"]) < 2:
        reasons["equal_variance"] = "one frate: no variances across frates to compare"
    if (
        len(campaign["models"]) < 2
        and len(campaign["frates"]) < 2
        and len(campaign["perturbations"]) < 2
    ):
        reasons["anova_factorial"] = "one model, one frate and one perturbation: no factor varies"
    return reasons


class WeightRate(Design):
    name = "weight_rate"
    kind = "weight_rate"
    shard_rule = "inject_weight_rate"
    summary = "frate x weights corrupted per replica, replicas per (model, frate, perturbation); errors and statistics"
    keys = COMMON_KEYS | WEIGHT_KEYS

    def check(self, name: str, campaign: dict, config: dict) -> None:
        key = f"config key campaigns.{name}"
        if campaign["replicas"] < 2:
            raise ConfigError(
                f"{key}.replicas: 1 replica gives no variance, so no statistic of the campaign (std, ANOVA, Levene, "
                "Bartlett, Tukey, std intervals) can be computed; expected at least 2"
            )
        value_range = campaign["value_range"]
        if value_range is not None and not value_range[0] < value_range[1]:
            raise ConfigError(
                f"{key}.value_range: expected [low, high] with low < high, got {value_range}"
            )
        uniform = campaign["distribution"] == "uniform"
        if uniform != (value_range is not None):
            raise ConfigError(
                f"{key}.value_range: "
                + (
                    "required by distribution uniform"
                    if uniform
                    else f"applies to distribution uniform only, not {campaign['distribution']}"
                )
            )
        if (
            "random" not in campaign["perturbations"]
            and campaign["distribution"] != "layer_uniform"
        ):
            raise ConfigError(
                f"{key}.distribution: applies to the random perturbation, "
                f"which perturbations {campaign['perturbations']} do not include"
            )
        if campaign["bits"] is not None and not set(BIT_MODELS) & set(campaign["perturbations"]):
            raise ConfigError(
                f"{key}.bits: applies to bitflip / stuck_at perturbations, "
                f"which perturbations {campaign['perturbations']} do not include"
            )
        n, shards = units(campaign), campaign["shards"]
        if shards > n:
            raise ConfigError(
                f"{key}.shards: {shards} shards for {n} replicas per model ({len(campaign['frates'])} frates x "
                f"{len(campaign['perturbations'])} perturbations x {campaign['replicas']} replicas); "
                f"expected at most {n}"
            )

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        return self.keyed_params(SHARD_KEYS, name, campaign, model, seed)

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        return units(campaign) / campaign["shards"] * images

    def outputs(self, name: str, campaign: dict) -> list[str]:
        return (
            tables(name, TABLES)
            + statistics(name, STATS)
            + figures(name, FIGURES)
            + tables(name, ["summary"], "md")
        )

    # -- the job ------------------------------------------------------------------------------

    def shard_units(
        self, params: dict, dataset: str, model: str, shard: int
    ) -> list[tuple[float, str, int, np.random.Generator]]:
        """The (frate, perturbation, replica, generator) units of a shard; each generator depends
        on those names only, so any shard layout draws the same faults."""
        from dnnfi.faults.lists import shard_slice
        from dnnfi.faults.seeds import rng_for

        all_units = list(
            itertools.product(params["frates"], params["perturbations"], range(params["replicas"]))
        )
        return [
            (
                frate,
                perturbation,
                replica,
                rng_for(
                    params["seed"], params["campaign"], dataset, model, frate, perturbation, replica
                ),
            )
            for frate, perturbation, replica in all_units[
                shard_slice(len(all_units), shard, params["shards"])
            ]
        ]

    def shard_job(self, job: ShardJob, injector) -> pd.DataFrame:
        """The body of a weight-rate shard job (both frameworks): per (frate, perturbation,
        replica) unit of the shard, draw the faults (:func:`dnnfi.faults.lists.draw_weight_faults`),
        apply them with the framework's weight ``injector`` and record top-1 / top-5 error on the
        evaluated images beside the fault list."""
        from dnnfi.engines.runner import evaluated_images
        from dnnfi.faults.lists import draw_weight_faults
        from dnnfi.faults.outcomes import error_rates, top_k
        from dnnfi.faults.precision import check_format
        from dnnfi.workflow.runlog import Progress

        params = job.params
        x, y, _ = evaluated_images(job.test, job.images, job.model_spec["preprocess"])
        x = x[:]  # every replica runs all the images: preprocessed once
        sites = injector.sites(params["layer_types"], params["biases"], params["normalization"])
        check_format(sites, job.model_spec["precision"], f"models.{job.model}")
        rows = []
        for frate, perturbation, replica, rng in Progress(
            self.shard_units(params, job.dataset, job.model, job.shard), desc="replicas"
        ):
            faults = draw_weight_faults(
                sites, rng, rate=frate, fault_model=perturbation, bits=params["bits"]
            )
            with injector.applied(faults, params["distribution"], params["value_range"]):
                faulty = injector.logits(x)
            top1_error, top5_error = error_rates(top_k(faulty)[0], y)
            rows.append(
                dict(
                    frate=frate,
                    perturbation=perturbation,
                    replica=replica,
                    n_faults=len(faults),
                    pass_rows=injector.rows,
                    top1_error=top1_error,
                    top5_error=top5_error,
                    fault_site=list(faults["site"]),
                    fault_element=list(faults["element"]),
                    fault_bit=list(faults["bit"]),
                    fault_random_u=list(faults["random_u"]),
                )
            )
        return pd.DataFrame(rows)


DESIGN = WeightRate()
