"""dnnfi.faults.precision: the formats, their widths and the refusal of a model that runs a tensor in
another format than its configured precision."""

import pandas as pd
import pytest

from dnnfi.faults.precision import PRECISIONS, check_format, check_precision, width


def test_formats_and_widths():
    assert PRECISIONS == ("float32", "float16", "bfloat16")
    assert [width(p) for p in PRECISIONS] == [32, 16, 16]
    with pytest.raises(
        ValueError,
        match=r"^models.m.precision: unknown precision 'half', expected one of float32, ",
    ):
        check_precision("half", "models.m.precision")


def test_a_tensor_in_another_format_is_refused_for_16_bit_precisions():
    sites = pd.DataFrame(
        {"site": ["conv", "bn", "fc"], "dtype": ["bfloat16", "float32", "bfloat16"]}
    )
    with pytest.raises(ValueError) as info:
        check_format(sites, "bfloat16", "models.r20")
    assert str(info.value) == (
        "models.r20.precision: bfloat16 requested, but 1 of 3 tensors are in another format "
        "(first: 'bn' in float32); the model converts them itself, so it cannot run in bfloat16"
    )
    check_format(
        sites.assign(dtype="bfloat16"), "bfloat16", "models.r20"
    )  # all in the format: accepted
    check_format(
        sites, "float32", "models.r20"
    )  # float32 models may hold narrower tensors (mixed precision)
    with pytest.raises(ValueError, match="unknown precision"):
        check_format(sites, "fp8", "models.r20")
