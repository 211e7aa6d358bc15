"""One shard of an activation campaign, framework-free: draw (or read) the campaign's fault
list, keep this shard's rows, run them with an injector (Keras or PyTorch), classify.

The full fault list derives from (seed, campaign, data set, model) only, so any shard layout
yields the same faults; a shard file stores its fault rows beside the outcomes and can be
replayed with :func:`replay`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from dnnfi.faults import FAULT_COLUMNS, bit_sweep, draw_activation_faults, draw_weight_faults, shard_slice
from dnnfi.outcomes import classify, error_rates, summarize_logits, top_k
from dnnfi.precision import check_format
from dnnfi.samplesize import sequential_stop
from dnnfi.seeds import rng_for


def injector_factory(framework: str, model_path, batch_size: int = 256, precision: str = "float32",
                     device: dict | None = None, pass_rows: dict | None = None, cache_mb: float = 1024):
    """The ``injector_factory`` of ``framework``'s engine (:func:`dnnfi.kerasfi.engine.injector_factory`,
    :func:`dnnfi.torchfi.activations.injector_factory`), imported only here, when a job needs it;
    ``pass_rows``: the config's ``pass_rows.<framework>`` (None: :data:`dnnfi.devices.PASS_ROWS`);
    ``cache_mb``: the campaign's golden cache budget."""
    if framework == "keras":
        from dnnfi.kerasfi.engine import injector_factory as engine_factory
    else:
        from dnnfi.torchfi.activations import injector_factory as engine_factory
    return engine_factory(model_path, batch_size, precision, device, pass_rows, cache_mb)


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


def campaign_faults(sites: pd.DataFrame, spec: dict, dataset: str, model: str, correct: np.ndarray) -> pd.DataFrame:
    """The campaign's full fault list for one model (``spec``: the shard parameters of the
    workflow; ``correct``: whether the fault-free model classifies each image correctly).

    A bit-sweep campaign (``spec["bit_sweep"]``) draws its points as this draws faults (the same
    images, sites and elements: the drawn bits are dropped) and lists each point at every bit of
    its site's format, or of ``bits`` (:func:`dnnfi.faults.bit_sweep`; column ``point``)."""
    rng = rng_for(spec["seed"], spec["campaign"], dataset, model)
    pool = image_pool(spec, correct, rng)
    n = spec["injections"] if pool is None else len(pool)
    eligible = sites[sites["eligible"]]
    faults = draw_activation_faults(
        eligible, n, rng, np.arange(len(correct)), spec["sampling"], spec["fault_model"],
        spec["bits"], spec["bits_per_element"], spec["elements_per_fault"],
    )
    if pool is not None:
        faults["image"] = pool  # the study fixes the images; sites, elements and bits stay random
    if spec.get("bit_sweep"):
        faults = bit_sweep(faults, eligible, spec["fault_model"], spec["bits"])
    return faults


def shard_rows(n: int, shard: int, spec: dict, points: np.ndarray | None = None) -> slice:
    """Rows of a shard: fixed rounds of ``round_size`` in sequential mode, else an even cut; in a
    bit-sweep campaign (``points``: the ``point`` of each row, ascending) an even cut of the
    points, so that a point's bits stay in one shard (one golden prefix)."""
    if points is not None:
        cut = shard_slice(int(points[-1]) + 1 if len(points) else 0, shard, spec["shards"])
        return slice(*np.searchsorted(points, [cut.start, cut.stop]))
    if "round_size" in spec:
        size = spec["round_size"]
        return slice(shard * size, min((shard + 1) * size, n))
    return shard_slice(n, shard, spec["shards"])


def target_reached(earlier: list[pd.DataFrame], spec: dict) -> bool:
    """Sequential mode: whether the rounds before this one already met the SDC margin."""
    if not earlier:
        return False
    done = pd.concat(earlier).sort_values("fault_id")
    sdc = (done["outcome"] == "sdc").to_numpy()
    return sequential_stop(sdc, spec["margin"], spec["round_size"], spec["confidence"]) is not None


def run_faults(injector, faults: pd.DataFrame, sites: pd.DataFrame, x: np.ndarray, progress: bool = True) -> pd.DataFrame:
    """Outcomes of ``faults`` (fault-list rows) with the site's layer name and depth and the
    injector's pass rows (docs/semantics.md, section 4) added."""
    results = classify(injector.run(faults, x, progress=progress)).assign(pass_rows=injector.rows)
    return results.merge(sites[["site", "layer", "layer_index"]], on="site", how="left")


def activation_shard(injector, x: np.ndarray, correct: np.ndarray, spec: dict, dataset: str, model: str,
                     shard: int) -> pd.DataFrame:
    """Outcomes of one shard of the campaign's fault list for ``model`` on images ``x``."""
    sites = injector.sites()
    faults = campaign_faults(sites, spec, dataset, model, correct)
    points = faults["point"].to_numpy() if spec.get("bit_sweep") else None
    return run_faults(injector, faults.iloc[shard_rows(len(faults), shard, spec, points)], sites, x)


