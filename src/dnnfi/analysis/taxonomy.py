"""Class taxonomies (groups and two supergroups) and the safety-critical misclassification rule.

Format (YAML, one file per data set in ``dnnfi/analysis/taxonomies/``)::

    name: digits
    reasoning: why the groups and the safety-critical supergroup are what they are
    source: where the grouping comes from (optional)
    classes: [class names in label order]
    class_ids: [other identifiers in label order, e.g. ImageNet wnids] (optional)
    groups: {group name: [class names, or integer labels for names that occur twice]}
    supergroups: {A: [safety-critical group names], B: [the other group names]}

A data set's class list matches a taxonomy if it equals ``classes`` or ``class_ids``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

SUPERGROUPS = ("A", "B")


class TaxonomyError(ValueError):
    """A taxonomy that does not partition the data set's classes into groups and two supergroups."""


@dataclass(frozen=True)
class Taxonomy:
    name: str
    classes: list[str]
    group_of_class: np.ndarray  #: group index per class label, shape (classes,)
    groups: list[str]
    critical_group: np.ndarray  #: True where the group belongs to supergroup A, shape (groups,)
    reasoning: str = ""

    def group_names(self) -> list[str]:
        """Group name per class label, shape (classes,)."""
        return [self.groups[g] for g in self.group_of_class]

    def supergroup_names(self) -> list[str]:
        """Supergroup (``A`` or ``B``) per class label, shape (classes,)."""
        return ["A" if self.critical_group[g] else "B" for g in self.group_of_class]

    def is_scm(self, reference, predicted) -> np.ndarray:
        """SCM iff supergroup(reference) = A and group(predicted) != group(reference)."""
        ref_group = self.group_of_class[np.asarray(reference, dtype=np.int64)]
        pred_group = self.group_of_class[np.asarray(predicted, dtype=np.int64)]
        return self.critical_group[ref_group] & (pred_group != ref_group)

    def class_table(self):
        """One row per class: label, name, group, supergroup (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "label": np.arange(len(self.classes)),
                "name": self.classes,
                "group": self.group_names(),
                "supergroup": self.supergroup_names(),
            }
        )


def from_mapping(spec: dict, expected_classes: list[str] | None = None) -> Taxonomy:
    """Build and check a taxonomy from its YAML mapping."""
    name = spec.get("name", "?")
    classes = [str(c) for c in spec["classes"]]
    class_ids = [str(c) for c in spec.get("class_ids", classes)]
    if len(class_ids) != len(classes):
        raise TaxonomyError(
            f"taxonomy {name!r}: {len(class_ids)} class_ids for {len(classes)} classes"
        )
    if expected_classes is not None and list(expected_classes) not in (classes, class_ids):
        expected = list(expected_classes)
        first = next(
            (i for i, (a, b) in enumerate(zip(expected, classes)) if a != b),
            min(len(expected), len(classes)),
        )
        spelled = [
            repr(names[first]) if first < len(names) else "absent" for names in (expected, classes)
        ]
        raise TaxonomyError(
            f"taxonomy {name!r}: its classes differ from the data set's classes "
            f"({len(classes)} vs {len(expected)} classes, first difference at label {first}: "
            f"{spelled[0]} in the data set, {spelled[1]} in the taxonomy)"
        )
    if set(spec["supergroups"]) != set(SUPERGROUPS):
        raise TaxonomyError(
            f"taxonomy {name!r}: expected exactly two supergroups A and B, got {sorted(spec['supergroups'])}"
        )
    groups = list(spec["groups"])
    labels_of_name: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        labels_of_name.setdefault(c, []).append(i)
    group_of_class = np.full(len(classes), -1, dtype=np.int64)
    for g, members in enumerate(spec["groups"].values()):
        for member in members:
            label = _label(name, groups[g], member, labels_of_name, len(classes))
            if group_of_class[label] >= 0:
                raise TaxonomyError(
                    f"taxonomy {name!r}: class {member!r} appears in more than one group"
                )
            group_of_class[label] = g
    missing = [c for c, g in zip(classes, group_of_class) if g < 0]
    if missing:
        raise TaxonomyError(f"taxonomy {name!r}: classes in no group: {missing[:10]}")
    placed = [grp for sg in SUPERGROUPS for grp in spec["supergroups"][sg]]
    if sorted(placed) != sorted(groups):
        raise TaxonomyError(
            f"taxonomy {name!r}: every group must be in exactly one supergroup "
            f"(groups {sorted(groups)}, placed {sorted(placed)})"
        )
    critical = np.array([grp in spec["supergroups"]["A"] for grp in groups])
    return Taxonomy(name, classes, group_of_class, groups, critical, spec.get("reasoning", ""))


def _label(
    name: str, group: str, member, labels_of_name: dict[str, list[int]], n_classes: int
) -> int:
    """Label of a group member given as a class name or as an integer label."""
    if isinstance(member, int):
        if not 0 <= member < n_classes:
            raise TaxonomyError(
                f"taxonomy {name!r}: group {group!r} names label {member}, expected 0..{n_classes - 1}"
            )
        return member
    hits = labels_of_name.get(str(member), [])
    if not hits:
        raise TaxonomyError(f"taxonomy {name!r}: group {group!r} names unknown class {member!r}")
    if len(hits) > 1:
        # ImageNet has two "crane" and two "maillot" classes: such members must be given by label
        raise TaxonomyError(
            f"taxonomy {name!r}: class name {member!r} is ambiguous (labels {hits}); give the label"
        )
    return hits[0]


def load(name_or_path: str | Path, expected_classes: list[str] | None = None) -> Taxonomy:
    """Load a shipped taxonomy by name (``digits``, ...) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = resources.files("dnnfi.analysis") / "taxonomies" / f"{name_or_path}.yaml"
        if not path.is_file():
            folder = resources.files("dnnfi.analysis") / "taxonomies"
            shipped = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
            raise TaxonomyError(
                f"unknown taxonomy {name_or_path!r}: expected one of {shipped} or a YAML path"
            )
    with path.open() as fh:
        return from_mapping(yaml.safe_load(fh), expected_classes)
