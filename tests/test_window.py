"""Window behaviour: heat-map, zoom, batch table, geometry, remembered settings, recent files,
first-run wording. Driven through qtbot with a fake classifier on synthetic images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRect, QSettings, Qt
from PySide6.QtGui import QColor, QFontMetrics, QRegion, QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop import APP_NAME, imaging
from desktop.qt.app import build_window
from desktop.qt.recent import RecentFiles
from desktop.qt.views.batch_table import (
    COL_ALERT,
    COL_CLASS,
    COL_FILE,
    COL_MEL,
    COL_PROB,
    COL_THUMB,
)
from desktop.qt.views.model_card_dialog import card_html
from desktop.qt.workers import DisplayImages, heat_image
from tests.fakes import (
    ISIC_CLASSES,
    FakeClassifier,
    card_dict,
    crashing_decoder,
    lesion_image,
    probs_for,
    write_images,
)

TIMEOUT = 15_000
MELANOMA = ISIC_CLASSES.index("melanoma")
NEVUS = ISIC_CLASSES.index("nevus")


@pytest.fixture
def make_window(qtbot, tmp_path):
    """A window on a throw-away settings file (never the user's); same file for every window
    of one test, so a second window sees what the first one saved."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)

    def make(classifier=None, samples=None):
        window, controller = build_window(
            classifier, None, settings=settings, samples=samples or tmp_path / "no-samples"
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window, controller

    yield make
    settings.sync()


def probs(**named):
    return probs_for(ISIC_CLASSES, **named)


def show_one(qtbot, controller, image=None, name="x"):
    """Classify one in-memory image and wait until its photo is on screen."""
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_image(image if image is not None else lesion_image(), name)
    qtbot.waitUntil(lambda: controller.window.image_view.photo is not None, timeout=TIMEOUT)


def classify_folder(qtbot, controller, folder):
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([folder])


# Heat-map --------------------------------------------------------------------------------------


def test_heatmap_shows_melanoma_whenever_the_alert_is_on(qtbot, make_window):
    """Melanoma at 40 % is not the top class (nevus 45 %), but it raises the alert: the map
    explains melanoma, not nevus."""
    window, controller = make_window(FakeClassifier(probs(nevus=0.45, melanoma=0.40)))
    show_one(qtbot, controller)
    assert controller.current.prediction.top_index == NEVUS
    assert window.heatmap_class.currentData() == "melanoma"
    assert controller.image.chosen_class_index() == MELANOMA
    box = window.image_view.layer_box
    expected = heat_image(controller.current, MELANOMA, box)
    assert window.image_view.heat == expected


def test_heatmap_shows_the_top_class_without_an_alert_and_the_user_can_pick(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probs(nevus=0.8, melanoma=0.01)))
    show_one(qtbot, controller)
    combo = window.heatmap_class
    assert combo.isEnabled() and combo.count() == len(ISIC_CLASSES)
    assert combo.currentData() == "nevus" and combo.currentText().startswith("Nevus (80")
    photo, nevus_heat = window.image_view.photo, window.image_view.heat
    combo.setCurrentIndex(combo.findData("vascular lesion"))
    assert controller.image.chosen_class_index() == ISIC_CLASSES.index("vascular lesion")
    assert window.image_view.heat != nevus_heat
    assert window.image_view.photo is photo  # only the layer changed, nothing reloaded


def test_opacity_changes_what_is_painted(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probs(nevus=0.8)))
    show_one(qtbot, controller, lesion_image(300))
    controller.image.set_heatmap(True)
    view = window.image_view
    # The fake's nevus map peaks at the middle of the analysed square.
    centre = view.image_rect().center().toPoint()

    def pixel_at(percent: int) -> QColor:
        window.opacity_slider.setValue(percent)
        assert view.opacity == pytest.approx(percent / 100)
        return view.grab().toImage().pixelColor(centre)

    faint, strong = pixel_at(10), pixel_at(100)
    assert faint != strong
    controller.image.set_heatmap(False)
    plain = view.grab().toImage().pixelColor(centre)
    assert abs(plain.red() - faint.red()) < abs(plain.red() - strong.red()) + 1


def test_a_photo_that_lands_after_its_result_was_replaced_is_not_shown(qtbot, make_window):
    """The photo loads in the background; one for a result the user has moved on from must
    not replace what is now on screen (here, the "classifying" message of a new job)."""
    window, controller = make_window(FakeClassifier(probabilities=probs(nevus=0.9)))
    show_one(qtbot, controller)
    late = DisplayImages(window.image_view.photo)
    token = controller.image.loader.current_token
    controller.image.clear("Classifying b.png\u2026")
    controller.image.loader.loaded.emit(token, late)
    assert window.image_view.photo is None
    assert window.image_view.message == "Classifying b.png\u2026"
    assert not window.heatmap_toggle.isEnabled()


def test_unassessable_image_gets_no_heatmap(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probs(melanoma=0.9)))
    show_one(qtbot, controller, lesion_image(40))  # tiny: cannot be assessed
    assert not controller.current.prediction.assessable
    assert not window.heatmap_toggle.isEnabled() and not window.image_view.has_overlay
    assert window.heatmap_class.count() == 0


# Zoom and pan -------------------------------------------------------------------------------


