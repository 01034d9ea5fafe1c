"""Aligning a later photo of a lesion onto an earlier one (desktop.registration)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from desktop.registration import Registration, register, self_check, warp
from tests.fakes import lesion_image

CORNERS = np.array([[100, 100, 1], [380, 100, 1], [100, 380, 1], [380, 380, 1], [240, 240, 1]])


def textured_lesion(size: int = 480, seed: int = 0) -> np.ndarray:
    """A lobed dark blob on skin with texture at three scales, like a dermoscopy photo."""
    rng = np.random.default_rng(seed)
    texture = np.zeros((size, size), np.float32)
    for sigma, weight in ((1.5, 0.5), (4.0, 1.0), (12.0, 1.5)):
        noise = rng.normal(0, 1, (size, size)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        texture += weight * noise / noise.std()
    yy, xx = np.mgrid[0:size, 0:size]
    angle = np.arctan2(yy - size / 2, xx - size / 2)
    radius = np.hypot(xx - size / 2, yy - size / 2) / (size * 0.3) * (1 + 0.15 * np.sin(5 * angle))
    lesion = (radius < 1).astype(np.float32)
    base = np.stack([200 - 110 * lesion, 160 - 100 * lesion, 140 - 80 * lesion], -1)
    return np.clip(base + 12 * texture[..., None], 0, 255).astype(np.uint8)


def later_photo(earlier: np.ndarray, degrees: float, scale: float, shift: tuple[float, float]):
    """The earlier photo turned, zoomed and moved: the later visit; and the transform used."""
    h, w = earlier.shape[:2]
    forward = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    forward[:, 2] += shift
    return cv2.warpAffine(earlier, forward, (w, h), borderMode=cv2.BORDER_REFLECT), forward


@pytest.mark.parametrize(
    ("earlier", "degrees", "scale", "shift"),
    [
        (textured_lesion(), 12.0, 1.1, (15.0, -10.0)),
        (textured_lesion(seed=3), -25.0, 0.85, (-30.0, 22.0)),
        (np.asarray(lesion_image(480)), 7.0, 1.05, (8.0, 12.0)),
    ],
    ids=["textured", "textured-smaller", "fakes-lesion"],
)
def test_a_known_turn_zoom_and_shift_is_recovered(earlier, degrees, scale, shift):
    later, forward = later_photo(earlier, degrees, scale, shift)
    found = register(earlier, later)
    assert found.ok, found.reason
    expected = cv2.invertAffineTransform(forward)  # later -> earlier
    error_px = np.abs(CORNERS @ found.matrix.T - CORNERS @ expected.T).max()
    assert error_px <= 2.0
    assert abs(found.angle_deg - degrees) <= 2.0
    assert found.scale == pytest.approx(1 / scale, rel=0.02)
    assert found.confidence >= 0.3


def test_the_registration_is_in_full_size_pixels_when_the_photos_are_big():
    earlier = cv2.resize(textured_lesion(), (1600, 1600), interpolation=cv2.INTER_CUBIC)
    later, forward = later_photo(earlier, 9.0, 1.0, (40.0, -25.0))
    found = register(earlier, later)
    expected = cv2.invertAffineTransform(forward)
    corners = CORNERS * np.array([3, 3, 1])
    assert np.abs(corners @ found.matrix.T - corners @ expected.T).max() <= 2.0 * 2


def test_the_aligned_later_photo_lies_on_the_earlier_one():
    earlier = textured_lesion()
    later, _ = later_photo(earlier, 15.0, 1.08, (12.0, 9.0))
    found = register(earlier, later)
    aligned = warp(later, found, (480, 480))
    centre = slice(140, 340)
    before = np.abs(later[centre, centre].astype(int) - earlier[centre, centre]).mean()
    after = np.abs(aligned[centre, centre].astype(int) - earlier[centre, centre]).mean()
    assert after < before / 3


def test_two_different_lesions_are_refused_with_a_reason():
    found = register(textured_lesion(seed=1), textured_lesion(seed=2))
    assert not found.ok
    assert found.reason
    assert found.confidence < 0.3
    with pytest.raises(ValueError, match="not aligned"):
        warp(textured_lesion(), found, (480, 480))


def test_a_blank_photo_is_refused_not_an_error():
    found = register(textured_lesion(), np.full((480, 480, 3), 128, np.uint8))
    assert not found.ok and found.reason


def test_registration_reads_its_numbers_in_words():
    turn = math.radians(10)
    m = np.array(
        [[2 * math.cos(turn), -2 * math.sin(turn), 5], [2 * math.sin(turn), 2 * math.cos(turn), -3]]
    )
    r = Registration(m, 0.9, 40)
    assert r.ok and r.angle_deg == pytest.approx(10) and r.scale == pytest.approx(2)
    assert r.shift == (5, -3)


def test_the_bundle_self_check_line(monkeypatch):
    assert self_check().startswith(f"OpenCV {cv2.__version__}")
    import desktop.registration as registration

    monkeypatch.setattr(registration, "register", lambda *_: Registration(None, 0.0, 0, "no"))
    with pytest.raises(RuntimeError, match="registration of a test pattern failed"):
        registration.self_check()


def test_the_app_self_check_reports_the_alignment_and_fails_without_it(monkeypatch):
    import io

    from desktop import cli
    from tests.fakes import FakeClassifier

    out = io.StringIO()
    assert cli.self_check(factory=lambda _m: FakeClassifier(), out=out) == 0
    assert "alignment of visits: OpenCV" in out.getvalue()
    monkeypatch.setitem(__import__("sys").modules, "desktop.registration", None)
    out = io.StringIO()
    assert cli.self_check(factory=lambda _m: FakeClassifier(), out=out) == 1
    assert "FAILED: aligning two photos of a lesion" in out.getvalue()
