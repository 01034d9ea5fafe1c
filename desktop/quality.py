"""Is the picture usable at all? Size, blankness, blur and exposure, each with what to change.

These are refusals ("cannot assess"), so each limit is set on real dermoscopy to pass nearly
all of it: ``python -m benchmarks.scope --quality`` loads a sample of the data sources'
images and writes the share that passes each limit to ``benchmarks/scope.json`` (target:
at least 99.5 %). The measures run on the preprocessed model input (the picture the model
judges), except the size and the colour, which are the original photo's (colour constancy
evens a photo's colours out). numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from desktop.integrity import is_number
from desktop.pixel_cues import MIN_SOFT_EDGE, burnt_out, soft_white_edge
from desktop.verdict import (
    BLANK_REASON,
    black_and_white_reason,
    blurred_reason,
    soft_focus_caution,
    too_bright_reason,
    too_dark_reason,
    too_small_reason,
)

MIN_SIDE_PX = 64  # smaller photos cannot show a lesion's structure
MIN_PIXEL_STD = 6.0  # below: one colour, nothing to see
# Each limit sits below the lowest values of real dermoscopy: ``python -m benchmarks.scope``
# writes the low quantiles of every measure on its sample (``quality.dermoscopy_quantiles``
# in benchmarks/scope.json) and the share of images passing (target >= 99.5 %).
# Sharpness: variance of the 4-neighbour Laplacian of the grey input, on lit pixels. Set on
# the verdicts, not the pixels (python -m benchmarks.blur_limit, benchmarks/blur_limit.json):
# real dermoscopy blurred by growing radii and classified again kept its sharp original's
# melanoma alert about as often at every sharpness from 3 to 8 (87 %), and less often under 3
# (78 % from 2 to 3, 67 % under 2). Under MIN_SHARPNESS the picture is refused as blurred; from
# there to SOFT_SHARPNESS it is judged with a caution (the result is less reliable than for a
# sharp photo, whose alert a blurred copy kept 96 % of the time over 20). 6 refused until
# 2026-12-07: it refused re-takes the model judged as well as pictures it passed.
MIN_SHARPNESS = 3.0
SOFT_SHARPNESS = 6.0
# Under-exposed: even the brightest 2 % of the picture stays this dark (out of 255).
MIN_BRIGHT_LEVEL = 60.0
# Over-exposed: more than this share of the picture is burnt-out white (clipped in every
# channel, desktop.pixel_cues.burnt_out): too little of it is left to judge. Not 0.4, the limit
# until 2026-12-05: a 12 % brighter re-take of pale skin clips much of the picture with the
# lesion still in view, and 0.4 and the flat-colour cue then refused 2.3 % of such re-takes
# of isic2020 images (benchmarks/robustness.json at 96d544d). python -m benchmarks.scope
# writes the largest burnt-out share of every re-take of its sample (quality.recaptured in
# benchmarks/scope.json).
MAX_BURNT_SHARE = 0.75
# Black and white: even the most colourful 1 % of the photo's lit pixels lies this close to grey
# (the largest less the smallest of R, G, B, out of 255; measured on the photo as decoded, at
# most COLOUR_SIDE px, since colour constancy evens a tinted picture out). X-rays, scans, MRI
# and ultrasound, printed pages and grey copies of colour photos lie at 0 (one channel, or three
# equal ones). Real dermoscopy lies far above: python -m benchmarks.scope writes the low
# quantiles of its sample (quality.dermoscopy_quantiles.colour in benchmarks/scope.json), and
# how many images of each origin and re-take the limit refuses.
MIN_COLOUR = 8.0
COLOUR_SIDE = 128
DARK_LEVEL = 48  # a dermatoscope's black rim is not part of the sharpness measure
RIM_MARGIN = 3  # nor are the pixels within 3 of it (the resized rim edge is a soft ramp)


@dataclass(frozen=True)
class QualityMeasures:
    """The numbers the limits compare (kept for the benchmark and for tests)."""

    width: int
    height: int
    pixel_std: float
    sharpness: float
    bright_level: float
    burnt_share: float
    colour: float  # colour_level of the original photo


def colour_level(img: Image.Image) -> float:
    """How far from grey the most colourful 1 % of the photo's lit pixels lies (0-255): the
    99th percentile of max(R, G, B) - min(R, G, B) over pixels neither dark (rim, vignette)
    nor clipped white, on a copy at most :data:`COLOUR_SIDE` px. A photo with no lit pixel
    gets 255 (the exposure check speaks for it)."""
    if set(img.getbands()) <= {"1", "L", "I", "F", "A", "a"}:
        return 0.0  # grey levels alone (1, L, I, F, 16-bit), with or without alpha: no colour
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    step = max(1, max(rgb.size) // COLOUR_SIDE)
    small = rgb.reduce(step) if step > 1 else rgb
    # Channel by channel (contiguous), as burnt_out: a reduction over each pixel's three
    # values costs several times as much.
    r, g, b = (np.asarray(small.getchannel(i)) for i in range(3))
    top = np.maximum(np.maximum(r, g), b)
    low = np.minimum(np.minimum(r, g), b)
    chroma = (top - low)[(top > DARK_LEVEL) & (low < 250)]
    if chroma.size == 0:
        return 255.0
    k = math.ceil(0.99 * chroma.size) - 1  # at least 99 % of the lit pixels lie at or under it
    return float(np.partition(chroma, k)[k])


def _grey(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    return a @ np.array([0.299, 0.587, 0.114]) if a.ndim == 3 else a


def sharpness(arr: np.ndarray, grey: np.ndarray | None = None) -> float:
    """Variance of the Laplacian over lit pixels: low when the picture is out of focus.

    Pixels next to the black rim are left out: the rim's edge is sharp even when the lesion
    is not, and it would hide the blur. ``grey``: ``arr``'s grey levels, when made already.
    """
    g = _grey(arr) if grey is None else grey
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    c = g[1:-1, 1:-1]
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * c
    keep = _eroded(g > DARK_LEVEL, RIM_MARGIN)[1:-1, 1:-1]
    if keep.sum() < 0.05 * keep.size:
        return 0.0  # almost nothing lit: the exposure check speaks for it
    return float(lap[keep].var())


def _eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    """``mask`` shrunk by ``steps`` pixels (4-neighbour): off near every dark pixel."""
    m = mask.copy()
    for _ in range(steps):
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        inner[0], inner[-1], inner[:, 0], inner[:, -1] = False, False, False, False
        m = inner
    return m


def measure(img: Image.Image, arr: np.ndarray) -> QualityMeasures:
    """Every quality number of one picture: ``img`` the original, ``arr`` the model input."""
    a = np.asarray(arr)
    g = _grey(a)
    return QualityMeasures(
        width=int(img.size[0]),
        height=int(img.size[1]),
        pixel_std=float(a.astype(np.float32).std()),
        sharpness=sharpness(a, g),
        bright_level=_percentile(g, 98),
        burnt_share=float(np.mean(burnt_out(a))),
        colour=colour_level(img),
    )


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)``, its default (linear) method with the same arithmetic,
    without its general machinery: a third of its time on a model input."""
    flat = np.ravel(values)
    virtual = (flat.size - 1) * (q / 100)
    if virtual >= flat.size - 1:
        return float(np.max(flat))
    low = math.floor(virtual)
    part = np.partition(flat, (low, low + 1))
    a, b = float(part[low]), float(part[low + 1])
    gamma = virtual - low
    return b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma


