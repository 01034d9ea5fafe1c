"""The case database's rolling backups: ``backups/history-<UTC time>.sqlite3``, the last N.

A backup is written with SQLite's online backup API under a temporary name, checked with
``PRAGMA integrity_check``, then renamed: a file under its real name is one that passed.
The callers in :class:`~desktop.history.store.Store` hold ``history.lock`` around
:meth:`Backups.write` and refuse it on a store opened for reading only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from desktop.history.images import fsync_dir, make_private_dir, make_private_file
from desktop.history.store_errors import StoreError, write_error

BACKUPS_DIR = "backups"
BACKUP_PREFIX = "history-"
KEEP_BACKUPS = 10
BACKUP_INTERVAL_S = 6 * 3600.0


def count_visits(path: Path) -> int | None:
    """Visits in a database file read-only (a backup or a damaged file); None if unreadable."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)
    except (sqlite3.Error, OSError):
        return None
    try:
        return int(conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()


class Backups:
    """The backups folder of one store: listing, writing a checked copy, keeping the last N."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def all(self) -> list[Path]:
        """Backups, oldest first (names sort by time)."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p
            for p in self.folder.glob(f"{BACKUP_PREFIX}*.sqlite3")
            if p.is_file() and not p.name.endswith(".part")
        )

    def last(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def write(self, conn: sqlite3.Connection, reason: str, keep: int) -> Path:
        """Copy the database behind ``conn``, checked, then drop all but the last ``keep``.

        Called under ``history.lock``; disk failures become StoreWriteError.
        """
        make_private_dir(self.folder)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{BACKUP_PREFIX}{stamp}{'-' + reason if reason else ''}.sqlite3"
        final = self.folder / name
        tmp = final.with_name(name + ".part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
            dest = sqlite3.connect(tmp)
            try:
                conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
                ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                dest.close()
            if ok != "ok":
                raise StoreError(f"the backup {tmp} failed its integrity check ({ok})")
            make_private_file(tmp)
            os.replace(tmp, final)
            fsync_dir(self.folder)
        except (OSError, sqlite3.Error) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise write_error(exc, self.folder) from None
        for old in self.all()[:-keep]:
            with contextlib.suppress(OSError):
                old.unlink()
        return final

    def due(self, interval_s: float) -> bool:
        """Is the newest backup older than ``interval_s`` seconds (or is there none)?"""
        last = self.last()
        if last is None:
            return True
        try:
            age = time.time() - last.stat().st_mtime
        except OSError:
            age = float("inf")
        return age >= interval_s
