import numpy as np
import pandas as pd
import pytest

from dnnfi.faults import draw_activation_faults, shard_slice
from dnnfi.seeds import rng_for

SITES = pd.DataFrame({"site": ["a", "b", "c"], "size": [10, 1000, 5], "dtype": ["float32", "float16", "float32"]})


def draw(n=20000, **kwargs):
    return draw_activation_faults(SITES, n, rng_for(7, "camp", "data", "model"), np.arange(50), **kwargs)


def test_same_seed_same_faults_and_elements_in_range():
    a, b = draw(), draw()
    pd.testing.assert_frame_equal(a, b)
    sizes = SITES.set_index("site")["size"]
    assert (a["element"] < a["site"].map(sizes)).all() and (a["element"] >= 0).all()
    assert (a.loc[a["site"] == "b", "bit"] <= 15).all() and a.loc[a["site"] == "a", "bit"].max() == 31
    assert a["image"].between(0, 49).all()


def test_layer_uniform_vs_size_proportional_site_shares():
    uniform = draw()["site"].value_counts(normalize=True)
    assert uniform.between(0.3, 0.37).all()
    proportional = draw(sampling="size_proportional")["site"].value_counts(normalize=True)
    assert proportional["b"] > 0.97 and proportional["c"] < 0.01


def test_fixed_bits_and_non_bit_models():
    assert set(draw(bits=[30, 31])["bit"]) == {30, 31}
    zero = draw(n=100, fault_model="zero")
    assert (zero["bit"] == -1).all() and zero["random_u"].isna().all()
    rnd = draw(n=100, fault_model="random")
    assert rnd["random_u"].between(0, 1).all()


def test_shards_partition_the_list_whatever_their_number():
    n = 1003
    for n_shards in (1, 3, 64):
        rows = [i for s in range(n_shards) for i in range(n)[shard_slice(n, s, n_shards)]]
        assert rows == list(range(n))
    with pytest.raises(ValueError):
        shard_slice(10, 3, 3)


def test_seed_streams_differ_by_key():
    assert rng_for(1, "a").random() != rng_for(1, "b").random()
    assert rng_for(1, "a", 0.01).random() == rng_for(1, "a", 0.01).random()
