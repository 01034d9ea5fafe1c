"""``history import`` treats an export folder as untrusted: each crafted break is refused
with one line (exit 2 through the command line), and the target store is left unchanged."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from desktop.history import cli as hcli
from desktop.history.service import History
from desktop.history.store import Store
from desktop.history.transfer import ImportRefused
from desktop.results import classify_path
from tests.fakes import FakeClassifier, portable_case, probs_for, write_images
from tests.history_helpers import MODEL

TABLES = ("patient", "lesion", "visit", "result", "image")
needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="POSIX")


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A real export of patient P1 (two lesions, an alert, a re-classification), made once."""
    root = tmp_path_factory.mktemp("source")
    imgs = write_images(root / "src", ["a.png", "b.png", "c.png"], size=96)
    calm = FakeClassifier()
    alarm = FakeClassifier(probs_for(FakeClassifier().card.classes, melanoma=0.6))
    with Store.open(root / "data") as store:
        history = History(store)
        for path, fake, lesion, taken in (
            (imgs[0], calm, "scalp", "2024-01-01"),
            (imgs[1], alarm, "scalp", "2024-06-01"),
            (imgs[2], calm, "left calf", "2024-03-01"),
        ):
            history.add_visit(
                "P1", lesion, path, classify_path(fake, path), MODEL, taken=taken, name=path.name
            )
        history.add_result(1, classify_path(alarm, imgs[0]), MODEL)
        history.export("P1", root / "export")
    return root / "export"


@pytest.fixture
def export(original, tmp_path) -> Path:
    """A fresh copy of the export for one test to break."""
    return Path(shutil.copytree(original, tmp_path / "export"))


@pytest.fixture
def target(tmp_path) -> Path:
    """A store that already holds another patient, so "unchanged" means something."""
    data = tmp_path / "target"
    img = write_images(tmp_path / "other", ["o.png"], size=100)[0]  # not a P1 photo
    with Store.open(data) as store:
        History(store).add_visit("OTHER", "back", img, classify_path(FakeClassifier(), img), MODEL)
    return data


def state(data: Path) -> tuple[Any, ...]:
    """Row counts, patients and image files of a store."""
    with Store.open(data) as store:
        counts = [store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES]
        codes = [r[0] for r in store.conn.execute("SELECT code FROM patient ORDER BY code")]
    files = sorted(p.name for p in (data / "images").rglob("*") if p.is_file())
    return counts, codes, files


def edit(export: Path, change: Callable[[dict[str, Any]], Any], **dump: Any) -> None:
    """Rewrite case.json after ``change`` mutates the manifest (``dump``: json.dumps options)."""
    path = export / "case.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest, **dump), encoding="utf-8")