def test_small_image_is_shown_at_actual_pixels_not_blown_up(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    show_one(qtbot, controller, lesion_image(120))
    view = window.image_view
    assert view.width() > 200 and not view.fitting
    assert view.zoom() == pytest.approx(1.0)  # 120 px stay 120 px, sharp
    assert view.image_rect().width() == pytest.approx(120 / view.devicePixelRatioF())
    assert window.zoom_label.text() == "100\u00a0%"
    window.zoom_fit_action.trigger()  # enlarging is one click away
    assert view.fitting and view.zoom() > 1.0
    assert "(fit)" in window.zoom_label.text()


def test_zoom_actual_pixels_fit_and_pan(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    show_one(qtbot, controller, lesion_image(1400))
    view = window.image_view
    fit = view.zoom()
    assert fit < 1.0 and view.image_rect().width() <= view.width() + 1
    window.zoom_actual_action.trigger()
    assert view.zoom() == pytest.approx(1.0) and not view.fitting
    assert window.zoom_label.text().startswith("100\u00a0%")
    before = view.image_rect()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(160, 130))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(160, 130))
    assert view.image_rect().topLeft() != before.topLeft()  # dragged
    window.zoom_in_action.trigger()
    assert view.zoom() > 1.0
    window.zoom_fit_action.trigger()
    assert view.fitting and view.zoom() == pytest.approx(fit)


