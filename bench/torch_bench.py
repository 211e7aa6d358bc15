"""Benchmark of the PyTorch engine against PyTorchFI (PyPI ``pytorchfi==0.6.0``), one run.

Activation faults: ResNet50 (224x224, weights=None) and the CIFAR ResNet-20 (32x32), a campaign
of 1,000 (ResNet50) or 3,000 (ResNet-20) single-bit flips (fp32) over 10 images on convolution
outputs (the sites PyTorchFI can address), the same faults for both tools; time per injection =
whole campaign (setup, golden run, injections, outcomes) / injections, and the fault-free time
per image at the best batch size.
The ViT row (torchvision vit_b_16, 224x224, weights=None) does the same on the outputs of its
convolution and linear layers with ``--vit-faults`` faults, and also times our hooks path
(``use_fx=False``), the full forward passes the fast path saves.
Weight faults: VGG19 (weights=None) at frate 5e-5: time to apply and restore one replica with
ours, and for PyTorchFI's ``declare_weight_fi`` to set the same locations and values.

Each campaign runs in a process of its own, which reports its peak memory (resident set on the
CPU, the CUDA allocator's peak on a GPU; ``start_mb``: ours before its campaign, with the
interpreter, torch, the model and the images), ``--repeats`` times per tool (1 by default), the
tools alternating, and the fastest run of each counts (as ``timeit`` does): on a shared machine
slow spells then hit neither tool's figure. PyTorchFI runs the first ``--pytorchfi-faults`` (500:
8 of its 64-fault batches, whose cost does not depend on the faults) of the faults; its time is
per injection. Weight faults: ours split into ``prepare`` (validating
the list, computing the new values: pandas and numpy, once per replica) and applying plus
restoring the prepared values (timed 10x as often: it takes a fraction of a millisecond); the
speedup compares the latter with PyTorchFI's ``declare_weight_fi``, which is given the values.

Protection (``--protection-only`` runs just this row, in about a minute): the engine's fault-free
time per image on the CIFAR ResNet-20 with range restriction / clipping to zero after every ReLU,
relative to the engine unprotected (bench/protection_cost.py).

Usage: ``python bench/torch_bench.py [--pytorchfi-faults N] [--repeats R] [--device D] [--protection-only]
[--vit-faults N] [--only-vit]``
(pytorchfi from requirements-bench.txt, which ``make bench-torch`` installs; ``--device``: ``auto``,
``cpu``, ``cuda`` or ``cuda:N``, both tools on it).
The last line is ``torch overhead_resnet50=<x> speedup_vs_pytorchfi=<y> weight_speedup_vs_pytorchfi=<z>``
where the activation speedup is the smallest of the models'; with ``--only-vit`` it is
``torch overhead_vit_b_16=<x> hooks_overhead_vit_b_16=<h> speedup_vs_pytorchfi=<y>``.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pandas as pd
import torch
import torchvision
from process_memory import memory_mb
from protection_cost import protection_row
from torch import nn

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.engines.torchfi.models import use_device
from dnnfi.engines.torchfi.weights import WeightInjector, weight_sites
from dnnfi.faults.lists import draw_activation_faults, draw_weight_faults
from dnnfi.faults.outcomes import summarize_logits
from dnnfi.faults.seeds import rng_for

#: faults per model (ours), images, and PyTorchFI's share: enough for stable ratios, with
#: ``make bench-torch`` within 15 minutes on a loaded 2-core machine
N_FAULTS = {"resnet50": 1000, "resnet20": 3000, "vit_b_16": 64}
N_IMAGES, N_PYTORCHFI_FAULTS = 10, 500


def pytorchfi_core():
    try:
        from pytorchfi import core
    except ImportError:
        sys.exit(
            "pytorchfi is missing: pip install -r requirements-bench.txt (make bench-torch does)"
        )
    return core


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued kernels (a CUDA call returns before its work is done)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def fault_free_per_image(
    model: nn.Module, shape, device, batch_sizes=(1, 4, 8, 16, 32, 64), seconds=3.0
):
    """Best seconds per image over batch sizes, and that batch size."""
    best = (np.inf, None)
    for b in batch_sizes:
        x = torch.randn(b, *shape, device=device)
        model(x)
        synchronize(device)
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds or n < 2:
            model(x)
            synchronize(device)
            n += 1
        best = min(best, ((time.perf_counter() - start) / n / b, b), key=lambda t: t[0])
    return best


def campaign_faults(model, shape, layer_types, n_faults, seed=0):
    """The same fault list for both tools: layer-uniform over the outputs of ``layer_types`` (the
    layers PyTorchFI numbers, in call order), fp32 bit flips."""
    sites = TorchInjector(model, input_shape=shape).sites()
    fi_layers = {name for name, m in model.named_modules() if isinstance(m, layer_types)}
    fi_sites = sites[sites["layer"].isin(fi_layers) & sites["eligible"]].reset_index(drop=True)
    faults = draw_activation_faults(
        fi_sites, n_faults, rng_for(seed, "bench", shape[-1]), np.arange(N_IMAGES)
    )
    return faults, sites[sites["layer"].isin(fi_layers)].reset_index(drop=True)


def run_ours(model, shape, faults, images, batch_size=256, use_fx=True):
    start = time.perf_counter()
    injector = TorchInjector(model, batch_size=batch_size, input_shape=shape, use_fx=use_fx)
    result = injector.run(faults, images, progress=False)
    assert injector.fast == use_fx, "the fast path fell back to full forward passes"
    return time.perf_counter() - start, result


def _index(value):
    return None if value is None else int(value)


def run_pytorchfi(core, model, shape, faults, conv_sites, images, layer_types, batch_size=64):
    """PyTorchFI's way: per batch of faults (one per row) a corrupted model with its hooks, full forward."""

    class BitFlip(core.fault_injection):
        def flip(self, module, inputs, output):
            sel = [i for i, layer in enumerate(self.corrupt_layer) if layer == self.current_layer]
            if sel:
                dims = (
                    self.corrupt_batch,
                    self.corrupt_dim1,
                    self.corrupt_dim2,
                    self.corrupt_dim3,
                )[: output.dim()]
                idx = tuple(torch.tensor([d[i] for i in sel], device=output.device) for d in dims)
                masks = torch.tensor(
                    [np.int32(np.uint32(1 << int(self.bits[i]))) for i in sel],
                    dtype=torch.int32,
                    device=output.device,
                )
                output[idx] = (output[idx].view(torch.int32) ^ masks).view(torch.float32)
            self.updateLayer()

    start = time.perf_counter()
    fi = BitFlip(
        model,
        batch_size,
        input_shape=list(shape),
        layer_types=list(layer_types),
        use_cuda=images.is_cuda,
    )
    layer_of = {s: i for i, s in enumerate(conv_sites["site"])}
    shapes = dict(zip(conv_sites["site"], conv_sites["shape"]))
    with torch.no_grad():
        golden = model(images).cpu().numpy()
        faulty = []
        for lo in range(0, len(faults), batch_size):
            batch = faults.iloc[lo : lo + batch_size]
            where = [
                np.unravel_index(e, tuple(map(int, shapes[s].split("x")))) + (None,) * 2
                for s, e in zip(batch["site"], batch["element"])
            ]
            fi.bits = batch["bit"].tolist()
            corrupted = fi.declare_neuron_fi(
                batch=list(range(len(batch))),
                layer_num=[layer_of[s] for s in batch["site"]],
                dim1=[int(w[0]) for w in where],
                dim2=[_index(w[1]) for w in where],
                dim3=[_index(w[2]) for w in where],
                function=fi.flip,
            )
            rows = torch.from_numpy(batch["image"].to_numpy(dtype=np.int64, copy=True))
            faulty.append(corrupted(images[rows]).cpu().numpy())
    result = summarize_logits(golden[faults["image"].to_numpy()], np.concatenate(faulty))
    return time.perf_counter() - start, result


