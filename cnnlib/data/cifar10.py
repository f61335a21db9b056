"""CIFAR-10 decoded once into uint8 tensors, cached, and loaded as :class:`ImageTensorDataset`.

:func:`load_cifar10` reads the copy :func:`~cnnlib.data.find_cifar10` finds (or downloads it
through torchvision), decodes it once and caches the tensors (beside the data where that folder
is writable, else in :func:`~cnnlib.data.cache_dir`), keyed by a fingerprint of the source. A
lossy copy is never passed off as the original: a JPEG copy is named "CIFAR-10 (JPEG copy)".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from cnnlib.data.datasets import (
    CIFAR10_CLASSES,
    DataCorruptError,
    DataNotFoundError,
    ImageTensorDataset,
    synthetic_cifar10,
)
from cnnlib.data.sources import (
    DATA_ENV,
    IMAGE_EXTENSIONS,
    ZIP_SPLIT,
    DataSource,
    cache_dir,
    download_root,
    is_writable_dir,
    locate_cifar10,
    zip_index,
)
from cnnlib.runtime import atomic_write

__all__ = ["load_cifar10"]

_CACHE_VERSION = 1


def _fingerprint(src: DataSource) -> str:
    """A key that changes whenever the source's content (or its files' sizes/times) change."""
    h = hashlib.sha256(f"cnnlib-cifar10-cache-v{_CACHE_VERSION}|{src.kind}|{src.prefix}".encode())
    if src.kind == "zip":
        h.update(zip_index(src.path)[1].encode())  # covers every member's name, CRC and size
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
    if is_writable_dir(beside):
        places.append(beside / ".cnnlib-cache" / fname)
    places.append(cache_dir() / "decoded" / fname)
    return places


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
            atomic_write(path, lambda f: torch.save(data, f))
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


def _decode_chunk(decode: Any, blobs: list[bytes], names: list[str]) -> list[Tensor]:
    """``decode(blobs, names)``; where that fails, find and name the image that cannot be read."""
    try:
        return decode(blobs, names)
    except (RuntimeError, OSError, ValueError):
        for blob, name in zip(blobs, names, strict=True):
            try:
                decode([blob], [name])
            except (RuntimeError, OSError, ValueError) as err:
                raise DataCorruptError(f"{name}: not a readable image ({err})") from None
        raise


def _decode_many(blobs: list[bytes], names: list[str], progress: bool, desc: str) -> Tensor:
    """Decode encoded images into one uint8 tensor (N, 3, 32, 32), with a progress bar."""
    decode = _decoder()
    out = torch.empty((len(blobs), 3, 32, 32), dtype=torch.uint8)
    chunk = 2000
    with tqdm(total=len(blobs), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, len(blobs), chunk):
            part_names = names[start : start + chunk]
            images = _decode_chunk(decode, blobs[start : start + chunk], part_names)
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
                if not name.startswith(src.prefix) or not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                m = ZIP_SPLIT.match(name[len(src.prefix) :])
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
                        if p.suffix.lower() in IMAGE_EXTENSIONS:
                            entries[split].append((cls, str(p)))
        result: dict[str, Any] = {}
        for split, items in entries.items():
            _check_classes(sorted(classes[split]), f"{src.label}, {split}/")
            items.sort(key=lambda item: (CIFAR10_CLASSES.index(item[0]), item[1]))
            names = [n for _, n in items]
            blobs = [_read_member(zf, src, n) for n in names]
            images = _decode_many(blobs, names, progress, f"decoding {src.name} {split}")
            labels = torch.tensor([CIFAR10_CLASSES.index(c) for c, _ in items], dtype=torch.long)
            result[split] = (images, labels)
        return result
    finally:
        if zf is not None:
            zf.close()


def _read_member(zf: zipfile.ZipFile | None, src: DataSource, name: str) -> bytes:
    """The bytes of one image of a folder or zip copy; a damaged member is reported as such."""
    if zf is None:
        return Path(name).read_bytes()
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataCorruptError(
            f"{src.path}: member {name} is corrupt ({type(err).__name__}: {err}); copy the zip "
            "again, or remove it"
        ) from None


def _check_batches(root: Path) -> None:
    """Name the damaged file of a ``cifar-10-batches-py`` copy (torchvision only says that one
    of them is missing or corrupted)."""
    from torchvision.datasets import cifar

    for name, md5 in [*cifar.CIFAR10.train_list, *cifar.CIFAR10.test_list]:
        path = root / cifar.CIFAR10.base_folder / name
        if not path.is_file():
            raise DataCorruptError(f"{path} is missing from this cifar-10-batches-py copy")
        if not cifar.check_integrity(str(path), md5):
            raise DataCorruptError(
                f"{path} is corrupt (its MD5 is not CIFAR-10's); download or copy it again"
            )


def _decode_torchvision(root: Path) -> dict[str, Any]:
    import torchvision

    _check_batches(root)
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
    if target is None or not is_writable_dir(target):
        target = download_root()
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        quiet = contextlib.redirect_stdout(io.StringIO())
        with contextlib.nullcontext() if progress else quiet:
            torchvision.datasets.CIFAR10(str(target), train=True, download=True)
            torchvision.datasets.CIFAR10(str(target), train=False, download=True)
    except Exception as err:  # noqa: BLE001 - any failure is reported with the other places
        if created and target.is_dir() and not any(target.iterdir()):
            target.rmdir()  # leave no empty directory behind
        return None, f"torchvision download into {target} failed: {type(err).__name__}: {err}"
    return DataSource("torchvision", target), ""


def _not_found_message(report: list[str]) -> str:
    lines = ["CIFAR-10 was not found. Looked at:"]
    lines += [f"  {i}. {r}" for i, r in enumerate(report, 1)]
    lines += [
        "To fix it, do one of:",
        "  - run where the internet is reachable: torchvision downloads CIFAR-10 (about 170 MB)"
        f" into {download_root()} (or $CNNLIB_CACHE/data);",
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
        DataCorruptError: a file of the copy found is damaged (the message names it).
    """
    if profile is not None:
        train_per_class = profile.train_per_class if train_per_class is None else train_per_class
        test_per_class = profile.test_per_class if test_per_class is None else test_per_class
        allow_synthetic = allow_synthetic or profile.allow_synthetic
    src, report = locate_cifar10(root)
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
