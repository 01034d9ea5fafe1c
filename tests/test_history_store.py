"""The case store: schema and migrations, privacy, transactions, integrity, backups (synthetic data)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest

from desktop import verdict
from desktop.history import store as store_mod
from desktop.history.cli_store import result_text
from desktop.history.images import ImageStore
from desktop.history.service import (
    History,
    HistoryError,
    UnknownPatientError,
    melanoma_series,
)
from desktop.history.store import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    DamagedStoreError,
    NewerSchemaError,
    Store,
    StoreError,
    StoreWriteError,
    default_data_dir,
)
from desktop.history.transfer import results_csv
from desktop.results import classify_path
from tests.fakes import FakeClassifier, portable_case, probs_for, write_images
from tests.history_helpers import MODEL

POSIX = os.name == "posix"


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "src", [f"img{i}.png" for i in range(4)], size=96)


@pytest.fixture
def fake():
    return FakeClassifier()


def add(history, path, fake, patient="P1", lesion="left shoulder 1", **kw):
    return history.add_visit(patient, lesion, path, classify_path(fake, path), MODEL, **kw)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# Schema and migrations ------------------------------------------------------------------------


def test_new_store_has_current_schema_wal_and_foreign_keys(tmp_path):
    with Store.open(tmp_path / "data") as store:
        assert store.user_version() == SCHEMA_VERSION
        rows = store.conn.execute("SELECT version FROM schema_version").fetchall()
        assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError), store.write():
            store.conn.execute(
                "INSERT INTO lesion (patient_id, label, site, created) VALUES (999, 'x', 'y', 'z')"
            )


def test_migration_upgrades_keeps_data_and_backs_up_first(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data) as store:
        add(History(store), images[0], fake)
    nxt = SCHEMA_VERSION + 1
    newer = {
        **MIGRATIONS,
        nxt: ("ALTER TABLE visit ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0",),
    }
    with Store.open(data, migrations=newer) as store:
        assert store.user_version() == nxt
        versions = [r[0] for r in store.conn.execute("SELECT version FROM schema_version")]
        assert versions == list(range(1, nxt + 1))
        assert store.conn.execute("SELECT reviewed FROM visit").fetchall()[0][0] == 0
        assert len(History(store).show("P1")["lesions"][0]["visits"]) == 1
        assert any("before-migration" in p.name for p in store.backups())


def test_failed_migration_leaves_the_old_version_untouched(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data) as store:
        add(History(store), images[0], fake)
    nxt = SCHEMA_VERSION + 1
    broken = {
        **MIGRATIONS,
        nxt: ("ALTER TABLE visit ADD COLUMN x INTEGER", "SELECT * FROM nowhere"),
    }
    with pytest.raises(StoreError, match=f"version {nxt}"):
        Store.open(data, migrations=broken)
    with Store.open(data) as store:
        assert store.user_version() == SCHEMA_VERSION
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(visit)")]
        assert "x" not in columns
        assert len(History(store).show("P1")["lesions"][0]["visits"]) == 1


def test_newer_schema_is_refused_and_not_modified(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data) as store:
        add(History(store), images[0], fake)
    conn = sqlite3.connect(data / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = snapshot(data)
    with pytest.raises(NewerSchemaError) as exc:
        Store.open(data)
    message = str(exc.value)
    assert "newer" in message and "not been changed" in message and "\n" not in message
    assert snapshot(data) == before


# Privacy --------------------------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_files_are_private_even_with_an_open_umask(tmp_path, images, fake):
    old = os.umask(0)
    try:
        data = tmp_path / "a" / "data"
        with Store.open(data, backup_interval_s=0) as store:
            add(History(store), images[0], fake)
            store.backup()
        for folder in (tmp_path / "a", data, data / "images", data / "backups"):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
        files = [p for p in data.rglob("*") if p.is_file()]
        assert any(p.suffix == ".png" for p in files) and any("backups" in p.parts for p in files)
        for f in files:
            assert f.stat().st_mode & 0o777 == 0o600, f
    finally:
        os.umask(old)


# Transactions ---------------------------------------------------------------------------------


def _counts(store: Store) -> tuple[int, ...]:
    return tuple(
        store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("patient", "lesion", "visit", "image", "result")
    )


def _image_files(data: Path) -> list[Path]:
    return [p for p in (data / "images").rglob("*") if p.is_file()]


def test_visit_add_is_all_or_nothing(tmp_path, images, fake, monkeypatch):
    data = tmp_path / "data"
    with Store.open(data) as store:
        history = History(store)

        def boom(*_a, **_k):
            raise RuntimeError("power cut while writing the result")

        monkeypatch.setattr(History, "_insert_result", boom)
        with pytest.raises(RuntimeError):
            add(history, images[0], fake)
        assert _counts(store) == (0, 0, 0, 0, 0)
        assert _image_files(data) == []  # the copied image went with the rollback
        monkeypatch.undo()
        record = add(history, images[0], fake)
        assert Path(record["image"]["file"]).is_file()
        assert _counts(store) == (1, 1, 1, 1, 1)


def test_full_disk_gives_a_clear_message_and_loses_nothing(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data) as store:
        history = History(store)
        add(history, images[0], fake)
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreWriteError) as exc:
            for img in images[1:]:  # one of these needs a new page
                add(history, img, fake, note="a long clinician note " * 180)
        assert "disk is full" in str(exc.value) and "Nothing already stored was lost" in str(
            exc.value
        )
    with Store.open(data) as store:
        visits = History(store).show("P1")["lesions"]
        assert sum(len(lesion["visits"]) for lesion in visits) >= 1
        stored = {v["image"]["sha256"] for lesion in visits for v in lesion["visits"]}
        on_disk = {p.stem for p in _image_files(data)}
        assert on_disk == stored  # no orphan left from the failed add


def test_read_only_database_gives_a_clear_message(tmp_path, images, fake):
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        add(history, images[0], fake)
        store.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StoreWriteError, match="read-only"):
            add(history, images[1], fake)
        store.conn.execute("PRAGMA query_only = OFF")
        assert len(history.show("P1")["lesions"][0]["visits"]) == 1


def test_image_store_write_failure_is_reported_as_a_store_problem(
    tmp_path, images, fake, monkeypatch
):
    with Store.open(tmp_path / "data") as store:
        history = History(store)

        def no_space(self, src, ext):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(ImageStore, "put_stream", no_space)
        with pytest.raises(StoreWriteError, match="disk is full"):
            add(history, images[0], fake)
        assert _counts(store) == (0, 0, 0, 0, 0)


def test_orphan_and_temp_files_are_quarantined_not_deleted_at_start_up(tmp_path, images, fake):
    """Was: removed at start-up. Now moved to quarantine/ under the same name, never deleted."""
    data = tmp_path / "data"
    with Store.open(data) as store:
        kept = Path(add(History(store), images[0], fake)["image"]["file"])
    orphan = data / "images" / "ab" / ("ab" + "0" * 62 + ".png")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"left by a killed process")
    temp = data / "images" / ".tmp" / "123-abc.part"
    temp.write_bytes(b"half")
    with Store.open(data) as store:
        assert store.quarantined_now == 2
        assert store.quarantine_count() == 1
        assert [p.name for p in store.partial_files()] == ["123-abc.part"]
    assert kept.is_file() and not orphan.exists() and not temp.exists()
    moved = data / "quarantine" / "ab" / orphan.name
    assert moved.read_bytes() == b"left by a killed process"
    assert (data / "quarantine" / "partial" / "123-abc.part").read_bytes() == b"half"


# Integrity and backups ------------------------------------------------------------------------


def test_damaged_database_names_the_last_good_backup(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data) as store:
        history = History(store)
        for img in images:
            add(history, img, fake, note="x" * 3000)
        backup = store.backup()
    db = data / DB_NAME
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    raw[2 * page : 4 * page] = os.urandom(2 * page)
    db.write_bytes(bytes(raw))
    before = snapshot(data)
    with pytest.raises(DamagedStoreError) as exc:
        Store.open(data)
    message = str(exc.value)
    assert "damaged" in message and str(backup) in message and str(db) in message
    assert exc.value.backup == backup
    after = snapshot(data)
    assert after[DB_NAME] == before[DB_NAME]  # nothing written over the evidence
    assert {k for k in after if not k.startswith(DB_NAME + "-")} == set(before)
    assert sqlite3.connect(backup).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_damaged_database_without_backup_says_so(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_NAME).write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    with pytest.raises(StoreError, match="no backup|damaged|cannot be opened"):
        Store.open(data)


def test_backups_roll_keeping_the_last_n(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data, keep_backups=3) as store:
        history = History(store)
        made = []
        for img in images:
            add(history, img, fake)
            made.append(store.backup())
        kept = store.backups()
        assert kept == made[-3:]
        for i, b in enumerate(kept, start=2):
            conn = sqlite3.connect(b)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0] == i
            conn.close()


def test_backup_at_start_up_only_when_due(tmp_path, images, fake):
    data = tmp_path / "data"
    with Store.open(data, keep_backups=2) as store:
        add(History(store), images[0], fake)
        assert store.backups() == []  # new and empty at open: nothing to back up yet
    Store.open(data, keep_backups=2).close()
    assert len(Store(data).backups()) == 1
    Store.open(data, keep_backups=2).close()  # the last one is recent: no new one
    assert len(Store(data).backups()) == 1
    for _ in range(3):
        Store.open(data, keep_backups=2, backup_interval_s=0).close()
    assert len(Store(data).backups()) == 2


def test_default_data_dir_prefers_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(store_mod.ENV_DATA_DIR, str(tmp_path / "cases"))
    assert default_data_dir() == tmp_path / "cases"
    monkeypatch.delenv(store_mod.ENV_DATA_DIR)
    assert default_data_dir().parts[-2:] == ("LesionLens", "LesionLens")


# The service ----------------------------------------------------------------------------------


def test_show_orders_visits_by_date_and_keeps_every_result(tmp_path, images, fake):
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        add(history, images[0], fake, taken="2024-05-01", site="posterior torso")
        add(history, images[1], fake, taken="2023-01-15", before_first=True)  # an older photo
        add(history, images[2], fake, lesion="scalp", taken="2022-02-02", site="head/neck",
            before_first=True)  # fmt: skip
        case = history.show("P1")
        assert [lesion["label"] for lesion in case["lesions"]] == ["scalp", "left shoulder 1"]
        shoulder = case["lesions"][1]
        assert shoulder["site"] == "posterior torso"
        assert [v["date"] for v in shoulder["visits"]] == ["2023-01-15", "2024-05-01"]
        result = shoulder["visits"][0]["results"][0]
        assert set(result["probabilities"]) == set(fake.card.classes)
        assert result["threshold"] == fake.card.melanoma_threshold
        assert result["model_version"] == "test-1" and result["model_sha256"] == "0" * 64
        assert result["alert_level"] == "no_alert" and result["verdict"] == "no_alert"
        json.dumps(case)  # JSON-ready

        alert = FakeClassifier(probabilities=probs_for(fake.card.classes, melanoma=0.7))
        visit_id = shoulder["visits"][0]["id"]
        history.add_result(visit_id, classify_path(alert, images[1]), MODEL)
        visit = history.visit(visit_id)
        assert [r.alert_level for r in visit.results] == ["no_alert", "alert"]
        series = melanoma_series(history.lesion(visit.lesion_id).visits)
        assert series[0].level == "alert" and series[0].earlier == (pytest.approx(0.025),)
        assert history.patients("p")[0].alerts == 1
        with pytest.raises(UnknownPatientError):
            history.show("nobody")


def test_a_stored_melanoma_figure_is_the_one_its_bars_showed(tmp_path, images):
    """Rounded alone, 0.79549 is 79.5 %; the bars (rounded to add up to 100) said 79.6 %. The
    timeline, the case PDF and `history show` read the stored figure as the bars showed it."""
    classes = FakeClassifier().card.classes
    named = {"melanoma": 0.79549, "nevus": 0.10226, "basal cell carcinoma": 0.10225}
    probs = [named.get(c, 0.0) for c in classes]
    classifier = FakeClassifier(probabilities=probs)
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        add(history, images[0], classifier)
        case = history.show("P1")
        visit = history.visit(case["lesions"][0]["visits"][0]["id"])
    r = visit.current
    pred = classify_path(classifier, images[0]).prediction
    shown = verdict.shown_percent_texts(pred)[1]
    assert verdict.percent(r.melanoma_probability, 1) != shown  # the case the change is for
    assert r.melanoma_text == shown
    assert shown in result_text(r)
    # the chart's accessible text (what a screen reader says) reads the same figure
    assert melanoma_series([visit])[0].text == shown
    # an older store's result without probabilities: the stored figure, rounded alone
    bare = dataclasses.replace(r, probabilities=None)
    assert bare.melanoma_text == verdict.percent(r.melanoma_probability, 1)


def test_records_read_by_attribute_print_the_json_keys_in_their_order(tmp_path, images, fake):
    """The window reads frozen records; the command line prints their JSON, whose keys and
    order scripts (and case.json) rely on."""
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        record = add(history, images[0], fake, taken="2024-05-01", laterality="left")
        history.set_outcome(record["lesion_id"], "nevus", "2024-05-02")
        lesion = history.lesion(record["lesion_id"])
        visit = lesion.visits[0]
        assert (visit.image.file, visit.current.label) == (record["image"]["file"], "nevus")
        assert list(record) == [
            *("id", "date", "note", "created", "decision", "next_review", "image", "results"),
            *("number", "edits", "patient", "lesion", "site", "laterality", "lesion_id"),
        ]
        assert history.visit_record(visit.id) == lesion.visit_json(visit)
        photo_keys = ["sha256", "ext", "bytes", "original_name", "file", "status"]
        assert list(record["image"]) == list(visit.image.to_json()) == photo_keys
        assert list(record["results"][0])[:4] == ["id", "created", "label", "probabilities"]
        assert list(lesion.to_json()) == [
            *("id", "label", "site", "laterality", "note", "created", "patient", "outcome"),
            *("edits", "visits"),
        ]
        case = history.show("P1")
        assert case == history.case("P1").to_json()
        assert "patient" not in case["lesions"][0]
        assert case["lesions"][0]["outcome"] == lesion.outcome.to_json()
        assert case["lesions"][0]["visits"] == [visit.to_json()]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"taken": "2024-13-01"}, "does not exist"),
        ({"taken": "01/02/2024"}, "YYYY-MM-DD"),
        ({"taken": "2999-01-01"}, "future"),
        ({"site": "elbow"}, "unknown body site"),
        ({"patient": "   "}, "must not be empty"),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(tmp_path, images, fake, kwargs, match):
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        with pytest.raises(HistoryError, match=match):
            add(history, images[0], fake, **kwargs)
        assert _counts(store) == (0, 0, 0, 0, 0)


def test_delete_says_images_go_too_and_keeps_shared_ones(tmp_path, images, fake):
    with Store.open(tmp_path / "data") as store:
        history = History(store)
        add(history, images[0], fake)
        add(history, images[1], fake)
        shared = add(history, images[0], fake, patient="P2")  # same photo in another case
        plan = history.plan_delete("P1")
        assert "image" in plan.message() and len(plan.visit_ids) == 2 and plan.images == 1
        assert history.delete(plan) == 1
        assert Path(shared["image"]["file"]).is_file()
        assert [p.code for p in history.patients()] == ["P2"]
        assert _counts(store) == (1, 1, 1, 1, 1)


def test_export_and_import_round_trip(tmp_path, images, fake):
    with Store.open(tmp_path / "one") as store:
        history = History(store)
        add(history, images[0], fake, taken="2023-03-03", note="=SUM(A1)")
        add(history, images[1], fake, taken="2024-04-04", site="unspecified")
        original = history.show("P1")
        summary = history.export("P1", tmp_path / "out")
        assert summary.images == 2 and summary.pdfs == []
        text = summary.csv.read_text(encoding="utf-8-sig")
        assert "'=SUM(A1)" in text and len(text.strip().splitlines()) == 3
        assert results_csv(original).count("\n") == 3
        with pytest.raises(HistoryError, match="not an empty folder"):
            history.export("P1", tmp_path / "out")
    with Store.open(tmp_path / "two") as store:
        history = History(store)
        imported = history.import_case(tmp_path / "out")
        assert portable_case(imported) == portable_case(original)
        with pytest.raises(HistoryError, match="already exists"):
            history.import_case(tmp_path / "out")
        assert history.import_case(tmp_path / "out", as_patient="P1-copy")["patient"] == "P1-copy"


def test_import_refuses_a_tampered_image_and_stores_nothing(tmp_path, images, fake):
    with Store.open(tmp_path / "one") as store:
        history = History(store)
        add(history, images[0], fake)
        history.export("P1", tmp_path / "out")
    victim = next((tmp_path / "out" / "images").iterdir())
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with Store.open(tmp_path / "two") as store:
        with pytest.raises(HistoryError, match="SHA-256"):
            History(store).import_case(tmp_path / "out")
        assert _counts(store) == (0, 0, 0, 0, 0)
    assert _image_files(tmp_path / "two") == []
