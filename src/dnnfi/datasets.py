"""Data sets as arrays: images NHWC, integer labels and class names, stored as ``.npz``.

Every source produces the same three arrays so that rules and engines never care where the
images came from: ``x`` (n, height, width, channels; uint8 pixels, or float32 for the digits
demo), ``y`` (n,) int64 labels and ``classes`` (class names in label order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray
    classes: list[str]

    def save(self, path: str | Path) -> None:
        np.savez(path, x=self.x, y=self.y, classes=np.array(self.classes))

    @classmethod
    def load(cls, path: str | Path) -> "Split":
        with np.load(path) as data:
            return cls(data["x"], data["y"], [str(c) for c in data["classes"]])

    def per_class(self, n: int | None) -> "Split":
        """The first ``n`` images of each class, in stored order (all when ``n`` is None)."""
        if n is None:
            return self
        keep = np.concatenate([np.flatnonzero(self.y == c)[:n] for c in range(len(self.classes))])
        keep.sort()
        return Split(self.x[keep], self.y[keep], self.classes)

    def head(self, n: int | None) -> "Split":
        """The first ``n`` images (all when ``n`` is None)."""
        return self if n is None else Split(self.x[:n], self.y[:n], self.classes)


def digits(test_fraction: float, seed: int) -> tuple[Split, Split]:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), scaled to [0, 1], stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images[..., None] / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    classes = [str(c) for c in data.target_names]
    return Split(x_tr, y_tr, classes), Split(x_te, y_te, classes)


def image_folder(root: str | Path, classes: list[str] | None = None, limit_per_class: int | None = None) -> Split:
    """Images laid out as ``root/<class>/<file>`` (the torchvision ImageFolder layout) as uint8 RGB.

    ``classes`` fixes the label order (default: sorted folder names). All images must share one
    size. ``limit_per_class`` keeps the first files of each class in sorted name order.
    """
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = classes or sorted(p.name for p in root.iterdir() if p.is_dir())
    xs, ys = [], []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"class folder missing: {folder}")
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)[:limit_per_class]
        for f in files:
            with Image.open(f) as im:
                xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        ys += [label] * len(files)
    return Split(np.stack(xs), np.array(ys, dtype=np.int64), list(classes))


def shared_dir() -> Path:
    """The shared data/model folder: ``$DNNFI_SHARED`` or ``../shared`` beside the repository."""
    return Path(os.environ.get("DNNFI_SHARED", Path(__file__).resolve().parents[3] / "shared"))
