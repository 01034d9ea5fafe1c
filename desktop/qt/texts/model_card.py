"""The model card dialog's wording (Help > About / Model card): plain words for the card's
keys and values, the glossary of its figures, and the dialog's headings.
"""

from __future__ import annotations

from desktop import APP_NAME

# Model card dialog -------------------------------------------------------------------------
# Plain words for the card's metric keys; a key not listed here is shown with its underscores
# turned into spaces. Fractions are shown as percentages.
METRIC_LABELS = {
    "measured_on": "Measured on",
    "model": "Model measured",
    "images": "Test images",
    "accuracy": "Top class correct",
    "balanced_accuracy": "Top class correct, averaged over classes (balanced accuracy)",
    "macro_f1": "Average F1 score over classes",
    "macro_roc_auc": "How well it ranks each class above the others (ROC AUC)",
    "melanoma_sensitivity": "Melanomas that raise the alert (sensitivity)",
    "melanoma_specificity": "Non-melanomas that do not raise the alert (specificity)",
    "melanoma_roc_auc": "How well it ranks melanoma above other lesions (ROC AUC)",
    "ece_before_temperature": "Calibration error before correction (lower is better)",
    "ece_after_temperature": "Calibration error: stated vs. observed probability (lower is better)",
    "ece_sampling_floor": "Calibration error even a perfect model would show on this many images",
    "float_accuracy": "Top class correct, full-precision model",
    "quantized_top1_agreement": "Same answer as the full-precision model",
    "per_class_recall": "How often each class is recognised",
    "melanoma_by_source": "Melanoma alert by image archive",
    "out_of_source": "On images from an archive not used for training",
    "test_split": "On the data set's own test images",
    "melanomas": "Melanomas among them",
    "sensitivity": "Melanomas that raise the alert",
    "specificity": "Non-melanomas that do not raise the alert",
    "roc_auc": "Ranking of melanoma above other lesions (ROC AUC)",
}
METRIC_VALUES = {
    "internal_test": "held-out test images (never used for training or tuning)",
    "int8": "the compact model this app runs",
    "float": "the full-precision model",
}
PERCENT_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "melanoma_sensitivity",
    "melanoma_specificity",
    "float_accuracy",
    "quantized_top1_agreement",
    "per_class_recall",
    "sensitivity",
    "specificity",
}
TRAINING_DATA_LABELS = {
    "images": "Images",
    "per_class": "Images per class",
    "duplicate_groups": "Groups of duplicate images (kept once)",
    "conflicting_label_groups": "Images filed under two classes (left out)",
    "split": "How the images were divided",
    "augmented_samples": "Extra training images made by augmentation",
    "content_sha256": "Data fingerprint (a checksum naming this exact set of images)",
    "name": "Name",
    "licence": "Licence",
    "license": "Licence",
    "sources": "Image archives",
    "citation": "Citation",
    "problems": "Files left out, by reason",
    "identities": "Different images after merging copies",
    "cross_source_duplicates": "Images found in more than one archive (kept once)",
    "cross_source_conflicts": "Images given different classes by two archives (left out)",
    "holdout": "Images of an archive kept out of training",
    "holdout_source": "Archive kept out of training",
    "package": "Package",
    "version": "Version",
    "architecture": "Network design",
    "trained_on": "First trained on",
    "blocks_kept": "Pretrained building blocks kept",
    "method": "How it was measured",
}
SPLIT_LABELS = {
    "train": "For training",
    "val": "For choosing settings (validation)",
    "internal_test": "Held out for testing",
    "test": "Separate test set",
    "holdout": "From an archive kept out of training",
}
CARD_GLOSSARY_TITLE = "What these figures mean"
CARD_GLOSSARY = (
    (
        "Sensitivity",
        "of the melanomas in testing, the share that raised the alert.",
    ),
    (
        "Specificity",
        "of the lesions that were not melanoma, the share that did not raise the alert.",
    ),
    (
        "Balanced accuracy",
        "the share of images whose most likely class was right, averaged over the classes "
        "so that rare classes count as much as common ones.",
    ),
    (
        "ROC AUC",
        "the chance that the model scores a random lesion of a class above a random lesion "
        "of another class: 1.0 always, 0.5 no better than a coin toss.",
    ),
    (
        "F1 score",
        "a single figure from 0 to 1 that is high only when a class is both found often and "
        "rarely named wrongly.",
    ),
    (
        "Calibration error (ECE)",
        "how far a shown probability is from how often the class was actually right, on "
        "average: 0.03 means about 3 percentage points.",
    ),
)
CARD_TITLE = f"About {APP_NAME} / Model card"
CARD_LEAD = "A decision aid, not a diagnosis."
CARD_LEAD_REST = (
    "Results must be interpreted by a qualified clinician together with the history and "
    "examination."
)
CARD_OFFLINE = "Works offline: images never leave this computer."
MODEL = "Model"
CARD_NO_MODEL = "No model loaded."
CARD_MODEL_VERSION = "Model version"
CARD_TRAINED_ON = "Trained on"
CARD_LOOKS_AT = "Looks at"
CARD_WARNING = "Warning."
CARD_MELANOMA_CLASS = " (melanoma alert)"
CARD_NOT_MEASURED = "not measured"
CARD_CLASS = "Class"
CARD_RECOGNISED = "Recognised in testing"
CARD_HOW_WELL = "How well it measured"
CARD_NO_FIGURES = "The model card reports no measured figures."
CARD_ALL_FIGURES = "All figures"
YES = "yes"
NO = "no"
# The card's free-text sections, in the order shown.
CARD_SECTIONS = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "training_data": "Training data",
    "base_model": "Pretrained starting point",
}


def card_looks_at(size: int) -> str:
    return f"the photo's centre, resized to {size} \u00d7 {size} pixels"


def card_classes(count: int) -> str:
    return f"Classes ({count})"
