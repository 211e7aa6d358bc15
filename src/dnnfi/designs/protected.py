"""The protected design (``design: protected``; docs/semantics.md, section 12): a campaign that
replays the fault list of another campaign (``paired_with``) with a checker after each protected
layer (``protection``), shard by shard, so that both give paired results on the same faults.

It composes over the design of its paired campaign (:data:`dnnfi.designs.COMPOSES_OVER` says
which): the shards, their parameters and the tables are the base design's, with the protection
added; a shard job reads the paired campaign's shard and the model's profiled bounds instead of
drawing faults (and, over a sequential campaign, instead of reading earlier rounds; over a
stratified one, instead of drawing rounds: the paired rounds after its stop are empty, and so are
the replays). The paired table is the base design's (:meth:`dnnfi.designs.base.Design.paired_table`:
plain paired counts, or weighted by the strata of a stratified pair). Every fault-list key comes
from the paired campaign; only the keys below may be set here.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import yaml

from dnnfi.designs.base import (
    COMMON_KEYS,
    FAULT_LIST_KEYS,
    ConfigError,
    Design,
    ShardJob,
    campaign_dir,
    figures,
    shard_path,
    tables,
)
from dnnfi.designs.uniform import Uniform
from dnnfi.engines.protection import METHODS

PROTECTED_KEYS = yaml.safe_load("""
paired_with:
  type: string
  description: "The campaign whose fault list this one replays (same faults, same images, same shards); its fault keys are taken from there."
protection:
  type: object
  description: "A checker after each protected layer (docs/semantics.md, section 12)."
  additionalProperties: false
  required: [method]
  properties:
    method:
      type: string
      description: "range_restriction: out-of-range values (NaN too) to the nearer bound (NaN: min); clip_to_zero: out-of-range values and NaN to 0."
    layers:
      type: string
      default: activations
      description: "activations (activation-function outputs, the last layer excepted), all, or a regular expression searched in layer names."
    profile_images:
      type: integer
      minimum: 1
      default: 1000
      description: Train images (evenly spread; the test split if the data set has none) whose fault-free outputs give each layer's [min, max].