#: model -> input shape, layer types whose outputs get the faults (the layers PyTorchFI numbers)
MODELS = {
    "resnet50": ((3, 224, 224), (nn.Conv2d,)),
    "resnet20": ((3, 32, 32), (nn.Conv2d,)),
    "vit_b_16": ((3, 224, 224), (nn.Conv2d, nn.Linear)),
}


def vit_b_16():
    model = torchvision.models.vit_b_16(weights=None)
    nn.init.normal_(
        model.heads.head.weight, std=0.02
    )  # zero-initialized by torchvision: every logit would be 0
    return model


def build(name: str) -> nn.Module:
    """The model ``name`` with random weights, the same in every process."""
    torch.manual_seed(0)
    model = {
        "resnet50": lambda: torchvision.models.resnet50(weights=None),
        "resnet20": lambda: cifar_resnet(20),
        "vit_b_16": vit_b_16,
    }[name]()
    return model.eval()


def campaign(tool: str, name: str, n_faults: int, limit: int, device_name: str):
    """One campaign of ``tool`` (``ours``, ``hooks``: our hooks path, ``pytorchfi``) on the first
    ``limit`` of the ``n_faults`` faults of model ``name``, run in a process of its own: (seconds,
    results, peak memory in MB, memory in MB before the campaign). Memory is the process's
    resident set (interpreter, torch, model, images included), on a GPU the CUDA allocator's."""
    device = use_device(device_name)
    model = build(name).to(device)
    shape, layer_types = MODELS[name]
    torch.manual_seed(0)
    images = torch.randn(N_IMAGES, *shape).to(device)
    faults, fi_sites = campaign_faults(model, shape, layer_types, n_faults)
    faults = faults.iloc[:limit]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / 2**20
    else:
        before = memory_mb("VmRSS")
    if tool == "pytorchfi":
        seconds, result = run_pytorchfi(
            pytorchfi_core(), model, shape, faults, fi_sites, images, layer_types
        )
    else:
        seconds, result = run_ours(model, shape, faults, images, use_fx=tool == "ours")
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = memory_mb("VmHWM")
    return seconds, result, peak, before


