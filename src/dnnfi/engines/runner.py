"""Running fault lists and fault-free passes with a framework's engine, framework-free: the
engine's injector is built by :func:`injector_factory` (which imports the one framework a job
needs) or passed in; the outcomes are classified by :mod:`dnnfi.faults.outcomes`. The campaign
designs (:mod:`dnnfi.designs`) decide which faults a job runs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from dnnfi.faults.lists import FAULT_COLUMNS
from dnnfi.faults.outcomes import classify, summarize_logits


def injector_factory(
    framework: str,
    model_path,
    batch_size: int = 256,
    precision: str = "float32",
    device: dict | None = None,
    pass_rows: dict | None = None,
    cache_mb: float = 1024,
):
    """The ``injector_factory`` of ``framework``'s engine (:func:`dnnfi.engines.kerasfi.engine.injector_factory`,
    :func:`dnnfi.engines.torchfi.activations.injector_factory`), imported only here, when a job needs it,
    for the model of ``model_path`` loaded once in ``precision`` on ``device`` (:func:`loaded_model`);
    ``pass_rows``: the config's ``pass_rows.<framework>`` (None: :data:`dnnfi.engines.devices.PASS_ROWS`);
    ``cache_mb``: the campaign's golden cache budget."""
    if framework == "keras":
        from dnnfi.engines.kerasfi.engine import injector_factory as engine_factory
    else:
        from dnnfi.engines.torchfi.activations import injector_factory as engine_factory
    with loaded_model(framework, model_path, precision=precision, device=device) as (model, _):
        return engine_factory(model, batch_size, device, pass_rows, cache_mb)


def campaign_injector_factory(model_spec: dict, model_path, params: dict, device: dict | None):
    """:func:`injector_factory` of a campaign job: the model's framework, precision and pass rows
    (``model_spec``: its checked config), the campaign's ``batch_size`` and ``cache_mb``
    (``params``: the job's parameters)."""
    return injector_factory(
        model_spec["framework"],
        model_path,
        params["batch_size"],
        model_spec["precision"],
        device,
        model_spec["pass_rows"],
        params["cache_mb"],
    )


def framework_models(framework: str):
    """The ``models`` module of ``framework``'s engine (:mod:`dnnfi.engines.kerasfi.models`,
    :mod:`dnnfi.engines.torchfi.models`: the same functions for both); the framework is imported
    only here, when a job needs it."""
    if framework == "keras":
        from dnnfi.engines.kerasfi import models
    else:
        from dnnfi.engines.torchfi import models
    return models


@contextlib.contextmanager
def loaded_model(
    framework: str,
    model_path,
    key: str | None = None,
    precision: str = "float32",
    device: dict | None = None,
):
    """(the model of ``model_path``, its framework's ``models`` module:
    :mod:`dnnfi.engines.kerasfi.models` or :mod:`dnnfi.engines.torchfi.models`), the model on
    ``device`` while the context lasts; ``key``: the config key named by a loading error."""
    device = device or {}
    models = framework_models(framework)
    if framework == "keras":
        with models.on_device(**device):
            yield models.load(model_path, key, precision), models
    else:
        yield models.load(model_path, key, precision).to(models.use_device(**device)), models


@contextlib.contextmanager
def weight_injector(
    framework: str,
    model_path,
    precision: str = "float32",
    device: dict | None = None,
    pass_rows: dict | None = None,
):
    """The weight injector of ``framework``'s engine on the model of ``model_path``
    (:class:`dnnfi.engines.kerasfi.weights.WeightInjector`,
    :class:`dnnfi.engines.torchfi.weights.WeightInjector`), on ``device`` while the context lasts."""
    with loaded_model(framework, model_path, precision=precision, device=device) as (model, _):
        if framework == "keras":
            from dnnfi.engines.kerasfi.weights import WeightInjector
        else:
            from dnnfi.engines.torchfi.weights import WeightInjector
        yield WeightInjector(model, pass_rows=pass_rows)


