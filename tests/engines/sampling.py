"""Golden site values of an engine, what stratified sampling counts and draws from
(docs/semantics.md section 11): one value per element of each site in the site's format, the same
bits for any cut of the images (fixed pass shape), a stuck-at-1 sweep masked exactly where the
golden value already has the bit, and taken before a protected site's checker. A job's images
(dnnfi.engines.runner): preprocessed when used, and a shard's outcomes the same as on all of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnnfi.data.preprocess import PreprocessedRows, preprocess
from dnnfi.engines.protection import Protection
from dnnfi.engines.runner import run_faults
from dnnfi.faults.bitflip import n_bits
from dnnfi.faults.lists import bit_sweep, draw_activation_faults
from dnnfi.faults.outcomes import classify

__all__ = [
    "test_golden_site_values_are_the_engines_and_a_bit_sweep_flips_them",
    "test_golden_site_values_are_taken_before_the_checker",
    "test_a_shards_outcomes_on_the_images_it_uses_are_those_on_all_images",
]


@dataclass
class GoldenSites:
    """A framework's side of these tests."""

    injector: Callable  # the activation injector of the model, keyword arguments passed on
    images: np.ndarray
    dtype: str  # the format of every eligible site
    step: int  # every step-th eligible site is checked (cost)
    sweep: tuple[str, int]  # (site followed by the logits only, image) of the stuck-at-1 sweep
    protected: str  # a site with golden values above 0.01


def test_golden_site_values_are_the_engines_and_a_bit_sweep_flips_them(fw: GoldenSites):
    injector, images = fw.injector(), fw.images
    sites = injector.sites()
    eligible = sites[sites["eligible"]].set_index("site")
    assert set(eligible["dtype"]) == {fw.dtype}
    names = list(eligible.index[:: fw.step])
    values = injector.golden_site_values(images, names)
    for name in names:
        assert values[name].shape == (len(images), eligible.loc[name, "size"])
        assert values[name].dtype.name == fw.dtype
    # the same values for any cut of the images (fixed pass shape)
    part = injector.golden_site_values(images[3:5], names[:2])
    for name in names[:2]:
        assert part[name].tobytes() == values[name][3:5].tobytes()
    # a stuck-at-1 sweep changes nothing exactly where the golden value already has the bit; the
    # site is followed by the logits only, so every changed value changes them
    site, image = fw.sweep
    golden_row = injector.golden_site_values(images[image : image + 1], [site])[site][0]
    element = int(np.flatnonzero(golden_row != 0)[0])
    points = pd.DataFrame({"image": [image], "site": [site], "element": [element]})
    results = classify(injector.run(bit_sweep(points, sites, "stuck_at_1"), images, progress=False))
    width = n_bits(fw.dtype)
    golden = int(golden_row[element : element + 1].view({16: np.uint16, 32: np.uint32}[width])[0])
    has_bit = [(golden >> b) & 1 == 1 for b in range(width)]
    assert len(results) == width and any(has_bit) and not all(has_bit)
    assert all(o == "masked" for o, h in zip(results["outcome"], has_bit) if h)
    assert any(o != "masked" for o, h in zip(results["outcome"], has_bit) if not h)


def test_golden_site_values_are_taken_before_the_checker(fw: GoldenSites):
    """With protection, a fault corrupts the layer's own output (before its checker), so the strata
    count that value: the protected injector gives the same golden site values."""
    site = fw.protected
    plain = fw.injector()
    protected = fw.injector(protection=Protection("range_restriction", {site: (0.0, 0.01)}))
    raw = plain.golden_site_values(fw.images, [site])[site]
    checked = protected.golden_site_values(fw.images, [site])[site]
    assert raw.max() > 0.01
    assert raw.tobytes() == checked.tobytes()


def test_a_shards_outcomes_on_the_images_it_uses_are_those_on_all_images(fw: GoldenSites):
    """run_faults takes only the faults' images of lazily preprocessed evaluated images (every
    other image of a raw split here): the same outcomes, bit for bit, as the engine on all of
    them preprocessed at once (docs/semantics.md section 4: no dependence on the other images)."""
    injector = fw.injector()
    sites = injector.sites()
    raw = np.random.default_rng(4).integers(0, 256, fw.images.shape, dtype=np.uint8)
    keep = np.arange(1, len(raw), 2)
    x = PreprocessedRows(raw, keep, "imagenet_mean_std")
    assert x.shape == (len(keep), *raw.shape[1:]) and len(x) == len(keep)
    np.testing.assert_array_equal(x[[2, 0]], preprocess(raw[keep[[2, 0]]], "imagenet_mean_std"))
    every = preprocess(raw[keep], "imagenet_mean_std")
    np.testing.assert_array_equal(np.asarray(x), every)
    faults = draw_activation_faults(
        sites[sites["eligible"]], 60, np.random.default_rng(5), np.array([5, 0, 3])
    )
    lazy = run_faults(injector, faults, sites, x, progress=False)
    full = classify(injector.run(faults, every, progress=False))
    assert sorted(set(lazy["image"])) == [0, 3, 5]
    pd.testing.assert_frame_equal(lazy[full.columns], full)
