"""Reports a clinic files: who and what, the model (adapted or not), the clinician from the
settings, a sign-off line, no internal data-set names; the batch report; one page helper."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QPainter

from desktop import verdict
from desktop.card import ModelCard
from desktop.history.service import History, ModelInfo
from desktop.history.store import Store
from desktop.qt import followup_texts as words
from desktop.qt.app import build_window
from desktop.qt.batch_report import batch_rows, write_batch_report
from desktop.qt.controllers.reports import CLINICIAN_KEY, capture_date
from desktop.qt.history_report import write_lesion_pdf
from desktop.qt.report import ReportSubject, report_text, write_report
from desktop.results import classify_image, classify_path
from tests.fakes import ISIC_CLASSES, FakeClassifier, card_dict, lesion_image, probs_for

WHEN = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
INTERNAL = ("ham10000", "isic-9class", "isic2017", "isic2020", "vienna_dias")
SOURCES = {
    "melanoma_by_source": {
        name: {"images": 100 + i, "sensitivity": 0.9, "specificity": 0.6}
        for i, name in enumerate(("ham10000", "isic-9class", "isic2017", "vienna_dias"))
    },
    "out_of_source": {"source": "isic2020", "images": 50, "melanoma_sensitivity": 0.8},
    "balanced_accuracy": 0.61,
}


def clinic_card(adapted: bool = False) -> ModelCard:
    data = card_dict(metrics=SOURCES)
    data["training_data"] = {"sources": [{"name": n, "path": n} for n in INTERNAL]}
    if adapted:
        data["adaptation"] = {"images": 40, "created": "2026-02-01T00:00:00Z"}
    return ModelCard.from_dict(data)


@pytest.fixture
def drawn(monkeypatch):
    """Every string painted with QPainter.drawText (a PDF's words, without parsing it)."""
    seen: list[str] = []
    original = QPainter.drawText

    def record(self, *args):
        seen.extend(a for a in args if isinstance(a, str))
        return original(self, *args)

    monkeypatch.setattr(QPainter, "drawText", record)
    return seen


def classified(card: ModelCard, melanoma: float = 0.05, name: str = "x.png"):
    fake = FakeClassifier(probs_for(ISIC_CLASSES, melanoma=melanoma, nevus=0.5), card=card)
    return classify_image(fake, lesion_image(64), name=name)


def test_the_image_report_says_who_what_which_model_and_ends_in_a_sign_off(qapp, tmp_path, drawn):
    card = clinic_card(adapted=True)
    subject = ReportSubject("P-0042", "left shoulder 1", "posterior torso", "2024-05-06")
    content = report_text(classified(card), card, "fake", WHEN, None, subject, "Dr A. Jones")
    out = write_report(tmp_path / "r.pdf", classified(card), card, "fake", None, None, WHEN,
                       subject=subject, clinician="Dr A. Jones")  # fmt: skip
    page = "\n".join(drawn)
    for words_on_page in (content.all_text(), page):
        for needed in ("P-0042", "left shoulder 1", "posterior torso", "2024-05-06",
                       "Model test-1 (adapted for this clinic)", "Clinician: Dr A. Jones",
                       "Reviewed by ____", "Date ____"):  # fmt: skip
            assert needed in words_on_page, needed
    assert page.rstrip().endswith(content.disclaimer)
    assert page.index("Reviewed by") > page.index(content.facts[0][:20])
    assert out.stat().st_size > 1000


def test_unknown_subject_fields_print_as_blanks_and_a_base_model_is_not_called_adapted(qapp):
    card = clinic_card(adapted=False)
    content = report_text(classified(card), card, "fake", WHEN)
    assert "Patient ID: ________" in content.subject and "Captured: ________" in content.subject
    assert content.model == "Model test-1" and "adapted" not in content.all_text()
    assert content.clinician == "Clinician: ________"


def test_no_internal_data_set_name_reaches_any_report(qapp, tmp_path, drawn):
    card = clinic_card(adapted=True)
    assert any(
        n in " ".join(__import__("desktop.verdict").verdict.model_facts(card)) for n in INTERNAL
    )  # fmt: skip  (the card does name them)
    content = report_text(classified(card), card, "fake", WHEN)
    write_report(tmp_path / "r.pdf", classified(card), card, "fake", None, None, WHEN)
    write_batch_report(tmp_path / "b.pdf", [classified(card)], card, when=WHEN)
    lesion_pdf(tmp_path, card)
    for text in (content.all_text(), "\n".join(drawn)):
        low = text.lower()
        assert not [n for n in INTERNAL if n in low]
    assert words.PLAIN_SOURCE in content.all_text()


def test_every_held_out_origin_of_the_card_is_a_name_to_say_plainly():
    raw = {"metrics": {"out_of_source": {"source": "each of 2 origins held out in turn",
                                         "origins": ["rosendahl", "vidir_molemax"]}}}  # fmt: skip
    assert words.source_names(raw) == {"rosendahl", "vidir_molemax"}
    one = {"metrics": {"out_of_source": {"source": "isic2017"}}}
    assert words.source_names(one) == {"isic2017"}


def test_plain_words_replaces_every_spelling():
    text = "Images from HAM10000, isic_2019, ISIC 2020, isic-9class and vienna_dias."
    out = words.plain_words(text, {"vienna_dias"})
    assert out.count(words.PLAIN_SOURCE) == 5
    assert words.plain_words("nine ISIC lesion classes") == "nine ISIC lesion classes"


def lesion_pdf(tmp_path: Path, card: ModelCard | None, clinician: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(2):
        files.append(tmp_path / f"v{i}.png")
        lesion_image(64, seed=i).save(files[-1])
    with Store.open(tmp_path / "cases") as store:
        history = History(store)
        for i, f in enumerate(files):
            fake = FakeClassifier(probs_for(ISIC_CLASSES, melanoma=0.1 + 0.3 * i, nevus=0.5))
            history.add_visit("P-7", "back 2", f, classify_path(fake, f),
                              ModelInfo("ham10000-run-1", "a" * 64), site="scalp",
                              taken=f"2024-0{i + 1}-02")  # fmt: skip
        case = history.case("P-7")
        return write_lesion_pdf(tmp_path / "l.pdf", case, case.lesions[0], store.image_path, WHEN,
                                card=card, clinician=clinician)  # fmt: skip


def test_the_lesion_pdf_names_the_clinician_model_and_capture_dates(qapp, tmp_path, drawn):
    out = lesion_pdf(tmp_path, clinic_card(adapted=True), clinician="Dr B. Smith")
    page = "\n".join(drawn)
    assert out.is_file()
    for needed in ("Patient ID: P-7", "Lesion: back 2", "Site: scalp",
                   "Captured: 2024-01-02 \u2013 2024-02-02", "(adapted for this clinic)",
                   "Clinician: Dr B. Smith", "Reviewed by"):  # fmt: skip
        assert needed in page, needed
    assert "ham10000" not in page.lower()  # the stored model version said in plain words
    drawn.clear()
    lesion_pdf(tmp_path / "again", None)  # the command line: no card, the stored version
    assert "Model a public dermoscopy collection-run-1" in "\n".join(drawn)


def classified_file(card: ModelCard, melanoma: float, path: Path):
    lesion_image(64).save(path)
    fake = FakeClassifier(probs_for(ISIC_CLASSES, melanoma=melanoma, nevus=0.05), card=card)
    return classify_path(fake, path)


def test_the_batch_report_lists_alerts_first_with_thumbnails(qapp, tmp_path, drawn, monkeypatch):
    card = clinic_card()
    results = [
        classified(card, 0.05, "calm.png"),
        classified(card, 0.9, "worst.png"),
        classified(card, 0.45, "alert.png"),
    ]
    for r in (results[0], results[2]):
        object.__setattr__(r, "thumbnail", np.full((48, 48, 3), 120, np.uint8))
    results[1] = classified_file(card, 0.9, tmp_path / "worst.png")  # no thumbnail kept
    rows = batch_rows(results, card)
    assert [r.name for r in rows] == ["worst.png", "alert.png", "calm.png"]
    assert rows[0].level == "alert" and "MELANOMA" in rows[0].alert and rows[2].alert == "-"
    pictures = []
    original = QPainter.drawImage
    monkeypatch.setattr(
        QPainter, "drawImage", lambda self, *a: pictures.append(a[-1]) or original(self, *a)
    )
    out = write_batch_report(tmp_path / "b.pdf", results, card, "Dr C", WHEN)
    assert len(pictures) == 3 and all(not p.isNull() for p in pictures)
    page = "\n".join(drawn)
    assert out.stat().st_size > 1000
    assert page.index("worst.png") < page.index("alert.png") < page.index("calm.png")
    assert "2 with a melanoma alert" in page and "Clinician: Dr C" in page
    assert "Reviewed by" in page


def test_the_batch_report_says_the_melanoma_figure_the_bars_show(qapp):
    """0.79549 rounded alone is 79.5 %; the bars, rounded to add up to 100, say 79.6 %."""
    card = clinic_card()
    named = {"melanoma": 0.79549, "nevus": 0.10226, "basal cell carcinoma": 0.10225}
    fake = FakeClassifier([named.get(c, 0.0) for c in ISIC_CLASSES], card=card)
    result = classify_image(fake, lesion_image(64), name="m.png")
    (row,) = batch_rows([result], card)
    shown = verdict.shown_percents(result.prediction.probabilities)
    assert shown[ISIC_CLASSES.index("melanoma")] == "79.6\u00a0%"
    assert row.melanoma.endswith("79.6\u00a0%")


def test_capture_date_comes_from_exif_or_is_left_blank(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2024:05:06 10:11:12"
    lesion_image(32).save(tmp_path / "dated.jpg", exif=exif)
    lesion_image(32).save(tmp_path / "plain.png")
    assert capture_date(tmp_path / "dated.jpg") == "2024-05-06"
    assert capture_date(tmp_path / "plain.png") == ""
    assert capture_date(tmp_path / "missing.jpg") == "" and capture_date(None) == ""


def test_the_clinician_name_is_a_setting_printed_on_reports(qtbot, qsettings, tmp_path, drawn):
    fake = FakeClassifier(card=clinic_card())
    window, controller = build_window(fake, settings=qsettings, samples=tmp_path / "none")
    qtbot.addWidget(window)
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    settings_menu = next(a.menu() for a in menus["&Edit"].actions() if a.menu())
    assert window.clinician_action in settings_menu.actions()
    assert window.save_batch_report_action in menus["&File"].actions()
    controller.reports.set_clinician("  Dr   D. Moss ")
    assert qsettings.value(CLINICIAN_KEY) == "Dr D. Moss"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2023:11:30 08:00:00"
    lesion_image(64).save(tmp_path / "one.jpg", exif=exif)
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=15_000):
        controller.open_paths([tmp_path / "one.jpg"])
    qtbot.waitUntil(lambda: controller.current is not None, timeout=15_000)
    assert controller.save_report(tmp_path / "one.pdf") is not None
    page = "\n".join(drawn)
    assert "Clinician: Dr D. Moss" in page and "Captured: 2023-11-30" in page
    assert controller.reports.save_batch_report(tmp_path / "batch.pdf") is not None
    controller.shutdown()
