"""Help ▸ About / Model card: what the model is, how well it measured, what it is for.

Only what the card says is shown; nothing is invented or filled in.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop import APP_NAME, __version__
from desktop.card import ModelCard
from desktop.qt.views.probability_bars import display_name


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _rows(data: dict[str, Any], depth: int = 0) -> list[str]:
    """Nested dicts become indented rows, so any metrics layout the trainer chose is shown."""
    out = []
    for key, value in data.items():
        label = html.escape(str(key).replace("_", " "))
        pad = f"padding-left:{depth * 16}px"
        if isinstance(value, dict):
            out.append(f"<tr><td colspan=2 style='{pad}'><b>{label}</b></td></tr>")
            out.extend(_rows(value, depth + 1))
        else:
            out.append(
                f"<tr><td style='{pad}'>{label}</td><td align=right>"
                f"{html.escape(_fmt(value))}</td></tr>"
            )
    return out


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "<table cellspacing=4>" + "".join(_rows(value)) + "</table>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{html.escape(_fmt(v))}</li>" for v in value) + "</ul>"
    return html.escape(str(value)).replace("\n", "<br>")


def card_html(card: ModelCard | None, model_name: str | None, load_error: str | None) -> str:
    """The dialog's content as HTML (also handy in tests)."""
    e = html.escape
    parts = [
        f"<h2>{e(APP_NAME)} {e(__version__)}</h2>",
        "<p style='font-size:large'><b>A decision aid, not a diagnosis.</b> Results must be "
        "interpreted by a qualified clinician together with the history and examination.</p>",
        "<p>Works offline: images never leave this computer.</p>",
    ]
    if card is None:
        parts.append(f"<h3>Model</h3><p><b>No model loaded.</b> {e(load_error or '')}</p>")
        return "".join(parts)
    raw = card.raw
    parts.append("<h3>Model</h3><table cellspacing=4>")
    for label, value in (
        ("Model", model_name or ""),
        ("Model version", card.model_version),
        ("Created", raw.get("created", "")),
        ("Trainer version", raw.get("trainer_version", "")),
        ("Input", f"{card.input_size} x {card.input_size} pixels"),
        ("Melanoma alert threshold", f"{card.melanoma_threshold:.0%}"),
        ("Uncertain below", f"{card.min_top_probability:.0%} top-class probability"),
    ):
        parts.append(f"<tr><td>{e(label)}</td><td>{e(str(value))}</td></tr>")
    parts.append("</table>")
    classes = "".join(
        f"<li>{'<b>' if i == card.melanoma_index else ''}{e(display_name(c))}"
        f"{'</b> (alert class)' if i == card.melanoma_index else ''}</li>"
        for i, c in enumerate(card.classes)
    )
    parts.append(f"<h3>Classes ({card.num_classes})</h3><ul>{classes}</ul>")
    metrics = card.metrics
    parts.append("<h3>Measured performance</h3>")
    if metrics:
        parts.append("<table cellspacing=4>" + "".join(_rows(metrics)) + "</table>")
    else:
        parts.append("<p>The model card reports no metrics.</p>")
    for key, title in (
        ("intended_use", "Intended use"),
        ("limitations", "Limitations"),
        ("training_data", "Training data"),
        ("base_model", "Pretrained starting point"),
    ):
        if raw.get(key):
            parts.append(f"<h3>{title}</h3>{_text(raw[key])}")
    return "".join(parts)


class ModelCardDialog(QDialog):
    def __init__(
        self,
        card: ModelCard | None,
        model_name: str | None,
        load_error: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME} / Model card")
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)  # offline app: no link ever opens anything
        self.browser.setHtml(card_html(card, model_name, load_error))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        em = self.fontMetrics().height()
        self.resize(36 * em, 34 * em)
        self.browser.setFocus(Qt.FocusReason.OtherFocusReason)
