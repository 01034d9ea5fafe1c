"""The shared image loader: every real-world file loads, every bad one is refused cleanly.

All inputs are built in ``tmp_path``; nothing here reads ``../shared``.
"""

from __future__ import annotations

import builtins
import io
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from desktop import imaging
from desktop.colour_constancy import shades_of_gray
from desktop.imaging import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    ImageLoadError,
    load_image,
    open_image,
    preprocess,
    view_box,
)
from desktop.preprocessing import Preprocessing
from tests.fakes import crashing_decoder, fresh_python

PRE = Preprocessing()  # what ships: 128 px, centre crop, shades of grey
RAW = Preprocessing(color_constancy="none")  # to check colours survive decoding

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 40, 210)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- helpers


def save(img: Image.Image, path: Path, fmt: str | None = None, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **kwargs)
    return path


def assert_model_input(arr: np.ndarray, size: int = 128) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.shape == (size, size, 3)
    assert arr.dtype == np.uint8
    assert arr.flags["C_CONTIGUOUS"]


def assert_refused(path: str | os.PathLike[str], *fragments: str) -> ImageLoadError:
    """Refused with ImageLoadError, on one line, naming the file and saying why."""
    with pytest.raises(ImageLoadError) as info:
        load_image(path, PRE)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert Path(path).name.split("\n")[0] in message
    for fragment in fragments:
        assert fragment in message.lower(), message
    return info.value


def close(pixel: np.ndarray, expected: tuple[int, int, int], tol: int) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(expected)) <= tol))


def halves(size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...], mode: str = "RGB"):
    """An image whose left half is one colour and right half another."""
    img = Image.new(mode, size, left)
    img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return img


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming ``width x height``, a tiny IDAT and IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def peak_rss_delta_mb(code: str) -> float:
    """Run ``code`` in a fresh interpreter; how much its peak RSS grew (MB) while running it.

    Pillow allocates pixels in C, invisible to tracemalloc, so memory claims about
    decoding are checked on the process's high-water mark instead.
    """
    script = (
        "import resource, sys\n"
        "import numpy, PIL.Image\n"
        "from desktop.imaging import *\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"{code}\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) / 1024)\n"
    )
    out = fresh_python(script, timeout=60)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- modes and formats


def _palette(transparent: bool) -> tuple[Image.Image, dict]:
    img = Image.new("P", (64, 48), 1)
    img.putpalette([255, 255, 255, *GREEN] + [0, 0, 0] * 254)
    img.paste(0, (0, 0, 32, 48))  # left half: palette entry 0 (white)
    return img, ({"transparency": 0} if transparent else {})


def _i16() -> Image.Image:
    return Image.fromarray(np.full((48, 64), 40000, dtype=np.uint16))  # mode I;16


