"""Checks of a study config before any job runs, and one-line messages of failed jobs.

The Snakemake workflow calls :func:`check` on the loaded config (``workflow/rules/common.smk``);
everything here is plain Python (no Snakemake, TensorFlow or PyTorch), so it is unit-tested in
``tests/core/test_config.py``. Every error a user can cause by the config is a :class:`ConfigError`
whose message is one line naming the config key and what was expected.

Order of the checks: a protected campaign takes the fault keys of its ``paired_with`` campaign
(:func:`inherit_paired`), then the JSON schema (``workflow/schemas/config.schema.yaml``; campaigns are
kind-specific, an ``activation`` and a ``weight_rate`` campaign accept only their own keys), then
the defaults are filled in, then the cross-references (data sets, models, architectures,
taxonomies, shard counts, statistics a campaign can compute). Local files a config names but this
machine lacks are returned, not raised: a dry run shows the plan with a warning, a real run stops
before any job.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import jsonschema
import yaml

from dnnfi.faults import BIT_MODELS
from dnnfi.zoo import (ARCHITECTURES, DATA_HINTS, KERAS_APPLICATIONS, TORCHVISION_CLASSIFIERS, family_preprocessing,
                       unknown_name)

#: the schema in the source tree (the package is installed in editable mode)
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

KINDS = ("activation", "weight_rate")
TRAINABLE_SOURCES = ("digits", "image_folder", "cifar_archive", "cifar100_download")


class ConfigError(ValueError):
    """A config the workflow cannot run; the message is one line naming the key."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text())


# ---------------------------------------------------------------------------------------------
# schema validation and defaults


