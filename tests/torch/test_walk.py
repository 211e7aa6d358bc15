"""The fast path's walk (docs/semantics.md, section 10): faults of different sites share full
passes, the in-flight capacity and the image chunks follow ``cache_mb``, and none of it changes a
bit of any logits (one thread)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from mixed_faults import assert_identical, mixed_fault_list

from dnnfi.engines.torchfi.activations import TorchInjector, _Walk
from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.engines.torchfi.faultops import row_sums
from dnnfi.engines.torchfi.graph import Graph


def resnet8_and_images(n_images: int = 6):
    torch.manual_seed(0)
    model = cifar_resnet(8).eval()
    return model, torch.randn((n_images, 3, 16, 16), generator=torch.Generator().manual_seed(1))


def test_capacity_and_chunks_change_no_bit():
    torch.set_num_threads(1)
    model, x = resnet8_and_images()
    wide = TorchInjector(model, batch_size=256, input_shape=(3, 16, 16))
    faults = mixed_fault_list(wide.sites(), seed=3, n_images=len(x), n_single=300, n_multi=40)
    # 0.05 MB: a chunk of one image, the capacity of one pass (16 faults in flight)
    narrow = TorchInjector(model, batch_size=256, input_shape=(3, 16, 16), cache_mb=0.05)
    narrow.sites()
    assert wide._capacity() == 256 and narrow._capacity() == 16
    assert (
        len(narrow._chunks(np.arange(len(x)))) == len(x)
        and len(wide._chunks(np.arange(len(x)))) == 1
    )
    reference = wide.logits(faults, x, progress=False)
    assert_identical(reference, narrow.logits(faults, x, progress=False), "cache_mb=0.05")
    shuffled = np.random.default_rng(0).permutation(len(faults))
    got = wide.logits(faults.iloc[shuffled], x, progress=False)
    assert_identical((reference[0][shuffled], reference[1][shuffled]), got, "shuffled")


def test_faults_of_different_sites_share_passes(monkeypatch):
    """One bit-30 flip at each of 20 sites: the logits node runs in at most 2 passes of 16 rows
    (the faults not masked before), not one pass per site."""
    model, x = resnet8_and_images()
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 16, 16))
    sites = injector.sites()
    sites = sites[sites["eligible"]].head(20)
    faults = pd.DataFrame(
        {
            "fault_id": np.arange(20),
            "image": np.arange(20) % len(x),
            "site": sites["site"].to_numpy(),
            "element": 0,
            "bit": 30,
            "fault_model": "bitflip",
            "random_u": 0.0,
        }
    )
    logits_passes = []
    run_node = Graph.run_node

    def counting(self, node, env):
        value = run_node(self, node, env)
        if node is self.logits:
            logits_passes.append(len(value))
        return value

    monkeypatch.setattr(Graph, "run_node", counting)
    golden, faulty = injector.logits(faults, x, progress=False)
    changed = np.count_nonzero(
        (golden != faulty).any(axis=1)
    )  # faults that surely reached the logits
    assert (
        changed > 1 and set(logits_passes) == {16} and -(-changed // 16) <= len(logits_passes) <= 2
    )


def test_other_pass_rows_are_the_reference_at_that_shape_whatever_the_batch():
    """`pass_rows` (per device, docs/semantics.md section 4): at 8 rows on the CPU the engine and
    its weight and baseline paths run 8-row passes, and the faulty logits are those of the simple
    reference at 8 rows, bit for bit, at batch sizes 256, 5 and 1."""
    from test_activations import call_of_site
    from torch_reference import reference_logits

    from dnnfi.engines.torchfi.models import predict_logits
    from dnnfi.engines.torchfi.weights import WeightInjector

    torch.set_num_threads(1)
    model, x = resnet8_and_images()
    setting = {"cpu": 8, "gpu": 64}
    injectors = [
        TorchInjector(model, batch_size=b, input_shape=(3, 16, 16), pass_rows=setting)
        for b in (256, 5, 1)
    ]
    assert [i.rows for i in injectors] == [8, 8, 8] and WeightInjector(
        model, pass_rows=setting
    ).rows == 8
    faults = mixed_fault_list(
        injectors[0].sites(), seed=5, n_images=len(x), n_single=60, n_multi=12
    )
    expected = reference_logits(model, x, faults, call_of_site(injectors[0].sites()), rows=8)
    for injector in injectors:
        assert_identical(
            expected,
            injector.logits(faults, x, progress=False),
            f"batch_size {injector.batch_size}",
        )
    baseline = predict_logits(
        model, x.permute(0, 2, 3, 1).numpy(), setting, progress=False
    )  # NHWC, as stored
    np.testing.assert_array_equal(baseline[faults["image"].to_numpy()], expected[0])


def test_golden_rows_ride_the_first_walk(monkeypatch):
    """6 images and 20 faults fit one walk: the stem runs one 16-row pass (the golden rows and the
    faults that enter there share it; no golden pass of its own), the golden logits are those of
    golden_logits bit for bit, and no golden value outlives the walk but the logits'."""
    torch.set_num_threads(1)
    model, x = resnet8_and_images()
    injector = TorchInjector(model, batch_size=256, input_shape=(3, 16, 16))
    sites = injector.sites()
    faults = mixed_fault_list(sites, seed=7, n_images=len(x), n_single=20, n_multi=0)
    stem = injector.graph.nodes[0]
    stem_passes, caches = [], []
    run_node, walk_init = Graph.run_node, _Walk.__init__

    def counting(self, node, env):
        if node is stem:
            stem_passes.append(len(env[self.input]))
        return run_node(self, node, env)

    def recording(self, *args):
        walk_init(self, *args)
        caches.append(self.cache)

    monkeypatch.setattr(Graph, "run_node", counting)
    monkeypatch.setattr(_Walk, "__init__", recording)
    golden, _ = injector.logits(faults, x, progress=False)
    assert stem_passes == [16] and len(caches) == 1 and list(caches[0]) == [injector.graph.logits]
    expected = injector.golden_logits(x)[faults["image"].to_numpy()]
    assert (golden.view(np.uint32) == expected.view(np.uint32)).all()


def test_row_sums_tell_a_changed_bit():
    """The masking check's fingerprint: equal for equal rows in any layout and format, different
    after any one bit of one element flips."""
    for dtype, bits, view in [
        (torch.float32, 32, torch.int32),
        (torch.float16, 16, torch.int16),
        (torch.bfloat16, 16, torch.int16),
    ]:
        for shape in [(3, 4, 5, 7), (3, 8, 4)]:  # rows of an odd and of an even number of elements
            x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
            sums = row_sums(x)
            strided = (
                x.transpose(1, 2).contiguous().transpose(1, 2)
            )  # the same values in another layout
            assert torch.equal(sums, row_sums(x.clone())) and torch.equal(row_sums(strided), sums)
            for bit in range(bits):
                flipped = x.clone()
                flat = flipped.view(view).view(len(x), -1)
                flat[1, 5] ^= torch.tensor(1 << bit if bit < bits - 1 else -(1 << bit), dtype=view)
                changed = row_sums(flipped) != sums
                assert changed.tolist() == [False, True, False], (dtype, shape, bit)