# (image factory, file name, save kwargs, expected RGB at the centre of the RAW output, tolerance)
CASES: dict[str, tuple[Callable[[], Image.Image], str, dict, tuple[int, int, int], int]] = {
    "L-png": (lambda: Image.new("L", (64, 48), 200), "grey.png", {}, (200, 200, 200), 0),
    "L-jpeg": (lambda: Image.new("L", (64, 48), 90), "grey.jpg", {}, (90, 90, 90), 3),
    "1-bit-png": (lambda: Image.new("1", (64, 48), 1), "bw.png", {}, (255, 255, 255), 0),
    "RGBA-semi": (
        lambda: Image.new("RGBA", (64, 48), (200, 100, 50, 128)),
        "semi.png",
        {},
        (100, 50, 25),  # composited onto black
        2,
    ),
    "LA": (lambda: Image.new("LA", (64, 48), (200, 128)), "la.png", {}, (100, 100, 100), 2),
    "I;16-png": (_i16, "deep.png", {}, (156, 156, 156), 1),  # 40000 / 257
    "I;16-tiff": (_i16, "deep.tif", {}, (156, 156, 156), 1),
    "I-tiff-8bit-range": (
        lambda: Image.fromarray(np.full((48, 64), 100, dtype=np.int32)),
        "i32.tif",
        {},
        (100, 100, 100),
        0,
    ),
    "I-tiff-16bit-range": (
        lambda: Image.fromarray(np.full((48, 64), 30000, dtype=np.int32)),
        "i32b.tif",
        {},
        (117, 117, 117),  # 30000 / 257
        1,
    ),
    "F-tiff-unit-range": (
        lambda: Image.fromarray(np.full((48, 64), 0.5, dtype=np.float32)),
        "float.tiff",
        {},
        (128, 128, 128),
        1,
    ),
    "CMYK-jpeg": (
        lambda: Image.new("CMYK", (64, 48), (0, 255, 0, 0)),  # pure magenta ink
        "print.jpg",
        {"quality": 95},
        (255, 0, 255),
        6,
    ),
    "RGB-tiff": (lambda: Image.new("RGB", (64, 48), BLUE), "b.tiff", {}, BLUE, 0),
    "RGB-webp": (lambda: Image.new("RGB", (64, 48), RED), "r.webp", {"quality": 95}, RED, 8),
    "RGB-bmp": (lambda: Image.new("RGB", (64, 48), GREEN), "g.bmp", {}, GREEN, 0),
    "RGB-gif": (
        lambda: Image.new("RGB", (64, 48), RED).convert("P", palette=Image.Palette.ADAPTIVE),
        "r.gif",
        {},
        RED,
        0,
    ),
    "RGB-jfif": (lambda: Image.new("RGB", (64, 48), GREEN), "g.jfif", {"format": "JPEG"}, GREEN, 4),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mode_and_format_load_with_sensible_pixels(tmp_path: Path, case: str) -> None:
    factory, name, kwargs, expected, tol = CASES[case]
    kwargs = dict(kwargs)
    fmt = kwargs.pop("format", None)
    path = save(factory(), tmp_path / name, fmt, **kwargs)
    raw = load_image(path, RAW)
    assert_model_input(raw)
    assert close(raw[64, 64], expected, tol), raw[64, 64]
    # Colour constancy on top keeps the contract too.
    assert_model_input(load_image(path, PRE))


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque", "transparent"])
def test_palette_with_and_without_transparency(tmp_path: Path, transparent: bool) -> None:
    img, kwargs = _palette(transparent)
    path = save(img, tmp_path / "palette.png", **kwargs)
    # 64x48 -> centre 48x48 crop: columns 8..31 are entry 0, 32..55 entry 1 (green).
    raw = load_image(path, RAW)
    assert_model_input(raw)
    left, right = raw[64, 10], raw[64, 120]
    assert close(right, GREEN, 0)
    # Transparent pixels become black like a dermoscopy vignette, never their palette white.
    assert close(left, (0, 0, 0) if transparent else (255, 255, 255), 0)


def test_rgba_fully_transparent_half_becomes_black_not_white(tmp_path: Path) -> None:
    img = halves((64, 64), (*RED, 255), (255, 255, 255, 0), mode="RGBA")
    raw = load_image(save(img, tmp_path / "cutout.png"), RAW)
    assert close(raw[64, 10], RED, 0)
    assert close(raw[64, 120], (0, 0, 0), 0)


def test_rgb_png_with_transparent_key_colour_is_composited(tmp_path: Path) -> None:
    img = halves((64, 64), RED, (255, 255, 255))
    raw = load_image(save(img, tmp_path / "trns.png", transparency=(255, 255, 255)), RAW)
    assert close(raw[64, 10], RED, 0)
    assert close(raw[64, 120], (0, 0, 0), 0)


def test_high_bit_depth_is_scaled_by_range_not_stretched(tmp_path: Path) -> None:
    """A flat or dim 16-bit image keeps its brightness (no per-image contrast stretch)."""
    flat_white = Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16))
    assert load_image(save(flat_white, tmp_path / "white16.png"), RAW).min() == 255
    dim = np.linspace(1000, 2000, 400, dtype=np.uint16).reshape(20, 20)
    out = load_image(save(Image.fromarray(dim), tmp_path / "dim16.png"), RAW)
    assert out.max() <= 2000 // 257 + 1  # stays dim: 1000..2000 of 65535


