import numpy as np
import pytest

from dnnfi.taxonomy import TaxonomyError, from_mapping, load

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
    missing = {**SPEC, "groups": {"vehicle": ["car", "truck"], "human": ["person"], "kitchen": ["cup"]}}
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
    assert table.groupby("group")["label"].apply(list).to_dict() == {"high": [7, 8, 9], "low": [0, 1, 2], "mid": [3, 4, 5, 6]}
    assert tax.is_scm([2, 9, 3], [8, 1, 6]).tolist() == [True, False, False]
    assert "speed limit" in tax.reasoning
    with pytest.raises(TaxonomyError, match="unknown taxonomy"):
        load("klingon")
