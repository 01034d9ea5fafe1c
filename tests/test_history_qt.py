"""Lesion history in the window: Save to case, case browser, timeline, chart (pytest-qt, fakes)."""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from desktop.history.service import History, SeriesPoint, melanoma_series
from desktop.history.store import DB_NAME, SCHEMA_VERSION, Store, default_data_dir
from desktop.qt import palette
from desktop.qt.app import build_window, create_application
from desktop.qt.controllers.history import HistoryController, gui_data_dir
from desktop.qt.views.history_chart import MelanomaChart
from desktop.qt.views.zoom_pan import ZoomPanView
from desktop.results import classify_path
from tests.fakes import ISIC_CLASSES, FakeClassifier, probs_for, write_images
from tests.history_helpers import MODEL, TIMEOUT, classify_in_window


def populate(data: Path, tmp_path: Path, melanoma=(0.05, 0.2, 0.45)) -> dict:
    """P1 with one lesion and a visit per melanoma probability; P2 and Q3 with one visit each."""
    files = write_images(tmp_path / "visits", [f"v{i}.png" for i in range(len(melanoma) + 2)])
    with Store.open(data) as store:
        history = History(store)
        for i, (m, f) in enumerate(zip(melanoma, files, strict=False)):
            fake = FakeClassifier(probabilities=probs_for(ISIC_CLASSES, melanoma=m, nevus=0.5))
            history.add_visit(
                "P1", "left shoulder 1", f, classify_path(fake, f), MODEL,
                site="posterior torso", taken=f"2024-0{i + 1}-15", note=f"visit {i + 1}",
            )  # fmt: skip
        for code, f in (("P2", files[-2]), ("Q3", files[-1])):
            history.add_visit(code, "scalp", f, classify_path(FakeClassifier(), f), MODEL)
        return history.show("P1")


def test_gui_and_command_line_share_one_data_folder(tmp_path, monkeypatch, qapp):
    monkeypatch.setenv("LESIONLENS_DATA_DIR", str(tmp_path / "x"))
    assert gui_data_dir() == default_data_dir() == tmp_path / "x"
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("LESIONLENS_DATA_DIR")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        create_application()  # organisation and application names as the app sets them
        assert (
            gui_data_dir() == default_data_dir() == tmp_path / "xdg" / "LesionLens" / "LesionLens"
        )


def test_the_window_takes_its_case_store_from_the_command_line(tmp_path, monkeypatch, qtbot):
    """``python -m desktop --data-dir DIR`` reaches the window's history controller, over
    the environment's folder."""
    from desktop import cli

    monkeypatch.setenv("LESIONLENS_DATA_DIR", str(tmp_path / "from-env"))
    args = cli.parse_args(["--data-dir", str(tmp_path / "cases"), "x.png"])
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win, controller = build_window(
        FakeClassifier(), settings=settings, samples=tmp_path / "none", data_dir=args.data_dir
    )
    qtbot.addWidget(win)
    assert controller.history.data_dir == tmp_path / "cases"
    assert controller.history.history() is not None  # opened (and made) there
    assert (tmp_path / "cases").is_dir() and not (tmp_path / "from-env").exists()
    controller.history.shutdown()
    win2, plain = build_window(FakeClassifier(), settings=settings, samples=tmp_path / "none")
    qtbot.addWidget(win2)
    assert plain.history.data_dir == tmp_path / "from-env"


def test_save_to_case_from_the_window_with_a_dropped_extra_photo(qtbot, window, data, tmp_path):
    win, controller = window
    first, extra = write_images(tmp_path / "new", ["today.png", "close-up.png"])
    classify_in_window(qtbot, controller, first)
    win.save_to_case_action.trigger()
    dialog = controller.history.save_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.patient_edit.setEditText("P-0042")
    dialog.lesion_edit.setEditText("left shoulder 1")
    dialog.site_combo.setCurrentText("posterior torso")
    dialog.note_edit.setPlainText("slightly darker than last time")
    dialog.add_files([str(extra)])
    with qtbot.waitSignal(controller.history.taskFinished, timeout=TIMEOUT):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert not dialog.isVisible()
    with Store.open(data) as store:
        case = History(store).show("P-0042")
    (lesion,) = case["lesions"]
    assert lesion["site"] == "posterior torso"
    assert [v["image"]["original_name"] for v in lesion["visits"]] == ["today.png", "close-up.png"]
    assert {v["note"] for v in lesion["visits"]} == {"slightly darker than last time"}

    # A second save offers the patient's lesions and fixes the site of an existing one.
    win.save_to_case_action.trigger()
    dialog = controller.history.save_dialog
    dialog.patient_edit.setEditText("P-0042")
    assert dialog.lesion_edit.findText("left shoulder 1") >= 0
    dialog.lesion_edit.setEditText("left shoulder 1")
    assert not dialog.site_combo.isEnabled()
    assert dialog.site_combo.currentText() == "posterior torso"
    dialog.reject()