""")
PROTECTED_KEYS["protection"]["properties"]["method"]["enum"] = list(METHODS)  # the engines'


def _inherited(keys: dict) -> dict:
    """Properties without their defaults: a key not set here comes from the paired campaign."""
    return {k: {p: v for p, v in prop.items() if p != "default"} for k, prop in keys.items()}


class Protected(Design):
    name = "protected"
    summary = "the fault list of the campaign paired_with, replayed with a checker after each protected layer"
    keys = (
        _inherited(
            {
                "models": COMMON_KEYS["models"]
                | {"description": "Models of the paired campaign to protect (default all)."}
            }
        )
        | PROTECTED_KEYS
        | _inherited({k: FAULT_LIST_KEYS[k] for k in ("batch_size", "cache_mb")})
        | _inherited({"confidence": COMMON_KEYS["confidence"]})
    )
    required = ("paired_with", "protection")
    #: the tables of the pair beside the campaign's own
    TABLES = ["protection"]
    FIGURES = ["protection"]

    def __init__(self, base: Design | None = None):
        #: the design of the paired campaign, whose shards and tables this one takes
        self.base = base

    def over(self, base: Design) -> Protected:
        """This design over the paired campaign's."""
        return Protected(base)

    @property
    def shard_rule(self) -> str:
        """The rule that replays the base design's shards."""
        return self.base.replay_rule if self.base else Design.shard_rule

    def refuse_key(self, name: str, campaign: dict, key: str) -> str | None:
        return (
            f"a protected campaign replays the faults of campaigns.{campaign.get('paired_with')} (paired_with); "
            f"set {key} there, here only {', '.join(['design', *self.keys])}"
        )

    def inherit(self, name: str, campaign: dict, paired: dict) -> None:
        """Take every key of the (checked) paired campaign not set here, in place."""
        import copy

        extra = sorted(set(campaign.get("models", [])) - set(paired["models"]))
        if extra:
            raise ConfigError(
                f"config key campaigns.{name}.models: model {extra[0]} is not a model of "
                f"campaigns.{campaign['paired_with']}, expected some of {paired['models']}"
            )
        campaign.update(
            {k: copy.deepcopy(v) for k, v in paired.items() if k not in campaign and k != "design"}
        )

    def check(self, name: str, campaign: dict, config: dict) -> None:
        layers = campaign["protection"]["layers"]
        try:
            re.compile(layers)
        except re.error as e:
            raise ConfigError(
                f"config key campaigns.{name}.protection.layers: {layers!r} is not a regular "
                f"expression ({e})"
            ) from None

    # -- shards: the base design's, replayed --------------------------------------------------

    def planned_injections(self, campaign: dict, model: str) -> int:
        return self.base.planned_injections(campaign, model)

    def max_injections(self, campaign: dict, model: str) -> tuple[int, str]:
        return self.base.max_injections(campaign, model)

    def n_shards(self, campaign: dict, model: str) -> int:
        return self.base.n_shards(campaign, model)

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        params = self.base.shard_params(name, campaign, model, seed)
        head = list(params)[
            : list(params).index("shards") + 1
        ]  # the protection after the shard count
        return (
            {k: params[k] for k in head}
            | {k: campaign[k] for k in ("protection", "paired_with")}
            | {k: v for k, v in params.items() if k not in head}
        )

    def shard_inputs(self, name: str, campaign: dict, dataset: str, model: str, shard: int) -> dict:
        """The paired campaign's same shard (same faults) and the model's bounds; no earlier
        rounds (a sequential pair's rounds after its stop are empty: so are these)."""
        return {
            "earlier": [],
            "paired": shard_path(campaign["paired_with"], dataset, model, shard),
            "bounds": self.bounds_file(name, dataset, model),
        }

    def shard_files(self, name: str, campaign: dict, dataset: str, model: str) -> list[str]:
        return self.base.shard_files(name, campaign, dataset, model)

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        return self.base.faulty_passes(campaign, model, images)

    def shard_images(self, campaign: dict, model: str, images: int) -> int:
        return self.base.shard_images(campaign, model, images)

    def strata_files(self, name: str, campaign: dict, datasets: dict[str, str]) -> list[str]:
        """The paired campaign's strata tables: the replays are weighted as the faults were drawn."""
        return self.base.strata_files(campaign["paired_with"], campaign, datasets)

    def strata_labels(self, campaign: dict, datasets: dict[str, str]) -> list[dict]:
        return self.base.strata_labels(campaign, datasets)

    def outputs(self, name: str, campaign: dict) -> list[str]:
        """The base design's tables (judged against the protected fault-free run) and the paired table."""
        return (
            self.base.outputs(name, campaign)
            + tables(name, self.TABLES)
            + figures(name, self.FIGURES)
        )

    # -- the jobs ------------------------------------------------------------------------------

    def shard_job(self, job: ShardJob, make_injector) -> pd.DataFrame:
        """The job of the uniform design (:meth:`dnnfi.designs.uniform.Uniform.shard_job`) with this
        design's injector and results: the paired campaign's shard file ``job.paired`` replayed
        (same faults, same images) with the protection of the bounds file ``job.bounds``. An empty
        shard (a sequential or stratified pair's round after its stop) is replayed as it is, and
        loads no framework."""
        paired = pd.read_parquet(job.paired)
        if not len(paired):
            return paired
        return Uniform.shard_job(self, job, make_injector)

    def injector(self, make_injector, shape, job: ShardJob):
        return protected_injector(make_injector, shape, job.params, job.bounds)

    def shard_results(
        self, injector, x: np.ndarray, keep: np.ndarray, job: ShardJob
    ) -> pd.DataFrame:
        """The replayed outcomes, with the paired rows' round, population and stratum (those of
        a stratified pair), which weight them as their faults were drawn."""
        from dnnfi.engines.runner import replay

        paired = pd.read_parquet(job.paired)
        results = replay(paired_faults(paired, keep, job.params), injector, x)
        if not np.array_equal(results["fault_id"].to_numpy(), paired["fault_id"].to_numpy()):
            raise AssertionError("the replay's rows are not in the order of its fault list")
        return results.assign(**{c: paired[c].to_numpy() for c in CARRIED if c in paired})

    def table_job(self, *args) -> tuple[pd.DataFrame, str]:
        """The base design's table job on the replayed outcomes (a stratified pair's weighted table)."""
        return self.base.table_job(*args)

    def protection_table(self, *tables) -> pd.DataFrame:
        """The paired table of the campaign: the base design's
        (:meth:`dnnfi.designs.base.Design.paired_table`, the same arguments)."""
        return self.base.paired_table(*tables)

    def bounds_job(
        self,
        params: dict,
        campaign: str,
        preprocessing: str,
        make_injector,
        profile: str,
        test: str,
        images: str,
        path: str,
    ) -> pd.DataFrame:
        """The body of a bounds job of ``campaign`` (``params``: :meth:`bounds_params`): writes the
        bounds table (file ``path``) of the model's site outputs on ``profile_images`` images of
        the split file ``profile`` and returns, per evaluated image (split file ``test``, the
        campaign's table ``images``), the fault-free top-1 without and with the campaign's
        protection (same injector path)."""
        import logging

        from dnnfi.data.datasets import Split
        from dnnfi.data.preprocess import preprocess
        from dnnfi.engines.runner import evaluated_images
        from dnnfi.workflow.runlog import Progress

        steps = Progress(
            total=3, desc="bounds", mininterval=0
        )  # a line per pass (profile, plain, protected)
        profiled = Split.load(profile).spread(params["protection"]["profile_images"])
        plain = make_injector(profiled.x.shape[1:])
        bounds = plain.ranges(preprocess(profiled.x, preprocessing))
        steps.update()
        x, labels, keep = evaluated_images(test, images, preprocessing)
        x = x[:]  # two fault-free passes over all the images: preprocessed once
        bounds.to_csv(path, index=False)
        protected = protected_injector(
            make_injector, x.shape[1:], {**params, "campaign": campaign}, path
        )
        unprotected = plain.golden_logits(x).argmax(axis=1)
        steps.update()
        fault_free = pd.DataFrame(
            {
                "image": keep,
                "label": labels,
                "top1_unprotected": unprotected,
                "top1_protected": protected.golden_logits(x).argmax(axis=1),
            }
        )
        steps.update()
        steps.close()
        logging.getLogger("dnnfi").info(
            "bounds of %d sites; fault-free top-1 changed on %d of %d images",
            len(bounds),
            (fault_free["top1_unprotected"] != fault_free["top1_protected"]).sum(),
            len(x),
        )
        return fault_free

    # -- the bounds job's files ---------------------------------------------------------------

    def bounds_file(self, name: str, dataset: str, model: str) -> str:
        return f"{campaign_dir(name, dataset, model)}/bounds.csv"

    def fault_free_file(self, name: str, dataset: str, model: str) -> str:
        return f"{campaign_dir(name, dataset, model)}/fault_free.parquet"

    def bounds_params(self, campaign: dict) -> dict:
        """What a bounds job depends on: the protection and the evaluated images."""
        return {"protection": campaign["protection"], "images": campaign["images"]}

    def paired_files(
        self, name: str, campaign: dict, datasets: dict[str, str], file: str, paired: bool = False
    ) -> list[str]:
        """Per model: ``file`` (injections.parquet, fault_free.parquet) of the campaign, or with
        ``paired`` of its paired campaign (``datasets``: the data set of each model)."""
        campaign_name = campaign["paired_with"] if paired else name
        return [f"{campaign_dir(campaign_name, datasets[m], m)}/{file}" for m in campaign["models"]]


