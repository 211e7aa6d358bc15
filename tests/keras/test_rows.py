"""The Keras walk's row bookkeeping (dnnfi.engines.kerasfi.rows) and row fingerprints."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dnnfi.engines.kerasfi.engine import _fingerprints  # noqa: E402
from dnnfi.engines.kerasfi.rows import Rows, Segment  # noqa: E402


def numbered(n: int, start: int = 0):
    """n rows of shape (2, 3) whose elements all equal the row's number (from ``start``)."""
    return tf.constant(np.repeat(np.arange(start, start + n, dtype=np.float32), 6).reshape(n, 2, 3))


def labels(t) -> list[int]:
    return [int(v) for v in t.numpy()[:, 0, 0]]


def test_rows_keep_order_through_takes_joins_and_mixes():
    a, b, golden = numbered(8), numbered(4, 100), numbered(5, 1000)
    rows = Rows.of(a) + Rows.of(b)  # 0..7, 100..103
    assert len(rows) == 12
    picked = rows.take(np.array([1, 2, 9, 3, 11]))
    assert labels(picked.tensor()) == [1, 2, 101, 3, 103]
    mixed = Rows([Segment(a, np.array([6, 7])), Segment(golden, np.array([4, 0]))])
    joined = picked + mixed + Rows.of(golden, np.array([2]))
    assert labels(joined.tensor()) == [1, 2, 101, 3, 103, 6, 7, 1004, 1000, 1002]
    # the last two segments read the same tensor: joined into one gather
    assert len(joined.segments) == len(picked.segments) + 2
    assert labels(joined.take(np.arange(3, 8)).tensor()) == [3, 103, 6, 7, 1004]


def test_pass_input_pads_with_the_first_row_and_joins_halves_of_a_pass():
    a = numbered(8)
    rows = Rows.of(a, np.array([5, 6, 7])) + Rows.of(numbered(2, 50))
    assert labels(rows.pass_input(1, 4, 6)) == [6, 7, 50, 6, 6, 6]
    assert labels(rows.pass_input(0, 5, 5)) == [5, 6, 7, 50, 51]
    # two contiguous halves of one pass join back into one segment of all its rows in order,
    # which a pass reads as a slice of that tensor
    halves = Rows.of(a, np.arange(3)) + Rows.of(a, np.arange(3, 8))
    assert len(halves.segments) == 1 and list(halves.segments[0].index) == list(range(8))
    assert labels(halves.pass_input(0, 8, 8)) == list(range(8))


def test_copy_holds_the_rows():
    a = numbered(8)
    first = Rows.of(a).take(np.arange(3))
    copy = first.copy()
    assert labels(copy) == [0, 1, 2] and copy.shape == (3, 2, 3)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "bool"])
def test_fingerprints_are_shape_independent_and_see_one_flipped_bit(dtype):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (128, 7, 5)).astype(np.float32)
    if dtype == "bool":
        t = tf.constant(values > 0)
    else:
        t = tf.cast(tf.constant(values * (100 if dtype == "int32" else 1)), dtype)
    whole = _fingerprints(t)
    # the same rows alone, or in another company, give the same sums
    assert np.array_equal(_fingerprints(t[5:6]), whole[5:6])
    assert np.array_equal(_fingerprints(tf.gather(t, [9, 3, 9])), whole[[9, 3, 9]])
    # the modular sum of the elements' bit patterns, by numpy
    width = {"float32": np.uint32, "float16": np.uint16, "bfloat16": np.uint16, "int32": np.uint32}
    if dtype != "bool":
        bits = tf.bitcast(t, {4: tf.uint32, 2: tf.uint16}[t.dtype.size]).numpy().reshape(128, -1)
        expected = (bits.astype(np.uint64).sum(1) % (2 ** (8 * t.dtype.size))).astype(width[dtype])
        assert np.array_equal(whole, expected)
    # one flipped bit in one element changes that row's fingerprint only
    flat = tf.reshape(t, (128, -1))
    if dtype == "bool":
        changed = tf.tensor_scatter_nd_update(flat, [[4, 2]], [not bool(flat[4, 2])])
    else:
        size = {4: tf.uint32, 2: tf.uint16}[t.dtype.size]
        bits = tf.bitcast(flat, size)
        flipped = tf.bitwise.bitwise_xor(bits[4, 2], tf.constant(1 << 3, size))
        changed = tf.bitcast(tf.tensor_scatter_nd_update(bits, [[4, 2]], [flipped]), t.dtype)
    after = _fingerprints(changed)
    assert after[4] != whole[4]
    assert np.array_equal(np.delete(after, 4), np.delete(whole, 4))
