"""The lesion timeline a dermatologist follows up with: the later photo aligned onto the
earlier one with a fade between them, the chart's stretched axis and clickable points,
and every history dialog fitting a 1366x768 screen at 100 % and 150 %."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QPushButton, QWidget

from desktop.history.service import History, SeriesPoint
from desktop.history.store import Store
from desktop.qt import followup_texts as words
from desktop.qt import palette
from desktop.qt.views import fit
from desktop.qt.views.history_chart import (
    MelanomaChart,
    axis_fraction,
    axis_ticks,
    chart_layout,
    date_labels,
)
from desktop.results import classify_path
from tests.fakes import ISIC_CLASSES, FakeClassifier, probs_for, write_images
from tests.history_helpers import MODEL, TIMEOUT
from tests.test_registration import later_photo, textured_lesion


def store_visits(folder, files, melanoma) -> int:
    """One lesion with a visit per file; returns the lesion id."""
    with Store.open(folder) as store:
        history = History(store)
        for i, (f, m) in enumerate(zip(files, melanoma, strict=True)):
            fake = FakeClassifier(probabilities=probs_for(ISIC_CLASSES, melanoma=m, nevus=0.5))
            history.add_visit(
                "P1", "back 1", f, classify_path(fake, f), MODEL,
                site="posterior torso", taken=f"2024-0{i + 1}-15",
            )  # fmt: skip
        return history.show("P1")["lesions"][0]["id"]


def turned_pair(tmp_path):
    """Two photos of one lesion: the later turned 10 degrees, zoomed 1.05x and moved."""
    earlier = textured_lesion(480)
    later, _ = later_photo(earlier, 10.0, 1.05, (14.0, -9.0))
    paths = [tmp_path / "v1.png", tmp_path / "v2.png"]
    Image.fromarray(earlier).save(paths[0])
    Image.fromarray(later).save(paths[1])
    return paths


def as_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rows = data.reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def centre_difference(a: QImage, b: QImage) -> float:
    x, y = as_array(a).astype(int), as_array(b).astype(int)
    h, w = min(x.shape[0], y.shape[0]), min(x.shape[1], y.shape[1])
    c = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    return float(np.abs(x[c] - y[c]).mean())


def test_the_later_photo_is_aligned_and_the_earlier_fades_over_it(qtbot, window, data, tmp_path):
    _, controller = window
    lesion = store_visits(data, turned_pair(tmp_path), (0.05, 0.1))
    timeline = controller.history.open_timeline(lesion)
    assert timeline.align_box.isChecked()  # aligned by default
    qtbot.waitUntil(lambda: "aligned: turned" in timeline.align_status.text(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: timeline.view_a.image is not None, timeout=TIMEOUT)
    earlier, later = timeline.view_a.image, timeline.view_b.image
    assert later.size() == earlier.size()
    # the later photo was turned 10 degrees anticlockwise: aligning turns it back
    assert "turned 10\u00b0 clockwise" in timeline.align_status.text()
    assert centre_difference(earlier, later) < 12
    assert timeline.overlay_slider.isEnabled()
    timeline.overlay_slider.setValue(60)
    overlay, opacity = timeline.view_b.overlay
    assert overlay is not None and opacity == pytest.approx(0.6)

    timeline.align_box.setChecked(False)  # as taken: turned, and no fade
    as_taken = timeline.view_b.image
    assert centre_difference(earlier, as_taken) > 2 * centre_difference(earlier, later)
    assert not timeline.overlay_slider.isEnabled() and timeline.view_b.overlay[0] is None
    assert timeline.align_status.text() == words.NOT_ALIGNED_OFF
    timeline.align_box.setChecked(True)  # the fit is kept, not recomputed
    assert timeline.view_b.image.size() == earlier.size()


def test_two_unrelated_photos_are_shown_as_taken_and_say_why(qtbot, window, data, tmp_path):
    _, controller = window
    files = write_images(tmp_path / "v", ["a.png", "b.png"])  # different lesions
    lesion = store_visits(data, files, (0.05, 0.1))
    timeline = controller.history.open_timeline(lesion)
    qtbot.waitUntil(lambda: "Not aligned" in timeline.align_status.text(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: timeline.view_b.image is not None, timeout=TIMEOUT)
    assert "shown as taken" in timeline.align_status.text()
    assert not timeline.overlay_slider.isEnabled()
    assert timeline.view_b.image.size() == QImage(str(files[1])).size()


def test_clicking_a_point_on_the_chart_shows_that_visit(qtbot, window, data, tmp_path):
    _, controller = window
    files = write_images(tmp_path / "v", ["a.png", "b.png", "c.png"])
    lesion = store_visits(data, files, (0.05, 0.2, 0.45))
    timeline = controller.history.open_timeline(lesion)
    first = controller.history.timelines.visits_shown()[0].id
    assert timeline.selected_ids()[1] != first
    point = timeline.chart.point_positions()[first]
    qtbot.mouseClick(timeline.chart, Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert timeline.selected_ids()[1] == first
    assert timeline.visits.current_row() == 0


def series(values, threshold=0.08):
    days = ["2024-01-10", "2024-02-10", "2024-03-10", "2024-04-10"]
    return [
        SeriesPoint(i + 1, days[i], level(v, threshold), v, threshold, earlier=())
        for i, v in enumerate(values)
    ]


def level(value, threshold):
    return "cannot_assess" if value is None else ("alert" if value >= threshold else "no_alert")


def test_a_visit_that_could_not_be_assessed_has_no_point(qtbot):
    chart = MelanomaChart()
    qtbot.addWidget(chart)
    chart.resize(500, 220)
    chart.set_series(series([0.02, None, 0.05, 0.3]))
    assert set(chart.point_positions()) == {1, 3, 4}
    lay = chart_layout(QRectF(chart.rect()).adjusted(4, 4, -4, -4), chart.series,
                       chart.fontMetrics(), 1.0)  # fmt: skip
    for y in (lay.plot.bottom(), lay.y_of(0.0), lay.plot.center().y()):
        assert chart.visit_at(QPointF(lay.xs[1], y)) is None
    with qtbot.assertNotEmitted(chart.visitClicked):
        qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=QPoint(round(lay.xs[1]), 10))


def test_the_axis_gives_the_range_below_the_alert_level_half_the_height():
    assert axis_fraction(0.08, 0.08) == pytest.approx(0.5)
    assert axis_fraction(0.0, 0.08) == 0.0 and axis_fraction(1.0, 0.08) == 1.0
    # a rise from 2 % to 6 % (under an 8 % alert) takes a quarter of the height, not 4 %
    assert axis_fraction(0.06, 0.08) - axis_fraction(0.02, 0.08) == pytest.approx(0.25)
    assert axis_fraction(0.5, None) == 0.5  # no threshold: linear
    assert 0.08 in axis_ticks(0.08) and 0.04 in axis_ticks(0.08)
    values = [axis_fraction(v, 0.3) for v in np.linspace(0, 1, 21)]
    assert values == sorted(values)


def test_the_alert_level_is_drawn_as_a_red_line_half_way_up(qtbot):
    chart = MelanomaChart()
    qtbot.addWidget(chart)
    chart.resize(500, 220)
    chart.set_series(series([0.02, 0.03, 0.05, 0.04]))
    image = chart.grab().toImage()
    lay = chart_layout(QRectF(chart.rect()).adjusted(4, 4, -4, -4), chart.series,
                       chart.fontMetrics(), 1.0)  # fmt: skip
    y = round(lay.y_of(0.08))
    assert abs(y - lay.plot.center().y()) <= 1
    red = QColor(palette.CHART_THRESHOLD)

    def reds(row: int) -> int:
        return sum(
            1
            for x in range(int(lay.plot.left()), int(lay.plot.right()))
            for dy in (-1, 0, 1)
            if _close(image.pixelColor(x, row + dy), red)
        )

    assert reds(y) > lay.plot.width() / 3  # dashed, so not every pixel
    assert reds(round(lay.plot.bottom()) - 3) == 0


def _close(a: QColor, b: QColor, tol: int = 60) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < tol


def test_dates_are_labelled_as_many_as_fit_without_overlapping():
    dates = ["2024-01-01", "2024-01-03", "2024-01-05", "2024-06-01", "2024-12-01"]
    xs = [0, 6, 12, 250, 500]
    chosen = date_labels(xs, dates, lambda s: 60, 3)
    assert chosen[0] == 0 and chosen[-1] == 4 and 3 in chosen
    assert not {1, 2} <= set(chosen)  # only one of the crowded early dates fits
    spans = [(xs[i] - 33, xs[i] + 33) for i in chosen]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert date_labels([0, 100, 200], dates[:3], lambda s: 60, 3) == [0, 1, 2]


SCREENS = {"100 %": QRect(0, 0, 1366, 768), "150 %": QRect(0, 0, 911, 512)}


def check_fits(dialog: QWidget, area: QRect) -> None:
    """The dialog and its frame lie inside ``area``, and every button lies inside it."""
    em = dialog.fontMetrics().height()
    frame_w, frame_h = round(em * fit.FRAME_EM[0]), round(em * fit.FRAME_EM[1])
    assert dialog.width() + frame_w <= area.width()
    assert dialog.height() + frame_h <= area.height()
    assert dialog.x() >= area.left() and dialog.y() >= area.top()
    buttons = dialog.findChildren(QPushButton)
    assert buttons
    for b in buttons:
        if not b.isVisibleTo(dialog):
            continue
        corner = b.mapTo(dialog, QPoint(b.width(), b.height()))
        assert b.mapTo(dialog, QPoint(0, 0)).y() >= 0, b.text()
        assert corner.x() <= dialog.width() and corner.y() <= dialog.height(), b.text()
        assert b.height() >= b.minimumSizeHint().height() // 2, b.text()


@pytest.mark.parametrize("scale", list(SCREENS))
def test_every_history_dialog_fits_a_1366x768_screen(
    qtbot, window, data, tmp_path, monkeypatch, scale
):
    win, controller = window
    area = SCREENS[scale]
    monkeypatch.setattr(fit, "available_geometry", lambda _w: area)
    files = write_images(tmp_path / "v", ["a.png", "b.png"])
    lesion = store_visits(data, files, (0.05, 0.1))
    timeline = controller.history.open_timeline(lesion)
    browser = controller.history.open_cases()
    controller.open_paths([files[0]])
    qtbot.waitUntil(lambda: controller.current is not None, timeout=TIMEOUT)
    save = controller.history.save_to_case()
    for dialog in (timeline, browser, save):
        qtbot.waitExposed(dialog)
        dialog.layout().activate()
        check_fits(dialog, area)
        dialog.reject()


def test_a_dialog_taller_than_the_screen_is_shrunk_and_moved_onto_it(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 966)
    widget.move(500, 300)
    fit.fit_to_screen(widget, SCREENS["150 %"])
    em = widget.fontMetrics().height()
    assert widget.height() <= 512 - round(em * fit.FRAME_EM[1])
    assert widget.x() >= 0 and widget.y() >= 0 and widget.x() + widget.width() <= 911


def test_painting_the_chart_into_a_pdf_sized_rect_does_not_fail(qapp):
    image = QImage(800, 300, QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    p = QPainter(image)
    from desktop.qt.views.history_chart import paint_chart

    paint_chart(p, QRectF(0, 0, 800, 300), series([None, None, None, None]), p.font(), unit=2)
    p.end()
    assert not image.isNull()


def test_the_alert_level_is_labelled_as_the_card_sets_it():
    assert words.chart_threshold(4.5) == "alert level 4.5\u00a0%"
    assert words.chart_threshold(30.0) == "alert level 30\u00a0%"


def test_registration_outcome_words():
    assert "turned 10\u00b0 clockwise" in words.aligned(10.2, 1.05, 0.8)
    assert "turned 3\u00b0 anticlockwise" in words.aligned(-3.4, 1.0, 0.8)
    assert words.not_aligned("too few details agree").startswith("Not aligned: too few")
    assert cv2.__version__
