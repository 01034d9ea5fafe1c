"""The case database: one SQLite file plus an image store and rolling backups.

Why SQLite from the standard library: one local file, transactions that
survive ``kill -9`` and power loss, an online backup API and no server or extra
dependency on a clinic PC. Layout of the data folder::

    history.sqlite3        the database (WAL journal: -wal/-shm beside it)
    images/ab/<sha256>.jpg content-addressed copies of every visit image
    backups/history-<UTC time>.sqlite3   the last N good copies

Start-up order matters: a database from a newer app is refused before anything
writes to it; ``PRAGMA integrity_check`` runs on a read-only connection; only
then are migrations applied (after a backup), orphan image files removed and a
rolling backup taken. Every failure is a :class:`StoreError` with a message a
user can act on. Qt-free: the window passes its own data folder in.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from desktop import APP_NAME, __version__
from desktop.history.images import (
    POSIX,
    ImageStore,
    fsync_dir,
    make_private_dir,
    make_private_file,
)

ENV_DATA_DIR = "LESIONLENS_DATA_DIR"
DB_NAME = "history.sqlite3"
IMAGES_DIR = "images"
BACKUPS_DIR = "backups"
BACKUP_PREFIX = "history-"
KEEP_BACKUPS = 10
BACKUP_INTERVAL_S = 6 * 3600.0
BUSY_TIMEOUT_S = 10.0

Step = str | Callable[[sqlite3.Connection], None]

# Migration N turns a version N-1 database into version N. Never edit a shipped
# step: add a new version instead. Steps run in one transaction with the
# version bump, so a failed migration leaves the old version untouched.
MIGRATIONS: dict[int, Sequence[Step]] = {
    1: (
        """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY,
            applied TEXT NOT NULL,
            app_version TEXT NOT NULL
        )""",
        """CREATE TABLE patient (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE lesion (
            id INTEGER PRIMARY KEY,
            patient_id INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            site TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            UNIQUE (patient_id, label)
        )""",
        """CREATE TABLE image (
            sha256 TEXT PRIMARY KEY,
            ext TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            added TEXT NOT NULL
        )""",
        """CREATE TABLE visit (
            id INTEGER PRIMARY KEY,
            lesion_id INTEGER NOT NULL REFERENCES lesion(id) ON DELETE CASCADE,
            taken TEXT NOT NULL,
            image_sha256 TEXT NOT NULL REFERENCES image(sha256),
            original_name TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""",
        """CREATE TABLE result (
            id INTEGER PRIMARY KEY,
            visit_id INTEGER NOT NULL REFERENCES visit(id) ON DELETE CASCADE,
            probabilities TEXT NOT NULL,
            label TEXT NOT NULL,
            melanoma_probability REAL NOT NULL,
            alert_level TEXT NOT NULL,
            verdict TEXT,
            headline TEXT,
            threshold REAL NOT NULL,
            uncertain INTEGER NOT NULL,
            uncertain_reasons TEXT NOT NULL DEFAULT '[]',
            model_version TEXT NOT NULL,
            model_sha256 TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX lesion_patient ON lesion(patient_id, label)",
        "CREATE INDEX visit_lesion ON visit(lesion_id, taken, id)",
        "CREATE INDEX visit_image ON visit(image_sha256)",
        "CREATE INDEX result_visit ON result(visit_id, id)",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(Exception):
    """The case store cannot be used as asked; ``str(err)`` says why and what to do."""


class NewerSchemaError(StoreError):
    """The database was written by a newer LesionLens; it is left untouched."""


class DamagedStoreError(StoreError):
    """``PRAGMA integrity_check`` failed; ``backup`` is the last good copy, if any."""

    def __init__(self, message: str, backup: Path | None) -> None:
        super().__init__(message)
        self.backup = backup


class StoreWriteError(StoreError):
    """A write failed (read-only or full disk, locked); nothing already stored was lost."""


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


def describe_os_error(exc: OSError | sqlite3.Error, where: Path) -> str:
    """One clear sentence for the ways a disk write fails."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) or "disk is full" in text:
        why = "the disk is full"
    elif (
        code in (errno.EROFS, errno.EACCES, errno.EPERM)
        or "readonly" in text
        or "read-only" in text
    ):
        why = "the folder or disk is read-only (or not yours to write)"
    elif "locked" in text or "busy" in text:
        why = f"another {APP_NAME} window or command is writing to it; try again"
    elif "unable to open" in text:
        why = "the database file cannot be opened (missing folder or no permission)"
    else:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot write to the case store at {where}: {why}. Nothing already stored was lost."


def _backup_time(path: Path) -> str:
    return path.name[len(BACKUP_PREFIX) : -len(".sqlite3")]


class Store:
    """An open case database. Use :meth:`open` (runs the start-up checks) and :meth:`write`.

    One connection, used from the thread that opened it. Another process may
    have the same store open: WAL lets readers and one writer work together.
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
        self.images = ImageStore(self.data_dir / IMAGES_DIR)
        self.keep_backups = max(1, int(keep_backups))
        self.backup_interval_s = backup_interval_s
        self._conn: sqlite3.Connection | None = None
        self._undo: list[Callable[[], object]] | None = None
        self.orphans_removed = 0

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
        """Open (creating if needed), check, migrate, clean up and back up; raises StoreError."""
        store = cls(
            data_dir if data_dir is not None else default_data_dir(),
            keep_backups=keep_backups,
            backup_interval_s=backup_interval_s,
        )
        store._open(migrations if migrations is not None else MIGRATIONS)
        return store

    def _open(self, migrations: dict[int, Sequence[Step]]) -> None:
        latest = max(migrations)
        existed = self.db_path.is_file()
        if existed:
            self._check_existing(latest)
        try:
            make_private_dir(self.data_dir, tighten=False)
            if not existed:
                fd = os.open(self.db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            self._conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            conn = self._conn
            conn.row_factory = sqlite3.Row  # by name or by index
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreWriteError(
                    f"the case database at {self.db_path} cannot use its write-ahead journal "
                    f"(journal mode {mode}); is the folder on a read-only or network drive?"
                )
            conn.execute("PRAGMA synchronous = FULL")  # a stored visit survives power loss
            current = self.user_version()
            if 0 < current < latest:
                self.backup(reason="before-migration")
            self._migrate(migrations, latest)
            for suffix in ("", "-wal", "-shm"):
                make_private_file(self.db_path.with_name(DB_NAME + suffix))
            self.images.ensure()
            self.orphans_removed = self.remove_orphans()
            self._maybe_backup()
        except StoreError:
            self.close()
            raise
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise StoreWriteError(describe_os_error(exc, self.data_dir)) from None

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
        database SQLite may create its -shm index beside it.
        """
        header = self._header_version()
        if header is None and self.db_path.stat().st_size > 0:
            raise self._damaged("not an SQLite database file")
        if header is not None:
            self._refuse_newer(header, latest)
        uri = self.db_path.resolve().as_uri() + "?mode=ro"
        try:
            ro = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise StoreError(
                f"the case database at {self.db_path} cannot be opened ({exc})."
            ) from None
        try:
            try:
                version = int(ro.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise self._damaged(str(exc)) from None
            self._refuse_newer(version, latest)
            try:
                rows = [r[0] for r in ro.execute("PRAGMA integrity_check").fetchall()]
            except sqlite3.DatabaseError as exc:
                raise self._damaged(str(exc)) from None
            if rows != ["ok"]:
                raise self._damaged("; ".join(str(r) for r in rows[:3]))
        finally:
            ro.close()

    def _damaged(self, detail: str) -> DamagedStoreError:
        backup = self.last_backup()
        detail = " ".join(detail.split())[:200]
        if backup is not None:
            advice = (
                f"The last good backup is {backup}. Close {APP_NAME}, move the damaged file "
                f"away and copy that backup to {self.db_path}."
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
                raise StoreError(
                    f"upgrading the case database at {self.db_path} to schema version {version} "
                    f"failed ({exc}); it was left at version {version - 1}, unchanged."
                ) from None

    # Transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock (``BEGIN IMMEDIATE``); all or nothing.

        Disk and lock failures become :class:`StoreWriteError`; other errors pass
        through after the rollback.
        """
        conn = self.conn
        if self._undo is not None:
            raise StoreError("transactions do not nest")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreWriteError(describe_os_error(exc, self.data_dir)) from None
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
                raise StoreWriteError(describe_os_error(exc, self.data_dir)) from None
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

    def remove_orphans(self) -> int:
        """Under the write lock, so no other process is between writing a file and committing."""
        with self.write():
            return self.images.remove_orphans(self.referenced_images())

    def image_path(self, sha256: str) -> Path | None:
        row = self.conn.execute("SELECT ext FROM image WHERE sha256 = ?", (sha256,)).fetchone()
        return self.images.path_for(sha256, row[0]) if row else None

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
        """
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
            raise StoreWriteError(describe_os_error(exc, self.backup_dir)) from None
        for old in self.backups()[: -self.keep_backups]:
            with contextlib.suppress(OSError):
                old.unlink()
        return final

    def _maybe_backup(self) -> Path | None:
        """A rolling backup when the newest is older than the interval and there is data."""
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
