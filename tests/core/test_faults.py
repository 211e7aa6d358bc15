import numpy as np
import pandas as pd
import pytest

from dnnfi.faults.lists import draw_activation_faults, shard_slice
from dnnfi.faults.seeds import rng_for

SITES = pd.DataFrame(
    {"site": ["a", "b", "c"], "size": [10, 1000, 5], "dtype": ["float32", "float16", "float32"]}
)


def draw(n=20000, **kwargs):
    return draw_activation_faults(
        SITES, n, rng_for(7, "camp", "data", "model"), np.arange(50), **kwargs
    )


def test_same_seed_same_faults_and_elements_in_range():
    a, b = draw(), draw()
    pd.testing.assert_frame_equal(a, b)
    sizes = SITES.set_index("site")["size"]
    assert (a["element"] < a["site"].map(sizes)).all() and (a["element"] >= 0).all()
    assert (a.loc[a["site"] == "b", "bit"] <= 15).all() and a.loc[
        a["site"] == "a", "bit"
    ].max() == 31
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


# ---- the fault contract: encoding, validation, corruption -----------------------------------

from dnnfi.faults.lists import (  # noqa: E402
    corrupt,
    corrupt_activations,
    corrupt_weights,
    fault_hits,
    fault_pairs,
    tensor_stats,
    validate_faults,
    weight_random_values,
)

CONTRACT_SITES = pd.DataFrame(
    {"site": ["a", "h", "b"], "size": [10, 6, 4], "dtype": ["float32", "float16", "bfloat16"]}
)


def fault_list(**columns):
    base = {
        "fault_id": [0],
        "image": [0],
        "site": ["a"],
        "element": [3],
        "bit": [30],
        "fault_model": ["bitflip"],
        "random_u": [np.nan],
    }
    return pd.DataFrame(base | columns)


def test_pairs_and_hits_of_multi_element_multi_bit_faults():
    faults = fault_list(
        fault_id=[0, 1, 2],
        image=[0, 0, 1],
        site=["a", "a", "h"],
        element=[3, 1, 0],
        bit=[30, 5, -1],
        fault_model=["bitflip", "stuck_at_1", "zero"],
        random_u=[np.nan] * 3,
    )
    faults["elements"] = [[3, 3, 4, 3], None, [0, 2]]
    faults["bits"] = [[30, 29, 1, 30], None, [-1, -1]]
    row, element, bit = fault_pairs(faults)
    assert row.tolist() == [0, 0, 0, 0, 1, 2, 2] and element.tolist() == [3, 3, 4, 3, 1, 0, 2]
    assert bit.tolist() == [30, 29, 1, 30, 5, -1, -1]
    row, element, mask = fault_hits(faults)
    # element 3 of fault 0: bit 30 flipped twice cancels, bit 29 stays
    assert list(zip(row, element, mask)) == [
        (0, 3, 1 << 29),
        (0, 4, 2),
        (1, 1, 1 << 5),
        (2, 0, 0),
        (2, 2, 0),
    ]
    stuck = fault_list(fault_model=["stuck_at_1"])
    stuck["elements"], stuck["bits"] = [[3, 3]], [[30, 30]]
    assert fault_hits(stuck)[2].tolist() == [1 << 30]  # forcing a bit twice forces it once


@pytest.mark.parametrize(
    "columns, message",
    [
        ({"site": ["nope"]}, "sites the model does not have"),
        ({"fault_model": ["melt"]}, "unknown fault model 'melt'"),
        ({"image": [5]}, "image 5 outside 0..1"),
        ({"element": [10]}, "element 10 outside site 'a' of 10 elements"),
        ({"bit": [32]}, "bit 32 for fault model 'bitflip', expected 0..31"),
        ({"site": ["h"], "element": [0], "bit": [16]}, "expected 0..15"),
        ({"fault_model": ["zero"]}, "uses no bit"),
        (
            {"fault_model": ["random"], "bit": [-1], "random_u": [1.0]},
            r"random_u 1.0 outside \[0, 1\)",
        ),
    ],
)
def test_validation_names_the_fault_and_what_was_expected(columns, message):
    with pytest.raises(ValueError, match=message):
        validate_faults(fault_list(**columns), CONTRACT_SITES, 2)


def test_validation_checks_every_pair_and_the_columns():
    faults = fault_list()
    faults["elements"], faults["bits"] = [[3, 12]], [[30, 1]]
    with pytest.raises(ValueError, match="element 12 outside site 'a'"):
        validate_faults(faults, CONTRACT_SITES, 2)
    faults["elements"], faults["bits"] = [[3, 4]], [[30, 40]]
    with pytest.raises(ValueError, match="bit 40"):
        validate_faults(faults, CONTRACT_SITES, 2)
    faults["elements"], faults["bits"] = [[3, 4]], [[30]]
    with pytest.raises(ValueError, match="equal length"):
        validate_faults(faults, CONTRACT_SITES, 2)
    faults["elements"], faults["bits"] = [[4, 3]], [[30, 30]]
    with pytest.raises(ValueError, match="repeat the first pair"):
        validate_faults(faults, CONTRACT_SITES, 2)
    with pytest.raises(ValueError, match="lacks columns"):
        validate_faults(fault_list().drop(columns="random_u"), CONTRACT_SITES, 2)
    validate_faults(fault_list(), CONTRACT_SITES, 2)  # a good list passes


