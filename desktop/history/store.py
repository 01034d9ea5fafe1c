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

The schema's migrations are in :mod:`~desktop.history.schema`, the errors and their
causes in :mod:`~desktop.history.store_errors`, the lock file in
:mod:`~desktop.history.lock`; their names are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from desktop import APP_NAME, __version__
from desktop.history import lock
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
DB_NAME = "history.sqlite3"
IMAGES_DIR = "images"
BACKUPS_DIR = "backups"
QUARANTINE_DIR = "quarantine"
LOCK_NAME = "history.lock"
SQLITE_MAGIC = b"SQLite format 3\x00"
BACKUP_PREFIX = "history-"
KEEP_BACKUPS = 10
BACKUP_INTERVAL_S = 6 * 3600.0
BUSY_TIMEOUT_S = 10.0


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
        self._refuse_wrong_files(latest)
        existed = self.db_path.exists()
        if existed:
            self._check_existing(latest)
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
                self._conn = self._connect(f"{self.db_path.resolve().as_uri()}?mode=rw")
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

    def _connect(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        conn.row_factory = sqlite3.Row  # by name or by index
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _create(self, migrations: dict[int, Sequence[Step]], latest: int) -> None:
        """Build the new database under a temporary name, then move it into place.

        So a crash never leaves an empty or half-made ``history.sqlite3`` (which
        the next start would refuse); called under :meth:`locked`.
        """
        tmp = self.data_dir / f".{DB_NAME}.{os.getpid()}-{uuid.uuid4().hex[:8]}.new"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._conn = self._connect(f"{tmp.resolve().as_uri()}?mode=rw")
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
            self._conn = self._connect_ro()
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

    def _connect_ro(self) -> sqlite3.Connection:
        """A read-only connection; ``immutable`` where even the -shm index cannot be made."""
        base = self.db_path.resolve().as_uri()
        try:
            conn = self._connect(base + "?mode=ro")
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            wal = self.db_path.with_name(DB_NAME + "-wal")
            if failure_cause(exc)[0] == LOCKED or (wal.exists() and wal.stat().st_size > 0):
                raise
            return self._connect(base + "?mode=ro&immutable=1")

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

    def _refuse_wrong_files(self, latest: int) -> None:
        """What sits where the folder or database should be, judged without touching it."""
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise NotADatabaseError(
                f"the case store folder {self.data_dir} is a file, not a folder. "
                "Nothing was changed; choose another --data-dir or move the file away."
            )
        if not self.db_path.exists() and not self.db_path.is_symlink():
            return
        if self.db_path.is_dir():
            raise NotADatabaseError(
                f"the case database {self.db_path} is a folder, not a database file. "
                "Nothing was changed; move that folder away to start a new store."
            )
        if not self.db_path.is_file():
            raise NotADatabaseError(
                f"the case database {self.db_path} is not a regular file (a broken link, "
                "a device or a pipe). Nothing was changed; move it away."
            )
        size = self.db_path.stat().st_size
        header = self._header_version()
        if size == 0 or header is None:
            what = "is empty (0 bytes)" if size == 0 else "is not an SQLite database"
            raise NotADatabaseError(
                f"the case database {self.db_path} {what}, so it is not a {APP_NAME} case "
                f"database. Nothing was changed (no file created, moved or deleted). "
                f"{self._restore_advice()}"
            )
        self._refuse_newer(header, latest)

    def _restore_advice(self) -> str:
        backup = self.last_backup()
        if backup is None:
            return f"There is no backup in {self.backup_dir}."
        n = count_visits(backup)
        held = f"{n} visit(s)" if n is not None else "its visits cannot be counted"
        return (
            f"The last good backup is {backup} ({held}); to restore it, follow "
            "'Restoring a backup' in the README."
        )

    def _header_version(self) -> int | None:
        """``user_version`` straight from the file header (bytes 60-63), touching nothing.

        None when the file is not an SQLite database. A version written only to a
        not yet checkpointed WAL is caught by the read-only connection below.
        """
        try:
            with open(self.db_path, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            raise StoreError(
                f"the case database at {self.db_path} cannot be read ({exc.strerror or exc})."
            ) from None
        if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
            return None
        return int.from_bytes(head[60:64], "big", signed=True)

    def _refuse_newer(self, version: int, latest: int) -> None:
        if version > latest:
            raise NewerSchemaError(
                f"the case database at {self.db_path} was written by a newer {APP_NAME} "
                f"(schema version {version}; this {APP_NAME} {__version__} knows up to "
                f"{latest}). It has not been changed. Update {APP_NAME} to open it."
            )

    def _check_existing(self, latest: int) -> None:
        """Newer version (from the header: no side effects) and integrity (read-only).

        The read-only connection writes nothing to the database file; for a WAL
        database SQLite may create its -shm index beside it. Only corruption the
        integrity check finds is called damage: a file that cannot be read for
        another reason (locked, no permission) says so.
        """
        try:
            ro = self._connect_ro()
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        try:
            try:
                version = int(ro.execute("PRAGMA user_version").fetchone()[0])
                self._refuse_newer(version, latest)
                rows = [r[0] for r in ro.execute("PRAGMA integrity_check").fetchall()]
            except sqlite3.Error as exc:
                raise self._unreadable(exc) from None
            if rows != ["ok"]:
                raise self._damaged("; ".join(str(r) for r in rows[:3]))
        finally:
            ro.close()

    def _unreadable(self, exc: sqlite3.Error) -> StoreError:
        """Damage (SQLite says corrupt / not a database) or the true other cause."""
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or not isinstance(
            exc, sqlite3.OperationalError
        ):
            return self._damaged(str(exc))
        cause, words = failure_cause(exc)
        return StoreWriteError(
            f"the case database at {self.db_path} cannot be read: {words}. Nothing was changed.",
            cause,
        )

    def _damaged(self, detail: str) -> DamagedStoreError:
        backup = self.last_backup()
        detail = " ".join(detail.split())[:200]
        if backup is not None:
            n_backup, n_damaged = count_visits(backup), count_visits(self.db_path)
            held = f"{n_backup} visit(s)" if n_backup is not None else "visits not countable"
            now = (
                f"{n_damaged} visit(s) still readable"
                if n_damaged is not None
                else "its visits cannot be counted"
            )
            advice = (
                f"The last good backup is {backup} ({held}; the damaged file: {now}). "
                f"Close {APP_NAME}, move the damaged file and its -wal/-shm files away and "
                f"copy that backup to {self.db_path} (README: 'Restoring a backup')."
            )
        else:
            advice = f"There is no backup in {self.backup_dir}."
        return DamagedStoreError(
            f"the case database at {self.db_path} is damaged (integrity check: {detail}). "
            f"Nothing was changed. {advice}",
            backup,
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
        if not self.backup_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.backup_dir.glob(f"{BACKUP_PREFIX}*.sqlite3")
            if p.is_file() and not p.name.endswith(".part")
        )

    def last_backup(self) -> Path | None:
        found = self.backups()
        return found[-1] if found else None

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
                return self._backup(reason)
        except OSError as exc:  # the lock file cannot be written
            raise write_error(exc, self.backup_dir) from None

    def _backup(self, reason: str) -> Path:
        make_private_dir(self.backup_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{BACKUP_PREFIX}{stamp}{'-' + reason if reason else ''}.sqlite3"
        final = self.backup_dir / name
        tmp = final.with_name(name + ".part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
            dest = sqlite3.connect(tmp)
            try:
                self.conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
                ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                dest.close()
            if ok != "ok":
                raise StoreError(f"the backup {tmp} failed its integrity check ({ok})")
            make_private_file(tmp)
            os.replace(tmp, final)
            fsync_dir(self.backup_dir)
        except (OSError, sqlite3.Error) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise write_error(exc, self.backup_dir) from None
        for old in self.backups()[: -self.keep_backups]:
            with contextlib.suppress(OSError):
                old.unlink()
        return final

    def _maybe_backup(self) -> Path | None:
        """A rolling backup when the newest is older than the interval and there is data.

        Called under ``history.lock``, so "is one due" is decided by one process at a time.
        """
        last = self.last_backup()
        if last is not None:
            try:
                age = time.time() - last.stat().st_mtime
            except OSError:
                age = float("inf")
            if age < self.backup_interval_s:
                return None
        has_data = self.conn.execute("SELECT EXISTS (SELECT 1 FROM visit)").fetchone()[0]
        return self.backup() if has_data else None


def posix_mode(path: Path) -> int | None:
    """The permission bits (tests and ``history check``); None off POSIX."""
    return path.stat().st_mode & 0o777 if POSIX else None
