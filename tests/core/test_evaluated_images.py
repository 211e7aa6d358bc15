"""A campaign's evaluated images (dnnfi.data.datasets.evaluated_table): `images` of the split,
evenly spread over it, with their split index and label; all of them when `images` is null or
not smaller than the split."""

import numpy as np
import pytest

from dnnfi.data.datasets import Split, evaluated_table


@pytest.fixture
def split_file(tmp_path):
    """20 images stored class by class: ten of class 0, then ten of class 1."""
    path = tmp_path / "test.npz"
    labels = np.repeat([0, 1], 10)
    Split(np.zeros((20, 2, 2, 1), np.float32), labels, ["a", "b"]).save(path)
    return path


def test_spread_over_the_split_with_their_labels(split_file):
    table = evaluated_table(split_file, 4)
    assert table["image"].tolist() == [0, 6, 13, 19]  # linspace(0, 19, 4) rounded
    assert table["label"].tolist() == [0, 0, 1, 1]  # both classes of a class-sorted split


@pytest.mark.parametrize("images", [None, 20, 50])
def test_all_images_when_images_is_null_or_not_smaller(split_file, images):
    table = evaluated_table(split_file, images)
    assert table["image"].tolist() == list(range(20))
    assert table["label"].tolist() == [0] * 10 + [1] * 10
