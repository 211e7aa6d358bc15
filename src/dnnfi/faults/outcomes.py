"""Outcome of one injection against the golden run of the same image (docs/semantics.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

OUTCOMES = ("masked", "benign", "sdc", "due")


def top_k(logits: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of the ``k`` largest logits per row, best first; shapes (n, k)."""
    logits = np.asarray(logits, dtype=np.float64)
    k = min(k, logits.shape[1])
    # NaN would sort first with argsort on -x; rank it last so labels stay well defined
    ranked = np.where(np.isnan(logits), -np.inf, logits)
    labels = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    return labels, np.take_along_axis(logits, labels, axis=1)


def summarize_logits(golden: np.ndarray, faulty: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Per-injection results from golden and faulty logits of shape (n, classes).

    Columns: ``golden_top1``, ``faulty_top1``, ``faulty_top5`` (list), ``faulty_top5_score``
    (list), ``finite`` (no NaN/Inf in the faulty logits), ``identical`` (logits bit-identical).
    """
    golden = np.asarray(golden)
    faulty = np.asarray(faulty)
    labels, scores = top_k(faulty, k)
    return pd.DataFrame(
        {
            "golden_top1": np.argmax(golden, axis=1),
            "faulty_top1": labels[:, 0],
            "faulty_top5": list(labels),
            "faulty_top5_score": list(scores),
            "finite": np.isfinite(faulty).all(axis=1),
            "identical": (golden.view(np.uint8) == faulty.view(np.uint8)).all(
                axis=1
            ),  # (n, bytes per row)
        }
    )


def classify(results: pd.DataFrame) -> pd.DataFrame:
    """Add ``outcome`` (masked, benign, sdc or due) and the ``sdc_top5`` flag.

    ``due``: any NaN/Inf in the output; ``masked``: logits bit-identical to the golden ones;
    ``sdc``: top-1 differs from the golden top-1; ``benign``: same top-1, finite, not identical;
    ``sdc_top5``: golden top-1 missing from the faulty top-5 (finite outputs only).
    """
    out = results.copy()
    finite = out["finite"].to_numpy(bool)
    identical = out["identical"].to_numpy(bool)
    changed = out["faulty_top1"].to_numpy() != out["golden_top1"].to_numpy()
    outcome = np.select([~finite, identical, changed], ["due", "masked", "sdc"], "benign")
    out["outcome"] = pd.Categorical(outcome, categories=OUTCOMES)
    in_top5 = [g in set(t) for g, t in zip(out["golden_top1"], out["faulty_top5"])]
    out["sdc_top5"] = finite & ~np.asarray(in_top5, dtype=bool)
    return out


def baseline_table(logits: np.ndarray, labels: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Fault-free result per image: label, golden top-k labels, softmax confidence, correctness."""
    from scipy.special import softmax

    top, _ = top_k(logits, k)
    return pd.DataFrame(
        {
            "image": np.arange(len(labels)),
            "label": labels,
            "golden_top1": top[:, 0],
            "golden_top5": list(top),
            "confidence": softmax(np.asarray(logits, dtype=np.float64), axis=1).max(axis=1),
            "correct": top[:, 0] == labels,
            "top5_correct": (top == labels[:, None]).any(axis=1),
        }
    )


def error_rates(top5: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Top-1 and top-5 error (shares in [0, 1]) from the top-5 labels per image, shape (n, 5)."""
    top5 = np.asarray(top5)
    return float(np.mean(top5[:, 0] != labels)), float(
        np.mean(~(top5 == labels[:, None]).any(axis=1))
    )
