"""Help ▸ About / Model card: what the model is, how well it measured, what it is for.

Only what the card says is shown; nothing is invented or filled in.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop import APP_NAME, __version__, verdict
from desktop.card import ModelCard
from desktop.qt import palette, texts


def _is_path(value: Any) -> bool:
    """An absolute path of some machine: never shown (it names a person's folders)."""
    text = str(value)
    return text.startswith(("/", "~", "\\\\")) or (len(text) > 2 and text[1:3] in (":\\", ":/"))


def _label(key: str, labels: dict[str, str]) -> str:
    return (
        labels.get(key) or texts.TRAINING_DATA_LABELS.get(key) or key.replace("_", " ").capitalize()
    )


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return texts.YES if value else texts.NO
    if isinstance(value, float):
        if key in texts.PERCENT_METRICS and 0.0 <= value <= 1.0:
            return verdict.percent(value, 1)
        return f"{value:.3f}"
    if isinstance(value, str):
        return texts.METRIC_VALUES.get(value, value)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_value(key, v) for v in value)
    return str(value)


HIDDEN_KEYS = ("source", "path", "root", "format")  # machine details, never a person's words


def _blank(value: Any) -> bool:
    """Nothing to say: no row at all rather than a label with an empty value."""
    return value is None or (isinstance(value, str | dict | list | tuple) and not value)


def _records(key: str, items: list[Any], labels: dict[str, str], depth: int) -> list[str]:
    """A list of records (the training sources) as one indented block per record, headed
    by its name: never a Python list of dicts."""
    out = []
    for i, item in enumerate(items):
        name = str(item.get("name") or f"{_label(key, labels)} {i + 1}")
        pad = f"padding-left:{depth * 16}px"
        out.append(f"<tr><td colspan=2 style='{pad}'><i>{html.escape(name)}</i></td></tr>")
        rest = {k: v for k, v in item.items() if k != "name"}
        out.extend(_rows(rest, labels, depth + 1, key))
    return out


def _rows(
    data: dict[str, Any], labels: dict[str, str], depth: int = 0, parent: str = ""
) -> list[str]:
    """Nested dicts become indented rows with plain-words labels; paths and empty values
    are left out."""
    out = []
    for key, value in data.items():
        if key in HIDDEN_KEYS or _is_path(value) or _blank(value):
            continue
        # Class names and archive names are data, not field names: show them as they are.
        named = parent in ("per_class_recall", "per_class", "melanoma_by_source")
        if named:
            label = html.escape(verdict.class_name(str(key)))
        elif parent == "split":
            label = html.escape(texts.SPLIT_LABELS.get(str(key), _label(str(key), labels)))
        else:
            label = html.escape(_label(str(key), labels))
        pad = f"padding-left:{depth * 16}px"
        if isinstance(value, dict):
            out.append(f"<tr><td colspan=2 style='{pad}'><b>{label}</b></td></tr>")
            out.extend(_rows(value, labels, depth + 1, str(key)))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            out.append(f"<tr><td colspan=2 style='{pad}'><b>{label}</b></td></tr>")
            out.extend(_records(str(key), value, labels, depth + 1))
        else:
            shown = _value(parent if named else str(key), value)
            out.append(
                f"<tr><td style='{pad}'>{label}</td><td align=right>{html.escape(shown)}</td></tr>"
            )
    return out


def _text(value: Any, labels: dict[str, str]) -> str:
    if isinstance(value, dict):
        return "<table cellspacing=4>" + "".join(_rows(value, labels)) + "</table>"
    if isinstance(value, list):
        items = [v for v in value if not _is_path(v)]
        return "<ul>" + "".join(f"<li>{html.escape(_value('', v))}</li>" for v in items) + "</ul>"
    return "" if _is_path(value) else html.escape(str(value)).replace("\n", "<br>")


def _glossary() -> str:
    """The technical terms the figures use, each in one plain sentence."""
    items = "".join(
        f"<li><b>{html.escape(term)}</b>: {html.escape(meaning)}</li>"
        for term, meaning in texts.CARD_GLOSSARY
    )
    return f"<h4>{html.escape(texts.CARD_GLOSSARY_TITLE)}</h4><ul>{items}</ul>"