def campaign_keys(schema: dict, kind: str) -> list[str]:
    """The keys a campaign of ``kind`` accepts."""
    return sorted(schema["$defs"][f"{kind}_campaign"]["properties"])


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def error_line(error: jsonschema.ValidationError, schema: dict) -> str:
    """One line naming the config key and what was expected."""
    path = [str(p) for p in error.absolute_path]
    key = ".".join(path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))[0]
        full = extra if not path else f"{key}.{extra}"
        kind = error.instance.get("kind") if len(path) == 2 and path[0] == "campaigns" else None
        if kind in KINDS:
            others = [k for k in KINDS if k != kind and extra in campaign_keys(schema, k)]
            if others:
                return (
                    f"config key {full}: not a key of {_a(kind)} {kind} campaign (it belongs to {others[0]} "
                    f"campaigns); expected one of {', '.join(allowed)}"
                )
        return f"unknown config key {full}: expected one of {', '.join(allowed)}"
    if error.validator in ("type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                           "minItems", "maxItems"):
        return f"config key {key}: expected {error.validator} {error.validator_value}, got {error.instance!r}"
    if error.validator == "uniqueItems":
        return f"config key {key}: expected distinct items, got {error.instance!r}"
    return f"config key {key}: {error.message}"


def _with_defaults(validator_class):
    """A validator class that fills in each ``default`` of the properties it descends into.

    Campaigns use ``if``/``then`` on ``kind`` (not ``oneOf``), so only the matching kind's
    defaults land in a campaign."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def validate(config: dict, schema: dict) -> dict:
    """Raise :class:`ConfigError` for the shallowest schema error; else fill in the defaults
    (in place) and return the config."""
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(config),
        key=lambda e: (len(list(e.absolute_path)), [str(p) for p in e.absolute_path]),
    )
    if errors:
        raise ConfigError(error_line(errors[0], schema))
    for error in _with_defaults(jsonschema.Draft202012Validator)(schema).iter_errors(config):
        raise ConfigError(error_line(error, schema))  # defaults are valid, so this is a schema bug
    return config


# ---------------------------------------------------------------------------------------------
# local files


def _missing(key: str, path: str, what: str) -> list[str]:
    if os.path.exists(path):
        return []
    from dnnfi.inputs import MANIFEST

    if any(Path(path).as_posix().endswith(entry.path) for entry in MANIFEST):
        what += " (`make inputs` downloads it and checks its SHA-256: README, External inputs)"
    return [f"config key {key}: {path} not found (working directory {os.getcwd()}); {what}"]


def check_data_files(name: str, spec: dict) -> list[str]:
    """Local data named by a data set (missing-file messages)."""
    missing = []
    source = spec["source"]
    if "sha256" in spec and "path" not in spec:
        raise ConfigError(f"config key datasets.{name}.sha256: the checksum of `path`, which source {source} has not")
    if source in DATA_HINTS:
        if "path" not in spec:
            raise ConfigError(f"config key datasets.{name}.path: required for source {source}")
        missing += _missing(f"datasets.{name}.path", spec["path"], f"expected {DATA_HINTS[source]}")
    if source == "gtsrb":
        if "csv" not in spec:
            raise ConfigError(f"config key datasets.{name}.csv: required for source gtsrb")
        missing += _missing(f"datasets.{name}.csv", spec["csv"], f"expected GT-final_test.csv of {DATA_HINTS[source]}")
    if "train_path" in spec:
        missing += _missing(f"datasets.{name}.train_path", spec["train_path"], f"expected {DATA_HINTS[source]}")
    if "classes_tsv" in spec:
        missing += _missing(f"datasets.{name}.classes_tsv", spec["classes_tsv"],
                            "expected a TSV with wnid and name columns")
    return missing


def local_files(path: str) -> list[str]:
    """A local file, or every file under a folder (sorted): the inputs of the jobs that read
    ``path``, so that a changed, added or removed file reruns them. Nothing when ``path`` is
    missing (the missing-file messages of :func:`check` stop a real run before any job)."""
    if os.path.isfile(path):
        return [path]
    return sorted(os.path.join(root, f) for root, _, files in os.walk(path, followlinks=True) for f in files)


def data_files(spec: dict, split: str) -> list[str]:
    """The local files one split of a data set reads (see :func:`local_files`)."""
    source = spec["source"]
    if source == "image_folder":
        paths = [os.path.join(spec["path"], split)]
    elif source == "gtsrb":
        paths = [spec["train_path"]] if split == "train" else [spec["path"], spec["csv"]]
    else:
        paths = [spec[k] for k in ("path", "classes_tsv") if k in spec]
    return [f for path in paths for f in local_files(path)]


def model_files(spec: dict) -> list[str]:
    """The local weights file a model reads (none for trained and downloaded models)."""
    return local_files(spec["path"]) if "path" in spec else []


# ---------------------------------------------------------------------------------------------
# taxonomies


def is_taxonomy_file(name_or_path: str) -> bool:
    return Path(name_or_path).suffix in (".yaml", ".yml")


def shipped_taxonomies() -> list[str]:
    from importlib import resources

    folder = resources.files("dnnfi") / "taxonomies"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def taxonomy_path(name_or_path: str) -> str:
    """The file of a taxonomy: a YAML path as given (relative to the working directory), or the
    package file ``dnnfi/taxonomies/<name>.yaml`` of a shipped name."""
    if is_taxonomy_file(name_or_path):
        return str(name_or_path)
    from importlib import resources

    return str(resources.files("dnnfi") / "taxonomies" / f"{name_or_path}.yaml")


def static_classes(spec: dict) -> list[str] | None:
    """A data set's class names in label order where the config alone determines them (else None)."""
    source = spec["source"]
    if source == "digits":
        return [str(c) for c in range(10)]  # scikit-learn's digits: target_names 0..9
    if source == "image_folder" and spec.get("classes"):
        return [str(c) for c in spec["classes"]]
    if source == "gtsrb":
        from dnnfi.datasets import GTSRB_CLASSES

        return list(GTSRB_CLASSES)
    return None  # read from the data (archive, folders, TSV); checked when the data are prepared


def check_taxonomy(name: str, spec: dict) -> None:
    """The data set's taxonomy must exist, parse, partition its classes and, where the config
    determines the data set's classes, match them."""
    from dnnfi.taxonomy import TaxonomyError, load

    key = f"datasets.{name}.taxonomy"
    value = spec["taxonomy"]
    if is_taxonomy_file(value):
        # an input of the SCM jobs: without it not even a dry run can plan them, so stop here
        missing = _missing(key, value, "expected a taxonomy YAML file (format of dnnfi/taxonomies/digits.yaml)")
        if missing:
            raise ConfigError(missing[0])
    elif value not in shipped_taxonomies():
        raise ConfigError(
            f"config key {key}: unknown taxonomy {value!r}, expected one of {shipped_taxonomies()} "
            "or a .yaml/.yml file path"
        )
    try:
        load(value, expected_classes=static_classes(spec))
    except TaxonomyError as e:
        if "classes" in spec and "its classes differ" in str(e):
            key = f"datasets.{name}.classes"  # the user's own list, more likely misspelled than a shipped taxonomy
        raise ConfigError(f"config key {key}: {e}") from None
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"config key {key}: {value} is not a taxonomy YAML file ({type(e).__name__}: {first})") \
            from None


