"""``python -m desktop history …``: add/show/export/import, exit codes, and kill -9 mid-batch."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from desktop.history import cli as hcli
from desktop.history.store import DB_NAME, SCHEMA_VERSION, Store
from tests.fakes import FakeClassifier, fresh_python, portable_case, probs_for, write_images
from tests.history_helpers import run

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "assets" / "model.tflite"


@pytest.fixture
def imgs(tmp_path):
    return write_images(tmp_path / "src", ["a.png", "b.png", "c.png"], size=96)


def test_add_stores_and_prints_records_then_show_lists_them(data, imgs, capsys):
    code, text = run(
        ["add", "--data-dir", str(data), "--patient", "P-0042", "--lesion", "left shoulder 1",
         "--site", "posterior torso", "--date", "2024-02-03", str(imgs[0]), str(imgs[1])]
    )  # fmt: skip
    assert code == 0
    records = json.loads(text)
    assert [r["image"]["original_name"] for r in records] == ["a.png", "b.png"]
    for r in records:
        assert r["patient"] == "P-0042" and r["lesion"] == "left shoulder 1"
        assert r["site"] == "posterior torso" and r["date"] == "2024-02-03"
        assert Path(r["image"]["file"]).is_file()
        res = r["results"][0]
        assert {
            "probabilities",
            "alert_level",
            "threshold",
            "model_version",
            "model_sha256",
        } <= set(res)
    assert "stored 2/2" in capsys.readouterr().err
    run(["add", "--data-dir", str(data), "--patient", "P-0042", "--lesion", "left shoulder 1",
         "--date", "2023-12-01", "--before-first", str(imgs[2])])  # fmt: skip
    code, text = run(["show", "--data-dir", str(data), "--patient", "P-0042", "--json"])
    assert code == 0
    case = json.loads(text)
    dates = [v["date"] for v in case["lesions"][0]["visits"]]
    assert dates == sorted(dates) == ["2023-12-01", "2024-02-03", "2024-02-03"]
    code, text = run(["show", "--data-dir", str(data), "--patient", "P-0042"])
    assert code == 0 and "left shoulder 1" in text and "2023-12-01" in text


def test_unreadable_image_exits_3_and_the_others_are_stored(data, imgs, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    code, text = run(
        ["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
         str(imgs[0]), str(bad), str(imgs[1])]
    )  # fmt: skip
    assert code == 3
    assert [r["image"]["original_name"] for r in json.loads(text)] == ["a.png", "b.png"]
    err = [line for line in capsys.readouterr().err.splitlines() if "broken.jpg" in line]
    assert len(err) == 1 and "not a readable image" in err[0]
    with Store.open(data) as store:
        names = [r[0] for r in store.conn.execute("SELECT original_name FROM visit")]
    assert names == ["a.png", "b.png"]


@pytest.mark.parametrize("command", ["show", "export"])
def test_unknown_patient_is_a_one_line_error_exit_2(data, imgs, tmp_path, capsys, command):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])])
    capsys.readouterr()
    extra = ["--to", str(tmp_path / "out")] if command == "export" else []
    code, text = run([command, "--data-dir", str(data), "--patient", "nobody", *extra])
    assert code == 2 and text == ""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown patient 'nobody'" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra",
    [["--date", "2024-02-30"], ["--site", "elbow"], ["--date", "yesterday"]],
)
def test_bad_arguments_exit_2_before_anything_is_created(data, imgs, extra, capsys):
    code, _ = run(
        ["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "x", *extra, str(imgs[0])]
    )
    assert code == 2
    assert not data.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_site_must_match_an_existing_lesion(data, imgs):
    base = ["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back"]
    assert run([*base, "--site", "posterior torso", str(imgs[0])])[0] == 0
    assert run([*base, "--site", "head/neck", str(imgs[1])])[0] == 2
    assert run([*base, str(imgs[1])])[0] == 0


def test_export_import_round_trip(data, imgs, tmp_path):
    args = ["add", "--data-dir", str(data), "--patient", "P7"]
    run([*args, "--lesion", "scalp", "--site", "head/neck", "--date", "2024-01-01", str(imgs[0])])
    run([*args, "--lesion", "scalp", "--date", "2024-06-01", str(imgs[1])])
    run([*args, "--lesion", "left calf", "--date", "2024-03-01", str(imgs[2])])
    run(["reclassify", "--data-dir", str(data), "--visit", "1"])
    out = tmp_path / "export"
    code, text = run(["export", "--data-dir", str(data), "--patient", "P7", "--to", str(out)])
    assert code == 0
    listed = [Path(line) for line in text.splitlines()]
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 2 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert set(pdfs) <= set(listed) and (out / "results.csv").is_file()
    assert len(list((out / "images").iterdir())) == 3
    rows = (out / "results.csv").read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(rows) == 1 + 4  # header, 3 visits, one of them with two results

    other = tmp_path / "other"
    assert run(["import", "--data-dir", str(other), str(out)])[0] == 0
    before = json.loads(run(["show", "--data-dir", str(data), "--patient", "P7", "--json"])[1])
    after = json.loads(run(["show", "--data-dir", str(other), "--patient", "P7", "--json"])[1])
    assert portable_case(after) == portable_case(before)
    assert run(["import", "--data-dir", str(other), str(out)])[0] == 2  # already there


def test_export_pdfs_come_from_the_entry_point(data, imgs, tmp_path, capsys):
    """The history command line is Qt-free: ``python -m desktop history export`` draws the
    PDFs with the writer the entry point hands it; called without one, everything but the
    PDFs is written and stderr says why (exit 0, as with no Qt)."""
    from desktop.__main__ import main as entry

    run(["add", "--data-dir", str(data), "--patient", "P7", "--lesion", "scalp", str(imgs[0])])
    capsys.readouterr()
    out = tmp_path / "bare"
    text = io.StringIO()
    args = ["export", "--data-dir", str(data), "--patient", "P7"]
    assert hcli.main([*args, "--to", str(out)], out=text) == 0
    assert (out / "results.csv").is_file() and not list(out.glob("*.pdf"))
    assert capsys.readouterr().err.strip().endswith(hcli.NO_PDF_WRITER)
    assert "Qt" in hcli.NO_PDF_WRITER and "--no-pdf" in hcli.NO_PDF_WRITER

    out = tmp_path / "full"
    assert entry(["history", *args, "--to", str(out)]) == 0
    pdfs = list(out.glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
    assert str(pdfs[0]) in capsys.readouterr().out


def test_reclassify_keeps_the_old_result(data, imgs):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])])
    alert = FakeClassifier(probabilities=probs_for(FakeClassifier().card.classes, melanoma=0.6))
    code, text = run(["reclassify", "--data-dir", str(data), "--visit", "1"], fake=alert)
    assert code == 0
    results = json.loads(text)["results"]
    assert [r["alert_level"] for r in results] == ["no_alert", "alert"]
    assert run(["reclassify", "--data-dir", str(data), "--visit", "99"])[0] == 2


def test_delete_asks_first_and_says_images_are_deleted(data, imgs):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", *map(str, imgs)])
    asked: list[str] = []

    def say_no(message):
        asked.append(message)
        return False

    assert run(["delete", "--data-dir", str(data), "--patient", "P1"], confirm=say_no)[0] == 2
    assert "3 stored image file(s)" in asked[0] and "image store" in asked[0]
    assert len(list((data / "images").rglob("*.png"))) == 3
    code, text = run(["delete", "--data-dir", str(data), "--patient", "P1", "--visit", "2"],
                     confirm=lambda _m: True)  # fmt: skip
    assert code == 0 and "1 image file(s)" in text
    assert len(list((data / "images").rglob("*.png"))) == 2
    assert run(["delete", "--data-dir", str(data), "--patient", "P1", "--yes"])[0] == 0
    assert list((data / "images").rglob("*.png")) == []
    assert run(["show", "--data-dir", str(data), "--patient", "P1"])[0] == 2


def test_newer_database_exits_4_with_a_clear_message(data, imgs, capsys):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])])
    conn = sqlite3.connect(data / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert run(["show", "--data-dir", str(data), "--patient", "P1"])[0] == 4
    assert "newer" in capsys.readouterr().err


def test_data_dir_from_the_environment(tmp_path, imgs, monkeypatch):
    monkeypatch.setenv("LESIONLENS_DATA_DIR", str(tmp_path / "env-data"))
    assert run(["add", "--patient", "P1", "--lesion", "back", str(imgs[0])])[0] == 0
    assert (tmp_path / "env-data" / DB_NAME).is_file()


def test_check_and_backup_commands(data, imgs):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])])
    code, text = run(["backup", "--data-dir", str(data)])
    assert code == 0 and Path(text.strip()).is_file()
    code, text = run(["check", "--data-dir", str(data)])
    assert code == 0 and "1 of 1 image file(s) ok" in text
    next((data / "images").rglob("*.png")).write_bytes(b"bit rot")
    assert run(["check", "--data-dir", str(data)])[0] == 4


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="no shipped model")
def test_real_model_result_names_the_model_file_hash(data, imgs):
    out = io.StringIO()
    code = hcli.main(
        ["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])],
        out=out,
    )
    assert code == 0
    result = json.loads(out.getvalue())[0]["results"][0]
    assert result["model_sha256"] == hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest()
    if result["alert_level"] == "cannot_assess":  # the synthetic picture is no dermoscopy
        assert result["probabilities"] is None and result["label"] is None
    else:
        assert abs(sum(result["probabilities"].values()) - 1.0) < 1e-6


# Killed mid-batch -----------------------------------------------------------------------------

SCRIPT = """
import os, signal, sys
from desktop import front_door, __main__ as entry
from desktop.history import service
from tests.fakes import FakeClassifier
front_door.default_factory = lambda model: FakeClassifier()
kill_at = {kill_at}
if kill_at:
    real = service.History._insert_result
    calls = []
    def insert_then_die(self, *a, **k):
        real(self, *a, **k)
        calls.append(1)
        if len(calls) == kill_at:  # image renamed into the store, rows written, not committed
            os.kill(os.getpid(), signal.SIGKILL)
    service.History._insert_result = insert_then_die
