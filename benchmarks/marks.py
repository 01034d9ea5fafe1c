"""What a clinic puts beside a lesion before the dermatoscope touches it: colour calibration
patches, ink marks and rulers, drawn onto dermoscopy images.

Why: one dermoscopy origin (ISIC 2017) has round colour patches stuck next to many of its
lesions, and no other origin has them. Left out of the "is this dermoscopy" fit, that origin's
patched images scored lowest of any real dermoscopy, and the refusal limit, which must keep
99 % of every left-out origin, fell far enough to let most clinical photos through. Drawn
onto every origin's images, the marks are positives of the fit: a patch, an arrow or a ruler
does not make a photo less dermoscopy. Each marked copy stays with its origin (left out with
it, weighed within its share) and is never counted in an origin's limit.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Colour patches as stuck beside lesions: saturated, flat, often one disc inside another.
PATCH_COLOURS = (
    (40, 150, 220),
    (250, 140, 40),
    (60, 170, 80),
    (240, 70, 60),
    (240, 220, 50),
    (80, 190, 200),
    (235, 235, 235),
    (250, 120, 120),
)
INK = ((100, 60, 160), (70, 50, 140), (40, 40, 60))  # surgical marker violet, blue-black
KINDS = ("patch", "ink", "ruler")


def _patch(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    """A disc (sometimes with a second inside) partly out of frame at one side."""
    side = min(w, h)
    r = side * rng.uniform(0.15, 0.35)
    angle = rng.uniform(0, 2 * math.pi)
    reach = rng.uniform(0.35, 0.55)  # from the centre, as a share of the side
    cx, cy = w / 2 + math.cos(angle) * reach * w, h / 2 + math.sin(angle) * reach * h
    outer, inner = rng.choice(len(PATCH_COLOURS), 2, replace=False)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=PATCH_COLOURS[outer])
    if rng.random() < 0.5:
        ri = r * rng.uniform(0.45, 0.7)
        draw.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=PATCH_COLOURS[inner])


def _ink(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    """An arrow pointing at the lesion, a few dots round it, or a ring drawn round it."""
    side = min(w, h)
    colour = INK[int(rng.integers(len(INK)))]
    width = max(1, int(side * rng.uniform(0.008, 0.02)))
    kind = rng.integers(3)
    if kind == 0:  # an arrow from the rim towards the centre
        angle = rng.uniform(0, 2 * math.pi)
        tip = (w / 2 + math.cos(angle) * side * 0.18, h / 2 + math.sin(angle) * side * 0.18)
        tail = (w / 2 + math.cos(angle) * side * 0.4, h / 2 + math.sin(angle) * side * 0.4)
        draw.line((tail, tip), fill=colour, width=width)
        for turn in (-0.5, 0.5):
            back = angle + turn
            end = (tip[0] + math.cos(back) * side * 0.06, tip[1] + math.sin(back) * side * 0.06)
            draw.line((tip, end), fill=colour, width=width)
    elif kind == 1:  # dots round the lesion
        ring = side * rng.uniform(0.25, 0.4)
        for k in range(int(rng.integers(3, 9))):
            a = 2 * math.pi * k / 8 + rng.normal(0, 0.2)
            x, y = w / 2 + math.cos(a) * ring, h / 2 + math.sin(a) * ring
            d = width * 1.5
            draw.ellipse((x - d, y - d, x + d, y + d), fill=colour)
    else:  # a ring round the lesion
        ring = side * rng.uniform(0.28, 0.42)
        box = (w / 2 - ring, h / 2 - ring * rng.uniform(0.8, 1.0), w / 2 + ring, h / 2 + ring)
        draw.ellipse(box, outline=colour, width=width)


def _ruler(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    """A millimetre scale along the lower part of the field."""
    side = min(w, h)
    y = h * rng.uniform(0.72, 0.9)
    x0 = w * rng.uniform(0.1, 0.3)
    length = side * rng.uniform(0.35, 0.6)
    colour = (int(rng.integers(20, 70)),) * 3
    width = max(1, int(side * 0.004))
    draw.line((x0, y, x0 + length, y), fill=colour, width=width)
    ticks = int(rng.integers(10, 21))
    for k in range(ticks + 1):
        tall = side * (0.03 if k % 5 == 0 else 0.015)
        x = x0 + length * k / ticks
        draw.line((x, y, x, y - tall), fill=colour, width=width)


DRAW = {"patch": _patch, "ink": _ink, "ruler": _ruler}


def marked(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A copy of ``img`` with one or two of the marks drawn on, and their names ('patch+ink')."""
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    n = 1 if rng.random() < 0.6 else 2
    kinds = sorted(rng.choice(len(KINDS), n, replace=False).tolist())
    for k in kinds:
        DRAW[KINDS[k]](draw, rng, out.width, out.height)
    soft = out.filter(ImageFilter.GaussianBlur(max(0.4, min(out.size) / 800)))  # the optics
    return soft, "+".join(KINDS[k] for k in kinds)