# ---------------------------------------------------------------------------------------------
# models


def check_model(name: str, model: dict, datasets: dict) -> list[str]:
    """Data set, architecture and weights of a model must be known or present before any job."""
    key = f"config key models.{name}"
    if model["dataset"] not in datasets:
        raise ConfigError(
            f"{key}.dataset: unknown data set {model['dataset']!r}, expected one of {sorted(datasets)}"
        )
    framework, source = model["framework"], model["source"]
    known = {
        "train": ARCHITECTURES[framework],
        "keras_applications": KERAS_APPLICATIONS,
        "file": ARCHITECTURES["torch"] if framework == "torch" else None,
        "torchvision": TORCHVISION_CLASSIFIERS,
    }[source]
    architecture = model.get("architecture")
    if known is not None and architecture not in known:
        raise ConfigError(f"{key}.architecture: "
                          + unknown_name(f"{framework} architecture", architecture, known, f" for source {source}"))
    if source == "torchvision" and framework != "torch":
        raise ConfigError(f"{key}.framework: source torchvision needs framework torch")
    if source == "keras_applications" and framework != "keras":
        raise ConfigError(f"{key}.framework: source keras_applications needs framework keras")
    expected = family_preprocessing(source, architecture)
    model.setdefault("preprocess", expected or "none")
    if model["preprocess"].startswith("keras_") and framework != "keras":
        # keras.applications' functions: a PyTorch job must not import TensorFlow (nor has it in its conda env)
        raise ConfigError(f"{key}.preprocess: {model['preprocess']} needs framework keras")
    if expected and model["weights"] and "path" not in model and model["preprocess"] != expected:
        raise ConfigError(f"{key}.preprocess: the {model['weights']} weights of {architecture} expect {expected}, "
                          f"got {model['preprocess']}")
    data = datasets[model["dataset"]]
    if source == "train" and not has_train_split(data):
        raise ConfigError(f"{key}.source: data set {model['dataset']!r} has no train split to train on")
    if model["train"]["augment"] and framework != "keras":
        raise ConfigError(f"{key}.train.augment: only Keras training augments its batches")
    if source == "file" and "path" not in model:
        raise ConfigError(f"{key}.path: required for source file")
    if "sha256" in model and "path" not in model:
        raise ConfigError(f"{key}.sha256: the checksum of `path`, which this model has not")
    if "path" in model:
        return _missing(f"models.{name}.path", model["path"], "expected the model's weights file")
    return []


# ---------------------------------------------------------------------------------------------
# campaigns


