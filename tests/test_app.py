"""The window, driven through qtbot with a fake classifier of exact probabilities."""

from __future__ import annotations

import csv
import re
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from desktop.qt.app import build_window
from desktop.qt.convert import pil_to_qimage
from desktop.qt.views.batch_table import COL_PROB
from tests.fakes import ISIC_CLASSES, FakeClassifier, lesion_image, probs_for, write_images

TIMEOUT = 15_000


@pytest.fixture
def make_window(qtbot, qsettings, tmp_path):
    """Build the window around a given classifier (or None for 'model missing')."""

    def make(classifier=None, load_error=None, samples=None):
        window, controller = build_window(
            classifier, load_error, settings=qsettings, samples=samples or tmp_path / "no-samples"
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window, controller

    yield make


def run_job(qtbot, controller, start):
    """Start a job via ``start()`` and wait until it finished and its detail image is shown."""
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT) as blocker:
        job = start()
    assert job is not None and blocker.args[0] == job
    return blocker.args


def wait_display(qtbot, window):
    qtbot.waitUntil(lambda: window.image_view.photo is not None, timeout=TIMEOUT)


def drop_on(window, widget, mime) -> None:
    """A drag that ends over ``widget``, delivered through the native window as a real one is.

    Children do not accept drops, so this proves the window catches drops anywhere on it.
    """
    pos = QPointF(widget.mapTo(window, widget.rect().center()))
    handle = window.windowHandle()
    action, button, mods = (
        Qt.DropAction.CopyAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(pos.toPoint(), action, mime, button, mods)
    QApplication.sendEvent(handle, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(handle, QDropEvent(pos, action, mime, button, mods))


def probs(**named):
    return probs_for(ISIC_CLASSES, **named)


# Opening ------------------------------------------------------------------------------------


def test_drop_anywhere_classifies(qtbot, make_window, tmp_path):
    window, controller = make_window(FakeClassifier())
    (img,) = write_images(tmp_path, ["lesion.png"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(img))])
    run_job(qtbot, controller, lambda: drop_on(window, window.bars, mime) or controller.batch.job)
    wait_display(qtbot, window)
    assert controller.current.path == img
    assert window.top_label.text().startswith("Most likely: Nevus")
    assert not window.batch_panel.isVisible()  # one image: no table


def test_open_dialog_and_recent_files(qtbot, make_window, tmp_path, qsettings):
    window, controller = make_window(FakeClassifier())
    files = write_images(tmp_path, ["a.png", "b.png"])
    controller.ask_open_files = lambda: [str(f) for f in files]
    run_job(qtbot, controller, lambda: (window.open_action.trigger(), controller.batch.job)[1])
    assert window.batch_panel.isVisible()
    assert window.batch_panel.model.rowCount() == 2
    recent = controller.recent_files()
    assert recent[0] == str(files[1].resolve()) and str(files[0].resolve()) in recent
    names = [a.text() for a in window.recent_menu.actions()]
    assert any("b.png" in n for n in names)


def test_paste_image_from_clipboard(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    QApplication.clipboard().setImage(pil_to_qimage(lesion_image(180)))
    run_job(qtbot, controller, lambda: (window.paste_action.trigger(), controller.batch.job)[1])
    wait_display(qtbot, window)
    assert controller.current.name == "Pasted image" and controller.current.ok
    assert controller.current.image.size == (180, 180)


def test_inference_runs_on_a_worker_thread(qtbot, make_window, tmp_path):
    fake = FakeClassifier(delay_s=0.05)
    window, controller = make_window(fake)
    write_images(tmp_path / "batch", [f"{i:02}.png" for i in range(6)])
    started = time.perf_counter()
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([tmp_path / "batch"])
        assert time.perf_counter() - started < 0.25  # returned before the 6 x 50 ms of work
    main = threading.get_ident()
    assert fake.threads and all(t != main for t in fake.threads)
    assert controller.runner.last_thread not in (None, main)


def test_cancel_stops_a_batch(qtbot, make_window, tmp_path):
    window, controller = make_window(FakeClassifier(delay_s=0.05))
    write_images(tmp_path / "batch", [f"{i:02}.png" for i in range(30)], size=80)
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT) as blocker:
        controller.open_paths([tmp_path / "batch"])
        qtbot.waitUntil(lambda: window.batch_panel.model.rowCount() > 0, timeout=TIMEOUT)
        window.cancel_action.trigger()
    assert blocker.args[1] is True
    assert window.batch_panel.model.rowCount() < 30


# Result display ------------------------------------------------------------------------------


def test_bars_sorted_and_sum_to_100(qtbot, make_window):
    p = [0.123, 0.2, 0.05, 0.111, 0.3, 0.07, 0.066, 0.04, 0.04]
    window, controller = make_window(FakeClassifier(probabilities=p))
    run_job(qtbot, controller, lambda: controller.open_image(lesion_image(), "x"))
    shown = window.bars.shown()
    assert len(shown) == 9
    values = [v for _, v in shown]
    assert values == sorted(values, reverse=True)
    assert round(sum(values), 6) == 100.0
    texts = window.bars.row_texts()
    assert sum(float(t.split()[0]) for _, t in texts) == pytest.approx(100.0)
    assert "Nevus" in texts[0][0]


@pytest.mark.parametrize(
    ("named", "level", "visible"),
    [
        ({"melanoma": 0.30, "nevus": 0.5}, "alert", True),  # exactly the threshold
        ({"melanoma": 0.45}, "alert", True),
        ({"melanoma": 0.2999, "nevus": 0.5}, "no_alert", False),  # no amber "watch" any more
        ({"melanoma": 0.29, "nevus": 0.4, "basal_cell_carcinoma": 0.3}, "no_alert", False),
        ({"nevus": 0.9, "melanoma": 0.001}, "no_alert", False),
    ],
)
def test_alert_banner_around_threshold(qtbot, make_window, named, level, visible):
    window, controller = make_window(FakeClassifier(probabilities=probs(**named)))
    run_job(qtbot, controller, lambda: controller.open_image(lesion_image(), "x"))
    banner = window.alert_banner
    assert banner.level == level
    assert banner.isVisible() is visible
    if level == "alert":  # the alert leads; the class is explained under it, never against it
        assert banner.title == "Possible melanoma \u2014 refer for specialist assessment"
        assert f"{named['melanoma']:.0%}".replace("%", "\u00a0%") in banner.body
        notes = window.detail.notes.text().lower()  # what the alert means: under the bars
        assert "in testing" in notes or "not measured" in notes
        assert not window.top_label.text().startswith("Most likely")
        assert "threshold" not in (banner.title + banner.body + notes).lower()
    else:
        assert window.top_label.text().startswith(("Most likely", "Uncertain"))
        assert "No melanoma alert" in window.melanoma_label.text()
        assert "threshold" not in window.melanoma_label.text().lower()


def test_uncertain_when_top_probability_is_low(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probabilities=probs(nevus=0.4, melanoma=0.1)))
    run_job(qtbot, controller, lambda: controller.open_image(lesion_image(), "x"))
    assert window.uncertain_banner.isVisible()
    assert "40\u00a0%" in window.uncertain_banner.body
    assert "under 50\u00a0%" in window.uncertain_banner.body
    assert window.top_label.text().startswith("Uncertain")
    assert not window.alert_banner.isVisible()


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (lesion_image(40), "too small"),
        (lesion_image(200).point(lambda _v: 128), "nearly blank"),
    ],
)
def test_unusable_image_cannot_be_assessed_and_never_alerts(qtbot, make_window, image, reason):
    """Issue 15 item 3: melanoma at 90 % on an unusable image shows no alert, no class."""
    window, controller = make_window(FakeClassifier(probabilities=probs(melanoma=0.9)))
    run_job(qtbot, controller, lambda: controller.open_image(image, "x"))
    assert not window.alert_banner.isVisible()
    assert window.uncertain_banner.isVisible()
    assert window.uncertain_banner.title == "Cannot assess this image"
    assert reason in window.uncertain_banner.body
    assert not window.bars.isVisible()
    assert "Melanoma" not in window.top_label.text()


