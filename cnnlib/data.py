"""Datasets and loaders: CIFAR-10 in memory on the training device, larger sets through torchvision.

CIFAR-10 (:func:`load_cifar10`) is looked for, in this order, in the directory given as argument
(or ``--data-dir``), then in ``$CNNLIB_DATA``, then in the download directory; each may hold

1. torchvision's ``cifar-10-batches-py/`` (the original pickled batches),
2. an image-folder copy, ``train/<class>/*`` and ``test/<class>/*`` (PNG or JPEG), or
3. a zip holding such a folder (for example ``cifar10-jpeg.zip`` with a top folder
   ``cifar10-jpeg/``);

and only then is it downloaded through ``torchvision.datasets.CIFAR10(download=True)``. If all of
these fail, :class:`DataNotFoundError` names every place and how to fix it. The images are decoded
once into uint8 tensors and cached (beside the data where that directory is writable, else in
``$CNNLIB_CACHE`` or ``~/.cache/cnnlib``), keyed by a fingerprint of the source, so that later
loads take well under a second and a changed source is decoded again.

A lossy copy is never passed off as the original: a JPEG copy is named "CIFAR-10 (JPEG copy)".

:class:`DeviceLoader` keeps a small dataset on the training device as uint8 and builds each batch
there: a seeded shuffle per epoch, random crop with zero padding and horizontal flip applied to the
whole batch at once, normalisation, optionally channels_last. Its position can be saved and
restored for exact resume, and under ``torch.distributed`` each rank takes a disjoint shard.

Data too large for memory (Imagenette, :func:`load_imagenette`) takes the standard path:
a torchvision ``Dataset`` with PIL transforms and a ``DataLoader`` (:class:`EpochDataLoader`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DataNotFoundError",
    "DataSource",
    "DeviceLoader",
    "EpochDataLoader",
    "ImageTensorDataset",
    "atomic_write",
    "balanced_indices",
    "cache_dir",
    "cifar10_loaders",
    "describe_cifar10_source",
    "find_cifar10",
    "imagenet_transforms",
    "load_cifar10",
    "load_image_folder",
    "load_imagenette",
    "dataset_labels",
    "random_crop_flip",
    "subset_dataset",
    "synthetic_cifar10",
]

#: The CIFAR-10 classes, in the order of the official labels (alphabetical, as ImageFolder).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: Per-channel mean and standard deviation of the CIFAR-10 training images (in [0, 1]).
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
#: The ImageNet statistics torchvision's models use.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

DATA_ENV = "CNNLIB_DATA"
CACHE_ENV = "CNNLIB_CACHE"
_CACHE_VERSION = 1
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_BATCH_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")


class DataNotFoundError(FileNotFoundError):
    """The dataset was found nowhere; the message lists every place looked at and the fix."""


# --------------------------------------------------------------------------------------------
# In-memory datasets
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class ImageTensorDataset(Dataset):
    """Images as one uint8 tensor ``(N, 3, H, W)`` with int64 labels ``(N,)``.

    ``name`` is what users are shown ("CIFAR-10 (JPEG copy)"), ``source`` where it came from
    without any absolute path ("cifar10-jpeg.zip"). Indexing returns ``(uint8 image, label)``, so
    the set also works with a standard ``DataLoader``; :class:`DeviceLoader` is the fast path.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...] = CIFAR10_CLASSES
    name: str = "CIFAR-10"
    source: str = ""
    split: str = "train"
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be a uint8 tensor (N, C, H, W); got {self.images.dtype} "
                f"of shape {tuple(self.images.shape)}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},); got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, split={self.split!r}, size={len(self)}, "
            f"image_shape={tuple(self.images.shape[1:])}, source={self.source!r})"
        )

    def class_counts(self) -> list[int]:
        """Images per class, in class order."""
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def subset(
        self, per_class: int | None = None, *, total: int | None = None, seed: int = 0
    ) -> ImageTensorDataset:
        """A deterministic class-balanced subset: ``per_class`` images of each class, or
        ``total`` images spread as evenly as possible (see :func:`balanced_indices`)."""
        if per_class is None and total is None:
            return self
        if total is not None:
            if per_class is not None:
                raise ValueError("give per_class or total, not both")
            counts = _spread(total, len(self.classes))
        else:
            counts = [per_class] * len(self.classes)
        index = balanced_indices(self.labels, counts, seed=seed)
        return ImageTensorDataset(
            self.images[index],
            self.labels[index],
            classes=self.classes,
            name=self.name,
            source=self.source,
            split=self.split,
            mean=self.mean,
            std=self.std,
            info={**self.info, "subset_of": len(self), "subset_seed": seed},
        )


def _spread(total: int, num_classes: int) -> list[int]:
    if total < num_classes:
        raise ValueError(
            f"a class-balanced subset needs at least one image per class: got {total} images "
            f"for {num_classes} classes"
        )
    base, extra = divmod(total, num_classes)
    return [base + (1 if c < extra else 0) for c in range(num_classes)]


