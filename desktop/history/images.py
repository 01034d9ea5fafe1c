"""Content-addressed image store beside the case database (no Qt, no TensorFlow).

Each stored image is named by the SHA-256 of its bytes, so moving or deleting
the original loses nothing, the same photo added twice is kept once, and a
file can be checked against its name. A file is written under a temporary name
in the store's own folder, flushed to disk and then renamed into place, so a
crash never leaves a half-written image under a real name.

Callers hold the database's write lock around :meth:`ImageStore.put` and the
commit that references it. A file without a database row (the process died in
between, or an older database was restored) is never deleted at start-up:
:meth:`ImageStore.quarantine_orphans` moves it, under its content-addressed
name, to ``quarantine/`` beside ``images/``, where ``history recover`` can turn
it back into a visit. Only a delete the user asked for removes an image file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from desktop.hashing import sha256_file
from desktop.imaging import IMAGE_EXTENSIONS

TMP_DIR = ".tmp"
PARTIAL_DIR = "partial"  # quarantined temp files (an add killed before its rename)
CHUNK = 1 << 20
_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})$")
_QUARANTINED = re.compile(r"^([0-9a-f]{64})(-[0-9a-f]{8})?(\.[a-z0-9]{1,5})$")
POSIX = os.name == "posix"


def make_private_dir(path: Path, tighten: bool = True) -> None:
    """Create ``path`` and any missing parents as 0700 folders (POSIX).

    ``tighten`` also narrows an existing folder to 0700: right for the store's
    own sub-folders, not for a data folder the user pointed at.
    """
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        if POSIX:
            with contextlib.suppress(OSError):
                folder.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    if tighten and POSIX and not missing:
        with contextlib.suppress(OSError):  # a folder we do not own stays as it is
            if path.stat().st_mode & 0o777 != 0o700:
                path.chmod(0o700)


def make_private_file(path: Path) -> None:
    """Tighten an existing file to 0600 on POSIX (best effort: may not be ours)."""
    if POSIX:
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o777 != 0o600:
                path.chmod(0o600)


def fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    if not POSIX:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def normal_ext(name: str) -> str:
    """The stored extension: the original's if it is an image extension, else ``.img``."""
    ext = Path(name).suffix.lower()
    return ext if ext in IMAGE_EXTENSIONS else ".img"


class SourceError(Exception):
    """The image to store could not be read (not a problem of the store)."""


