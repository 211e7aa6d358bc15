# Helpers shared by all modules (vocabularies, paths, parameters). The config checks live in
# dnnfi.config (unit-tested without Snakemake); here they are only called.

import math
import os
import sys

from snakemake.logging import logger

import dnnfi.config as config_checks
import dnnfi.devices as devices
import dnnfi.runlog as runlog

SCHEMA = "../schemas/config.schema.yaml"

# Local data and weights a config names but this machine lacks: a dry run still shows the
# plan (with a warning), a real run stops in `onstart`, before any job (see stop_if_files_missing).
try:
    MISSING_FILES = config_checks.check(config, workflow.source_path(SCHEMA))
except config_checks.ConfigError as error:
    logger.error(str(error))  # the one line, without Snakemake's traceback frames
    sys.exit(1)
for missing in MISSING_FILES:
    logger.warning(f"{missing} (a real run stops here)")


def stop_if_files_missing():
    for missing in MISSING_FILES:
        logger.error(missing)  # one line each, without Snakemake's traceback frames
    if MISSING_FILES:
        sys.exit(1)


def report_failed_jobs():
    """onerror: the one-line cause of each failed job (the last `...Error: ...` line of its log),
    for the jobs Snakemake's scheduler counts as failed (retries spent). `--show-failed-logs`
    prints their whole logs (README, "Following a run")."""
    failed = workflow.scheduler.failed
    for line in runlog.failure_lines([f for job in failed for f in job.log]):
        logger.error(f"Cause: {line}")


DATASETS = config["datasets"]
MODELS = config["models"]
CAMPAIGNS = config["campaigns"]

# TensorFlow's oneDNN kernels (`tensorflow_onednn`), fixed for every job (they inherit this
# environment, on SLURM too): unset, TensorFlow chooses by CPU, and the two settings can give
# different outcomes for the same faults (docs/semantics.md, section 4).
ONEDNN = "1" if config["tensorflow_onednn"] else "0"
os.environ.update(TF_ENABLE_ONEDNN_OPTS=ONEDNN)  # set, not read: no `envvars:` needed


def _numerical_path(model):
    """Settings outside a model's spec that change its numbers: a change reruns its jobs."""
    if MODELS[model]["framework"] == "keras":
        return {"tensorflow_onednn": config["tensorflow_onednn"]}
    return {}


def _alternatives(names):
    return "|".join(sorted(names)) or "^$"


def models_of(framework, *sources):
    """Alternatives of the models of a framework (and of the given sources, if any)."""
    return _alternatives(
        m
        for m, spec in MODELS.items()
        if spec["framework"] == framework and (not sources or spec["source"] in sources)
    )


def campaigns_of(kind):
    return _alternatives(c for c, spec in CAMPAIGNS.items() if spec["kind"] == kind)


def protected_campaigns():
    """Activation campaigns with a protection (each replays its paired_with campaign's faults)."""
    return [c for c, spec in CAMPAIGNS.items() if spec.get("protection")]


def model_file(model):
    ext = {"keras": "keras", "torch": "pt"}[MODELS[model]["framework"]]
    return f"results/models/{MODELS[model]['dataset']}/{model}.{ext}"


def model_input(wildcards):
    return model_file(wildcards.model)


def data_params(wildcards):
    """A data set's spec without its taxonomy: changing `taxonomy` must not rerun data preparation
    (and so training, baselines and shards), except for cifar100_download, whose class names come
    from the taxonomy. prepare_data still checks the taxonomy against the classes it reads.
    """
    spec = DATASETS[wildcards.dataset]
    if spec["source"] == "cifar100_download":
        return spec
    return {k: v for k, v in spec.items() if k != "taxonomy"}


def data_inputs(wildcards):
    """The local files a data split reads (a file, or every file of a folder): a changed,
    added or removed file reruns its preparation and everything after it."""
    return config_checks.data_files(DATASETS[wildcards.dataset], wildcards.split)


def weights_input(wildcards):
    """The local weights file of a model (`path`), if any: replacing it reruns the model's jobs."""
    return config_checks.model_files(MODELS[wildcards.model])


def model_params(wildcards):
    """A model's spec (baselines and injections; with `allow_nonfinite` and `precision`) and
    its framework's pass rows (`pass_rows`: the shape of every pass of these jobs)."""
    spec = MODELS[wildcards.model]
    passes = {"pass_rows": config["pass_rows"][spec["framework"]]}
    return spec | _numerical_path(wildcards.model) | passes


def device_params(wildcards):
    """The model's `device` and the config key it comes from (a job's error names that key)."""
    return devices.setting(config, wildcards.model)


def gpus(wildcards):
    """The `gpu` resource: 1 when the model's device is cuda or cuda:N, else 0 (`auto` runs
    on whatever the job was given); profiles/slurm turns it into the cluster's GPU request.
    """
    return int(devices.needs_gpu(device_params(wildcards)["device"]))