def card_html(card: ModelCard | None, model_name: str | None, load_error: str | None) -> str:
    """The dialog's content as HTML (also handy in tests): plain words, no field names."""
    e = html.escape
    parts = [
        f"<h2>{e(APP_NAME)} {e(__version__)}</h2>",
        f"<p style='font-size:large'><b>{e(texts.CARD_LEAD)}</b> {e(texts.CARD_LEAD_REST)}</p>",
        f"<p>{e(texts.CARD_OFFLINE)}</p>",
    ]
    if card is None:
        parts.append(
            f"<h3>{e(texts.MODEL)}</h3><p><b>{e(texts.CARD_NO_MODEL)}</b> {e(load_error or '')}</p>"
        )
        return "".join(parts)
    raw = card.raw
    created = str(raw.get("created", ""))[:10]
    parts.append(f"<h3>{e(texts.MODEL)}</h3><table cellspacing=4>")
    for label, value in (
        (texts.FILE, model_name or ""),
        (texts.CARD_MODEL_VERSION, card.model_version),
        (texts.CARD_TRAINED_ON, created),
        (texts.CARD_LOOKS_AT, texts.card_looks_at(card.input_size)),
        (texts.CARD_ADAPTED, texts.adapted_on(getattr(card, "adaptation", None)) or ""),
    ):
        if value:
            parts.append(f"<tr><td>{e(label)}</td><td>{e(str(value))}</td></tr>")
    parts.append("</table>")
    parts.append(f"<p>{e(verdict.uncertainty_sentence(card))}</p>")
    parts.append(f"<p>{e(verdict.scope_note(card))}</p>")
    rare = verdict.rare_warning(card)
    if rare:
        parts.append(
            f"<table width='100%' cellpadding=8 style='background-color:{palette.AMBER_TINT};"
            f" border:1px solid {palette.AMBER}'><tr><td><b>{e(texts.CARD_WARNING)}</b> {e(rare)}</td></tr></table>"
        )
    recall = card.metrics.get("per_class_recall")
    recall = recall if isinstance(recall, dict) else {}
    rows = []
    for i, c in enumerate(card.classes):
        name = e(verdict.class_name(c)) + (
            e(texts.CARD_MELANOMA_CLASS) if i == card.melanoma_index else ""
        )
        r = recall.get(c)
        found = verdict.percent(r) if isinstance(r, float) else e(texts.CARD_NOT_MEASURED)
        low = isinstance(r, float) and r < verdict.RARE_RECALL
        cell = f"<b style='color:{palette.RED}'>{found}</b>" if low else found
        rows.append(
            f"<tr><td>{'<b>' if i == card.melanoma_index else ''}{name}</td><td align=right>{cell}</td></tr>"
        )
    parts.append(
        f"<h3>{e(texts.card_classes(card.num_classes))}</h3><table cellspacing=4>"
        f"<tr><td><i>{e(texts.CARD_CLASS)}</i></td>"
        f"<td align=right><i>{e(texts.CARD_RECOGNISED)}</i></td></tr>" + "".join(rows) + "</table>"
    )
    parts.append(f"<h3>{e(texts.CARD_HOW_WELL)}</h3>")
    facts = [f for f in verdict.model_facts(card) if f != rare]
    if facts:
        parts.append("<ul>" + "".join(f"<li>{e(f)}</li>" for f in facts) + "</ul>")
    else:
        parts.append(f"<p>{e(texts.CARD_NO_FIGURES)}</p>")
    figures = {
        k: v
        for k, v in card.metrics.items()
        if k in texts.METRIC_LABELS and k != "per_class_recall"
    }
    if figures:
        parts.append(f"<h4>{e(texts.CARD_ALL_FIGURES)}</h4>" + _text(figures, texts.METRIC_LABELS))
        parts.append(_glossary())
    for key, title in texts.CARD_SECTIONS.items():
        if raw.get(key):
            parts.append(f"<h3>{e(title)}</h3>{_text(raw[key], texts.TRAINING_DATA_LABELS)}")
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
        self.setWindowTitle(texts.CARD_TITLE)
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
