"""``make bench-sampling``: stratified against uniform fault sampling on the pretrained CIFAR-10
ResNet-20 (docs/sampling.md).

1. Ground truth: the 1,000,000-injection uniform bit-sweep pool of ``bench/sampling_pool.py``
   over all 10,000 test images (computed on first use, then reused from
   ``results/bench/sampling/resnet20-10000``; its time is printed).
2. Resampled campaigns: the pool is the population (each row one fault of the campaign's
   distribution, stratum weights its exact shares); a campaign draws with replacement within
   strata, so bias and coverage are measured against the pool's own rates, which are exact for
   it. ``CAMPAIGNS`` campaigns per design at a fixed budget (SDC rate), and as many campaigns
   per scenario (initially correct / misclassified images) and metric that stop at their margin
   as the pipeline's do (SDC rate +/-0.1 points, SCM probability +/-5 points).
3. Real campaigns: ``REAL`` stratified campaigns run by the engine on the same model and the
   whole split, with exact weights counted from the golden pass as the pipeline's draw counts
   them (in a process of its own, whose peak memory is the draw's), compared with the pool.

The last line is ``sampling efficiency_sdc=<x> coverage_sdc=<c1> coverage_scm=<c2>
scm_injections_5pt=<n> efficiency_scm=<e> coverage_stop_min=<c3> population_images=<N>
peak_rss_mb=<M>``: efficiency = injections uniform sampling needs for the stratified design's
mean achieved SDC-rate half-width (z^2 p (1 - p) / h^2) / the design's injections; coverages of
the 95% intervals of SDC rate (fixed budget) and SCM probability (initially correct images, at
the stop); median injections to +/-5 points and the uniform injections for that margin over them;
the lowest coverage of the four (scenario, metric) campaigns stopped at their margin; the real
campaigns' population and peak memory.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pandas as pd
import sampling_pool
from process_memory import memory_mb

from dnnfi.designs.strata import (
    COUNTS,
    VALUE_CLASSES,
    atom_table,
    estimate,
    field_of,
    golden_counts,
    run_stratified,
    strata_of,
    stratum_counts,
    value_class,
)
from dnnfi.designs.stratified import uniform_injections
from dnnfi.faults.seeds import rng_for

CAMPAIGNS, REAL = 200, 3
#: the design of the last line, and the others compared with it
DESIGN, OTHERS = "field_value", ("bit", "bit_value")
BUDGET, PILOT, ROUND = 5_000, 500, 500
#: campaigns stopped at their margin: (margin, smallest round), as config/cifar10.yaml's
TO_MARGIN = {"sdc_rate": (0.001, 1_000), "scm_probability": (0.05, 500)}
MAX_INJECTIONS = 60_000
REAL_MARGIN = 0.001
COUNT_COLUMNS = list(COUNTS)


class PoolPopulation:
    """The pool as a stratified population: ``evaluate`` draws with replacement within strata;
    ``true_pilot``: the pilot (round 0) reports the strata's true rates instead (a campaign whose
    plan knows the truth, which isolates what planning on a pilot costs)."""

    def __init__(self, pool: pd.DataFrame, strata: str, true_pilot: bool = False):
        self.true_pilot = true_pilot
        bit = pool["bit"].to_numpy()
        value = value_class(pool["golden_bits"].to_numpy(np.uint32), bit, 32)
        atoms = pool[["site", "bit"]].assign(
            field=field_of(bit, "float32"), value=np.asarray(VALUE_CLASSES)[value], p=1 / len(pool)
        )
        self.table, codes = strata_of(atoms, strata)
        self.weights = self.table["weight"].to_numpy()
        order = np.argsort(codes, kind="stable")
        self.members = np.split(
            order, np.cumsum(np.bincount(codes, minlength=len(self.table)))[:-1]
        )
        sdc = (pool["outcome"] == "sdc").to_numpy()
        self.flags = np.stack(
            [
                np.ones(len(pool)),
                sdc,
                pool["sdc_top5"].to_numpy(bool),
                (pool["outcome"] == "due").to_numpy(),
                pool["scm"].to_numpy(bool) & sdc,
            ],
            axis=1,
        )
        self.rng = None

    def evaluate(self, n, round_):
        if self.true_pilot and round_ == 0:
            rates = np.stack([self.flags[m].mean(axis=0) for m in self.members])
            return pd.DataFrame(rates * np.asarray(n, float)[:, None], columns=COUNT_COLUMNS)
        picked = np.concatenate(
            [m[self.rng.integers(0, len(m), k)] for m, k in zip(self.members, n)]
        )
        codes = np.repeat(np.arange(len(n)), n)
        counts = np.stack(
            [np.bincount(codes, weights=self.flags[picked, j], minlength=len(n)) for j in range(5)],
            1,
        )
        return pd.DataFrame(counts.astype(np.int64), columns=COUNT_COLUMNS)

    def campaign(self, seed, metric, margin, max_injections, round_size=ROUND):
        self.rng = rng_for(seed, "bench-sampling", "resample", metric)
        counts, done = run_stratified(
            self.weights, self.evaluate, metric, margin, PILOT, round_size, max_injections
        )
        return estimate(counts, self.weights)[metric], done[-1]


def covered(est, truth):
    return bool(est["lo"] <= truth <= est["hi"])


def fixed_budget(pool: pd.DataFrame, strata: str, truth: float) -> dict:
    population = PoolPopulation(pool, strata)
    runs = [population.campaign(seed, "sdc_rate", 1e-9, BUDGET) for seed in range(CAMPAIGNS)]
    est = np.array([float(r[0]["estimate"]) for r in runs])
    margin = np.mean([float(r[0]["margin"]) for r in runs])
    uniform_n = uniform_injections("sdc_rate", truth, np.nan, margin, 0.95)
    return {
        "design": f"stratified ({strata}, {len(population.table)} strata)",
        "injections": BUDGET,
        "mean estimate": est.mean(),
        "bias": est.mean() - truth,
        "mean half-width": margin,
        "coverage": np.mean([covered(r[0], truth) for r in runs]),
        "efficiency": uniform_n / BUDGET,
        "efficiency (variance)": truth * (1 - truth) / BUDGET / est.var(),
    }


def uniform_budget(pool: pd.DataFrame, truth: float) -> dict:
    from dnnfi.analysis.stratified_estimates import stratified_rate

    rng = rng_for(0, "bench-sampling", "uniform")
    sdc = rng.binomial(BUDGET, truth, CAMPAIGNS)
    est = stratified_rate([1.0], sdc[:, None], np.full((CAMPAIGNS, 1), BUDGET))
    cover = (est["lo"] <= truth) & (truth <= est["hi"])
    return {
        "design": "uniform",
        "injections": BUDGET,
        "mean estimate": est["estimate"].mean(),
        "bias": est["estimate"].mean() - truth,
        "mean half-width": est["margin"].mean(),
        "coverage": cover.mean(),
        "efficiency": 1.0,
        "efficiency (variance)": truth * (1 - truth) / BUDGET / est["estimate"].var(),
    }


def to_margin(
    pool: pd.DataFrame,
    correct: bool,
    metric: str,
    campaigns: int = CAMPAIGNS,
    true_pilot: bool = False,
) -> dict:
    """``campaigns`` stratified campaigns on the initially correct (or misclassified) images of the
    pool that stop at the margin of ``TO_MARGIN``: injections, coverage and bias at the stop
    (``true_pilot``: see :class:`PoolPopulation`)."""
    scenario = pool[pool["correct"] == correct].reset_index(drop=True)
    sdc = (scenario["outcome"] == "sdc").to_numpy()
    rate, probability = sdc.mean(), (scenario["scm"].to_numpy() & sdc).sum() / sdc.sum()
    margin, round_size = TO_MARGIN[metric]
    truth = rate if metric == "sdc_rate" else probability
    population = PoolPopulation(scenario, DESIGN, true_pilot)
    runs = [
        population.campaign(seed, metric, margin, MAX_INJECTIONS, round_size)
        for seed in range(campaigns)
    ]
    used = np.array([r[1] for r in runs])
    est = np.array([float(r[0]["estimate"]) for r in runs])
    uniform = uniform_injections(metric, rate, probability, margin, 0.95)
    return {
        "images": "initially correct" if correct else "initially misclassified",
        "metric": metric,
        "target": f"+/-{100 * margin:g} points",
        "truth": truth,
        "reached": np.mean([float(r[0]["margin"]) <= margin for r in runs]),
        "median injections": float(np.median(used)),
        "90th percentile": float(np.percentile(used, 90)),
        "coverage": np.mean([covered(r[0], truth) for r in runs]),
        "bias": est.mean() - truth,
        "bias / sd": (est.mean() - truth) / est.std(),
        "uniform injections": uniform,
        "efficiency": uniform / np.median(used),
    }


def real_campaigns(truth_sdc: float) -> tuple[pd.DataFrame, int, float]:
    """(``REAL`` engine-run stratified campaigns to an SDC-rate half-width of ``REAL_MARGIN`` over
    the whole split, the population's images, this process's peak memory in MB)."""
    from dnnfi.designs.strata import draw_strata
    from dnnfi.faults.outcomes import classify

    injector, sites, x, labels, taxonomy = sampling_pool.setup()

    def recompute(positions, names):
        return injector.golden_site_values(x[positions], names)

    # as the pipeline does: counts from golden passes, values recomputed for the drawn images
    golden = golden_counts(recompute, len(x), list(sites["site"]), block=256)
    atoms = atom_table(sites, golden.__getitem__)
    table, codes = strata_of(atoms, DESIGN)
    weights = table["weight"].to_numpy()
    rows = []
    for seed in range(REAL):

        def evaluate(n, round_):
            faults = draw_strata(
                atoms,
                codes,
                n,
                rng_for(seed, "bench-sampling", "real", round_),
                golden.__getitem__,
                recompute,
                np.arange(len(x)),
            )
            results = classify(injector.run(faults, x, progress=False))
            results["scm"] = taxonomy.is_scm(results["golden_top1"], results["faulty_top1"])
            return stratum_counts(results, len(table))

        began = time.perf_counter()
        counts, done = run_stratified(
            weights, evaluate, "sdc_rate", REAL_MARGIN, PILOT, ROUND, 30_000
        )
        est = estimate(counts, weights)
        rows.append(
            {
                "campaign": seed,
                "injections": done[-1],
                "rounds": len(done) - 1,
                "SDC rate": float(est["sdc_rate"]["estimate"]),
                "lo": float(est["sdc_rate"]["lo"]),
                "hi": float(est["sdc_rate"]["hi"]),
                "half-width": float(est["sdc_rate"]["margin"]),
                "covers pool truth": covered(est["sdc_rate"], truth_sdc),
                "DUE rate": float(est["due_rate"]["estimate"]),
                "seconds": time.perf_counter() - began,
            }
        )
    return pd.DataFrame(rows), len(x), memory_mb("VmHWM")


def main():
    began = time.perf_counter()
    pool, pool_seconds = sampling_pool.build()
    sdc = (pool["outcome"] == "sdc").to_numpy()
    truth = sdc.mean()
    correct = pool["correct"].to_numpy()
    sdc_correct = sdc[correct].mean()
    scm_truth = (pool["scm"].to_numpy() & sdc)[correct].sum() / sdc[correct].sum()
    print(
        f"ground truth: {len(pool):,} uniform injections (bit sweep of {pool['point'].nunique():,} points, "
        f"test images drawn uniformly from the split, {pool['image'].nunique():,} of them hit), engine time {pool_seconds:.0f} s"
    )
    print(
        f"  SDC rate {100 * truth:.3f}%, DUE rate {100 * (pool['outcome'] == 'due').mean():.3f}%, "
        f"SDC rate on initially correct images {100 * sdc_correct:.3f}%, "
        f"SCM probability (FI, initially correct) {100 * scm_truth:.2f}%"
    )
    table = pd.DataFrame(
        [uniform_budget(pool, truth), *(fixed_budget(pool, s, truth) for s in (*OTHERS, DESIGN))]
    )
    print(
        f"\nSDC rate, {CAMPAIGNS} campaigns per design at {BUDGET:,} injections (pilot {PILOT:,}, rounds of {ROUND}):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    stops = pd.DataFrame(
        [to_margin(pool, correct, metric) for correct in (True, False) for metric in TO_MARGIN]
    )
    print(
        f"\n{CAMPAIGNS} stratified ({DESIGN}) campaigns per scenario and metric stopped at their "
        f"margin (pilot {PILOT:,}, at most {MAX_INJECTIONS:,} injections):"
    )
    print(stops.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    scm = stops[stops["images"].eq("initially correct") & stops["metric"].eq("scm_probability")]
    scm = scm.iloc[0]
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as process:
        real, images, peak = process.submit(real_campaigns, truth).result()
    print(
        f"\n{REAL} real stratified campaigns (engine, {DESIGN} strata, SDC-rate target +/-{100 * REAL_MARGIN:g} points, "
        f"{images:,} images; peak memory of their process {peak:,.0f} MB):"
    )
    print(real.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(
        f"\nbench time {time.perf_counter() - began:.0f} s (pool computed earlier: {pool_seconds:.0f} s)"
    )
    best = table.iloc[-1]
    print(
        f"sampling efficiency_sdc={best['efficiency']:.1f} coverage_sdc={best['coverage']:.3f} "
        f"coverage_scm={scm['coverage']:.3f} scm_injections_5pt={scm['median injections']:.0f} "
        f"efficiency_scm={scm['efficiency']:.1f} coverage_stop_min={stops['coverage'].min():.3f} "
        f"population_images={images} peak_rss_mb={peak:.0f}"
    )


if __name__ == "__main__":
    main()