def _read(src: BinaryIO) -> bytes:
    try:
        return src.read(CHUNK)
    except OSError as exc:
        raise SourceError(f"the image could not be read ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class StoredImage:
    """One image in the store; ``new`` is False when identical bytes were already there."""

    sha256: str
    ext: str
    size: int
    new: bool
    repaired: bool = False  # a damaged copy under this name was replaced by the good bytes


OK, MISSING, DAMAGED = "ok", "missing", "damaged"


class ImageStore:
    """``root/ab/abcdef…(64 hex).ext``: two-letter fan-out keeps folders small."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def ensure(self) -> None:
        make_private_dir(self.root)
        make_private_dir(self.root / TMP_DIR)

    def path_for(self, sha256: str, ext: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}{ext}"

    def put(self, source: Path, ext: str | None = None) -> StoredImage:
        """Copy the file ``source`` in; see :meth:`put_stream`."""
        try:
            src = open(source, "rb")  # noqa: SIM115 (closed below; errors must name the source)
        except OSError as exc:
            raise SourceError(f"{source.name}: cannot be read ({exc.strerror or exc})") from None
        with src:
            return self.put_stream(src, ext if ext is not None else normal_ext(source.name))

    def put_bytes(self, data: bytes, ext: str) -> StoredImage:
        """Store in-memory bytes (a pasted image encoded as PNG)."""
        return self.put_stream(io.BytesIO(data), ext)

    def put_stream(self, src: BinaryIO, ext: str) -> StoredImage:
        """Copy in under a temp name, fsync, rename; the hash is computed while copying.

        Raises ``OSError`` (disk full, read-only) leaving at most a temp file,
        which the next start-up removes.
        """
        tmp = self.root / TMP_DIR / f"{os.getpid()}-{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := _read(src):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha, ext)
            existing = self.status(sha, ext)
            if existing == OK:  # matched by hash, never by size
                tmp.unlink()
                return StoredImage(sha, ext, size, new=False)
            make_private_dir(final.parent)
            os.replace(tmp, final)  # atomic: a damaged copy is replaced by the good bytes
            fsync_dir(final.parent)
            return StoredImage(
                sha, ext, size, new=existing == MISSING, repaired=existing == DAMAGED
            )
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def status(self, sha256: str, ext: str) -> str:
        """OK, MISSING or DAMAGED (bytes that no longer match the name)."""
        path = self.path_for(sha256, ext)
        try:
            return OK if sha256_file(path) == sha256 else DAMAGED
        except FileNotFoundError:
            return MISSING
        except IsADirectoryError:
            return DAMAGED

    def remove(self, sha256: str, ext: str) -> bool:
        try:
            self.path_for(sha256, ext).unlink()
            return True
        except FileNotFoundError:
            return False

    def files(self) -> Iterator[tuple[str, str, Path]]:
        """Every stored file as (sha256, ext, path); other names are ignored."""
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as top:
            for sub in top:
                if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(sub.path) as entries:
                    for entry in entries:
                        m = _NAME.match(entry.name)
                        if m and entry.is_file(follow_symlinks=False):
                            yield m.group(1), m.group(2), Path(entry.path)

    def temp_files(self) -> list[Path]:
        tmp = self.root / TMP_DIR
        if not tmp.is_dir():
            return []
        return [p for p in tmp.iterdir() if p.is_file()]

    def orphans(self, referenced: set[tuple[str, str]]) -> list[tuple[str, str, Path]]:
        """Image files no database row names (nothing is moved)."""
        return [f for f in self.files() if (f[0], f[1]) not in referenced]

    def quarantine_orphans(self, referenced: set[tuple[str, str]], quarantine: Path) -> int:
        """Move temp files and unreferenced images into ``quarantine``; returns how many moved.

        Never deletes: an unreferenced photo may be a visit whose row was lost
        (restored backup, lost -wal file), so it keeps its name for recovery.
        The caller holds the write lock, so no add is between rename and commit.
        """
        moved = 0
        for path in self.temp_files():
            moved += _move(path, quarantine / PARTIAL_DIR / path.name)
        for sha, ext, path in self.orphans(referenced):
            moved += _move(path, quarantine / sha[:2] / f"{sha}{ext}")
        return moved


def _move(src: Path, dest: Path) -> int:
    """Rename ``src`` to ``dest`` (same disk), keeping an existing ``dest``; 1 if it moved."""
    make_private_dir(dest.parent)
    if dest.exists():  # same content-addressed name already quarantined: keep both
        dest = dest.with_name(f"{dest.stem}-{uuid.uuid4().hex[:8]}{dest.suffix}")
    os.replace(src, dest)
    fsync_dir(dest.parent)
    return 1


def quarantined(quarantine: Path) -> Iterator[tuple[str, str, Path]]:
    """Quarantined image files as (sha256 from the name, ext, path); temp files excluded."""
    if not quarantine.is_dir():
        return
    for sub in sorted(quarantine.iterdir()):
        if len(sub.name) != 2 or not sub.is_dir():
            continue
        for path in sorted(sub.iterdir()):
            m = _QUARANTINED.match(path.name)
            if m and path.is_file():
                yield m.group(1), m.group(3), path


_STATUS_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def photo_status(path: Path, sha256: str) -> str:
    """OK, MISSING or DAMAGED, hashing a file again only when its size, times or inode changed.

    Any write to a file changes its ctime, so a substituted photo is caught;
    bit rot without a write is for ``history check``, which always hashes.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return MISSING
    except OSError:
        return DAMAGED
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key not in _STATUS_CACHE:
        if len(_STATUS_CACHE) > 100_000:
            _STATUS_CACHE.clear()
        try:
            _STATUS_CACHE[key] = OK if sha256_file(path) == sha256 else DAMAGED
        except OSError:
            return DAMAGED
    return _STATUS_CACHE[key]
