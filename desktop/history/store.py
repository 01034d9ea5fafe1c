"""The case database: one SQLite file plus an image store and rolling backups.

Why SQLite from the standard library: one local file, transactions that
survive ``kill -9`` and power loss, an online backup API and no server or extra
dependency on a clinic PC. Layout of the data folder::

    history.sqlite3        the database (WAL journal: -wal/-shm beside it)
    images/ab/<sha256>.jpg content-addressed copies of every visit image
    quarantine/ab/<sha256>.jpg image files no database row named at start-up
    backups/history-<UTC time>.sqlite3   the last N good copies
    history.lock           held while a store is created, migrated, cleaned or backed up

Start-up order matters: a folder, an empty file or a non-SQLite file where the
database should be, or a database from a newer app, is refused before anything
writes to it; ``PRAGMA integrity_check`` runs on a read-only connection; only
then, under ``history.lock``, are migrations applied (after a backup), image
files without a row moved to ``quarantine/`` (never deleted: they may be visits
of a lost -wal file or taken after a restored backup) and a rolling backup
taken. When writing is impossible (read-only or full disk, no permission) the
store opens for reading only. Every failure is a :class:`StoreError` with a
message a user can act on. Qt-free: the window passes its own data folder in.

Here: opening (in that order), the lock, the transactions and the photos' bookkeeping. The
database file and its start-up checks are in :mod:`~desktop.history.database`, the backups in
:mod:`~desktop.history.backups`, the schema's migrations in :mod:`~desktop.history.schema`,
the errors and their causes in :mod:`~desktop.history.store_errors`, the lock file in
:mod:`~desktop.history.lock`; their names are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from desktop import APP_NAME, __version__
from desktop.history import lock
from desktop.history.backups import (
    BACKUP_INTERVAL_S,
    BACKUP_PREFIX,
    BACKUPS_DIR,
    KEEP_BACKUPS,
    Backups,
    count_visits,
)
from desktop.history.database import BUSY_TIMEOUT_S, DB_NAME, SQLITE_MAGIC, DatabaseFile, connect
from desktop.history.images import (
    OK,
    PARTIAL_DIR,
    POSIX,
    ImageStore,
    fsync_dir,
    make_private_dir,
    make_private_file,
    quarantined,
)
from desktop.history.schema import MIGRATIONS, SCHEMA_VERSION, Step
from desktop.history.store_errors import (
    CAUSES,
    FULL,
    LOCKED,
    OTHER,
    PERMISSION,
    READ_ONLY,
    READABLE_CAUSES,
    DamagedPhotoError,
    DamagedStoreError,
    NewerSchemaError,
    NotADatabaseError,
    StoreError,
    StoreWriteError,
    describe_os_error,
    failure_cause,
    write_error,
)

__all__ = [  # the store's own names, and those of its parts that callers import from here
    "BACKUPS_DIR",
    "BACKUP_INTERVAL_S",
    "BACKUP_PREFIX",
    "BUSY_TIMEOUT_S",
    "CAUSES",
    "DB_NAME",
    "ENV_DATA_DIR",
    "FULL",
    "IMAGES_DIR",
    "KEEP_BACKUPS",
    "LOCKED",
    "LOCK_NAME",
    "MIGRATIONS",
    "OTHER",
    "PERMISSION",
    "QUARANTINE_DIR",
    "READABLE_CAUSES",
    "READ_ONLY",
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "DamagedPhotoError",
    "DamagedStoreError",
    "NewerSchemaError",
    "NotADatabaseError",
    "Step",
    "Store",
    "StoreError",
    "StoreWriteError",
    "count_visits",
    "default_data_dir",
    "describe_os_error",
    "failure_cause",
    "now_utc",
    "posix_mode",
    "write_error",
]

ENV_DATA_DIR = "LESIONLENS_DATA_DIR"
IMAGES_DIR = "images"
QUARANTINE_DIR = "quarantine"
LOCK_NAME = "history.lock"


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_data_dir() -> Path:
    """``$LESIONLENS_DATA_DIR``, else the folder Qt's AppDataLocation names, computed without Qt.

    Organisation and application are both "LesionLens", as in ``desktop.qt.app``,
    so the window and the command line share one store.
    """
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / APP_NAME / APP_NAME


class Store:
    """An open case database. Use :meth:`open` (runs the start-up checks) and :meth:`write`.

    One connection, used from the thread that opened it. Another process may
    have the same store open: WAL lets readers and one writer work together.
    ``read_only_reason`` is set (and every write refused with it) when the
    store could only be opened for reading.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        keep_backups: int = KEEP_BACKUPS,
        backup_interval_s: float = BACKUP_INTERVAL_S,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / DB_NAME
        self.backup_dir = self.data_dir / BACKUPS_DIR
        self.quarantine_dir = self.data_dir / QUARANTINE_DIR
        self.images = ImageStore(self.data_dir / IMAGES_DIR)
        self._backups = Backups(self.backup_dir)
        self._file = DatabaseFile(self.data_dir, self._backups)
        self.keep_backups = max(1, int(keep_backups))
        self.backup_interval_s = backup_interval_s
        self._conn: sqlite3.Connection | None = None
        self._undo: list[Callable[[], object]] | None = None
        self._lock_depth = 0
        self.quarantined_now = 0  # files moved to quarantine/ by this start-up
        self.read_only_reason: str | None = None

    # Opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        keep_backups: int = KEEP_BACKUPS,
        backup_interval_s: float = BACKUP_INTERVAL_S,
        migrations: dict[int, Sequence[Step]] | None = None,
    ) -> Store:
        """Open (creating if needed), check, migrate, quarantine and back up; raises StoreError.

        Falls back to reading only when writing is impossible (read-only or full
        disk, no permission): ``show``, ``export`` and ``check`` still work.
        """
        store = cls(
            data_dir if data_dir is not None else default_data_dir(),
            keep_backups=keep_backups,
            backup_interval_s=backup_interval_s,
        )
        store._open(migrations if migrations is not None else MIGRATIONS)
        return store

    def _open(self, migrations: dict[int, Sequence[Step]]) -> None:
        latest = max(migrations)
        self._file.refuse_wrong_files(latest)
        existed = self.db_path.exists()
        if existed:
            self._file.check_existing(latest)
        try:
            self._open_writable(migrations, latest)
        except StoreWriteError as exc:
            self.close()
            if not existed or exc.cause not in READABLE_CAUSES:
                raise
            self._open_read_only(latest, str(exc))

    def _open_writable(self, migrations: dict[int, Sequence[Step]], latest: int) -> None:
        try:
            make_private_dir(self.data_dir, tighten=False)
            with self.locked():
                if not self.db_path.exists():
                    self._create(migrations, latest)
                self._conn = connect(f"{self.db_path.resolve().as_uri()}?mode=rw")
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreWriteError(
                        f"the case database at {self.db_path} cannot use its write-ahead "
                        f"journal (journal mode {mode}); is the folder on a read-only or "
                        "network drive?",
                        READ_ONLY,
                    )
                self.conn.execute("PRAGMA synchronous = FULL")  # a stored visit survives power loss
                current = self.user_version()
                if 0 < current < latest:
                    self.backup(reason="before-migration")
                self._migrate(migrations, latest)
                for suffix in ("", "-wal", "-shm"):
                    make_private_file(self.db_path.with_name(DB_NAME + suffix))
                self.images.ensure()
                self.quarantined_now = self.quarantine_orphans()
                self._maybe_backup()
        except StoreError:
            self.close()
            raise
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise write_error(exc, self.data_dir) from None

    def _create(self, migrations: dict[int, Sequence[Step]], latest: int) -> None:
        """Build the new database under a temporary name, then move it into place.

        So a crash never leaves an empty or half-made ``history.sqlite3`` (which
        the next start would refuse); called under :meth:`locked`.
        """
        tmp = self.data_dir / f".{DB_NAME}.{os.getpid()}-{uuid.uuid4().hex[:8]}.new"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._conn = connect(f"{tmp.resolve().as_uri()}?mode=rw")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self._migrate(migrations, latest)
            self.close()  # the last connection checkpoints and removes the -wal
            if not self.db_path.exists():
                os.replace(tmp, self.db_path)
                fsync_dir(self.data_dir)
        finally:
            self.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    tmp.with_name(tmp.name + suffix).unlink()

    def _open_read_only(self, latest: int, why: str) -> None:
        """Reading only: no migration, no backup, no quarantine; every write says ``why``."""
        try:
            self._conn = self._file.connect_ro()
            version = self.user_version()
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"{why} It cannot be read either ({failure_cause(exc)[1]}).") from None
        if version < latest:
            self.close()
            raise StoreError(
                f"{why} The database needs an upgrade to schema version {latest}, "
                "which needs writing."
            )
        self.read_only_reason = why

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """``history.lock``: one process at a time creates, migrates, cleans up or backs up.

        Re-entrant within this store. Raises OSError where the lock file cannot
        be written (read-only disk): the caller then opens for reading only.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with lock.held(self.data_dir / LOCK_NAME, BUSY_TIMEOUT_S, self._lock_busy):
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def _lock_busy(self) -> StoreWriteError:
        return StoreWriteError(
            f"the case store at {self.data_dir} is locked by another {APP_NAME} "
            "that is starting up or backing it up; try again",
            LOCKED,
        )

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the case store is closed")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Schema -------------------------------------------------------------------------------
    def user_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: dict[int, Sequence[Step]], latest: int) -> None:
        current = self.user_version()
        if current > latest:  # a newer app wrote it between our check and now
            raise NewerSchemaError(
                f"the case database at {self.db_path} has schema version {current}, newer "
                f"than this {APP_NAME} knows ({latest}); it has not been changed."
            )
        for version in range(current + 1, latest + 1):
            try:
                with self.write():
                    for step in migrations[version]:
                        if callable(step):
                            step(self.conn)
                        else:
                            self.conn.execute(step)
                    self.conn.execute(
                        "INSERT INTO schema_version (version, applied, app_version) "
                        "VALUES (?, ?, ?)",
                        (version, now_utc(), __version__),
                    )
                    self.conn.execute(f"PRAGMA user_version = {int(version)}")
            except (StoreWriteError, sqlite3.Error) as exc:
                message = (
                    f"upgrading the case database at {self.db_path} to schema version {version} "
                    f"failed ({exc}); it was left at version {version - 1}, unchanged."
                )
                if isinstance(exc, StoreWriteError):
                    raise StoreWriteError(message, exc.cause) from None
                raise StoreError(message) from None

    # Transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock (``BEGIN IMMEDIATE``); all or nothing.

        Disk and lock failures become :class:`StoreWriteError`; other errors pass
        through after the rollback.
        """
        conn = self.conn
        if self.read_only_reason is not None:
            raise StoreWriteError(self.read_only_reason, READ_ONLY)
        if self._undo is not None:
            raise StoreError("transactions do not nest")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise write_error(exc, self.data_dir) from None
        self._undo = []
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            for undo in reversed(self._undo):  # still under the write lock
                with contextlib.suppress(Exception):
                    undo()
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError | OSError) and not isinstance(
                exc, FileNotFoundError
            ):
                raise write_error(exc, self.data_dir) from None
            raise
        finally:
            self._undo = None

    def on_rollback(self, undo: Callable[[], object]) -> None:
        """Inside :meth:`write`: run ``undo`` if the transaction does not commit."""
        if self._undo is None:
            raise StoreError("on_rollback outside a transaction")
        self._undo.append(undo)

    # Images -------------------------------------------------------------------------------
    def referenced_images(self) -> set[tuple[str, str]]:
        return {(sha, ext) for sha, ext in self.conn.execute("SELECT sha256, ext FROM image")}

    def quarantine_orphans(self) -> int:
        """Move image files no row names (and stale temp files) to ``quarantine/``.

        Looked for without any lock first (the usual case: none, so a plain
        read takes no write lock); only when there are some is the write lock
        taken, so no other process is between writing a file and committing,
        and the list is made again under it.
        """
        if not self.images.temp_files() and not self.images.orphans(self.referenced_images()):
            return 0
        with self.write():
            return self.images.quarantine_orphans(self.referenced_images(), self.quarantine_dir)

    def quarantined(self) -> list[tuple[str, str, Path]]:
        """Quarantined image files (sha256 from the name, ext, path): ``history recover``'s input."""
        return list(quarantined(self.quarantine_dir))

    def quarantine_count(self) -> int:
        """How many photos wait in ``quarantine/`` for ``history recover`` (the window shows it)."""
        return len(self.quarantined())

    def partial_files(self) -> list[Path]:
        """Quarantined temp files of interrupted adds (not photos that can be recovered)."""
        folder = self.quarantine_dir / PARTIAL_DIR
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def image_path(self, sha256: str) -> Path | None:
        row = self.conn.execute("SELECT ext FROM image WHERE sha256 = ?", (sha256,)).fetchone()
        return self.images.path_for(sha256, row[0]) if row else None

    def verified_image(self, sha256: str, what: str = "the stored photo") -> Path:
        """The image's path after checking its bytes against its SHA-256; DamagedPhotoError if not.

        Every use of a stored photo (re-classify, export, showing it) goes
        through this, so substituted or rotted bytes are never used as the photo.
        """
        path = self.image_path(sha256)
        if path is None:
            raise DamagedPhotoError(f"{what} ({sha256[:12]}…) has no image record")
        ext = path.suffix
        status = self.images.status(sha256, ext)
        if status != OK:
            change = "is missing" if status == "missing" else "was damaged or changed"
            raise DamagedPhotoError(
                f"{what} ({path}) {change}: its bytes do not match the SHA-256 it was stored "
                "under, so it was not used. Add the same photo again to restore it."
            )
        return path

    # Backups ------------------------------------------------------------------------------
    def backups(self) -> list[Path]:
        """Backups, oldest first (names sort by time)."""
        return self._backups.all()

    def last_backup(self) -> Path | None:
        return self._backups.last()

    def backup(self, reason: str = "") -> Path:
        """Copy the live database with SQLite's online backup API, then keep the last N.

        Written under a temporary name, checked, then renamed: a backup that
        exists under its real name is one that passed ``integrity_check``.
        Taken under ``history.lock`` so concurrent starts do not each write one.
        """
        if self.read_only_reason is not None:
            raise StoreWriteError(self.read_only_reason, READ_ONLY)
        try:
            with self.locked():
                return self._backups.write(self.conn, reason, self.keep_backups)
        except OSError as exc:  # the lock file cannot be written
            raise write_error(exc, self.backup_dir) from None

    def _maybe_backup(self) -> Path | None:
        """A rolling backup when the newest is older than the interval and there is data.

        Called under ``history.lock``, so "is one due" is decided by one process at a time.
        """
        if not self._backups.due(self.backup_interval_s):
            return None
        has_data = self.conn.execute("SELECT EXISTS (SELECT 1 FROM visit)").fetchone()[0]
        return self.backup() if has_data else None


def posix_mode(path: Path) -> int | None:
    """The permission bits (tests and ``history check``); None off POSIX."""
    return path.stat().st_mode & 0o777 if POSIX else None
