"""A campaign's evaluated images (dnnfi.data.datasets.evaluated_table): `images` of the split,
evenly spread over it, with their split index and label; all of them when `images` is null or
not smaller than the split. A job reads them from the split file by row (StoredImages) and
preprocesses them when used (PreprocessedRows)."""

import numpy as np
import pytest

from dnnfi.data.datasets import Split, StoredImages, evaluated_table
from dnnfi.data.preprocess import PreprocessedRows, preprocess


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


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_stored_images_read_by_row_are_the_splits(tmp_path, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 5, 4, 3)).astype(dtype)
    Split(x, np.arange(30) % 3, ["a", "b", "c"]).save(tmp_path / "s.npz")
    stored = StoredImages(tmp_path / "s.npz")
    assert stored.shape == x.shape and stored.dtype == x.dtype and len(stored) == 30
    for index in (7, -1, slice(3, 9), slice(None), np.array([29, 0, 11, 11]), np.array([], int)):
        np.testing.assert_array_equal(stored[index], x[index])
    lazy = PreprocessedRows(stored, np.array([4, 2, 25]), "imagenet_mean_std")
    np.testing.assert_array_equal(lazy[[2, 0]], preprocess(x[[25, 4]], "imagenet_mean_std"))
    np.testing.assert_array_equal(np.asarray(lazy), preprocess(x[[4, 2, 25]], "imagenet_mean_std"))


def test_a_compressed_split_is_refused_with_one_line(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", x=np.zeros((2, 2, 2, 1), np.uint8), y=np.zeros(2))
    with pytest.raises(
        ValueError, match=r"c.npz: x is compressed; expected a split written by np.savez"
    ):
        StoredImages(tmp_path / "c.npz")
