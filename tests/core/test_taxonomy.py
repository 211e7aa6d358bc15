import json

import pytest

from dnnfi.analysis.taxonomy import TaxonomyError, from_mapping, load
from dnnfi.data.datasets import inputs_dir

SPEC = {
    "name": "toy",
    "classes": ["car", "truck", "person", "cup", "spoon"],
    "groups": {"vehicle": ["car", "truck"], "human": ["person"], "kitchen": ["cup", "spoon"]},
    "supergroups": {"A": ["vehicle", "human"], "B": ["kitchen"]},
}


def test_scm_rule_on_hand_built_cases():
    tax = from_mapping(SPEC)
    ref = [0, 0, 0, 2, 3, 3]
    pred = [1, 2, 3, 0, 4, 0]
    # car->truck same group; car->person, car->cup leave an A group; person->car leaves A;
    # cup (B) -> anything is never SCM
    assert tax.is_scm(ref, pred).tolist() == [False, True, True, True, False, False]


def test_taxonomy_must_partition_classes_into_two_supergroups():
    missing = {
        **SPEC,
        "groups": {"vehicle": ["car", "truck"], "human": ["person"], "kitchen": ["cup"]},
    }
    with pytest.raises(TaxonomyError, match="classes in no group: \\['spoon'\\]"):
        from_mapping(missing)
    twice = {**SPEC, "groups": {**SPEC["groups"], "kitchen": ["cup", "spoon", "car"]}}
    with pytest.raises(TaxonomyError, match="more than one group"):
        from_mapping(twice)
    three = {**SPEC, "supergroups": {"A": ["vehicle"], "B": ["kitchen"], "C": ["human"]}}
    with pytest.raises(TaxonomyError, match="exactly two supergroups"):
        from_mapping(three)
    with pytest.raises(TaxonomyError, match="differ from the data set"):
        from_mapping(SPEC, expected_classes=["car"])


def test_shipped_digits_taxonomy():
    tax = load("digits", expected_classes=[str(d) for d in range(10)])
    table = tax.class_table()
    assert table.groupby("group")["label"].apply(list).to_dict() == {
        "high": [7, 8, 9],
        "low": [0, 1, 2],
        "mid": [3, 4, 5, 6],
    }
    assert tax.is_scm([2, 9, 3], [8, 1, 6]).tolist() == [True, False, False]
    assert "speed limit" in tax.reasoning
    with pytest.raises(TaxonomyError, match="unknown taxonomy"):
        load("klingon")


def reference(name):
    path = inputs_dir() / "reference" / f"scm-taxonomy-{name}.json"
    if not path.is_file():
        pytest.skip(
            f"{path} not found: set DNNFI_INPUTS to a folder with the study's reference/ to compare with its taxonomy"
        )
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", ["cifar100", "imagenet"])
def test_shipped_study_taxonomies_equal_the_reference_class_by_class(name):
    ref = reference(name)
    tax = load(name)
    assert len(tax.classes) == len(ref["classes"])
    groups, supergroups = tax.group_names(), tax.supergroup_names()
    for label, entry in ref["classes"].items():
        i = int(label)
        assert (groups[i], supergroups[i]) == (entry["group"], entry["supergroup"]), (
            f"{name} class {i} {entry['name']}"
        )
        if name == "cifar100":
            assert tax.classes[i] == entry["name"]
    assert {g for g, c in zip(tax.groups, tax.critical_group) if c} == set(
        ref["supergroup_A_safety_critical"]
    )
    assert {g for g, c in zip(tax.groups, tax.critical_group) if not c} == set(ref["supergroup_B"])


def test_imagenet_classes_are_the_standard_names_and_wnids():
    path = inputs_dir() / "reference" / "imagenet-classes.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not found: set DNNFI_INPUTS to a folder with the study's reference/")
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    names, wnids = [r[2] for r in rows], [r[1] for r in rows]
    assert wnids == sorted(wnids) and len(names) == 1000
    # a data set may name its classes either way (folder names are usually wnids)
    assert load("imagenet", expected_classes=names).classes == names
    assert load("imagenet", expected_classes=wnids).classes == names
    tax = load("imagenet")
    # the two "crane"s (bird 134, machine 517) are listed by label and both sit in Aerial Objects as published
    assert tax.group_names()[134] == tax.group_names()[517] == "Aerial Objects"
    with pytest.raises(TaxonomyError, match="first difference at label 0"):
        load("imagenet", expected_classes=names[1:])


def test_shipped_cifar10_taxonomy():
    classes = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    tax = load("cifar10", expected_classes=classes)
    # car->truck stays in Four Wheeler; dog->bird leaves Big Animals; ship (B) is never SCM
    assert tax.is_scm([1, 5, 8, 7], [9, 2, 0, 4]).tolist() == [False, True, False, False]
    assert tax.supergroup_names().count("A") == 6 and "ImageNet" in tax.reasoning


def test_ambiguous_class_names_must_be_given_by_label():
    spec = {
        **SPEC,
        "classes": ["car", "crane", "person", "cup", "crane"],
        "groups": {"vehicle": ["car", "crane"], "human": ["person"], "kitchen": ["cup", 4]},
    }
    with pytest.raises(TaxonomyError, match="'crane' is ambiguous \\(labels \\[1, 4\\]\\)"):
        from_mapping(spec)
    spec["groups"]["vehicle"] = ["car", 1]
    assert from_mapping(spec).group_names() == ["vehicle", "vehicle", "human", "kitchen", "kitchen"]
    spec["groups"]["kitchen"] = ["cup", 5]
    with pytest.raises(TaxonomyError, match="names label 5, expected 0..4"):
        from_mapping(spec)