def in_own_process(*args):
    """:func:`campaign` in a fresh process, so that each tool's peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(campaign, *args).result()


def activation_rows(name, args, n_faults, hooks=False):
    """One row: fault-free time, ours (and with ``hooks`` our hooks path) and PyTorchFI per
    injection and each one's peak memory."""
    device = use_device(args.device)
    shape, _ = MODELS[name]
    per_image, best_batch = fault_free_per_image(build(name).to(device), shape, device)
    limits = {
        "ours": n_faults,
        "hooks": n_faults,
        "pytorchfi": min(args.pytorchfi_faults, n_faults),
    }
    tools = ["ours", "hooks", "pytorchfi"] if hooks else ["ours", "pytorchfi"]
    seconds, results, peak, start = {}, {}, {}, {}
    for _ in range(
        args.repeats
    ):  # alternating, best of each: a shared machine's slow spells hit both alike
        for tool in tools:
            s, results[tool], p, start[tool] = in_own_process(
                tool, name, n_faults, limits[tool], args.device
            )
            seconds[tool], peak[tool] = min(seconds.get(tool, np.inf), s), max(peak.get(tool, 0), p)
    ours, pfi = results["ours"], results["pytorchfi"]
    agree = (ours["faulty_top1"].to_numpy()[: len(pfi)] == pfi["faulty_top1"].to_numpy()).mean()
    ours_inj, pfi_inj = seconds["ours"] / len(ours), seconds["pytorchfi"] / len(pfi)
    row = {
        "model": name,
        "input": "x".join(map(str, shape)),
        "fault_free_ms_per_image": 1e3 * per_image,
        "best_batch": best_batch,
        "ours_ms_per_injection": 1e3 * ours_inj,
        "ours_injections": len(ours),
        "pytorchfi_ms_per_injection": 1e3 * pfi_inj,
        "pytorchfi_injections": len(pfi),
        "overhead": ours_inj / per_image,
        "speedup_vs_pytorchfi": pfi_inj / ours_inj,
        "same_top1_share": agree,
        "start_mb": start["ours"],
        "ours_peak_mb": peak["ours"],
        "pytorchfi_peak_mb": peak["pytorchfi"],
    }
    if hooks:  # the fast path must give the hooks path's outcomes exactly
        columns = ["golden_top1", "faulty_top1", "finite", "identical"]
        row |= {
            "hooks_ms_per_injection": 1e3 * seconds["hooks"] / len(ours),
            "hooks_overhead": seconds["hooks"] / len(ours) / per_image,
            "hooks_peak_mb": peak["hooks"],
            "same_as_hooks": ours[columns].equals(results["hooks"][columns]),
        }
    return row


