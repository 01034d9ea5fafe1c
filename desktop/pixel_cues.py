"""Cheap pixel cues that rule out a dermoscopy photo before any network looks at it.

Rendered pictures (text, charts, screenshots) are mostly exact runs of one colour; photographs,
dermoscopy included, carry sensor noise and shading. ``desktop.scope.judge`` refuses on these cues
on their own, whatever the networks say.

numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import numpy as np

FLAT_REASON = (
    "large parts of the image are one flat colour, as in text, charts or screenshots, "
    "not a photo of skin"
)

# Pixel cue (:func:`flat_share`): above this share of exactly flat pixels an image is
# rendered, not photographed. Dermoscopy photos stay far below it and rendered text,
# charts and screenshots lie above it (python -m benchmarks.scope measures both sides).
# Not 0.15: a JPEG-40 or a 12 % brighter re-take of real dermoscopy passed 0.15 in 6.4 % and
# 1.0 % of 420 images (0.5 % and 0.2 % pass 0.3), while 0.3 lets one more of the 205
# non-skin pictures through (the two-sided decision refuses most of them anyway).
MAX_FLAT_SHARE = 0.3
DARK_LEVEL = 48  # pixels darker than this in every channel are ignored (vignette, rim)


def flat_share(arr: np.ndarray) -> float:
    """Share of the image's pixels that are exactly equal to all four neighbours (not dark).

    Photographs, dermoscopy included, carry sensor noise and shading, so exact runs of one
    colour are rare in them; rendered text, charts and screenshots are mostly such runs.
    Dark pixels never count: many dermatoscopes leave black corners around the field.
    """
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
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
    lit = brightest >= DARK_LEVEL
    return float(np.mean(same & lit))


def pixel_cues(arr: np.ndarray) -> tuple[str, ...]:
    """Plain-words reasons the pixels alone rule out a dermoscopy photo (empty when none).

    ``arr`` is the preprocessed model input (uint8, H x W x 3). One cue, chosen to be
    safe for real dermoscopy: much of the picture is exactly one flat colour.
    """
    return (FLAT_REASON,) if flat_share(arr) > MAX_FLAT_SHARE else ()
