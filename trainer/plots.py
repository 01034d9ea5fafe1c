"""The figures of the evaluation report (PNG, into the run's ``plots/``), drawn with
matplotlib off-screen; ``trainer.report`` writes the Markdown that shows them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from desktop.imaging import ImageLoadError, load_image
from desktop.preprocessing import Preprocessing


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


def draw_plots(
    plots: Path,
    report: dict[str, Any],
    card: dict[str, Any],
    train_files: list[tuple[Path, str]],
    pre: Preprocessing,
    scores: dict[str, Any] | None = None,
) -> None:
    """Every figure ``report.md`` shows, into ``plots``; ``train_files``: (path, class) of
    the training split, for the samples sheet; ``scores``: see :func:`melanoma_scores`."""
    plots.mkdir(exist_ok=True)
    classes = card["classes"]
    plot_distribution(
        report["balance"]["before"], report["balance"]["after"], plots / "class_distribution.png"
    )
    by_class: dict[str, list[Path]] = {c: [] for c in classes}
    for path, label in train_files:
        by_class[label].append(path)
    plot_samples(by_class, pre, plots / "samples.png")
    plot_history(report["history"], plots / "training_curves.png")
    split, qkey = card["metrics"]["measured_on"], card["metrics"]["model"]
    plot_confusion(
        report["evaluations"][split][qkey]["confusion_matrix"],
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
    if scores:
        plot_roc_by_source(scores, card["alert"]["melanoma_threshold"], plots / "roc_by_source.png")
