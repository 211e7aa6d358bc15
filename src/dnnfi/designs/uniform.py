"""The uniform design (``design: uniform``): each model gets a fixed number of independent
activation faults, drawn from (seed, campaign, data set, model) alone and cut into ``shards``
jobs; the unweighted tables (summary, outcomes, by layer, by bit, SCM) and their figures.

Its fault list is also the one the sequential and bit-sweep designs draw (:func:`campaign_faults`).
The number of injections is ``injections`` (or ``per_model.<model>.injections``), Leveugle et
al.'s sample size of ``margin`` when set (docs/semantics.md, section 8), or with
``per_correctness`` image sampling what the baseline gives (at most 2 x ``per_category``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnnfi.designs.base import (
    COMMON_KEYS,
    FAULT_LIST_KEYS,
    ConfigError,
    Design,
    ShardJob,
    check_fault_keys,
    figures,
    tables,
)

#: the keys of a shard job's parameters (in this order: a job's parameters are compared as text)
SHARD_KEYS = [
    "images",
    "batch_size",
    "cache_mb",
    "fault_model",
    "bits",
    "sampling",
    "bits_per_element",
    "elements_per_fault",
    "image_sampling",
    "per_correct",
    "per_misclassified",
    "per_category",
]
TABLES = ["summary", "outcomes", "by_layer", "by_bit", "scm"]
FIGURES = ["sdc_rate", "scm_probability", "sdc_by_bit", "sdc_by_layer"]

MARGIN = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "exclusiveMaximum": 1,
    "default": None,
    "description": "Target margin (half-width, share) of each model's SDC rate interval; null: run `injections`. "
    "Leveugle et al.'s sample size (dnnfi.analysis.sample_size.leveugle_sample_size) replaces `injections`.",
}


def leveugle(margin: float, confidence: float) -> int:
    from dnnfi.analysis.sample_size import leveugle_sample_size

    return leveugle_sample_size(margin, confidence)


class Uniform(Design):
    name = "uniform"
    summary = "independent activation faults, a fixed number per model (injections, or the sample size of margin)"
    keys = COMMON_KEYS | FAULT_LIST_KEYS | {"margin": MARGIN}
    #: what counts the shards' rows, for the shards check
    unit = "injections"

    # -- config -------------------------------------------------------------------------------

    def planned_injections(self, campaign: dict, model: str) -> int:
        """Injections of a model: Leveugle et al.'s sample size of ``margin``, else the per-model
        or campaign ``injections``. Not used by ``per_correctness`` image sampling, whose count
        follows from the baseline (see :meth:`max_injections`)."""
        if campaign.get("margin") is not None:
            return leveugle(campaign["margin"], campaign["confidence"])
        return campaign["per_model"].get(model, {}).get("injections", campaign["injections"])

    def max_injections(self, campaign: dict, model: str) -> tuple[int, str]:
        """The most injections a model can get, and where the number comes from."""
        if campaign["image_sampling"] == "per_correctness":
            return 2 * campaign["per_category"], "2 x per_category (per_correctness image sampling)"
        if campaign.get("margin") is not None:
            return self.planned_injections(
                campaign, model
            ), f"Leveugle sample size of margin {campaign['margin']}"
        if model in campaign["per_model"] and "injections" in campaign["per_model"][model]:
            return self.planned_injections(campaign, model), f"per_model.{model}.injections"
        return self.planned_injections(campaign, model), "injections"

    def check(self, name: str, campaign: dict, config: dict) -> None:
        check_fault_keys(name, campaign)
        self.check_shards(name, campaign)

    def check_shards(self, name: str, campaign: dict) -> None:
        """No shard may be empty by construction: shards <= the injections of every model."""
        shards = campaign["shards"]
        for model in campaign["models"]:
            most, source = self.max_injections(campaign, model)
            if shards > most:
                raise ConfigError(
                    f"config key campaigns.{name}.shards: {shards} shards for {most} {self.unit} of "
                    f"model {model} ({source}); expected at most {most}"
                )

    # -- shards -------------------------------------------------------------------------------

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        params = self.keyed_params(SHARD_KEYS, name, campaign, model, seed)
        params["injections"] = self.planned_injections(campaign, model)
        return params

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        return self.max_injections(campaign, model)[0] / self.n_shards(campaign, model)

    def outputs(self, name: str, campaign: dict) -> list[str]:
        return tables(name, TABLES) + figures(name, FIGURES) + tables(name, ["summary"], "md")

    # -- the job (framework-free: the injector is passed in) ----------------------------------

    def fault_list(
        self, sites: pd.DataFrame, params: dict, dataset: str, model: str, correct: np.ndarray
    ) -> pd.DataFrame:
        """The campaign's full fault list for one model (``params``: the shard job's parameters;
        ``correct``: whether the fault-free model classifies each evaluated image correctly)."""
        return campaign_faults(sites, params, dataset, model, correct)

    def shard_rows(self, faults: pd.DataFrame, shard: int, params: dict) -> slice:
        """Rows of the fault list that shard ``shard`` runs: an even cut."""
        from dnnfi.faults.lists import shard_slice

        return shard_slice(len(faults), shard, params["shards"])

    def run_shard(
        self,
        injector,
        x: np.ndarray,
        correct: np.ndarray,
        params: dict,
        dataset: str,
        model: str,
        shard: int,
    ) -> pd.DataFrame:
        """Outcomes of one shard of the campaign's fault list for ``model`` on images ``x``."""
        from dnnfi.engines.runner import run_faults

        sites = injector.sites()
        faults = self.fault_list(sites, params, dataset, model, correct)
        return run_faults(injector, faults.iloc[self.shard_rows(faults, shard, params)], sites, x)

    def shard_job(self, job: ShardJob, make_injector) -> pd.DataFrame:
        """An activation shard job: shard ``job.shard`` of the campaign on the evaluated images,
        with the injector of :meth:`injector` and the outcomes of :meth:`shard_results`; ``image``
        of the outcomes is the index in the whole test split, as in the baseline."""
        from dnnfi.engines.runner import evaluated_images
        from dnnfi.faults.precision import check_format

        x, _, keep = evaluated_images(job.test, job.images, job.model_spec["preprocess"])
        injector = self.injector(make_injector, x.shape[1:], job)
        check_format(injector.sites(), job.model_spec["precision"], f"models.{job.model}")
        results = self.shard_results(injector, x, keep, job)
        results["image"] = keep[results["image"].to_numpy()]
        return results

    def injector(self, make_injector, shape, job: ShardJob):
        """The injector of a shard job."""
        return make_injector(shape)

    def shard_results(
        self, injector, x: np.ndarray, keep: np.ndarray, job: ShardJob
    ) -> pd.DataFrame:
        """The outcomes of a shard job on the evaluated images ``x`` (``keep``: their indices)."""
        correct = pd.read_parquet(job.baseline)["correct"].to_numpy()[keep]
        return self.run_shard(injector, x, correct, job.params, job.dataset, job.model, job.shard)


