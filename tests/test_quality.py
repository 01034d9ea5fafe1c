"""Image quality: each reason is specific (what was found, with its number) and says what to
change; a sharp, well-exposed lesion photo passes. Pictures are made here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from desktop import quality, verdict
from desktop.imaging import preprocess
from desktop.pixel_cues import BURNT_MARGIN, BURNT_TOP
from desktop.preprocessing import Preprocessing
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
    assert f"sharpness {m.sharpness:.0f}," in reason


def test_slightly_blurred_is_judged_with_a_caution() -> None:
    """Between the refusal and a sharp photo: assessed, with a caution that names the number
    and says what to change; a sharp photo and a refused one get no caution."""
    soft = lesion_image(300).filter(ImageFilter.GaussianBlur(4))
    arr = preprocess(soft, PRE)
    s = quality.sharpness(arr)
    assert quality.MIN_SHARPNESS <= s < quality.SOFT_SHARPNESS
    assert reasons(soft) == ()
    (caution,) = quality.quality_cautions(arr)
    assert "slightly blurred" in caution and f"sharpness {s:.0f};" in caution
    assert "less reliable" in caution and "focus" in caution
    assert quality.quality_cautions(preprocess(lesion_image(300), PRE)) == ()
    blurred = preprocess(lesion_image(300).filter(ImageFilter.GaussianBlur(8)), PRE)
    assert quality.quality_cautions(blurred) == ()


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (lambda: verdict.blurred_reason(2.97, 3.0), "sharpness 2.97, at least 3"),
        (lambda: verdict.blurred_reason(2.4, 3.0), "sharpness 2, at least 3"),
        (lambda: verdict.soft_focus_caution(5.96, 6.0), "sharpness 5.96; 6 or more"),
        (lambda: verdict.soft_focus_caution(5.6, 6.0), "sharpness 5.6; 6 or more"),
        (lambda: verdict.too_dark_reason(59.7, 60.0), "reaches only 59.7 of 255, at least 60"),
        (lambda: verdict.black_and_white_reason(7.5, 8.0), "only 7.5 of 255 levels"),
    ],
)
def test_a_figure_under_its_limit_never_reads_as_the_limit(reason, shown: str) -> None:
    """No "sharpness 3, at least 3 is needed": enough decimals to read under the limit."""
    assert shown in reason()


def test_under_exposed_says_dark_and_the_light() -> None:
    dark = Image.fromarray((np.asarray(lesion_image(300)) * 0.15).astype(np.uint8))
    (reason,) = reasons(dark)
    assert "under-exposed" in reason and "light" in reason


def test_over_exposed_says_burnt_out() -> None:
    (reason,) = reasons(brighter_pale_skin(0.87))  # the light fades off across the skin
    assert "over-exposed" in reason and "less light" in reason


def test_a_mostly_white_page_is_not_called_over_exposed() -> None:
    """White meeting ink at once is a page, not a photo taken with too much light: the pixel
    cue's reason (flat colour, as in text) is the one to give, not "re-take with less light"."""
    from PIL import ImageDraw

    from desktop.pixel_cues import FLAT_REASON, pixel_cues

    img = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(img)
    for row in range(8):  # blue ink: in black, the page is refused as black and white first
        draw.text((20, 20 + row * 30), "Referral letter, page 1 of 2", fill="navy")
    assert quality.measure(img, preprocess(img, PRE)).burnt_share > quality.MAX_BURNT_SHARE
    assert reasons(img) == ()
    assert pixel_cues(preprocess(img, PRE)) == (FLAT_REASON,)


def test_the_over_exposed_share_never_reads_as_the_limit() -> None:
    from desktop.verdict import percent, too_bright_reason

    limit = quality.MAX_BURNT_SHARE
    just_over = too_bright_reason(limit + 0.0031, limit)
    assert f"{percent(limit + 0.0031, 1)} of it" in just_over
    assert f"over the {percent(limit)} that" in just_over
    assert f"{percent(limit + 0.12)} of it" in too_bright_reason(limit + 0.12, limit)


