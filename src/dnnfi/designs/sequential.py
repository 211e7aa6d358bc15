"""The sequential design (``design: sequential``): the uniform design's fault list, run in rounds
of ``round_size`` injections (in ``fault_id`` order) until the SDC rate's Wilson margin reaches
``margin``, at most ``injections``. Each round is one job that reads the rounds before it and
writes an empty table once the target was met; the tables are the uniform design's.

The stop rule (:func:`sequential_stop`) checks only after whole rounds, so the result depends
neither on shards nor on batches.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dnnfi.designs.base import ConfigError, ShardJob, shard_path
from dnnfi.designs.uniform import MARGIN, Uniform

SEQUENTIAL_KEYS = {
    "margin": MARGIN
    | {
        "description": "Target margin (half-width, share) of each model's SDC rate interval: the rounds stop "
        "once it is reached (dnnfi.designs.sequential.sequential_stop), at most `injections`; "
        "required."
    },
    "round_size": {
        "type": "integer",
        "minimum": 1,
        "default": 500,
        "description": "Injections per round (one job each); the margin is checked only after whole "
        "rounds.",
    },
}


def sequential_stop(sdc, margin: float, round_size: int, confidence: float = 0.95) -> int | None:
    """Injections after which a sequential campaign stops, or None if the target is never reached.

    ``sdc``: boolean SDC flags, shape (injections,), in ``fault_id`` order (the order the campaign
    draws and runs its faults). The margin of the SDC rate (:func:`dnnfi.analysis.intervals.wilson`) is checked after
    every ``round_size`` injections (round_size, 2 round_size, ...; a last partial round is not
    checked); the first check at or below ``margin`` stops the campaign. Checking only at round
    boundaries keeps the rule independent of how rounds are split into shards or batches.

    A rate near 0 narrows the interval quickly, so a small first round can stop with few SDCs:
    pick ``round_size`` near ``leveugle_sample_size`` of a plausible rate.
    """
    from dnnfi.analysis.intervals import wilson

    if round_size < 1:
        raise ValueError(f"round_size must be >= 1, got {round_size}")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    flags = np.asarray(sdc, dtype=bool)
    checks = np.arange(round_size, len(flags) + 1, round_size)
    if len(checks) == 0:
        return None
    failures = np.cumsum(flags)[checks - 1]
    reached = np.flatnonzero(wilson(failures, checks, confidence)["margin"] <= margin)
    return int(checks[reached[0]]) if len(reached) else None


class Sequential(Uniform):
    name = "sequential"
    summary = "the uniform fault list in rounds of round_size, until the SDC margin reaches margin (at most injections)"
    keys = Uniform.keys | SEQUENTIAL_KEYS

    def planned_injections(self, campaign: dict, model: str) -> int:
        """The most injections of a model (the rounds stop earlier once the margin is met)."""
        return campaign["per_model"].get(model, {}).get("injections", campaign["injections"])

    def max_injections(self, campaign: dict, model: str) -> tuple[int, str]:
        return Uniform.max_injections(self, {**campaign, "margin": None}, model)

    def check(self, name: str, campaign: dict, config: dict) -> None:
        if campaign["margin"] is None:
            raise ConfigError(
                f"config key campaigns.{name}.margin: required by a sequential campaign (the SDC "
                "rate's target half-width that stops its rounds)"
            )
        super().check(name, campaign, config)

    def check_shards(self, name: str, campaign: dict) -> None:
        """The jobs of a sequential campaign are its rounds (round_size), not `shards`."""

    def n_shards(self, campaign: dict, model: str) -> int:
        """Rounds of a model (the last may be partial)."""
        return math.ceil(self.planned_injections(campaign, model) / campaign["round_size"])

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        return super().shard_params(name, campaign, model, seed) | {
            k: campaign[k] for k in ("margin", "confidence", "round_size")
        }

    def shard_inputs(self, name: str, campaign: dict, dataset: str, model: str, shard: int) -> dict:
        """A round reads the rounds before it to decide whether to run."""
        return super().shard_inputs(name, campaign, dataset, model, shard) | {
            "earlier": [shard_path(name, dataset, model, r) for r in range(int(shard))]
        }

    def faulty_passes(self, campaign: dict, model: str, images: int) -> float:
        return campaign["round_size"]

    # -- the job ------------------------------------------------------------------------------

    def shard_rows(self, faults: pd.DataFrame, shard: int, params: dict) -> slice:
        """Round ``shard``: rows shard x round_size up to the next round (or the end)."""
        size = params["round_size"]
        return slice(shard * size, min((shard + 1) * size, len(faults)))

    def shard_job(self, job: ShardJob, make_injector) -> pd.DataFrame:
        """A round (:meth:`Uniform.shard_job`); once the rounds before it (the files
        ``job.earlier``) met the target it is an empty table (same columns), and loads no
        framework."""
        done = [pd.read_parquet(p) for p in job.earlier]
        if self.target_reached(done, job.params):
            return done[0].iloc[:0]
        return super().shard_job(job, make_injector)

    def target_reached(self, earlier: list[pd.DataFrame], params: dict) -> bool:
        """Whether the rounds before this one already met the SDC margin."""
        if not earlier:
            return False
        done = pd.concat(earlier).sort_values("fault_id")
        sdc = (done["outcome"] == "sdc").to_numpy()
        return (
            sequential_stop(sdc, params["margin"], params["round_size"], params["confidence"])
            is not None
        )


DESIGN = Sequential()