def image_pool(spec: dict, correct: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Image of each injection under the TensorFI+ study's sampling, or None for uniform images.

    ``per_correctness``: every initially correct image gets ``per_correct`` injections and every
    misclassified one ``per_misclassified``; from each of the two pools ``per_category``
    injections are drawn without replacement (all when the pool is smaller). Drawing them before
    injecting gives the same distribution as the study's injecting everything and drawing
    afterwards, at a fraction of the cost. Sorted, so that shards cut the list the same way.
    """
    if spec["image_sampling"] == "uniform":
        return None
    pools = []
    for flag, per_image in ((True, spec["per_correct"]), (False, spec["per_misclassified"])):
        pool = np.repeat(np.flatnonzero(correct == flag), per_image)
        take = min(spec["per_category"], len(pool))
        pools.append(np.sort(rng.choice(pool, size=take, replace=False)))
    return np.concatenate(pools)


def campaign_faults(
    sites: pd.DataFrame, spec: dict, dataset: str, model: str, correct: np.ndarray
) -> pd.DataFrame:
    """The fault list of a uniform activation campaign for one model, drawn from (seed, campaign,
    data set, model) alone (``spec``: the shard parameters of the workflow)."""
    from dnnfi.faults.lists import draw_activation_faults
    from dnnfi.faults.seeds import rng_for

    rng = rng_for(spec["seed"], spec["campaign"], dataset, model)
    pool = image_pool(spec, correct, rng)
    n = spec["injections"] if pool is None else len(pool)
    eligible = sites[sites["eligible"]]
    faults = draw_activation_faults(
        eligible,
        n,
        rng,
        np.arange(len(correct)),
        spec["sampling"],
        spec["fault_model"],
        spec["bits"],
        spec["bits_per_element"],
        spec["elements_per_fault"],
    )
    if pool is not None:
        faults["image"] = pool  # the study fixes the images; sites, elements and bits stay random
    return faults


DESIGN = Uniform()
