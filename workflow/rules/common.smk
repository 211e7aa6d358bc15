# Helpers shared by all modules (config validation, vocabularies, paths, parameters).

import math
import os

import jsonschema
from snakemake.logging import logger
from snakemake.utils import validate

from dnnfi.samplesize import leveugle_sample_size
from dnnfi.zoo import ARCHITECTURES, DATA_HINTS, KERAS_APPLICATIONS

SCHEMA = "../schemas/config.schema.yaml"


def _config_error(error):
    """One line naming the config key and what was expected."""
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        full = extra[0] if key == "<top level>" else f"{key}.{extra[0]}"
        return f"unknown config key {full}: expected one of {allowed}"
    if error.validator in (
        "type",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ):
        expected = error.validator_value
        return f"config key {key}: expected {error.validator} {expected}, got {error.instance!r}"
    if error.validator == "required":
        return f"config key {key}: {error.message}"
    return f"config key {key}: {error.message}"


# Local data and weights a config names but this machine lacks: a dry run still shows the
# plan (with a warning), a real run stops in `onstart`, before any job (see stop_if_files_missing).
MISSING_FILES = []


def _require_file(key, path, what):
    if not os.path.exists(path):
        MISSING_FILES.append(
            f"config key {key}: {path} not found (working directory {os.getcwd()}); {what}"
        )


def stop_if_files_missing():
    if MISSING_FILES:
        raise ValueError("\n".join(MISSING_FILES))


def check_data_files(name, spec):
    """Local data named by a data set must exist before any job starts."""
    source = spec["source"]
    if source in DATA_HINTS:
        if "path" not in spec:
            raise ValueError(
                f"config key datasets.{name}.path: required for source {source}"
            )
        _require_file(
            f"datasets.{name}.path", spec["path"], f"expected {DATA_HINTS[source]}"
        )
    if source == "gtsrb":
        if "csv" not in spec:
            raise ValueError(
                f"config key datasets.{name}.csv: required for source gtsrb"
            )
        _require_file(
            f"datasets.{name}.csv",
            spec["csv"],
            f"expected GT-final_test.csv of {DATA_HINTS[source]}",
        )
    if "train_path" in spec:
        _require_file(
            f"datasets.{name}.train_path",
            spec["train_path"],
            f"expected {DATA_HINTS[source]}",
        )
    if "classes_tsv" in spec:
        _require_file(
            f"datasets.{name}.classes_tsv",
            spec["classes_tsv"],
            "expected a TSV with wnid and name columns",
        )


TRAINABLE_SOURCES = ("digits", "image_folder", "cifar_archive", "cifar100_download")


def check_model(name, model, datasets):
    """Data set, architecture and weights of a model must be known or present before any job."""
    key = f"config key models.{name}"
    if model["dataset"] not in datasets:
        raise ValueError(
            f"{key}.dataset: unknown data set {model['dataset']!r}, expected one of {sorted(datasets)}"
        )
    framework, source = model["framework"], model["source"]
    known = {
        "train": ARCHITECTURES[framework],
        "keras_applications": KERAS_APPLICATIONS,
        "file": ARCHITECTURES["torch"] if framework == "torch" else None,
        "torchvision": None,  # any torchvision classifier name; checked by torchvision itself
    }[source]
    architecture = model.get("architecture")
    if known is not None and architecture not in known:
        raise ValueError(
            f"{key}.architecture: unknown {framework} architecture {architecture!r} for source {source}, "
            f"expected one of {sorted(known)}"
        )
    if source == "torchvision" and (framework != "torch" or not architecture):
        raise ValueError(
            f"{key}: source torchvision needs framework torch and a torchvision architecture name"
        )
    if source == "keras_applications" and framework != "keras":
        raise ValueError(
            f"{key}.framework: source keras_applications needs framework keras"
        )
    data = datasets[model["dataset"]]
    if (
        source == "train"
        and data["source"] not in TRAINABLE_SOURCES
        and "train_path" not in data
    ):
        raise ValueError(
            f"{key}.source: data set {model['dataset']!r} has no train split to train on"
        )
    if model["train"]["augment"] and framework != "keras":
        raise ValueError(
            f"{key}.train.augment: only Keras training augments its batches"
        )
    if source == "file" and "path" not in model:
        raise ValueError(f"{key}.path: required for source file")
    if "path" in model:
        _require_file(f"{key}.path", model["path"], "expected the model's weights file")