def test_out_of_scope_image_cannot_be_assessed(qtbot, make_window):
    fake = FakeClassifier(probabilities=probs(melanoma=0.9), out_of_scope=[(200, 200)])
    window, controller = make_window(fake)
    run_job(qtbot, controller, lambda: controller.open_image(lesion_image(200), "photo"))
    assert not window.alert_banner.isVisible() and window.alert_banner.level == "cannot_assess"
    assert "dermoscopy" in window.uncertain_banner.body
    assert not window.bars.isVisible()


def test_heatmap_toggle(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    run_job(qtbot, controller, lambda: controller.open_image(lesion_image(), "x"))
    wait_display(qtbot, window)
    assert window.heatmap_toggle.isEnabled() and window.image_view.has_overlay
    assert not window.image_view.showing_overlay
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert window.image_view.showing_overlay and window.heatmap_toggle.isChecked()
    window.heatmap_toggle.setChecked(False)
    assert not window.image_view.showing_overlay and not window.heatmap_action.isChecked()


# Batch ---------------------------------------------------------------------------------------


def test_batch_table_sorts_selects_and_exports(qtbot, make_window, tmp_path):
    fake = FakeClassifier(
        probabilities=probs(nevus=0.6),
        by_size={(120, 120): probs(melanoma=0.8), (140, 140): probs(nevus=0.4, melanoma=0.3)},
    )
    window, controller = make_window(fake)
    folder = tmp_path / "visit"
    write_images(folder, ["c.png"], size=200)
    write_images(folder, ["a.png"], size=120)
    write_images(folder / "sub", ["b.png"], size=140)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    run_job(qtbot, controller, lambda: controller.open_paths([folder]))
    panel = window.batch_panel
    assert panel.isVisible() and panel.model.rowCount() == 4
    names = [panel.model.result(i).name for i in range(4)]
    assert names == ["a.png", "broken.jpg", "c.png", "b.png"]  # sorted full paths
    error_row = panel.model.result(1)
    assert not error_row.ok and "broken.jpg" in error_row.error
    summary = panel.summary.text()
    assert "Assessed 3 of 4 images" in summary and "1 could not be read" in summary

    panel.table.sortByColumn(COL_PROB, Qt.SortOrder.DescendingOrder)
    ordered = [r.name for r in panel.results_in_view_order()]
    assert ordered[0] == "a.png" and ordered[-1] == "broken.jpg"

    panel.table.selectRow(1)  # c.png, 60 % nevus
    assert controller.current.name == "c.png"
    assert window.top_label.text().startswith("Most likely: Nevus (60\u00a0%)")
    panel.table.selectRow(3)
    assert controller.current.name == "broken.jpg"
    assert window.error_banner.isVisible() and not window.alert_banner.isVisible()

    out = controller.export_csv(tmp_path / "out.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == ordered
    assert rows[0]["alert"] == "alert" and rows[-1]["alert"] == "error"
    assert rows[-1]["error"]


def test_a_thousand_images_keep_the_ui_responsive(qtbot, make_window, tmp_path):
    """Results arrive in chunks; the event loop keeps running while the batch runs."""
    window, controller = make_window(FakeClassifier())
    folder = tmp_path / "many"
    folder.mkdir()
    tiny = lesion_image(70)
    for i in range(300):
        tiny.save(folder / f"{i:04}.png")
    ticks = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    run_job(qtbot, controller, lambda: controller.open_paths([folder]))
    timer.stop()
    assert window.batch_panel.model.rowCount() == 300
    assert len(ticks) >= 3  # the UI thread kept processing timers during the batch


# Report, about, model problems ----------------------------------------------------------------


def test_save_report_writes_a_one_page_pdf(qtbot, make_window, tmp_path):
    window, controller = make_window(FakeClassifier(probabilities=probs(melanoma=0.7)))
    (img,) = write_images(tmp_path, ["lesion.png"])
    run_job(qtbot, controller, lambda: controller.open_paths([img]))
    wait_display(qtbot, window)
    assert window.save_report_action.isEnabled()
    out = controller.save_report(tmp_path / "report.pdf")
    data = Path(out).read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1


def test_model_card_dialog_shows_card_metrics(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    dialog = controller.show_model_card()
    qtbot.addWidget(dialog)
    text = dialog.browser.document().toRawText()  # keeps non-breaking spaces
    assert "averaged over classes (balanced accuracy)" in text and "61.2\u00a0%" in text
    assert "Melanomas that raise the alert" in text and "83.0\u00a0%" in text
    assert "balanced_accuracy" not in text and "melanoma sensitivity" not in text
    assert "decision aid, not a diagnosis" in text.lower()
    assert "Melanoma" in text and "Tests only." in text
    assert "Pretrained starting point" in text and "EfficientNet-Lite0" in text


def test_missing_model_shows_a_message_and_the_window_opens(qtbot, make_window, tmp_path):
    window, controller = make_window(None, "model file not found: /x/model.tflite")
    assert window.isVisible()
    assert window.model_banner.isVisible() and window.model_banner.kind == "error"
    assert "model file not found" in window.model_banner.body
    assert not window.open_action.isEnabled()
    assert controller.open_paths([tmp_path]) is None
    assert "No model" in window.model_status.text()
    dialog = controller.show_model_card()
    qtbot.addWidget(dialog)
    assert "No model loaded" in dialog.browser.toPlainText()


def test_samples_menu(qtbot, make_window, tmp_path):
    window, _ = make_window(FakeClassifier())
    (empty,) = window.samples_menu.actions()
    assert not empty.isEnabled() and "No sample" in empty.text()

    samples = tmp_path / "samples"
    write_images(samples, ["one.png", "two.png"])
    window2, controller2 = make_window(FakeClassifier(), samples=samples)
    texts = [a.text() for a in window2.samples_menu.actions() if not a.isSeparator()]
    assert texts == ["one.png", "two.png", "Open all samples"]
    run_job(
        qtbot,
        controller2,
        lambda: (window2.samples_menu.actions()[0].trigger(), controller2.batch.job)[1],
    )
    assert controller2.current.name == "one.png"


def test_disclaimer_is_always_visible(qtbot, make_window):
    window, _ = make_window(FakeClassifier())
    assert window.disclaimer.isVisible()
    assert "Decision aid, not a diagnosis" in window.disclaimer.text()


def test_dropped_qimage_without_file(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    mime = QMimeData()
    mime.setImageData(QImage(pil_to_qimage(lesion_image(150))))

    run_job(
        qtbot, controller, lambda: drop_on(window, window.image_view, mime) or controller.batch.job
    )
    assert controller.current.ok and controller.current.name == "Dropped image"
