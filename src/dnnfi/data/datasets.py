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

from dnnfi.engines.health import key_prefix
from dnnfi.workflow.runlog import Progress

#: where a user gets each kind of local data, for the missing-file messages
DATA_HINTS = {
    "image_folder": "a folder with train/<class>/ and test/<class>/ images",
    "imagenet_folder": "the ILSVRC2012 validation images (image-net.org) sorted into one folder per wnid",
    "cifar_archive": "the official python archive cifar-10-python.tar.gz or cifar-100-python.tar.gz "
    "(www.cs.toronto.edu/~kriz/cifar.html), or use source cifar100_download with a network",
    "gtsrb": "the official GTSRB test set (GTSRB_Final_Test_Images.zip, GTSRB_Final_Test_GT.zip) or training set "
    "(GTSRB_Final_Training_Images.zip) from benchmark.ini.rub.de, unpacked",
}


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def spread_indices(total: int, n: int | None) -> np.ndarray:
    """Indices of ``n`` of ``total`` images evenly spread (every k-th), so that a split stored
    class by class stays balanced; all images when ``n`` is None or not smaller than ``total``."""
    if n is None or n >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))


def evaluated_table(split_path: str | Path, n: int | None):
    """The evaluated images of a campaign: ``image`` (index in the split file ``split_path``) and
    ``label`` of :func:`spread_indices` (``n``: the campaign's ``images``). The workflow computes
    it once per campaign and data set; every job of the campaign reads its images from it."""
    import pandas as pd

    with np.load(split_path) as data:
        labels = data["y"]
    keep = spread_indices(len(labels), n)
    return pd.DataFrame({"image": keep, "label": labels[keep]})


class StoredImages:
    """The images ``x`` of a split file, read from the file by row when indexed: a job holds the
    rows it asks for, not the split (``np.savez`` stores the array uncompressed, so row ``i`` is
    at a fixed offset). ``shape``, ``dtype``, ``len`` and indexing by an int, a slice or an
    array of rows, as the array would."""

    def __init__(self, path: str | Path):
        import struct
        import zipfile

        self.path = Path(path)
        with zipfile.ZipFile(self.path) as archive, archive.open("x.npy") as f:
            info = archive.getinfo("x.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{path}: x is compressed; expected a split written by np.savez")
            version = np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            self.shape, fortran, self.dtype = read(f)
            header = f.tell()
        if fortran:
            raise ValueError(
                f"{path}: x is stored in Fortran order; expected a split written by np.savez"
            )
        with self.path.open("rb") as raw:  # the member's data follows its local file header
            raw.seek(info.header_offset + 26)
            name, extra = struct.unpack("<HH", raw.read(4))
        self.offset = info.header_offset + 30 + name + extra + header
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        rows = np.arange(self.shape[0])[index]
        out = np.empty((np.size(rows), *self.shape[1:]), self.dtype)
        with self.path.open("rb") as f:
            for k, row in enumerate(np.atleast_1d(rows)):
                f.seek(self.offset + int(row) * self.row_bytes)
                out[k] = np.frombuffer(f.read(self.row_bytes), self.dtype).reshape(self.shape[1:])
        return out[0] if np.ndim(rows) == 0 else out


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray
    classes: list[str]

    def save(self, path: str | Path) -> None:
        np.savez(path, x=self.x, y=self.y, classes=np.array(self.classes))

    @classmethod
    def load(cls, path: str | Path) -> Split:
        with np.load(path) as data:
            return cls(data["x"], data["y"], [str(c) for c in data["classes"]])

    def per_class(self, n: int | None) -> Split:
        """The first ``n`` images of each class, in stored order (all when ``n`` is None)."""
        if n is None:
            return self
        keep = np.concatenate([np.flatnonzero(self.y == c)[:n] for c in range(len(self.classes))])
        keep.sort()
        return Split(self.x[keep], self.y[keep], self.classes)

    def spread_indices(self, n: int | None) -> np.ndarray:
        """See :func:`spread_indices`."""
        return spread_indices(len(self.y), n)

    def spread(self, n: int | None) -> Split:
        """The images of :meth:`spread_indices`."""
        keep = self.spread_indices(n)
        return Split(self.x[keep], self.y[keep], self.classes)


def stack_images(images: list[np.ndarray], files: list[Path], where: str) -> np.ndarray:
    """The images as one array; an image of another size than the first stops with a message
    naming ``where`` (e.g. "datasets.cifar: image folder /p/test"), the odd file, the first and
    both sizes (numpy's own error names neither)."""
    if not images:
        raise ValueError(f"{where}: no images ending in {', '.join(sorted(IMAGE_SUFFIXES))}")
    first = images[0].shape
    for image, file in zip(images, files):
        if image.shape != first:
            raise ValueError(
                f"{where}: {file} is {'x'.join(map(str, image.shape))}, the first image {files[0]} "
                f"is {'x'.join(map(str, first))}; resize them to one size"
            )
    return np.stack(images)


