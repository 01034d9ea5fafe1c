"""Why a result is missing or less reliable, in words: an unreadable file, an image that
cannot be assessed (too small, blank, blurred, badly exposed, not dermoscopy), and the caution
on an image unlike those the model learnt from.

Image-quality reasons say what was found and what to change (re-take or re-export).
"""

from __future__ import annotations

from desktop.prediction import Prediction
from desktop.verdict.formats import percent, percent_under
from desktop.verdict.grading import shown_probability

CANNOT_ASSESS_HEADLINE = "Cannot assess this image"
ERROR_HEADLINE = "This file could not be read"
UNCERTAIN_HEADLINE = "Uncertain result"
CANNOT_ASSESS_SHORT = "cannot assess"  # in place of a melanoma figure (chart, timeline, PDF)
NO_MELANOMA_FIGURE = "no melanoma probability (cannot assess)"
NO_ANSWER = (
    "No class and no melanoma alert are given. This says nothing about the lesion itself: "
    "examine it clinically, and take a dermoscopy photo of it if one is needed."
)

# Two outcomes besides a verdict: "not a dermoscopy image" (refused: no class, no alert, no
# heat-map) and "unlike the images the model learnt from" (assessed, with this caution).
NOT_DERMOSCOPY_HEADLINE = "Not a dermoscopy image \u2014 cannot assess"
NOT_DERMOSCOPY_REASON = (
    "it does not look like a dermoscopy image of a skin lesion (it looks more like an "
    "ordinary photo or another kind of picture); take the photo through a dermatoscope"
)
# A third, only on a model adapted to one clinic whose user chose the clinic's own limit
# (``adapt --clinic-limit``): refused like "not dermoscopy", with a way out for real dermoscopy
# from another dermatoscope.
CLINIC_SCOPE_HEADLINE = "Unlike this clinic\u2019s dermoscopy \u2014 cannot assess"
CLINIC_SCOPE_REASON = (
    "it is unlike the dermoscopy images of this clinic that the model was adapted to, and "
    "clinical photos taken without a dermatoscope usually are: take the photo through the "
    "clinic's dermatoscope, or, for a dermoscopy image from another dermatoscope, switch to "
    "the shipped model (Model \u25b8 Use the shipped model) and open it again"
)
UNFAMILIAR_CAUTION = (
    "this image is unlike the dermoscopy images the model learnt from (another dermatoscope, "
    "unusual lighting or poor focus?), so this result is less reliable than usual"
)


def too_small_reason(width: int, height: int, minimum: int) -> str:
    """Image-quality reasons say what was found and what to change (re-take or re-export)."""
    return (
        f"the image is too small to show a lesion ({width} \u00d7 {height} pixels; at least "
        f"{minimum} pixels on each side are needed): use the original photo, not a thumbnail"
    )


BLANK_REASON = (
    "the image is nearly blank (almost one colour, no visible lesion): re-take it with the "
    "lesion in the field of view"
)


def _below(value: float, limit: float) -> str:
    """``value`` with enough decimals to read under ``limit`` ("2.97", never "3, at least 3")."""
    d = next((k for k in range(4) if round(value, k) < round(limit, k)), 3)
    return f"{value:.{d}f}"


def blurred_reason(sharpness: float, minimum: float) -> str:
    return (
        f"the image is blurred (sharpness {_below(sharpness, minimum)}, at least {minimum:.0f} "
        "is needed): re-take it with the dermatoscope held still on the skin and the lesion in "
        "focus"
    )


def soft_focus_caution(
    sharpness: float, sharp: float, kept: tuple[float, float] | None = None
) -> str:
    """``kept``: how often blurred copies this soft, and barely blurred ones, kept the sharp
    photo's melanoma alert in testing (the card's ``quality.soft_focus``)."""
    tested = ""
    if kept is not None:
        tested = (
            f"in testing, copies of dermoscopy photos blurred this much kept the sharp photo's "
            f"melanoma alert (on or off) {round(100 * kept[0])} times in 100, barely blurred "
            f"copies {round(100 * kept[1])} times in 100; "
        )
    return (
        f"the image is slightly blurred (sharpness {_below(sharpness, sharp)}; {sharp:.0f} or "
        f"more is sharp), so this result is less reliable than usual: {tested}a re-take with "
        "the lesion in focus is better"
    )


def black_and_white_reason(level: float, minimum: float) -> str:
    return (
        f"the image is black and white (even its most colourful part lies only "
        f"{_below(level, minimum)} of 255 levels from grey; a dermoscopy photo lies at least "
        f"{minimum:.0f} from it): the model reads a lesion's colours, so use the original "
        "colour photo"
    )


def too_dark_reason(level: float, minimum: float) -> str:
    return (
        f"the image is under-exposed (its brightest part reaches only {_below(level, minimum)} "
        f"of 255, at least {minimum:.0f} is needed): re-take it with the dermatoscope's light on"
    )


def too_bright_reason(share: float, maximum: float) -> str:
    # Enough decimals that the share reads over the limit ("75.3 %", never "75 %, over 75 %").
    d = next((k for k in range(4) if round(share * 100, k) > round(maximum * 100, k)), 3)
    return (
        f"the image is over-exposed ({percent(share, d)} of it is burnt-out white, over the "
        f"{percent(maximum)} that leaves enough to judge): re-take it with less light, "
        "without flash"
    )


def low_confidence_reason(pred: Prediction) -> str | None:
    """Set when no class (or group of classes, e.g. the benign keratoses) is clearly most
    likely (the card's 'uncertain' limit)."""
    shown = shown_probability(pred)
    if shown < pred.min_top_probability:
        top, limit = percent_under(shown, pred.min_top_probability)
        return f"no class is clearly most likely (the most likely has only {top}, under {limit})"
    return None


def uncertain_reasons(pred: Prediction) -> tuple[str, ...]:
    """Every reason not to take the class at face value, cannot-assess reasons first."""
    low = low_confidence_reason(pred)
    cautions = tuple(pred.cautions) if pred.assessable else ()
    return pred.cannot_assess_reasons + ((low,) if low else ()) + cautions


def is_uncertain(pred: Prediction) -> bool:
    return bool(uncertain_reasons(pred))