def test_save_dialog_explains_what_is_wrong_and_stores_nothing(qtbot, window, data, tmp_path):
    win, controller = window
    (img,) = write_images(tmp_path / "new", ["x.png"])
    classify_in_window(qtbot, controller, img)
    dialog = controller.history.save_to_case()
    dialog.lesion_edit.setEditText("back")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible() and "patient id must not be empty" in dialog.error_label.text()
    with Store.open(data) as store:
        assert History(store).patients() == []
    dialog.reject()


def test_case_browser_searches_and_opens_a_timeline(qtbot, window, data, tmp_path):
    win, controller = window
    populate(data, tmp_path)
    win.cases_action.trigger()
    browser = controller.history.browser
    assert browser is not None and browser.patients.rowCount() == 3
    browser.search_edit.setText("p")
    assert [browser.patients.text(i, 0) for i in range(2)] == ["P1", "P2"]
    assert browser.patients.rowCount() == 2
    browser.patients.selectRow(0)
    assert browser.lesions.rowCount() == 1 and browser.lesions.text(0, 2) == "3"
    browser.open_button.click()
    timeline = controller.history.timelines.dialog
    assert timeline is not None and timeline.isVisible()
    qtbot.waitUntil(
        lambda: timeline.view_a.image is not None and timeline.view_b.image is not None,
        timeout=TIMEOUT,
    )
    a, b = timeline.selected_ids()
    visits = controller.history.timelines.visits_shown()
    assert (a, b) == (visits[1].id, visits[2].id)  # the latest against the one before
    assert "alert" not in timeline.verdict_a.text().lower() or "no" in timeline.verdict_a.text()
    assert "Possible melanoma" in timeline.verdict_b.text()  # 45 % is over the 30 % threshold
    values = [s.value for s in timeline.chart.series]
    assert values == pytest.approx([0.05, 0.2, 0.45])
    assert timeline.visits.rowCount() == 3