def digits(test_fraction: float, seed: int) -> tuple[Split, Split]:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), scaled to [0, 1], stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images[..., None] / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    classes = [str(c) for c in data.target_names]
    return Split(x_tr, y_tr, classes), Split(x_te, y_te, classes)


def image_folder(
    root: str | Path,
    classes: list[str] | None = None,
    limit_per_class: int | None = None,
    key: str | None = None,
) -> Split:
    """Images laid out as ``root/<class>/<file>`` (the torchvision ImageFolder layout) as uint8 RGB.

    ``classes`` fixes the label order (default: sorted folder names). All images must share one
    size. ``limit_per_class`` keeps the first files of each class in sorted name order. ``key``:
    the config key of the data set, for error messages.
    """
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = classes or sorted(p.name for p in root.iterdir() if p.is_dir())
    xs, ys, paths = [], [], []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"class folder missing: {folder}")
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)[
            :limit_per_class
        ]
        for f in files:
            with Image.open(f) as im:
                xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        ys += [label] * len(files)
        paths += files
    x = stack_images(xs, paths, key_prefix(key) + f"image folder {root}")
    return Split(x, np.array(ys, dtype=np.int64), list(classes))


def center_crop_resized(image, crop: int, ratio: float = 1.14286) -> np.ndarray:
    """The TensorFI+ ImageNet preprocessing of one PIL image: shorter side resized (bicubic) to
    round(ratio x crop), then the central crop x crop pixels, as uint8 RGB."""
    from PIL import Image

    image = image.convert("RGB")
    scale = round(ratio * crop) / min(image.size)
    width, height = (max(crop, round(side * scale)) for side in image.size)
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - crop) // 2, (height - crop) // 2
    return np.asarray(image.crop((left, top, left + crop, top + crop)), dtype=np.uint8)


def imagenet_classes(root: Path, tsv: str | Path | None) -> tuple[list[str], list[str]]:
    """wnids and names of the 1,000 ImageNet-1k classes in the standard (sorted wnid) order: from
    a TSV with ``wnid`` and ``name`` columns, or from the folder itself when it has all 1,000."""
    import pandas as pd

    if tsv is None:
        wnids = sorted(p.name for p in root.iterdir() if p.is_dir())
        if len(wnids) != 1000:
            raise ValueError(
                f"{root} has {len(wnids)} class folders, not 1000: give datasets.<name>.classes_tsv "
                "(columns wnid, name in the standard order) to fix the label order"
            )
        return wnids, wnids
    table = pd.read_csv(tsv, sep="\t")
    return table["wnid"].tolist(), table["name"].tolist()


def imagenet_folder(
    root: str | Path,
    classes_tsv: str | Path | None,
    crop: int,
    ratio: float = 1.14286,
    limit: int | None = None,
    key: str | None = None,
) -> Split:
    """An ImageNet validation folder in the ILSVRC layout (``root/<wnid>/<image>``), labels in the
    standard class order (folders may cover only some classes), preprocessed by
    :func:`center_crop_resized`. ``limit`` keeps the first images in sorted path order."""
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ImageNet folder not found: {root}")
    wnids, names = imagenet_classes(root, classes_tsv)
    label = {w: i for i, w in enumerate(wnids)}
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in label)
    if unknown:
        raise ValueError(f"{root}: folders that are not ImageNet-1k wnids: {unknown[:5]}")
    files = sorted(f for f in root.glob("*/*") if f.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    xs = []
    for f in Progress(files, desc="images"):
        with Image.open(f) as im:
            xs.append(center_crop_resized(im, crop, ratio))
    x = stack_images(xs, files, key_prefix(key) + f"ImageNet folder {root}")
    return Split(x, np.array([label[f.parent.name] for f in files], dtype=np.int64), names)


def cifar_archive(path: str | Path, split: str, fine: bool = True) -> Split:
    """CIFAR-10 or CIFAR-100 from the official python archive (``cifar-*-python.tar.gz``)."""
    import pickle
    import tarfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR archive not found: {path}")
    with tarfile.open(path) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers()}
        hundred = "meta" in members and "batches.meta" not in members
        if hundred:
            parts = ["train" if split == "train" else "test"]
            meta = pickle.load(tar.extractfile(members["meta"]), encoding="latin1")
            names = meta["fine_label_names" if fine else "coarse_label_names"]
            key = "fine_labels" if fine else "coarse_labels"
        else:
            parts = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
            names = pickle.load(tar.extractfile(members["batches.meta"]), encoding="latin1")[
                "label_names"
            ]
            key = "labels"
        batches = [pickle.load(tar.extractfile(members[p]), encoding="latin1") for p in parts]
    x = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.concatenate([b[key] for b in batches]).astype(np.int64)
    return Split(np.ascontiguousarray(x, dtype=np.uint8), y, list(names))


