"""TorchInjector against the simple hook reference, masking, DUE, sites and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from conftest import inputs_path
from torch import nn
from torch_reference import reference_logits

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import cifar_resnet, load_cifar_resnet
from dnnfi.engines.torchfi.faultops import cat_rows
from dnnfi.engines.torchfi.models import to_tensor
from dnnfi.faults.bitflip import FORMATS
from dnnfi.faults.lists import draw_activation_faults
from dnnfi.faults.outcomes import classify, summarize_logits

COMPARED = ["golden_top1", "faulty_top1", "finite", "identical"]


class ReusedBranchy(nn.Module):
    """One ReLU and one conv reused, a data-dependent branch (so torch.fx cannot trace it)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.relu(self.stem(x))
        for _ in range(2):
            x = self.relu(self.mid(x)) + x
        if x.sum() > 0:  # data-dependent control flow
            x = x * 1.0
        return self.head(x.mean(dim=(2, 3)))


def vgg_ish(classes=10):
    """A small VGG-like sequential network with pooling, dropout and a linear head."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 64),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(64, classes),
    )


def small_vit(classes=10):
    """A 2-layer torchvision VisionTransformer on 32x32 inputs; its attention (nn.MultiheadAttention)
    cannot be traced by torch.fx, so the fast path runs it as one opaque call."""
    model = torchvision.models.VisionTransformer(
        image_size=32,
        patch_size=8,
        num_layers=2,
        num_heads=4,
        hidden_dim=64,
        mlp_dim=128,
        num_classes=classes,
    )
    nn.init.normal_(
        model.heads.head.weight
    )  # torchvision zero-initializes the head: every logit would be 0
    return model


def mixed_faults(sites: pd.DataFrame, n_images: int, seed: int, n: int = 500) -> pd.DataFrame:
    """n faults: 60% bit flips, the rest zero, random, stuck-at-0 and stuck-at-1."""
    eligible = sites[sites["eligible"]]
    parts, rng = [], np.random.default_rng(seed)
    plan = {"bitflip": int(n * 0.6)} | {
        m: int(n * 0.1) for m in ("zero", "random", "stuck_at_0", "stuck_at_1")
    }
    for model, k in plan.items():
        parts.append(
            draw_activation_faults(eligible, k, rng, np.arange(n_images), fault_model=model)
        )
    faults = pd.concat(parts, ignore_index=True)
    faults["fault_id"] = np.arange(len(faults))
    return faults


def call_of_site(sites: pd.DataFrame) -> dict:
    """site -> (module name, call number), parsed from the site names."""
    return {
        s: (layer, int(s.rsplit(":", 1)[1]) if s != layer else 0)
        for s, layer in zip(sites["site"], sites["layer"])
    }


def assert_matches_reference(model, x, faults, injector):
    """Same outcomes as the hook reference (with the injector's protection), and bit-identical
    golden and faulty logits (both compute at the fixed pass shape)."""
    golden, faulty = reference_logits(
        model, x, faults, call_of_site(injector.sites()), protection=injector.protection
    )
    ours_golden, ours_faulty = injector.logits(faults, x, progress=False)
    np.testing.assert_array_equal(ours_golden, golden)
    np.testing.assert_array_equal(ours_faulty, faulty)
    ours = summarize_logits(ours_golden, ours_faulty)
    ref = summarize_logits(golden, faulty)
    for column in COMPARED:
        np.testing.assert_array_equal(
            ours[column].to_numpy(), ref[column].to_numpy(), err_msg=column
        )
    np.testing.assert_array_equal(
        classify(ours)["outcome"].to_numpy(), classify(ref)["outcome"].to_numpy()
    )
    return classify(ours)


def real_resnet(name):
    return load_cifar_resnet(inputs_path("models", name))


CASES = {
    "resnet20_real": (lambda: real_resnet("resnet20-cifar10-12fca82f.th"), (3, 32, 32), True),
    "resnet56_real": (lambda: real_resnet("resnet56-cifar10-4bfd9763.th"), (3, 32, 32), True),
    "resnet50_64px": (lambda: torchvision.models.resnet50(weights=None), (3, 64, 64), False),
    "vgg_ish": (vgg_ish, (3, 32, 32), False),
    "vit_small": (small_vit, (3, 32, 32), False),
    "reused_branchy": (ReusedBranchy, (3, 32, 32), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_engine_matches_hook_reference(case, request):
    build, shape, real_images = CASES[case]
    model = build().eval()
    if real_images:
        x = to_tensor(request.getfixturevalue("cifar_images"))
    else:
        x = torch.randn(12, *shape)
    injector = TorchInjector(model, batch_size=64, input_shape=shape)
    assert injector.fast == (case != "reused_branchy")
    faults = mixed_faults(injector.sites(), len(x), seed=len(case))
    outcome = assert_matches_reference(model, x, faults, injector)["outcome"]
    # the fault list exercises masked and visible faults alike
    assert (outcome == "masked").sum() > 50 and (outcome != "masked").sum() > 50


class HiddenCall(nn.Module):
    """Calls a site module it does not register (so it looks site-free, an opaque call to the tracer)."""

    def __init__(self, act):
        super().__init__()
        self.unused = nn.Linear(1, 1)
        self.act = [act]

    def forward(self, x):
        return self.act[0](x - 0.5)


class HiddenSite(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.hidden = HiddenCall(self.relu)
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.head(self.hidden(self.relu(self.conv(x))).flatten(1))


def test_a_site_call_inside_an_opaque_module_falls_back_to_hooks(caplog):
    model = HiddenSite().eval()
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 8, 8))
    with caplog.at_level("INFO", logger="dnnfi.engines.torchfi.activations"):
        assert {"relu:0", "relu:1"} <= set(injector.sites()["site"])
        assert not injector.fast  # the graph would call relu once: its second site would be lost
    assert "calls the site modules otherwise than the model" in caplog.text
    x = torch.randn(6, 3, 8, 8)
    outcome = assert_matches_reference(
        model, x, mixed_faults(injector.sites(), len(x), seed=3, n=200), injector
    )["outcome"]
    assert (outcome != "masked").sum() > 20


def test_fallback_path_matches_reference_on_resnet(cifar_images):
    model = real_resnet("resnet20-cifar10-12fca82f.th")
    injector = TorchInjector(model, batch_size=32, input_shape=(3, 32, 32), use_fx=False)
    assert not injector.fast
    assert_matches_reference(
        model, to_tensor(cifar_images), mixed_faults(injector.sites(), 20, seed=7), injector
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_bit_flips_match_reference(dtype):
    model = vgg_ish().eval().to(dtype)
    x = torch.randn(8, 3, 32, 32).to(dtype)
    injector = TorchInjector(model, batch_size=16, input_shape=(3, 32, 32))
    sites = injector.sites()
    assert set(sites["dtype"]) == {FORMATS[str(dtype).removeprefix("torch.")][0].name}
    faults = draw_activation_faults(
        sites[sites["eligible"]], 300, np.random.default_rng(3), np.arange(8)
    )
    assert faults["bit"].max() >= 12 and faults["bit"].max() <= 15  # drawn over the 16 bits
    assert_matches_reference(model, x, faults, injector)


@pytest.mark.parametrize("fault_model", ["bitflip", "zero", "random", "stuck_at_0", "stuck_at_1"])
@pytest.mark.parametrize("use_fx", [True, False])
def test_multi_element_faults_match_reference(fault_model, use_fx):
    """elements_per_fault and bits_per_element reach every pair, for every fault model."""
    model = cifar_resnet(20).eval()
    x = torch.randn(6, 3, 32, 32)
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32), use_fx=use_fx)
    sites = injector.sites()
    faults = draw_activation_faults(
        sites[sites["eligible"]],
        120,
        np.random.default_rng(5),
        np.arange(6),
        fault_model=fault_model,
        bits=[29, 30] if fault_model != "bitflip" else None,
        bits_per_element=2,
        elements_per_fault=3,
    )
    assert all(len(set(e)) == 3 for e in faults["elements"])
    outcome = assert_matches_reference(model, x, faults, injector)["outcome"]
    assert (outcome != "masked").sum() > 10


def test_every_element_of_a_fault_is_corrupted():
    """Three zeroed elements of a linear model's input site change three logits (one each)."""
    model = nn.Sequential(nn.Identity(), nn.Linear(4, 4, bias=False), nn.Identity()).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(4))
    x = torch.arange(1, 9, dtype=torch.float32).reshape(2, 4)
    injector = TorchInjector(model, input_shape=(4,))
    faults = pd.DataFrame(
        {
            "fault_id": [0],
            "image": [1],
            "site": ["0"],
            "element": [0],
            "bit": [-1],
            "fault_model": ["zero"],
            "random_u": [np.nan],
        }
    )
    faults["elements"], faults["bits"] = [[0, 2, 3]], [[-1, -1, -1]]
    golden, faulty = injector.logits(faults, x, progress=False)
    assert golden.tolist() == [[5, 6, 7, 8]] and faulty.tolist() == [[0, 6, 0, 0]]


