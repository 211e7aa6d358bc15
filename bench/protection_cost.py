"""Cost of protection for both benchmarks: an engine's fault-free time per image with each
protection method (docs/semantics.md, section 12) relative to the same engine unprotected, on
the same images, in one run (best of ``repeats``, methods and the unprotected run interleaved)."""

from __future__ import annotations

import time

from dnnfi.engines.protection import METHODS, Protection


def protection_row(
    name: str, make_injector, profile, images, repeats: int = 3, layers: str = "activations"
) -> dict:
    """``make_injector(protection=None)`` builds the framework's injector; bounds are profiled on
    ``profile``; times are of ``golden_logits(images)`` (the engine's fixed pass shape)."""
    plain = make_injector()
    protection = {
        m: Protection.from_bounds(m, layers, plain.ranges(profile), plain.sites()) for m in METHODS
    }
    injectors = {"unprotected": plain} | {m: make_injector(protection[m]) for m in METHODS}
    best = dict.fromkeys(injectors, float("inf"))
    for injector in injectors.values():
        injector.golden_logits(images[:2])  # setup, tracing
    for _ in range(repeats):
        for key, injector in injectors.items():
            start = time.perf_counter()
            injector.golden_logits(images)
            best[key] = min(best[key], time.perf_counter() - start)
    row = {
        "model": name,
        "protected_sites": len(protection[METHODS[0]].limits),
        "unprotected_ms_per_image": 1e3 * best["unprotected"] / len(images),
    }
    return row | {f"{m}_relative": best[m] / best["unprotected"] for m in METHODS}
