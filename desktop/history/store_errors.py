"""What can go wrong with the case store, told apart: damaged, newer, not a database, a disk
that is full, read-only or not ours to write, or a lock held by another window.

Each error says in one line what happened and what to do; :func:`failure_cause` finds the
true reason behind an OSError or SQLite error, so a full disk is never called damage.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from desktop import APP_NAME


class StoreError(Exception):
    """The case store cannot be used as asked; ``str(err)`` says why and what to do."""


class NewerSchemaError(StoreError):
    """The database was written by a newer LesionLens; it is left untouched."""


class DamagedStoreError(StoreError):
    """``PRAGMA integrity_check`` failed; ``backup`` is the last good copy, if any."""

    def __init__(self, message: str, backup: Path | None) -> None:
        super().__init__(message)
        self.backup = backup


class NotADatabaseError(StoreError):
    """A folder, an empty file or a non-SQLite file is where the database should be; untouched."""


class StoreWriteError(StoreError):
    """A write failed (read-only or full disk, locked); nothing already stored was lost.

    ``cause`` is one of :data:`CAUSES`: full, read-only, permission, locked, other.
    """

    def __init__(self, message: str, cause: str = "other") -> None:
        super().__init__(message)
        self.cause = cause


class DamagedPhotoError(StoreError):
    """A stored photo is missing or its bytes no longer match its SHA-256; it was not used."""


FULL, READ_ONLY, PERMISSION, LOCKED, OTHER = "full", "read-only", "permission", "locked", "other"
CAUSES = (FULL, READ_ONLY, PERMISSION, LOCKED, OTHER)
# Causes under which the store still opens for reading (show, export, check).
READABLE_CAUSES = (FULL, READ_ONLY, PERMISSION)


def failure_cause(exc: BaseException) -> tuple[str, str]:
    """(cause, words) of a failed disk or database operation: the true reason, told apart."""
    code = getattr(exc, "errno", None)
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    if (
        code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
        or name.startswith("SQLITE_FULL")
        or "disk is full" in text
    ):
        return FULL, "the disk is full"
    if code == errno.EROFS or "read-only file system" in text:
        return READ_ONLY, "the disk is read-only"
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in text:
        return PERMISSION, "you have no permission to write there"
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return READ_ONLY, "the database or its folder is read-only (or not yours to write)"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return LOCKED, f"another {APP_NAME} window or command is using it; try again"
    if "unable to open" in text:
        return OTHER, "the database file cannot be opened (missing folder or no permission)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return OTHER, first


def describe_os_error(exc: OSError | sqlite3.Error, where: Path) -> str:
    """One clear sentence for the ways a disk write fails."""
    return f"cannot write to the case store at {where}: {failure_cause(exc)[1]}. " + (
        "Nothing already stored was lost."
    )


def write_error(exc: OSError | sqlite3.Error, where: Path) -> StoreWriteError:
    return StoreWriteError(describe_os_error(exc, where), failure_cause(exc)[0])