# Conda environment of the TensorFlow rules (`conda_envs`): TensorFlow's CUDA build on GPU
# nodes. PyTorch's env serves both: PyPI's Linux torch wheel is the CUDA build.
TENSORFLOW_ENV = f"../../envs/{'tensorflow-gpu' if config['conda_envs'] == 'gpu' else 'tensorflow'}.yaml"

# Where each conda env's post-deploy script (envs/install-dnnfi.sh) installs dnnfi from: this
# checkout (Snakemake runs the script from its copy in .snakemake/conda, in this process's environment).
os.environ.update(DNNFI_PROJECT=workflow.basedir)  # set, not read: no `envvars:` needed


def _spec_without(model, keys):
    return {k: v for k, v in MODELS[model].items() if k not in keys}


def train_params(wildcards):
    """A model's spec for training (float32; the precision is applied when it is loaded)."""
    spec = _spec_without(wildcards.model, ["precision"])
    return spec | _numerical_path(wildcards.model)


def fetch_params(wildcards):
    """A model's spec for fetching: `allow_nonfinite`, `device` and `precision` must not fetch again."""
    return _spec_without(wildcards.model, ["allow_nonfinite", "device", "precision"])


def taxonomy_file(dataset):
    """The taxonomy file of a data set: a YAML path, or the package file of a shipped name."""
    return config_checks.taxonomy_path(DATASETS[dataset]["taxonomy"])


def taxonomy_input(wildcards):
    """collect_model: the taxonomy file for activation campaigns (SCM flags), none for weight_rate."""
    if CAMPAIGNS[wildcards.campaign]["kind"] != "activation":
        return []
    return taxonomy_file(wildcards.dataset)


def injections(campaign, model):
    """Activation injections of a model (dnnfi.config.planned_injections)."""
    return config_checks.planned_injections(CAMPAIGNS[campaign], model)


def n_shards(campaign, model):
    """Shards of a model's campaign: rounds in sequential mode, else the configured count."""
    spec = CAMPAIGNS[campaign]
    if spec["kind"] == "activation" and spec["sequential"]:
        return math.ceil(injections(campaign, model) / spec["round_size"])
    return spec["shards"]


SHARD_KEYS = {
    "activation": [
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
    ],
    "weight_rate": [
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
    ],
}


def shard_params(wildcards):
    """Everything a shard job depends on, per model, so that changing one model's injection
    count reruns only that model's shards and other models' settings rerun nothing."""
    spec = CAMPAIGNS[wildcards.campaign]
    params = {k: spec[k] for k in SHARD_KEYS[spec["kind"]]}
    params |= {
        "seed": config["seed"],
        "campaign": wildcards.campaign,
        "kind": spec["kind"],
    }
    params["shards"] = n_shards(wildcards.campaign, wildcards.model)
    if spec["kind"] == "activation" and spec["protection"]:
        params |= {k: spec[k] for k in ("protection", "paired_with")}
    if spec["kind"] == "activation":
        params["injections"] = injections(wildcards.campaign, wildcards.model)
        # only when set: the params (and shards) of other campaigns stay as they were
        if spec["bit_sweep"]:
            params["bit_sweep"] = True
        if spec["sequential"]:
            params |= {k: spec[k] for k in ("margin", "confidence", "round_size")}
    return params


def shard_path(campaign, dataset, model, shard):
    return f"results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet"


def paired_shard(wildcards):
    """A protected campaign's shard replays the same shard of its paired campaign (same faults)."""
    spec = CAMPAIGNS[wildcards.campaign]
    if spec["kind"] != "activation" or not spec["protection"]:
        return []
    return shard_path(
        spec["paired_with"], wildcards.dataset, wildcards.model, wildcards.shard
    )


def bounds_input(wildcards):
    """The profiled bounds of a protected campaign's model (none for other campaigns)."""
    spec = CAMPAIGNS[wildcards.campaign]
    if spec["kind"] != "activation" or not spec["protection"]:
        return []
    w = wildcards
    return f"results/campaigns/{w.campaign}/{w.dataset}/{w.model}/bounds.csv"


def profile_split(wildcards):
    """Bounds profile on the train split, or on the test split of a data set without one."""
    train = config_checks.has_train_split(DATASETS[wildcards.dataset])
    return f"results/data/{wildcards.dataset}/{'train' if train else 'test'}.npz"


def protection_params(wildcards):
    """What a bounds job depends on: the campaign's protection and its evaluated images."""
    spec = CAMPAIGNS[wildcards.campaign]
    return {"protection": spec["protection"], "images": spec["images"]}