def replay(shard: pd.DataFrame, injector, x: np.ndarray) -> pd.DataFrame:
    """Run the fault list stored in a shard table again (e.g. on another machine or engine)."""
    columns = [c for c in FAULT_COLUMNS if c in shard] + [c for c in ("elements", "bits") if c in shard]
    return run_faults(injector, shard[columns].reset_index(drop=True), injector.sites(), x, progress=False)


def activation_job(smk, make_injector) -> pd.DataFrame:
    """The body of an activation inject rule: ``smk`` is the Snakemake object of the script,
    ``make_injector(input_shape_nhwc, protection=None)`` builds the framework's injector for the
    model. In sequential mode a round after the target was met writes an empty table (same
    columns). A protected campaign replays its paired campaign's shard (same faults, same images)."""
    from dnnfi.datasets import Split
    from dnnfi.preprocess import preprocess

    spec, w = smk.params.campaign, smk.wildcards
    earlier = [pd.read_parquet(p) for p in smk.input.earlier]  # none for a protected campaign
    if target_reached(earlier, spec):
        return earlier[0].iloc[:0]
    test = Split.load(smk.input.test)
    keep = test.spread_indices(spec["images"])
    x = preprocess(test.x[keep], smk.params.model["preprocess"])
    protected = bool(spec.get("protection"))
    injector = (protected_injector(make_injector, x.shape[1:], spec, smk.input.bounds) if protected
                else make_injector(x.shape[1:]))
    check_format(injector.sites(), smk.params.model["precision"], f"models.{w.model}")
    if protected:  # a sequential pair's rounds after its stop are empty: so are these
        results = replay(paired_faults(pd.read_parquet(smk.input.paired), keep, spec), injector, x)
    else:
        correct = pd.read_parquet(smk.input.baseline)["correct"].to_numpy()[keep]
        results = activation_shard(injector, x, correct, spec, w.dataset, w.model, int(w.shard))
    results["image"] = keep[results["image"].to_numpy()]  # index into the whole test split, as in the baseline
    return results


def protected_injector(make_injector, shape, spec: dict, bounds_csv: str):
    """The injector with the campaign's protection on the sites it selects, bounds from ``bounds_csv``."""
    from dnnfi.protection import Protection, read_bounds

    p = spec["protection"]
    sites = make_injector(shape).sites()
    protection = Protection.from_bounds(p["method"], p["layers"], read_bounds(bounds_csv), sites,
                                        key=f"campaigns.{spec['campaign']}.protection")
    return make_injector(shape, protection)


def paired_faults(shard: pd.DataFrame, keep: np.ndarray, spec: dict) -> pd.DataFrame:
    """The paired campaign's shard with ``image`` as a position in the evaluated images ``keep``."""
    position = np.searchsorted(keep, shard["image"].to_numpy())
    if not (position < len(keep)).all() or not (keep[np.minimum(position, len(keep) - 1)] == shard["image"]).all():
        raise ValueError(f"config key campaigns.{spec['campaign']}.paired_with: the shard of {spec['paired_with']} "
                         "uses images this campaign does not evaluate (rerun it with the current config)")
    return shard.assign(image=position)


def bounds_job(smk, make_injector) -> None:
    """The body of a bounds rule: writes the bounds table of the model's site outputs on
    ``profile_images`` images of ``smk.input.profile`` and, per evaluated test image, the
    fault-free top-1 without and with the campaign's protection (same injector path)."""
    from dnnfi.datasets import Split
    from dnnfi.preprocess import preprocess
    from dnnfi.runlog import Progress

    spec, w = smk.params.campaign, smk.wildcards
    preprocessing = smk.params.model["preprocess"]
    steps = Progress(total=3, desc="bounds", mininterval=0)  # a line per pass (profile, plain, protected)
    profile = Split.load(smk.input.profile).spread(spec["protection"]["profile_images"])
    plain = make_injector(profile.x.shape[1:])
    bounds = plain.ranges(preprocess(profile.x, preprocessing))
    steps.update()
    test = Split.load(smk.input.test)
    keep = test.spread_indices(spec["images"])
    x = preprocess(test.x[keep], preprocessing)
    path = smk.output.bounds
    bounds.to_csv(path, index=False)
    protected = protected_injector(make_injector, x.shape[1:], {**spec, "campaign": w.campaign}, path)
    unprotected = plain.golden_logits(x).argmax(axis=1)
    steps.update()
    fault_free = pd.DataFrame({"image": keep, "label": test.y[keep], "top1_unprotected": unprotected,
                               "top1_protected": protected.golden_logits(x).argmax(axis=1)})
    steps.update()
    steps.close()
    logging.getLogger("dnnfi").info("bounds of %d sites; fault-free top-1 changed on %d of %d images", len(bounds),
                                    (fault_free["top1_unprotected"] != fault_free["top1_protected"]).sum(), len(x))
    fault_free.to_parquet(smk.output.fault_free)