def weight_row(core, repeats, device):
    torch.manual_seed(0)
    model = torchvision.models.vgg19(weights=None).eval().to(device)
    injector = WeightInjector(model)
    sites = weight_sites(model)
    start = time.perf_counter()
    faults = draw_weight_faults(sites, np.random.default_rng(0), rate=5e-5, fault_model="random")
    draw_s = time.perf_counter() - start

    prepare_s = min(timeit.repeat(lambda: injector.prepare(faults), number=1, repeat=3 * repeats))
    edits = injector.prepare(faults)

    def apply_and_restore():
        with injector.edited(edits):
            synchronize(device)
        synchronize(device)

    # a replica takes milliseconds: more runs cost nothing
    ours = min(timeit.repeat(apply_and_restore, number=1, repeat=10 * repeats))
    params = dict(model.named_parameters())
    names = sites["site"].tolist()
    with injector.applied(faults):
        expected = {n: params[n].detach().clone() for n in names}
    values = [expected[p].reshape(-1)[e].item() for p, e in zip(faults["site"], faults["element"])]
    fi = core.fault_injection(
        model,
        1,
        input_shape=[3, 224, 224],
        layer_types=[nn.Conv2d, nn.Linear],
        use_cuda=device.type == "cuda",
    )
    where = [
        np.unravel_index(e, params[p].shape) + (None,) * (4 - params[p].dim())
        for p, e in zip(faults["site"], faults["element"])
    ]

    def declare():
        return fi.declare_weight_fi(
            layer_num=[names.index(p) for p in faults["site"]],
            k=[int(w[0]) for w in where],
            dim1=[int(w[1]) for w in where],
            dim2=[None if w[2] is None else int(w[2]) for w in where],
            dim3=[None if w[3] is None else int(w[3]) for w in where],
            value=values,
        )

    pfi_s = min(timeit.repeat(declare, number=1, repeat=repeats))
    corrupted = declare()
    got = dict(corrupted.named_parameters())
    same = all(torch.equal(got[n], expected[n]) for n in names)
    return {
        "model": "vgg19",
        "faults": len(faults),
        "ours_draw_ms": 1e3 * draw_s,
        "ours_prepare_ms": 1e3 * prepare_s,
        "ours_apply_restore_ms": 1e3 * ours,
        "pytorchfi_declare_ms": 1e3 * pfi_s,
        "same_weights": same,
        "speedup_vs_pytorchfi": pfi_s / ours,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pytorchfi-faults",
        type=int,
        default=N_PYTORCHFI_FAULTS,
        help="faults PyTorchFI runs per model (a prefix of ours; its time is per injection)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="campaigns per tool and model, alternating; the fastest of each counts",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (the first GPU, else the CPU), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--protection-only", action="store_true", help="only the protection cost row"
    )
    parser.add_argument(
        "--vit-faults", type=int, default=N_FAULTS["vit_b_16"], help="faults of the ViT row"
    )
    parser.add_argument("--only-vit", action="store_true", help="run the ViT row only")
    args = parser.parse_args()
    if args.repeats < 1 or args.pytorchfi_faults < 1 or args.vit_faults < 1:
        parser.error("--repeats, --pytorchfi-faults and --vit-faults must be at least 1")
    device = use_device(args.device)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(
        f"device={device}{gpu} threads={torch.get_num_threads()} torch={torch.__version__}",
        flush=True,
    )
    if not args.only_vit:
        torch.manual_seed(0)
        resnet20 = cifar_resnet(20).eval()
        protection = pd.DataFrame(
            [
                protection_row(
                    "resnet20",
                    lambda protection=None: TorchInjector(
                        resnet20, input_shape=(3, 32, 32), device=device, protection=protection
                    ),
                    torch.randn(64, 3, 32, 32),
                    torch.randn(256, 3, 32, 32),
                    max(args.repeats, 3),
                )
            ]
        )
        print(protection.round(3).to_string(index=False), flush=True)
    if args.protection_only:
        return
    core = pytorchfi_core()
    if args.only_vit:
        vit = activation_rows("vit_b_16", args, args.vit_faults, hooks=True)
        print(pd.DataFrame([vit]).round(3).to_string(index=False))
        print(
            f"torch overhead_vit_b_16={vit['overhead']:.3f} hooks_overhead_vit_b_16={vit['hooks_overhead']:.3f} "
            f"speedup_vs_pytorchfi={vit['speedup_vs_pytorchfi']:.2f}"
        )
        return
    rows = []
    for name, n_faults in [
        ("resnet50", N_FAULTS["resnet50"]),
        ("resnet20", N_FAULTS["resnet20"]),
        ("vit_b_16", args.vit_faults),
    ]:
        rows.append(activation_rows(name, args, n_faults, hooks=name == "vit_b_16"))
        print(
            pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True
        )  # each row as it comes
    acts = pd.DataFrame(rows)
    print(acts.round(3).to_string(index=False))
    weights = pd.DataFrame([weight_row(core, args.repeats, device)])
    print(weights.round(3).to_string(index=False))
    overhead = acts.loc[acts["model"] == "resnet50", "overhead"].item()
    print(
        f"torch overhead_resnet50={overhead:.3f} speedup_vs_pytorchfi={acts['speedup_vs_pytorchfi'].min():.2f} "
        f"weight_speedup_vs_pytorchfi={weights['speedup_vs_pytorchfi'].item():.1f}"
    )


if __name__ == "__main__":
    main()
