"""The main window: layout, menus and actions only; the controller wires behaviour.

Drops anywhere on the window are turned into a signal carrying local paths,
so the window needs to know nothing about classification.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QRect, Qt, Signal
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
    QFrame,
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

from desktop.qt import followup_texts as words
from desktop.qt import palette, texts
from desktop.qt.views.banners import Banner
from desktop.qt.views.batch_table import BatchPanel
from desktop.qt.views.detail_pane import DetailPane
from desktop.qt.views.image_pane import ImagePane, ZoomActions

DISCLAIMER = texts.DISCLAIMER

# A visible keyboard-focus ring on every control that takes focus (the platform style
# draws a faint one or none at all). The image view paints its own.
FOCUS_STYLE = """
QPushButton:focus, QToolButton:focus, QComboBox:focus {
    outline: none; border: 2px solid palette(highlight); border-radius: 3px; }
QPushButton:focus, QToolButton:focus { padding: 2px 8px; }
QCheckBox:focus { outline: none; border: 2px solid palette(highlight); border-radius: 3px;
    padding: 1px 3px; }
QSlider:focus { border: 2px solid palette(highlight); border-radius: 3px; }
QTableView:focus, QTextBrowser:focus, QScrollArea:focus {
    border: 2px solid palette(highlight); }
