"""What the workflow asks of a campaign design, the key groups the designs share, and the
paths of a campaign's files.

A design is one object (a subclass of :class:`Design`, registered by name in
:mod:`dnnfi.designs`) that owns everything its campaigns do differently: its config keys (a
fragment of the JSON schema, with their defaults and descriptions), its checks, its shard layout
and the parameters of its jobs, the files a shard job reads besides the model and the data, and
the campaign's final outputs (tables, figures). The workflow (``workflow/rules/common.smk``)
asks the campaign's design and never tests for a design by name.

Nothing here imports a framework or jsonschema: the job scripts import the designs in every
job's environment (envs/*.yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from dnnfi.errors import ConfigError
from dnnfi.faults.bitflip import FAULT_MODELS
from dnnfi.faults.lists import BIT_MODELS, SAMPLING_MODES

if TYPE_CHECKING:
    import pandas as pd

# ---------------------------------------------------------------------------------------------
# paths (workflow/rules/common.smk takes its campaign patterns from here)

#: one model's files of a campaign (shards, collected injections, bounds, rounds)
CAMPAIGN_MODEL = "results/campaigns/{campaign}/{dataset}/{model}"
#: the campaign's evaluated images of a data set (:func:`dnnfi.data.datasets.evaluated_table`)
EVALUATED = "results/campaigns/{campaign}/{dataset}/images.parquet"
SHARD = f"{CAMPAIGN_MODEL}/shard-{{shard}}.parquet"
#: a campaign's tables (csv, md), statistics and figures (png, pdf)
TABLE = "results/tables/{campaign}/{name}.{ext}"
STATISTIC = "results/stats/{campaign}/{name}.csv"
FIGURE = "results/figures/{campaign}/{name}.{ext}"


def campaign_dir(campaign: str, dataset: str, model: str) -> str:
    return CAMPAIGN_MODEL.format(campaign=campaign, dataset=dataset, model=model)


def shard_path(campaign: str, dataset: str, model: str, shard) -> str:
    return SHARD.format(campaign=campaign, dataset=dataset, model=model, shard=shard)


def tables(campaign: str, names, ext: str = "csv") -> list[str]:
    return [TABLE.format(campaign=campaign, name=name, ext=ext) for name in names]


def statistics(campaign: str, names) -> list[str]:
    return [STATISTIC.format(campaign=campaign, name=name) for name in names]


def figures(campaign: str, names) -> list[str]:
    """Every figure as PNG and PDF."""
    return [
        FIGURE.format(campaign=campaign, name=name, ext=ext)
        for name in names
        for ext in ("png", "pdf")
    ]


# ---------------------------------------------------------------------------------------------
# key groups (JSON-schema properties; config/README.md documents every key)

#: keys of every design
COMMON_KEYS = yaml.safe_load("""
models:
  type: array
  minItems: 1
  uniqueItems: true
  items: {type: string}
  description: Names of models in `models`.
images:
  type: [integer, "null"]
  minimum: 1
  default: null
  description: Evaluate on N test images evenly spread over the split (every k-th; null = all).
shards:
  type: integer
  minimum: 1
  default: 1
  description: "Jobs per model; the faults do not depend on it. At most the injections (activation) or frates x perturbations x replicas (weight_rate) of each model."
confidence:
  type: number
  exclusiveMinimum: 0
  exclusiveMaximum: 1
  default: 0.95
  description: "activation: confidence of the sample size and of every Wilson interval in the campaign's tables; weight_rate: simultaneous confidence of the std intervals."