def planned_injections(campaign: dict, model: str) -> int:
    """Activation injections of a model: with a target ``margin`` (and no sequential stop)
    Leveugle et al.'s sample size, else the per-model or campaign ``injections`` (the upper
    bound of a sequential campaign). Not used by ``per_correctness`` image sampling, whose count
    follows from the baseline (see :func:`max_injections`)."""
    if campaign["margin"] is not None and not campaign["sequential"]:
        from dnnfi.samplesize import leveugle_sample_size

        return leveugle_sample_size(campaign["margin"], campaign["confidence"])
    return campaign["per_model"].get(model, {}).get("injections", campaign["injections"])


def max_injections(campaign: dict, model: str) -> tuple[int, str]:
    """The most injections a model of an activation campaign can get, and where the number comes from."""
    if campaign["image_sampling"] == "per_correctness":
        return 2 * campaign["per_category"], "2 x per_category (per_correctness image sampling)"
    if campaign["margin"] is not None and not campaign["sequential"]:
        return planned_injections(campaign, model), f"Leveugle sample size of margin {campaign['margin']}"
    if model in campaign["per_model"] and "injections" in campaign["per_model"][model]:
        return planned_injections(campaign, model), f"per_model.{model}.injections"
    return planned_injections(campaign, model), "injections"


def weight_units(campaign: dict) -> int:
    """Replicas of one model in a weight_rate campaign: frates x perturbations x replicas."""
    return len(campaign["frates"]) * len(campaign["perturbations"]) * campaign["replicas"]


def check_shards(name: str, campaign: dict) -> None:
    """No shard may be empty by construction: shards <= the injections (or replicas) of every model."""
    key = f"config key campaigns.{name}.shards"
    shards = campaign["shards"]
    if campaign["kind"] == "weight_rate":
        units = weight_units(campaign)
        if shards > units:
            raise ConfigError(
                f"{key}: {shards} shards for {units} replicas per model "
                f"({len(campaign['frates'])} frates x {len(campaign['perturbations'])} perturbations x "
                f"{campaign['replicas']} replicas); expected at most {units}"
            )
        return
    if campaign["sequential"]:
        return  # the jobs of a sequential campaign are its rounds (round_size), not `shards`
    unit = "points (bit_sweep: shards cut points)" if campaign["bit_sweep"] else "injections"
    for model in campaign["models"]:
        most, source = max_injections(campaign, model)
        if shards > most:
            raise ConfigError(
                f"{key}: {shards} shards for {most} {unit} of model {model} ({source}); "
                f"expected at most {most}"
            )


#: statistics of a weight_rate campaign (``results/stats/<campaign>/<name>.csv``)
WEIGHT_STATS = ("descriptive", "anova_models", "anova_factorial", "equal_variance", "std_intervals", "tukey")


def weight_stats_not_applicable(campaign: dict) -> dict[str, str]:
    """The statistics a weight_rate campaign's layout cannot support, with the reason (test name
    -> reason); the stats job writes their rows as not applicable instead of numbers."""
    reasons = {}
    if len(campaign["models"]) < 2:
        reasons["anova_models"] = "one model: no comparison across models"
        reasons["tukey"] = "one model: no pairs of models to compare"
    if len(campaign["frates"]) < 2:
        reasons["equal_variance"] = "one frate: no variances across frates to compare"
    if len(campaign["models"]) < 2 and len(campaign["frates"]) < 2 and len(campaign["perturbations"]) < 2:
        reasons["anova_factorial"] = "one model, one frate and one perturbation: no factor varies"
    return reasons


def check_activation(name: str, campaign: dict) -> None:
    """Bit keys on a fault model that uses no bit would be silently ignored: refuse them."""
    model = campaign["fault_model"]
    if model not in BIT_MODELS:
        for key, default in (("bits", None), ("bits_per_element", 1)):
            if campaign[key] != default:
                raise ConfigError(f"config key campaigns.{name}.{key}: fault model {model} uses no bit; "
                                  f"remove the key or choose one of {', '.join(BIT_MODELS)}")
    for model_name in campaign["per_model"]:
        if model_name not in campaign["models"]:
            raise ConfigError(
                f"config key campaigns.{name}.per_model.{model_name}: not a model of this campaign, "
                f"expected one of {campaign['models']}"
            )


