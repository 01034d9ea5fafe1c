"""Draw the class-activation map over the photo (no Qt, no TensorFlow).

The CAM covers only the part of the photo the model saw (the central square,
narrowed further by the card's ``crop``), so the heat-map is placed there and
not stretched over regions the model never looked at.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from desktop.imaging import Preprocessing, view_box

DISPLAY_MAX_PX = 1600

# A perceptually ordered dark-blue -> red -> yellow ramp (close to "inferno"):
# it prints legibly in greyscale and avoids the rainbow's false boundaries.
_ANCHORS = np.array(
    [
        [0.00, 0, 0, 4],
        [0.25, 87, 16, 110],
        [0.50, 188, 55, 84],
        [0.75, 249, 142, 9],
        [1.00, 252, 255, 164],
    ],
    dtype=np.float32,
)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to ``uint8`` RGB with the ramp above."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    channels = [np.interp(v, _ANCHORS[:, 0], _ANCHORS[:, c]) for c in (1, 2, 3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def legend(width: int = 256, height: int = 12) -> Image.Image:
    """A horizontal low-to-high colour bar for the heat-map legend."""
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    return Image.fromarray(colormap(ramp), mode="RGB")


def model_view_box(width: int, height: int, pre: Preprocessing) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the region of a ``width x height`` photo the model saw."""
    return view_box(width, height, pre)


def display_copy(img: Image.Image, max_px: int = DISPLAY_MAX_PX) -> Image.Image:
    """A copy small enough to paint quickly and keep in memory, never upscaled."""
    out = img.convert("RGB")
    if max(out.size) > max_px:
        out = out.copy()
        out.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    return out


def overlay(
    img: Image.Image, cam: np.ndarray, pre: Preprocessing, strength: float = 0.6
) -> Image.Image:
    """The photo with the heat-map blended in where the model looked.

    Blending is weighted by the activation itself, so cold regions show the
    untouched photo (a clinician still sees the lesion) and only hot regions
    are tinted. The analysed square is outlined when the photo was cropped.
    """
    base = img.convert("RGB")
    left, top, right, bottom = model_view_box(base.width, base.height, pre)
    w, h = right - left, bottom - top
    if w <= 0 or h <= 0:
        return base.copy()
    cam_u8 = (np.clip(np.asarray(cam, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    heat = (
        np.asarray(
            Image.fromarray(cam_u8, mode="L").resize((w, h), Image.Resampling.BILINEAR),
            dtype=np.float32,
        )
        / 255.0
    )
    region = np.asarray(base.crop((left, top, right, bottom)), dtype=np.float32)
    alpha = (strength * np.sqrt(heat))[..., None]
    blended = region * (1.0 - alpha) + colormap(heat).astype(np.float32) * alpha
    out = base.copy()
    out.paste(Image.fromarray(blended.round().astype(np.uint8), mode="RGB"), (left, top))
    if (left, top, right, bottom) != (0, 0, base.width, base.height):
        draw = ImageDraw.Draw(out)
        line = max(1, round(min(base.size) / 300))
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 255, 255), width=line)
    return out