def first_result(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["case"]["lesions"][0]["visits"][0]["results"][0]


def refused(target: Path, export: Path, match: str) -> str:
    """Import through the API: refused with ``match`` in one line, the store unchanged."""
    before = state(target)
    with Store.open(target) as store, pytest.raises(ImportRefused, match=match) as exc:
        History(store).import_case(export)
    assert state(target) == before
    message = str(exc.value)
    assert "\n" not in message and len(message) < 600
    return message


def cli_refused(target: Path, export: Path, capsys: pytest.CaptureFixture[str], match: str) -> None:
    """Import through the command line: exit 2, one stderr line, nothing on stdout."""
    before = state(target)
    capsys.readouterr()
    out = io.StringIO()
    code = hcli.main(["import", "--data-dir", str(target), str(export), "--json"], out=out)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and out.getvalue() == ""
    assert len(err) == 1 and match in err[0] and "Traceback" not in err[0]
    assert state(target) == before


# Links ----------------------------------------------------------------------------------------
@needs_links
def test_symlinked_photo_is_refused(export, target, tmp_path):
    photo = next((export / "images").iterdir())
    outside = tmp_path / "outside.png"
    shutil.copyfile(photo, outside)  # same bytes: only the link gives it away
    photo.unlink()
    photo.symlink_to(outside)
    assert "symbolic link" in refused(target, export, f"images/{photo.name}")


@needs_links
def test_symlinked_images_folder_is_refused_exit_2(export, target, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    shutil.move(export / "images", outside)
    (export / "images").symlink_to(outside, target_is_directory=True)
    cli_refused(target, export, capsys, "images/ is a symbolic link")


@needs_links
def test_symlinked_manifest_is_refused(export, target, tmp_path):
    outside = tmp_path / "case.json"
    shutil.move(export / "case.json", outside)
    (export / "case.json").symlink_to(outside)
    refused(target, export, "case.json is a symbolic link")


# Photos ---------------------------------------------------------------------------------------
def test_non_image_bytes_stored_as_a_photo_are_refused(export, target):
    """The hash and size in case.json are made to match: only decoding finds it out."""
    import hashlib

    data = b"#!/bin/sh\necho this is no photo\n" * 10
    sha = hashlib.sha256(data).hexdigest()
    manifest = json.loads((export / "case.json").read_text(encoding="utf-8"))
    last = manifest["case"]["lesions"][-1]["visits"][-1]["image"]  # an earlier one is fine
    (export / last["file"]).unlink()
    (export / "images" / f"{sha}.png").write_bytes(data)

    def swap(m: dict[str, Any]) -> None:
        image = m["case"]["lesions"][-1]["visits"][-1]["image"]
        image.update(sha256=sha, bytes=len(data), file=f"images/{sha}.png")

    edit(export, swap)
    refused(target, export, "not a readable image")


# Results --------------------------------------------------------------------------------------
def _melanoma_99_called_nevus(r: dict[str, Any]) -> None:
    r["probabilities"] = {c: 0.0 for c in r["probabilities"]} | {"melanoma": 0.99, "nevus": 0.01}
    r.update(melanoma_probability=0.99, label="nevus", alert_level="no_alert", verdict="no_alert")
    r["headline"] = "Benign nevus: no melanoma alert"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_melanoma_99_called_nevus, "most likely class is 'nevus'"),
        (lambda r: r.update(alert_level="alert", verdict="alert"), "contradicts"),
        (lambda r: r.update(melanoma_probability=0.01), "melanoma probability contradicts"),
        (lambda r: r.update(label="benign mole"), "not one of its classes"),
        (lambda r: r.update(alert_level="watch"), "unknown alert level 'watch'"),
        (lambda r: r.update(verdict="error"), "unknown alert level 'error'"),
        (lambda r: r["probabilities"].update(zombie=0.0), "unknown class 'zombie'"),
        (lambda r: r["probabilities"].update(nevus=1.5), "from 0 to 1"),
        (lambda r: r["probabilities"].update(nevus=0.3), "add up to"),
        (lambda r: r.update(alert_level="cannot_assess"), "no reason"),
        (lambda r: r.update(uncertain="no"), "true or false"),
    ],
    ids=[
        "melanoma-99-called-nevus",
        "alert-without-melanoma",
        "melanoma-figure",
        "unknown-label",
        "unknown-level",
        "error-verdict",
        "unknown-class",
        "probability-over-1",
        "sum-not-1",
        "cannot-assess-without-reason",
        "uncertain-not-bool",
    ],
)
def test_results_that_contradict_themselves_or_are_unknown_are_refused(
    export, target, change, match
):
    edit(export, lambda m: change(first_result(m)))
    refused(target, export, match)


def test_headline_is_rederived_from_the_probabilities_not_trusted(export, target):
    edit(export, lambda m: first_result(m).update(headline="All clear, nothing to see"))
    with Store.open(target) as store:
        case = History(store).import_case(export)
    headline = case["lesions"][0]["visits"][0]["results"][0]["headline"]
    assert headline != "All clear, nothing to see" and headline.startswith("Most likely")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_probabilities_exit_2(export, target, capsys, bad):
    text = (export / "case.json").read_text(encoding="utf-8")
    text, n = re.subn(r'"nevus": [0-9.eE+-]+', f'"nevus": {bad}', text, count=1)
    assert n == 1
    (export / "case.json").write_text(text, encoding="utf-8")
    cli_refused(target, export, capsys, "not imported")