"""


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
        self.setWindowTitle(texts.window_title())
        self.setAcceptDrops(True)
        em = self.fontMetrics().height()  # every size below is in lines of text
        self._build_actions()
        self._build_menus()
        # Built top to bottom, left to right: the keyboard's focus order follows.
        self._build_banners(em)
        left = self._build_image_pane()
        right = self._build_detail_pane(em)
        self._build_body(em, left, right)
        self._build_status_bar(em)
        self.batch_share = 0.5  # of the height, for the table when a batch appears
        self.setStyleSheet(FOCUS_STYLE)
        self.resize(em * 64, em * 44)

    def _build_banners(self, em: int) -> None:
        """The permanent disclaimer (top of the window, never hidden) and the banner that
        says when the model could not be loaded."""
        self.disclaimer = QLabel(DISCLAIMER, self)
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.disclaimer.setStyleSheet(
            f"QLabel#disclaimer {{ background-color: {palette.DARK_SLATE}; color: {palette.WHITE};"
            f" font-weight: bold; padding: {em // 3}px; }}"
        )
        self.disclaimer.setAccessibleName(texts.DISCLAIMER_NAME)

        self.model_banner = Banner(self)
        self.model_banner.setAccessibleName(texts.MODEL_BANNER_NAME)

    def _build_image_pane(self) -> QWidget:
        """Left: the image, its heat-map controls and zoom (parts under their old names)."""
        self.image_pane = ImagePane(
            self.heatmap_action,
            ZoomActions(
                self.zoom_out_action,
                self.zoom_fit_action,
                self.zoom_actual_action,
                self.zoom_in_action,
            ),
            self,
        )
        self.image_view = self.image_pane.image_view
        self.heatmap_toggle = self.image_pane.heatmap_toggle
        self.heatmap_class = self.image_pane.heatmap_class
        self.opacity_slider = self.image_pane.opacity_slider
        self.zoom_label = self.image_pane.zoom_label
        return self.image_pane

    def _build_detail_pane(self, em: int) -> QWidget:
        """Right: what the model says (the controller hands it a ResultView), scrolled, never
        narrower than its banners and bars."""
        self.detail = DetailPane(self)
        # Its parts under their old names, read by tests; the controller goes through
        # DetailPane's methods (only the samples button is wired directly).
        self.alert_banner = self.detail.alert_banner
        self.uncertain_banner = self.detail.uncertain_banner
        self.error_banner = self.detail.error_banner
        self.top_label = self.detail.top_label
        self.melanoma_label = self.detail.melanoma_label
        self.bars = self.detail.bars
        self.empty_help = self.detail.empty_help
        self.try_samples_button = self.detail.try_samples_button
        self.detail_scroll = right_scroll = QScrollArea(self)
        right_scroll.setWidgetResizable(True)
        right_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        right_scroll.setFrameShape(QFrame.Shape.NoFrame)
        right_scroll.setWidget(self.detail)
        right_scroll.setMinimumWidth(em * 27)  # banners and bars never clipped
        return right_scroll

    def _build_body(self, em: int, left: QWidget, right: QWidget) -> None:
        """Image beside result, above the batch table (hidden until a batch), under the
        disclaimer and the model banner; each splitter keeps both sides visible."""
        self.detail_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.detail_splitter.addWidget(left)
        self.detail_splitter.addWidget(right)
        self.detail_splitter.setStretchFactor(0, 1)
        self.detail_splitter.setStretchFactor(1, 1)
        self.detail_splitter.setChildrenCollapsible(False)

        self.batch_panel = BatchPanel(self)
        self.batch_panel.hide()
        self.main_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.main_splitter.addWidget(self.detail_splitter)
        self.main_splitter.addWidget(self.batch_panel)
        self.main_splitter.setStretchFactor(0, 1)
        self.main_splitter.setStretchFactor(1, 1)
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

    def _build_status_bar(self, em: int) -> None:
        """Status bar: the inference time (left), batch progress and its cancel button, and
        the model's name (permanent)."""
        self.model_status = QLabel(self)
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(em * 12)
        self.progress.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.progress.hide()
        self.cancel_button = QPushButton(texts.CANCEL, self)
        self.cancel_button.setToolTip(texts.CANCEL_TIP)
        self.cancel_button.hide()
        self.time_status = QLabel(self)
        status = self.statusBar()
        status.addWidget(self.time_status, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.model_status)

    def set_empty_state(self, empty: bool) -> None:
        """Before the first image: say what to do instead of showing empty bars."""
        self.detail.set_empty(empty)

    def show_batch_panel(self, show: bool, rows: int | None = None) -> None:
        """Give the table its share of the height (half unless the user chose otherwise),
        or less when ``rows`` fit in less, so a short batch leaves room for the result."""
        if show and not self.batch_panel.isVisible():
            self.batch_panel.show()
            total = max(1, self.main_splitter.height())
            table = round(total * self.batch_share)
            if rows is not None:
                table = min(table, self.batch_panel.height_for_rows(rows))
            self.main_splitter.setSizes([total - table, table])
        elif not show:
            self.batch_panel.hide()

    def show_no_model(self, detail: str) -> None:
        """No model loaded: say why, and switch off everything that would classify."""
        self.model_banner.show_message("error", texts.MODEL_LOAD_FAILED, detail)
        self.model_status.setText(texts.NO_MODEL_STATUS)
        for action in (self.open_action, self.open_folder_action, self.paste_action):
            action.setEnabled(False)
        self.image_view.set_message(texts.NO_MODEL_MESSAGE)
        self.try_samples_button.setEnabled(False)

    def show_progress(self, total: int) -> None:
        """The status bar's progress bar and Cancel button for a batch of ``total`` images."""
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()

    def hide_progress(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.cancel_action.setEnabled(False)

    def say(self, text: str, msecs: int = 5000) -> None:
        """A passing message in the status bar."""
        self.statusBar().showMessage(text, msecs)

    def fit_into(self, available: QRect) -> None:
        """Shrink and move the window so all of it, frame included, lies inside ``available``.

        ``available`` is the screen's available geometry (without panels and docks); at
        150 % scaling a fixed default size can be taller than it.
        """
        frame, inner = self.frameGeometry(), self.geometry()
        extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
        if not self.isVisible() or extra_h <= 0:
            em = self.fontMetrics().height()
            extra_w, extra_h = max(extra_w, em // 2), max(extra_h, em * 2)  # a title bar
        width = max(1, min(self.width(), available.width() - extra_w))
        height = max(1, min(self.height(), available.height() - extra_h))
        self.resize(width, height)
        width, height = self.width() + extra_w, self.height() + extra_h
        x = min(max(frame.x(), available.left()), available.left() + available.width() - width)
        y = min(max(frame.y(), available.top()), available.top() + available.height() - height)
        self.move(max(x, available.left()), max(y, available.top()))

    def first_run_geometry(self, available: QRect) -> None:
        """No saved size: most of the screen, centred. A 1366x768 laptop (or 150 % scaling)
        needs all of its height for the photo and the nine bars; a big monitor gets a
        comfortable size, not a wall of grey. :meth:`fit_into` then makes room for the frame."""
        em = self.fontMetrics().height()
        width = min(round(available.width() * 0.92), em * 90)
        height = min(available.height(), em * 58)
        self.resize(max(1, width), max(1, height))
        self.move(
            available.left() + (available.width() - width) // 2,
            available.top() + (available.height() - height) // 2,
        )
        # The result side gets a little more than half: its words wrap less, so the headline
        # and the bars need fewer lines; the photo is square and loses nothing.
        self.detail_splitter.setSizes([width * 9 // 20, width * 11 // 20])

    def _build_actions(self) -> None:
        def act(text: str, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            return a

        self.open_action = act(texts.OPEN, QKeySequence.StandardKey.Open, texts.OPEN_IMAGES_TITLE)
        self.open_folder_action = act(texts.OPEN_FOLDER, "Ctrl+Shift+O", texts.OPEN_FOLDER_TIP)
        self.paste_action = act(texts.PASTE, QKeySequence.StandardKey.Paste, texts.PASTE_TIP)
        self.save_report_action = act(
            texts.SAVE_REPORT, QKeySequence.StandardKey.Save, texts.SAVE_REPORT_TIP
        )
        self.save_report_action.setEnabled(False)
        self.export_csv_action = act(texts.EXPORT_TABLE, "Ctrl+E", texts.EXPORT_TABLE_TIP)
        self.export_csv_action.setEnabled(False)
        # What a clinic files: desktop/qt/controllers/reports.py
        self.save_batch_report_action = act(
            words.SAVE_BATCH_REPORT, tip=words.SAVE_BATCH_REPORT_TIP
        )
        self.clinician_action = act(words.CLINICIAN_ACTION, tip=words.CLINICIAN_TIP)
        self.save_to_case_action = act(  # lesion history: desktop/qt/controllers/history.py
            texts.SAVE_TO_CASE, "Ctrl+Shift+S", texts.SAVE_TO_CASE_TIP
        )
        self.cases_action = act(texts.CASES, "Ctrl+Shift+L", texts.CASES_TIP)
        self.quit_action = act(texts.QUIT, QKeySequence.StandardKey.Quit)
        self.heatmap_action = act(texts.HEATMAP_ACTION, "H", texts.HEATMAP_ACTION_TIP)
        self.heatmap_action.setCheckable(True)
        self.heatmap_action.setEnabled(False)
        self.zoom_in_action = act(texts.ZOOM_IN, QKeySequence.StandardKey.ZoomIn, texts.ZOOM_TIP)
        self.zoom_in_action.setIconText(texts.ZOOM_IN_SHORT)
        self.zoom_out_action = act(texts.ZOOM_OUT, QKeySequence.StandardKey.ZoomOut, texts.ZOOM_TIP)
        self.zoom_out_action.setIconText(texts.ZOOM_OUT_SHORT)
        self.zoom_fit_action = act(texts.ZOOM_FIT, "Ctrl+0", texts.ZOOM_TIP)
        self.zoom_fit_action.setIconText(texts.ZOOM_FIT_SHORT)
        self.zoom_actual_action = act(texts.ZOOM_ACTUAL, "Ctrl+1", texts.ZOOM_TIP)
        self.zoom_actual_action.setIconText(texts.ZOOM_ACTUAL_SHORT)
        self.zoom_actions = (
            self.zoom_in_action,
            self.zoom_out_action,
            self.zoom_fit_action,
            self.zoom_actual_action,
        )
        for a in self.zoom_actions:
            a.setToolTip(texts.shortcut_tip(a.text().replace("&", ""), a.shortcut().toString()))
        self.cancel_action = act(texts.CANCEL_BATCH, "Esc")
        self.cancel_action.setEnabled(False)
        self.model_card_action = act(texts.MODEL_CARD, QKeySequence.StandardKey.HelpContents)
        # Model menu: desktop/qt/controllers/model.py
        self.adapt_action = act(texts.ADAPT, tip=texts.ADAPT_TIP)
        self.shipped_model_action = act(texts.USE_SHIPPED, tip=texts.USE_SHIPPED_TIP)
        for a in (self.cancel_action, self.heatmap_action, *self.zoom_actions):
            self.addAction(a)  # shortcuts work wherever focus is

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu(texts.FILE_MENU)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = QMenu(texts.RECENT_MENU, self)
        file_menu.addMenu(self.recent_menu)
        self.samples_menu = QMenu(texts.SAMPLES_MENU, self)
        file_menu.addMenu(self.samples_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_report_action)
        file_menu.addAction(self.export_csv_action)
        file_menu.addAction(self.save_batch_report_action)
        file_menu.addAction(self.save_to_case_action)
        file_menu.addAction(self.cases_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu(texts.EDIT_MENU)
        edit_menu.addAction(self.paste_action)
        edit_menu.addSeparator()
        edit_menu.addMenu(words.SETTINGS_MENU).addAction(self.clinician_action)
        view_menu = bar.addMenu(texts.VIEW_MENU)
        view_menu.addAction(self.heatmap_action)
        view_menu.addSeparator()
        for a in (
            self.zoom_in_action,
            self.zoom_out_action,
            self.zoom_fit_action,
            self.zoom_actual_action,
        ):
            view_menu.addAction(a)
        view_menu.addSeparator()
        view_menu.addAction(self.cancel_action)
        self.model_menu = bar.addMenu(texts.MODEL_MENU)
        self.model_menu.addAction(self.adapt_action)
        self.model_menu.addAction(self.shipped_model_action)
        help_menu = bar.addMenu(texts.HELP_MENU)
        help_menu.addAction(self.model_card_action)
        help_menu.addMenu(self.samples_menu)

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
