"""dnnfi.workflow.config without Snakemake: schema errors as one line, kind-specific campaign keys and
their defaults, cross-checks (shards, statistics, taxonomies) and the failed-job cause lines."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dnnfi import designs
from dnnfi.analysis.taxonomy import load
from dnnfi.designs.weight_rate import stats_not_applicable
from dnnfi.workflow import config as C

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def checked(edit=None):
    config = copy.deepcopy(DEMO)
    if edit:
        edit(config)
    C.check(config)
    return config


def error(edit) -> str:
    with pytest.raises(C.ConfigError) as info:
        checked(edit)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_import_loads_no_framework():
    code = "import sys, dnnfi.workflow.config; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'torch', 'keras', 'snakemake')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_defaults_land_for_both_kinds_and_only_their_own():
    config = checked()
    act, wr = config["campaigns"]["activation_bitflip"], config["campaigns"]["weight_failure_rate"]
    assert (
        act["injections"],
        act["margin"],
        act["per_model"],
        act["image_sampling"],
        act["per_category"],
    ) == (3000, None, {}, "uniform", 3000)
    assert (act["confidence"], act["bits"], act["batch_size"], act["images"]) == (
        0.95,
        None,
        256,
        None,
    )
    assert (
        wr["distribution"],
        wr["value_range"],
        wr["layer_types"],
        wr["biases"],
        wr["normalization"],
    ) == ("layer_uniform", None, ["conv", "linear"], False, False)
    assert (wr["confidence"], wr["bits"], wr["shards"]) == (
        0.95,
        None,
        2,
    ) and "batch_size" not in wr
    assert not {"frates", "perturbations", "replicas", "distribution"} & set(act)
    assert not {"fault_model", "injections", "margin", "per_model", "sampling"} & set(wr)
    assert config["models"]["torch_cnn"]["allow_nonfinite"] is False
    assert config["models"]["torch_cnn"]["train"]["augment"] is False
    assert config["seed"] == 2024 and config["threads"] == 1


def test_minimal_weight_rate_campaign_gets_its_defaults():
    config = checked(
        lambda c: c["campaigns"].update(w={"kind": "weight_rate", "models": ["torch_mlp"]})
    )
    w = config["campaigns"]["w"]
    assert w["frates"] == [0.00001, 0.00003, 0.00005] and w["perturbations"] == ["zero", "random"]
    assert w["replicas"] == 10 and w["shards"] == 1


def test_key_of_the_other_kind_is_named_with_its_kind():
    message = error(lambda c: c["campaigns"]["weight_failure_rate"].update(fault_model="bitflip"))
    assert message.startswith(
        "config key campaigns.weight_failure_rate.fault_model: not a key of a weight_rate campaign (it belongs to "
        "uniform, sequential, bit_sweep, stratified campaigns); expected one of biases, bits, confidence, design, "
        "distribution, frates, images, layer_types, models, normalization, perturbations, replicas, shards, value_range"
    )
    message = error(lambda c: c["campaigns"]["activation_bitflip"].update(replicas=3))
    assert message.startswith(
        "config key campaigns.activation_bitflip.replicas: not a key of a uniform campaign "
        "(it belongs to weight_rate campaigns)"
    )
    # a key the design has not, with its reason
    assert error(
        lambda c: c["campaigns"]["activation_bitflip"].update(design="bit_sweep", margin=0.1)
    ) == (
        "config key campaigns.activation_bitflip.margin: a bit-sweep campaign runs `injections` points (Leveugle's "
        "sample size and the sequential stop assume independent injections, and the bits of a swept point are not); "
        "remove it"
    )


def test_unknown_and_wrong_keys():
    assert error(lambda c: c["campaigns"]["activation_bitflip"].update(injection=5)).startswith(
        "unknown config key campaigns.activation_bitflip.injection: expected one of batch_size, bits, bits_per_element,"
    )
    assert error(lambda c: c.update(seeds=1)) == (
        "unknown config key seeds: expected one of campaigns, conda_envs, datasets, device, models, pass_rows, python, seed, tensorflow_onednn, threads"
    )
    assert error(lambda c: c["campaigns"]["activation_bitflip"].update(kind="weights")) == (
        "config key campaigns.activation_bitflip.kind: expected enum ['activation', 'weight_rate'], got 'weights'"
    )
    assert error(lambda c: c["models"]["torch_mlp"].update(allow_nonfinite="yes")) == (
        "config key models.torch_mlp.allow_nonfinite: expected type boolean, got 'yes'"
    )
    assert error(
        lambda c: c["campaigns"]["weight_failure_rate"].update(perturbations=["zero", "melt"])
    ) == (
        "config key campaigns.weight_failure_rate.perturbations.1: expected enum "
        "['bitflip', 'zero', 'random', 'stuck_at_0', 'stuck_at_1'], got 'melt'"
    )
    assert error(lambda c: c["campaigns"]["weight_failure_rate"].update(frates=[0.01, 0.01])) == (
        "config key campaigns.weight_failure_rate.frates: expected distinct items, got [0.01, 0.01]"
    )


def test_all_five_weight_perturbations_are_accepted():
    five = ["zero", "random", "bitflip", "stuck_at_0", "stuck_at_1"]
    config = checked(lambda c: c["campaigns"]["weight_failure_rate"].update(perturbations=five))
    assert config["campaigns"]["weight_failure_rate"]["perturbations"] == five


def test_shards_above_the_injections_are_rejected():
    act = lambda **kw: lambda c: c["campaigns"]["activation_bitflip"].update(**kw)  # noqa: E731
    assert error(act(injections=4, shards=5)) == (
        "config key campaigns.activation_bitflip.shards: 5 shards for 4 injections of model keras_sequential "
        "(injections); expected at most 4"
    )
    assert error(act(shards=5, per_model={"keras_branchy": {"injections": 3}})) == (
        "config key campaigns.activation_bitflip.shards: 5 shards for 3 injections of model keras_branchy "
        "(per_model.keras_branchy.injections); expected at most 3"
    )
    # Leveugle: 1.96^2 x 0.25 / 0.3^2 = 10.7 -> 11 injections, whatever `injections` says
    assert error(act(margin=0.3, shards=12)) == (
        "config key campaigns.activation_bitflip.shards: 12 shards for 11 injections of model keras_sequential "
        "(Leveugle sample size of margin 0.3); expected at most 11"
    )
    checked(act(margin=0.3, shards=11))
    assert error(act(image_sampling="per_correctness", per_category=2, shards=5)) == (
        "config key campaigns.activation_bitflip.shards: 5 shards for 4 injections of model keras_sequential "
        "(2 x per_category (per_correctness image sampling)); expected at most 4"
    )
    checked(act(image_sampling="per_correctness", per_category=2, shards=4))
    # sequential campaigns shard by rounds; `shards` is not used
    checked(act(margin=0.3, design="sequential", injections=10, shards=50))


def test_weight_rate_shards_and_replicas():
    wr = lambda **kw: lambda c: c["campaigns"]["weight_failure_rate"].update(**kw)  # noqa: E731
    assert error(wr(frates=[0.1], perturbations=["zero"], replicas=3, shards=4)) == (
        "config key campaigns.weight_failure_rate.shards: 4 shards for 3 replicas per model "
        "(1 frates x 1 perturbations x 3 replicas); expected at most 3"
    )
    checked(wr(frates=[0.1], perturbations=["zero"], replicas=3, shards=3))
    assert error(wr(replicas=1, shards=1)).startswith(
        "config key campaigns.weight_failure_rate.replicas: 1 replica gives no variance"
    )
    assert error(wr(distribution="uniform", value_range=[1, -1])) == (
        "config key campaigns.weight_failure_rate.value_range: expected [low, high] with low < high, got [1, -1]"
    )


def test_statistics_a_layout_cannot_support():
    config = checked()
    assert stats_not_applicable(config["campaigns"]["weight_failure_rate"]) == {}
    one = dict(config["campaigns"]["weight_failure_rate"], models=["torch_mlp"])
    assert stats_not_applicable(one) == {
        "anova_models": "one model: no comparison across models",
        "tukey": "one model: no pairs of models to compare",
    }
    single = dict(one, frates=[0.1], perturbations=["zero"])
    assert set(stats_not_applicable(single)) == {
        "anova_models",
        "tukey",
        "equal_variance",
        "anova_factorial",
    }


def planned(campaign, model):
    return designs.of(campaign).planned_injections(campaign, model)


def test_planned_injections():
    config = checked(
        lambda c: c["campaigns"]["activation_bitflip"].update(
            per_model={"keras_branchy": {"injections": 7}}
        )
    )
    act = config["campaigns"]["activation_bitflip"]
    assert planned(act, "keras_sequential") == 3000 and planned(act, "keras_branchy") == 7
    assert planned(dict(act, margin=0.05), "keras_branchy") == 384
    assert planned(dict(act, margin=0.05, design="sequential"), "keras_branchy") == 7


def test_taxonomies_are_checked_against_known_classes(tmp_path, monkeypatch):
    assert error(lambda c: c["datasets"]["digits"].update(taxonomy="cifar10")).startswith(
        "config key datasets.digits.taxonomy: taxonomy 'cifar10': its classes differ from the data set's classes"
    )
    assert error(lambda c: c["datasets"]["digits"].update(taxonomy="digitz")) == (
        "config key datasets.digits.taxonomy: unknown taxonomy 'digitz', expected one of "
        "['cifar10', 'cifar100', 'digits', 'gtsrb', 'imagenet'] or a .yaml/.yml file path"
    )
    monkeypatch.chdir(tmp_path)
    spec = yaml.safe_load((REPO / "src/dnnfi/analysis/taxonomies/digits.yaml").read_text())
    spec["groups"]["mid"].remove("6")  # class 6 in no group
    Path("tax.yaml").write_text(yaml.safe_dump(spec))
    assert error(lambda c: c["datasets"]["digits"].update(taxonomy="tax.yaml")) == (
        "config key datasets.digits.taxonomy: taxonomy 'digits': classes in no group: ['6']"
    )
    Path("tax.yaml").write_text("groups: [")
    assert error(lambda c: c["datasets"]["digits"].update(taxonomy="tax.yaml")).startswith(
        "config key datasets.digits.taxonomy: tax.yaml is not a taxonomy YAML file ("
    )
    assert error(lambda c: c["datasets"]["digits"].update(taxonomy="none.yaml")) == (
        f"config key datasets.digits.taxonomy: none.yaml not found (working directory {tmp_path}); "
        "expected a taxonomy YAML file (format of dnnfi/analysis/taxonomies/digits.yaml)"
    )
    # explicit class lists of image folders and GTSRB's 43 classes are known before any job
    folder = {"source": "image_folder", "path": ".", "taxonomy": "cifar10", "classes": ["a", "b"]}
    assert C.static_classes(folder) == ["a", "b"]
    assert C.static_classes({"source": "gtsrb"}) == [str(i) for i in range(43)]
    assert C.static_classes({"source": "cifar_archive"}) is None
    assert error(lambda c: c["datasets"].update(f=folder)).startswith(
        "config key datasets.f.classes: taxonomy 'cifar10': its classes differ from the data set's classes (10 vs 2"
    )
    # a misspelled class of the user's own list: blamed on `classes`, both spellings named
    cifar10 = load("cifar10").classes
    misspelled = dict(folder, classes=[*cifar10[:-1], "truk"])
    assert error(lambda c: c["datasets"].update(f=misspelled)) == (
        "config key datasets.f.classes: taxonomy 'cifar10': its classes differ from the data set's classes "
        "(10 vs 10 classes, first difference at label 9: 'truk' in the data set, 'truck' in the taxonomy)"
    )


def test_local_inputs_and_their_checksums(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel in ("imgs/test/cat/1.png", "imgs/test/cat/0.png", "imgs/train/cat/0.png", "w.th"):
        Path(rel).parent.mkdir(parents=True, exist_ok=True)
        Path(rel).touch()
    spec = {"source": "image_folder", "path": "imgs"}
    assert C.data_files(spec, "test") == ["imgs/test/cat/0.png", "imgs/test/cat/1.png"]
    assert C.data_files(spec, "train") == ["imgs/train/cat/0.png"]
    assert (
        C.data_files({"source": "image_folder", "path": "absent"}, "test") == []
    )  # check() reports it
    assert C.model_files({"path": "w.th"}) == ["w.th"] and C.model_files({}) == []
    # the shipped config's inputs say where to get them
    config = yaml.safe_load((REPO / "config/cifar10.yaml").read_text())
    missing = C.check(config)
    assert any(
        m.startswith(
            "config key models.resnet20.path: inputs/models/resnet20-cifar10-12fca82f.th not found"
        )
        and m.endswith(
            "(`make inputs` downloads it and checks its SHA-256: README, External inputs)"
        )
        for m in missing
    )
    assert error(lambda c: c["datasets"]["digits"].update(sha256="0" * 64)) == (
        "config key datasets.digits.sha256: the checksum of `path`, which source digits has not"
    )
    assert error(lambda c: c["models"]["keras_sequential"].update(sha256="0" * 64)) == (
        "config key models.keras_sequential.sha256: the checksum of `path`, which this model has not"
    )
    assert error(lambda c: c["models"]["keras_sequential"].update(sha256="ABC")).startswith(
        "config key models.keras_sequential.sha256: expected pattern"
    )


def test_taxonomy_path_resolves_shipped_names_to_the_package_file():
    path = Path(C.taxonomy_path("digits"))
    assert (
        path == Path(C.__file__).parents[1] / "analysis/taxonomies/digits.yaml" and path.is_file()
    )
    assert load(path).name == "digits"
    assert C.taxonomy_path("my/tax.yml") == "my/tax.yml"


def test_models_are_checked():
    assert error(lambda c: c["models"]["torch_cnn"].update(dataset="mnist")) == (
        "config key models.torch_cnn.dataset: unknown data set 'mnist', expected one of ['digits']"
    )
    assert error(
        lambda c: c["campaigns"]["weight_failure_rate"].update(models=["torch_mlp", "x"])
    ) == (
        "config key campaigns.weight_failure_rate.models: unknown model 'x', expected one of "
        "['keras_branchy', 'keras_sequential', 'torch_cnn', 'torch_mlp']"
    )


def zoo_model(framework, source, architecture, **keys):
    """Edit of the demo config: model ``m`` of ``source`` on the digits data set."""
    spec = {
        "framework": framework,
        "dataset": "digits",
        "source": source,
        "architecture": architecture,
    } | keys
    return lambda c: c["models"].update(m=spec)


def test_zoo_names_are_checked_with_close_matches():
    assert error(zoo_model("keras", "keras_applications", "ResNet05")) == (
        "config key models.m.architecture: unknown keras architecture 'ResNet05' for source keras_applications "
        "(close matches: ResNet50, ResNet152, ResNet101), expected one of the 40 names listed in config/README.md"
    )
    assert error(zoo_model("torch", "torchvision", "vit_b16")) == (
        "config key models.m.architecture: unknown torch architecture 'vit_b16' for source torchvision "
        "(close matches: vit_b_16, vit_l_16, vit_h_14), expected one of the 80 names listed in config/README.md"
    )
    assert error(zoo_model("torch", "keras_applications", "ResNet50")) == (
        "config key models.m.framework: source keras_applications needs framework keras"
    )
    for name in (
        "ConvNeXtTiny",
        "EfficientNetV2S",
        "MobileNetV3Large",
        "NASNetMobile",
        "ResNet50V2",
    ):
        assert (
            checked(zoo_model("keras", "keras_applications", name))["models"]["m"]["architecture"]
            == name
        )
    assert (
        checked(zoo_model("torch", "torchvision", "swin_v2_t"))["models"]["m"]["architecture"]
        == "swin_v2_t"
    )


@pytest.mark.parametrize(
    ("framework", "source", "architecture", "expected"),
    [
        ("keras", "keras_applications", "ResNet50", "keras_caffe"),
        ("keras", "keras_applications", "ResNet50V2", "keras_tf"),
        ("keras", "keras_applications", "DenseNet121", "keras_torch"),
        ("keras", "keras_applications", "EfficientNetB0", "none"),
        ("keras", "keras_applications", "ConvNeXtTiny", "none"),
        ("torch", "torchvision", "vit_b_16", "imagenet_mean_std"),
        ("torch", "torchvision", "efficientnet_v2_l", "half_mean_std"),
        ("torch", "train", "digits_cnn", "none"),
    ],
)
def test_preprocessing_defaults_to_the_family_of_the_weights(
    framework, source, architecture, expected
):
    assert (
        checked(zoo_model(framework, source, architecture))["models"]["m"]["preprocess"] == expected
    )
    # an explicit choice stands for random or local weights, not for the downloaded ImageNet weights
    assert (
        checked(zoo_model(framework, source, architecture, preprocess="unit"))["models"]["m"][
            "preprocess"
        ]
        == "unit"
    )
    if source != "train":
        assert error(
            zoo_model(framework, source, architecture, preprocess="unit", weights="DEFAULT")
        ) == (
            f"config key models.m.preprocess: the DEFAULT weights of {architecture} expect {expected}, got unit"
        )


def test_keras_preprocessing_needs_framework_keras():
    assert error(zoo_model("torch", "train", "digits_cnn", preprocess="keras_tf")) == (
        "config key models.m.preprocess: keras_tf needs framework keras"
    )
    assert (
        checked(zoo_model("keras", "train", "digits_sequential", preprocess="keras_tf"))["models"][
            "m"
        ]["preprocess"]
        == "keras_tf"
    )


def test_checking_zoo_models_imports_no_framework():
    code = (
        "import sys, yaml, dnnfi.workflow.config as C; c = yaml.safe_load(open('config/config.yaml'));"
        "c['models'].update(k={'framework': 'keras', 'dataset': 'digits', 'source': 'keras_applications',"
        " 'architecture': 'EfficientNetB0'}, t={'framework': 'torch', 'dataset': 'digits', 'source': 'torchvision',"
        " 'architecture': 'vit_b_16'}); C.check(c);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'torch', 'torchvision', 'keras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "campaign, edit, message",
    [
        (
            "activation_bitflip",
            {"fault_model": "zero", "bits": [30]},
            "campaigns.activation_bitflip.bits: fault model zero uses no bit",
        ),
        (
            "activation_bitflip",
            {"fault_model": "random", "bits_per_element": 2},
            "bits_per_element: fault model random uses no bit",
        ),
        (
            "weight_failure_rate",
            {"distribution": "uniform"},
            "value_range: required by distribution uniform",
        ),
        (
            "weight_failure_rate",
            {"value_range": [0, 1]},
            "value_range: applies to distribution uniform only",
        ),
        (
            "weight_failure_rate",
            {"perturbations": ["zero"], "distribution": "layer_normal"},
            "distribution: applies to the random perturbation",
        ),
        (
            "weight_failure_rate",
            {"bits": [30]},
            "bits: applies to bitflip / stuck_at perturbations",
        ),
        ("weight_failure_rate", {"batch_size": 64}, "not a key of a weight_rate campaign"),
    ],
)
def test_keys_that_would_be_ignored_stop_the_run(campaign, edit, message):
    assert message in error(lambda c: c["campaigns"][campaign].update(edit))


def test_precision_defaults_to_float32_and_is_checked():
    assert checked()["models"]["torch_cnn"]["precision"] == "float32"
    config = checked(lambda c: c["models"]["torch_cnn"].update(precision="bfloat16"))
    assert config["models"]["torch_cnn"]["precision"] == "bfloat16"
    message = error(lambda c: c["models"]["keras_branchy"].update(precision="fp16"))
    assert message.startswith("config key models.keras_branchy.precision: expected enum")
    assert "'fp16'" in message and "bfloat16" in message


def test_bits_outside_a_16_bit_precision_stop_the_run():
    def edit(precision, bits):
        def apply(c):
            c["models"]["keras_branchy"]["precision"] = precision
            c["campaigns"]["activation_bitflip"]["bits"] = bits

        return apply

    assert checked(edit("float16", [10, 14, 15]))["campaigns"]["activation_bitflip"]["bits"] == [
        10,
        14,
        15,
    ]
    assert checked(edit("float32", [30, 31]))["models"]["keras_branchy"]["precision"] == "float32"
    message = error(edit("bfloat16", [7, 16, 30]))
    assert message == (
        "config key campaigns.activation_bitflip.bits: bits [16, 30] outside the 16 bits (0..15) "
        "of model keras_branchy (precision bfloat16)"
    )


def test_protected_campaign_takes_the_fault_keys_of_its_pair():
    config = checked()
    protected, paired = (
        config["campaigns"]["activation_ranger"],
        config["campaigns"]["activation_bitflip"],
    )
    assert protected["protection"] == {
        "method": "range_restriction",
        "layers": "activations",
        "profile_images": 500,
    }
    for key in ("models", "injections", "shards", "fault_model", "sampling", "bits", "images"):
        assert protected[key] == paired[key]
    assert protected["injections"] == 3000 and protected["shards"] == 3
    assert (protected["design"], protected["over"], paired["design"]) == (
        "protected",
        "uniform",
        "uniform",
    )
    assert "protection" not in paired and "paired_with" not in paired


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            {"injections": 10},
            "campaigns.activation_ranger.injections: a protected campaign replays the faults of "
            "campaigns.activation_bitflip (paired_with); set injections there",
        ),
        (
            {"paired_with": "weight_failure_rate"},
            "campaigns.activation_ranger.paired_with: expected a campaign of "
            "design uniform, sequential or stratified, one of ['activation_bitflip'], got "
            "'weight_failure_rate' (design weight_rate)",
        ),
        (
            {"paired_with": "nope"},
            "paired_with: expected a campaign of design uniform, sequential or stratified",
        ),
        (
            {"models": ["torch_mlp"]},
            "campaigns.activation_ranger.models: model torch_mlp is not a model of "
            "campaigns.activation_bitflip",
        ),
        (
            {"protection": {"method": "ranger"}},
            "campaigns.activation_ranger.protection.method: expected enum",
        ),
        (
            {"protection": {"method": "clip_to_zero", "layer": "x"}},
            "unknown config key campaigns.activation_ranger.protection.layer",
        ),
        (
            {"protection": {"method": "clip_to_zero", "layers": "conv[("}},
            "protection.layers: 'conv[(' is not a regular expression",
        ),
        (
            {"protection": {"method": "clip_to_zero", "profile_images": 0}},
            "profile_images: expected minimum 1",
        ),
        (
            {"protection": None},
            "campaigns.activation_ranger.protection: expected type object, got None",
        ),
    ],
)
def test_protection_keys_are_checked(edit, message):
    assert message in error(lambda c: c["campaigns"]["activation_ranger"].update(edit))


def test_protection_needs_a_pair():
    def unpaired(c):
        del c["campaigns"]["activation_ranger"]["paired_with"]

    assert "campaigns.activation_ranger.paired_with: required by a protected campaign" in error(
        unpaired
    )


def test_protection_replays_a_stratified_campaign():
    def stratified_pair(c):
        c["campaigns"]["activation_bitflip"].update(
            design="stratified", margin=0.05, stratified={"pilot": 100, "round": 100}
        )
        del c["campaigns"]["activation_bitflip"]["injections"]

    ranger = checked(stratified_pair)["campaigns"]["activation_ranger"]
    assert ranger["over"] == "stratified"
    assert (ranger["stratified"]["pilot"], ranger["margin"]) == (100, 0.05)  # the pair's keys
