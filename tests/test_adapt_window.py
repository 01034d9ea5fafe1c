"""Model ▸ Adapt to this clinic… in the window: the dialog runs an adaptation of the shipped
model on a tiny synthetic clinic off the UI thread, shows shipped against adapted, and
"Use this model" switches what the window (and the lesion history) classifies with; the
choice survives a restart; Cancel leaves no model."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from desktop.card import load_card
from desktop.inference import DEFAULT_MODEL
from desktop.qt import texts
from desktop.qt.app import build_window, load_classifier
from desktop.qt.controllers.model import MODEL_KEY, saved_model, startup_classifier
from desktop.qt.report import report_text
from desktop.qt.views.model_card_dialog import card_html
from tests.conftest import make_dataset

RUN_TIMEOUT = 180_000  # two busy cores: features of 40 images and a nested 3-fold CV
TIMEOUT = 30_000

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped model")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clinic")
    make_dataset(root, classes=("melanoma",), per_class=20, size=96, seed=1)
    make_dataset(root, classes=("nevus",), per_class=20, size=96, seed=2, first_id=500)
    return root


@pytest.fixture
def open_window(qtbot, tmp_path):
    """Windows on the real shipped model, sharing one throw-away settings file."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)

    def make(classifier=None, notice=None):
        if classifier is None:
            classifier, error = load_classifier(None)
            assert classifier is not None, error
        window, controller = build_window(
            classifier,
            settings=settings,
            samples=tmp_path / "no-samples",
            data_dir=tmp_path / "data",
            notice=notice,
        )
        qtbot.addWidget(window)
        window.show()
        return window, controller

    make.settings = settings
    yield make
    settings.sync()


def _run(qtbot, adapt):
    """Click Adapt and wait for the run to end."""
    with qtbot.waitSignal(adapt.runner.finished, timeout=RUN_TIMEOUT):
        adapt.dialog.start_button.click()
    return adapt.outcome


def _adapt_dialog(qtbot, controller, clinic: Path):
    adapt = controller.models.adapt
    adapt.folds = 3
    adapt.ask_folder = lambda *_: str(clinic)
    controller.window.adapt_action.trigger()
    dialog = adapt.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.add_folder_button.click()
    assert dialog.folders() == [str(clinic)]
    return adapt, dialog


def test_model_menu_has_adapt_and_shipped_entries(open_window) -> None:
    window, _ = open_window()
    names = [a.text() for a in window.model_menu.actions()]
    assert names == [texts.ADAPT, texts.USE_SHIPPED]
    assert window.model_menu.title() == texts.MODEL_MENU
    assert not window.shipped_model_action.isEnabled()  # already on the shipped model
    assert "adapted" not in window.model_status.text()


def test_default_output_is_under_the_app_data_folder(open_window, tmp_path) -> None:
    _, controller = open_window()
    dialog = controller.models.adapt.open()
    today = datetime.now().strftime("%Y-%m-%d")
    assert Path(dialog.out_edit.text()) == tmp_path / "data" / "models" / f"adapted-{today}"
    dialog.start_button.click()
    assert dialog.message_label.text() == texts.ADAPT_NO_FOLDERS


