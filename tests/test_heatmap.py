"""The heat-map maths (no Qt): smooth upsampling, colour only where hot, one map per class."""

from __future__ import annotations

import numpy as np
from PIL import Image

from desktop.heatmap import HEAT_FLOOR, heat_alpha, heat_layer, overlay, upsample
from desktop.preprocessing import Preprocessing
from desktop.results import classify_image
from tests.fakes import FakeClassifier, lesion_image


def test_upsampling_is_smooth_not_blocky():
    """A coarse 8x8 map becomes a smooth field: no step between neighbouring pixels is large."""
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[3:5, 3:5] = 1.0
    big = upsample(cam, 400, 400)
    assert big.shape == (400, 400) and big.min() >= 0.0 and big.max() <= 1.0
    steps = max(np.abs(np.diff(big, axis=0)).max(), np.abs(np.diff(big, axis=1)).max())
    assert steps < 0.03  # nearest-neighbour would jump by 1.0 at each block edge
    assert len(np.unique(np.round(big[200], 3))) > 30  # a gradient, not a few plateaus


def test_colour_only_where_activation_is_high():
    heat = np.linspace(0, 1, 101, dtype=np.float32)
    alpha = heat_alpha(heat)
    assert (alpha[heat <= HEAT_FLOOR] == 0).all()
    assert alpha[-1] == 1.0 and (np.diff(alpha) >= 0).all()
    layer = np.asarray(heat_layer(np.array([[0.0, 1.0]], dtype=np.float32), 64, 32))
    assert layer.shape == (32, 64, 4)
    assert layer[16, 0, 3] == 0 and layer[16, -1, 3] == 255


def test_lesion_stays_visible_under_the_overlay():
    """At the default opacity even the hottest pixel keeps half of the photo."""
    img = Image.new("RGB", (100, 100), (120, 60, 40))
    out = np.asarray(overlay(img, np.ones((8, 8), np.float32), Preprocessing(size=32)), float)
    full = np.asarray(overlay(img, np.ones((8, 8), np.float32), Preprocessing(size=32), 1.0), float)
    photo = np.asarray(img, float)
    assert np.abs(out - photo).max() <= 0.5 * np.abs(full - photo).max() + 1


def test_every_class_keeps_its_own_map():
    fake = FakeClassifier()
    result = classify_image(fake, lesion_image(), "x")
    assert result.cams is not None and result.cams.shape == (9, 8, 8)
    assert result.prediction.cams is None  # kept once, on the result, as uint8
    maps = [result.cam_for(k) for k in range(9)]
    peaks = {np.unravel_index(int(np.argmax(m)), m.shape) for m in maps}
    assert len(peaks) == 9  # each class's map is its own
    assert result.cam_for(99) is None