def _site_values(model, x, layer, k):
    """Golden output of call k of module ``layer`` for batch x (flattened per image)."""
    calls = []
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, a, o: calls.append(o.detach().clone())
    )
    with torch.no_grad():
        model(x)
    handle.remove()
    return calls[k].reshape(len(x), -1).numpy()


@pytest.mark.parametrize("use_fx", [True, False])
def test_faults_that_change_nothing_are_masked(use_fx):
    model = cifar_resnet(20).eval()
    x = torch.randn(6, 3, 32, 32)
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32), use_fx=use_fx)
    sites = injector.sites()
    faults = draw_activation_faults(
        sites[sites["eligible"]],
        300,
        np.random.default_rng(11),
        np.arange(6),
        fault_model="stuck_at_0",
    )
    # stuck-at the level the bit already has: no value changes
    values = {
        s: _site_values(model, x, *call)
        for s, call in call_of_site(sites).items()
        if s in set(faults["site"])
    }
    levels = [
        (int(values[f.site][f.image, f.element].view(np.uint32)) >> f.bit) & 1
        for f in faults.itertuples()
    ]
    faults["fault_model"] = np.where(np.array(levels) == 1, "stuck_at_1", "stuck_at_0")
    result = classify(injector.run(faults, x, progress=False))
    assert result["identical"].all()
    assert (result["outcome"] == "masked").all() and (result["outcome"] == "sdc").sum() == 0