def brighter_pale_skin(clipped: float) -> Image.Image:
    """A lesion photo re-taken brighter: pale skin under light that falls off from left to
    right, clipped white over the left ``clipped`` of the picture, the lesion in view."""
    size = 300
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    level = 255 + 150 * (clipped - xx / size)  # 255 where the clipping ends
    skin = np.stack([level, level - 4, level - 8], -1)
    d = np.hypot(xx - 0.85 * size, yy - size / 2) / (0.1 * size)
    lesion = np.array([120, 80, 70]) * (d < 1)[..., None]
    arr = np.where((d < 1)[..., None], lesion, skin) + rng.normal(0, 3, (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("clipped", [0.45, 0.6, 0.7])
def test_a_brighter_retake_with_the_lesion_in_view_is_not_refused(clipped: float) -> None:
    """A 12 % brighter re-take of pale skin clips up to 0.7 of the picture (benchmarks.scope's
    re-takes): the lesion is still there to judge, so neither the exposure limit nor the
    flat-colour cue (clipped white is one flat colour) may refuse it."""
    from desktop.pixel_cues import pixel_cues

    img = brighter_pale_skin(clipped)
    arr = preprocess(img, PRE)
    assert quality.measure(img, arr).burnt_share == pytest.approx(clipped, abs=0.03)
    assert reasons(img) == ()
    assert pixel_cues(arr) == ()


def test_clipping_moved_off_255_by_colour_constancy_is_still_burnt_out() -> None:
    """Colour constancy scales each channel: a clipped region of a reddish photo leaves it
    as one off-white colour under 250 in some channel. It is the top of every channel, so it
    is burnt-out all the same (and not flat colour for the pixel cue)."""
    from desktop.pixel_cues import burnt_out, pixel_cues

    a = np.asarray(brighter_pale_skin(0.6)).astype(np.float64)
    a[..., 0] = np.minimum(a[..., 0] * 1.3, 255)  # a red cast: constancy lowers red's gain
    img = Image.fromarray(a.astype(np.uint8))
    arr = preprocess(img, PRE)
    assert arr[64, 10].min() < 250  # the clipped white, moved off 255 in some channel
    assert quality.measure(img, arr).burnt_share == pytest.approx(0.6, abs=0.03)
    assert np.mean(burnt_out(arr)) == pytest.approx(0.6, abs=0.03)
    assert pixel_cues(arr) == ()


def test_the_dermatoscope_rim_does_not_count_as_sharp() -> None:
    """A blurred lesion inside a hard black rim is still blurred: the rim edge is left out."""
    arr = np.asarray(lesion_image(300).filter(ImageFilter.GaussianBlur(8))).copy()
    yy, xx = np.mgrid[0:300, 0:300]
    arr[np.hypot(yy - 150, xx - 150) > 120] = 0
    assert quality.sharpness(preprocess(Image.fromarray(arr), PRE)) < quality.MIN_SHARPNESS


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_black_and_white_picture_is_refused_as_such(mode: str) -> None:
    """An X-ray, a scan or a grey copy of a photo: refused with the reason that says so and
    what to use instead, whether it is stored with one channel or three."""
    grey = lesion_image(300).convert("L")
    (reason,) = reasons(grey if mode == "L" else grey.convert("RGB"))
    assert reason.startswith("the image is black and white") and "only 0 of 255" in reason
    assert "original colour photo" in reason


def test_a_small_coloured_lesion_on_grey_skin_is_not_black_and_white() -> None:
    """The colour is that of the most colourful 1 % of the lit pixels: a small brown lesion
    (3 % of the picture) on pale grey skin is dermoscopy in colour, as such images of ISIC 2017
    are; the dermatoscope's black rim does not count."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:300, 0:300]
    d = np.hypot(yy - 150, xx - 150)
    arr = np.clip(200 + rng.normal(0, 8, (300, 300, 1)), 0, 255).repeat(3, axis=-1)
    arr[d < 30] = np.clip([150, 100, 60] + rng.normal(0, 8, (int((d < 30).sum()), 3)), 0, 255)
    arr[d > 148] = 0  # the rim
    img = Image.fromarray(arr.astype(np.uint8))
    assert quality.colour_level(img) >= 4 * quality.MIN_COLOUR
    assert reasons(img) == ()


def test_one_plain_reason_for_a_blank_picture() -> None:
    (reason,) = reasons(Image.new("RGB", (300, 300), (128, 120, 110)))
    assert "nearly blank" in reason


def test_the_measures_are_numpys_own_figures() -> None:
    """The fast paths (one grey image, channel-by-channel burnt pixels, the percentile without
    numpy's general machinery) give exactly numpy's plain formulas."""
    rng = np.random.default_rng(5)
    for k in range(60):
        arr = rng.integers(0, 256, (*rng.integers(3, 160, 2), 3)).astype(np.uint8)
        if k % 3 == 0:
            arr[arr > 180] = 255
        grey = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        m = quality.measure(Image.fromarray(arr), arr)
        assert m.bright_level == float(np.percentile(grey, 98))
        tops = arr.max(axis=(0, 1))
        burnt = np.all(arr >= tops - BURNT_MARGIN, axis=-1) & bool(np.all(tops >= BURNT_TOP))
        assert m.burnt_share == float(np.mean(burnt))
        for q in (0, 2, 50, 98, 99.9, 100):
            assert quality._percentile(grey, q) == float(np.percentile(grey, q))
        chroma = arr.max(axis=-1).astype(int) - arr.min(axis=-1)
        lit = (arr.max(axis=-1) > quality.DARK_LEVEL) & (arr.min(axis=-1) < 250)
        assert m.colour == float(np.percentile(chroma[lit], 99, method="inverted_cdf"))


def test_the_scope_benchmark_measures_every_retake_of_its_dermoscopy(tmp_path) -> None:
    """benchmarks.scope's quality figures: each re-take of desktop.recapture counted per image,
    originals and re-takes checked against every limit and the pixel cue."""
    from benchmarks.scope_quality import CHECKS, measure_quality
    from desktop.recapture import VARIANTS

    files = []
    for i, img in enumerate((lesion_image(300, seed=1), brighter_pale_skin(0.6))):
        files.append(tmp_path / f"{i}.png")
        img.save(files[-1])
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), (128, 120, 110)).save(blank)
    q, clinical = measure_quality({"isic2017": [*files, blank]}, PRE)
    assert clinical == {}
    origin = q["by_origin"]["isic2017"]
    assert origin["images"] == 3 and set(origin["failed"]) == set(CHECKS)
    assert origin["failed"]["blank"] == 1 and origin["pass_rate"] == 2 / 3
    re = q["recaptured"]
    assert set(re) == set(VARIANTS)
    assert all(e["images"] == 3 and e["failed"]["blank"] == 1 for e in re.values())
    assert re["brighter_12"]["max_burnt_share"] >= 0.6  # the pale skin, clipped further
    assert re["mirror"]["pass_rate"] == 2 / 3  # a mirror changes nothing a limit reads