def balanced_indices(labels: Tensor, per_class: int | Sequence[int], seed: int = 0) -> Tensor:
    """Indices of a deterministic class-balanced subset, in dataset order.

    Each class's images are shuffled by a generator seeded with ``seed`` and the first
    ``per_class`` taken, so a smaller subset is contained in a larger one of the same seed.
    """
    labels = torch.as_tensor(labels).cpu()
    num_classes = int(labels.max()) + 1 if labels.numel() else 0
    counts = [per_class] * num_classes if isinstance(per_class, int) else list(per_class)
    chosen = []
    for c, k in enumerate(counts):
        members = torch.nonzero(labels == c).flatten()
        if k > len(members):
            raise ValueError(
                f"class {c} has {len(members)} images; a subset of {k} per class was asked for"
            )
        g = torch.Generator().manual_seed(seed * 1000 + c)
        chosen.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(chosen).sort().values if chosen else torch.empty(0, dtype=torch.long)


def synthetic_cifar10(
    train_per_class: int = 20, test_per_class: int = 10, *, seed: int = 0, image_size: int = 32
) -> tuple[ImageTensorDataset, ImageTensorDataset]:
    """A small learnable CIFAR-shaped set (for the smoke profile when no real data is found).

    Each class has a fixed smooth colour pattern; an image is its class pattern, shifted by up to
    4 pixels, with pixel noise. A small CNN learns it within a few epochs.
    """
    g = torch.Generator().manual_seed(10_007 + seed)
    coarse = torch.randn(len(CIFAR10_CLASSES), 3, 4, 4, generator=g)
    patterns = F.interpolate(coarse, size=(image_size, image_size), mode="bicubic")
    patterns = 128 + 60 * patterns / patterns.abs().amax(dim=(1, 2, 3), keepdim=True)

    def make(per_class: int, split: str) -> ImageTensorDataset:
        labels = torch.arange(len(CIFAR10_CLASSES)).repeat_interleave(per_class)
        images = patterns[labels].clone()
        shifts = torch.randint(-4, 5, (len(labels), 2), generator=g)
        for i, (dy, dx) in enumerate(shifts.tolist()):
            images[i] = images[i].roll((dy, dx), dims=(1, 2))
        images += 25 * torch.randn(images.shape, generator=g)
        return ImageTensorDataset(
            images.round().clamp(0, 255).to(torch.uint8),
            labels,
            name="synthetic CIFAR-shaped data",
            source="synthetic (no real data found)",
            split=split,
            mean=(0.5, 0.5, 0.5),
            std=(0.25, 0.25, 0.25),
        )

    return make(train_per_class, "train"), make(test_per_class, "test")


# --------------------------------------------------------------------------------------------
# Finding CIFAR-10
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """Where CIFAR-10 was found: ``kind`` is ``"torchvision"`` (``cifar-10-batches-py``),
    ``"folder"`` or ``"zip"``; ``prefix`` is the folder inside a zip (``"cifar10-jpeg/"``)."""

    kind: str
    path: Path
    prefix: str = ""
    format: str = ""  # "jpeg", "png" or "mixed" for image copies

    @property
    def name(self) -> str:
        """What users are shown: the original, or which kind of copy."""
        if self.kind == "torchvision":
            return "CIFAR-10"
        return {
            "jpeg": "CIFAR-10 (JPEG copy)",
            "png": "CIFAR-10 (PNG copy)",
        }.get(self.format, "CIFAR-10 (image-folder copy)")

    @property
    def label(self) -> str:
        """Where it came from, without the machine's absolute path."""
        if self.kind == "torchvision":
            return "cifar-10-batches-py (torchvision)"
        if self.kind == "zip":
            return f"{self.path.name} (zip of an image folder)"
        return f"{self.path.name}/ (image folder)"


