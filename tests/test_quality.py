"""Image quality: each reason is specific (what was found, with its number) and says what to
change; a sharp, well-exposed lesion photo passes. Pictures are made here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from desktop import quality
from desktop.imaging import Preprocessing, preprocess
from tests.fakes import lesion_image

PRE = Preprocessing(size=128, color_constancy="shades_of_gray")


def reasons(img: Image.Image) -> tuple[str, ...]:
    return quality.assess_quality(img, preprocess(img, PRE))


@pytest.mark.parametrize("seed", range(4))
def test_a_sharp_well_exposed_lesion_passes(seed: int) -> None:
    assert reasons(lesion_image(300, seed=seed)) == ()


def test_too_small_gives_the_size_and_the_minimum() -> None:
    (reason,) = reasons(lesion_image(300).resize((50, 40)))
    assert "too small" in reason and "50 \u00d7 40 pixels" in reason
    assert f"at least {quality.MIN_SIDE_PX} pixels" in reason and "original photo" in reason


def test_blurred_says_blurred_and_to_refocus() -> None:
    img = lesion_image(300).filter(ImageFilter.GaussianBlur(8))
    m = quality.measure(img, preprocess(img, PRE))
    assert m.sharpness < quality.MIN_SHARPNESS
    (reason,) = reasons(img)
    assert "blurred" in reason and "focus" in reason and "re-take" in reason
    assert f"{m.sharpness:.0f}" in reason


def test_under_exposed_says_dark_and_the_light() -> None:
    dark = Image.fromarray((np.asarray(lesion_image(300)) * 0.15).astype(np.uint8))
    (reason,) = reasons(dark)
    assert "under-exposed" in reason and "light" in reason


def test_over_exposed_says_burnt_out() -> None:
    arr = np.asarray(lesion_image(300)).copy()
    arr[:, :200] = 255  # two thirds clipped white
    (reason,) = reasons(Image.fromarray(arr))
    assert "over-exposed" in reason and "less light" in reason


def test_the_dermatoscope_rim_does_not_count_as_sharp() -> None:
    """A blurred lesion inside a hard black rim is still blurred: the rim edge is left out."""
    arr = np.asarray(lesion_image(300).filter(ImageFilter.GaussianBlur(8))).copy()
    yy, xx = np.mgrid[0:300, 0:300]
    arr[np.hypot(yy - 150, xx - 150) > 120] = 0
    assert quality.sharpness(preprocess(Image.fromarray(arr), PRE)) < quality.MIN_SHARPNESS


def test_one_plain_reason_for_a_blank_picture() -> None:
    (reason,) = reasons(Image.new("RGB", (300, 300), (128, 120, 110)))
    assert "nearly blank" in reason