@pytest.mark.parametrize(
    "dtype, value, model, bits, expected",
    [
        ("float32", 1.0, "bitflip", [30], np.inf),  # 0x3F800000 ^ 0x40000000 = 0x7F800000
        ("float32", 1.0, "bitflip", [31, 23], -0.5),  # sign and lowest exponent bit
        ("float32", 1.5, "stuck_at_0", [22], 1.0),
        ("float32", 1.0, "stuck_at_1", [22], 1.5),
        ("float16", 1.0, "bitflip", [14], np.inf),  # 0x3C00 ^ 0x4000 = 0x7C00
        ("float16", 2.0, "bitflip", [10], 4.0),
        ("bfloat16", 1.0, "bitflip", [14], np.inf),  # 0x3F80 ^ 0x4000 = 0x7F80
        ("bfloat16", 1.0, "bitflip", [6], 1.5),
        ("float32", 3.0, "zero", [-1], 0.0),
    ],
)
def test_corruption_known_values(dtype, value, model, bits, expected):
    import ml_dtypes

    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    faults = fault_list(fault_model=[model], bit=[bits[0]], element=[0])
    faults["elements"], faults["bits"] = [[0] * len(bits)], [bits]
    row, element, mask = fault_hits(faults)
    new = corrupt(
        np.array([value], dtype=np_dtype), faults["fault_model"].to_numpy()[row], mask, np.zeros(1)
    )
    assert new.dtype == np_dtype and float(new[0]) == expected


def test_random_values_round_to_the_site_format_and_unchanged_faults_are_reported():
    golden = {0: np.array([-2.0, 0.5, 6.0], np.float16), 1: np.array([1.0, 1.0, 1.0], np.float16)}
    faults = fault_list(
        fault_id=[0, 1, 2],
        image=[0, 1, 0],
        site=["h"] * 3,
        element=[1, 2, 0],
        bit=[-1, -1, 14],
        fault_model=["random", "zero", "stuck_at_1"],
        random_u=[0.3, np.nan, np.nan],
    )
    images = faults["image"].to_numpy()
    row, element, new, changed = corrupt_activations(
        faults,
        lambda r, e: np.array([golden[images[i]][j] for i, j in zip(r, e)], np.float16),
        lambda rows: (
            [golden[images[i]].min() for i in rows],
            [golden[images[i]].max() for i in rows],
        ),
    )
    assert new[0] == np.float16(-2.0 + 0.3 * 8.0)  # float64 value rounded once to fp16
    assert new[1] == 0.0 and changed.tolist() == [
        True,
        True,
        False,
    ]  # -2.0 = 0xC000 has bit 14 set already


def test_weight_random_value_distributions_known_answers():
    from scipy.special import ndtr

    values = np.array([1.0, 2.0, 3.0, 6.0], np.float32)
    stats = tensor_stats(values)
    assert stats == {"min": 1.0, "max": 6.0, "mean": 3.0, "std": pytest.approx(np.sqrt(14 / 3))}
    u = np.array([0.0, 0.5, ndtr(1.0)])
    assert weight_random_values(u, stats, "layer_uniform").tolist() == [
        1.0,
        3.5,
        1.0 + 5 * ndtr(1.0),
    ]
    np.testing.assert_allclose(
        weight_random_values(u[1:], stats, "layer_normal"), [3.0, 3.0 + np.sqrt(14 / 3)]
    )
    assert weight_random_values(u, stats, "uniform", [10, 20]).tolist() == [
        10,
        15,
        10 + 10 * ndtr(1.0),
    ]
    with pytest.raises(ValueError, match="value_range"):
        weight_random_values(u, stats, "uniform")
    with pytest.raises(ValueError, match="unknown random distribution"):
        weight_random_values(u, stats, "cauchy")


def test_corrupt_weights_on_a_tensor():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    faults = pd.DataFrame(
        {
            "replica": 0,
            "site": "w",
            "element": [1, 11],
            "bit": [31, -1],
            "fault_model": ["bitflip", "zero"],
            "random_u": np.nan,
        }
    )
    element, new = corrupt_weights(values, faults)
    assert element.tolist() == [1, 11] and new.tolist() == [-1.0, 0.0]
    rnd = faults.assign(fault_model="random", bit=-1, random_u=[0.5, 0.25])
    assert corrupt_weights(values, rnd)[1].tolist() == [5.5, 2.75]  # the tensor's own [0, 11]