bits:
  type: [array, "null"]
  items: {type: integer, minimum: 0, maximum: 31}
  default: null
  description: Bit positions drawn from by bit fault models (null = every bit of the tensor's format).
""")

#: keys of the activation designs that draw their own fault lists: how a fault is drawn and run
FAULT_LIST_KEYS = yaml.safe_load("""
injections:
  type: integer
  minimum: 1
  default: 1000
  description: Activation injections per model.
batch_size:
  type: integer
  minimum: 1
  default: 256
  description: "Faults evaluated together (memory and speed only): every forward pass has the fixed shape of pass_rows rows, so outcomes do not depend on it (docs/semantics.md, section 4)."
cache_mb:
  type: integer
  minimum: 1
  default: 1024
  description: "Memory of the engines' golden cache in MB (memory and speed only, not outcomes): the fault-free values of a block of images that the faults' downstream passes reuse; a job's memory is about the model, the passes of batch_size rows and this (docs/semantics.md, section 10), and its cluster resources follow from it."
per_model:
  type: object
  default: {}
  description: "Per-model overrides, e.g. {model_a: {injections: 5000}}."
  additionalProperties:
    type: object
    additionalProperties: false
    properties:
      injections: {type: integer, minimum: 1, description: Activation injections for this model.}
fault_model:
  type: string
  default: bitflip
  description: Activation fault model.
sampling:
  type: string
  default: layer_uniform
  description: "layer_uniform: seed-compatible (layer, then element); size_proportional: uniform over all elements."
bits_per_element:
  type: integer
  minimum: 1
  default: 1
  description: Distinct bits of each faulty element, flipped (bitflip) or forced (stuck_at_0, stuck_at_1); zero and random use no bit and accept only 1.
elements_per_fault:
  type: integer
  minimum: 1
  default: 1
  description: Elements of the same site output corrupted by one injection.
image_sampling:
  type: string
  enum: [uniform, per_correctness]
  default: uniform
  description: "uniform: each injection's image uniform over the test images; per_correctness: the TensorFI+ study's scheme (per_correct / per_misclassified injections per image, per_category drawn from each pool)."
per_correct:
  type: integer
  minimum: 1
  default: 5
  description: per_correctness; injections per initially correct image.
per_misclassified:
  type: integer
  minimum: 1
  default: 30
  description: per_correctness; injections per initially misclassified image.
per_category:
  type: integer
  minimum: 1
  default: 3000
  description: per_correctness; injections drawn from each pool (correct, misclassified).
""")
# the fault contract's values (dnnfi.faults), written once
FAULT_LIST_KEYS["fault_model"]["enum"] = list(FAULT_MODELS)
FAULT_LIST_KEYS["sampling"]["enum"] = list(SAMPLING_MODES)


def only(keys: dict, *names: str) -> dict:
    """The named properties of a key group, in the group's order."""
    return {k: v for k, v in keys.items() if k in names}


def without(keys: dict, *names: str) -> dict:
    return {k: v for k, v in keys.items() if k not in names}


# ---------------------------------------------------------------------------------------------
# the protocol


@dataclass(frozen=True)
class ShardJob:
    """What the workflow gives a shard job: its labels, parameters and input files (plain values,
    never Snakemake's object)."""

    #: the job's parameters (:meth:`Design.shard_params`)
    params: dict
    #: the model's config (``models.<model>``, checked)
    model_spec: dict
    dataset: str
    model: str
    shard: int
    #: the split file of the evaluated images
    test: str
    #: the campaign's evaluated images of the data set (:data:`EVALUATED`)
    images: str
    #: the model's fault-free table (activation designs)
    baseline: str | None = None
    #: the files of :meth:`Design.shard_inputs`: the rounds before it, the shard it replays, the
    #: profiled bounds
    earlier: tuple = ()
    paired: str | None = None
    bounds: str | None = None


class Design:
    """A campaign design. Subclasses set the class attributes and override what differs; every
    method takes the campaign's name and its checked spec (the config's mapping, defaults filled
    in, ``design`` set; a composed campaign also ``over``, the design it runs over)."""

    #: the value of the config key ``design``
    name: str = ""
    #: ``activation`` (faults in layer outputs) or ``weight_rate`` (faults in stored weights):
    #: which inject rules run its shards and whether its injections get SCM flags
    kind: str = "activation"
    #: the rule that runs its shards (workflow/rules/)
    shard_rule: str = "inject_activation"
    #: the rule that replays its shards with a protection (a protected campaign over it)
    replay_rule: str = "inject_activation"
    #: one line for the schema and the docs
    summary: str = ""
    #: JSON-schema properties of the design's keys (``design`` itself is added by :meth:`schema`)
    keys: dict = {}
    #: keys that must be set (the schema says which)
    required: tuple = ()
    #: a design defined for single-bit faults of one element only: the phrase naming its campaigns
    single_bit: str | None = None
    #: why this design has no key that other designs have ({key: one line}), for the schema's error
    hints: dict = {}

    # -- config -------------------------------------------------------------------------------

    def schema(self) -> dict:
        """The JSON schema of a campaign of this design (``$defs/<name>_campaign``)."""
        properties = {
            "design": {"type": "string", "const": self.name, "description": self.summary}
        } | self.keys
        out = {
            "description": f"A {self.name} campaign: {self.summary}",
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        }
        if self.required:
            out["required"] = list(self.required)
        return out

    def refuse_key(self, name: str, campaign: dict, key: str) -> str | None:
        """The one-line reason ``key`` is not a key of this design, if it has a particular one."""
        return self.hints.get(key)

    def check(self, name: str, campaign: dict, config: dict) -> None:
        """Raise :class:`ConfigError` (one line naming the key) for what the design cannot honour;
        ``config``: the whole checked config (models, other campaigns)."""

    # -- shards -------------------------------------------------------------------------------

    def n_shards(self, campaign: dict, model: str) -> int:
        """Shard jobs of a model."""
        return campaign["shards"]

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        """Everything a shard job of ``model`` depends on (the job's ``params.campaign``), per
        model, so that changing one model's settings reruns only its shards."""
        raise NotImplementedError

    def keyed_params(self, keys, name: str, campaign: dict, model: str, seed: int) -> dict:
        """The campaign's ``keys``, then ``seed``, ``campaign``, ``kind`` and ``shards``: the head
        of a uniform or weight-rate shard job's parameters (their order is part of them)."""
        params = {k: campaign[k] for k in keys}
        return params | {
            "seed": seed,
            "campaign": name,
            "kind": self.kind,
            "shards": self.n_shards(campaign, model),
        }

    def shard_inputs(self, name: str, campaign: dict, dataset: str, model: str, shard: int) -> dict:
        """Files a shard job reads besides the model, the data and the baseline, by input name
        (``earlier``: the files of the rounds before it; ``paired``: the shard file it replays;
        ``bounds``: the profiled bounds file); every name the inject rules know is present, an
        empty list where not used."""
        return {"earlier": [], "paired": [], "bounds": []}

    def shard_files(self, name: str, campaign: dict, dataset: str, model: str) -> list[str]:
        """Every shard file of a model (what its collect job reads)."""
        return [shard_path(name, dataset, model, s) for s in range(self.n_shards(campaign, model))]

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        """Faulty forward passes of one shard job (its runtime and memory estimate);
        ``images``: the images a job evaluates."""
        raise NotImplementedError

    def shard_images(self, campaign: dict, model: str, images: int) -> int:
        """Most images one shard job preprocesses and holds (its memory estimate): those its
        faults use (:func:`dnnfi.engines.runner.run_faults`), at most one per faulty pass."""
        return min(images, math.ceil(self.faulty_passes(campaign, model, images)))

    def strata_files(self, name: str, campaign: dict, datasets: dict[str, str]) -> list[str]:
        """The strata tables (weights) of a campaign that samples by strata; none here."""
        return []

    def strata_labels(self, campaign: dict, datasets: dict[str, str]) -> list[dict]:
        """The data set, model and population of each of :meth:`strata_files`, in their order."""
        return []

    # -- the job ------------------------------------------------------------------------------

    def shard_job(self, job: ShardJob, injector):
        """The body of a shard job: its table of outcomes. ``injector``: what the design's rule
        builds with the framework (an activation design gets ``make_injector(input_shape_nhwc,
        protection=None)``, the weight-rate design a weight injector)."""
        raise NotImplementedError

    def paired_table(
        self,
        protected: pd.DataFrame,
        unprotected: pd.DataFrame,
        fault_free: pd.DataFrame,
        strata: dict,
        params: dict,
    ):
        """The table of a protected campaign over this design
        (:func:`dnnfi.analysis.paired.protection_table`): its collected injections ``protected``
        and this campaign's ``unprotected`` on the same faults, the bounds jobs' ``fault_free``
        tables; ``params``: the protected campaign's checked spec (``confidence``; the pair's
        keys) with ``seed`` and ``campaign``; ``strata``: the pair's strata tables, for designs
        that weight their injections."""
        from dnnfi.analysis.paired import protection_table

        return protection_table(protected, unprotected, fault_free, params["confidence"])

    # -- outputs ------------------------------------------------------------------------------

    def outputs(self, name: str, campaign: dict) -> list[str]:
        """The campaign's final files (tables, statistics, figures): the targets of ``rule all``."""
        raise NotImplementedError


def check_single_bit(name: str, campaign: dict, phrase: str) -> None:
    """A design of single-bit faults of one element (bit sweep, strata) refuses other fault keys."""
    key = f"config key campaigns.{name}"
    if campaign["fault_model"] not in BIT_MODELS:
        raise ConfigError(
            f"{key}.fault_model: {phrase} needs a single-bit fault model ({', '.join(BIT_MODELS)}), "
            f"not {campaign['fault_model']}"
        )
    for option in ("bits_per_element", "elements_per_fault"):
        if campaign[option] != 1:
            raise ConfigError(
                f"{key}.{option}: {phrase} draws single-bit faults of one element; expected 1"
            )


def check_fault_keys(name: str, campaign: dict) -> None:
    """Bit keys on a fault model that uses no bit would be silently ignored: refuse them; and
    ``per_model`` names models of the campaign only."""
    model = campaign["fault_model"]
    if model not in BIT_MODELS:
        for key, default in (("bits", None), ("bits_per_element", 1)):
            if campaign.get(key, default) != default:
                raise ConfigError(
                    f"config key campaigns.{name}.{key}: fault model {model} uses no bit; "
                    f"remove the key or choose one of {', '.join(BIT_MODELS)}"
                )
    for model_name in campaign.get("per_model", {}):
        if model_name not in campaign["models"]:
            raise ConfigError(
                f"config key campaigns.{name}.per_model.{model_name}: not a model of this campaign, "
                f"expected one of {campaign['models']}"
            )