# Text, visits, dates ------------------------------------------------------------------------
MEGA = "x" * 1_000_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["case"]["lesions"][0]["visits"][0]["image"].update(original_name=MEGA),
         "original_name"),
        (lambda m: first_result(m).update(headline=MEGA), "headline"),
        (lambda m: first_result(m).update(model_version=MEGA), "model_version"),
        (lambda m: first_result(m).update(uncertain=True, uncertain_reasons=[MEGA]),
         "uncertain_reasons"),
    ],
    ids=["original_name", "headline", "model_version", "reason"],
)  # fmt: skip
def test_megabyte_long_text_is_refused(export, target, change, field):
    edit(export, change)
    assert "more than" in refused(target, export, field)


def test_the_same_visit_listed_twice_is_refused(export, target):
    def twice(m: dict[str, Any]) -> None:
        visits = m["case"]["lesions"][0]["visits"]
        visits.append(json.loads(json.dumps(visits[0])))

    edit(export, twice)
    refused(target, export, "the same visit is listed twice")


TOMORROW = (date.today() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m: m["case"]["lesions"][0]["visits"][0].update(date=TOMORROW), "in the future"),
        (lambda m: first_result(m).update(created="2999-01-01T00:00:00.000000Z"), "future"),
        (lambda m: m["case"]["lesions"][0].update(created="2999-01-01T00:00:00Z"), "future"),
        (lambda m: m["case"]["lesions"][0]["visits"][0].update(date="2024-02-30"), "not exist"),
    ],
    ids=["visit-date", "result-created", "lesion-created", "no-such-day"],
)
def test_dates_in_the_future_or_impossible_are_refused(export, target, change, match):
    edit(export, change)
    refused(target, export, match)


# Manifests that used to crash with a traceback -------------------------------------------
def _two_lesions_one_label(m: dict[str, Any]) -> None:
    m["case"]["lesions"][1]["label"] = m["case"]["lesions"][0]["label"]


def _nan_melanoma(m: dict[str, Any]) -> None:
    first_result(m)["melanoma_probability"] = float("nan")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_two_lesions_one_label, "appears twice"),
        (_nan_melanoma, "NaN is not a number"),
        (lambda m: m["case"]["lesions"][0]["visits"][0].update(note=5), "must be text"),
        (lambda m: first_result(m).update(probabilities=[0.5, 0.5]), "must be a JSON object"),
        (lambda m: m.update(format_version=True), "export format True"),
    ],
    ids=["two-lesions-one-label", "nan-melanoma", "note-number", "probabilities-list", "bool-ver"],
)
def test_malformed_manifest_exits_2_with_one_line(export, target, capsys, change, match):
    edit(export, change)
    cli_refused(target, export, capsys, match)


def test_deeply_nested_manifest_exits_2(export, target, capsys):
    depth = 200_000
    (export / "case.json").write_text(
        '{"format": "lesionlens-case", "case": ' + "[" * depth + "]" * depth + "}",
        encoding="utf-8",
    )
    cli_refused(target, export, capsys, "nested too deeply")


def test_repeated_key_exits_2(export, target, capsys):
    """Two values for one key: which one a reader believes must not be a matter of luck."""
    text = (export / "case.json").read_text(encoding="utf-8")
    (export / "case.json").write_text(
        text.replace('"label": ', '"label": "decoy", "label": ', 1), encoding="utf-8"
    )
    cli_refused(target, export, capsys, "appears twice in one object")


# Two imports at once ------------------------------------------------------------------------
def test_concurrent_imports_of_one_export_say_already_exists(export, target, original):
    """The other import commits between this one's checks and its transaction."""
    with Store.open(target) as mine, Store.open(target) as theirs:
        real_write = mine.write

        @contextlib.contextmanager
        def racing_write():  # noqa: ANN202
            History(theirs).import_case(export)
            with real_write() as conn:
                yield conn

        mine.write = racing_write  # type: ignore[method-assign]
        with pytest.raises(ImportRefused, match="'P1' already exists"):
            History(mine).import_case(export)
        mine.write = real_write  # type: ignore[method-assign]
        imported = History(mine).show("P1")
    with Store.open(target) as store:
        counts = [store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES]
    assert counts == [2, 3, 4, 5, 4]  # OTHER + one copy of P1, not two
    source = json.loads((original / "case.json").read_text(encoding="utf-8"))["case"]
    assert portable_case(imported) == portable_case(source)