code = entry.main(sys.argv[1:])
bad = [m for m in ("PySide6", "tensorflow") if m in sys.modules]
sys.exit(99 if bad else code)
"""


def _start(tmp_path, data, files, kill_at=0):
    argv = ["history", "add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
            "--date", "2024-01-01", *map(str, files)]  # fmt: skip
    return fresh_python(SCRIPT.format(kill_at=kill_at), *argv, wait=False)


def _check_consistent(data: Path, total: int) -> int:
    """The database is intact and holds only complete visits; returns how many."""
    conn = sqlite3.connect(data / DB_NAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            """SELECT v.id, v.image_sha256, i.ext, COUNT(r.id) FROM visit v
               JOIN image i ON i.sha256 = v.image_sha256 LEFT JOIN result r ON r.visit_id = v.id
               GROUP BY v.id"""
        ).fetchall()
        n_visits = conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0]
    finally:
        conn.close()
    assert len(rows) == n_visits  # every visit has its image row
    for _vid, sha, ext, results in rows:
        assert results >= 1
        f = data / "images" / sha[:2] / f"{sha}{ext}"
        assert hashlib.sha256(f.read_bytes()).hexdigest() == sha
    assert 0 < n_visits < total
    return n_visits


def _only_referenced_files_after_reopen(data: Path) -> int:
    """After a start, images/ holds only referenced files; the rest wait in quarantine/."""
    before = {p.stem for p in (data / "images").rglob("*") if p.is_file() and ".tmp" not in p.parts}
    with Store.open(data) as store:
        referenced = {sha for (sha,) in store.conn.execute("SELECT sha256 FROM image")}
    on_disk = {p.stem for p in (data / "images").rglob("*") if p.is_file()}
    assert on_disk == referenced
    quarantined = {p.stem for p in (data / "quarantine").rglob("*.png")}
    assert before - referenced == quarantined  # moved, never deleted
    return len(quarantined)


@pytest.mark.slow
def test_kill_9_mid_batch_leaves_only_complete_visits(tmp_path, data):
    files = write_images(tmp_path / "many", [f"img{i:03d}.png" for i in range(200)], size=72)
    proc = _start(tmp_path, data, files)
    stored: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stderr is not None
    while len(stored) < 25 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if ": stored " in line:
            stored.append(line.split(": ")[2].split(" as ")[0])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and len(stored) >= 25
    n = _check_consistent(data, len(files))
    conn = sqlite3.connect(data / DB_NAME)
    names = {r[0] for r in conn.execute("SELECT original_name FROM visit")}
    conn.close()
    assert set(stored) <= names  # every visit reported stored was committed
    assert n >= len(stored)
    _only_referenced_files_after_reopen(data)


@pytest.mark.slow
def test_kill_9_between_image_copy_and_commit(tmp_path, data):
    files = write_images(tmp_path / "some", [f"img{i:02d}.png" for i in range(12)], size=72)
    proc = _start(tmp_path, data, files, kill_at=5)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert _check_consistent(data, len(files)) == 4
    orphans = {p.stem for p in (data / "images").rglob("*.png")}
    assert len(orphans) == 5  # the fifth image is on disk but was never committed
    assert _only_referenced_files_after_reopen(data) == 1  # quarantined, not deleted
    # The batch can simply be run again; the store carries on.
    proc = _start(tmp_path, data, files[4:])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(json.loads(out)) == 8


def test_export_to_a_folder_that_cannot_be_made_is_one_line_exit_4(data, imgs, tmp_path, capsys):
    run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back", str(imgs[0])])
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    capsys.readouterr()
    code, _ = run(
        ["export", "--data-dir", str(data), "--patient", "P1", "--to", str(blocker / "x")]
    )
    assert code == 4
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