#: columns of a paired shard that its replay keeps (a stratified pair's round, population, stratum)
CARRIED = ("round", "population", "stratum")


def protected_injector(make_injector, shape, spec: dict, bounds_csv: str):
    """The injector with the campaign's protection on the sites it selects, bounds from ``bounds_csv``."""
    from dnnfi.engines.protection import Protection, read_bounds

    p = spec["protection"]
    sites = make_injector(shape).sites()
    protection = Protection.from_bounds(
        p["method"],
        p["layers"],
        read_bounds(bounds_csv),
        sites,
        key=f"campaigns.{spec['campaign']}.protection",
    )
    return make_injector(shape, protection)


def paired_faults(shard: pd.DataFrame, keep: np.ndarray, spec: dict) -> pd.DataFrame:
    """The paired campaign's shard with ``image`` as a position in the evaluated images ``keep``."""
    position = np.searchsorted(keep, shard["image"].to_numpy())
    if (
        not (position < len(keep)).all()
        or not (keep[np.minimum(position, len(keep) - 1)] == shard["image"]).all()
    ):
        raise ValueError(
            f"config key campaigns.{spec['campaign']}.paired_with: the shard of {spec['paired_with']} "
            "uses images this campaign does not evaluate (rerun it with the current config)"
        )
    return shard.assign(image=position)


DESIGN = Protected()
