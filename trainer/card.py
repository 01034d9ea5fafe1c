"""The model card a run writes as ``model.json``: built here, next to the check it must pass.

The card is read by the app through ``desktop/card.py``; :func:`complete_card` runs that
module's ``validate`` on the finished card, so a run cannot write a card the app would refuse.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.card import FORMAT_VERSION, MELANOMA, CardError, ModelCard, validate
from desktop.labelled.sources import source_terms
from desktop.preprocessing import Preprocessing
from trainer import TRAINER_VERSION
from trainer.config import TrainConfig
from trainer.data import EVAL_SPLITS, Prepared
from trainer.pretrained import SOURCES as PRETRAINED_SOURCES

if TYPE_CHECKING:  # importing these starts Keras
    from trainer.evaluate_run import Calibration
    from trainer.model_spec import ModelParts

INTENDED_USE = (
    "Decision aid for clinicians looking at dermoscopy images of a single skin lesion. "
    "It ranks nine ISIC lesion classes and flags possible melanoma for referral. "
    "It is not a diagnosis and must not replace examination, dermoscopy expertise or histopathology."
)
LIMITATIONS = [
    "Trained on a small public ISIC subset; classes come from different image archives, "
    "so some accuracy may come from camera or crop cues rather than the lesion.",
    "Only dermoscopy images of the nine listed classes; other skin conditions, clinical "
    "(non-dermoscopic) photos and other body sites are out of scope.",
    "Skin types are not recorded in the training data; performance on darker skin is unknown.",
    "Metrics are measured on a held-out split of the same archive, not on a prospective clinic population.",
]


def build_card(
    config: TrainConfig,
    prepared: Prepared,
    pre: Preprocessing,
    parts: ModelParts,
    calibration: Calibration,
    tflite_bytes: bytes,
) -> dict[str, Any]:
    """The model card around the exported model; alert and metrics are filled in later
    (:func:`complete_card`)."""
    weights, bias = cam_weights(parts)
    mel = prepared.classes.index(MELANOMA)
    return {
        "format_version": FORMAT_VERSION,
        "name": f"LesionLens EfficientNet-{config.arch.capitalize()}"
        if config.arch in PRETRAINED_SOURCES
        else "LesionLens custom CNN",
        "base_model": (
            {**PRETRAINED_SOURCES[config.arch], "blocks_kept": config.lite_blocks}
            if config.arch in PRETRAINED_SOURCES and config.pretrained
            else None
        ),
        # The model bytes identify a model; the date alone does not.
        "model_version": f"{datetime.now(UTC).strftime('%Y.%m.%d')}-{hashlib.sha256(tflite_bytes).hexdigest()[:8]}",
        "classes": list(prepared.classes),
        "melanoma_index": mel,
        "input": {"name": "image", "size": config.image_size, "channels": 3, "format": "RGB 0-255"},
        "preprocessing": pre.to_dict(),
        "outputs": {"probabilities": "probabilities", "features": "features"},
        "quantization": config.quantization,
        "calibration": {
            "method": "temperature scaling on the validation split",
            "temperature": calibration.temperature,
            "prior_correction": {
                "weight": calibration.prior_weight,
                "log_prior": [float(v) for v in calibration.log_prior],
                "method": "w * log(training class share) added to the logits; w chosen on validation",
            },
        },
        "alert": {"melanoma_threshold": 0.5, "target_sensitivity": config.target_sensitivity},
        "uncertainty": {"min_top_probability": config.min_top_probability},
        "test_time_views": config.test_time_views,
        "cam": {"weights": weights, "bias": bias},
        "metrics": {},
        "training_data": data_summary(prepared),
        "config": {**config.to_dict(), "data": [Path(d).name for d in config.data], "out": ""},
        "trainer_version": TRAINER_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }


def cam_weights(parts: ModelParts) -> tuple[list[list[float]], list[float]]:
    """Dense kernel (channels x classes) and bias: CAM = features . kernel[:, class]."""
    kernel, bias = parts.head.get_weights()
    return kernel.astype(float).tolist(), bias.astype(float).tolist()


def complete_card(card: dict[str, Any], metrics: dict[str, Any], training: dict[str, Any]) -> None:
    """Fill in the measured figures and the training summary, then check the finished card
    the way the app will (``desktop.card.validate``)."""
    card["metrics"] = metrics
    card["training"] = training
    try:
        validate(card)
    except CardError as exc:
        raise SystemExit(f"the model card this run built is not valid: {exc}") from None


def add_scope(card: dict[str, Any], block: dict[str, Any]) -> None:
    """Put the fitted scope into the finished card, checked as the app will load it, so the
    card is written once, whole."""
    card["scope"] = block
    try:
        validate(card)
        ModelCard.from_dict(card)
    except CardError as exc:
        raise SystemExit(f"the model card this run built is not valid: {exc}") from None


def card_metrics(evals: dict[str, Any], headline_split: str, qkey: str) -> dict[str, Any]:
    """The measured figures the app shows, all from the shipped (quantized) model."""
    ev = evals[headline_split]
    head = ev[qkey]
    metrics: dict[str, Any] = {
        "measured_on": headline_split,
        "model": qkey,
        **split_figures(head),
        "macro_f1": head["macro_f1"],
        "macro_roc_auc": head["macro_roc_auc"],
        "ece_before_temperature": ev["ece_uncalibrated_float"],
        "ece_after_temperature": head["ece"],
        "ece_sampling_floor": head["ece_sampling_floor"],
        "float_accuracy": ev["float"]["accuracy"],
        "quantized_top1_agreement": ev["top1_agreement_quantized_vs_float"],
        "per_class_recall": {c: v["recall"] for c, v in head["per_class"].items()},
        "melanoma_by_source": {
            k: {
                "images": v["images"],
                "melanomas": v["melanomas"],
                "sensitivity": v["melanoma"]["sensitivity"],
                "specificity": v["melanoma"]["specificity"],
                "roc_auc": v["melanoma"]["roc_auc"],
            }
            for k, v in ev["by_source"].items()
        },
    }
    for name in ("test", "holdout"):
        if name in evals:
            key = "out_of_source" if name == "holdout" else "test_split"
            metrics[key] = split_figures(evals[name][qkey])
    return metrics


def split_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The card's summary of one split's classification report (test split, out of source)."""
    return {
        "images": report["images"],
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "melanoma_sensitivity": report["melanoma"]["sensitivity"],
        "melanoma_specificity": report["melanoma"]["specificity"],
        "melanoma_roc_auc": report["melanoma"]["roc_auc"],
    }


def data_summary(prepared: Prepared) -> dict[str, Any]:
    """What the card says about the data: sources (with licence and citation), counts, split."""
    ids = prepared.identities
    return {
        "sources": [{**s.summary(), **source_terms(s)} for s in prepared.sources],
        "content_sha256": prepared.content_hash(),
        "identities": len(ids.items),
        "cross_source_duplicates": ids.cross_source_duplicates,
        "cross_source_conflicts": ids.cross_source_conflicts,
        "per_class": {c: sum(1 for i in ids.items if i.label == c) for c in prepared.classes},
        "split": {k: len(prepared.split(k)) for k in ("train", *EVAL_SPLITS)},
        "holdout_source": prepared.extra.get("holdout_source", ""),
        "augmented_samples": len(prepared.augmented),
    }