@pytest.mark.parametrize("use_fx", [True, False])
def test_nan_and_inf_are_due(use_fx):
    model = cifar_resnet(20).eval()
    x = torch.randn(6, 3, 32, 32)
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32), use_fx=use_fx)
    values = _site_values(model, x, "layer3.2.relu", 1)
    image, element = np.nonzero((values >= 1) & (values < 2))  # exponent 127: bit 30 set -> Inf/NaN
    take = np.random.default_rng(0).choice(len(image), 40, replace=False)
    faults = pd.DataFrame(
        {
            "fault_id": np.arange(40),
            "image": image[take],
            "site": "layer3.2.relu:1",
            "element": element[take],
            "bit": 30,
            "fault_model": "bitflip",
            "random_u": np.nan,
        }
    )
    result = classify(injector.run(faults, x, progress=False))
    assert not result["finite"].any()
    assert (result["outcome"] == "due").all()


def test_sites_of_resnet20_list_every_call():
    sites = TorchInjector(cifar_resnet(20), input_shape=(3, 32, 32)).sites()
    # stem conv/bn/relu, 9 blocks x (conv, bn, relu:0, conv, bn, shortcut, relu:1), pool, flatten, linear
    assert len(sites) == 3 + 9 * 7 + 3
    assert {"layer1.0.relu:0", "layer1.0.relu:1", "layer2.0.shortcut"} <= set(sites["site"])
    assert sites["eligible"].sum() == len(sites) - 1 and not sites["eligible"].iloc[-1]
    assert sites.set_index("site").loc["layer2.0.conv1", "shape"] == "32x16x16"
    assert (
        sites["size"] == sites["shape"].map(lambda s: np.prod([int(d) for d in s.split("x")]))
    ).all()
    assert (
        sites.set_index("site").loc["layer1.0.relu:0", "layer_index"]
        == sites.set_index("site").loc["layer1.0.relu:1", "layer_index"]
    )