def check_weight_rate(name: str, campaign: dict) -> None:
    if campaign["replicas"] < 2:
        raise ConfigError(
            f"config key campaigns.{name}.replicas: 1 replica gives no variance, so no statistic of the "
            "campaign (std, ANOVA, Levene, Bartlett, Tukey, std intervals) can be computed; expected at least 2"
        )
    if campaign["value_range"] is not None and not campaign["value_range"][0] < campaign["value_range"][1]:
        raise ConfigError(
            f"config key campaigns.{name}.value_range: expected [low, high] with low < high, got {campaign['value_range']}"
        )
    uniform = campaign["distribution"] == "uniform"
    if uniform != (campaign["value_range"] is not None):
        raise ConfigError(
            f"config key campaigns.{name}.value_range: " + ("required by distribution uniform" if uniform else
                                                            f"applies to distribution uniform only, not {campaign['distribution']}")
        )
    if "random" not in campaign["perturbations"] and campaign["distribution"] != "layer_uniform":
        raise ConfigError(f"config key campaigns.{name}.distribution: applies to the random perturbation, "
                          f"which perturbations {campaign['perturbations']} do not include")
    if campaign["bits"] is not None and not set(BIT_MODELS) & set(campaign["perturbations"]):
        raise ConfigError(f"config key campaigns.{name}.bits: applies to bitflip / stuck_at perturbations, "
                          f"which perturbations {campaign['perturbations']} do not include")


def check_bits_fit(name: str, campaign: dict, models: dict) -> None:
    """A campaign's ``bits`` must lie in the width of every model's precision (a float32 model
    may still hold narrower tensors of its own: its jobs check each fault's bit)."""
    from dnnfi.precision import width

    for model in campaign["models"]:
        bits = width(models[model]["precision"])
        wide = [b for b in campaign["bits"] or () if b >= bits]
        if wide:
            raise ConfigError(
                f"config key campaigns.{name}.bits: bits {wide} outside the {bits} bits (0..{bits - 1}) of model "
                f"{model} (precision {models[model]['precision']})"
            )
#: keys of a protected campaign; every other key comes from its paired campaign (same faults)
PROTECTED_KEYS = ("kind", "models", "paired_with", "protection", "batch_size", "cache_mb", "confidence")


def inherit_paired(config: dict) -> None:
    """Give each protected campaign (``paired_with``) the fault-list keys of its paired campaign,
    in place, so both draw the same faults; refuse a fault key set on the protected one."""
    campaigns = config.get("campaigns")
    if not isinstance(campaigns, dict):
        return  # the schema names the problem
    for name, campaign in campaigns.items():
        if not isinstance(campaign, dict) or campaign.get("paired_with") is None:
            continue
        key = f"config key campaigns.{name}"
        paired = campaign["paired_with"]
        other = campaigns.get(paired)
        if isinstance(other, dict) and other.get("kind") not in KINDS:
            continue  # the schema names the paired campaign's own problem
        if not isinstance(other, dict) or other.get("kind") != "activation" or other.get("paired_with") is not None:
            candidates = sorted(c for c, spec in campaigns.items() if isinstance(spec, dict)
                                and spec.get("kind") == "activation" and spec.get("paired_with") is None)
            raise ConfigError(f"{key}.paired_with: expected an unprotected activation campaign, one of {candidates}, "
                              f"got {paired!r}")
        for k in campaign:
            if k not in PROTECTED_KEYS:
                raise ConfigError(f"{key}.{k}: a protected campaign replays the faults of campaigns.{paired} "
                                  f"(paired_with); set {k} there, here only {', '.join(PROTECTED_KEYS)}")
        extra = sorted(set(campaign.get("models", [])) - set(other.get("models", [])))
        if extra:
            raise ConfigError(f"{key}.models: model {extra[0]} is not a model of campaigns.{paired}, "
                              f"expected some of {other.get('models')}")
        campaign.update({k: copy.deepcopy(v) for k, v in other.items() if k not in campaign})