def test_wheel_zooms_around_the_cursor(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    show_one(qtbot, controller, lesion_image(1400))
    view = window.image_view
    start = view.zoom()
    pos = QPointF(view.width() / 3, view.height() / 3)
    event = QWheelEvent(
        pos,
        view.mapToGlobal(pos),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)
    assert view.zoom() == pytest.approx(start * 1.25)


# Batch table ------------------------------------------------------------------------------------


@pytest.fixture
def batch(qtbot, make_window, tmp_path):
    fake = FakeClassifier(
        probabilities=probs(nevus=0.8, melanoma=0.02),
        by_size={(120, 120): probs(melanoma=0.7), (140, 140): probs(nevus=0.45, melanoma=0.4)},
    )
    window, controller = make_window(fake)
    folder = tmp_path / "visit"
    write_images(folder, ["a-alert.png"], size=120)
    write_images(folder, ["b-plain.png", "c-plain.png"], size=200)
    write_images(folder, ["d-alert.png"], size=140)
    (folder / "e-broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    classify_folder(qtbot, controller, folder)
    return window, controller


def test_table_has_melanoma_and_alert_columns_with_sensible_widths(batch):
    window, _ = batch
    panel = window.batch_panel
    model = panel.proxy
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[COL_MEL] == "Melanoma" and headers[COL_ALERT] == "Alert"
    texts = {model.index(r, COL_FILE).data(): r for r in range(model.rowCount())}
    row = texts["d-alert.png"]
    assert model.index(row, COL_MEL).data() == "40.0\u00a0%"
    assert "refer" in model.index(row, COL_ALERT).data().lower()
    table = panel.table
    assert table.columnWidth(COL_FILE) <= table.viewport().width() * 0.4
    visible_rows = table.viewport().height() // table.verticalHeader().defaultSectionSize()
    assert visible_rows >= 5


def test_batch_columns_show_whole_class_and_alert_texts_and_a_narrow_file_name(batch):
    """Review at 1920x1080: the file column took half the width while class and alert texts
    were cut. Widths are checked against the texts as they are drawn (alerts in bold)."""
    window, _ = batch
    table = window.batch_panel.table
    model = table.model()
    window.resize(1900, 1000)
    QApplication.processEvents()
    bold = table.font()
    bold.setBold(True)
    for row in range(model.rowCount()):
        if model.index(row, COL_PROB).data():  # an assessed image (an error's reason elides)
            text = model.index(row, COL_CLASS).data()
            assert table.fontMetrics().horizontalAdvance(text) < table.columnWidth(COL_CLASS)
        alert = model.index(row, COL_ALERT).data()
        assert QFontMetrics(bold).horizontalAdvance(alert) < table.columnWidth(COL_ALERT)
        name = model.index(row, COL_FILE).data()
        assert table.fontMetrics().horizontalAdvance(name) < table.columnWidth(COL_FILE)
    assert table.columnWidth(COL_FILE) < table.viewport().width() / 3
    assert any("(uncertain)" in (model.index(r, COL_CLASS).data() or "") for r in range(5))


def test_the_heatmap_class_chooser_shows_its_longest_name_whole(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probs(pigmented_benign_keratosis=0.6)))
    show_one(qtbot, controller)
    combo = window.heatmap_class
    longest = max((combo.itemText(i) for i in range(combo.count())), key=len)
    assert "Pigmented benign keratosis" in combo.currentText()
    assert combo.width() > combo.fontMetrics().horizontalAdvance(longest)


def test_the_heatmap_class_chooser_keeps_no_stale_text(qtbot, make_window, tmp_path):
    """Review: after a result with classes, a file that could not be read still showed
    the last image's class in the chooser."""
    window, controller = make_window(FakeClassifier(probs(nevus=0.8)))
    show_one(qtbot, controller)
    assert window.heatmap_class.currentText().startswith("Nevus")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([broken])
    assert window.heatmap_class.count() == 0 and window.heatmap_class.currentText() == ""


def test_an_unreadable_file_keeps_the_case_of_its_name(qtbot, make_window, tmp_path):
    """Review: 'iMG_Lesion.JPG: ...' was shown as 'IMG_Lesion.JPG: ...' (sentence case)."""
    window, controller = make_window(FakeClassifier(probs(nevus=0.8)))
    broken = tmp_path / "iMG_Lesion.JPG"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([broken])
    body = window.error_banner.body
    assert body.startswith("iMG_Lesion.JPG") and "IMG_Lesion" not in body


def test_no_heatmap_blobs_for_a_class_the_model_all_but_rules_out(qtbot, make_window):
    """A map is scaled to its own peak, so a class at 0 % still showed bright blobs."""
    window, controller = make_window(FakeClassifier(probs(nevus=0.9, vascular_lesion=0.0)))
    show_one(qtbot, controller)
    combo = window.heatmap_class
    combo.setCurrentIndex(combo.findData("vascular lesion"))
    assert window.image_view.heat is None
    assert combo.isEnabled() and not window.heatmap_toggle.isEnabled()
    assert "No heat-map for Vascular lesion" in window.image_pane.heatmap_note.text()
    combo.setCurrentIndex(combo.findData("nevus"))  # back to a class with evidence
    assert window.image_view.heat is not None and window.heatmap_toggle.isEnabled()
    assert "No heat-map" not in window.image_pane.heatmap_note.text()


def test_the_white_frame_on_a_wide_photo_is_explained(qtbot, make_window):
    window, controller = make_window(FakeClassifier(probs(nevus=0.9)))
    show_one(qtbot, controller, lesion_image(120))  # square: no frame, no note about it
    assert "centre square" not in window.image_pane.heatmap_note.text()
    wide = Image.new("RGB", (300, 120), (190, 150, 140))
    wide.paste(lesion_image(120), (90, 0))
    show_one(qtbot, controller, wide, "wide")
    assert window.image_view.layer_box != window.image_view.photo.rect()
    assert "centre square" in window.image_pane.heatmap_note.text()


def test_sorting_by_melanoma_probability(batch):
    window, _ = batch
    panel = window.batch_panel
    panel.table.sortByColumn(COL_MEL, Qt.SortOrder.DescendingOrder)
    names = [r.name for r in panel.results_in_view_order()]
    assert names[:2] == ["a-alert.png", "d-alert.png"] and names[-1] == "e-broken.jpg"


def test_selected_row_keeps_its_alert_colour(qtbot, batch):
    window, controller = batch
    table = window.batch_panel.table
    table.selectRow(0)  # a-alert.png, arrival order
    assert controller.current.name == "a-alert.png"
    table.setFocus()
    qtbot.wait(10)
    image = table.viewport().grab().toImage()
    dpr = image.devicePixelRatio()
    cell = table.visualRect(table.model().index(0, COL_ALERT))
    points = [
        QPoint(round(x * dpr), round(y * dpr))
        for x in range(cell.left() + 4, cell.right() - 4, 3)
        for y in range(cell.top() + 4, cell.bottom() - 4, 3)
    ]
    red = [image.pixelColor(p) for p in points]
    red = [c for c in red if c.red() > 150 and c.green() < 80 and c.blue() < 80]
    assert len(red) > len(points) / 2  # the selected alert cell is still red, not highlight blue
    thumb = table.visualRect(table.model().index(0, COL_THUMB))
    stripe = image.pixelColor(
        QPoint(round((thumb.left() + 1) * dpr), round(thumb.center().y() * dpr))
    )
    assert stripe.red() > 150 and stripe.green() < 80  # the red stripe marks the row too


def test_tab_moves_focus_out_of_the_table(qtbot, batch):
    window, controller = batch
    table = window.batch_panel.table
    table.selectRow(1)
    shown = controller.current.name
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    assert not table.hasFocus()
    assert controller.current.name == shown  # Tab did not move to another case
    assert not table.tabKeyNavigation()


def test_batch_wording(batch):
    window, _ = batch
    summary = window.batch_panel.summary.text()
    assert "Assessed 4 of 5 images" in summary and "1 could not be read" in summary
    assert "unreadable" not in summary and "to watch" not in summary
    status = window.time_status.text()
    assert status.startswith("Assessed 4 of 5 images in ") and status.endswith(
        "; 1 could not be read"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_file_that_crashes_the_decoder_costs_the_window_only_that_file(
    qtbot, make_window, tmp_path, monkeypatch
):
    """The window reads on threads in its own process: with the decoder guarded (as run_app
    does) a file that kills the decoder is one unreadable file, and the rest are assessed."""
    crashing_decoder(monkeypatch)
    imaging.guard_decoder()
    try:
        window, controller = make_window(FakeClassifier(probs(nevus=0.9)))
        folder = tmp_path / "mixed"
        write_images(folder, ["a.png", "c.png"], size=200)
        (folder / "b.png").write_bytes((folder / "a.png").read_bytes() + b"CRASH")
        classify_folder(qtbot, controller, folder)
    finally:
        imaging.guard_decoder(False)
    summary = window.batch_panel.summary.text()
    assert "Assessed 2 of 3 images" in summary and "1 could not be read" in summary
    errors = [r.error for r in window.batch_panel.model.results() if r.error]
    assert len(errors) == 1 and errors[0].startswith("b.png: " + imaging.CRASHED_READER)


def test_run_app_guards_the_decoder(qtbot, monkeypatch, tmp_path):
    """What the test above relies on: the app itself turns the guard on."""
    from desktop.qt import app as app_module

    monkeypatch.setattr(app_module, "startup_classifier", lambda settings, model: (None, "x", None))
    monkeypatch.setattr(QApplication, "exec", lambda *a: 0)
    monkeypatch.setattr(
        app_module,
        "QSettings",
        lambda: QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
    )
    try:
        assert not imaging.decoder_guarded()
        assert app_module.run_app(data_dir=tmp_path / "cases") == 0
        assert imaging.decoder_guarded()
    finally:
        imaging.guard_decoder(False)
        for widget in QApplication.topLevelWidgets():
            widget.close()


def test_batch_counts_only_images_that_got_a_class_as_assessed(qtbot, make_window, tmp_path):
    """Review: 'Classified 3' counted an image that got no class, and '1 to watch' was
    not explained; the summary now says what happened to each image that got no answer."""
    window, controller = make_window(FakeClassifier(probs(nevus=0.9)))
    folder = tmp_path / "mixed"
    write_images(folder, ["a.png", "b.png"], size=200)
    write_images(folder, ["tiny.png"], size=40)  # too small: cannot be assessed
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    classify_folder(qtbot, controller, folder)
    summary = window.batch_panel.summary.text()
    assert "Assessed 2 of 4 images" in summary
    assert "1 could not be assessed (no class and no alert" in summary
    assert "1 could not be read" in summary and "to watch" not in summary
    assert window.time_status.text().startswith("Assessed 2 of 4 images in ")


# Window geometry and remembered settings ------------------------------------------------------


def test_window_fits_a_small_screen(qtbot, make_window):
    window, _ = make_window(FakeClassifier())
    window.resize(1600, 1400)
    small = QRect(0, 30, 1024, 600)  # e.g. 1536x900 at 150 % scaling, minus a panel
    window.fit_into(small)
    frame = window.frameGeometry()
    assert frame.height() <= small.height() and frame.width() <= small.width()
    assert small.contains(frame.topLeft()) and frame.bottom() <= small.bottom()


def whole_on_screen(widget, window, scroll) -> bool:
    """``widget`` is shown entirely: not hidden, not clipped by the result side's scroll area,
    inside the window (geometry, not pixels: offscreen tests paint nothing real)."""
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    if not QRegion(widget.rect()).subtracted(widget.visibleRegion()).isEmpty():
        return False
    viewport = scroll.viewport()
    in_view = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size())
    in_window = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return viewport.rect().contains(in_view) and window.rect().contains(in_window)


@pytest.mark.parametrize(
    "available",
    [
        QRect(0, 0, 1366, 728),  # a 1366x768 laptop with a 40-pixel panel
        QRect(0, 0, 911, 485),  # the same screen at 150 % scaling, in logical pixels
    ],
)
@pytest.mark.parametrize(
    ("named", "alert"),
    [
        ({"nevus": 0.5, "melanoma": 0.35}, True),  # the tallest headline: the red banner
        ({"nevus": 0.42, "basal_cell_carcinoma": 0.3}, False),  # uncertain: banner and headline
    ],
)
def test_a_small_screen_shows_the_photo_the_headline_and_all_nine_bars(
    qtbot, make_window, available, named, alert
):
    """Review at 1366x768 and 150 %: the bars were under the fold and the headline cut."""
    window, controller = make_window(FakeClassifier(probs(**named)))
    controller.window_state.restore(window, available)  # first run: no saved size
    frame = window.frameGeometry()
    assert frame.width() <= available.width() and frame.height() <= available.height()
    assert frame.height() >= available.height() * 0.9  # the screen's height is used
    show_one(qtbot, controller)
    qtbot.wait(50)  # let the layout settle
    scroll = window.detail_scroll
    heading = window.alert_banner if alert else window.top_label
    assert heading.text() if heading is window.top_label else heading.title
    assert whole_on_screen(heading, window, scroll)
    rows = window.bars._rows
    assert len(rows) == 9
    for name, bar, pct in rows:
        for part in (name, bar, pct):
            assert whole_on_screen(part, window, scroll), name.text()
    view = window.image_view
    assert view.isVisible() and view.height() >= 150 and view.width() >= 150
    assert window.rect().contains(QRect(view.mapTo(window, QPoint(0, 0)), view.size()))


def _borderline_fake() -> FakeClassifier:
    """Melanoma 27 %, just under a 30 % alert, on a card with a measured borderline band."""
    from desktop.card import ModelCard
    from tests.fakes import card_dict

    data = card_dict(threshold=0.3)
    data["alert"]["borderline"] = {
        "band_log_odds": 0.25,
        "threshold": 0.3,
        "flips_in_band": 0.34,
        "flips_outside": 0.03,
        "images": 599,
    }
    return FakeClassifier(probs(nevus=0.6, melanoma=0.27), card=ModelCard.from_dict(data))


def test_a_borderline_result_keeps_all_nine_bars_on_a_small_screen(qtbot, make_window):
    """The borderline sentence goes under the bars: at 150 % on 1366x768 they stay in view."""
    fake = _borderline_fake()
    window, controller = make_window(fake)
    controller.window_state.restore(window, QRect(0, 0, 911, 485))
    show_one(qtbot, controller)
    qtbot.wait(50)
    assert "Borderline" in window.melanoma_label.text()
    for name, bar, pct in window.bars._rows:
        for part in (name, bar, pct):
            assert whole_on_screen(part, window, window.detail_scroll), name.text()


def soft_focus_image(card) -> Image.Image:
    """A lesion blurred just enough to land in the soft-focus caution band of ``card``'s input."""
    from PIL import ImageFilter

    from desktop import quality

    for tenths in range(5, 600, 3):
        img = lesion_image(300).filter(ImageFilter.GaussianBlur(tenths / 10))
        s = quality.sharpness(imaging.preprocess(img, card.preprocessing))
        if quality.MIN_SHARPNESS <= s < quality.SOFT_SHARPNESS:
            return img
    raise AssertionError("no blur radius lands in the caution band")


def test_a_slightly_blurred_result_keeps_all_nine_bars_on_a_small_screen(qtbot, make_window):
    """The soft-focus caution is long: at 150 % on 1366x768 it heads the result and the bars
    stay in view (with the figures the card measured, its longest form)."""
    from desktop import quality
    from desktop.card import ModelCard
    from tests.fakes import card_dict

    measured = {
        "refused_under": quality.MIN_SHARPNESS,
        "caution_under": quality.SOFT_SHARPNESS,
        "alert_threshold": 0.3,
        "kept_alert": 0.8658,
        "kept_alert_sharp": 0.9634,
    }
    card = ModelCard.from_dict(card_dict(threshold=0.3) | {"quality": {"soft_focus": measured}})
    fake = FakeClassifier(card=card)
    window, controller = make_window(fake)
    controller.window_state.restore(window, QRect(0, 0, 911, 485))
    show_one(qtbot, controller, soft_focus_image(fake.card))
    qtbot.wait(50)
    assert window.uncertain_banner.isVisible()
    assert "slightly blurred" in window.uncertain_banner.body
    assert "87 times in 100" in window.uncertain_banner.body
    assert whole_on_screen(window.uncertain_banner, window, window.detail_scroll)
    for name, bar, pct in window.bars._rows:
        for part in (name, bar, pct):
            assert whole_on_screen(part, window, window.detail_scroll), name.text()


def test_window_never_opens_taller_than_the_screen(qtbot, make_window):
    window, _ = make_window(FakeClassifier())
    available = window.screen().availableGeometry()
    assert window.frameGeometry().height() <= available.height()
    assert window.frameGeometry().width() <= available.width()


def test_size_splitter_and_heatmap_settings_are_remembered(qtbot, make_window):
    window, controller = make_window(FakeClassifier())
    window.resize(780, 520)
    window.opacity_slider.setValue(35)
    controller.image.set_heatmap(True)
    window.detail_splitter.setSizes([200, 400])
    sizes = window.detail_splitter.sizes()
    window.close()  # saves

    window2, controller2 = make_window(FakeClassifier())
    assert window2.size().width() == 780 and window2.size().height() == 520
    assert window2.opacity_slider.value() == 35
    assert window2.image_view.opacity == pytest.approx(0.35)
    assert window2.heatmap_action.isChecked() and window2.heatmap_toggle.isChecked()
    assert window2.detail_splitter.sizes() == sizes


def test_tests_never_touch_the_users_settings(make_window, tmp_path):
    _, controller = make_window(FakeClassifier())
    assert Path(controller.settings.fileName()).parent == tmp_path


# Title, empty state, focus -----------------------------------------------------------------


def test_title_names_the_app_once(qtbot, make_window, tmp_path):
    window, controller = make_window(FakeClassifier())
    assert window.windowTitle() == APP_NAME
    (img,) = write_images(tmp_path, ["x.png"])
    classify_folder(qtbot, controller, img)
    assert window.windowTitle() == f"{APP_NAME} \u2014 x.png"
    assert not QApplication.applicationDisplayName() or window.windowTitle().count(APP_NAME) == 1


def test_empty_state_tells_a_newcomer_what_to_do(qtbot, make_window, tmp_path):
    samples = tmp_path / "samples"
    write_images(samples, ["one.png", "two.png"])
    window, controller = make_window(FakeClassifier(), samples=samples)
    help_text = window.empty_help.text()
    assert window.empty_help.isVisible() and window.empty_help.wordWrap()
    assert "File \u25b8 Open" in help_text and "Samples" in help_text and "drop" in help_text
    assert not window.bars.isVisible()  # no row of unlabelled empty bars
    assert "\n" not in window.image_view.message
    assert window.try_samples_button.isVisible()
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        window.try_samples_button.click()
    assert window.batch_panel.model.rowCount() == 2
    assert not window.empty_help.isVisible() and not window.try_samples_button.isVisible()


def test_a_sample_shows_its_known_diagnosis_beside_the_result(qtbot, make_window, tmp_path):
    """Samples follow a written rule (samples.json) and say what they are known to be."""
    import json

    samples = tmp_path / "samples"
    write_images(samples, ["mel.png", "other.png"])
    (samples / "samples.json").write_text(
        json.dumps({"rule": "test", "samples": [{"file": "mel.png", "diagnosis": "melanoma"}]})
    )
    window, controller = make_window(FakeClassifier(probs(nevus=0.8)), samples=samples)
    texts_ = [a.text() for a in window.samples_menu.actions() if not a.isSeparator()]
    assert "mel.png \u2014 known: melanoma" in texts_ and "other.png" in texts_
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([samples / "mel.png"])
    known = window.detail.known_label
    assert known.isVisible() and "known diagnosis: Melanoma" in known.text()
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([samples / "other.png"])
    assert not window.detail.known_label.isVisible()


def test_the_shipped_samples_manifest_names_every_sample_and_its_rule():
    """assets/samples/samples.json: the rule, and a known diagnosis for each shipped image."""
    import json

    from desktop.samples import load_samples

    folder = Path(__file__).resolve().parent.parent / "assets" / "samples"
    manifest = json.loads((folder / "samples.json").read_text(encoding="utf-8"))
    assert "held out" in manifest["rule"] and isinstance(manifest["seed"], int)
    samples = load_samples(folder)
    assert samples and all(s.diagnosis in ISIC_CLASSES for s in samples)
    assert {s.path.name for s in samples} == {e["file"] for e in manifest["samples"]}


def test_samples_are_under_file_and_help(make_window, tmp_path):
    window, _ = make_window(FakeClassifier())
    file_menu, help_menu = (
        a.menu() for a in window.menuBar().actions() if a.text() in ("&File", "&Help")
    )
    assert window.samples_menu.menuAction() in file_menu.actions()
    assert window.samples_menu.menuAction() in help_menu.actions()


def test_image_view_draws_a_focus_ring(qtbot, make_window):
    window, _ = make_window(FakeClassifier())
    view = window.image_view
    before = view.grab().toImage().pixelColor(1, view.height() // 2)
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    after = view.grab().toImage().pixelColor(1, view.height() // 2)
    assert after != before and after == view.palette().highlight().color()
    assert ":focus" in window.styleSheet()  # buttons, boxes, sliders, tables


# Recent files -------------------------------------------------------------------------------


def test_recent_files_drop_missing_ones_and_can_be_cleared(qtbot, make_window, tmp_path):
    window, controller = make_window(FakeClassifier())
    a, b = write_images(tmp_path, ["a.png", "b.png"])
    for p in (a, b):
        controller.add_recent(p)
    assert controller.recent_files() == [str(b.resolve()), str(a.resolve())]
    b.unlink()
    controller.rebuild_recent_menu()
    names = [x.text() for x in window.recent_menu.actions() if not x.isSeparator()]
    assert any("a.png" in n for n in names) and not any("b.png" in n for n in names)
    assert controller.settings.value("recent_files") in ([str(a.resolve())], str(a.resolve()))
    clear = next(x for x in window.recent_menu.actions() if "Clear" in x.text())
    clear.trigger()
    assert controller.recent_files() == []
    (empty,) = window.recent_menu.actions()
    assert not empty.isEnabled()


def test_recent_menu_drops_a_file_gone_since_it_was_built(qtbot, make_window, tmp_path):
    """Review: a deleted file stayed in Open recent until the next start."""
    window, controller = make_window(FakeClassifier())
    a, b = write_images(tmp_path, ["a.png", "b.png"])
    for p in (a, b):
        controller.add_recent(p)
    stale = next(x for x in window.recent_menu.actions() if "b.png" in x.text())
    b.unlink()
    stale.trigger()  # the menu was built while b.png existed
    assert controller.runner.busy() is False and controller.current is None
    assert "b.png can no longer be read" in window.statusBar().currentMessage()
    a.unlink()
    window.recent_menu.aboutToShow.emit()  # opening the menu prunes it
    names = [x.text() for x in window.recent_menu.actions() if not x.isSeparator()]
    assert names == ["No recent files"]


def test_recent_files_keep_readable_files_only(tmp_path):
    settings = QSettings(str(tmp_path / "r.ini"), QSettings.Format.IniFormat)
    locked = {str(tmp_path / "locked.png")}
    for name in ("ok.png", "locked.png"):
        (tmp_path / name).write_bytes(b"x")
    recent = RecentFiles(
        settings, limit=3, is_readable=lambda p: Path(p).exists() and p not in locked
    )
    recent.add(tmp_path / "locked.png")  # never stored
    recent.add(tmp_path / "ok.png")
    recent.add(tmp_path / "gone.png")  # does not exist: never stored
    assert recent.paths() == [str((tmp_path / "ok.png").resolve())]
    for i in range(5):
        (tmp_path / f"{i}.png").write_bytes(b"x")
        recent.add(tmp_path / f"{i}.png")
    assert len(recent.paths()) == 3


# Model card dialog -------------------------------------------------------------------------


def test_model_card_is_in_plain_words_without_paths(qtbot):
    from desktop.card import ModelCard

    data = card_dict(
        metrics={
            "measured_on": "internal_test",
            "images": 293,
            "accuracy": 0.63,
            "balanced_accuracy": 0.62,
            "melanoma_sensitivity": 0.98,
            "melanoma_specificity": 0.54,
            "ece_after_temperature": 0.075,
            "quantized_top1_agreement": 0.99,
            "per_class_recall": {c: (0.0 if "seborrheic" in c else 0.8) for c in ISIC_CLASSES},
        }
    )
    data["training_data"] = {"source": "/work/shared/data/isic", "images": 2241}
    html = card_html(ModelCard.from_dict(data), "model.tflite", None)
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(html)
    text = doc.toPlainText()
    for raw in ("ece after temperature", "quantized top1", "ece_after", "per class recall"):
        assert raw not in text.lower()
    assert "/work/shared" not in text and "2241" in text
    assert "rarely recognised" in text.lower() and "Seborrheic keratosis" in text
    assert "Same answer as the full-precision model" in text


def test_model_card_shows_no_raw_records_no_blank_fields_and_explains_its_jargon(qtbot):
    """Review: the training sources showed as a Python list of dicts, 'Holdout source' had
    no value, and ROC AUC, F1, ECE, 'identities' and 'fingerprint' were unexplained."""
    from PySide6.QtGui import QTextDocument

    from desktop.card import ModelCard

    data = card_dict(metrics={"macro_roc_auc": 0.94, "macro_f1": 0.49, "images": 100})
    data["training_data"] = {
        "sources": [
            {
                "name": "ham10000",
                "path": "ham10000",
                "format": "ham10000",
                "images": 9885,
                "per_class": {"nevus": 6697},
                "problems": {},
                "licence": "CC BY-NC-SA 4.0",
            },
        ],
        "content_sha256": "1ef6d438",
        "identities": 12295,
        "cross_source_duplicates": 1738,
        "holdout_source": "",
        "split": {"train": 80, "holdout": 0},
    }
    doc = QTextDocument()
    doc.setHtml(card_html(ModelCard.from_dict(data), "model.tflite", None))
    text = doc.toPlainText()
    assert "{'" not in text and "[{" not in text and "'name'" not in text
    assert "ham10000" in text and "9885" in text and "CC BY-NC-SA 4.0" in text
    assert "Holdout source" not in text and "Archive kept out of training" not in text
    assert "Files left out" not in text  # an empty record says nothing
    assert "Identities" not in text and "Different images after merging copies" in text
    assert "checksum" in text  # what the data fingerprint is
    for term in ("ROC AUC:", "F1 score:", "Calibration error (ECE):"):
        assert term in text


def test_report_gets_the_heatmap_that_is_shown(qtbot, make_window, tmp_path, monkeypatch):
    import desktop.qt.controllers.main as controllers

    seen = {}

    def fake_write_report(path, result, card, model_name, photo, overlay, **kwargs):
        seen.update(photo=photo, overlay=overlay, **kwargs)
        return Path(path)

    monkeypatch.setattr(controllers, "write_report", fake_write_report)
    window, controller = make_window(FakeClassifier(probs(nevus=0.8)))
    show_one(qtbot, controller, lesion_image(300))
    combo = window.heatmap_class
    combo.setCurrentIndex(combo.findData("vascular lesion"))
    window.opacity_slider.setValue(80)
    controller.save_report(tmp_path / "r.pdf")
    assert seen["heatmap_class"] == "vascular lesion"
    assert seen["overlay"] is not None and seen["overlay"] != seen["photo"]


def test_no_sample_button_without_samples(make_window):
    window, _ = make_window(FakeClassifier())  # the fixture's samples folder does not exist
    assert window.empty_help.isVisible() and not window.try_samples_button.isVisible()


def test_detail_pane_shows_a_result_view_without_a_controller(qtbot):
    """The pane is filled from one ResultView: no bars, no alert for an image given no class."""
    from desktop.qt.views.detail_pane import DetailPane, result_view
    from desktop.results import classify_image

    fake = FakeClassifier(probabilities=probs_for(ISIC_CLASSES, melanoma=0.9))
    view = result_view(classify_image(fake, lesion_image(), "mole.jpg"), fake.card)
    assert view.verdict.alert and view.location == "mole.jpg"
    assert view.probabilities[0][0] == "melanoma" and view.highlight == "melanoma"
    pane = DetailPane()
    qtbot.addWidget(pane)
    pane.show()
    pane.show_result(view)
    assert pane.alert_banner.isVisible() and pane.bars.isVisible()
    assert pane.bars.shown()[0][0] == "melanoma"
    assert pane.file_label.toolTip() == "mole.jpg" and pane.file_label.text()

    tiny = result_view(classify_image(fake, lesion_image(20), "tiny.jpg"), fake.card)
    assert tiny.probabilities == () and tiny.highlight is None
    pane.show_result(tiny)  # replaces the alert entirely
    assert not pane.alert_banner.isVisible() and not pane.bars.isVisible()
    assert pane.uncertain_banner.title == tiny.verdict.headline

    pane.clear("No image")
    assert pane.top_label.text() == "No image" and not pane.file_label.text()
    assert not pane.uncertain_banner.isVisible()


def test_detail_pane_shows_a_borderline_no_alert_result_with_its_melanoma_line(qtbot):
    """A result just under where the alert starts keeps "No melanoma alert" on its own line in
    the pane, with the borderline sentence, and the share the alert misses under it."""
    from desktop.qt.views.detail_pane import DetailPane, result_view
    from desktop.results import classify_image

    fake = _borderline_fake()
    view = result_view(classify_image(fake, lesion_image(), "mole.jpg"), fake.card)
    pane = DetailPane()
    qtbot.addWidget(pane)
    pane.show()
    pane.show_result(view)
    assert not view.verdict.alert and view.verdict.borderline
    text = pane.melanoma_label.text()
    assert text.startswith("No melanoma alert") and "Borderline" in text
    assert pane.notes.text().startswith("No alert does not rule out melanoma")


def test_menu_and_case_dialog_wording_comes_from_texts(qtbot, make_window):
    """Every menu entry and every label, button, title, tip and column header of the case
    dialogs is a string of ``desktop.qt.texts`` (or its history and follow-up companions):
    wording written inline in a view fails here."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QCalendarWidget,
        QDialogButtonBox,
        QLabel,
        QLineEdit,
        QPlainTextEdit,
        QTableView,
        QWidget,
    )

    from desktop.qt import followup_texts, history_texts
    from desktop.qt import texts as window_texts
    from desktop.qt.views.case_browser import CaseBrowser
    from desktop.qt.views.date_entry import DateEntry, long_date
    from desktop.qt.views.save_to_case_dialog import SaveToCaseDialog
    from desktop.qt.views.timeline_view import TimelineDialog

    known: set[str] = set()
    for module in (window_texts, history_texts, followup_texts):  # the window's wording modules
        known |= {v for v in vars(module).values() if isinstance(v, str)}
        known |= {v for v in vars(module).values() if isinstance(v, tuple) for v in v}

    window, _ = make_window()  # fresh settings: no recent files; no samples folder
    shown: list[str] = []

    def menu_texts(actions) -> None:
        for action in actions:
            if action.isSeparator():
                continue
            shown.extend((action.text(), action.statusTip()))
            if action.menu() is not None:
                menu_texts(action.menu().actions())

    menu_texts(window.menuBar().actions())
    shown.extend((window.cancel_button.text(), window.cancel_button.toolTip()))

    folder = "/somewhere/cases"
    browser = CaseBrowser(folder)
    timeline = TimelineDialog()
    save = SaveToCaseDialog(["P-0001"], ["back", "unspecified"], "mole.jpg")
    known |= {t.replace("&", "") for t in known if isinstance(t, str)}  # accessible names
    for entry in save.findChildren(DateEntry):  # its lines come from history_texts' functions
        day = long_date(entry.value(), entry.locale()) if entry.value() else ""
        known |= {
            history_texts.date_placeholder(entry._short_example()),
            history_texts.date_will_be_stored(day),
        }
    for dialog in (browser, timeline, save):
        qtbot.addWidget(dialog)
        shown.append(dialog.windowTitle())
        for widget in dialog.findChildren(QWidget):
            if isinstance(widget.parentWidget(), QDialogButtonBox):
                continue  # Qt's own standard buttons (Save, Cancel), translated by Qt
            if _inside(widget, QCalendarWidget):
                continue  # Qt's own calendar: month names and day numbers, translated by Qt
            if isinstance(widget, QLabel) and folder in widget.text():
                continue  # "Case store: <folder>" names a folder; history_texts.case_store builds it
            if isinstance(widget, QLabel | QAbstractButton):
                shown.append(widget.text())
            if isinstance(widget, QLineEdit | QPlainTextEdit):
                shown.append(widget.placeholderText())
            if isinstance(widget, QTableView):
                model = widget.model()
                shown.extend(
                    model.headerData(c, Qt.Orientation.Horizontal)
                    for c in range(model.columnCount())
                )
            shown.extend((widget.accessibleName(), widget.toolTip()))

    assert any(t == window_texts.CLOSE for t in shown)  # the walk did reach the buttons
    inline = sorted({t for t in shown if t and t not in known}, key=str)
    assert not inline, f"wording not in desktop/qt/texts/ or desktop/qt/*_texts.py: {inline}"


def _inside(widget, kind) -> bool:
    """Whether ``widget`` is a ``kind`` or sits inside one."""
    while widget is not None:
        if isinstance(widget, kind):
            return True
        widget = widget.parentWidget()
    return False


def test_a_bar_reads_as_it_shows_and_as_the_table_says(qtbot) -> None:
    """A class given any chance reads 'under 0.1 %' (not '0 %'), on screen and to a screen
    reader; the melanoma figure is the batch table's (one rounding for both)."""
    from desktop import verdict
    from desktop.prediction import Prediction
    from desktop.qt.views.batch_table import COL_MEL, BatchModel
    from desktop.qt.views.probability_bars import ProbabilityBars
    from desktop.results import ImageResult
    from tests.fakes import ISIC_CLASSES

    values = [3.6e-6, 1.84e-4, 5.1e-7, 0.795374, 0.059504, 0.059308, 0.085354, 2.59e-4, 1.27e-5]
    pred = Prediction(
        classes=ISIC_CLASSES,
        probabilities=np.asarray(values),
        melanoma_index=ISIC_CLASSES.index("melanoma"),
        melanoma_threshold=0.3,
        min_top_probability=0.5,
    )
    bars = ProbabilityBars()
    qtbot.addWidget(bars)
    bars.set_probabilities(pred.ranked(), highlight="melanoma")
    rows = list(zip(pred.ranked(), bars._rows, strict=True))
    texts_by_class = {c: pct.text() for (c, _), (_, _, pct) in rows}
    names = {c: bar.accessibleName() for (c, _), (_, bar, _) in rows}
    assert texts_by_class["dermatofibroma"] == "under 0.1\u00a0%"
    assert names["dermatofibroma"] == "Dermatofibroma under 0.1 percent"
    model = BatchModel()
    model.append([ImageResult(name="a.png", path=None, prediction=pred)])
    assert model.index(0, COL_MEL).data() == texts_by_class["melanoma"] == "79.6\u00a0%"
    assert set(texts_by_class) == set(ISIC_CLASSES) and verdict.NBSP not in names["melanoma"]
