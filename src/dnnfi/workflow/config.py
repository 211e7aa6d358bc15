"""Checks of a study config before any job runs, and one-line messages of failed jobs.

The Snakemake workflow calls :func:`check` on the loaded config (``workflow/rules/common.smk``);
everything here is plain Python (no Snakemake, TensorFlow or PyTorch), so it is unit-tested in
``tests/core/test_config.py``. Every error a user can cause by the config is a :class:`ConfigError`
whose message is one line naming the config key and what was expected.

Order of the checks: a campaign in today's flag form gets its ``design`` key
(:func:`dnnfi.designs.translate`), then the JSON schema (``workflow/schemas/config.schema.yaml``
with each design's keys from :mod:`dnnfi.designs`: a campaign accepts only the keys of its design),
then the defaults are filled in, a composed campaign (``protected``) takes the keys of the campaign
it runs over (:func:`dnnfi.designs.resolve`), then the cross-references (data sets, models,
architectures, taxonomies) and each design's own checks (shard counts, statistics a campaign can
compute, ...). Local files a config names but this machine lacks are returned, not raised: a dry
run shows the plan with a warning, a real run stops before any job.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import jsonschema
import yaml

from dnnfi import designs
from dnnfi.data.datasets import DATA_HINTS
from dnnfi.data.preprocess import PREPROCESSING
from dnnfi.engines.zoo import (
    ARCHITECTURES,
    KERAS_APPLICATIONS,
    TORCHVISION_CLASSIFIERS,
    family_preprocessing,
    unknown_name,
)
from dnnfi.errors import ConfigError
from dnnfi.faults.precision import PRECISIONS

#: the schema in the source tree (the package is installed in editable mode)
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

TRAINABLE_SOURCES = ("digits", "image_folder", "cifar_archive", "cifar100_download")


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The schema file with the campaigns' keys of every design (:mod:`dnnfi.designs`) and the
    values the package defines (preprocessing, precision)."""
    schema = yaml.safe_load(Path(path).read_text())
    model = schema["properties"]["models"]["additionalProperties"]["properties"]
    model["preprocess"]["enum"] = list(PREPROCESSING)
    model["precision"]["enum"] = list(PRECISIONS)
    campaigns = schema["properties"]["campaigns"]
    campaigns["additionalProperties"] = designs.campaign_schema(campaigns["additionalProperties"])
    schema.setdefault("$defs", {}).update(designs.schema_defs())
    return schema


# ---------------------------------------------------------------------------------------------
# schema validation and defaults


def error_line(error: jsonschema.ValidationError, schema: dict) -> str:
    """One line naming the config key and what was expected."""
    path = [str(p) for p in error.absolute_path]
    key = ".".join(path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))[0]
        full = extra if not path else f"{key}.{extra}"
        if (
            len(path) == 2
            and path[0] == "campaigns"
            and (line := designs.foreign_key(path[1], error.instance, extra))
        ):
            return line
        return f"unknown config key {full}: expected one of {', '.join(allowed)}"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        design = error.instance.get("design") if len(path) == 2 and path[0] == "campaigns" else None
        return f"config key {key + '.' if path else ''}{missing}: required" + (
            f" by a {design} campaign" if design else ""
        )
    if error.validator in (
        "type",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    ):
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
    from dnnfi.data.inputs import MANIFEST

    if any(Path(path).as_posix().endswith(entry.path) for entry in MANIFEST):
        what += " (`make inputs` downloads it and checks its SHA-256: README, External inputs)"
    return [f"config key {key}: {path} not found (working directory {os.getcwd()}); {what}"]


def check_data_files(name: str, spec: dict) -> list[str]:
    """Local data named by a data set (missing-file messages)."""
    missing = []
    source = spec["source"]
    if "sha256" in spec and "path" not in spec:
        raise ConfigError(
            f"config key datasets.{name}.sha256: the checksum of `path`, which source {source} has not"
        )
    if source in DATA_HINTS:
        if "path" not in spec:
            raise ConfigError(f"config key datasets.{name}.path: required for source {source}")
        missing += _missing(f"datasets.{name}.path", spec["path"], f"expected {DATA_HINTS[source]}")
    if source == "gtsrb":
        if "csv" not in spec:
            raise ConfigError(f"config key datasets.{name}.csv: required for source gtsrb")
        missing += _missing(
            f"datasets.{name}.csv",
            spec["csv"],
            f"expected GT-final_test.csv of {DATA_HINTS[source]}",
        )
    if "train_path" in spec:
        missing += _missing(
            f"datasets.{name}.train_path", spec["train_path"], f"expected {DATA_HINTS[source]}"
        )
    if "classes_tsv" in spec:
        missing += _missing(
            f"datasets.{name}.classes_tsv",
            spec["classes_tsv"],
            "expected a TSV with wnid and name columns",
        )
    return missing


