"""The main window: layout, menus and actions only; the controller wires behaviour.

Drops anywhere on the window are turned into a signal carrying local paths,
so the window needs to know nothing about classification.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.heatmap import legend
from desktop.qt.convert import pil_to_qimage
from desktop.qt.views.banners import AlertBanner, Banner, UncertainBanner
from desktop.qt.views.batch_table import BatchPanel
from desktop.qt.views.image_view import ImageView
from desktop.qt.views.probability_bars import ProbabilityBars

DISCLAIMER = (
    "Decision aid, not a diagnosis \u2014 every result must be interpreted by a qualified "
    "clinician together with the history and examination."
)


def local_paths(mime: QMimeData) -> list[str]:
    """Local files/folders in a drag or clipboard payload (remote URLs are ignored: offline)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class MainWindow(QMainWindow):
    pathsDropped = Signal(list)  # list[str]
    imageDropped = Signal(QImage)
    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        em = self.fontMetrics().height()
        self._build_actions()
        self._build_menus()

        # Permanent disclaimer: top of the window, never hidden.
        self.disclaimer = QLabel(DISCLAIMER, self)
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.disclaimer.setStyleSheet(
            "QLabel#disclaimer { background-color: #263238; color: #ffffff; font-weight: bold;"
            f" padding: {em // 3}px; }}"
        )
        self.disclaimer.setAccessibleName("Disclaimer")

        self.model_banner = Banner(self)
        self.model_banner.setAccessibleName("Model status")

        # Left: the image and its heat-map controls.
        self.image_view = ImageView(self)
        self.heatmap_toggle = QCheckBox("Show &heat-map of the top class", self)
        self.heatmap_toggle.setToolTip("Overlay where the model looked for its top class (H)")
        self.heatmap_toggle.setEnabled(False)
        self.legend = QLabel(self)
        self.legend.setPixmap(_legend_pixmap(max(80, em * 6), max(8, em * 2 // 3)))
        self.legend_low = QLabel("low", self)
        self.legend_high = QLabel("high attention", self)
        self.heatmap_note = QLabel(
            "The heat-map shows which regions drove the result; it is not a lesion border.",
            self,
        )
        self.heatmap_note.setWordWrap(True)
        self.heatmap_note.setStyleSheet("color: palette(placeholder-text);")
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.heatmap_toggle)
        legend_row.addStretch(1)
        legend_row.addWidget(self.legend_low)
        legend_row.addWidget(self.legend)
        legend_row.addWidget(self.legend_high)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.image_view, 1)
        left_layout.addLayout(legend_row)
        left_layout.addWidget(self.heatmap_note)

        # Right: what the model says.
        self.file_label = QLabel(self)
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.file_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.file_label.setAccessibleName("File")
        self.alert_banner = AlertBanner(self)
        self.uncertain_banner = UncertainBanner(self)
        self.error_banner = Banner(self)
        self.error_banner.setAccessibleName("Image error")
        self.top_label = QLabel("No image yet", self)
        self.top_label.setWordWrap(True)
        self.top_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.top_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.top_label.setFont(font)
        self.top_label.setAccessibleName("Most likely class")
        self.melanoma_label = QLabel(self)
        self.melanoma_label.setWordWrap(True)
        self.melanoma_label.setAccessibleName("Melanoma probability")
        self.bars = ProbabilityBars(self)
        self.bars_title = QLabel("<b>Probability of each class</b>", self)
        self.bars_title.hide()
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(em // 2, 0, em // 2, 0)
        right_layout.setSpacing(em // 2)
        right_layout.addWidget(self.file_label)
        right_layout.addWidget(self.alert_banner)
        right_layout.addWidget(self.uncertain_banner)
        right_layout.addWidget(self.error_banner)
        right_layout.addWidget(self.top_label)
        right_layout.addWidget(self.melanoma_label)
        right_layout.addSpacing(em // 2)
        right_layout.addWidget(self.bars_title)
        right_layout.addWidget(self.bars)
        right_layout.addStretch(1)
        right_scroll = QScrollArea(self)
        right_scroll.setWidgetResizable(True)
        right_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        right_scroll.setFrameShape(QFrame.Shape.NoFrame)
        right_scroll.setWidget(right)
        right_scroll.setMinimumWidth(em * 27)

        self.detail_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.detail_splitter.addWidget(left)
        self.detail_splitter.addWidget(right_scroll)
        self.detail_splitter.setStretchFactor(0, 1)
        self.detail_splitter.setStretchFactor(1, 1)
        self.detail_splitter.setChildrenCollapsible(False)

        self.batch_panel = BatchPanel(self)
        self.batch_panel.hide()
        self.main_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.main_splitter.addWidget(self.detail_splitter)
        self.main_splitter.addWidget(self.batch_panel)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setChildrenCollapsible(False)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.disclaimer)
        body = QVBoxLayout()
        body.setContentsMargins(em // 2, em // 2, em // 2, em // 4)
        body.setSpacing(em // 2)
        body.addWidget(self.model_banner)
        body.addWidget(self.main_splitter, 1)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)

        # Status bar: model name (permanent), batch progress, inference time.
        self.model_status = QLabel(self)
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(em * 12)
        self.progress.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the batch (Esc)")
        self.cancel_button.hide()
        self.time_status = QLabel(self)
        status = self.statusBar()
        status.addWidget(self.time_status, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.model_status)

        self.resize(em * 64, em * 46)

    def show_batch_panel(self, show: bool) -> None:
        """Give the table a fair share of the height when a batch appears."""
        if show and not self.batch_panel.isVisible():
            self.batch_panel.show()
            total = max(1, self.main_splitter.height())
            self.main_splitter.setSizes([total * 3 // 5, total * 2 // 5])
        elif not show:
            self.batch_panel.hide()

    def set_file_text(self, text: str, tooltip: str = "") -> None:
        """File name, elided in the middle to fit (full path in the tooltip)."""
        self._file_text = text
        self.file_label.setToolTip(tooltip or text)
        self._elide_file_label()

    def _elide_file_label(self) -> None:
        text = getattr(self, "_file_text", "")
        width = max(40, self.file_label.width())
        self.file_label.setText(
            self.file_label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width)
        )

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide_file_label()

    def _build_actions(self) -> None:
        def act(text: str, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            return a

        self.open_action = act("&Open\u2026", QKeySequence.StandardKey.Open, "Open images")
        self.open_folder_action = act(
            "Open &folder\u2026", "Ctrl+Shift+O", "Classify every image in a folder"
        )
        self.paste_action = act(
            "&Paste image", QKeySequence.StandardKey.Paste, "Classify the image on the clipboard"
        )
        self.save_report_action = act(
            "&Save report (PDF)\u2026", QKeySequence.StandardKey.Save, "One-page PDF report"
        )
        self.save_report_action.setEnabled(False)
        self.export_csv_action = act("&Export table (CSV)\u2026", "Ctrl+E", "Batch table as CSV")
        self.export_csv_action.setEnabled(False)
        self.quit_action = act("&Quit", QKeySequence.StandardKey.Quit)
        self.heatmap_action = act("Show &heat-map", "H", "Overlay the class-activation map")
        self.heatmap_action.setCheckable(True)
        self.heatmap_action.setEnabled(False)
        self.cancel_action = act("&Cancel batch", "Esc")
        self.cancel_action.setEnabled(False)
        self.model_card_action = act(
            "&About / Model card\u2026", QKeySequence.StandardKey.HelpContents
        )
        for a in (self.cancel_action, self.heatmap_action):
            self.addAction(a)  # shortcuts work wherever focus is

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_report_action)
        file_menu.addAction(self.export_csv_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.paste_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.heatmap_action)
        view_menu.addAction(self.cancel_action)
        self.samples_menu = bar.addMenu("Sa&mples")
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.model_card_action)

    # Drag and drop anywhere on the window -------------------------------------------------
    def _accepts(self, mime: QMimeData) -> bool:
        return bool(local_paths(mime)) or mime.hasImage()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        paths = local_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.pathsDropped.emit(paths)
        elif mime.hasImage():
            event.acceptProposedAction()
            self.imageDropped.emit(QImage(mime.imageData()))
        else:
            event.ignore()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.closing.emit()
        super().closeEvent(event)


def _legend_pixmap(width: int, height: int):  # -> QPixmap
    from PySide6.QtGui import QPixmap

    return QPixmap.fromImage(pil_to_qimage(legend(width, height)))
