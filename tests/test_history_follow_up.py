"""Follow-up in the case store: trusted dates, numbered and editable visits (logged), no class
for a cannot-assess visit anywhere, decisions and reviews due, histology outcomes and the
labelled data set, side of the body, and the migration of a store made by schema 1."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from desktop.history.service import History, HistoryError, melanoma_series
from desktop.history.store import MIGRATIONS, Store
from desktop.labelled.labels import LabelMap
from desktop.labelled.sources import read_source
from desktop.results import classify_path
from tests.fakes import ISIC_CLASSES, FakeClassifier, probs_for, write_images
from tests.history_helpers import MODEL, run

TODAY = date.today()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def imgs(tmp_path):
    return write_images(tmp_path / "src", [f"{n}.png" for n in "abcde"], size=96)


def add(data, imgs, *extra, lesion="back", patient="P1", image=0):
    argv = ["add", "--data-dir", str(data), "--patient", patient, "--lesion", lesion, *extra]
    return run([*argv, str(imgs[image])])


def show(data, patient="P1"):
    code, text = run(["show", "--data-dir", str(data), "--patient", patient, "--json"])
    assert code == 0
    return json.loads(text)


# Dates -------------------------------------------------------------------------------------
def test_future_and_before_first_visit_dates_are_refused_with_a_message(data, imgs, capsys):
    assert add(data, imgs, "--date", "2025-03-01")[0] == 0
    capsys.readouterr()
    assert add(data, imgs, "--date", day(1), image=1)[0] == 2
    assert "in the future" in capsys.readouterr().err
    assert add(data, imgs, "--date", "2024-03-01", image=1)[0] == 2
    err = capsys.readouterr().err
    assert "before patient 'P1''s first visit (2025-03-01)" in err and "year" in err
    assert [v["date"] for v in show(data)["lesions"][0]["visits"]] == ["2025-03-01"]
    assert add(data, imgs, "--date", "2024-03-01", "--before-first", image=1)[0] == 0
    assert [v["date"] for v in show(data)["lesions"][0]["visits"]] == ["2024-03-01", "2025-03-01"]


# Numbers, edits ----------------------------------------------------------------------------
def test_edit_round_trips_and_logs_the_old_value(data, imgs, capsys):
    add(data, imgs, "--date", "2025-01-10", "--note", "first look", "--site", "upper extremity")
    add(data, imgs, "--date", "2025-04-02", image=1)
    base = ["edit", "--data-dir", str(data), "--patient", "P1"]
    code, text = run([*base, "--visit", "1", "--date", "2025-01-12", "--note", "darker rim",
                      "--decision", "monitor", "--next-review", "2025-07-12"])  # fmt: skip
    assert code == 0 and json.loads(text)["date"] == "2025-01-12"
    assert run([*base, "--site", "face", "--side", "left"])[0] == 0
    lesion = show(data)["lesions"][0]
    first = lesion["visits"][0]
    assert (first["date"], first["note"], first["decision"], first["next_review"]) == (
        "2025-01-12", "darker rim", "monitor", "2025-07-12"
    )  # fmt: skip
    logged = {e["field"]: (e["old"], e["new"]) for e in first["edits"]}
    assert logged["date"] == ("2025-01-10", "2025-01-12")
    assert logged["note"] == ("first look", "darker rim")
    assert logged["decision"] == (None, "monitor")
    assert all(e["edited"] for e in first["edits"])
    assert lesion["visits"][1]["edits"] == []
    assert (lesion["site"], lesion["laterality"]) == ("face", "left")
    assert {e["field"]: e["old"] for e in lesion["edits"]} == {
        "site": "upper extremity",
        "laterality": "",
    }
    capsys.readouterr()
    # A refused edit changes nothing and logs nothing.
    assert run([*base, "--visit", "2", "--date", day(3)])[0] == 2
    assert run([*base, "--visit", "1", "--next-review", "2024-12-31"])[0] == 2
    assert run([*base, "--visit", "1", "--decision", "chop"])[0] == 2
    assert run([*base, "--visit", "3", "--note", "x"])[0] == 2
    assert "has no visit 3" in capsys.readouterr().err
    assert show(data)["lesions"][0] == lesion


def test_visit_numbers_follow_dates_and_survive_deletes_and_imports(data, imgs, tmp_path):
    add(data, imgs, "--date", "2025-05-01")
    add(data, imgs, "--date", "2025-01-01", "--before-first", image=1)
    add(data, imgs, "--date", "2025-03-01", image=2)
    visits = show(data)["lesions"][0]["visits"]
    assert [(v["number"], v["date"]) for v in visits] == [
        (1, "2025-01-01"), (2, "2025-03-01"), (3, "2025-05-01")
    ]  # fmt: skip
    assert [v["id"] for v in visits] == [2, 3, 1]  # ids are storage order, not shown
    text = run(["show", "--data-dir", str(data), "--patient", "P1"])[1]
    assert "2025-03-01  visit 2" in text and "visit 3 " not in text.split("2025-05-01")[0]
    asked: list[str] = []
    code, _ = run(["delete", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
                   "--visit", "2"], confirm=lambda m: asked.append(m) or True)  # fmt: skip
    assert code == 0 and "visit 2 of 2025-03-01" in asked[0]
    visits = show(data)["lesions"][0]["visits"]
    assert [(v["number"], v["date"]) for v in visits] == [(1, "2025-01-01"), (2, "2025-05-01")]
    out = tmp_path / "export"
    assert run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out),
                "--no-pdf"])[0] == 0  # fmt: skip
    other = tmp_path / "other"
    with Store.open(other) as store:  # a store with other ids in use already
        h = History(store)
        h.add_visit("X", "arm", imgs[3], classify_path(FakeClassifier(), imgs[3]), MODEL)
    assert run(["import", "--data-dir", str(other), str(out)])[0] == 0
    again = show(other)["lesions"][0]["visits"]
    assert [(v["number"], v["date"]) for v in again] == [(1, "2025-01-01"), (2, "2025-05-01")]
    assert [v["id"] for v in again] != [v["id"] for v in visits]


# Cannot assess ----------------------------------------------------------------------------
def test_a_cannot_assess_visit_shows_no_class_anywhere(data, imgs, tmp_path, capsys):
    size = (96, 96)
    fake = FakeClassifier(
        probabilities=probs_for(ISIC_CLASSES, melanoma=0.139, nevus=0.1), out_of_scope=[size]
    )
    code, text = run(["add", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
                      str(imgs[0])], fake=fake)  # fmt: skip
    assert code == 0
    stored = json.loads(text)[0]["results"][0]
    assert stored["alert_level"] == "cannot_assess"
    assert (stored["label"], stored["probabilities"], stored["melanoma_probability"]) == (
        None, None, None
    )  # fmt: skip
    text = run(["show", "--data-dir", str(data), "--patient", "P1"])[1]
    assert "13.9" not in text and "melanoma " not in text.lower().replace("no melanoma", "")
    assert "no class, no melanoma figure" in text
    result = show(data)["lesions"][0]["visits"][0]["results"][0]
    assert result["label"] is None and result["probabilities"] is None
    out = tmp_path / "export"
    run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out), "--no-pdf"])
    (row,) = csv.DictReader(io.StringIO((out / "results.csv").read_text(encoding="utf-8-sig")))
    assert row["top_class"] == row["melanoma_probability"] == "" and row["alert_level"] == (
        "cannot_assess"
    )
    assert not any(k.startswith("p_") and v for k, v in row.items())
    manifest = json.loads((out / "case.json").read_text(encoding="utf-8"))
    exported = manifest["case"]["lesions"][0]["visits"][0]["results"][0]
    assert exported["probabilities"] is None and exported["label"] is None
    with Store.open(data) as store:
        series = melanoma_series(History(store).case("P1").lesions[0].visits)
    assert [s.value for s in series] == [None]
    other = tmp_path / "other"
    assert run(["import", "--data-dir", str(other), str(out)])[0] == 0
    back = show(other)["lesions"][0]["visits"][0]["results"][0]
    assert back["alert_level"] == "cannot_assess" and back["probabilities"] is None


def _v1_store(data: Path, image: Path) -> None:
    """A store exactly as schema 1 made it, with a cannot-assess row that kept its numbers."""
    with Store.open(data, migrations={1: MIGRATIONS[1]}) as store:
        assert store.user_version() == 1
        history = History(store)
        sha = history.store.images.put(image).sha256
        values = probs_for(ISIC_CLASSES, melanoma=0.139)
        probs = json.dumps(dict(zip(ISIC_CLASSES, values, strict=True)))
        with store.write() as conn:
            conn.execute("INSERT INTO patient (code, created) VALUES ('P1', '2024-01-01T00:00Z')")
            conn.execute(
                "INSERT INTO lesion (patient_id, label, site, created) "
                "VALUES (1, 'back', 'posterior torso', '2024-01-01T00:00Z')"
            )
            conn.execute(
                "INSERT INTO image VALUES (?, '.png', ?, 'x')", (sha, image.stat().st_size)
            )
            for vid, level in ((1, "no_alert"), (2, "cannot_assess")):
                conn.execute(
                    "INSERT INTO visit (lesion_id, taken, image_sha256, created) "
                    "VALUES (1, ?, ?, 'x')",
                    (f"2024-0{vid}-01", sha),
                )
                conn.execute(
                    "INSERT INTO result (visit_id, probabilities, label, melanoma_probability, "
                    "alert_level, verdict, headline, threshold, uncertain, uncertain_reasons, "
                    "model_version, model_sha256, created) "
                    "VALUES (?, ?, 'melanoma', 0.139, ?, ?, 'h', 0.3, ?, ?, 'v1', 'unknown', 'x')",
                    (vid, probs, level, level, int(vid == 2), json.dumps(["blurred"] * (vid == 2))),
                )


def test_a_store_made_by_schema_1_is_migrated(data, imgs):
    _v1_store(data, imgs[0])
    with Store.open(data) as store:
        assert store.user_version() == max(MIGRATIONS) and store.backups()
        columns = [r[3] for r in store.conn.execute("PRAGMA table_info(result)") if r[1] == "label"]
        assert columns == [0]  # nullable now
        case = History(store).show("P1")
    (lesion,) = case["lesions"]
    assert (lesion["site"], lesion["laterality"], lesion["outcome"]) == (
        "posterior torso",
        "",
        None,
    )
    kept, unassessed = (v["results"][0] for v in lesion["visits"])
    assert kept["label"] == "melanoma" and kept["melanoma_probability"] == pytest.approx(0.139)
    assert sum(kept["probabilities"].values()) == pytest.approx(1.0)
    assert (unassessed["label"], unassessed["probabilities"]) == (None, None)
    assert unassessed["melanoma_probability"] is None
    raw = sqlite3.connect(data / "history.sqlite3")
    assert raw.execute("SELECT label FROM result WHERE visit_id = 2").fetchone() == (None,)
    raw.close()
    assert [v["number"] for v in lesion["visits"]] == [1, 2]
    text = run(["show", "--data-dir", str(data), "--patient", "P1"])[1]
    assert text.count("13.9") == 1  # the assessed visit only


# Decisions, reviews due, histology, labelled data set ----------------------------------------
def test_decisions_and_the_due_list(data, imgs, capsys):
    add(data, imgs, "--date", day(-90), "--decision", "monitor", "--next-review", day(-3))
    add(data, imgs, "--date", day(-60), "--decision", "monitor", "--next-review", day(5),
        lesion="arm", image=1)  # fmt: skip
    add(data, imgs, "--date", day(-60), "--next-review", day(40), lesion="leg", image=2)
    add(data, imgs, "--date", day(-60), "--decision", "discharge", "--next-review", day(-1),
        lesion="neck", image=3)  # fmt: skip
    add(data, imgs, "--date", day(-50), "--next-review", day(-30), patient="P2", image=4)
    add(data, imgs, "--date", day(-10), patient="P2", image=0)  # a later visit set no review
    code, text = run(["due", "--data-dir", str(data), "--json"])
    assert code == 0
    rows = json.loads(text)
    assert [(r["patient"], r["lesion"], r["overdue"]) for r in rows] == [
        ("P1", "back", True), ("P1", "arm", False)
    ]  # fmt: skip
    assert rows[0]["days_over"] == 3 and rows[0]["decision"] == "monitor"
    assert rows[1]["last_number"] == 1
    assert [r["lesion"] for r in json.loads(run(["due", "--data-dir", str(data), "--json",
                                                 "--within", "0"])[1])] == ["back"]  # fmt: skip
    text = run(["due", "--data-dir", str(data)])[1]
    assert "overdue 3 d" in text and "in 5 d" in text
    # A histology outcome closes the follow-up.
    assert run(["outcome", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
                "--diagnosis", "nevus", "--date", day(-1)])[0] == 0  # fmt: skip
    assert [
        r["lesion"] for r in json.loads(run(["due", "--data-dir", str(data), "--json"])[1])
    ] == ["arm"]


def test_outcome_and_the_labelled_data_set_read_back(data, imgs, tmp_path, capsys):
    add(data, imgs, "--date", "2025-01-01", lesion="mole A")
    add(data, imgs, "--date", "2025-02-01", lesion="mole A", image=1)
    add(data, imgs, "--date", "2025-03-01", lesion="mole A", image=2)  # after the histology
    add(data, imgs, "--date", "2025-01-05", lesion="mole B", patient="Anna-7", image=3)
    add(data, imgs, "--date", "2025-01-05", lesion="spot", image=4)
    base = ["outcome", "--data-dir", str(data), "--patient", "P1"]
    assert run([*base, "--lesion", "mole A", "--diagnosis", "melanoma", "--date", "2025-02-10",
                "--note", "superficial spreading, 0.4 mm"])[0] == 0  # fmt: skip
    assert run([*base, "--lesion", "spot", "--diagnosis", "other", "--note", "scar"])[0] == 0
    assert run(["outcome", "--data-dir", str(data), "--patient", "Anna-7", "--lesion", "mole B",
                "--diagnosis", "basal_cell_carcinoma", "--date", "2025-01-20"])[0] == 0  # fmt: skip
    capsys.readouterr()
    assert run([*base, "--lesion", "mole A", "--diagnosis", "zombie"])[0] == 2
    assert (
        run([*base, "--lesion", "mole A", "--diagnosis", "nevus", "--date", "2024-12-01"])[0] == 2
    )
    assert "before the lesion's first visit" in capsys.readouterr().err
    lesion = next(x for x in show(data)["lesions"] if x["label"] == "mole A")
    assert (
        lesion["outcome"]["diagnosis"] == "melanoma" and lesion["outcome"]["date"] == "2025-02-10"
    )

    out = tmp_path / "labelled"
    code, text = run(["labelled", "--data-dir", str(data), "--to", str(out)])
    assert code == 0 and Path(text.strip()) == out / "labels.csv"
    assert "1 lesion(s) with histology 'other'" in capsys.readouterr().err
    names = [p.name for p in out.rglob("*")]
    assert not any("P1" in n or "Anna" in n or "mole" in n for n in names)
    source = read_source(out, LabelMap())
    got = sorted((r.path.name, r.label, r.group) for r in source.records)
    assert len(got) == 3 and not source.problems
    by_label = {}
    for _name, label, group in got:
        by_label.setdefault(label, set()).add(group)
    assert set(by_label) == {"melanoma", "basal cell carcinoma"}
    assert (
        len(by_label["melanoma"]) == 1 and by_label["melanoma"] != by_label["basal cell carcinoma"]
    )
    assert not any("P1" in g or "mole" in g for g in by_label["melanoma"])
    assert run(["labelled", "--data-dir", str(data), "--to", str(out)])[0] == 2  # not empty


def test_export_carries_follow_up_and_import_validates_it(data, imgs, tmp_path):
    add(data, imgs, "--date", "2025-01-01", "--site", "lower extremity", "--side", "right",
        "--decision", "excise", "--next-review", "2025-02-01")  # fmt: skip
    run(["edit", "--data-dir", str(data), "--patient", "P1", "--visit", "1", "--note", "n"])
    run(["outcome", "--data-dir", str(data), "--patient", "P1", "--lesion", "back",
         "--diagnosis", "dermatofibroma", "--date", "2025-01-20"])  # fmt: skip
    out = tmp_path / "export"
    run(["export", "--data-dir", str(data), "--patient", "P1", "--to", str(out), "--no-pdf"])
    (row,) = csv.DictReader(io.StringIO((out / "results.csv").read_text(encoding="utf-8-sig")))
    assert (row["visit"], row["side"], row["decision"], row["histology"]) == (
        "1", "right", "excise", "dermatofibroma"
    )  # fmt: skip
    other = tmp_path / "other"
    assert run(["import", "--data-dir", str(other), str(out)])[0] == 0
    before, after = show(data)["lesions"][0], show(other)["lesions"][0]
    for key in ("laterality", "outcome", "edits"):
        assert after[key] == before[key]
    assert after["visits"][0]["edits"] == before["visits"][0]["edits"] != []
    assert after["visits"][0]["decision"] == "excise"
    manifest = json.loads((out / "case.json").read_text(encoding="utf-8"))
    bad = [
        (lambda c: c["lesions"][0]["visits"][0].update(decision="chop"), "unknown decision"),
        (lambda c: c["lesions"][0].update(laterality="up"), "unknown side"),
        (lambda c: c["lesions"][0]["outcome"].update(diagnosis="zombie"), "histology"),
        (lambda c: c["lesions"][0]["visits"][0]["edits"][0].update(field="id"), "unknown field"),
        (lambda c: c["lesions"][0]["visits"][0].update(next_review="2024-01-01"), "before"),
    ]
    for i, (change, match) in enumerate(bad):
        edited = json.loads(json.dumps(manifest))
        change(edited["case"])
        (out / "case.json").write_text(json.dumps(edited), encoding="utf-8")
        with Store.open(tmp_path / f"t{i}") as store, pytest.raises(HistoryError, match=match):
            History(store).import_case(out)


def test_a_name_as_patient_id_warns_but_is_stored(data, imgs, capsys):
    assert add(data, imgs, patient="Anna Smith")[0] == 0
    err = capsys.readouterr().err
    assert "looks like a person's name" in err
    assert show(data, "Anna Smith")["patient"] == "Anna Smith"
    assert add(data, imgs, patient="P-0042", image=1)[0] == 0
    assert "name" not in capsys.readouterr().err


def test_side_must_match_and_is_shown(data, imgs):
    assert add(data, imgs, "--site", "scalp", "--side", "midline")[0] == 0
    assert add(data, imgs, "--side", "left", image=1)[0] == 2
    assert add(data, imgs, "--side", "sideways", image=1)[0] == 2
    assert add(data, imgs, image=1)[0] == 0
    assert "back  (scalp, midline)" in run(["show", "--data-dir", str(data), "--patient", "P1"])[1]
