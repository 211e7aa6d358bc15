import ml_dtypes
import numpy as np
import pytest

from dnnfi.faults.bitflip import apply_fault, flip_bits, n_bits, stuck_at

BF16 = ml_dtypes.bfloat16


@pytest.mark.parametrize(
    "dtype, bit, expected",
    [
        (np.float32, 31, -1.0),
        (np.float32, 23, 0.5),
        (np.float32, 30, np.inf),
        (np.float32, 22, 1.5),
        (np.float32, 0, 1.0 + 2.0**-23),
        (np.float16, 15, -1.0),
        (np.float16, 10, 0.5),
        (np.float16, 14, np.inf),
        (np.float16, 9, 1.5),
        (np.float16, 0, 1.0 + 2.0**-10),
        (BF16, 15, -1.0),
        (BF16, 7, 0.5),
        (BF16, 14, np.inf),
        (BF16, 6, 1.5),
        (BF16, 0, 1.0 + 2.0**-7),
    ],
)
def test_flip_of_one_matches_ieee754(dtype, bit, expected):
    out = flip_bits(np.array([1.0], dtype=dtype), [bit])
    assert out.dtype == np.dtype(dtype)
    assert float(out[0]) == expected


def test_flip_is_an_involution_and_keeps_other_values():
    x = np.array([3.25, -0.1, 1e-30, 0.0], dtype=np.float32)
    bits = np.array([3, 17, 29, 31])
    once = flip_bits(x, bits)
    assert np.all(once.view(np.uint32) ^ x.view(np.uint32) == (1 << bits).astype(np.uint32))
    assert np.array_equal(flip_bits(once, bits).view(np.uint32), x.view(np.uint32))
    assert float(once[3]) == 0.0 and np.signbit(once[3])  # -0.0 from the sign bit


def test_flip_bits_rejects_positions_outside_the_format():
    with pytest.raises(ValueError, match="0..15"):
        flip_bits(np.float16([1.0]), [16])
    with pytest.raises(ValueError, match="unsupported tensor dtype"):
        flip_bits(np.array([1], dtype=np.int32), [0])


def test_stuck_at():
    # 1.0 has exponent 0b01111111: bit 30 is 0, bits 23-29 are 1
    assert stuck_at(np.float32([1.0]), [30], 0)[0] == 1.0
    assert stuck_at(np.float32([1.0]), [30], 1)[0] == np.inf
    assert stuck_at(np.float32([1.0]), [29], 0)[0] == 2.0**-64
    assert stuck_at(np.float32([1.0]), [29], 1)[0] == 1.0
    assert stuck_at(np.float32([-2.0]), [31], 0)[0] == 2.0


def test_apply_fault_models():
    x = np.float32([0.75, -2.0])
    assert apply_fault(x, "zero").tolist() == [0.0, 0.0]
    assert apply_fault(x, "random", random_values=[5.0, 6.0]).tolist() == [5.0, 6.0]
    assert apply_fault(x, "bitflip", bits=[31, 31]).tolist() == [-0.75, 2.0]
    assert n_bits(np.float16) == 16 and n_bits(BF16) == 16 and n_bits(np.float32) == 32
    with pytest.raises(ValueError, match="unknown fault model"):
        apply_fault(x, "melt")