def test_bad_inputs_raise_clear_errors():
    injector = TorchInjector(cifar_resnet(20), input_shape=(3, 32, 32))
    x = torch.randn(2, 3, 32, 32)
    fault = {
        "fault_id": [0],
        "image": [0],
        "site": ["conv1"],
        "element": [0],
        "bit": [3],
        "fault_model": ["bitflip"],
        "random_u": [np.nan],
    }
    with pytest.raises(ValueError, match="sites the model does not have"):
        injector.run(pd.DataFrame(fault | {"site": ["nope"]}), x, progress=False)
    with pytest.raises(ValueError, match="element 16384 outside site 'conv1'"):
        injector.run(pd.DataFrame(fault | {"element": [16 * 32 * 32]}), x, progress=False)
    with pytest.raises(ValueError, match="bit 32 for fault model 'bitflip', expected 0..31"):
        injector.run(pd.DataFrame(fault | {"bit": [32]}), x, progress=False)
    with pytest.raises(ValueError, match="images of shape"):
        injector.run(pd.DataFrame(fault), torch.randn(2, 3, 16, 16), progress=False)
    with pytest.raises(ValueError, match="input_shape"):
        TorchInjector(cifar_resnet(20)).sites()


@pytest.mark.parametrize("use_fx", [True, False])
def test_an_empty_fault_list_gives_empty_results(use_fx):
    injector = TorchInjector(cifar_resnet(20), input_shape=(3, 32, 32), use_fx=use_fx)
    sites = injector.sites()
    empty = draw_activation_faults(
        sites[sites["eligible"]], 0, np.random.default_rng(0), np.arange(2)
    )
    golden, faulty = injector.logits(empty, torch.randn(2, 3, 32, 32), progress=False)
    assert golden.shape == faulty.shape == (0, 10)
    assert len(classify(injector.run(empty, torch.randn(2, 3, 32, 32), progress=False))) == 0


class Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class ChannelsLastHead(nn.Module):
    """Swin's pattern: a permute site whose (channels-last) view feeds a pooling that rounds
    otherwise on a contiguous tensor."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3, padding=1)
        self.to_last = Permute(0, 2, 3, 1)
        self.norm = nn.LayerNorm(32)
        self.to_first = Permute(0, 3, 1, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.pool(self.to_first(self.norm(self.to_last(self.conv(x))))).flatten(1))


@pytest.mark.parametrize("use_fx", [True, False])
def test_faulty_values_keep_the_layout_of_the_golden_ones(use_fx):
    model = ChannelsLastHead().eval()
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        view = model.to_first(model.norm(model.to_last(model.conv(x))))
        # the premise: the layout alone changes the pooled bits
        assert not torch.equal(model.pool(view), model.pool(view.contiguous()))
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 16, 16), use_fx=use_fx)
    assert injector.fast == use_fx
    faults = mixed_faults(injector.sites(), len(x), seed=5, n=200)
    assert (faults["site"] == "to_first").any()
    # rows of a pass whose other rows' fault hits to_first: their logits must not change
    assert_matches_reference(model, x, faults, injector)
    other = TorchInjector(model, batch_size=64, input_shape=(3, 16, 16), use_fx=not use_fx)
    np.testing.assert_array_equal(
        injector.logits(faults, x, progress=False)[1], other.logits(faults, x, progress=False)[1]
    )


def test_cached_rows_are_concatenated_in_their_layout():
    cases = [
        (torch.randn(3, 8, 5, 5).permute(0, 2, 3, 1), (200, 5, 1, 25)),  # torch.cat: contiguous
        (torch.randn(3, 5, 5, 8).permute(0, 3, 1, 2), (200, 1, 40, 8)),  # channels-last
        (torch.randn(4, 3, 5).transpose(0, 1), (5, 25, 1)),  # batch not outermost
        (torch.randn(3, 4, 5), (20, 5, 1)),
    ]
    for value, strides in cases:
        out = cat_rows([value, value[:2]])
        assert torch.equal(out, torch.cat([value, value[:2]])) and out.stride() == strides