def run_faults(
    injector, faults: pd.DataFrame, sites: pd.DataFrame, x: np.ndarray, progress: bool = True
) -> pd.DataFrame:
    """Outcomes of ``faults`` (fault-list rows) on the images ``x`` (indexed by ``image``) with
    the site's layer name and depth and the injector's pass rows (docs/semantics.md, section 4)
    added. Only the images the faults use are taken from ``x`` (preprocessed then, when ``x`` is
    :class:`dnnfi.data.preprocess.PreprocessedRows`): a fault's outcome does not depend on the
    other images (section 4)."""
    used, local = np.unique(faults["image"].to_numpy(), return_inverse=True)
    results = injector.run(faults.assign(image=local), x[used], progress=progress)
    results["image"] = faults["image"].to_numpy()
    results = classify(results).assign(pass_rows=injector.rows)
    return results.merge(sites[["site", "layer", "layer_index"]], on="site", how="left")


def replay(shard: pd.DataFrame, injector, x: np.ndarray) -> pd.DataFrame:
    """Run the fault list stored in a shard table again (e.g. on another machine or engine)."""
    columns = [c for c in FAULT_COLUMNS if c in shard] + [
        c for c in ("elements", "bits") if c in shard
    ]
    return run_faults(
        injector, shard[columns].reset_index(drop=True), injector.sites(), x, progress=False
    )


def evaluated_images(test: str, images: str, preprocessing: str):
    """(images, labels, indices in the split) of a campaign's evaluated images: the rows of the
    split file ``test`` that the campaign's table ``images`` lists
    (:func:`dnnfi.data.datasets.evaluated_table`), the images read from the file and preprocessed
    when indexed (:class:`dnnfi.data.datasets.StoredImages`,
    :class:`dnnfi.data.preprocess.PreprocessedRows`): a job holds the images it runs, not the
    split. Every job of a campaign takes its images from here."""
    from dnnfi.data.datasets import StoredImages
    from dnnfi.data.preprocess import PreprocessedRows

    table = pd.read_parquet(images)
    keep = table["image"].to_numpy()
    return (
        PreprocessedRows(StoredImages(test), keep, preprocessing),
        table["label"].to_numpy(),
        keep,
    )


def evaluate_weight_faults(
    injector,
    faults: pd.DataFrame,
    images: np.ndarray,
    distribution: str = "layer_uniform",
    value_range=None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every replica of a weight fault list on all ``images`` with a framework's weight injector
    (:class:`dnnfi.engines.kerasfi.weights.WeightInjector` or :class:`dnnfi.engines.torchfi.weights.WeightInjector`):
    one row per (replica, image) with ``replica``, ``image``, ``n_faults`` and the
    :func:`dnnfi.faults.outcomes.summarize_logits` columns (golden: the unfaulted model, same path)."""
    from dnnfi.workflow.runlog import Progress

    golden = injector.logits(images)
    tables = []
    for replica, rows in Progress(
        faults.groupby("replica", sort=True), desc="replicas", disable=not progress
    ):
        with injector.applied(rows, distribution, value_range):
            faulty = injector.logits(images)
        summary = summarize_logits(golden, faulty)
        summary.insert(0, "n_faults", len(rows))
        summary.insert(0, "image", np.arange(len(images)))
        summary.insert(0, "replica", replica)
        tables.append(summary)
    return pd.concat(tables, ignore_index=True)


def baseline_job(
    name: str,
    path: str,
    model,
    test: str,
    preprocessing: str,
    predict_logits,
    named_tensors,
    allow_nonfinite: bool = False,
) -> pd.DataFrame:
    """The body of a baseline rule: the fault-free result of ``model`` (config name ``name``,
    loaded from file ``path``) on every image of the split file ``test``
    (``predict_logits(model, x)`` is the framework's batched inference). NaN/Inf logits or
    tensors of ``named_tensors(model)`` stop the job with a message naming the first non-finite
    tensor, unless ``allow_nonfinite`` (see :func:`dnnfi.engines.health.check_finite`)."""
    from dnnfi.data.datasets import Split
    from dnnfi.data.preprocess import preprocess
    from dnnfi.engines.health import check_finite
    from dnnfi.faults.outcomes import baseline_table

    test = Split.load(test)
    x = preprocess(test.x, preprocessing)
    logits = predict_logits(model, x)
    if not allow_nonfinite:
        check_finite(
            logits,
            lambda: named_tensors(model),
            f"model {name} ({path})",
            f"models.{name}.allow_nonfinite",
            x,
        )
    return baseline_table(logits, test.y)
