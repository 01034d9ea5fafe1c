"""The model card in words, for the report and the model-card dialog: the measured figures as
sentences (no raw field names, each figure with where it was measured), the classes the model
rarely recognises, what "uncertain" means, and how pictures that are not dermoscopy are set
aside."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING

from desktop.verdict.figures import (
    alert_meaning,
    figures_sentence,
    out_of_source_line,
    point_figures,
    source_lines,
)
from desktop.verdict.formats import class_name, in_ten, percent, rate
from desktop.verdict.levels import HIGH, PRECANCEROUS, REFERRAL_CLASSES
from desktop.verdict.melanoma import RETAKES, other_sources
from desktop.verdict.referrals import referral_line

if TYPE_CHECKING:
    from desktop.card import ModelCard
    from desktop.scope import ClinicLimit

RARE_RECALL = 0.3  # a class found less often than this in testing gets a warning


def operating_point_facts(card: ModelCard | None) -> list[str]:
    """The high melanoma grade and each referral prompt, for the model-card text."""
    if card is None:
        return []
    out = []
    if card.melanoma_high_threshold is not None:
        out.append(figures_sentence("High melanoma level", point_figures(card, HIGH), "melanomas"))
    for cls, _ in card.referral_thresholds:
        kind = (
            "pre-cancerous: treat or refer"
            if REFERRAL_CLASSES.get(cls) == PRECANCEROUS
            else "refer"
        )
        out.append(f"{class_name(cls)} ({kind}). " + referral_line(card, cls))
    b = card.borderline
    if b is not None:
        out.append(
            f"Borderline results: on {b.images} images from a source the network did not learn "
            f"from, taking the same photo again ({RETAKES}) changed the alert in "
            f"{percent(b.flips_in_band)} of tries for those whose melanoma figure lay close to "
            f"where the alert starts, and in {percent(b.flips_outside)} for the others"
            f"{other_sources(b)}."
        )
    soft = card.soft_focus
    if soft is not None:
        out.append(
            "Slightly blurred photos: a photo too blurred to judge is set aside, one only "
            "slightly blurred gets its result with a caution. In testing, copies of dermoscopy "
            "photos blurred that much kept the sharp photo's melanoma alert (on or off) "
            f"{round(100 * soft.kept_alert)} times in 100, barely blurred copies "
            f"{round(100 * soft.kept_alert_sharp)} times in 100."
        )
    return out


def rarely_recognised(card: ModelCard | None, limit: float = RARE_RECALL) -> list[str]:
    """Classes the model found in fewer than ``limit`` of their test images, in words."""
    if card is None:
        return []
    recall = card.metrics.get("per_class_recall")
    if not isinstance(recall, Mapping):
        return []
    out = []
    for i, cls in enumerate(card.classes):
        if i == card.melanoma_index:
            continue  # melanoma is found by the alert (its own figures), not as the top class
        r = rate(recall.get(cls))
        if r is None or r >= limit:
            continue
        how = "never recognised" if r == 0.0 else f"recognised only {in_ten(r, 'down')} times"
        out.append(f"{class_name(cls)}: {how} in testing")
    return out


def rare_warning(card: ModelCard | None, limit: float = RARE_RECALL) -> str | None:
    """A plain warning naming the rarely recognised classes, or None when there are none."""
    rare = rarely_recognised(card, limit)
    if not rare:
        return None
    return (
        "Some classes are rarely recognised by this model \u2014 do not rely on it to find them: "
        + "; ".join(rare)
        + "."
    )


def model_facts(card: ModelCard | None) -> list[str]:
    """The card's measured figures as sentences for the report and the model-card dialog.

    No raw field names: each figure is said in words, with where it was measured.
    """
    if card is None:
        return []
    m = card.metrics
    out = []
    adapted = card.adaptation is not None
    where = (
        "of this clinic's images, each judged by a model fitted without it (cross-validated)"
        if adapted
        else "held-out test images"
        if m.get("measured_on") == "internal_test"
        else "test images"
    )
    n = m.get("images")
    counted = (
        f"{int(n)} {where}"
        if isinstance(n, numbers.Integral) and not isinstance(n, bool)
        else where
    )
    acc, bal = rate(m.get("accuracy")), rate(m.get("balanced_accuracy"))
    if adapted:
        out.append(f"Adapted to this clinic: the figures below come from {counted}.")
    if acc is not None:
        out.append(f"On {counted}, the most likely class was right {percent(acc)} of the time.")
    if bal is not None:
        classes = "classes present there" if adapted else f"{card.num_classes} classes"
        out.append(
            f"Averaged over the {classes} (rare ones count as much as "
            f"common ones), it was right {percent(bal)} of the time."
        )
    out.append(alert_meaning(card))
    out.extend(source_lines(card))
    oos = out_of_source_line(card)
    if oos:
        out.append(oos)
    out.extend(operating_point_facts(card))
    ece = rate(m.get("ece_after_temperature"))
    if ece is not None:
        out.append(
            f"Shown probabilities were off by about {ece * 100:.0f} percentage points on average "
            "from how often the class was actually right."
        )
    agreement = rate(m.get("quantized_top1_agreement"))
    if agreement is not None:
        out.append(
            f"The compact model used here gives the same most likely class as the full model "
            f"for {percent(agreement)} of images."
        )
    rare = rare_warning(card)
    if rare:
        out.append(rare)
    return out


def scope_note(card: ModelCard | None) -> str:
    """How this model sets aside pictures that are not dermoscopy, for the model-card text."""
    if card is None:
        return ""
    scope = card.scope
    if scope is None:
        return (
            "This model has no fitted check for pictures that are not dermoscopy: only tiny, "
            "blank, black-and-white or obviously rendered pictures (text, charts, screenshots) "
            "are set aside."
        )
    if hasattr(scope, "held_out_assessable_rate"):  # the two-sided decision
        text = (
            "Pictures that are not dermoscopy (clinical photos, other pictures) are set aside as "
            '"cannot assess", with no class and no alert; images unlike the training images '
            "keep their result with a caution that it is less reliable."
        )
        if getattr(scope, "general", 0):
            where = (
                " Where the lesion model alone is not already sure an image is dermoscopy, it"
                if getattr(scope, "gate", None) is not None
                else " To decide, it"
            )
            text += (
                f"{where} also reads a general-purpose image network (trained on everyday "
                "photos, not on skin), which notices what the lesion model ignores: faces, "
                "folds of skin, clothing, rooms."
            )
        if scope.held_out_assessable_rate is not None:
            text += (
                " With each dermoscopy source left out of the fit in turn, even the source it "
                f"kept least had {percent(scope.held_out_assessable_rate)} of its images pass "
                "this check."
            )
        if scope.clinical_photos_refused is not None:
            text += (
                " It does not catch every photo taken without a dermatoscope: in testing it set "
                f"aside {in_ten(scope.clinical_photos_refused, 'down')} such photos of skin "
                "disease, and the others got a result. A result for a photo taken without a "
                "dermatoscope is not reliable."
            )
        if scope.clinic is not None:
            text += " " + clinic_limit_note(scope.clinic)
        return text
    text = (
        "Pictures unlike the dermoscopy images the model was trained on are set aside as "
        '"cannot assess", with no class and no alert.'
    )
    if scope.validation_assessable_rate is not None:
        text += (
            f" In validation, {percent(scope.validation_assessable_rate)} of real dermoscopy "
            "images passed this check."
        )
    return text


def clinic_limit_note(clinic: ClinicLimit) -> str:
    """The clinic's own limit (``adapt --clinic-limit``), with what cross-validation measured."""
    melanomas = (
        f" and {percent(clinic.melanomas_kept, 1)} of its {clinic.melanomas} melanomas"
        if clinic.melanomas_kept is not None
        else ""
    )
    return (
        "Adapted to this clinic, it also sets aside images unlike this clinic's own dermoscopy "
        f"({clinic.images} images; cross-validated on them, it kept {percent(clinic.kept, 1)} of "
        f"them{melanomas}). Dermoscopy from another dermatoscope may be set aside too: open "
        "it with the shipped model."
    )


def uncertainty_sentence(card: ModelCard | None) -> str:
    """What 'uncertain' means for this card, in words."""
    if card is None:
        return ""
    return (
        f'A result is marked "uncertain" when no class reaches {percent(card.min_top_probability)}.'
    )