def check_protection(name: str, campaign: dict) -> None:
    """``protection`` and ``paired_with`` go together (the paired table needs both)."""
    if (campaign["protection"] is None) != (campaign["paired_with"] is None):
        missing = "paired_with" if campaign["protection"] is not None else "protection"
        raise ConfigError(f"config key campaigns.{name}.{missing}: required with "
                          f"{'protection' if missing == 'paired_with' else 'paired_with'} "
                          "(a protected campaign replays the faults of its paired unprotected campaign)")
    if campaign["protection"] is not None and campaign.get("stratified") is not None:
        raise ConfigError(f"config key campaigns.{name}.paired_with: campaigns.{campaign['paired_with']} is stratified, "
                          "expected a uniformly sampled campaign (a protected campaign replays its shards; "
                          "stratified rounds cannot be replayed)")
    if campaign["protection"] is not None:
        layers = campaign["protection"]["layers"]
        try:
            re.compile(layers)
        except re.error as e:
            raise ConfigError(f"config key campaigns.{name}.protection.layers: {layers!r} is not a regular "
                              f"expression ({e})") from None


def has_train_split(spec: dict) -> bool:
    """Whether a data set has a train split (models train on it; protection bounds profile on it)."""
    return spec["source"] in TRAINABLE_SOURCES or "train_path" in spec


def check_single_bit(name: str, campaign: dict, mode: str) -> None:
    """``mode`` (bit sweep, strata) is defined for single-bit faults of one element only."""
    key = f"config key campaigns.{name}"
    if campaign["fault_model"] not in BIT_MODELS:
        raise ConfigError(f"{key}.fault_model: {mode} needs a single-bit fault model ({', '.join(BIT_MODELS)}), "
                          f"not {campaign['fault_model']}")
    for option in ("bits_per_element", "elements_per_fault"):
        if campaign[option] != 1:
            raise ConfigError(f"{key}.{option}: {mode} draws single-bit faults of one element; expected 1")


def check_campaign(name: str, campaign: dict, models: dict) -> None:
    for model in campaign["models"]:
        if model not in models:
            raise ConfigError(
                f"config key campaigns.{name}.models: unknown model {model!r}, expected one of {sorted(models)}"
            )
    check_bits_fit(name, campaign, models)
    if campaign["kind"] == "activation":
        check_activation(name, campaign)
        if campaign["bit_sweep"]:
            from dnnfi.sweep_campaign import check as check_sweep

            check_single_bit(name, campaign, "a bit-sweep campaign")
            if reason := check_sweep(name, campaign):
                raise ConfigError(reason)
        check_protection(name, campaign)
        if campaign["stratified"] is not None:
            from dnnfi.stratified_campaign import check as check_stratified

            check_single_bit(name, campaign, "a stratified campaign")
            if reason := check_stratified(name, campaign):
                raise ConfigError(reason)
    else:
        check_weight_rate(name, campaign)
    check_shards(name, campaign)


def check(config: dict, schema: dict | str | Path = SCHEMA_PATH) -> list[str]:
    """Check ``config`` (filling in its defaults in place). Raises :class:`ConfigError` with one
    line; returns the messages of local files the config names but this machine lacks."""
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    inherit_paired(config)
    validate(config, schema)
    missing = []
    for name, spec in config["datasets"].items():
        missing += check_data_files(name, spec)
        check_taxonomy(name, spec)
    for name, model in config["models"].items():
        missing += check_model(name, model, config["datasets"])
    for name, campaign in config["campaigns"].items():
        check_campaign(name, campaign, config["models"])
    for framework, python in config["python"].items():
        missing += _missing(f"python.{framework}", python, "expected the Python interpreter of a virtual environment "
                            "with Snakemake's Python version, e.g. .venv-gpu/bin/python (make run GPU=1 builds it)")
    return missing
