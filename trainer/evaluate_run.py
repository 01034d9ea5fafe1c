"""Calibration and evaluation stages of a run, on the trained model and its exported files.

- :func:`calibrate`: prior correction and temperature, both fitted on the validation split.
- :func:`choose_alert`: the melanoma threshold, on the shipped model's validation scores.
- :func:`evaluate`: every evaluation split, shipped (quantized, through the app's own
  classifier) and float, pooled and per source.

The figures themselves are computed by ``trainer.evaluate`` (plain numpy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop.imaging import model_views
from trainer.config import TrainConfig
from trainer.data import Prepared, log
from trainer.evaluate import (
    choose_prior_weight,
    choose_threshold,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    sensitivity_specificity,
    softmax,
)

if TYPE_CHECKING:  # importing model_spec starts Keras
    from desktop.labelled.dataset import Record
    from trainer.model_spec import ModelParts

Split = tuple[np.ndarray, np.ndarray, list["Record"]]  # images, class indices, their records


@dataclass(frozen=True)
class Calibration:
    """What calibration chose: ``prior_weight * log_prior`` is folded into the classifier
    bias, then the logits are divided by ``temperature``."""

    prior_weight: float
    log_prior: np.ndarray
    temperature: float
    # (views, N, K): the float model's validation logits the temperature was fitted on,
    # final bias included; evaluation reuses them instead of running the views again.
    val_logits: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class Alert:
    """The melanoma threshold and what it gives on the validation split."""

    threshold: float
    sensitivity: float
    specificity: float

    def card_fields(self) -> dict[str, float]:
        """The card's ``alert`` entries this stage sets."""
        return {
            "melanoma_threshold": self.threshold,
            "validation_sensitivity": self.sensitivity,
            "validation_specificity": self.specificity,
        }


def logits_of(parts: ModelParts, x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.zeros((0, parts.head.units), np.float32)
    return parts.model.predict(x.astype(np.float32), batch_size=64, verbose=0)


def view_logits(parts: ModelParts, x: np.ndarray, views: str) -> np.ndarray:
    """(views, N, K): the float model's logits for each test-time view of ``x``."""
    return np.stack([logits_of(parts, v) for v in model_views(x, views)])


def view_probs(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The mean over views of the tempered probabilities: what the app reports."""
    return softmax(logits, temperature).mean(axis=0)


def tflite_probs(model_path: Path, card: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Run the exported model through the app's own classifier code (the path the clinic uses)."""
    from desktop.card import ModelCard
    from desktop.inference import Classifier

    clf = Classifier(model_path, card=ModelCard.from_dict(card))
    if not len(x):
        return np.zeros((0, len(card["classes"])))
    return np.stack([clf.probabilities(img)[0] for img in x])


def calibrate(
    config: TrainConfig, parts: ModelParts, prepared: Prepared, x_val: np.ndarray, y_val: np.ndarray
) -> Calibration:
    """Prior correction (folded into ``parts``' classifier bias) and temperature, both chosen
    on the validation split only."""
    classes = prepared.classes
    # The prior is the class share of the training split before balancing (+1 so an empty
    # class stays finite).
    counts = np.bincount([classes.index(r.label) for r in prepared.train], minlength=len(classes))
    log_prior = np.log((counts + 1.0) / (counts + 1.0).sum())
    prior_weight = (
        choose_prior_weight(logits_of(parts, x_val), y_val, log_prior)
        if config.prior_correction
        else 0.0
    )
    if prior_weight:
        # Folded into the classifier bias: the exported model and the CAM bias carry it.
        parts.head.bias.assign(parts.head.bias.numpy() + prior_weight * log_prior)
    log(f"prior correction weight {prior_weight:.2f}")
    # On the mean over the test-time views, the probabilities the app will show.
    val_logits = view_logits(parts, x_val, config.test_time_views)
    temperature = fit_temperature(val_logits, y_val)
    log(f"temperature {temperature:.3f}")
    return Calibration(prior_weight, log_prior, temperature, val_logits)


def choose_alert(mel_scores: np.ndarray, is_melanoma: np.ndarray, target: float) -> Alert:
    """The melanoma threshold that reaches ``target`` sensitivity on validation."""
    threshold = choose_threshold(mel_scores, is_melanoma, target)
    sens, spec = sensitivity_specificity(mel_scores, is_melanoma, threshold)
    log(
        f"melanoma threshold {threshold:.3f}: validation sensitivity {sens:.3f}, specificity {spec:.3f}"
    )
    return Alert(threshold=threshold, sensitivity=sens, specificity=spec)


def evaluate(
    parts: ModelParts,
    model_path: Path,
    card: dict[str, Any],
    splits: dict[str, Split],
    calibration: Calibration,
    threshold: float,
    shipped: dict[str, np.ndarray],
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every non-empty split: the shipped model (key: the card's quantization) and the float
    model, calibration error before temperature, their top-1 agreement, and per source.
    ``shipped`` holds shipped-model probabilities already computed, by split name, and the
    float model's validation logits are the ones ``calibration`` was fitted on. Returned
    with the figures, by split, so nothing runs twice: the shipped model's probabilities and
    the float model's before temperature (both over the test-time views)."""
    classes = tuple(card["classes"])
    mel = card["melanoma_index"]
    qkey = card["quantization"]
    temperature = calibration.temperature
    views = card.get("test_time_views", "none")
    evals: dict[str, Any] = {}
    probs: dict[str, np.ndarray] = {}
    untempered: dict[str, np.ndarray] = {}
    for name, (x, y, recs) in splits.items():
        if len(x) == 0:
            continue
        logits = calibration.val_logits if name == "val" else view_logits(parts, x, views)
        fp = view_probs(logits, temperature)
        untempered[name] = view_probs(logits)
        q = probs[name] = shipped[name] if name in shipped else tflite_probs(model_path, card, x)
        evals[name] = {
            qkey: classification_report(q, y, classes, mel, threshold),
            "float": classification_report(fp, y, classes, mel, threshold),
            "ece_uncalibrated_float": expected_calibration_error(untempered[name], y),
            "top1_agreement_quantized_vs_float": float((q.argmax(1) == fp.argmax(1)).mean()),
            "by_source": by_source(q, y, recs, classes, mel, threshold),
        }
        log(
            f"{name}: "
            + json.dumps({k: v["melanoma"] for k, v in evals[name]["by_source"].items()})
        )
    return evals, probs, untempered


def headline_split(evals: dict[str, Any]) -> str:
    """The split the card's headline figures are measured on."""
    return "internal_test" if "internal_test" in evals else "val"


def by_source(
    probs: np.ndarray, y: np.ndarray, records, classes, mel: int, threshold: float
) -> dict[str, Any]:
    """Every figure per source: a pooled number can hide a source the model cannot read."""
    out: dict[str, Any] = {}
    sources = np.array([r.source for r in records])
    for name in sorted(set(sources.tolist())):
        m = sources == name
        rep = classification_report(probs[m], y[m], classes, mel, threshold)
        out[name] = {
            "images": rep["images"],
            "melanomas": int((y[m] == mel).sum()),
            "accuracy": rep["accuracy"],
            "balanced_accuracy": rep["balanced_accuracy"],
            "melanoma": rep["melanoma"],
        }
    return out


def reliability(y: np.ndarray, untempered: np.ndarray, shipped: np.ndarray) -> dict[str, Any]:
    """Reliability-diagram bins before (float model, T=1) and after (shipped model)
    temperature scaling, from probabilities :func:`evaluate` already computed."""
    return {
        "before": reliability_bins(untempered, y),
        "after": reliability_bins(shipped, y),
    }
