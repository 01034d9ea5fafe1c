"""The case database file, ``history.sqlite3``: connecting to it, and the start-up checks
made before anything writes to it.

A folder, an empty file or a non-SQLite file where the database should be, or a database
from a newer app, is refused from what the file system and the file header say (touching
nothing); ``PRAGMA integrity_check`` runs on a read-only connection. Damage is told apart
from other causes (locked, no permission), and a refusal names the last good backup.
:class:`~desktop.history.store.Store` makes these checks before it migrates or writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from desktop import APP_NAME, __version__
from desktop.history.backups import Backups, count_visits
from desktop.history.store_errors import (
    LOCKED,
    DamagedStoreError,
    NewerSchemaError,
    NotADatabaseError,
    StoreError,
    StoreWriteError,
    failure_cause,
)

DB_NAME = "history.sqlite3"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 10.0


def connect(uri: str) -> sqlite3.Connection:
    """A connection as the store uses them: autocommit (it says BEGIN), rows by name, keys on."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row  # by name or by index
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class DatabaseFile:
    """``history.sqlite3`` in ``data_dir``, judged before it is written to."""

    def __init__(self, data_dir: Path, backups: Backups) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        self.backups = backups

    def connect_ro(self) -> sqlite3.Connection:
        """A read-only connection; ``immutable`` where even the -shm index cannot be made."""
        base = self.path.resolve().as_uri()
        try:
            conn = connect(base + "?mode=ro")
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            wal = self.path.with_name(DB_NAME + "-wal")
            if failure_cause(exc)[0] == LOCKED or (wal.exists() and wal.stat().st_size > 0):
                raise
            return connect(base + "?mode=ro&immutable=1")

    def refuse_wrong_files(self, latest: int) -> None:
        """What sits where the folder or database should be, judged without touching it."""
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise NotADatabaseError(
                f"the case store folder {self.data_dir} is a file, not a folder. "
                "Nothing was changed; choose another --data-dir or move the file away."
            )
        if not self.path.exists() and not self.path.is_symlink():
            return
        if self.path.is_dir():
            raise NotADatabaseError(
                f"the case database {self.path} is a folder, not a database file. "
                "Nothing was changed; move that folder away to start a new store."
            )
        if not self.path.is_file():
            raise NotADatabaseError(
                f"the case database {self.path} is not a regular file (a broken link, "
                "a device or a pipe). Nothing was changed; move it away."
            )
        size = self.path.stat().st_size
        header = self.header_version()
        if size == 0 or header is None:
            what = "is empty (0 bytes)" if size == 0 else "is not an SQLite database"
            raise NotADatabaseError(
                f"the case database {self.path} {what}, so it is not a {APP_NAME} case "
                f"database. Nothing was changed (no file created, moved or deleted). "
                f"{self.restore_advice()}"
            )
        self.refuse_newer(header, latest)

    def restore_advice(self) -> str:
        backup = self.backups.last()
        if backup is None:
            return f"There is no backup in {self.backups.folder}."
        n = count_visits(backup)
        held = f"{n} visit(s)" if n is not None else "its visits cannot be counted"
        return (
            f"The last good backup is {backup} ({held}); to restore it, follow "
            "'Restoring a backup' in the README."
        )

    def header_version(self) -> int | None:
        """``user_version`` straight from the file header (bytes 60-63), touching nothing.

        None when the file is not an SQLite database. A version written only to a
        not yet checkpointed WAL is caught by the read-only connection of
        :meth:`check_existing`.
        """
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            raise StoreError(
                f"the case database at {self.path} cannot be read ({exc.strerror or exc})."
            ) from None
        if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
            return None
        return int.from_bytes(head[60:64], "big", signed=True)

    def refuse_newer(self, version: int, latest: int) -> None:
        if version > latest:
            raise NewerSchemaError(
                f"the case database at {self.path} was written by a newer {APP_NAME} "
                f"(schema version {version}; this {APP_NAME} {__version__} knows up to "
                f"{latest}). It has not been changed. Update {APP_NAME} to open it."
            )

    def check_existing(self, latest: int) -> None:
        """Newer version (from the header: no side effects) and integrity (read-only).

        The read-only connection writes nothing to the database file; for a WAL
        database SQLite may create its -shm index beside it. Only corruption the
        integrity check finds is called damage: a file that cannot be read for
        another reason (locked, no permission) says so.
        """
        try:
            ro = self.connect_ro()
        except sqlite3.Error as exc:
            raise self.unreadable(exc) from None
        try:
            try:
                version = int(ro.execute("PRAGMA user_version").fetchone()[0])
                self.refuse_newer(version, latest)
                rows = [r[0] for r in ro.execute("PRAGMA integrity_check").fetchall()]
            except sqlite3.Error as exc:
                raise self.unreadable(exc) from None
            if rows != ["ok"]:
                raise self.damaged("; ".join(str(r) for r in rows[:3]))
        finally:
            ro.close()

    def unreadable(self, exc: sqlite3.Error) -> StoreError:
        """Damage (SQLite says corrupt / not a database) or the true other cause."""
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or not isinstance(
            exc, sqlite3.OperationalError
        ):
            return self.damaged(str(exc))
        cause, words = failure_cause(exc)
        return StoreWriteError(
            f"the case database at {self.path} cannot be read: {words}. Nothing was changed.",
            cause,
        )

    def damaged(self, detail: str) -> DamagedStoreError:
        backup = self.backups.last()
        detail = " ".join(detail.split())[:200]
        if backup is not None:
            n_backup, n_damaged = count_visits(backup), count_visits(self.path)
            held = f"{n_backup} visit(s)" if n_backup is not None else "visits not countable"
            now = (
                f"{n_damaged} visit(s) still readable"
                if n_damaged is not None
                else "its visits cannot be counted"
            )
            advice = (
                f"The last good backup is {backup} ({held}; the damaged file: {now}). "
                f"Close {APP_NAME}, move the damaged file and its -wal/-shm files away and "
                f"copy that backup to {self.path} (README: 'Restoring a backup')."
            )
        else:
            advice = f"There is no backup in {self.backups.folder}."
        return DamagedStoreError(
            f"the case database at {self.path} is damaged (integrity check: {detail}). "
            f"Nothing was changed. {advice}",
            backup,
        )