def test_timeline_views_zoom_and_pan_together(qtbot, window, data, tmp_path):
    _, controller = window
    case = populate(data, tmp_path)
    timeline = controller.history.open_timeline(case["lesions"][0]["id"])
    qtbot.waitUntil(lambda: timeline.view_b.image is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: timeline.view_a.image is not None, timeout=TIMEOUT)
    va, vb = timeline.view_a, timeline.view_b
    va.zoom_by(2.0, QPointF(va.width() * 0.3, va.height() * 0.3))
    assert va.view()[0] == pytest.approx(2.0) and vb.view() == pytest.approx(va.view())
    vb.pan_by(15, -10)
    assert va.view() == pytest.approx(vb.view())
    wheel = QWheelEvent(
        QPointF(10, 10), QPointF(va.mapToGlobal(QPoint(10, 10))), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(va, wheel)
    assert va.view()[0] == pytest.approx(2.5) and vb.view() == pytest.approx(va.view())
    timeline.link_box.setChecked(False)
    qtbot.keyClick(va, Qt.Key.Key_Plus)
    assert va.view()[0] > vb.view()[0]
    timeline.link_box.setChecked(True)  # re-linking brings the other view along
    assert vb.view() == pytest.approx(va.view())
    qtbot.keyClick(vb, Qt.Key.Key_0)
    assert va.view() == pytest.approx((1.0, 0.5, 0.5))


def test_reclassify_keeps_the_old_result_beside_the_new(qtbot, window, data, tmp_path):
    _, controller = window
    case = populate(data, tmp_path, melanoma=(0.05, 0.1))
    timeline = controller.history.open_timeline(case["lesions"][0]["id"])
    controller.classifier.probabilities = probs_for(ISIC_CLASSES, melanoma=0.8)
    with qtbot.waitSignal(controller.history.taskFinished, timeout=TIMEOUT) as done:
        token = controller.history.timelines.reclassify(timeline.selected_ids()[1])
    assert token is not None
    qtbot.waitUntil(lambda: "Earlier result" in timeline.verdict_b.text(), timeout=TIMEOUT)
    assert done.args is not None
    last = controller.history.timelines.visits_shown()[-1]
    assert [r.alert_level for r in last.results] == ["no_alert", "alert"]
    assert "Possible melanoma" in timeline.verdict_b.text()
    series = melanoma_series(controller.history.timelines.visits_shown())
    assert series[-1].value == pytest.approx(0.8)
    assert series[-1].earlier == pytest.approx((0.1,))


def test_delete_visit_says_images_go_too(qtbot, window, data, tmp_path):
    _, controller = window
    case = populate(data, tmp_path)
    timeline = controller.history.open_timeline(case["lesions"][0]["id"])
    asked = []
    controller.history.confirm = lambda text: asked.append(text) or True
    victim = Path(controller.history.timelines.visits_shown()[-1].image.file)
    timeline.delete_button.click()
    assert "stored image file" in asked[0] and "image store" in asked[0]
    assert not victim.exists()
    assert len(controller.history.timelines.visits_shown()) == 2 and timeline.visits.rowCount() == 2

    controller.history.confirm = lambda text: False
    timeline.delete_button.click()
    assert len(controller.history.timelines.visits_shown()) == 2


def test_export_patient_writes_csv_and_a_pdf_per_lesion(qtbot, window, data, tmp_path):
    _, controller = window
    populate(data, tmp_path)
    out = controller.history.export_patient("P1", tmp_path / "export")
    assert out is not None
    pdfs = list(out.glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
    assert (out / "results.csv").is_file() and (out / "case.json").is_file()


def test_an_unusable_store_is_reported_not_opened(qtbot, window, data, tmp_path):
    win, controller = window
    populate(data, tmp_path)
    conn = sqlite3.connect(data / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    errors = []
    controller.history.show_error = errors.append
    win.cases_action.trigger()
    assert controller.history.browser is None
    assert len(errors) == 1 and "newer" in errors[0]


def test_save_without_a_result_only_says_so(qtbot, window):
    win, controller = window
    win.save_to_case_action.trigger()
    assert controller.history.save_dialog is None
    assert "classify an image first" in win.statusBar().currentMessage()


def test_controller_works_without_the_main_window_actions(qtbot, tmp_path):
    """Tests and other windows can drive it with an explicit folder and classifier."""
    from PySide6.QtWidgets import QWidget

    host = QWidget()
    qtbot.addWidget(host)
    ctl = HistoryController(host, data_dir=tmp_path / "own", classifier=FakeClassifier())
    assert ctl.open_cases() is not None and ctl.data_dir == tmp_path / "own"
    ctl.shutdown()


def test_chart_paints_alerts_in_red_and_skips_unassessable(qtbot):
    chart = MelanomaChart()
    qtbot.addWidget(chart)
    chart.resize(400, 200)
    series = [
        SeriesPoint(1, "2024-01-01", "no_alert", 0.1, threshold=0.3, earlier=()),
        SeriesPoint(2, "2024-03-01", "cannot_assess", None, threshold=0.3, earlier=()),
        SeriesPoint(3, "2024-06-01", "alert", 0.7, threshold=0.3, earlier=(0.2,)),
    ]
    chart.set_series(series)
    image = chart.grab().toImage()
    red = QColor(palette.level_ink("alert"))
    reds = sum(
        1
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
        if _close(image.pixelColor(x, y), red)
    )
    assert reds > 10
    assert "cannot assess" in chart.accessibleDescription()
    assert "10.0" in chart.accessibleDescription()  # no bars' text given: one decimal, as stored
    chart.set_series([dataclasses.replace(series[2], text="70.4\u00a0%")])
    assert chart.accessibleDescription() == "2024-06-01: 70.4\u00a0%"


def _close(a: QColor, b: QColor, tol: int = 30) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < tol


def _zoom_view(qtbot, w: int, h: int) -> ZoomPanView:
    """A 300x200 view showing a grey w x h photo."""
    view = ZoomPanView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.set_image(_grey(w, h))
    return view


def _grey(w: int, h: int) -> QImage:
    img = QImage(w, h, QImage.Format.Format_RGB32)
    img.fill(QColor("#808080"))
    return img


def test_zoom_keeps_the_point_under_the_cursor(qtbot):
    view = _zoom_view(qtbot, 600, 400)
    anchor = QPointF(60, 50)

    def image_point():
        r = view.image_rect()
        return ((anchor.x() - r.left()) / r.width(), (anchor.y() - r.top()) / r.height())

    before = image_point()
    view.zoom_by(3.0, anchor)
    assert image_point() == pytest.approx(before, abs=1e-6)
    view.pan_by(10_000, 10_000)  # cannot pan past the picture's edge
    r = view.image_rect()
    assert r.left() <= 0 and r.top() <= 0
    view.zoom_by(0.01)
    assert view.view() == pytest.approx((1.0, 0.5, 0.5))


def test_one_zoom_rule_limits_resize_new_photo_and_double_click(qtbot):
    """The rule the window's photo and the timeline's share (desktop.qt.views.zoom_pan)."""
    view = _zoom_view(qtbot, 1200, 800)
    assert view.fitting and view.zoom() == pytest.approx(0.25)
    view.zoom_actual()
    assert view.zoom() == pytest.approx(1.0) and view.can_pan()
    view.resize(400, 300)  # 1:1 stays 1:1; only fit follows the window
    assert view.zoom() == pytest.approx(1.0) and not view.fitting
    view.zoom_by(1000)
    assert view.zoom() == pytest.approx(16.0)
    rel, cx, cy = view.view()
    # another photo keeps the same part in view at the same relative zoom
    view.set_image(_grey(600, 400))
    assert view.view() == pytest.approx((rel, cx, cy))
    view.zoom_by(0.001)  # never smaller than fit, for a photo larger than the view
    assert view.fitting
    QApplication.sendEvent(view, _double_click(view, QPointF(50, 50)))
    assert view.zoom() == pytest.approx(1.0)  # double-click: actual pixels ...
    QApplication.sendEvent(view, _double_click(view, QPointF(50, 50)))
    assert view.fitting  # ... and back to fit
    view.set_image(_grey(100, 50))
    view.zoom_by(0.001)  # never smaller than actual pixels, for a photo smaller than the view
    assert view.zoom() == pytest.approx(1.0) and not view.can_pan()


def _double_click(view, pos: QPointF):
    from PySide6.QtGui import QMouseEvent

    return QMouseEvent(
        QMouseEvent.Type.MouseButtonDblClick, pos, view.mapToGlobal(pos),
        Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip


def test_history_benchmark_smoke(qapp):
    """benchmarks.history on a tiny store: every row measured, targets judged."""
    from benchmarks import history as bench

    res = bench.benchmark(visits=40, timeline=3, repeats=1, log=lambda _m: None)
    for key, _label in bench.ROWS:
        assert res[key]["median_s"] > 0
    assert res["meta"]["browser_rows"] == 3  # two synthetic patients and the timeline's
    assert isinstance(res["case_browser"]["pass"], bool)
    assert "Cases" in bench.format_table(res)


def test_photos_dropped_on_the_save_dialog_are_listed(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    _, controller = window
    first, extra = write_images(tmp_path / "new", ["today.png", "more.png"])
    (tmp_path / "notes.txt").write_text("not an image")
    classify_in_window(qtbot, controller, first)
    dialog = controller.history.save_to_case()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(extra)), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    pos, action = QPointF(10, 10), Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), action, mime, buttons, mods)
    QApplication.sendEvent(dialog, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(dialog, QDropEvent(pos, action, mime, buttons, mods))
    assert dialog.extra_files == [str(extra)]  # only image files are taken
    assert dialog.items.count() == 2
    dialog.reject()


def test_the_worker_gets_its_own_interpreter(tmp_path):
    """A LiteRT interpreter serves one caller at a time: history work never shares the window's."""
    from PySide6.QtWidgets import QWidget

    from desktop.inference import DEFAULT_MODEL, Classifier

    if not DEFAULT_MODEL.is_file():
        pytest.skip("no shipped model")
    main = Classifier(DEFAULT_MODEL)
    host = QWidget()
    ctl = HistoryController(host, data_dir=tmp_path / "d", classifier=main)
    worker = ctl.worker_classifier()
    assert worker is not main and worker.card is main.card
    assert ctl.worker_classifier() is worker
    fake = FakeClassifier()
    assert HistoryController(host, data_dir=tmp_path, classifier=fake).worker_classifier() is fake