def _rendered_white(arr: np.ndarray) -> bool:
    """White with hard edges, as a page's or a chart's: not an over-exposed photo, so the pixel
    cue (desktop.pixel_cues) gives the reason ("one flat colour, as in text...") instead."""
    soft = soft_white_edge(arr)
    return soft is not None and soft < MIN_SOFT_EDGE


def limits() -> dict[str, float]:
    """Every refusal limit by name: what the benchmarks report, and what their caches key on."""
    return {
        "min_side_px": MIN_SIDE_PX,
        "min_pixel_std": MIN_PIXEL_STD,
        "min_sharpness": MIN_SHARPNESS,
        "min_bright_level": MIN_BRIGHT_LEVEL,
        "max_burnt_share": MAX_BURNT_SHARE,
        "min_colour": MIN_COLOUR,
    }


# The limits, in the order the app reports them (failed_limits' keys).
LIMITS = ("too_small", "blank", "black_and_white", "under_exposed", "over_exposed", "blurred")


def failed_limits(m: QualityMeasures) -> dict[str, bool]:
    """Which of :data:`LIMITS` the measures fail, each limit alone (the scope benchmark counts
    each). The app's reasons (:func:`assess_quality`) take them in order, and let
    over-exposure stand only where the white fades off as a photo's does."""
    return {
        "too_small": min(m.width, m.height) < MIN_SIDE_PX,
        "blank": m.pixel_std < MIN_PIXEL_STD,
        "black_and_white": m.colour < MIN_COLOUR,
        "under_exposed": m.bright_level < MIN_BRIGHT_LEVEL,
        "over_exposed": m.burnt_share > MAX_BURNT_SHARE,
        "blurred": m.sharpness < MIN_SHARPNESS,
    }


