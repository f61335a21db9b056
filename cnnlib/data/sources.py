"""Where CIFAR-10 is on disk: torchvision's batches, an image folder, or a zip of one.

:func:`find_cifar10` looks in the directory given as argument, then ``$CNNLIB_DATA``, then the
download directory, without decoding anything; a place that holds only a damaged zip is reported
as corrupt (:class:`~cnnlib.data.DataCorruptError`), not as missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cnnlib.data.datasets import DataCorruptError

__all__ = ["DataSource", "cache_dir", "describe_cifar10_source", "find_cifar10"]

DATA_ENV = "CNNLIB_DATA"
CACHE_ENV = "CNNLIB_CACHE"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: ``[prefix/]train|test/<class>/<file>`` inside a zip.
ZIP_SPLIT = re.compile(r"^(?P<prefix>(?:[^/]+/)*?)(?P<split>train|test)/(?P<cls>[^/]+)/[^/]+$")

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


def download_root() -> Path:
    """Where torchvision downloads datasets to: ``cache_dir() / "data"``."""
    return cache_dir() / "data"


def is_writable_dir(path: Path) -> bool:
    """Writable for us *and* meant to be written: root ignores permission bits, so a directory
    whose mode has no write bit (a shared read-only copy) counts as read-only too."""
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and bool(st.st_mode & 0o222) and os.access(path, os.W_OK)


def folder_format(suffixes: set[str]) -> str:
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
    fmt = folder_format({first.suffix.lower()}) if first is not None else "mixed"
    return DataSource("folder", path, format=fmt)


_ZIP_MEMO: dict[tuple[str, int, int], tuple[list[str], str]] = {}


def zip_index(path: Path) -> tuple[list[str], str]:
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
        names, _ = zip_index(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise DataCorruptError(
            f"{path} is not a readable zip ({type(err).__name__}: {err}); it is truncated or "
            "corrupt: copy it again, or remove it"
        ) from None
    prefixes: dict[str, set[str]] = {}
    suffixes: set[str] = set()
    for n in names:
        m = ZIP_SPLIT.match(n)
        if m and n.lower().endswith(IMAGE_EXTENSIONS):
            prefixes.setdefault(m["prefix"], set()).add(m["split"])
            if len(suffixes) < 3:
                suffixes.add(os.path.splitext(n)[1].lower())
    for prefix, splits in sorted(prefixes.items()):
        if splits == {"train", "test"}:
            return DataSource("zip", path, prefix=prefix, format=folder_format(suffixes))
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
    corrupt = None
    for zpath in sorted(path.glob("*.zip")):
        try:
            found = _zip_layout(zpath)
        except DataCorruptError as err:
            corrupt = corrupt or err
            continue
        if found:
            return found, ""
    if corrupt is not None:
        raise corrupt
    return None, (
        "holds no cifar-10-batches-py/, no train/ and test/ image folders, and no zip holding them"
    )


def _places(root: str | os.PathLike | None) -> list[tuple[str, Path | None]]:
    places: list[tuple[str, Path | None]] = []
    if root is not None:
        places.append(("argument (--data-dir / root=)", Path(root).expanduser()))
    env = os.environ.get(DATA_ENV)
    places.append((f"${DATA_ENV}", Path(env).expanduser() if env else None))
    places.append(("download directory", download_root()))
    return places


def find_cifar10(root: str | os.PathLike | None = None) -> DataSource | None:
    """Where CIFAR-10 is, without decoding or downloading anything (``None`` if nowhere)."""
    found, _ = locate_cifar10(root)
    return found


def locate_cifar10(root: str | os.PathLike | None) -> tuple[DataSource | None, list[str]]:
    """``(source, report)``: where CIFAR-10 is (``None`` if nowhere) and, line by line, why each
    place looked at before it did not hold it."""
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