def local_files(path: str) -> list[str]:
    """A local file, or every file under a folder (sorted): the inputs of the jobs that read
    ``path``, so that a changed, added or removed file reruns them. Nothing when ``path`` is
    missing (the missing-file messages of :func:`check` stop a real run before any job)."""
    if os.path.isfile(path):
        return [path]
    return sorted(
        os.path.join(root, f) for root, _, files in os.walk(path, followlinks=True) for f in files
    )


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

    folder = resources.files("dnnfi.analysis") / "taxonomies"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def taxonomy_path(name_or_path: str) -> str:
    """The file of a taxonomy: a YAML path as given (relative to the working directory), or the
    package file ``dnnfi/analysis/taxonomies/<name>.yaml`` of a shipped name."""
    if is_taxonomy_file(name_or_path):
        return str(name_or_path)
    from importlib import resources

    return str(resources.files("dnnfi.analysis") / "taxonomies" / f"{name_or_path}.yaml")


def static_classes(spec: dict) -> list[str] | None:
    """A data set's class names in label order where the config alone determines them (else None)."""
    source = spec["source"]
    if source == "digits":
        return [str(c) for c in range(10)]  # scikit-learn's digits: target_names 0..9
    if source == "image_folder" and spec.get("classes"):
        return [str(c) for c in spec["classes"]]
    if source == "gtsrb":
        from dnnfi.data.datasets import GTSRB_CLASSES

        return list(GTSRB_CLASSES)
    return None  # read from the data (archive, folders, TSV); checked when the data are prepared


def check_taxonomy(name: str, spec: dict) -> None:
    """The data set's taxonomy must exist, parse, partition its classes and, where the config
    determines the data set's classes, match them."""
    from dnnfi.analysis.taxonomy import TaxonomyError, load

    key = f"datasets.{name}.taxonomy"
    value = spec["taxonomy"]
    if is_taxonomy_file(value):
        # an input of the SCM jobs: without it not even a dry run can plan them, so stop here
        missing = _missing(
            key,
            value,
            "expected a taxonomy YAML file (format of dnnfi/analysis/taxonomies/digits.yaml)",
        )
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
        raise ConfigError(
            f"config key {key}: {value} is not a taxonomy YAML file ({type(e).__name__}: {first})"
        ) from None


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
        raise ConfigError(
            f"{key}.architecture: "
            + unknown_name(
                f"{framework} architecture", architecture, known, f" for source {source}"
            )
        )
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
        raise ConfigError(
            f"{key}.preprocess: the {model['weights']} weights of {architecture} expect {expected}, "
            f"got {model['preprocess']}"
        )
    data = datasets[model["dataset"]]
    if source == "train" and not has_train_split(data):
        raise ConfigError(
            f"{key}.source: data set {model['dataset']!r} has no train split to train on"
        )
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
# campaigns (each design checks its own keys: dnnfi.designs)


def has_train_split(spec: dict) -> bool:
    """Whether a data set has a train split (models train on it; protection bounds profile on it)."""
    return spec["source"] in TRAINABLE_SOURCES or "train_path" in spec


def check_bits_fit(name: str, campaign: dict, models: dict) -> None:
    """A campaign's ``bits`` must lie in the width of every model's precision (a float32 model
    may still hold narrower tensors of its own: its jobs check each fault's bit)."""
    from dnnfi.faults.precision import width

    for model in campaign["models"]:
        bits = width(models[model]["precision"])
        wide = [b for b in campaign["bits"] or () if b >= bits]
        if wide:
            raise ConfigError(
                f"config key campaigns.{name}.bits: bits {wide} outside the {bits} bits (0..{bits - 1}) of model "
                f"{model} (precision {models[model]['precision']})"
            )


def check_campaign(name: str, campaign: dict, config: dict) -> None:
    models = config["models"]
    for model in campaign["models"]:
        if model not in models:
            raise ConfigError(
                f"config key campaigns.{name}.models: unknown model {model!r}, expected one of {sorted(models)}"
            )
    check_bits_fit(name, campaign, models)
    designs.of(campaign).check(name, campaign, config)


def check(config: dict, schema: dict | str | Path = SCHEMA_PATH) -> list[str]:
    """Check ``config`` (filling in its defaults in place). Raises :class:`ConfigError` with one
    line; returns the messages of local files the config names but this machine lacks."""
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    campaigns = config.get("campaigns")
    if isinstance(campaigns, dict):
        for name, campaign in campaigns.items():
            designs.translate(name, campaign)
    validate(config, schema)
    designs.resolve(config["campaigns"])
    missing = []
    for name, spec in config["datasets"].items():
        missing += check_data_files(name, spec)
        check_taxonomy(name, spec)
    for name, model in config["models"].items():
        missing += check_model(name, model, config["datasets"])
    for name, campaign in config["campaigns"].items():
        check_campaign(name, campaign, config)
    for framework, python in config["python"].items():
        missing += _missing(
            f"python.{framework}",
            python,
            "expected the Python interpreter of a virtual environment "
            "with Snakemake's Python version, e.g. .venv-gpu/bin/python (make run GPU=1 builds it)",
        )
    return missing