def assess_quality(img: Image.Image, arr: np.ndarray) -> tuple[str, ...]:
    """Reasons the picture cannot be assessed (empty when usable), each saying what to change."""
    return _reasons(measure(img, arr), arr)


def check_quality(
    img: Image.Image, arr: np.ndarray, soft_focus: SoftFocus | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(reasons, cautions) from one measure of the picture: the reasons of
    :func:`assess_quality`, and for a usable picture the cautions of :func:`quality_cautions`
    (``soft_focus``: the card's figures they quote)."""
    m = measure(img, arr)
    reasons = _reasons(m, arr)
    return reasons, () if reasons else _cautions(m.sharpness, soft_focus)


def _reasons(m: QualityMeasures, arr: np.ndarray) -> tuple[str, ...]:
    """Blur, colour and exposure are only judged on a picture that is neither tiny nor blank:
    one plain reason is better than three."""
    failed = failed_limits(m)
    issues = []
    if failed["too_small"]:
        issues.append(too_small_reason(m.width, m.height, MIN_SIDE_PX))
    if failed["blank"]:
        issues.append(BLANK_REASON)
    if issues:
        return tuple(issues)
    if failed["black_and_white"]:  # before exposure and blur: a re-take would not mend it
        return (black_and_white_reason(m.colour, MIN_COLOUR),)
    if failed["under_exposed"]:
        issues.append(too_dark_reason(m.bright_level, MIN_BRIGHT_LEVEL))
    elif failed["over_exposed"] and not _rendered_white(arr):
        issues.append(too_bright_reason(m.burnt_share, MAX_BURNT_SHARE))
    elif failed["blurred"]:
        issues.append(blurred_reason(m.sharpness, MIN_SHARPNESS))
    return tuple(issues)


class QualityError(ValueError):
    """A card's ``quality`` block is malformed (the card is refused, naming it)."""


@dataclass(frozen=True)
class SoftFocus:
    """The card's ``quality.soft_focus`` (``python -m benchmarks.blur_limit --write-card``):
    how often a copy of real dermoscopy blurred into the caution band kept its sharp
    original's melanoma alert, and how often a barely blurred copy did. The caution quotes them."""

    kept_alert: float
    kept_alert_sharp: float

    @classmethod
    def from_card(cls, data: dict[str, Any]) -> SoftFocus | None:
        """The block, checked; None when absent, or measured at other limits or another alert
        threshold than the card's (``adapt`` moves it: the figures would not hold)."""
        quality = data.get("quality")
        if quality is not None and not isinstance(quality, dict):
            raise QualityError("'quality.soft_focus' must be inside a 'quality' object")
        block = None if quality is None else quality.get("soft_focus")
        if block is None:
            return None
        bad = "'quality.soft_focus' must hold"
        if not isinstance(block, dict):
            raise QualityError(f"{bad} the limits, alert_threshold, kept_alert, kept_alert_sharp")
        shares = (block.get("kept_alert"), block.get("kept_alert_sharp"))
        if not all(is_number(v) and 0.0 <= v <= 1.0 for v in shares):
            raise QualityError(f"{bad} kept_alert and kept_alert_sharp in [0, 1]")
        measured = (block.get("refused_under"), block.get("caution_under"))
        at = block.get("alert_threshold")
        if not (all(is_number(v) for v in measured) and is_number(at)):
            raise QualityError(
                f"{bad} the refused_under, caution_under and alert_threshold it was measured at"
            )
        if measured != (MIN_SHARPNESS, SOFT_SHARPNESS):
            return None
        if abs(float(at) - float(data["alert"]["melanoma_threshold"])) > 1e-9:
            return None
        return cls(float(shares[0]), float(shares[1]))


def quality_cautions(arr: np.ndarray, measured: SoftFocus | None = None) -> tuple[str, ...]:
    """Cautions for a picture that passed :func:`assess_quality`: judged, but less reliably
    (slightly soft focus, between :data:`MIN_SHARPNESS` and :data:`SOFT_SHARPNESS`), quoting
    the card's ``measured`` figures when it has them."""
    return _cautions(sharpness(arr), measured)


def _cautions(s: float, measured: SoftFocus | None) -> tuple[str, ...]:
    if not MIN_SHARPNESS <= s < SOFT_SHARPNESS:
        return ()
    kept = None if measured is None else (measured.kept_alert, measured.kept_alert_sharp)
    return (soft_focus_caution(s, SOFT_SHARPNESS, kept),)