def weight_units(spec: dict, dataset: str, model: str, shard: int) -> list[tuple[float, str, int, np.random.Generator]]:
    """The (frate, perturbation, replica, generator) units of a weight-rate shard; each
    generator depends on those names only, so any shard layout draws the same faults."""
    import itertools

    units = list(itertools.product(spec["frates"], spec["perturbations"], range(spec["replicas"])))
    return [
        (frate, perturbation, replica, rng_for(spec["seed"], spec["campaign"], dataset, model, frate, perturbation, replica))
        for frate, perturbation, replica in units[shard_slice(len(units), shard, spec["shards"])]
    ]


def evaluate_weight_faults(injector, faults: pd.DataFrame, images: np.ndarray, distribution: str = "layer_uniform",
                           value_range=None, progress: bool = True) -> pd.DataFrame:
    """Every replica of a weight fault list on all ``images`` with a framework's weight injector
    (:class:`dnnfi.kerasfi.weights.WeightInjector` or :class:`dnnfi.torchfi.weights.WeightInjector`):
    one row per (replica, image) with ``replica``, ``image``, ``n_faults`` and the
    :func:`dnnfi.outcomes.summarize_logits` columns (golden: the unfaulted model, same path)."""
    from dnnfi.runlog import Progress

    golden = injector.logits(images)
    tables = []
    for replica, rows in Progress(faults.groupby("replica", sort=True), desc="replicas", disable=not progress):
        with injector.applied(rows, distribution, value_range):
            faulty = injector.logits(images)
        summary = summarize_logits(golden, faulty)
        summary.insert(0, "n_faults", len(rows))
        summary.insert(0, "image", np.arange(len(images)))
        summary.insert(0, "replica", replica)
        tables.append(summary)
    return pd.concat(tables, ignore_index=True)


def weight_rate_job(smk, injector) -> pd.DataFrame:
    """The body of a weight-rate inject rule (both frameworks): per (frate, perturbation,
    replica) unit of the shard, draw the faults (:func:`dnnfi.faults.draw_weight_faults`), apply
    them with ``injector`` and record top-1 / top-5 error beside the fault list."""
    from dnnfi.datasets import Split
    from dnnfi.preprocess import preprocess
    from dnnfi.runlog import Progress

    spec, w = smk.params.campaign, smk.wildcards
    test = Split.load(smk.input.test).spread(spec["images"])
    x = preprocess(test.x, smk.params.model["preprocess"])
    sites = injector.sites(spec["layer_types"], spec["biases"], spec["normalization"])
    check_format(sites, smk.params.model["precision"], f"models.{w.model}")
    rows = []
    units = weight_units(spec, w.dataset, w.model, int(w.shard))
    for frate, perturbation, replica, rng in Progress(units, desc="replicas"):
        faults = draw_weight_faults(sites, rng, rate=frate, fault_model=perturbation, bits=spec["bits"])
        with injector.applied(faults, spec["distribution"], spec["value_range"]):
            faulty = injector.logits(x)
        top1_error, top5_error = error_rates(top_k(faulty)[0], test.y)
        rows.append(dict(frate=frate, perturbation=perturbation, replica=replica, n_faults=len(faults),
                         pass_rows=injector.rows,
                         top1_error=top1_error, top5_error=top5_error,
                         fault_site=list(faults["site"]), fault_element=list(faults["element"]),
                         fault_bit=list(faults["bit"]), fault_random_u=list(faults["random_u"])))
    return pd.DataFrame(rows)


def baseline_job(smk, model, predict_logits, named_tensors, allow_nonfinite: bool = False) -> pd.DataFrame:
    """The body of a baseline rule: the fault-free result of ``model`` on every test image
    (``predict_logits(model, x)`` is the framework's batched inference). NaN/Inf logits or
    tensors of ``named_tensors(model)`` stop the job with a message naming the first non-finite
    tensor, unless ``allow_nonfinite`` (see :func:`dnnfi.health.check_finite`)."""
    from dnnfi.datasets import Split
    from dnnfi.health import check_finite
    from dnnfi.outcomes import baseline_table
    from dnnfi.preprocess import preprocess

    test = Split.load(smk.input.test)
    x = preprocess(test.x, smk.params.spec["preprocess"])
    logits = predict_logits(model, x)
    if not allow_nonfinite:
        name = smk.wildcards.model
        check_finite(logits, lambda: named_tensors(model), f"model {name} ({smk.input.model})",
                     f"models.{name}.allow_nonfinite", x)
    return baseline_table(logits, test.y)
