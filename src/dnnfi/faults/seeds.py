"""Random generators derived from a campaign seed and names, never from the shard layout."""

from __future__ import annotations

import hashlib

import numpy as np


def _word(key: str | int) -> int:
    return int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "little")


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``keys`` (e.g. campaign, data set, model).

    The same keys give the same stream in every process and on every platform.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(_word, keys)]))