def test_adapt_then_use_switches_the_window_and_persists(qtbot, open_window, clinic) -> None:
    window, controller = open_window()
    adapt, dialog = _adapt_dialog(qtbot, controller, clinic)
    assert not dialog.clinic_limit_box.isChecked()  # opt-in
    dialog.clinic_limit_box.setChecked(True)
    outcome = _run(qtbot, adapt)
    assert outcome is not None and not dialog.cancel_button.isEnabled()
    assert dialog.results.isVisible()
    assert adapt.request.limit_scope and outcome.clinic_limit is not None
    assert "Clinic limit: " in dialog.summary_label.text()
    cells = [[dialog.table.item(r, c).text() for c in range(3)] for r in range(4)]
    assert [row[0] for row in cells] == list(texts.ADAPT_ROWS)
    assert cells[0][1] == f"{outcome.before.roc_auc:.3f}"
    assert "40 images (20 melanomas)" in dialog.summary_label.text()
    if outcome.model is None:  # not better out of fold: say why, offer "Write anyway"
        assert not dialog.use_button.isEnabled() and dialog.reason_label.isVisible()
        assert "not better" in dialog.use_button.toolTip()
        assert dialog.write_anyway_button.isVisible()
        with qtbot.waitSignal(adapt.runner.finished, timeout=RUN_TIMEOUT):
            dialog.write_anyway_button.click()
        outcome = adapt.outcome
    assert outcome.model is not None and (outcome.model.parent / "model.json").is_file()
    assert dialog.use_button.isEnabled() and dialog.roc_label.pixmap() is not None
    assert not dialog.roc_label.pixmap().isNull()

    dialog.use_button.click()
    adapted = outcome.model.resolve()
    assert controller.classifier.model_path.resolve() == adapted
    assert controller.runner.classifier is controller.classifier
    assert controller.history.classifier() is controller.classifier  # saved cases say so
    card = controller.classifier.card
    assert card.adaptation is not None
    assert "adapted on 40 images of this clinic" in window.model_status.text()
    assert card.model_version in window.model_status.text()
    assert window.shipped_model_action.isEnabled()
    assert saved_model(open_window.settings) == adapted
    assert "Adapted on 40 images of this clinic" in card_html(card, "m", None)

    # New results come from the adapted model (its own alert threshold).
    image = next((clinic / "melanoma").iterdir())
    with qtbot.waitSignal(controller.runner.jobFinished, timeout=TIMEOUT):
        controller.open_paths([image])
    qtbot.waitUntil(lambda: controller.current is not None, timeout=TIMEOUT)
    assert controller.current.prediction.melanoma_threshold == pytest.approx(
        card.melanoma_threshold
    )
    page = report_text(controller.current, card, controller.classifier.model_name, datetime.now())
    assert "This model was adapted on 40 images of this clinic" in page.all_text()

    # A restart finds the same model.
    classifier, error, notice = startup_classifier(open_window.settings)
    assert error is None and notice is None and classifier.model_path.resolve() == adapted
    window2, controller2 = open_window(classifier)
    assert "adapted on 40 images" in window2.model_status.text()

    # And back to the shipped model, remembered too.
    window2.shipped_model_action.trigger()
    assert controller2.classifier.model_path.resolve() == DEFAULT_MODEL.resolve()
    assert "adapted" not in window2.model_status.text()
    assert saved_model(open_window.settings) is None
    assert not window2.shipped_model_action.isEnabled()


def test_a_gone_model_falls_back_to_the_shipped_one(open_window, tmp_path) -> None:
    settings = open_window.settings
    settings.setValue(MODEL_KEY, str(tmp_path / "gone" / "model.tflite"))
    classifier, error, notice = startup_classifier(settings)
    assert error is None and classifier.model_path.resolve() == DEFAULT_MODEL.resolve()
    assert notice and "could not be loaded" in notice and saved_model(settings) is None
    window, _ = open_window(classifier, notice=notice)
    assert window.model_banner.kind == "info"


def test_cancel_is_immediate_and_writes_no_model(qtbot, open_window, clinic, tmp_path) -> None:
    _, controller = open_window()
    adapt, dialog = _adapt_dialog(qtbot, controller, clinic)
    out = tmp_path / "cancelled"
    dialog.out_edit.setText(str(out))

    def cancel_at_cross_validation(_run_id: int, stage: str, *_: int) -> None:
        if stage == "cross-validation":
            dialog.cancel_button.click()

    adapt.runner.progress.connect(cancel_at_cross_validation)
    with qtbot.waitSignal(adapt.runner.finished, timeout=RUN_TIMEOUT):
        adapt.start(force=True)  # would write whatever the figures
        qtbot.waitUntil(lambda: adapt.run_id is None, timeout=RUN_TIMEOUT)
        assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
        assert dialog.message_label.text() == texts.ADAPT_CANCELLED
    qtbot.wait(50)  # let a late "succeeded" land
    assert not (out / "model.json").exists() and not (out / "model.tflite").exists()
    assert adapt.outcome is None and not dialog.results.isVisible()


def test_an_adapted_card_loads_in_the_about_text(tmp_path) -> None:
    """The About dialog's line comes from the card's adaptation block alone."""
    assert texts.adapted_on({"images": 12, "date": "2025-02-03"}) == (
        "Adapted on 12 images of this clinic, 2025-02-03"
    )
    assert texts.adapted_on(None) is None
    card = load_card(DEFAULT_MODEL.with_suffix(".json"))
    assert texts.CARD_ADAPTED not in card_html(card, "model.tflite", None)


def test_adapt_dialog_wording_comes_from_texts(qtbot) -> None:
    from PySide6.QtWidgets import QAbstractButton, QLabel

    from desktop.qt.views.adapt_dialog import AdaptDialog

    known = {v for v in vars(texts).values() if isinstance(v, str)}
    known |= {v for v in vars(texts).values() if isinstance(v, tuple) for v in v}
    dialog = AdaptDialog("/somewhere/models/adapted")
    qtbot.addWidget(dialog)
    shown = [dialog.windowTitle()]
    shown += [b.text() for b in dialog.findChildren(QAbstractButton)]
    shown += [b.toolTip() for b in dialog.findChildren(QAbstractButton)]
    shown += [label.text() for label in dialog.findChildren(QLabel)]
    shown += [dialog.table.horizontalHeaderItem(c).text() for c in range(3)]
    assert {s for s in shown if s} <= known
