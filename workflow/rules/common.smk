# Helpers shared by all modules (config validation, vocabularies, paths, parameters).

import jsonschema
from snakemake.utils import validate

from dnnfi.zoo import ARCHITECTURES

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
    for name, model in config["models"].items():
        known = ARCHITECTURES[model["framework"]]
        if model["architecture"] not in known:
            raise ValueError(
                f"config key models.{name}.architecture: unknown {model['framework']} architecture "
                f"{model['architecture']!r}, expected one of {sorted(known)}"
            )
        if model["dataset"] not in config["datasets"]:
            raise ValueError(
                f"config key models.{name}.dataset: unknown data set {model['dataset']!r}, "
                f"expected one of {sorted(config['datasets'])}"
            )
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
        engines = {"activation": {"keras"}, "weight_rate": {"torch"}}[campaign["kind"]]
        for model in campaign["models"]:
            if config["models"][model]["framework"] not in engines:
                raise ValueError(
                    f"config key campaigns.{name}.models: model {model!r} is a "
                    f"{config['models'][model]['framework']} model, expected a {' or '.join(sorted(engines))} "
                    f"model for kind {campaign['kind']}"
                )


validate_config(config)

DATASETS = config["datasets"]
MODELS = config["models"]
CAMPAIGNS = config["campaigns"]


def _alternatives(names):
    return "|".join(sorted(names)) or "^$"


def models_of(framework):
    return _alternatives(
        m for m, spec in MODELS.items() if spec["framework"] == framework
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
    spec = CAMPAIGNS[campaign]
    return spec["per_model"].get(model, {}).get("injections", spec["injections"])


def shard_params(wildcards):
    """Everything a shard job depends on; per-model values only, so that changing one model's
    injection count reruns only that model's shards."""
    spec = dict(CAMPAIGNS[wildcards.campaign])
    spec.pop("per_model")
    spec.pop("models")
    if spec["kind"] == "activation":
        spec["injections"] = injections(wildcards.campaign, wildcards.model)
    return {"seed": config["seed"], "campaign": wildcards.campaign, **spec}


def shard_files(wildcards):
    n = CAMPAIGNS[wildcards.campaign]["shards"]
    return expand(
        "results/campaigns/{campaign}/{dataset}/{model}/shard-{shard}.parquet",
        campaign=wildcards.campaign,
        dataset=wildcards.dataset,
        model=wildcards.model,
        shard=range(n),
    )


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