def cache_dir() -> Path:
    """The fallback cache directory: ``$CNNLIB_CACHE``, else ``$XDG_CACHE_HOME/cnnlib``, else
    ``~/.cache/cnnlib``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cnnlib"


def _download_root() -> Path:
    return cache_dir() / "data"


def _is_writable_dir(path: Path) -> bool:
    """Writable for us *and* meant to be written: root ignores permission bits, so a directory
    whose mode has no write bit (a shared read-only copy) counts as read-only too."""
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and bool(st.st_mode & 0o222) and os.access(path, os.W_OK)


def _folder_format(suffixes: set[str]) -> str:
    suffixes = {".jpg" if s == ".jpeg" else s for s in suffixes}
    if suffixes == {".jpg"}:
        return "jpeg"
    if suffixes == {".png"}:
        return "png"
    return "mixed"


def _has_class_dirs(split_dir: Path) -> bool:
    return split_dir.is_dir() and any(p.is_dir() for p in split_dir.iterdir())


def _image_folder_at(path: Path) -> DataSource | None:
    if not (_has_class_dirs(path / "train") and _has_class_dirs(path / "test")):
        return None
    class_dirs = sorted(p for p in (path / "train").iterdir() if p.is_dir())
    first = next((f for f in sorted(class_dirs[0].iterdir()) if f.is_file()), None)
    fmt = _folder_format({first.suffix.lower()}) if first is not None else "mixed"
    return DataSource("folder", path, format=fmt)


_ZIP_SPLIT = re.compile(r"^(?P<prefix>(?:[^/]+/)*?)(?P<split>train|test)/(?P<cls>[^/]+)/[^/]+$")


_ZIP_MEMO: dict[tuple[str, int, int], tuple[list[str], str]] = {}


def _zip_index(path: Path) -> tuple[list[str], str]:
    """Member names of a zip and a sha256 of its central directory (names, CRC-32s, sizes).

    Reading the central directory directly is several times faster than ``zipfile.ZipFile``
    for 60,000 members, which keeps a cached load well under 2 seconds. Falls back to
    ``zipfile`` for anything unusual. Memoised per process by (path, size, mtime).
    """
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key in _ZIP_MEMO:
        return _ZIP_MEMO[memo_key]
    try:
        result = _read_central_directory(path, st.st_size)
    except (ValueError, struct.error):
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        h = hashlib.sha256()
        for info in infos:
            h.update(f"{info.filename}|{info.CRC}|{info.file_size}\n".encode())
        result = ([i.filename for i in infos], h.hexdigest())
    _ZIP_MEMO[memo_key] = result
    return result


def _read_central_directory(path: Path, size: int) -> tuple[list[str], str]:
    with open(path, "rb") as f:
        tail_len = min(size, 65_535 + 22)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        eocd = tail.rfind(b"PK\x05\x06")
        if eocd < 0:
            raise ValueError("no end-of-central-directory record")
        _, _, _, _, n_total, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2LH", tail, eocd)
        eocd_pos = size - tail_len + eocd
        if n_total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
            raise ValueError("zip64: left to zipfile")
        start = eocd_pos - cd_size  # also right for zips with data prepended
        f.seek(start)
        cd = f.read(cd_size)
    names = []
    pos = 0
    for _ in range(n_total):
        if cd[pos : pos + 4] != b"PK\x01\x02":
            raise ValueError("bad central directory record")
        flags = struct.unpack_from("<H", cd, pos + 8)[0]
        n_len, e_len, c_len = struct.unpack_from("<3H", cd, pos + 28)
        raw = cd[pos + 46 : pos + 46 + n_len]
        names.append(raw.decode("utf-8" if flags & 0x800 else "cp437"))
        pos += 46 + n_len + e_len + c_len
    return names, hashlib.sha256(cd).hexdigest()


def _zip_layout(path: Path) -> DataSource | None:
    """The image folder inside a zip, if it holds ``[top/]train/<class>/*`` and ``test/``."""
    try:
        names, _ = _zip_index(path)
    except (OSError, zipfile.BadZipFile):
        return None
    prefixes: dict[str, set[str]] = {}
    suffixes: set[str] = set()
    for n in names:
        m = _ZIP_SPLIT.match(n)
        if m and n.lower().endswith(_IMAGE_EXTENSIONS):
            prefixes.setdefault(m["prefix"], set()).add(m["split"])
            if len(suffixes) < 3:
                suffixes.add(os.path.splitext(n)[1].lower())
    for prefix, splits in sorted(prefixes.items()):
        if splits == {"train", "test"}:
            return DataSource("zip", path, prefix=prefix, format=_folder_format(suffixes))
    return None


def _look_in(path: Path) -> tuple[DataSource | None, str]:
    """Look for CIFAR-10 at ``path``; return it, or why not."""
    if not path.exists():
        return None, "does not exist"
    if path.is_file():
        if path.suffix.lower() == ".zip":
            found = _zip_layout(path)
            return found, "" if found else "is a zip without train/<class>/ and test/<class>/"
        return None, "is a file, not a directory or a zip"
    for candidate in (path, path / "cifar-10-batches-py"):
        if candidate.name == "cifar-10-batches-py" and (candidate / "data_batch_1").is_file():
            return DataSource("torchvision", candidate.parent), ""
    found = _image_folder_at(path)
    if found:
        return found, ""
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    for sub in subdirs:
        found = _image_folder_at(sub)
        if found:
            return found, ""
    for zpath in sorted(path.glob("*.zip")):
        found = _zip_layout(zpath)
        if found:
            return found, ""
    return None, (
        "holds no cifar-10-batches-py/, no train/ and test/ image folders, and no zip holding them"
    )


def _places(root: str | os.PathLike | None) -> list[tuple[str, Path | None]]:
    places: list[tuple[str, Path | None]] = []
    if root is not None:
        places.append(("argument (--data-dir / root=)", Path(root).expanduser()))
    env = os.environ.get(DATA_ENV)
    places.append((f"${DATA_ENV}", Path(env).expanduser() if env else None))
    places.append(("download directory", _download_root()))
    return places


def find_cifar10(root: str | os.PathLike | None = None) -> DataSource | None:
    """Where CIFAR-10 is, without decoding or downloading anything (``None`` if nowhere)."""
    found, _ = _find(root)
    return found


def _find(root: str | os.PathLike | None) -> tuple[DataSource | None, list[str]]:
    report = []
    for what, path in _places(root):
        if path is None:
            report.append(f"{what}: not set")
            continue
        found, why = _look_in(path)
        if found:
            return found, report
        report.append(f"{what}: {path} {why}")
    return None, report


def describe_cifar10_source(root: str | os.PathLike | None = None) -> str:
    """A one-line description of the CIFAR-10 that :func:`load_cifar10` would read."""
    found = find_cifar10(root)
    if found is None:
        return "CIFAR-10 not found locally (will try torchvision's download)"
    return f"{found.name} from {found.label}"


# --------------------------------------------------------------------------------------------
# Decoding and caching
# --------------------------------------------------------------------------------------------


def _fingerprint(src: DataSource) -> str:
    """A key that changes whenever the source's content (or its files' sizes/times) change."""
    h = hashlib.sha256(f"cnnlib-cifar10-cache-v{_CACHE_VERSION}|{src.kind}|{src.prefix}".encode())
    if src.kind == "zip":
        h.update(_zip_index(src.path)[1].encode())  # covers every member's name, CRC and size
    else:
        base = src.path / "cifar-10-batches-py" if src.kind == "torchvision" else src.path
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                p = Path(dirpath, name)
                st = p.stat()
                h.update(f"{p.relative_to(base)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cache_files(src: DataSource) -> list[Path]:
    """Where the decoded tensors are cached: beside the data if writable, else the cache dir."""
    ident = hashlib.sha256(str(src.path.resolve()).encode() + src.prefix.encode()).hexdigest()
    stem = src.path.stem if src.kind != "torchvision" else "cifar-10-batches-py"
    fname = f"{stem}.{src.kind}.{ident[:12]}.cnnlib.pt"
    beside = src.path.parent if src.path.is_file() else src.path
    places = []
    if _is_writable_dir(beside):
        places.append(beside / ".cnnlib-cache" / fname)
    places.append(cache_dir() / "decoded" / fname)
    return places


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Any, mode: str = "wb") -> None:
    """Write ``path`` through ``write(file)`` into a temporary file beside it, then
    ``os.replace`` it: readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def _read_cache(paths: list[Path], key: str) -> dict[str, Any] | None:
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - a broken cache is re-decoded, not fatal
            continue
        if isinstance(data, dict) and data.get("key") == key:
            return data
    return None


def _write_cache(paths: list[Path], data: dict[str, Any]) -> Path | None:
    for path in paths:
        try:
            _atomic_torch_save(data, path)
            return path
        except OSError:
            continue
    warnings.warn(f"could not write the decoded-data cache to any of {paths}", stacklevel=3)
    return None


def _decoder() -> Any:
    """``decode(blobs, names) -> list of (3, H, W) uint8 tensors``: torchvision.io's decoders
    (JPEGs in one batched call, several times faster than PIL), else PIL."""
    try:
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg
    except ImportError:  # pragma: no cover - torchvision.io's decoders may go (TorchCodec)
        decode_jpeg = None

    def with_torchvision(blobs: list[bytes], names: list[str]) -> list[Tensor]:
        tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its decoders in favour of TorchCodec; they still work
            warnings.simplefilter("ignore", DeprecationWarning)
            if all(n.lower().endswith((".jpg", ".jpeg")) for n in names):
                return list(decode_jpeg(tensors, mode=ImageReadMode.RGB))
            return [decode_image(t, mode=ImageReadMode.RGB) for t in tensors]

    def with_pil(blobs: list[bytes], names: list[str]) -> list[Tensor]:
        import numpy as np
        from PIL import Image

        return [
            torch.from_numpy(np.array(Image.open(io.BytesIO(b)).convert("RGB"))).permute(2, 0, 1)
            for b in blobs
        ]

    return with_torchvision if decode_jpeg is not None else with_pil


def _decode_many(blobs: list[bytes], names: list[str], progress: bool, desc: str) -> Tensor:
    """Decode encoded images into one uint8 tensor (N, 3, 32, 32), with a progress bar."""
    decode = _decoder()
    out = torch.empty((len(blobs), 3, 32, 32), dtype=torch.uint8)
    chunk = 2000
    with tqdm(total=len(blobs), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, len(blobs), chunk):
            part_names = names[start : start + chunk]
            images = decode(blobs[start : start + chunk], part_names)
            for i, (img, name) in enumerate(zip(images, part_names, strict=True)):
                if img.shape != (3, 32, 32):
                    raise ValueError(
                        f"{name}: expected a 32x32 RGB CIFAR-10 image, got shape "
                        f"{tuple(img.shape)} (channels, height, width)"
                    )
                out[start + i] = img
            bar.update(len(part_names))
    return out


def _check_classes(found: Sequence[str], where: str) -> None:
    if tuple(found) != CIFAR10_CLASSES:
        raise ValueError(
            f"{where}: expected the 10 CIFAR-10 class folders {list(CIFAR10_CLASSES)}, "
            f"found {list(found)}"
        )


def _decode_image_copy(src: DataSource, progress: bool) -> dict[str, Any]:
    """Decode a folder or zip copy: {split: (images, labels)}."""
    entries: dict[str, list[tuple[int, str]]] = {"train": [], "test": []}
    zf = zipfile.ZipFile(src.path) if src.kind == "zip" else None
    try:
        if zf is not None:
            classes: dict[str, set[str]] = {"train": set(), "test": set()}
            for name in zf.namelist():
                if not name.startswith(src.prefix) or not name.lower().endswith(_IMAGE_EXTENSIONS):
                    continue
                m = _ZIP_SPLIT.match(name[len(src.prefix) :])
                if m and not m["prefix"]:
                    classes[m["split"]].add(m["cls"])
                    entries[m["split"]].append((m["cls"], name))
        else:
            classes = {}
            for split in entries:
                split_dir = src.path / split
                classes[split] = {p.name for p in split_dir.iterdir() if p.is_dir()}
                for cls in classes[split]:
                    for p in (split_dir / cls).iterdir():
                        if p.suffix.lower() in _IMAGE_EXTENSIONS:
                            entries[split].append((cls, str(p)))
        result: dict[str, Any] = {}
        for split, items in entries.items():
            _check_classes(sorted(classes[split]), f"{src.label}, {split}/")
            items.sort(key=lambda item: (CIFAR10_CLASSES.index(item[0]), item[1]))
            names = [n for _, n in items]
            if zf is not None:
                blobs = [zf.read(n) for n in names]
            else:
                blobs = [Path(n).read_bytes() for n in names]
            images = _decode_many(blobs, names, progress, f"decoding {src.name} {split}")
            labels = torch.tensor([CIFAR10_CLASSES.index(c) for c, _ in items], dtype=torch.long)
            result[split] = (images, labels)
        return result
    finally:
        if zf is not None:
            zf.close()


def _decode_torchvision(root: Path) -> dict[str, Any]:
    import torchvision

    result = {}
    for split in ("train", "test"):
        ds = torchvision.datasets.CIFAR10(str(root), train=split == "train", download=False)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        result[split] = (images, torch.tensor(ds.targets, dtype=torch.long))
    return result


def _load_source(src: DataSource, progress: bool) -> tuple[dict[str, Any], str]:
    """The decoded tensors of ``src``, from the cache when it is fresh. Returns (data, how)."""
    key = _fingerprint(src)
    paths = _cache_files(src)
    cached = _read_cache(paths, key)
    if cached is not None:
        return cached, "cache"
    if src.kind == "torchvision":
        splits = _decode_torchvision(src.path)
    else:
        splits = _decode_image_copy(src, progress)
    data = {
        "key": key,
        "version": _CACHE_VERSION,
        "name": src.name,
        "source": src.label,
        "train_images": splits["train"][0],
        "train_labels": splits["train"][1],
        "test_images": splits["test"][0],
        "test_labels": splits["test"][1],
    }
    _write_cache(paths, data)
    return data, "decoded"


def _download(root: str | os.PathLike | None, progress: bool) -> tuple[DataSource | None, str]:
    import torchvision

    target = Path(root).expanduser() if root is not None else None
    if target is None or not _is_writable_dir(target):
        target = _download_root()
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        with _quiet_unless(progress):
            torchvision.datasets.CIFAR10(str(target), train=True, download=True)
            torchvision.datasets.CIFAR10(str(target), train=False, download=True)
    except Exception as err:  # noqa: BLE001 - any failure is reported with the other places
        if created and target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # leave no empty directory behind
        return None, f"torchvision download into {target} failed: {type(err).__name__}: {err}"
    return DataSource("torchvision", target), ""


class _quiet_unless:
    """Silence stdout (torchvision's download messages) unless ``verbose``."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose

    def __enter__(self) -> None:
        if not self.verbose:
            import contextlib

            self._ctx = contextlib.redirect_stdout(io.StringIO())
            self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if not self.verbose:
            self._ctx.__exit__(*exc)


def _not_found_message(report: list[str]) -> str:
    lines = ["CIFAR-10 was not found. Looked at:"]
    lines += [f"  {i}. {r}" for i, r in enumerate(report, 1)]
    lines += [
        "To fix it, do one of:",
        "  - run where the internet is reachable: torchvision downloads CIFAR-10 (about 170 MB)"
        f" into {_download_root()} (or $CNNLIB_CACHE/data);",
        "  - put torchvision's cifar-10-batches-py/, an image-folder copy (train/<class>/*.png or"
        " *.jpg and test/<class>/*), or a zip of such a folder into a directory, and pass it as"
        f" --data-dir DIR (load_cifar10(root=DIR)) or set {DATA_ENV}=DIR.",
    ]
    return "\n".join(lines)


def load_cifar10(
    root: str | os.PathLike | None = None,
    *,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
    train_total: int | None = None,
    seed: int = 0,
    download: bool = True,
    allow_synthetic: bool = False,
    progress: bool = True,
    profile: Any = None,
) -> tuple[ImageTensorDataset, ImageTensorDataset]:
    """CIFAR-10 train and test sets as uint8 tensors (see the module docstring for where from).

    Args:
        root: a directory (or zip) to look in first; then ``$CNNLIB_DATA``.
        train_per_class, test_per_class: class-balanced subsets (``None``: the full split).
        train_total: a class-balanced training subset of this many images (``--subset``).
        seed: the seed of the subsets (the same seed gives the same images).
        download: try ``torchvision.datasets.CIFAR10(download=True)`` when nothing is found.
        allow_synthetic: fall back to :func:`synthetic_cifar10` (the smoke profile only).
        progress: show progress bars while decoding.
        profile: a :class:`cnnlib.profile.Profile`; its sizes and ``allow_synthetic`` are the
            defaults of the arguments above.

    Raises:
        DataNotFoundError: nothing found (and no download or synthetic fallback).
    """
    if profile is not None:
        train_per_class = profile.train_per_class if train_per_class is None else train_per_class
        test_per_class = profile.test_per_class if test_per_class is None else test_per_class
        allow_synthetic = allow_synthetic or profile.allow_synthetic
    src, report = _find(root)
    if src is None and download:
        src, why = _download(root, progress)
        if src is None:
            report.append(why)
    elif src is None:
        report.append("torchvision download: not tried (download=False / --no-download)")
    if src is None:
        if allow_synthetic:
            warnings.warn(
                "CIFAR-10 not found; using a small synthetic CIFAR-shaped set instead "
                "(smoke profile only)",
                stacklevel=2,
            )
            train, test = synthetic_cifar10(train_per_class or 20, test_per_class or 10, seed=seed)
            if train_total is not None:
                train = train.subset(total=train_total, seed=seed)
            return train, test
        raise DataNotFoundError(_not_found_message(report))
    data, how = _load_source(src, progress)
    info = {"kind": src.kind, "loaded_from": how}
    train = ImageTensorDataset(
        data["train_images"], data["train_labels"], name=src.name, source=src.label,
        split="train", info=dict(info),
    )  # fmt: skip
    test = ImageTensorDataset(
        data["test_images"], data["test_labels"], name=src.name, source=src.label,
        split="test", info=dict(info),
    )  # fmt: skip
    if train_total is not None:
        train = train.subset(total=train_total, seed=seed)
    else:
        train = train.subset(train_per_class, seed=seed)
    return train, test.subset(test_per_class, seed=seed)


# --------------------------------------------------------------------------------------------
# The device-resident loader
# --------------------------------------------------------------------------------------------


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**63)


def _dist_rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    import torch.distributed as dist

    if rank is None or world_size is None:
        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
        else:
            rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}); got {rank}")
    return rank, world_size


def random_crop_flip(images: Tensor, offsets: Tensor, flips: Tensor, padding: int = 4) -> Tensor:
    """Batched ``RandomCrop(size, padding)`` + ``RandomHorizontalFlip`` with given randomness.

    ``images`` (B, C, H, W) of any dtype is zero-padded by ``padding`` on each side, and image
    ``b`` is cropped at row ``offsets[b, 0]``, column ``offsets[b, 1]`` (each in
    ``[0, 2 * padding]``) and mirrored where ``flips[b]``; one gather does all of it.
    """
    b, c, h, w = images.shape
    dev = images.device
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    offsets = offsets.to(dev)
    rows = offsets[:, 0, None] + torch.arange(h, device=dev)
    cols_fwd = torch.arange(w, device=dev)
    cols = offsets[:, 1, None] + torch.where(flips.to(dev)[:, None], cols_fwd.flip(0), cols_fwd)
    return padded[
        torch.arange(b, device=dev)[:, None, None, None],
        torch.arange(c, device=dev)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


class DeviceLoader:
    """Batches of an in-memory uint8 dataset, built on the training device.

    The whole dataset is moved to ``device`` once (CIFAR-10 is 184 MB as uint8). For each epoch
    a CPU generator seeded by ``(seed, epoch)`` draws the order and the augmentation of every
    image (crop offsets and flips, as ``RandomCrop(32, padding=4)`` and
    ``RandomHorizontalFlip()``), so the data of an epoch depends on nothing else and a run
    resumed from :meth:`state_dict` sees exactly the same batches. Batches are normalised floats
    (``(x / 255 - mean) / std``), optionally in channels_last memory format.

    Under ``torch.distributed`` (or with ``rank``/``world_size``) each rank takes every
    ``world_size``-th image of the epoch's order: disjoint shards whose union is the epoch. For
    training the order is padded by wrapping around (as ``DistributedSampler``) so all ranks make
    the same number of steps; for evaluation (``train=False``) every image is seen exactly once.

    Args:
        dataset: an :class:`ImageTensorDataset` (or anything with uint8 ``images`` and
            ``labels`` tensors).
        batch_size: images per batch (per rank).
        train: shuffle and augment (defaults for ``shuffle`` and ``augment``).
        device: where the data lives and batches are built.
        seed: the seed of the shuffles and augmentations.
        drop_last: drop the last incomplete batch (default: no).
        mean, std: normalisation (default: the dataset's, else CIFAR-10's).
        padding: zero padding of the random crop.
        channels_last: return batches in channels_last memory format.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        train: bool = True,
        shuffle: bool | None = None,
        augment: bool | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        drop_last: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        padding: int = 4,
        channels_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
        self.dataset = dataset
        self.device = torch.device(device)
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        self.batch_size = batch_size
        self.train = train
        self.shuffle = train if shuffle is None else shuffle
        self.augment = train if augment is None else augment
        self.seed = seed
        self.drop_last = drop_last
        self.padding = padding
        self.channels_last = channels_last
        self.rank, self.world_size = _dist_rank_world(rank, world_size)
        mean = mean if mean is not None else getattr(dataset, "mean", CIFAR10_MEAN)
        std = std if std is not None else getattr(dataset, "std", CIFAR10_STD)
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        self.epoch = 0
        self.position = 0  # batches of the current epoch already handed out

    # -- size -----------------------------------------------------------------------------
    def _samples_per_rank(self) -> int:
        n = len(self.labels)
        if self.world_size == 1:
            return n
        if self.train:
            return -(-n // self.world_size)  # padded by wrapping
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = self._samples_per_rank()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # -- the epoch plan -------------------------------------------------------------------
    def _plan(self, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
        """This rank's image order, crop offsets and flips for ``epoch`` (on the CPU)."""
        n = len(self.labels)
        g = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=g)
        flips = torch.rand(n, generator=g) < 0.5
        if self.world_size > 1:
            if self.train:
                total = -(-n // self.world_size) * self.world_size
                wrap = torch.arange(total) % n
                order, offsets, flips = order[wrap], offsets[wrap], flips[wrap]
            order = order[self.rank :: self.world_size]
            offsets = offsets[self.rank :: self.world_size]
            flips = flips[self.rank :: self.world_size]
        return order, offsets, flips

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` (from its first batch) at the next iteration."""
        self.epoch, self.position = epoch, 0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order, offsets, flips = (t.to(self.device) for t in self._plan(self.epoch))
        num_batches = len(self)
        while self.position < num_batches:
            b = self.position
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            index = order[sl]
            x = self.images[index]
            if self.augment:
                x = random_crop_flip(x, offsets[sl], flips[sl], self.padding)
            x = x.float().div_(255).sub_(self.mean).div_(self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self.position = b + 1
            yield x, self.labels[index]
        self.epoch, self.position = self.epoch + 1, 0

    # -- resume ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """The loader's position: the epoch and the batches of it already handed out."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict` (the same seed is required)."""
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"loader state was saved with seed {state['seed']}, this loader has {self.seed}"
            )
        if not 0 <= state["position"] <= len(self):
            raise ValueError(f"loader position {state['position']} outside [0, {len(self)}]")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def cifar10_loaders(
    profile: Any = None,
    *,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    download: bool = True,
) -> tuple[DeviceLoader, DeviceLoader]:
    """CIFAR-10 as a profile fixes it, as training and test :class:`DeviceLoader` s on the
    profile's device (the notebooks' one call for data).

    ``profile`` defaults to the one :func:`cnnlib.profile.setup` chose, else
    :func:`cnnlib.profile.get_profile`. The test loader uses batches twice as large.
    """
    from cnnlib.profile import current_profile, get_profile

    profile = profile or current_profile() or get_profile()
    train, test = load_cifar10(root, seed=seed, download=download, profile=profile)
    batch_size = batch_size or profile.batch_size
    common = {"device": profile.device, "channels_last": profile.channels_last}
    return (
        DeviceLoader(train, batch_size, train=True, seed=seed, **common),
        DeviceLoader(test, 2 * batch_size, train=False, **common),
    )


# --------------------------------------------------------------------------------------------
# The standard path: torchvision datasets and DataLoader (Imagenette, image folders)
# --------------------------------------------------------------------------------------------


def imagenet_transforms(train: bool, image_size: int = 128) -> Any:
    """torchvision's usual ImageNet-style pipeline: ``RandomResizedCrop`` + flip for training,
    resize to ``image_size / 0.875`` + centre crop for evaluation; ImageNet normalisation."""
    from torchvision import transforms as T

    if train:
        steps = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        steps = [T.Resize(round(image_size / 0.875)), T.CenterCrop(image_size)]
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _label_dataset(ds: Any, name: str, source: str) -> Any:
    ds.name, ds.source = name, source
    return ds


def load_image_folder(
    root: str | os.PathLike,
    *,
    image_size: int = 128,
    train_dir: str = "train",
    val_dirs: Sequence[str] = ("val", "test"),
    name: str | None = None,
) -> tuple[Any, Any]:
    """An image-folder dataset (``train/<class>/*`` and ``val/`` or ``test/``) through
    ``torchvision.datasets.ImageFolder`` with :func:`imagenet_transforms`."""
    from torchvision.datasets import ImageFolder

    root = Path(root).expanduser()
    val = next((root / d for d in val_dirs if (root / d).is_dir()), None)
    if not (root / train_dir).is_dir() or val is None:
        raise DataNotFoundError(
            f"{root}: expected an image folder with {train_dir}/<class>/* and one of "
            f"{', '.join(d + '/<class>/*' for d in val_dirs)}"
        )
    name = name or root.name
    train_ds = ImageFolder(str(root / train_dir), transform=imagenet_transforms(True, image_size))
    val_ds = ImageFolder(str(val), transform=imagenet_transforms(False, image_size))
    label = f"{root.name}/ (image folder)"
    return _label_dataset(train_ds, name, label), _label_dataset(val_ds, name, label)


def load_imagenette(
    root: str | os.PathLike | None = None,
    *,
    size: str = "160px",
    image_size: int = 128,
    download: bool = True,
) -> tuple[Any, Any]:
    """Imagenette (10 easy ImageNet classes) through ``torchvision.datasets.Imagenette``.

    ``root`` defaults to ``$CNNLIB_DATA``, then the download directory. Returns the train and
    val datasets with :func:`imagenet_transforms`; feed them to :class:`EpochDataLoader`.
    """
    from torchvision.datasets import Imagenette

    roots = [Path(root).expanduser()] if root is not None else []
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]).expanduser())
    roots.append(_download_root())
    report = []

    def make(r: Path, dl: bool) -> tuple[Any, Any]:
        tr = Imagenette(str(r), "train", size, dl, transform=imagenet_transforms(True, image_size))
        va = Imagenette(
            str(r), "val", size, False, transform=imagenet_transforms(False, image_size)
        )
        name = f"Imagenette ({size})"
        label = "torchvision.datasets.Imagenette"
        return _label_dataset(tr, name, label), _label_dataset(va, name, label)

    for r in roots:
        try:
            return make(r, False)
        except RuntimeError:
            report.append(f"{r}: no imagenette2-{size.replace('px', '')}/ (train/, val/)")
    if download:
        target = roots[0] if _is_writable_dir(roots[0]) else _download_root()
        try:
            target.mkdir(parents=True, exist_ok=True)
            return make(target, True)
        except Exception as err:  # noqa: BLE001
            report.append(f"torchvision download into {target} failed: {type(err).__name__}: {err}")
    raise DataNotFoundError(
        "Imagenette was not found. Looked at:\n"
        + "\n".join(f"  {i}. {r}" for i, r in enumerate(report, 1))
        + f"\nTo fix it, run where the internet is reachable (torchvision downloads it), or set "
        f"{DATA_ENV} to a directory holding torchvision's imagenette2-{size.replace('px', '')}/."
    )


def dataset_labels(dataset: Any) -> Tensor:
    """The labels of a dataset without loading its images (``labels``, ``targets`` or
    torchvision's ``_samples``)."""
    for attr in ("labels", "targets"):
        if hasattr(dataset, attr):
            return torch.as_tensor(getattr(dataset, attr))
    if hasattr(dataset, "_samples"):
        return torch.tensor([label for _, label in dataset._samples])
    if isinstance(dataset, torch.utils.data.Subset):
        return dataset_labels(dataset.dataset)[torch.as_tensor(dataset.indices)]
    raise TypeError(f"cannot find the labels of {type(dataset).__name__} (labels or targets)")


def subset_dataset(
    dataset: Any, per_class: int | None = None, *, total: int | None = None, seed: int = 0
) -> Any:
    """A deterministic class-balanced subset of any labelled dataset (see
    :meth:`ImageTensorDataset.subset`); keeps ``name`` and ``source``."""
    if isinstance(dataset, ImageTensorDataset):
        return dataset.subset(per_class, total=total, seed=seed)
    if per_class is None and total is None:
        return dataset
    labels = dataset_labels(dataset)
    num_classes = int(labels.max()) + 1
    counts = _spread(total, num_classes) if total is not None else [per_class] * num_classes
    sub = torch.utils.data.Subset(dataset, balanced_indices(labels, counts, seed=seed).tolist())
    sub.name = getattr(dataset, "name", type(dataset).__name__)  # type: ignore[attr-defined]
    sub.source = getattr(dataset, "source", None)  # type: ignore[attr-defined]
    return sub


class _StridedSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``, in order (evaluation shards, no padding)."""

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        self.indices = range(rank, n, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class EpochDataLoader:
    """A ``DataLoader`` per epoch, shuffled and seeded by ``(seed, epoch)``: the standard path
    for datasets too large for memory, resumable at epoch boundaries.

    Training shuffles with ``DistributedSampler`` (one replica when not distributed); the
    workers' random augmentations are seeded from a generator seeded by ``(seed, epoch)``.
    Evaluation (``train=False``) reads every image once, in order, sharded across ranks.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        train: bool = True,
        num_workers: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        pin_memory: bool | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.train = train
        self.num_workers = num_workers
        self.seed = seed
        self.drop_last = drop_last
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.rank, self.world_size = _dist_rank_world(rank, world_size)
        if train:
            self.sampler: Sampler[int] = DistributedSampler(
                dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=seed
            )
        else:
            self.sampler = _StridedSampler(len(dataset), self.rank, self.world_size)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            drop_last=self.drop_last,
            pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch)),
        )
        yield from loader
        self.epoch += 1

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": 0, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("position", 0):
            raise ValueError("EpochDataLoader resumes at epoch boundaries only")
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"loader state was saved with seed {state['seed']}, this loader has {self.seed}"
            )
        self.epoch = int(state["epoch"])
