"""Reading an export folder as untrusted input: ``case.json`` parsed strictly, photos read
without following links, each hashed against the manifest and decoded before use.

An export may come from another clinic, a USB stick or a text editor, so nothing in it
is believed: a link would pull a file from outside the export into the store, a pipe
would hang the import, a repeated JSON key would hide a value. Used by
:func:`desktop.history.transfer.import_case`, which then stores the checked case.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from desktop import APP_NAME
from desktop.history.manifest import CaseIn, ImageIn, ImportRefused
from desktop.imaging import ALLOWED_FORMATS, MAX_FILE_BYTES, MAX_PIXELS
from desktop.preprocessing import brief

EXPORT_FORMAT = "lesionlens-case"
EXPORT_VERSION = 1
MANIFEST = "case.json"
IMAGES = "images"
MAX_MANIFEST_BYTES = 64 * 2**20  # thousands of visits fit in a few MB


def read_manifest(folder: Path) -> Any:
    """``case.json`` parsed strictly: no NaN/Infinity, no repeated keys, bounded size and depth."""
    if not folder.is_dir():
        raise ImportRefused(f"it is not a folder (a {APP_NAME} export is a folder)")
    if not os.path.lexists(folder / MANIFEST):
        raise ImportRefused(f"it holds no {MANIFEST} (not a {APP_NAME} export)")
    data = read_plain(folder / MANIFEST, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
        )
    except RecursionError:
        raise ImportRefused(f"{MANIFEST} is nested too deeply to be an export") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise ImportRefused(f"{MANIFEST} is not valid JSON ({first_line(exc)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise ImportRefused(f"{MANIFEST} is not a {APP_NAME} case export")
    version = manifest.get("format_version")
    if type(version) is not int or version != EXPORT_VERSION:
        raise ImportRefused(
            f"{MANIFEST} has export format {brief(version)}; this {APP_NAME} reads {EXPORT_VERSION}"
        )
    return _get_case(manifest)


def _get_case(manifest: dict[str, Any]) -> Any:
    if "case" not in manifest:
        raise ImportRefused(f"{MANIFEST} has no 'case'")
    return manifest["case"]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {brief(key)} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]


# Reading the folder without following links ------------------------------------------------
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a named pipe must not hang the import
    | getattr(os, "O_BINARY", 0)
)
_DIR_FD = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd


def read_plain(path: Path, what: str, limit: int, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file that is not a symbolic link, up to ``limit``.

    A link would pull a file from outside the export into the store (and into every later
    export of it); a device or pipe is no photo. ``dir_fd`` pins the folder it is read from.
    """
    target = path.name if dir_fd is not None else str(path)
    kw = {"dir_fd": dir_fd} if dir_fd is not None else {}
    try:
        st = os.stat(target, follow_symlinks=False, **kw)
        if stat.S_ISLNK(st.st_mode):
            raise ImportRefused(f"{what} is a symbolic link; an export holds plain files only")
        if not stat.S_ISREG(st.st_mode):
            raise ImportRefused(f"{what} is not a plain file")
        if st.st_size > limit:
            raise ImportRefused(f"{what} is larger than {limit // 2**20} MB")
        fd = os.open(target, _READ_FLAGS, **kw)
    except FileNotFoundError:
        raise ImportRefused(f"{what} is missing from the export") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a link after the check: O_NOFOLLOW caught it
            why = "is a symbolic link; an export holds plain files only"
        else:
            why = f"cannot be read ({exc.strerror or exc})"
        raise ImportRefused(f"{what} {why}") from None
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fh.fileno())
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise ImportRefused(f"{what} changed while it was being read")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ImportRefused(f"{what} is larger than {limit // 2**20} MB")
    return data


@contextlib.contextmanager
def images_folder(folder: Path) -> Iterator[int | None]:
    """The export's ``images/`` folder, refused when it is a link; an open handle where the
    platform can read files relative to one (so it cannot be swapped while it is read)."""
    path = folder / IMAGES
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ImportRefused(f"{IMAGES}/ is missing from the export") from None
    if stat.S_ISLNK(st.st_mode):
        raise ImportRefused(f"{IMAGES}/ is a symbolic link; an export holds plain files only")
    if not stat.S_ISDIR(st.st_mode):
        raise ImportRefused(f"{IMAGES}/ is not a folder")
    if not _DIR_FD:
        yield None
        return
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImportRefused(f"{IMAGES}/ cannot be opened ({exc.strerror or exc})") from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise ImportRefused(f"{IMAGES}/ changed while it was being read")
        yield fd
    finally:
        os.close(fd)


def read_image(folder: Path, dir_fd: int | None, image: ImageIn) -> bytes:
    """A photo's bytes, refused unless they hash to the SHA-256 the manifest records."""
    what = f"{IMAGES}/{image.name}"
    data = read_plain(folder / IMAGES / image.name, what, MAX_FILE_BYTES, dir_fd)
    if hashlib.sha256(data).hexdigest() != image.sha256:
        raise ImportRefused(f"{what} does not match its recorded SHA-256 (damaged export)")
    if len(data) != image.size:
        raise ImportRefused(f"{what} has {len(data)} bytes, {MANIFEST} says {image.size}")
    return data


def check_images(folder: Path, case: CaseIn) -> None:
    """Every photo read, hashed and decoded before anything is stored."""
    images = case.images()
    if not images and not os.path.lexists(folder / IMAGES):
        return
    with images_folder(folder) as dir_fd:
        for image in images.values():
            check_decodes(read_image(folder, dir_fd, image), f"{IMAGES}/{image.name}")


def check_decodes(data: bytes, what: str) -> None:
    """Decode the photo as the app's loader would (same formats and pixel limit)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                if img.width * img.height > MAX_PIXELS or min(img.size) < 1:
                    raise ImportRefused(f"{what} is {img.width}x{img.height} pixels: not a photo")
                img.load()
    except ImportRefused:
        raise
    except Exception:  # Pillow raises many types for damaged data; the outcome is what matters
        raise ImportRefused(
            f"{what} is not a readable image (not JPEG, PNG, TIFF, WebP, BMP or GIF, or damaged)"
        ) from None
