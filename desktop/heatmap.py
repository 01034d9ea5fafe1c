"""Draw the class-activation map over the photo (no Qt, no TensorFlow).

The CAM covers only the part of the photo the model saw (the central square,
narrowed further by the card's ``crop``), so the heat-map is placed there and
not stretched over regions the model never looked at.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from desktop.imaging import view_box
from desktop.preprocessing import Preprocessing

DISPLAY_MAX_PX = 1600
DEFAULT_OPACITY = 0.5
# Activation below HEAT_FLOOR adds no colour and colour is fully on only from HEAT_FULL, so the
# pigment network the map is about stays visible everywhere the model did not look hard.
HEAT_FLOOR = 0.3
HEAT_FULL = 0.8
HEAT_LAYER_MAX_PX = 512  # the live view paints a layer this size, scaled smoothly by Qt

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


def display_copy(img: Image.Image, max_px: int = DISPLAY_MAX_PX) -> Image.Image:
    """A copy small enough to paint quickly and keep in memory, never upscaled."""
    out = img.convert("RGB")
    if max(out.size) > max_px:
        out = out.copy()
        out.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    return out


def upsample(cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """``cam`` resized to ``width x height`` in float with a bicubic filter, clipped to [0, 1].

    Float, not ``uint8``, and one resize from the map's own resolution: no 1/255 contour steps
    and no blocky patches at the fringe.
    """
    src = Image.fromarray(np.ascontiguousarray(cam, dtype=np.float32), mode="F")
    out = src.resize((max(1, width), max(1, height)), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def heat_alpha(heat: np.ndarray) -> np.ndarray:
    """0 below HEAT_FLOOR, 1 from HEAT_FULL, a smooth step between (colour only where hot)."""
    t = np.clip((heat - HEAT_FLOOR) / (HEAT_FULL - HEAT_FLOOR), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def heat_layer(
    cam: np.ndarray, width: int, height: int, max_px: int | None = HEAT_LAYER_MAX_PX
) -> Image.Image:
    """An RGBA layer for a ``width x height`` region: heat colours, transparent where cold.

    With ``max_px`` the layer is made at most that large (same aspect) for a viewer that
    scales it; the map is smooth, so nothing is lost.
    """
    if max_px is not None and max(width, height) > max_px:
        f = max_px / max(width, height)
        width, height = max(1, round(width * f)), max(1, round(height * f))
    heat = upsample(cam, width, height)
    alpha = (heat_alpha(heat) * 255).round().astype(np.uint8)
    rgba = np.dstack([colormap(heat), alpha])
    return Image.fromarray(rgba, mode="RGBA")


def overlay(
    img: Image.Image, cam: np.ndarray, pre: Preprocessing, strength: float = DEFAULT_OPACITY
) -> Image.Image:
    """The photo with the heat-map blended in where the model looked (for the PDF and tests).

    Only hot regions are tinted, at most to ``strength``; cold regions show the untouched
    photo. The analysed square is outlined when the photo was cropped.
    """
    base = img.convert("RGB")
    left, top, right, bottom = view_box(base.width, base.height, pre)
    w, h = right - left, bottom - top
    if w <= 0 or h <= 0:
        return base.copy()
    layer = np.asarray(heat_layer(cam, w, h, max_px=None), dtype=np.float32)
    region = np.asarray(base.crop((left, top, right, bottom)), dtype=np.float32)
    alpha = (strength * layer[..., 3:] / 255.0).clip(0.0, 1.0)
    blended = region * (1.0 - alpha) + layer[..., :3] * alpha
    out = base.copy()
    out.paste(Image.fromarray(blended.round().astype(np.uint8), mode="RGB"), (left, top))
    if (left, top, right, bottom) != (0, 0, base.width, base.height):
        draw = ImageDraw.Draw(out)
        draw.rectangle(
            (left, top, right - 1, bottom - 1), outline=(255, 255, 255), width=outline_px(base.size)
        )
    return out


def outline_px(size: tuple[int, int]) -> int:
    """Width of the analysed-square outline for a photo of this size."""
    return max(1, round(min(size) / 300))
