"""Cheap pixel cues that rule out a dermoscopy photo before any network looks at it.

Rendered pictures (text, charts, screenshots) are mostly exact runs of one colour; photographs,
dermoscopy included, carry sensor noise and shading. ``desktop.scope.judge`` refuses on these cues
on their own, whatever the networks say. Two kinds of pixel say nothing either way and are left
out: a dermatoscope's black rim, and what the camera clipped white (:func:`burnt_out`, the
over-exposure measure of ``desktop.quality``): a brighter re-take of pale skin clips it into
runs of one white, exactly as a page is white.

numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import numpy as np

FLAT_REASON = (
    "large parts of the image are one flat colour, as in text, charts or screenshots, "
    "not a photo of skin"
)

# Pixel cue (:func:`flat_share`): above this share of exactly flat pixels (of the area neither
# dark nor burnt-out) an image is rendered, not photographed. Dermoscopy photos stay far below it
# and rendered text, charts and screenshots lie above it (python -m benchmarks.scope measures both
# sides). JPEG-40 re-takes come closest among real dermoscopy: the same benchmark counts the
# re-takes the cue refuses (quality.recaptured in benchmarks/scope.json).
MAX_FLAT_SHARE = 0.3
DARK_LEVEL = 48  # pixels darker than this in every channel are ignored (vignette, rim)
# Burnt-out (:func:`burnt_out`): within this of its channel's brightest value in every channel,
# where every channel's brightest value is at least BURNT_TOP. Clipped white is 255 before colour
# constancy, which then scales each channel (by about 0.8-1.25 on skin): so the top of each
# channel, not 255, is where the camera clipped. An image whose channels all top out at 255 gets
# the plain test (>= 250 in every channel).
BURNT_MARGIN = 5
BURNT_TOP = 200
# Hard-edged white (:func:`soft_white_edge`): where at least MIN_WHITE of the picture is
# burnt-out, at least MIN_SOFT_EDGE of that white's border must be nearly white itself (within
# SOFT_GAP of every channel's top). A camera clips gradually: the white fades into bright skin
# around it. A page or a chart's background meets ink at once. python -m benchmarks.scope writes
# both sides (quality.recaptured: re-taken dermoscopy; the pictures' refusals).
MIN_WHITE = 0.3
MIN_SOFT_EDGE = 0.7
SOFT_GAP = 40


def burnt_out(arr: np.ndarray) -> np.ndarray:
    """Mask of the pixels clipped white: at the top of every channel (``H x W`` bool).

    Channel by channel: a reduction over the three values of each pixel costs ten times as
    much. A picture whose brightest values are not bright (any channel under BURNT_TOP) has no
    burnt-out pixel.
    """
    a = np.asarray(arr)
    if a.ndim != 3 or a.size == 0:
        return np.zeros(a.shape[:2], dtype=bool)
    burnt = np.ones(a.shape[:2], dtype=bool)
    for c in range(a.shape[-1]):
        channel = a[..., c]
        top = int(channel.max())
        if top < BURNT_TOP:
            return np.zeros(a.shape[:2], dtype=bool)
        burnt &= channel >= top - BURNT_MARGIN
    return burnt


def flat_share(arr: np.ndarray, burnt: np.ndarray | None = None) -> float:
    """Share of the photographed area that is exactly equal to all four neighbours.

    Photographs, dermoscopy included, carry sensor noise and shading, so exact runs of one
    colour are rare in them; rendered text, charts and screenshots are mostly such runs.
    The photographed area leaves out dark pixels (many dermatoscopes leave black corners
    around the field) and burnt-out ones (:func:`burnt_out`, or ``burnt`` when made already);
    with none left, 0.0 (the quality check speaks for a picture that is all rim or all white).
    """
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    burnt = (burnt_out(a) if burnt is None else burnt)[1:-1, 1:-1]
    # One int per pixel (its three channels packed), so a neighbour comparison is one array op.
    a = a.astype(np.int32)
    packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    c = packed[1:-1, 1:-1]
    same = (packed[:-2, 1:-1] == c) & (packed[2:, 1:-1] == c)
    same &= (packed[1:-1, :-2] == c) & (packed[1:-1, 2:] == c)
    inner = a[1:-1, 1:-1]
    brightest = inner[..., 0]  # channel by channel: faster than a reduction over each pixel
    for c in range(1, a.shape[-1]):
        brightest = np.maximum(brightest, inner[..., c])
    area = (brightest >= DARK_LEVEL) & ~burnt
    n = int(np.count_nonzero(area))
    return float(np.count_nonzero(same & area) / n) if n else 0.0


def soft_white_edge(arr: np.ndarray, burnt: np.ndarray | None = None) -> float | None:
    """Share of the burnt-out white's border (the pixels next to it) that is nearly white
    itself; None where under MIN_WHITE of the picture is burnt-out (nothing to judge).
    ``burnt``: :func:`burnt_out`'s mask, when made already.

    Over-exposure in a photograph has a soft shoulder, as light falls off smoothly across skin;
    rendered white (text, charts, screenshots) has hard edges.
    """
    a = np.asarray(arr)
    burnt = burnt_out(a) if burnt is None else burnt
    if a.ndim != 3 or not np.mean(burnt) >= MIN_WHITE:
        return None
    near = np.zeros_like(burnt)
    near[1:] |= burnt[:-1]
    near[:-1] |= burnt[1:]
    near[:, 1:] |= burnt[:, :-1]
    near[:, :-1] |= burnt[:, 1:]
    edge = near & ~burnt
    n = int(np.count_nonzero(edge))
    if not n:
        return 1.0  # all white: blank or over-exposed, the quality check speaks for it
    soft = np.ones(n, dtype=bool)
    for c in range(a.shape[-1]):
        channel = a[..., c]
        soft &= channel[edge] >= int(channel.max()) - SOFT_GAP
    return float(np.count_nonzero(soft) / n)


def pixel_cues(arr: np.ndarray) -> tuple[str, ...]:
    """Plain-words reasons the pixels alone rule out a dermoscopy photo (empty when none).

    ``arr`` is the preprocessed model input (uint8, H x W x 3). One cue, chosen to be
    safe for real dermoscopy: much of the picture is exactly one flat colour, either in its
    photographed area or as white with hard edges.
    """
    burnt = burnt_out(arr)
    if flat_share(arr, burnt) > MAX_FLAT_SHARE:
        return (FLAT_REASON,)
    soft = soft_white_edge(arr, burnt)
    return (FLAT_REASON,) if soft is not None and soft < MIN_SOFT_EDGE else ()