def paired_models(wildcards, name):
    """Per model of a protected campaign: `name` (injections.parquet, fault_free.parquet) of
    the campaign, or of its paired campaign with name `paired/...`."""
    spec = CAMPAIGNS[wildcards.campaign]
    campaign = spec["paired_with"] if name.startswith("paired/") else wildcards.campaign
    return [
        f"results/campaigns/{campaign}/{MODELS[m]['dataset']}/{m}/{name.split('/')[-1]}"
        for m in spec["models"]
    ]


def shard_files(wildcards):
    if is_stratified(wildcards.campaign):
        return stratified_shard_files(wildcards)
    shards = range(n_shards(wildcards.campaign, wildcards.model))
    return [
        shard_path(wildcards.campaign, wildcards.dataset, wildcards.model, i)
        for i in shards
    ]


def earlier_rounds(wildcards):
    """In sequential mode a round reads the rounds before it to decide whether to run."""
    spec = CAMPAIGNS[wildcards.campaign]
    if spec["kind"] != "activation" or not spec["sequential"] or spec["protection"]:
        return []  # a protected campaign replays its pair's rounds (paired_shard)
    shards = range(int(wildcards.shard))
    return [
        shard_path(wildcards.campaign, wildcards.dataset, wildcards.model, i)
        for i in shards
    ]


def campaign_models(wildcards):
    return [
        f"results/campaigns/{wildcards.campaign}/{MODELS[m]['dataset']}/{m}/injections.parquet"
        for m in CAMPAIGNS[wildcards.campaign]["models"]
    ]


def campaign_baselines(wildcards):
    return [
        f"results/baseline/{MODELS[m]['dataset']}/{m}.parquet"
        for m in CAMPAIGNS[wildcards.campaign]["models"]
    ]


def campaign_datasets(wildcards):
    """The data sets of a campaign's models, sorted."""
    return sorted(
        {MODELS[m]["dataset"] for m in CAMPAIGNS[wildcards.campaign]["models"]}
    )


def campaign_taxonomies(wildcards):
    """The taxonomy files of campaign_datasets, in the same order."""
    return [taxonomy_file(d) for d in campaign_datasets(wildcards)]


def weight_stats_not_applicable(wildcards):
    """Statistics the campaign's layout cannot support -> reason (dnnfi.config)."""
    return config_checks.weight_stats_not_applicable(CAMPAIGNS[wildcards.campaign])


ACTIVATION_TABLES = ["summary", "outcomes", "by_layer", "by_bit", "scm"]
ACTIVATION_FIGURES = ["sdc_rate", "scm_probability", "sdc_by_bit", "sdc_by_layer"]
WEIGHT_TABLES = ["summary", "replicas"]
WEIGHT_STATS = list(config_checks.WEIGHT_STATS)
WEIGHT_FIGURES = ["error_vs_frate", "replica_boxplots", "std_intervals"]


BIT_SWEEP = [
    c
    for c, spec in CAMPAIGNS.items()
    if spec["kind"] == "activation" and spec["bit_sweep"]
]


def is_bit_sweep(campaign):
    return campaign in BIT_SWEEP


def bit_sweep_outputs(campaign):
    return [f"results/tables/{campaign}/bit_sweep.{ext}" for ext in ("csv", "md")] + [
        f"results/figures/{campaign}/bit_sweep.{ext}" for ext in ("png", "pdf")
    ]


def final_outputs():
    outputs = []
    for name, spec in CAMPAIGNS.items():
        # a stratified campaign: no unweighted tables or figures (docs/semantics.md, section 11)
        if is_stratified(name):
            outputs += stratified_outputs(name)
        # a bit-sweep campaign: per-bit tables only, the tables assuming independent
        # injections are not made (docs/semantics.md, section 16)
        elif is_bit_sweep(name):
            outputs += bit_sweep_outputs(name)
        elif spec["kind"] == "activation":
            outputs += expand("results/tables/{c}/{t}.csv", c=name, t=ACTIVATION_TABLES)
            outputs += expand(
                "results/figures/{c}/{f}.{ext}",
                c=name,
                f=ACTIVATION_FIGURES,
                ext=["png", "pdf"],
            )
            if spec["protection"]:
                outputs.append(f"results/tables/{name}/protection.csv")
                outputs += expand(
                    "results/figures/{c}/protection.{ext}", c=name, ext=["png", "pdf"]
                )
        else:
            outputs += expand("results/tables/{c}/{t}.csv", c=name, t=WEIGHT_TABLES)
            outputs += expand("results/stats/{c}/{t}.csv", c=name, t=WEIGHT_STATS)
            outputs += expand(
                "results/figures/{c}/{f}.{ext}",
                c=name,
                f=WEIGHT_FIGURES,
                ext=["png", "pdf"],
            )
        if not is_stratified(name) and not is_bit_sweep(name):
            outputs.append(f"results/tables/{name}/summary.md")
    return outputs
