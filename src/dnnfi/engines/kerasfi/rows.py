"""Values of one graph tensor for the rows of a walk, copied only when a pass needs them.

The walk of :mod:`dnnfi.engines.kerasfi.engine` admits faults, drops masked rows and mixes
recomputed rows with golden ones at every step. Done on whole tensors, each of these is a copy
of every alive row; here each is bookkeeping on index arrays, and the rows are copied once,
into the pass that reads them (:meth:`Rows.pass_input`). No value changes: a row holds the same
bits wherever it is kept.
"""

from __future__ import annotations

import numpy as np


class Segment:
    """Rows ``index`` of ``tensor`` (all its rows, in order, when ``index`` is None)."""

    __slots__ = ("tensor", "index")

    def __init__(self, tensor, index: np.ndarray | None = None):
        self.tensor, self.index = tensor, index

    def __len__(self) -> int:
        return int(self.tensor.shape[0]) if self.index is None else len(self.index)

    def rows(self, a: int, b: int):
        """Its rows ``a`` to ``b`` (exclusive): a slice of the tensor where they are contiguous
        (no copy), else one gather."""
        if self.index is None:
            return self.tensor[a:b]
        idx = self.index[a:b]
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if hi - lo == len(idx) and np.array_equal(idx, np.arange(lo, hi)):
            return self.tensor[lo:hi]
        import tensorflow as tf

        return tf.gather(self.tensor, idx)

    def take(self, local: np.ndarray) -> Segment:
        """Its rows ``local`` (positions within the segment)."""
        return Segment(self.tensor, local if self.index is None else self.index[local])


class Rows:
    """A sequence of rows held as :class:`Segment` s, in order."""

    def __init__(self, segments: list[Segment]):
        self.segments = segments

    @classmethod
    def of(cls, tensor, index: np.ndarray | None = None) -> Rows:
        """Rows ``index`` of ``tensor`` (all of them when None)."""
        return cls([Segment(tensor, None if index is None else np.asarray(index, np.int64))])

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    def __add__(self, other: Rows) -> Rows:
        """These rows, then ``other``'s; where they meet, rows of the same tensor become one
        segment (contiguous ones then need no copy, others one gather)."""
        if not len(self) or not len(other):
            return self if len(self) else other
        last, first = self.segments[-1], other.segments[0]
        if last.tensor is first.tensor:
            joined = Segment(last.tensor, np.concatenate([_index(last), _index(first)]))
            return Rows(self.segments[:-1] + [joined] + other.segments[1:])
        return Rows(self.segments + other.segments)

    def take(self, idx: np.ndarray) -> Rows:
        """Rows ``idx`` (positions in this sequence), in that order."""
        idx = np.asarray(idx, np.int64)
        if not len(idx):
            return Rows([])
        starts = np.cumsum([0] + [len(s) for s in self.segments])
        seg = np.searchsorted(starts, idx, side="right") - 1
        cut = np.flatnonzero(np.diff(seg)) + 1
        return Rows(
            [
                self.segments[s[0]].take(i - starts[s[0]])
                for s, i in zip(np.split(seg, cut), np.split(idx, cut))
            ]
        )

    def pieces(self, a: int, b: int) -> list:
        """Tensors whose concatenation is rows ``a`` to ``b`` (exclusive)."""
        out, start = [], 0
        for s in self.segments:
            end = start + len(s)
            if end > a and start < b:
                out.append(s.rows(max(a, start) - start, min(b, end) - start))
            start = end
        return out

    def pass_input(self, a: int, b: int, rows: int):
        """Rows ``a`` to ``b`` as one pass of exactly ``rows`` rows, padded with copies of row
        ``a``: at most one copy of the rows (none when they already are one whole tensor)."""
        import tensorflow as tf

        pieces = self.pieces(a, b)
        if b - a < rows:
            pieces.append(tf.gather(pieces[0], np.zeros(rows - (b - a), np.int64)))
        return pieces[0] if len(pieces) == 1 else tf.concat(pieces, 0)

    def copy(self):
        """All rows in one fresh tensor (shares no buffer with a pass)."""
        import tensorflow as tf

        pieces = self.pieces(0, len(self))
        if len(pieces) == 1:
            return tf.gather(pieces[0], np.arange(int(pieces[0].shape[0])))
        return tf.concat(pieces, 0)

    def tensor(self):
        """All rows as one tensor (a copy unless they already are one)."""
        import tensorflow as tf

        pieces = self.pieces(0, len(self))
        return pieces[0] if len(pieces) == 1 else tf.concat(pieces, 0)


def _index(segment: Segment) -> np.ndarray:
    return segment.index if segment.index is not None else np.arange(len(segment))
