"""Taking a photo again (desktop.recapture): the robustness benchmark's fixed re-captures do
what their names say, and a random re-capture is seeded, varied and inside its ranges."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from desktop import recapture as rc


def _stripes(w: int = 40, h: int = 30) -> Image.Image:
    """A small image whose every pixel differs from its mirror and its quarter turn."""
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 6, yy * 8, (xx * 3 + yy * 5) % 256], -1).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def test_fixed_recaptures_do_what_they_say():
    img = _stripes()
    a = np.asarray(img)
    assert np.array_equal(np.asarray(rc.mirror(img)), a[:, ::-1])
    assert np.array_equal(np.asarray(rc.rotate_90(img)), np.rot90(a))  # counter-clockwise
    assert rc.half_size(img).size == (20, 15)
    crop = rc.centre_crop(img)
    assert crop.size == (34, 26)  # 85 % of 40 and of 30, rounded
    assert np.array_equal(np.asarray(crop), a[2:28, 3:37])  # the centre, not a corner
    bright = np.asarray(rc.brighter(img)).astype(int)
    assert np.abs(bright - np.clip(a * 1.12, 0, 255)).max() <= 0.5
    warm = np.asarray(rc.warmer(img)).astype(int)
    assert (warm[..., 0] >= a[..., 0]).all() and (warm[..., 2] <= a[..., 2]).all()
    assert np.array_equal(warm[..., 1], a[..., 1])

    def jpeg_bytes(q: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=q)
        return buf.getvalue()

    assert len(jpeg_bytes(40)) < len(jpeg_bytes(95))
    assert not np.array_equal(np.asarray(rc.jpeg(img, 40)), np.asarray(rc.jpeg(img, 95)))
    blurred = np.asarray(rc.blur(img)).astype(float)
    assert blurred.std() < a.astype(float).std() and rc.blur(img).size == img.size
    assert rc.phone(img).size == (30, 22)  # 75 % per side
    for v in rc.VARIANTS.values():
        assert v.make(img).mode == "RGB"


def test_random_recapture_is_seeded_and_varied():
    img = _stripes(64, 48)
    same = [np.asarray(rc.random_recapture(img, random.Random(7))) for _ in range(2)]
    assert np.array_equal(*same)  # a re-run of the benchmark fits on the same copies
    outs = [rc.random_recapture(img, random.Random(s)) for s in range(40)]
    assert len({o.size for o in outs}) > 3  # distance and framing vary
    changed = [
        not (o.size == img.size and np.array_equal(np.asarray(o), np.asarray(img))) for o in outs
    ]
    assert sum(changed) >= 35  # six steps at 30-50 % each: almost never none
    for o in outs:
        assert o.mode == "RGB"
        # at most 75 % crop then 40 % scale per side
        assert o.width >= round(round(64 * 0.75) * 0.4) and o.width <= 64


@pytest.mark.parametrize("step", list(rc.RANGES))
def test_each_random_step_changes_the_photo(monkeypatch: pytest.MonkeyPatch, step: str):
    """Each step alone, always on, does change the image (no step is silently dead)."""
    img = _stripes(64, 48)
    ranges = {k: ((1.0 if k == step else 0.0), r) for k, (_, r) in rc.RANGES.items()}
    monkeypatch.setattr(rc, "RANGES", ranges)
    out = rc.random_recapture(img, random.Random(3))
    assert out.size != img.size or not np.array_equal(np.asarray(out), np.asarray(img))
