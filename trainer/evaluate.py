"""Metrics, calibration and the melanoma threshold, in plain numpy (no TF needed to test them)."""

from __future__ import annotations

from typing import Any

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Mean recall over the classes present in ``y_true``."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else 0.0


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Binary ROC AUC by the rank statistic (ties averaged); None when one class is absent."""
    pos = positive.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def ece_sampling_draws(
    probs: np.ndarray, bins: int = 15, draws: int = 1000, seed: int = 0
) -> np.ndarray:
    """ECEs that a *perfectly calibrated* model with these confidences would show.

    Each draw marks every prediction correct with probability equal to its own
    confidence, so calibration holds by construction; what ECE is left is the
    noise of estimating bin accuracies from a few hundred images. A measured ECE
    inside this spread cannot be told apart from perfect calibration on this split.
    """
    conf = np.asarray(probs, dtype=np.float64).max(axis=1)
    if len(conf) == 0:
        return np.zeros(draws)
    rng = np.random.default_rng(seed)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Same bins as expected_calibration_error: (lo, hi].
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    eces = np.empty(draws)
    for d in range(draws):
        correct = (rng.random(len(conf)) < conf).astype(np.float64)
        hits = np.bincount(which, weights=correct, minlength=bins)
        eces[d] = np.abs(hits - conf_sum).sum() / len(conf)
    return eces


def ece_sampling_floor(probs: np.ndarray, bins: int = 15, draws: int = 1000) -> float:
    """Median of :func:`ece_sampling_draws`: the ECE expected from sampling noise alone."""
    return float(np.median(ece_sampling_draws(probs, bins, draws)))


def reliability_bins(
    probs: np.ndarray, y_true: np.ndarray, bins: int = 15
) -> list[dict[str, float]]:
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            out.append(
                {
                    "lo": float(lo),
                    "hi": float(hi),
                    "count": int(mask.sum()),
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                }
            )
    return out


def nll(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood; ``logits`` (N, K), or (views, N, K) for the mean of
    the views' probabilities (what the app reports with test-time views)."""
    p = softmax(logits, temperature)
    if p.ndim == 3:
        p = p.mean(axis=0)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y_true)), y_true], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising validation NLL (log-spaced grid, then golden-section refinement)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    losses = [nll(logits, y_true, t) for t in grid]
    k = int(np.argmin(losses))
    lo, hi = np.log(grid[max(k - 1, 0)]), np.log(grid[min(k + 1, len(grid) - 1)])
    phi = (np.sqrt(5) - 1) / 2
    a, b = lo, hi
    for _ in range(60):
        c, d = b - phi * (b - a), a + phi * (b - a)
        if nll(logits, y_true, np.exp(c)) < nll(logits, y_true, np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def choose_prior_weight(
    logits: np.ndarray,
    y_true: np.ndarray,
    log_prior: np.ndarray,
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0),
) -> float:
    """Weight w of the log class prior to add back to the logits of a balanced-trained model.

    Balancing teaches the network that every class is equally common, so it calls
    rare classes too often; adding w * log(prior) undoes part of that (w = 1 is
    the full Bayes correction, w = 0 none). The weight maximises the mean of
    accuracy and balanced accuracy on validation; ties keep the smaller weight.
    """
    n = logits.shape[1]
    best_w, best_score = 0.0, -np.inf
    for w in grid:
        pred = (logits + w * log_prior).argmax(axis=1)
        score = 0.5 * (float((pred == y_true).mean()) + balanced_accuracy(y_true, pred, n))
        if score > best_score + 1e-9:
            best_w, best_score = float(w), score
    return best_w


def sensitivity_specificity(
    scores: np.ndarray, positive: np.ndarray, threshold: float
) -> tuple[float, float]:
    pos = positive.astype(bool)
    flagged = scores >= threshold
    sens = float(flagged[pos].mean()) if pos.any() else float("nan")
    spec = float((~flagged[~pos]).mean()) if (~pos).any() else float("nan")
    return sens, spec


def choose_threshold(scores: np.ndarray, positive: np.ndarray, target_sensitivity: float) -> float:
    """Highest threshold whose sensitivity reaches the target (so specificity is as high as it can be).

    The threshold sits halfway between the score that must still be caught and the
    next lower score, so it is not tuned to one image's exact value.
    """
    pos_scores = np.sort(scores[positive.astype(bool)])[::-1]
    if len(pos_scores) == 0:
        return 0.5
    need = int(np.ceil(target_sensitivity * len(pos_scores) - 1e-9))
    need = min(max(need, 1), len(pos_scores))
    cut = float(pos_scores[need - 1])
    below = scores[scores < cut]
    if len(below):
        cut = (cut + float(below.max())) / 2.0
    return float(np.clip(cut, 0.0, 1.0))


def choose_specificity_threshold(
    scores: np.ndarray, positive: np.ndarray, target_specificity: float
) -> float:
    """Lowest threshold whose specificity reaches the target (so sensitivity is as high as it
    can be at that false-alarm rate): the mirror of :func:`choose_threshold`.

    The threshold sits halfway between the highest score that must stay unflagged and the
    next higher score, so it is not tuned to one image's exact value.
    """
    neg_scores = np.sort(scores[~positive.astype(bool)])
    if len(neg_scores) == 0:
        return 0.5
    need = int(np.ceil(target_specificity * len(neg_scores) - 1e-9))
    need = min(max(need, 1), len(neg_scores))
    cut = float(neg_scores[need - 1])
    above = scores[scores > cut]
    cut = (cut + float(above.min())) / 2.0 if len(above) else np.nextafter(cut, np.inf)
    return float(np.clip(cut, 0.0, 1.0))


def classification_report(
    probs: np.ndarray,
    y_true: np.ndarray,
    classes: tuple[str, ...] | list[str],
    melanoma_index: int,
    threshold: float,
) -> dict[str, Any]:
    """Everything the report and the model card quote, for one split and one model."""
    n = len(classes)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, n)
    per_class = {}
    aucs = []
    for i, c in enumerate(classes):
        tp = int(cm[i, i])
        support = int(cm[i].sum())
        predicted = int(cm[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        auc = roc_auc(probs[:, i], y_true == i)
        if auc is not None:
            aucs.append(auc)
        per_class[c] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "roc_auc": auc,
        }
    mel = probs[:, melanoma_index]
    sens, spec = sensitivity_specificity(mel, y_true == melanoma_index, threshold)
    return {
        "images": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "balanced_accuracy": balanced_accuracy(y_true, y_pred, n),
        "macro_f1": float(np.mean([v["f1"] for v in per_class.values()])),
        "macro_roc_auc": float(np.mean(aucs)) if aucs else None,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "melanoma": {
            "threshold": threshold,
            "sensitivity": sens,
            "specificity": spec,
            "roc_auc": roc_auc(mel, y_true == melanoma_index),
        },
        "ece": expected_calibration_error(probs, y_true),
        "ece_sampling_floor": ece_sampling_floor(probs),
    }
