"""The model card's ``alert`` block beyond its threshold: the melanoma alert's "high" grade,
the referral prompts for other skin cancers and the borderline band with its measured figures.

Each is optional (older cards lack it) and refused when malformed: a prompt that quotes a
figure must quote one that was measured. Raises :class:`AlertError`; ``desktop.card`` turns it
into its own error. Qt- and TF-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop.integrity import is_number
from desktop.preprocessing import brief

MELANOMA = "melanoma"
SHARES = ("flips_in_band", "flips_outside")  # the two shares of alert.borderline


class AlertError(ValueError):
    """A malformed block of the card's ``alert``; ``str(err)`` says what is wrong."""


@dataclass(frozen=True)
class OtherOrigins:
    """``alert.borderline.other_origins``: the lowest and highest of the same two shares over
    origins each held out of a training run of the same recipe (``benchmarks.borderline``)."""

    in_band: tuple[float, float]
    outside: tuple[float, float]
    origins: int  # how many origins


@dataclass(frozen=True)
class Borderline:
    """``alert.borderline``: a band of ``band`` log-odds either side of the melanoma alert's
    threshold, and how often a re-take changed the alert in testing (``benchmarks.robustness``)
    for images inside it and for the others: the measured figures the "close to the alert
    threshold" line quotes."""

    band: float  # half-width in log-odds, > 0
    flips_in_band: float  # share of re-takes that changed the alert, images inside the band
    flips_outside: float  # the same for images outside it
    images: int  # images measured
    other: OtherOrigins | None = None  # the same on origins held out of training, if measured


def borderline(data: dict[str, Any]) -> Borderline | None:
    """The optional ``alert.borderline`` block; None when it was measured at a threshold other
    than the alert's (a card ``adapt`` wrote moves the threshold: its figures no longer hold)."""
    block = data["alert"].get("borderline")
    if block is None:
        return None
    bad = "model card 'alert.borderline' must hold"
    if not isinstance(block, dict):
        raise AlertError(f"{bad} band, threshold, flips_in_band, flips_outside and images")
    band, at = block.get("band_log_odds"), block.get("threshold")
    if not (is_number(band) and 0.0 < band <= 5.0):
        raise AlertError(f"{bad} a band_log_odds in (0, 5]")
    if not (is_number(at) and 0.0 < at < 1.0):
        raise AlertError(f"{bad} the threshold it was measured at, in (0, 1)")
    shares = [block.get("flips_in_band"), block.get("flips_outside")]
    if not all(is_number(v) and 0.0 <= v <= 1.0 for v in shares):
        raise AlertError(f"{bad} flips_in_band and flips_outside in [0, 1]")
    images = block.get("images")
    if not (isinstance(images, int) and not isinstance(images, bool) and images > 0):
        raise AlertError(f"{bad} a positive count of images")
    other = _other_origins(block.get("other_origins"), bad)
    if abs(at - data["alert"]["melanoma_threshold"]) > 1e-9:
        return None
    return Borderline(float(band), float(shares[0]), float(shares[1]), images, other)


def _other_origins(other: Any, bad: str) -> OtherOrigins | None:
    """The optional ``other_origins`` of ``alert.borderline``, checked (refused if malformed)."""
    if other is None:
        return None
    ranges = [other.get(k) if isinstance(other, dict) else None for k in SHARES]
    origins = other.get("origins") if isinstance(other, dict) else None
    if not (
        all(_is_range(r) for r in ranges)
        and isinstance(origins, list)
        and origins
        and all(is_name(o) for o in origins)
    ):
        raise AlertError(
            f"{bad} in 'other_origins' the origins and, for flips_in_band and flips_outside, "
            "the lowest and highest share in [0, 1]"
        )
    (a, z), (c, d) = ranges
    return OtherOrigins((float(a), float(z)), (float(c), float(d)), len(origins))


def _is_range(value: Any) -> bool:
    """[low, high], two shares in [0, 1], low first."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(is_number(v) and 0.0 <= v <= 1.0 for v in value)
        and value[0] <= value[1]
    )


def is_name(value: Any) -> bool:
    """A non-blank string: a class, an origin, an input or output name."""
    return isinstance(value, str) and bool(value.strip())


def melanoma_high(data: dict[str, Any]) -> float | None:
    """The optional ``alert.melanoma_high`` threshold: a probability, at or above the alert's."""
    block = data["alert"].get("melanoma_high")
    if block is None:
        return None
    value = block.get("threshold") if isinstance(block, dict) else None
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise AlertError("model card 'alert.melanoma_high.threshold' must be a number in [0, 1]")
    if value < data["alert"]["melanoma_threshold"]:
        raise AlertError("model card 'alert.melanoma_high' lies below the melanoma alert")
    return float(value)


def referrals(data: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    """The optional ``alert.referrals``: a threshold in [0, 1] for each named class."""
    block = data["alert"].get("referrals")
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise AlertError("model card 'alert.referrals' must be an object")
    out = []
    for cls, point in block.items():
        value = point.get("threshold") if isinstance(point, dict) else None
        if cls not in data["classes"] or cls == MELANOMA:
            raise AlertError(f"model card 'alert.referrals' names {brief(cls)}, not a class")
        if not is_number(value) or not 0.0 <= value <= 1.0:
            raise AlertError(
                f"model card 'alert.referrals' threshold of {cls!r} must lie in [0, 1]"
            )
        out.append((cls, float(value)))
    return tuple(out)
