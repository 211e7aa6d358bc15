"""Golden site values of the PyTorch engine (what stratified sampling counts and draws from)."""

import numpy as np
import pandas as pd
import torch

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.faults.lists import bit_sweep
from dnnfi.faults.outcomes import classify


def test_golden_site_values_are_the_engines_and_a_bit_sweep_flips_them():
    torch.manual_seed(0)
    model = cifar_resnet(20)
    x = np.random.default_rng(0).standard_normal((20, 32, 32, 3)).astype(np.float32)
    fast, slow = (
        TorchInjector(model, input_shape=(3, 32, 32)),
        TorchInjector(model, input_shape=(3, 32, 32), use_fx=False),
    )
    sites = fast.sites()
    names = list(sites["site"][sites["eligible"]][::7])
    values, again = fast.golden_site_values(x, names), slow.golden_site_values(x, names)
    assert fast.fast and not slow.fast
    for name in names:
        size = int(sites.set_index("site").loc[name, "size"])
        assert values[name].shape == (20, size) and values[name].dtype == np.float32
        assert values[name].view(np.uint32).tolist() == again[name].view(np.uint32).tolist()
    # a stuck-at-1 sweep changes nothing exactly where the golden value already has the bit
    points = pd.DataFrame({"image": [3], "site": [names[1]], "element": [5]})
    results = classify(fast.run(bit_sweep(points, sites, "stuck_at_1"), x, progress=False))
    golden = values[names[1]][3, 5].view(np.uint32)
    has_bit = [(int(golden) >> b) & 1 == 1 for b in range(32)]
    assert any(has_bit) and all(o == "masked" for o, h in zip(results["outcome"], has_bit) if h)
