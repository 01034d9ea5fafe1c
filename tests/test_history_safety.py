"""The case store never loses or alters what a clinic stored (synthetic data in tmp folders).

Start-up moves unknown photos to quarantine/ instead of deleting them; a wrong file where
the database should be is refused untouched; write failures name their true cause and the
store still reads; stored photos are checked by hash; concurrent starts take one lock.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from desktop.history import lock
from desktop.history import store as store_mod
from desktop.history.service import History, HistoryError
from desktop.history.store import (
    DB_NAME,
    LOCK_NAME,
    SCHEMA_VERSION,
    NotADatabaseError,
    Store,
    StoreWriteError,
)
from desktop.results import classify_path
from tests.fakes import FakeClassifier, write_images
from tests.history_helpers import MODEL
from tests.history_helpers import run as run_history

POSIX = os.name == "posix"


def run(argv, fake=None):
    """``history ARGV``, answering yes to every question."""
    return run_history(argv, fake, confirm=lambda _m: True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def photos(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*.png")} if folder.is_dir() else set()


@pytest.fixture
def imgs(tmp_path):
    return write_images(tmp_path / "src", [f"img{i}.png" for i in range(6)], size=64)


@pytest.fixture
def data(tmp_path, imgs):
    """A store with patient P1: two visits."""
    folder = tmp_path / "data"
    assert run(add_args(folder, imgs[0], imgs[1]))[0] == 0
    return folder


def add_args(data: Path, *images: Path, patient: str = "P1") -> list[str]:
    return ["add", "--data-dir", str(data), "--patient", patient, "--lesion", "back",
            "--date", "2024-01-01", *map(str, images)]  # fmt: skip


def visit_count(data: Path) -> int:
    conn = sqlite3.connect(data / DB_NAME)
    try:
        return conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0]
    finally:
        conn.close()


# 1. Nothing is deleted at start-up ---------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"this is a text file, not SQLite" * 10])
def test_empty_or_non_sqlite_database_is_refused_and_nothing_touched(data, content, capsys):
    (data / DB_NAME).write_bytes(content)
    for extra in ("-wal", "-shm"):
        (data / (DB_NAME + extra)).unlink(missing_ok=True)
    before = snapshot(data)
    assert photos(data / "images")
    with pytest.raises(NotADatabaseError) as exc:
        Store.open(data)
    message = str(exc.value)
    assert ("empty (0 bytes)" if not content else "not an SQLite database") in message
    assert "Nothing was changed" in message and "\n" not in message
    assert snapshot(data) == before  # no photo moved or deleted, no file created
    capsys.readouterr()
    assert run(["show", "--data-dir", str(data), "--patient", "P1"])[0] == 4
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert snapshot(data) == before


def test_database_that_is_a_folder_says_so(tmp_path, capsys):
    data = tmp_path / "data"
    (data / DB_NAME).mkdir(parents=True)
    assert run(["show", "--data-dir", str(data), "--patient", "P1"])[0] == 4
    err = capsys.readouterr().err
    assert "is a folder, not a database file" in err and "Errno" not in err
    assert sorted(p.name for p in data.iterdir()) == [DB_NAME]


def test_lost_wal_file_quarantines_its_photos_and_recover_brings_them_back(tmp_path, imgs):
    data = tmp_path / "data"
    with Store.open(data) as store:
        history = History(store)
        history.add_visit("P1", "back", imgs[0], classify_path(FakeClassifier(), imgs[0]), MODEL)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.conn.execute("PRAGMA wal_autocheckpoint = 0")
        main_file = (data / DB_NAME).read_bytes()  # before the next visits reach it
        for img in imgs[1:4]:
            history.add_visit("P1", "back", img, classify_path(FakeClassifier(), img), MODEL)
        taken = {v["image"]["sha256"] for v in history.show("P1")["lesions"][0]["visits"]}
    (data / DB_NAME).write_bytes(main_file)  # the crash that lost the -wal file
    for extra in ("-wal", "-shm"):
        (data / (DB_NAME + extra)).unlink(missing_ok=True)
    with Store.open(data) as store:
        assert store.quarantined_now == 3 and store.quarantine_count() == 3
        report = History(store).recover()
        assert len(report.visit_ids) == 3 and not report.skipped
        back = {History(store).visit(v).image.sha256 for v in report.visit_ids}
    assert back | {next(iter(taken - back))} == taken
    assert visit_count(data) == 4
    assert not list((data / "quarantine").rglob("*.png"))


def test_explicit_delete_still_removes_its_photos(data):
    assert run(["delete", "--data-dir", str(data), "--patient", "P1", "--yes"])[0] == 0
    assert photos(data / "images") == set() and photos(data / "quarantine") == set()


def test_recover_skips_a_file_whose_bytes_do_not_match_its_name(tmp_path, data, capsys):
    bogus = data / "quarantine" / "ab" / ("ab" + "1" * 62 + ".png")
    bogus.parent.mkdir(parents=True)
    bogus.write_bytes(b"not what the name says")
    code, text = run(["recover", "--data-dir", str(data), "--patient", "P9", "--lesion", "arm"])
    assert code == 3 and json.loads(text) == []
    assert "do not match the SHA-256" in capsys.readouterr().err
    assert bogus.is_file()  # left where it was


# 7. The restore procedure of the README, end to end ------------------------------------------


def test_restore_backup_then_quarantine_check_and_recover(tmp_path, imgs, capsys):
    data = tmp_path / "data"
    assert run(add_args(data, imgs[0], imgs[1]))[0] == 0
    code, text = run(["backup", "--data-dir", str(data)])
    assert code == 0
    backup = Path(text.strip())
    assert run(add_args(data, imgs[2], imgs[3], imgs[4]))[0] == 0  # taken after the backup
    assert visit_count(data) == 5
    # README "Restoring a backup": move the database and its -wal/-shm away, copy the backup.
    aside = tmp_path / "damaged-aside"
    aside.mkdir()
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
        if (data / name).exists():
            shutil.move(data / name, aside / name)
    shutil.copyfile(backup, data / DB_NAME)
    capsys.readouterr()
    code, text = run(["check", "--data-dir", str(data)])
    assert code == 0 and "3 photo(s) in quarantine, recoverable" in text
    err = capsys.readouterr().err
    assert err.count("recoverable: ") == 3
    assert len(photos(data / "quarantine")) == 3  # moved, not deleted
    code, text = run(["recover", "--data-dir", str(data), "--patient", "P1", "--lesion", "back"])
    assert code == 0
    records = json.loads(text)
    assert len(records) == 3 and all("recovered" in r["note"] for r in records)
    assert all(r["results"] == [] and r["image"]["status"] == "ok" for r in records)
    assert visit_count(data) == 5
    code, text = run(["show", "--data-dir", str(data), "--patient", "P1"])
    assert code == 0 and text.count("no result yet") == 3
    assert run(["reclassify", "--data-dir", str(data), "--visit", str(records[0]["id"])])[0] == 0


# 2. The true cause of a write failure; reading still works -----------------------------------


def _deny_writes(monkeypatch, root: Path, code: int) -> None:
    """Every create/replace/mkdir under ``root`` fails with ``code`` (root ignores chmod)."""
    root = root.resolve()
    real_open, real_replace, real_mkdir = os.open, os.replace, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def inside(path) -> bool:
        return Path(os.fspath(path)).resolve().is_relative_to(root)

    def fail(path):
        raise OSError(code, os.strerror(code), os.fspath(path))

    def open_(path, flags, *a, **k):
        new = not Path(os.fspath(path)).exists()
        if flags & writing and inside(path) and (code != errno.ENOSPC or new):
            fail(path)
        return real_open(path, flags, *a, **k)

    def replace(src, dst, *a, **k):
        if inside(dst):
            fail(dst)
        return real_replace(src, dst, *a, **k)

    def mkdir(path, *a, **k):
        if inside(path):
            fail(path)
        return real_mkdir(path, *a, **k)

    real_connect = sqlite3.connect

    def connect(target, *a, **k):
        conn = real_connect(target, *a, **k)
        if "mode=rw" in str(target) and inside(str(target).split("?")[0].removeprefix("file:")):
            if code == errno.ENOSPC:  # SQLite: "database or disk is full"
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {pages}")
            else:  # SQLite: "attempt to write a readonly database"
                conn.execute("PRAGMA query_only = ON")
        return conn

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(sqlite3, "connect", connect)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "the disk is read-only"),
        (errno.EACCES, "no permission to write"),
        (errno.ENOSPC, "the disk is full"),
    ],
)
def test_unwritable_store_reads_and_names_the_true_cause(
    tmp_path, data, imgs, monkeypatch, capsys, code, words
):
    orphan = data / "images" / "cd" / ("cd" + "2" * 62 + ".png")
    orphan.parent.mkdir()
    orphan.write_bytes(b"a photo without a row")
    shutil.rmtree(data / "backups", ignore_errors=True)  # so a backup would be due
    (data / LOCK_NAME).touch()
    before = snapshot(data)
    _deny_writes(monkeypatch, tmp_path, code)
    with Store.open(data, backup_interval_s=0) as store:
        assert store.read_only_reason and words in store.read_only_reason
    capsys.readouterr()
    code_show, text = run(["show", "--data-dir", str(data), "--patient", "P1", "--json"])
    assert code_show == 0 and len(json.loads(text)["lesions"][0]["visits"]) == 2
    assert "reading only" in capsys.readouterr().err
    assert run(["check", "--data-dir", str(data)])[0] == 0
    monkeypatch.undo()  # another disk for the export
    out = tmp_path.parent / f"{tmp_path.name}-export"
    _deny_writes(monkeypatch, data, code)
    assert run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out),
                "--no-pdf"])[0] == 0  # fmt: skip
    assert len(list((out / "images").iterdir())) == 2
    capsys.readouterr()
    assert run(add_args(data, imgs[3]))[0] == 4
    err = capsys.readouterr().err
    assert words in err and "damaged" not in err and "backup" not in err
    monkeypatch.undo()
    wal = (DB_NAME + "-wal", DB_NAME + "-shm")  # made by SQLite's C code, not patched here
    after = {k: v for k, v in snapshot(data).items() if k not in wal}
    assert after == before  # no migration, backup or quarantine move
    assert orphan.is_file()


def test_locked_by_another_lesionlens_is_said_so(data, monkeypatch, capsys):
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    fd = os.open(data / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        assert lock.try_lock(fd)
        capsys.readouterr()
        assert run(["show", "--data-dir", str(data), "--patient", "P1"])[0] == 4
        err = capsys.readouterr().err
        assert "locked by another LesionLens" in err and "damaged" not in err
    finally:
        lock.unlock(fd)
        os.close(fd)


def test_an_unreadable_database_is_not_called_damaged(data, monkeypatch):
    real = sqlite3.connect

    def busy(target, *a, **k):
        if "mode=ro" in str(target):
            raise sqlite3.OperationalError("database is locked")
        return real(target, *a, **k)

    monkeypatch.setattr(sqlite3, "connect", busy)
    with pytest.raises(StoreWriteError) as exc:
        Store.open(data)
    assert "another LesionLens" in str(exc.value) and "damaged" not in str(exc.value)


def test_damaged_database_counts_the_visits_of_the_backup(tmp_path, imgs):
    data = tmp_path / "data"
    with Store.open(data) as store:
        history = History(store)
        for img in imgs[:4]:
            history.add_visit(
                "P1", "back", img, classify_path(FakeClassifier(), img), MODEL, note="x" * 3000
            )
        store.backup()
    db = data / DB_NAME
    raw = bytearray(db.read_bytes())
    raw[2 * 4096 : 4 * 4096] = os.urandom(2 * 4096)
    db.write_bytes(bytes(raw))
    with pytest.raises(store_mod.DamagedStoreError) as exc:
        Store.open(data)
    assert "(4 visit(s);" in str(exc.value) and "Restoring a backup" in str(exc.value)


# 3. Stored photos are checked by hash before any use -----------------------------------------


def _stored(data: Path) -> Path:
    return next((data / "images").rglob("*.png"))


def test_reclassify_and_export_refuse_a_substituted_photo(data, tmp_path, capsys):
    for victim in (data / "images").rglob("*.png"):
        victim.write_bytes(victim.read_bytes()[::-1])  # same size, other bytes
    fake = FakeClassifier()
    capsys.readouterr()
    assert run(["reclassify", "--data-dir", str(data), "--visit", "1"], fake)[0] == 4
    assert fake.calls == 0  # the substituted bytes were never classified
    err = capsys.readouterr().err
    assert "was damaged or changed" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "export"
    assert run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out),
                "--no-pdf"])[0] == 4  # fmt: skip
    assert not out.exists()


def test_show_flags_missing_and_damaged_photos(data, capsys):
    files = sorted((data / "images").rglob("*.png"))
    files[0].unlink()
    files[1].write_bytes(b"changed")
    code, text = run(["show", "--data-dir", str(data), "--patient", "P1"])
    assert code == 0 and "photo missing" in text and "photo damaged/changed" in text
    case = json.loads(run(["show", "--data-dir", str(data), "--patient", "P1", "--json"])[1])
    statuses = sorted(v["image"]["status"] for v in case["lesions"][0]["visits"])
    assert statuses == ["damaged", "missing"]


def test_adding_the_same_photo_again_restores_a_damaged_copy(data, imgs):
    victim = next(
        p for p in (data / "images").rglob("*.png") if p.read_bytes() == imgs[0].read_bytes()
    )
    good = victim.read_bytes()
    victim.write_bytes(bytes(len(good)))  # same size: was matched by size and kept
    assert run(add_args(data, imgs[0]))[0] == 0
    assert victim.read_bytes() == good
    assert run(["check", "--data-dir", str(data)])[0] == 0


# 4. Concurrency -------------------------------------------------------------------------------


def _open_store(args: tuple[str, object]) -> str:
    folder, barrier = args
    barrier.wait(10)
    try:
        with Store.open(folder, backup_interval_s=3600) as store:
            return f"ok {store.user_version()}"
    except Exception as exc:  # reported to the parent
        return f"{type(exc).__name__}: {exc}"


def _import(args: tuple[str, str, object]) -> str:
    folder, export, barrier = args
    barrier.wait(10)
    try:
        with Store.open(folder) as store:
            History(store).import_case(Path(export))
        return "ok"
    except HistoryError as exc:
        return f"refused: {exc}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _in_parallel(fn, args: list) -> list[str]:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(len(args)) as pool:
        return pool.map(fn, args)


@pytest.mark.skipif(not POSIX, reason="fork")
def test_eight_concurrent_first_starts_make_one_store(tmp_path):
    folder = tmp_path / "new"
    barrier = multiprocessing.get_context("fork").Manager().Barrier(8)
    results = _in_parallel(_open_store, [(str(folder), barrier)] * 8)
    assert results == [f"ok {SCHEMA_VERSION}"] * 8
    conn = sqlite3.connect(folder / DB_NAME)
    versions = conn.execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # each step applied once
    conn.close()
    assert not list(folder.glob(".*.new*"))  # no temporary database left behind


@pytest.mark.skipif(not POSIX, reason="fork")
def test_eight_concurrent_reads_take_one_backup(data):
    shutil.rmtree(data / "backups", ignore_errors=True)
    barrier = multiprocessing.get_context("fork").Manager().Barrier(8)
    assert _in_parallel(_open_store, [(str(data), barrier)] * 8) == [f"ok {SCHEMA_VERSION}"] * 8
    assert len(list((data / "backups").glob("history-*.sqlite3"))) == 1


@pytest.mark.skipif(not POSIX, reason="fork")
def test_five_concurrent_imports_of_one_export(data, tmp_path):
    out = tmp_path / "export"
    assert run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out),
                "--no-pdf"])[0] == 0  # fmt: skip
    other = tmp_path / "other"
    Store.open(other).close()
    barrier = multiprocessing.get_context("fork").Manager().Barrier(5)
    results = _in_parallel(_import, [(str(other), str(out), barrier)] * 5)
    assert results.count("ok") == 1, results
    assert all(r == "ok" or ("refused" in r and "already exists" in r) for r in results), results
    assert visit_count(other) == 2


def test_window_shows_how_many_photos_wait_in_quarantine(qtbot, data):
    from PySide6.QtWidgets import QMainWindow

    from desktop.qt.controllers.history import HistoryController

    stray = data / "images" / "ef" / ("ef" + "3" * 62 + ".png")
    stray.parent.mkdir()
    stray.write_bytes(b"photo of a lost visit")
    host = QMainWindow()
    qtbot.addWidget(host)
    controller = HistoryController(host, data_dir=data)
    try:
        assert controller.history() is not None
        assert controller.quarantined == 1
        message = host.statusBar().currentMessage()
        assert message.startswith("1 stored photo(s)") and "history recover" in message
    finally:
        controller.shutdown()


# 6. The kill -9 soak, small ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not POSIX, reason="SIGKILL")
def test_kill_9_soak_loses_nothing(capsys):
    from benchmarks import history_soak

    assert history_soak.main(["--kills", "5"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "visits lost: 0, photos lost: 0"
    assert out.startswith("20 kills")