def test_float_tiff_with_nan_and_wide_range_loads(tmp_path: Path) -> None:
    arr = np.linspace(-500.0, 500.0, 400, dtype=np.float32).reshape(20, 20)
    arr[0, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value in cast"
        out = load_image(save(Image.fromarray(arr), tmp_path / "wide.tif"), RAW)
    assert_model_input(out)
    assert out.min() == 0 and out.max() == 255  # min-max stretched


@pytest.mark.parametrize(
    ("orientation", "red_where", "portrait"),
    [
        (1, "left", False),
        (3, "right", False),  # rotated 180
        (6, "top", True),  # rotate 90 clockwise to display
        (8, "bottom", True),  # rotate 90 counter-clockwise to display
    ],
)
def test_exif_orientation_is_honoured(
    tmp_path: Path, orientation: int, red_where: str, portrait: bool
) -> None:
    img = halves((300, 200), RED, BLUE)  # wide, red on the left as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(img, tmp_path / f"rot{orientation}.jpg", exif=exif.tobytes(), quality=95)

    upright = open_image(path)
    assert upright.size == ((200, 300) if portrait else (300, 200))
    w, h = upright.size
    probes = {
        "left": (w // 4, h // 2),
        "right": (3 * w // 4, h // 2),
        "top": (w // 2, h // 4),
        "bottom": (w // 2, 3 * h // 4),
    }
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
    assert close(np.array(upright.getpixel(probes[red_where])), RED, 8)
    assert close(np.array(upright.getpixel(probes[opposite[red_where]])), BLUE, 8)

    # The crop happens after rotation: 6 becomes tall, so the crop keeps both halves
    # stacked vertically (red over blue) instead of side by side.
    raw = load_image(path, RAW)
    if orientation == 6:
        assert close(raw[20, 64], RED, 8) and close(raw[108, 64], BLUE, 8)
    if orientation == 1:
        assert close(raw[64, 20], RED, 8) and close(raw[64, 108], BLUE, 8)


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6000x4000 JPEG made cheaply (solid halves compress to almost nothing)."""
    path = tmp_path_factory.mktemp("big") / "camera 24MP.jpg"
    halves((6000, 4000), RED, BLUE).save(path, quality=85)
    return path


def test_very_large_photo_loads_fast_via_jpeg_draft(big_photo: Path) -> None:
    start = time.perf_counter()
    raw = load_image(big_photo, RAW)
    elapsed = time.perf_counter() - start
    assert_model_input(raw)
    # Centre 4000x4000 square of a red|blue photo: red left, blue right.
    assert close(raw[64, 10], RED, 10) and close(raw[64, 118], BLUE, 10)
    # draft() decodes at 1/8 scale: never the full 24 MP.
    assert max(open_image(big_photo, draft_size=256).size) <= 1500
    assert elapsed < 5.0


def test_very_large_photo_memory_stays_reasonable(big_photo: Path) -> None:
    # A full decode would need >= 72 MB (6000x4000x3); the drafted one needs ~1 MB.
    grown = peak_rss_delta_mb(f"load_image({str(big_photo)!r}, Preprocessing())")
    assert grown < 40, f"peak RSS grew by {grown:.0f} MB"


def test_unicode_and_space_paths(tmp_path: Path) -> None:
    folder = tmp_path / "Patiënt Müller – 皮肤 ✓"
    path = save(Image.new("RGB", (50, 40), GREEN), folder / "naevus rücken 1 .jpg", quality=95)
    assert close(load_image(path, RAW)[64, 64], GREEN, 4)
    assert close(load_image(str(path), RAW)[64, 64], GREEN, 4)
    assert_refused(folder / "fehlt – 缺失.png", "not found")


@pytest.mark.parametrize(("size", "thirds"), [((300, 100), "columns"), ((100, 300), "rows")])
def test_non_square_is_centre_cropped(tmp_path: Path, size: tuple[int, int], thirds: str) -> None:
    w, h = size
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    for i, colour in enumerate((RED, GREEN, BLUE)):
        if thirds == "columns":
            arr[:, i * w // 3 : (i + 1) * w // 3] = colour
        else:
            arr[i * h // 3 : (i + 1) * h // 3, :] = colour
    path = save(Image.fromarray(arr), tmp_path / "strip.png")
    raw = load_image(path, RAW)
    assert_model_input(raw)
    # The model sees exactly the middle third: all green, edges included.
    assert np.all(raw == np.array(GREEN, dtype=np.uint8))


def test_one_by_one_image_loads(tmp_path: Path) -> None:
    """Decision: a 1x1 image loads (upscaled); the app flags it "uncertain" separately."""
    path = save(Image.new("RGB", (1, 1), (10, 120, 230)), tmp_path / "dot.png")
    raw = load_image(path, RAW)
    assert_model_input(raw)
    assert np.all(raw == np.array([10, 120, 230], dtype=np.uint8))
    assert_model_input(load_image(path, PRE))
    assert "1x1" in (imaging.__doc__ or "")


def test_extreme_aspect_ratio_never_builds_a_huge_intermediate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(Image.new("L", (2, 30000), 128), tmp_path / "sliver.png")
    biggest: list[int] = [0]
    real_resize = Image.Image.resize

    def spy(self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object):
        biggest[0] = max(biggest[0], size[0] * size[1])
        return real_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    assert_model_input(load_image(path, PRE))
    assert biggest[0] <= 128 * 128


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [
        Image.new("RGB", (40, 40), c).convert("P", palette=Image.Palette.ADAPTIVE)
        for c in (RED, BLUE, GREEN)
    ]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 3
    raw = load_image(path, RAW)
    assert np.all(raw == np.array(RED, dtype=np.uint8))


def test_animated_webp_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in (GREEN, RED)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    assert close(load_image(path, RAW)[64, 64], GREEN, 2)


def test_content_decides_format_not_the_name(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (30, 30), BLUE), tmp_path / "actually_png.jpg", "PNG")
    assert close(load_image(path, RAW)[5, 5], BLUE, 0)


# --------------------------------------------------------------------------- refusals


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert_refused(path, "empty")


def test_random_bytes_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "random.jpg"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert_refused(path, "not a readable image")


def test_random_bytes_after_a_jpeg_header(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    assert_refused(path)


def test_text_file_named_like_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("Patient notes: lesion on left shoulder, 6 mm.\n" * 20, encoding="utf-8")
    assert_refused(path, "not a readable image")


def test_minimal_pdf_named_like_an_image(tmp_path: Path) -> None:
    path = tmp_path / "referral.jpg"
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    assert_refused(path, "not a readable image")


def test_postscript_is_never_handed_to_ghostscript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scan.jpg"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader must never start a process")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.setattr(subprocess, "check_call", no_subprocess)
    assert_refused(path, "not a readable image")


def test_formats_pillow_knows_but_we_do_not_trust_are_refused(tmp_path: Path) -> None:
    for fmt, name in (("TGA", "lesion.jpg"), ("PCX", "lesion.png"), ("PPM", "lesion.bmp")):
        path = save(Image.new("RGB", (20, 20), RED), tmp_path / fmt / name, fmt)
        assert_refused(path, "not a readable image")


def test_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(60000, 60000))
    assert path.stat().st_size < 200
    decoded: list[object] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):
        decoded.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    Image.init()  # plugin imports would otherwise count towards the memory peak
    tracemalloc.start()
    start = time.perf_counter()
    try:
        err = assert_refused(path, "too large")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 20 * 2**20
    assert decoded == []
    assert f"{MAX_PIXELS // 1_000_000} MP" in str(err)


@pytest.mark.parametrize(("width", "height"), [(9000, 8000), (8001, 8000), (64_000_001, 1)])
def test_just_over_the_pixel_limit_is_refused(tmp_path: Path, width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    path = tmp_path / f"over_{width}x{height}.png"
    path.write_bytes(png_header_only(width, height))
    assert_refused(path, "mp")


def test_bomb_is_refused_without_touching_memory_in_a_fresh_process(tmp_path: Path) -> None:
    path = tmp_path / "bomb2.png"
    path.write_bytes(png_header_only(60000, 60000))
    code = (
        f"try:\n    load_image({str(path)!r}, Preprocessing())\n"
        "except ImageLoadError:\n    pass\nelse:\n    sys.exit('bomb was loaded')"
    )
    assert peak_rss_delta_mb(code) < 30


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    with open(path, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    assert_refused(path, "larger than")


def test_directory_named_like_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "x.jpg"
    folder.mkdir()
    assert_refused(folder, "folder")


def test_symlink_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.symlink_to(b)
    b.symlink_to(a)
    assert_refused(a, "link")


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "moved.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    assert_refused(link, "link")


def test_missing_file(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nope.jpg", "not found")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, where chmod 000 does not stop reads: fail the open itself instead.
    path = save(Image.new("RGB", (10, 10), RED), tmp_path / "locked.png")
    real_open = builtins.open

    def guarded(file: object, *args: object, **kwargs: object):
        if isinstance(file, str | os.PathLike) and os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    assert_refused(path, "permission denied")


def test_fifo_named_like_an_image_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    assert_refused(path, "not a regular file")


def test_nul_byte_in_path(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(str(tmp_path / "bad\0name.jpg"), PRE)
    assert "\n" not in str(info.value) and "bad" in str(info.value)


def test_newline_in_file_name_keeps_the_message_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.jpg"
    path.write_bytes(b"not an image")
    err = assert_refused(path)
    assert "two\\nlines.jpg" in str(err)


def _jpeg_bytes(progressive: bool = False) -> bytes:
    buf = io.BytesIO()
    noise(200, 150).save(buf, "JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_truncated_jpeg_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, progressive: bool
) -> None:
    """Decision: refused. Pillow would otherwise fill the missing part with grey."""
    data = _jpeg_bytes(progressive)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 6 // 10])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert_refused(path, "truncated")
    # Prove the file is "loadable" if the flag were flipped: the refusal is ours, not luck.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(path) as img:
        img.load()


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_jpeg_missing_only_its_end_marker_loads_with_every_pixel(
    tmp_path: Path, progressive: bool
) -> None:
    """docs/bad-files.md: a JPEG that lacks only its end-of-image marker has all its pixels."""
    data = _jpeg_bytes(progressive)
    assert data.endswith(b"\xff\xd9")
    whole, cut = tmp_path / "whole.jpg", tmp_path / "no-eoi.jpg"
    whole.write_bytes(data)
    cut.write_bytes(data[:-2])
    assert np.array_equal(np.asarray(open_image(cut)), np.asarray(open_image(whole)))


@pytest.mark.parametrize("missing", [3, 12, 400], ids=["1-byte", "10-bytes", "400-bytes"])
def test_jpeg_missing_scan_data_stays_refused(tmp_path: Path, missing: int) -> None:
    """Pixels really missing (even a few bytes of scan data): refused as truncated."""
    for progressive in (False, True):
        data = _jpeg_bytes(progressive)
        path = tmp_path / f"cut-{progressive}.jpg"
        path.write_bytes(data[:-missing])
        assert_refused(path, "truncated")


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    noise(100, 100).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: buf.tell() // 2])
    assert_refused(path, "truncated")


def test_every_refusal_is_an_image_load_error_subclass_of_exception() -> None:
    assert issubclass(ImageLoadError, Exception)
    assert not issubclass(ImageLoadError, OSError)  # callers catch it on its own


# --------------------------------------------------------------------------- property tests

MAGIC = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
]


@FUZZ
@given(prefix=st.sampled_from(MAGIC), body=st.binary(min_size=0, max_size=2048))
def test_random_bytes_only_ever_raise_image_load_error(
    tmp_path: Path, prefix: bytes, body: bytes
) -> None:
    path = tmp_path / "fuzz.jpg"
    path.write_bytes(prefix + body)
    try:
        arr = load_image(path, PRE)
    except ImageLoadError as err:
        assert "\n" not in str(err) and "fuzz.jpg" in str(err)
    else:
        assert_model_input(arr)


def _seed_files() -> dict[str, bytes]:
    img = noise(40, 30, seed=3)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = {}
    for fmt, kwargs in (
        ("PNG", {}),
        ("JPEG", {"exif": exif.tobytes()}),
        ("GIF", {}),
        ("TIFF", {}),
        ("WEBP", {}),
        ("BMP", {}),
    ):
        buf = io.BytesIO()
        img.save(buf, fmt, **kwargs)
        out[fmt] = buf.getvalue()
    return out


SEEDS = _seed_files()


@FUZZ
@given(
    fmt=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_damaged_real_files_only_ever_raise_image_load_error(
    tmp_path: Path, fmt: str, edits: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(SEEDS[fmt])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    try:
        arr = load_image(path, PRE)
    except ImageLoadError as err:
        assert "\n" not in str(err) and "damaged.png" in str(err)
    else:
        assert_model_input(arr)


# Every (mode, format) pair Pillow can write.
WRITABLE = [
    (mode, fmt)
    for mode, fmts in {
        "L": ("PNG", "JPEG", "TIFF", "WEBP", "BMP"),
        "RGB": ("PNG", "JPEG", "TIFF", "WEBP", "BMP"),
        "RGBA": ("PNG", "TIFF", "WEBP", "BMP"),
        "P": ("PNG", "TIFF", "WEBP", "BMP"),
        "CMYK": ("JPEG", "TIFF", "WEBP"),
        "I;16": ("PNG", "TIFF", "WEBP"),
    }.items()
    for fmt in fmts
]


def _make(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    bands = len(Image.new(mode, (1, 1)).getbands())
    arr = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    if mode == "L":
        return Image.fromarray(arr[..., 0])
    if mode == "P":
        return Image.fromarray(arr[..., 0]).convert("P")
    return Image.frombytes(mode, (width, height), arr.tobytes())


@FUZZ
@given(
    pair=st.sampled_from(WRITABLE),
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    seed=st.integers(0, 2**16),
    size=st.sampled_from([8, 32, 128, 224]),
    constancy=st.sampled_from(["shades_of_gray", "none"]),
)
def test_any_geometry_mode_and_format_gives_exact_model_input(
    tmp_path: Path,
    pair: tuple[str, str],
    width: int,
    height: int,
    seed: int,
    size: int,
    constancy: str,
) -> None:
    mode, fmt = pair
    path = tmp_path / f"geom.{fmt.lower()}"
    _make(mode, width, height, seed).save(path, fmt)
    pre = Preprocessing(size=size, color_constancy=constancy)
    assert_model_input(load_image(path, pre), size)


# --------------------------------------------------------------------------- shades of grey


def _textured(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (64, 64, 3)).astype(np.uint8)


def test_shades_of_gray_keeps_dtype_and_shape() -> None:
    arr = _textured()
    out = shades_of_gray(arr)
    assert out.dtype == np.uint8 and out.shape == arr.shape
    assert out is not arr


@pytest.mark.parametrize("power", [1, 6, 20])
def test_shades_of_gray_removes_a_red_cast(power: int) -> None:
    tinted = (_textured().astype(np.float32) * np.array([1.0, 0.45, 0.35])).astype(np.uint8)
    before = tinted.reshape(-1, 3).mean(axis=0)
    after = shades_of_gray(tinted, power).reshape(-1, 3).mean(axis=0)
    assert np.ptp(after) < 0.3 * np.ptp(before), (before, after)


@pytest.mark.parametrize("value", [0, 255])
def test_shades_of_gray_black_and_white_images(value: int) -> None:
    arr = np.full((16, 16, 3), value, dtype=np.uint8)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shades_of_gray(arr)
    assert np.array_equal(out, arr)


def test_shades_of_gray_single_colour_channel_does_not_explode() -> None:
    arr = np.zeros((16, 16, 3), dtype=np.uint8)
    arr[..., 0] = 200  # pure red: green and blue have no light to rescale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shades_of_gray(arr)
    assert np.all(out[..., 1:] == 0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 32), st.integers(1, 32)),
    power=st.integers(1, 20),
)
def test_shades_of_gray_never_fails(seed: int, shape: tuple[int, int], power: int) -> None:
    rng = np.random.default_rng(seed)
    arr = (rng.integers(0, 256, (*shape, 3)) * rng.integers(0, 2, (1, 1, 3))).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shades_of_gray(arr, power)
    assert out.dtype == np.uint8 and out.shape == arr.shape


@pytest.mark.parametrize("power", [1, 6, 20])
def test_shades_of_gray_gives_the_float_formulas_pixels(power: int) -> None:
    """The exact histogram means (fast) against the formula summed in float64 pixel by
    pixel, as it was written first: the same output, images of every kind."""
    rng = np.random.default_rng(power)
    for k in range(40):
        shape = (128, 128, 3) if k % 2 else (*rng.integers(1, 200, 2), 3)
        arr = rng.integers(0, 256, shape).astype(np.uint8)
        if k % 3 == 0:
            arr = (arr // 4 + rng.integers(0, 180)).astype(np.uint8)
        x = arr.astype(np.float64)
        norm = np.power(np.mean(np.power(x, power), axis=(0, 1)), 1.0 / power)
        gains = np.sqrt(np.sum(norm**2)) / (np.maximum(norm, 1e-6) * np.sqrt(3.0))
        want = np.clip(x * gains, 0, 255).round().astype(np.uint8)
        assert np.array_equal(shades_of_gray(arr, power), want)


# --------------------------------------------------------------------------- Preprocessing


def test_preprocessing_round_trips_and_ignores_unknown_keys() -> None:
    pre = Preprocessing(size=224, color_constancy="none", constancy_power=4)
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    assert Preprocessing.from_dict({**pre.to_dict(), "added_by_newer_trainer": 1}) == pre
    assert Preprocessing.from_dict({}) == Preprocessing()
    cropped = Preprocessing(size=64, crop=0.75)
    assert Preprocessing.from_dict(cropped.to_dict()) == cropped
    # A card written before ``crop`` existed means the whole square.
    assert Preprocessing.from_dict({"size": 64}).crop == 1.0


def test_view_box_narrows_the_square_around_its_centre() -> None:
    square = Preprocessing(size=32, crop=0.5)
    assert view_box(300, 200, square) == (100, 50, 200, 150)  # centre 200-square, then half
    assert view_box(200, 200, square) == (50, 50, 150, 150)
    assert view_box(300, 200, Preprocessing(size=32)) == (50, 0, 250, 200)
    assert view_box(1, 1, square) == (0, 0, 1, 1)  # never an empty box


def test_crop_keeps_the_centre_and_drops_the_rim() -> None:
    """A blue rim around a red centre: with crop the model sees only red."""
    arr = np.zeros((100, 100, 3), dtype=np.uint8)
    arr[...] = (0, 0, 255)
    arr[20:80, 20:80] = (255, 0, 0)
    img = Image.fromarray(arr)
    whole = preprocess(img, Preprocessing(size=32, color_constancy="none"))
    centre = preprocess(img, Preprocessing(size=32, color_constancy="none", crop=0.6))
    assert whole.shape == centre.shape == (32, 32, 3)
    assert whole[0, 0, 2] == 255  # rim visible without crop
    assert (centre[..., 0] == 255).all() and (centre[..., 2] == 0).all()


def test_card_constancy_power_reaches_the_model_input(tmp_path: Path) -> None:
    """The trainer always writes 6, but the app must honour what the card says."""
    rng = np.random.default_rng(3)
    cast = rng.integers(0, 256, (64, 64, 3)).astype(np.float64) * [1.0, 0.7, 0.4]
    path = save(Image.fromarray(cast.astype(np.uint8)), tmp_path / "cast.png")
    six = load_image(path, Preprocessing(size=64))
    one = load_image(path, Preprocessing(size=64, constancy_power=1))
    raw = load_image(path, Preprocessing(size=64, color_constancy="none"))
    assert np.array_equal(six, shades_of_gray(raw, 6))
    assert np.array_equal(one, shades_of_gray(raw, 1))
    assert not np.array_equal(one, six)


def test_an_exposure_level_takes_a_brighter_photo_to_the_same_input(tmp_path: Path) -> None:
    """A copy 12 % brighter (nothing clipped) reaches the model as the original does when the
    card sets a level, and 12 % brighter when it does not; every channel's norm is the level."""
    rng = np.random.default_rng(5)
    base = rng.integers(20, 200, (64, 64, 3)).astype(np.float64) * [1.0, 0.8, 0.6]
    paths = [
        save(Image.fromarray(np.round(base * g).astype(np.uint8)), tmp_path / f"{g}.png")
        for g in (1.0, 1.12)
    ]
    kept = [load_image(p, Preprocessing(size=64)).astype(float) for p in paths]
    levelled = [load_image(p, Preprocessing(size=64, level=150)).astype(float) for p in paths]
    assert np.mean(kept[1]) / np.mean(kept[0]) == pytest.approx(1.12, abs=0.01)
    assert np.abs(levelled[1] - levelled[0]).max() <= 2
    norms = np.mean(levelled[0] ** 6, axis=(0, 1)) ** (1 / 6)
    assert norms == pytest.approx([150, 150, 150], abs=1.0)
    raw = load_image(paths[0], Preprocessing(size=64, color_constancy="none"))
    assert np.array_equal(levelled[0], shades_of_gray(raw, 6, 150))


def test_a_card_without_a_level_reads_and_writes_as_before() -> None:
    """Every card before the level: its section has no such key, and gets none back."""
    plain = Preprocessing.from_dict({"size": 128})
    assert plain.level == 0 and "level" not in plain.to_dict()
    levelled = Preprocessing.from_dict({"size": 128, "level": 169})
    assert levelled.to_dict()["level"] == 169
    assert Preprocessing.from_dict(levelled.to_dict()) == levelled


def test_draft_size_leaves_twice_the_input_inside_the_crop() -> None:
    assert Preprocessing(size=128).draft_size == 256
    assert Preprocessing(size=128, crop=0.5).draft_size == 512
    assert Preprocessing(size=128, crop=0.8).draft_size == 320


@pytest.mark.parametrize(
    "bad",
    [
        {"resize": "crop"},
        {"resize": "stretch"},  # removed: no trainer ever wrote it; a card asking for it is refused
        {"resize": None},
        {"color_constancy": "grey_world"},
        {"color_constancy": ["none"]},
        {"size": 0},
        {"size": 7},
        {"size": -128},
        {"size": 1025},
        {"size": 10**9},
        {"size": True},
        {"size": 128.5},
        {"size": "128"},
        {"size": None},
        {"size": float("inf")},
        {"size": float("nan")},
        {"constancy_power": 0},
        {"constancy_power": -6},
        {"constancy_power": 1.5},
        {"constancy_power": 100},
        {"constancy_power": False},
        {"crop": 0.4},
        {"crop": 0.0},
        {"crop": 1.01},
        {"crop": float("nan")},
        {"crop": True},
        {"crop": "0.8"},
        {"crop": None},
        {"level": 31},
        {"level": 241},
        {"level": -1},
        {"level": 169.5},
        {"level": True},
        {"level": 169, "color_constancy": "none"},
    ],
)
def test_preprocessing_rejects_unknown_modes_and_silly_values(bad: dict) -> None:
    with pytest.raises(ValueError) as info:
        Preprocessing.from_dict(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        Preprocessing(**bad)


@pytest.mark.parametrize("data", [None, [], "size", 128])
def test_preprocessing_from_non_object(data: object) -> None:
    with pytest.raises(ValueError):
        Preprocessing.from_dict(data)  # type: ignore[arg-type]


def test_preprocess_accepts_non_rgb_images() -> None:
    out = preprocess(Image.new("L", (10, 20), 77), RAW)
    assert_model_input(out)
    assert np.all(out == 77)


# --------------------------------------------------------------------------- never written


def test_loader_never_writes_or_changes_anything(tmp_path: Path) -> None:
    good = save(noise(50, 40), tmp_path / "good.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 broken")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    load_image(good, PRE)
    with pytest.raises(ImageLoadError):
        load_image(bad, PRE)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before  # no repaired copies, caches or side files


def test_every_listed_extension_is_a_format_we_decode() -> None:
    registered = Image.registered_extensions()
    for ext in imaging.IMAGE_EXTENSIONS:
        assert registered[ext] in imaging.ALLOWED_FORMATS, ext


# A decoder crash in the window's process (guard_decoder) ------------------------------------------


@pytest.fixture
def guarded():
    imaging.guard_decoder()
    yield
    imaging.guard_decoder(False)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_guarded_a_file_that_crashes_the_decoder_is_refused_and_this_process_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guarded: None
) -> None:
    crashing_decoder(monkeypatch)
    bad, good = tmp_path / "bad.png", tmp_path / "good.png"
    noise(64, 64).save(bad)
    bad.write_bytes(bad.read_bytes() + b"CRASH")  # still a whole PNG: only the decoder minds
    noise(64, 64).save(good)
    with pytest.raises(ImageLoadError, match="bad.png: reading it stopped the image reader"):
        open_image(bad)
    assert np.array_equal(np.asarray(open_image(good)), np.asarray(noise(64, 64)))


def _jpeg(quality: int = 90) -> bytes:
    buf = io.BytesIO()
    noise(256, 256).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_guarded_every_outcome_is_the_one_read_without_the_guard(tmp_path: Path) -> None:
    """The same pixels, the same repair of a JPEG that lacks only its end marker, the same
    one-line reasons: the guard changes where a crash lands, nothing else."""
    whole = _jpeg()
    files = {
        "photo.jpg": whole,
        "no-end-marker.jpg": whole[:-2],
        "truncated.jpg": whole[: len(whole) // 2],
        "garbage.jpg": b"\xff\xd8\xff garbage",
        "text.png": b"not an image at all",
    }
    outcomes = []
    for on in (False, True):
        imaging.guard_decoder(on)
        try:
            seen = {}
            for name, data in files.items():
                (tmp_path / name).write_bytes(data)
                try:
                    seen[name] = np.asarray(open_image(tmp_path / name, draft_size=64))
                except ImageLoadError as err:
                    seen[name] = str(err)
            outcomes.append(seen)
        finally:
            imaging.guard_decoder(False)
    plain, guarded_ = outcomes
    assert isinstance(plain["no-end-marker.jpg"], np.ndarray)  # repaired, both ways
    assert "truncated" in plain["truncated.jpg"] and "not a readable" in plain["text.png"]
    for name in files:
        if isinstance(plain[name], np.ndarray):
            assert np.array_equal(plain[name], guarded_[name]), name
        else:
            assert plain[name] == guarded_[name], name


def test_unguarded_nothing_forks_and_a_failed_fork_reads_unguarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off (the command line, the trainer): no child per file. On, where no child can be had
    (out of memory, the process limit): the file is still read, here."""
    from desktop import pipeline

    tried = []

    def no_fork(work, timeout):  # noqa: ANN001, ANN202
        tried.append(1)
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(pipeline, "in_child", no_fork)
    path = tmp_path / "a.png"
    noise(32, 32).save(path)
    assert np.array_equal(np.asarray(open_image(path)), np.asarray(noise(32, 32))) and not tried
    imaging.guard_decoder()
    try:
        assert np.array_equal(np.asarray(open_image(path)), np.asarray(noise(32, 32))) and tried
    finally:
        imaging.guard_decoder(False)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_child_sends_its_bytes_back_and_one_that_runs_too_long_is_ended() -> None:
    from desktop import pipeline

    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        pipeline.in_child(lambda: time.sleep(30), timeout=0.5)
    assert time.perf_counter() - start < 5
    assert pipeline.in_child(lambda: b"x" * 300_000, timeout=5) == b"x" * 300_000  # > a pipe
    assert pipeline.in_child(lambda: 1 / 0, timeout=5) == b""  # a Python error is not a crash
    with pytest.raises(pipeline.ChildDied):
        pipeline.in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV), timeout=5)


@pytest.mark.skipif(sys.platform != "linux", reason="processes fork only on Linux")
def test_a_child_touches_none_of_this_process_files_and_collects_no_garbage(
    tmp_path: Path,
) -> None:
    """A forked child shares the case store's open database: a garbage collection there could
    close a connection and write its log, so the child has no other file open and no collector."""
    import gc

    from desktop import pipeline

    with open(tmp_path / "store.db", "wb") as fh:

        def probe() -> bytes:
            try:
                os.fstat(fh.fileno())
                still_open = b"open"
            except OSError:
                still_open = b"closed"
            return still_open + (b"+gc" if gc.isenabled() else b"-gc")

        assert pipeline.in_child(probe, timeout=5) == b"closed-gc"
        assert gc.isenabled() and not fh.closed  # this process untouched