def cifar100_download(split: str, classes: list[str]) -> Split:
    """CIFAR-100 (fine labels) through keras.datasets, which downloads and caches the archive
    (needs a network and Keras; ``classes`` gives the names, e.g. from the taxonomy)."""
    import keras

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.cifar100.load_data(label_mode="fine")
    x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
    return Split(x.astype(np.uint8), y.reshape(-1).astype(np.int64), list(classes))


def _gtsrb_images(
    folder: Path, csv: Path, size: int
) -> tuple[list[np.ndarray], list[Path], np.ndarray]:
    """Images of one GTSRB annotation CSV, each cropped to its region of interest and resized."""
    import pandas as pd
    from PIL import Image

    table = pd.read_csv(csv, sep=";").rename(
        columns={"Roi.X1": "x1", "Roi.Y1": "y1", "Roi.X2": "x2", "Roi.Y2": "y2"}
    )
    xs, files = [], [folder / name for name in table["Filename"]]
    for row, file in zip(table.itertuples(), files):
        with Image.open(file) as im:
            roi = im.convert("RGB").crop((row.x1, row.y1, row.x2 + 1, row.y2 + 1))
            xs.append(
                np.asarray(roi.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)
            )
    return xs, files, table["ClassId"].to_numpy(np.int64)


GTSRB_CLASSES = [str(c) for c in range(43)]


def gtsrb_test(images: str | Path, csv: str | Path, size: int, key: str | None = None) -> Split:
    """The official GTSRB test set (``Final_Test/Images`` and ``GT-final_test.csv``), each image
    cropped to its annotated region of interest and resized (bicubic) to size x size."""
    images, csv = Path(images), Path(csv)
    for path in (images, csv):
        if not path.exists():
            raise FileNotFoundError(f"GTSRB file not found: {path}")
    xs, files, y = _gtsrb_images(images, csv, size)
    return Split(
        stack_images(xs, files, key_prefix(key) + f"GTSRB test images {images}"), y, GTSRB_CLASSES
    )


def gtsrb_train(root: str | Path, size: int, key: str | None = None) -> Split:
    """The official GTSRB training set (``Final_Training/Images/<class>/GT-<class>.csv``)."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise FileNotFoundError(f"GTSRB training folders not found under {root}")
    xs, files, ys = [], [], []
    for folder in Progress(folders, desc="classes"):
        x, f, y = _gtsrb_images(folder, folder / f"GT-{folder.name}.csv", size)
        xs += x
        files += f
        ys.append(y)
    x = stack_images(xs, files, key_prefix(key) + f"GTSRB training images {root}")
    return Split(x, np.concatenate(ys), GTSRB_CLASSES)


def inputs_dir() -> Path:
    """The folder of the external images and weights (:data:`dnnfi.data.inputs.MANIFEST`, ``make
    inputs``): ``$DNNFI_INPUTS``, else ``inputs`` in the checkout."""
    return Path(os.environ.get("DNNFI_INPUTS", Path(__file__).resolve().parents[3] / "inputs"))


SPLITS = ("train", "test")


def load_split(spec: dict, split: str, seed: int, key: str | None = None) -> Split:
    """One split of a data set described by a config entry (``datasets.<name>``, see
    config/README.md); ``key`` (e.g. "datasets.cifar10") names it in error messages."""
    source = spec["source"]
    if source == "digits":
        train, test = digits(spec["test_fraction"], seed)
        split_data = train if split == "train" else test
    elif source == "image_folder":
        split_data = image_folder(
            Path(spec["path"]) / split, spec.get("classes"), spec["limit_per_class"], key
        )
    elif source == "imagenet_folder":
        split_data = imagenet_folder(
            spec["path"], spec.get("classes_tsv"), spec["image_size"], spec["resize_ratio"], key=key
        )
    elif source == "cifar_archive":
        split_data = cifar_archive(spec["path"], split)
    elif source == "cifar100_download":
        from dnnfi.analysis.taxonomy import load

        split_data = cifar100_download(split, load(spec["taxonomy"]).classes)
    elif source == "gtsrb" and split == "train":
        split_data = gtsrb_train(spec["train_path"], spec["image_size"], key)
    elif source == "gtsrb":
        split_data = gtsrb_test(spec["path"], spec["csv"], spec["image_size"], key)
    else:
        raise ValueError(f"unknown data set source {source!r}")
    return split_data.per_class(spec["limit_per_class"]).spread(spec.get("limit"))
