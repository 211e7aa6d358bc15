# Helpers shared by all modules (vocabularies, paths, parameters). The config checks live in
# dnnfi.workflow.config (unit-tested without Snakemake); here they are only called.

import os
import sys

from snakemake.logging import logger

import dnnfi.designs as designs
import dnnfi.designs.base as campaign_files
import dnnfi.workflow.config as config_checks
import dnnfi.engines.devices as devices
import dnnfi.workflow.runlog as runlog

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
MODEL_DATASETS = {m: spec["dataset"] for m, spec in MODELS.items()}

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


def models_from(*sources):
    """Alternatives of the models of the given sources."""
    return _alternatives(m for m, spec in MODELS.items() if spec["source"] in sources)


# Each campaign's design (dnnfi.designs): the rules ask it for shards, parameters, inputs and
# outputs, and never test for a design by name.
DESIGNS = {c: designs.of(spec) for c, spec in CAMPAIGNS.items()}


def campaigns_where(test):
    """Alternatives of the campaigns whose design passes `test(design)`."""
    return _alternatives(c for c, d in DESIGNS.items() if test(d))


def campaigns_making(pattern):
    """Alternatives of the campaigns whose design asks for the file `pattern` (of {campaign}):
    the campaign constraint of the rule that makes it."""
    return _alternatives(
        c
        for c, d in DESIGNS.items()
        if pattern.format(campaign=c) in d.outputs(c, CAMPAIGNS[c])
    )


def design_of(wildcards):
    return DESIGNS[wildcards.campaign]


# The files of a study (rules and input functions use these patterns, never spelled-out paths).
DATA_SPLIT = "results/data/{dataset}/{split}.npz"
TRAIN_SPLIT = "results/data/{dataset}/train.npz"
TEST_SPLIT = "results/data/{dataset}/test.npz"
MODEL_FILE = "results/models/{dataset}/{model}.{ext}"
BASELINE = "results/baseline/{dataset}/{model}.parquet"
CAMPAIGN_MODEL = campaign_files.CAMPAIGN_MODEL  # a campaign's files: dnnfi.designs.base
EVALUATED = campaign_files.EVALUATED
SHARD = campaign_files.SHARD
TABLE = campaign_files.TABLE
FIGURE = campaign_files.FIGURE
MODEL_EXT = {"keras": "keras", "torch": "pt"}


def model_file(model):
    spec = MODELS[model]
    return MODEL_FILE.format(
        dataset=spec["dataset"], model=model, ext=MODEL_EXT[spec["framework"]]
    )


def campaign_file(campaign, model, name):
    """A file of one model's part of a campaign (`name`: shard-0.parquet, injections.parquet...)."""
    folder = CAMPAIGN_MODEL.format(
        campaign=campaign, dataset=MODELS[model]["dataset"], model=model
    )
    return f"{folder}/{name}"


def framework(wildcards):
    return MODELS[wildcards.model]["framework"]


def framework_env(wildcards):
    """Conda env of a model's jobs: TensorFlow's (`conda_envs`: cpu or gpu build) or PyTorch's."""
    return TENSORFLOW_ENV if framework(wildcards) == "keras" else PYTORCH_ENV


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
PYTORCH_ENV = "../../envs/pytorch.yaml"

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
    if design_of(wildcards).kind != "activation":
        return []
    return taxonomy_file(wildcards.dataset)


def shard_params(wildcards):
    """Everything a shard job depends on, per model (the design's `shard_params`), so that
    changing one model's injection count reruns only that model's shards and other models'
    settings rerun nothing."""
    c = wildcards.campaign
    return DESIGNS[c].shard_params(c, CAMPAIGNS[c], wildcards.model, config["seed"])


def shard_input(name):
    """Input function: the files `name` (earlier, paired, bounds) a shard job of the campaign's
    design reads (an empty list where its design reads none)."""

    def files(wildcards):
        w = wildcards
        inputs = DESIGNS[w.campaign].shard_inputs(
            w.campaign, CAMPAIGNS[w.campaign], w.dataset, w.model, int(w.shard)
        )
        return inputs[name]

    return files


def profile_split(wildcards):
    """Bounds profile on the train split, or on the test split of a data set without one."""
    train = config_checks.has_train_split(DATASETS[wildcards.dataset])
    return DATA_SPLIT.format(
        dataset=wildcards.dataset, split="train" if train else "test"
    )


