"""The shared golden-site-value tests (tests/engines/sampling.py) on the Keras engine: the zoo
graph in float32 and under mixed_bfloat16 (bfloat16 sites)."""

import pytest
from conftest import zoo
from engines.sampling import *  # noqa: F403 (the shared tests)
from engines.sampling import GoldenSites

from dnnfi.engines.kerasfi.engine import KerasInjector

pytestmark = pytest.mark.keras


@pytest.fixture(params=["float32", "mixed_bfloat16"])
def fw(request, images16):
    model = zoo(request.param)
    return GoldenSites(
        injector=lambda **kwargs: KerasInjector(model, **kwargs),
        images=images16,
        dtype={"float32": "float32", "mixed_bfloat16": "bfloat16"}[request.param],
        step=1,
        sweep=("gap", 4),
        protected="stem",
    )