def validate_config(config):
    """Schema check (sets defaults), then cross-references; raises ValueError with one message."""
    from pathlib import Path

    import yaml

    schema = yaml.safe_load(Path(workflow.source_path(SCHEMA)).read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(config),
        key=lambda e: len(list(e.absolute_path)),
    )
    if errors:
        raise ValueError(_config_error(errors[0]))
    validate(config, SCHEMA)  # fills in the defaults
    for name, spec in config["datasets"].items():
        check_data_files(name, spec)
    for name, model in config["models"].items():
        check_model(name, model, config["datasets"])
    for name, campaign in config["campaigns"].items():
        for model in campaign["models"]:
            if model not in config["models"]:
                raise ValueError(
                    f"config key campaigns.{name}.models: unknown model {model!r}, "
                    f"expected one of {sorted(config['models'])}"
                )
        for model in campaign["per_model"]:
            if model not in campaign["models"]:
                raise ValueError(
                    f"config key campaigns.{name}.per_model.{model}: not a model of this campaign, "
                    f"expected one of {campaign['models']}"
                )


validate_config(config)
for missing in MISSING_FILES:
    logger.warning(f"{missing} (a real run stops here)")

DATASETS = config["datasets"]
MODELS = config["models"]
CAMPAIGNS = config["campaigns"]


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


def model_file(model):
    ext = {"keras": "keras", "torch": "pt"}[MODELS[model]["framework"]]
    return f"results/models/{MODELS[model]['dataset']}/{model}.{ext}"


def model_input(wildcards):
    return model_file(wildcards.model)


def dataset_params(wildcards):
    return DATASETS[wildcards.dataset]


def model_params(wildcards):
    return MODELS[wildcards.model]


def taxonomy_of(wildcards):
    return DATASETS[wildcards.dataset]["taxonomy"]


def injections(campaign, model):
    """Activation injections of a model: the per-model or campaign count, or with a target
    margin (and no sequential stop) Leveugle et al.'s sample size."""
    spec = CAMPAIGNS[campaign]
    if spec["margin"] is not None and not spec["sequential"]:
        return leveugle_sample_size(spec["margin"], spec["confidence"])
    return spec["per_model"].get(model, {}).get("injections", spec["injections"])


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
        "batch_size",
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
    if spec["kind"] == "activation":
        params["injections"] = injections(wildcards.campaign, wildcards.model)
        if spec["sequential"]:
            params |= {k: spec[k] for k in ("margin", "confidence", "round_size")}
    return params


def shard_path(campaign, dataset, model, shard):
    return f"results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet"


def shard_files(wildcards):
    shards = range(n_shards(wildcards.campaign, wildcards.model))
    return [
        shard_path(wildcards.campaign, wildcards.dataset, wildcards.model, i)
        for i in shards
    ]


def earlier_rounds(wildcards):
    """In sequential mode a round reads the rounds before it to decide whether to run."""
    spec = CAMPAIGNS[wildcards.campaign]
    if spec["kind"] != "activation" or not spec["sequential"]:
        return []
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


def campaign_taxonomies(wildcards):
    """Data set name -> taxonomy for the data sets of a campaign's models."""
    sets = {MODELS[m]["dataset"] for m in CAMPAIGNS[wildcards.campaign]["models"]}
    return {d: DATASETS[d]["taxonomy"] for d in sorted(sets)}


ACTIVATION_TABLES = ["summary", "outcomes", "by_layer", "by_bit", "scm"]
ACTIVATION_FIGURES = ["sdc_rate", "scm_probability", "sdc_by_bit", "sdc_by_layer"]
WEIGHT_TABLES = ["summary", "replicas"]
WEIGHT_STATS = [
    "descriptive",
    "anova_models",
    "anova_factorial",
    "equal_variance",
    "std_intervals",
    "tukey",
]
WEIGHT_FIGURES = ["error_vs_frate", "replica_boxplots", "std_intervals"]


def final_outputs():
    outputs = []
    for name, spec in CAMPAIGNS.items():
        if spec["kind"] == "activation":
            outputs += expand("results/tables/{c}/{t}.csv", c=name, t=ACTIVATION_TABLES)
            outputs += expand(
                "results/figures/{c}/{f}.{ext}",
                c=name,
                f=ACTIVATION_FIGURES,
                ext=["png", "pdf"],
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
        outputs.append(f"results/tables/{name}/summary.md")
    return outputs
