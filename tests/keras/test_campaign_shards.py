"""Campaign shards on a Keras graph: the same faults and outcomes whatever the shard layout,
and a stored shard replays to the same outcomes."""

import numpy as np
import pandas as pd
from conftest import zoo

from dnnfi.designs import bit_sweep, uniform
from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.runner import replay

UNIFORM, BIT_SWEEP = uniform.DESIGN, bit_sweep.DESIGN
SPEC = {
    "seed": 5,
    "campaign": "c",
    "injections": 120,
    "sampling": "layer_uniform",
    "fault_model": "bitflip",
    "bits": None,
    "bits_per_element": 1,
    "elements_per_fault": 1,
    "image_sampling": "uniform",
    "shards": 1,
}


def test_shard_layouts_agree_and_a_stored_shard_replays(tmp_path):
    injector = KerasInjector(zoo(), batch_size=32)
    x = np.random.default_rng(3).normal(size=(12, 16, 16, 3)).astype("float32")
    correct = np.ones(len(x), dtype=bool)
    whole = UNIFORM.run_shard(injector, x, correct, SPEC, "d", "m", 0)
    parts = pd.concat(
        [
            UNIFORM.run_shard(injector, x, correct, {**SPEC, "shards": 4}, "d", "m", i)
            for i in range(4)
        ],
        ignore_index=True,
    )
    columns = ["fault_id", "image", "site", "element", "bit", "outcome", "faulty_top1"]
    pd.testing.assert_frame_equal(whole[columns], parts[columns])
    assert whole["fault_id"].tolist() == list(range(120)) and whole["site"].nunique() > 3
    assert set(whole["outcome"]) >= {"masked", "benign"}

    path = tmp_path / "shard.parquet"
    parts.iloc[30:60].to_parquet(path)
    again = replay(pd.read_parquet(path), injector, x)
    stored = pd.read_parquet(path).reset_index(drop=True)
    pd.testing.assert_frame_equal(again[columns], stored[columns])
    assert np.array_equal(np.stack(again["faulty_top5"]), np.stack(stored["faulty_top5"]))


def test_per_correctness_sampling_gives_the_study_pools():
    injector = KerasInjector(zoo(), batch_size=64)
    x = np.random.default_rng(4).normal(size=(10, 16, 16, 3)).astype("float32")
    correct = np.array([True] * 7 + [False] * 3)
    spec = {
        **SPEC,
        "image_sampling": "per_correctness",
        "per_correct": 5,
        "per_misclassified": 30,
        "per_category": 20,
    }
    out = UNIFORM.run_shard(injector, x, correct, spec, "d", "m", 0)
    counts = out["image"].map(lambda i: bool(correct[i])).value_counts()
    assert (
        counts[True] == 20 and counts[False] == 20
    )  # 20 of 35 correct-pool and 20 of 90 misclassified-pool faults
    assert out["image"].value_counts().max() <= 30


def test_bit_sweep_shards_agree_and_sweep_every_bit():
    injector = KerasInjector(zoo(), batch_size=64)
    x = np.random.default_rng(5).normal(size=(6, 16, 16, 3)).astype("float32")
    correct = np.ones(len(x), dtype=bool)
    spec = {**SPEC, "injections": 10, "bit_sweep": True}
    whole = BIT_SWEEP.run_shard(injector, x, correct, spec, "d", "m", 0)
    parts = pd.concat(
        [
            BIT_SWEEP.run_shard(injector, x, correct, {**spec, "shards": 3}, "d", "m", i)
            for i in range(3)
        ],
        ignore_index=True,
    )
    columns = ["fault_id", "point", "image", "site", "element", "bit", "outcome", "faulty_top1"]
    pd.testing.assert_frame_equal(whole[columns], parts[columns])
    assert whole["point"].tolist() == np.repeat(np.arange(10), 32).tolist()
    assert whole["bit"].tolist() == list(range(32)) * 10
    plain = UNIFORM.run_shard(injector, x, correct, {**SPEC, "injections": 10}, "d", "m", 0)
    points = whole.drop_duplicates("point")[["image", "site", "element"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(points, plain[["image", "site", "element"]])
    # a point's row at its drawn bit is the plain campaign's fault: same outcome
    drawn = whole.merge(
        plain[["fault_id", "bit"]].rename(columns={"fault_id": "point"}), on=["point", "bit"]
    )
    assert drawn["faulty_top1"].tolist() == plain["faulty_top1"].tolist()