def bounds_params(wildcards):
    """What a bounds job depends on (its design's `bounds_params`)."""
    return design_of(wildcards).bounds_params(CAMPAIGNS[wildcards.campaign])


def per_model(name, campaign_of=lambda w: w.campaign):
    """Input function: file `name` of every model of a campaign (`campaign_of(wildcards)`:
    the campaign whose files are read, e.g. a protected campaign's paired campaign)."""
    return lambda w: [
        campaign_file(campaign_of(w), m, name) for m in CAMPAIGNS[w.campaign]["models"]
    ]


def paired_campaign(wildcards):
    return CAMPAIGNS[wildcards.campaign]["paired_with"]


def shard_files(wildcards):
    """collect_model: every shard file of a model (its design's layout)."""
    c = wildcards.campaign
    return DESIGNS[c].shard_files(c, CAMPAIGNS[c], wildcards.dataset, wildcards.model)


campaign_models = per_model("injections.parquet")


def campaign_baselines(wildcards):
    return [
        BASELINE.format(dataset=MODELS[m]["dataset"], model=m)
        for m in CAMPAIGNS[wildcards.campaign]["models"]
    ]


def campaign_evaluated(wildcards):
    """The evaluated images' table of each of campaign_models' data sets, in their order."""
    c = wildcards.campaign
    return [
        EVALUATED.format(campaign=c, dataset=MODELS[m]["dataset"])
        for m in CAMPAIGNS[c]["models"]
    ]


def campaign_labels(wildcards):
    """The data set and model of each of campaign_models (and campaign_baselines), in their order:
    scripts take them from here, never from the paths."""
    return [
        {"dataset": MODELS[m]["dataset"], "model": m}
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
    """Statistics the campaign's layout cannot support -> reason (dnnfi.designs.weight_rate)."""
    return designs.weight_rate.stats_not_applicable(CAMPAIGNS[wildcards.campaign])


def final_outputs():
    """The tables, statistics and figures of every campaign, as its design lists them."""
    return [f for c, d in DESIGNS.items() for f in d.outputs(c, CAMPAIGNS[c])]


# Stratified campaigns (workflow/rules/stratified.smk): the design gives their files and parameters.
STRATIFIED = campaigns_where(lambda d: d.shard_rule == "stratified_inject")
# protected campaigns over stratified ones: their rounds' shards are replays
STRATIFIED_REPLAYS = campaigns_where(lambda d: d.shard_rule == "stratified_replay")
STRATIFIED_ROUND = f"{CAMPAIGN_MODEL}/{{population}}/round-{{round}}"
ROUND_0 = STRATIFIED_ROUND.replace("{round}", "0")
POPULATIONS = _alternatives(
    p for ps in designs.stratified.POPULATIONS.values() for p in ps
)


def stratified_params(wildcards):
    """The parameters of the campaign's draw, inject and table jobs (the same for every model)."""
    c = wildcards.campaign
    return DESIGNS[c].shard_params(c, CAMPAIGNS[c], None, config["seed"])


def stratified_earlier(wildcards):
    """A round's draw job reads the outcomes of the rounds before it."""
    w = wildcards
    return design_of(w).earlier_rounds(
        w.campaign, CAMPAIGNS[w.campaign], w.dataset, w.model, w.population, w.round
    )


def replayed_round_shard(wildcards):
    """A protected replay of a stratified round's shard: the paired campaign's same shard."""
    w = dict(wildcards.items())
    return f"{STRATIFIED_ROUND}/shard-{{shard}}.parquet".format(
        **w | {"campaign": paired_campaign(wildcards)}
    )


def bounds_file(wildcards):
    """The profiled bounds of a protected campaign's model."""
    return design_of(wildcards).bounds_file(
        wildcards.campaign, wildcards.dataset, wildcards.model
    )


def stratified_strata(wildcards):
    """The strata tables (weights) of a campaign, per model and population."""
    c = wildcards.campaign
    return DESIGNS[c].strata_files(c, CAMPAIGNS[c], MODEL_DATASETS)


def stratified_labels(wildcards):
    """The data set, model and population of each of stratified_strata, in their order."""
    c = wildcards.campaign
    return DESIGNS[c].strata_labels(CAMPAIGNS[c], MODEL_DATASETS)
