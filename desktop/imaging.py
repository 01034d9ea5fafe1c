"""Turn an image file into model input.

This is the *one* function shared by the trainer and the app, so the two can
never drift. It imports neither Qt nor TensorFlow. Every way a file can be bad
ends in :class:`ImageLoadError` with a one-line reason naming the file, never
another exception.

Decisions (see ``docs/bad-files.md``):

* Only JPEG, PNG, TIFF, WebP, BMP and GIF are decoded, whatever the file is
  called; other Pillow plugins (EPS would run Ghostscript, TGA accepts almost
  any bytes) are never tried.
* Images over :data:`MAX_PIXELS` or files over :data:`MAX_FILE_BYTES` are
  refused from the header, before any pixel is decoded.
* Truncated files are refused (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays
  False): a half-grey lesion is worse than no answer. A JPEG that lacks only
  its end-of-image marker, with every pixel there, loads (:func:`_missing_eoi_only`).
* Animated GIF/WebP/PNG: the first frame is used.
* Transparency is composited onto black (like a dermoscopy vignette).
* 16/32-bit and float images are scaled to 8 bits by their nominal range.
* A 1x1 (or any tiny) image *loads*: it is upscaled to the input size. Judging
  whether such a picture is usable is the app's quality check ("uncertain"),
  not the loader's job.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from desktop.colour_constancy import shades_of_gray
from desktop.preprocessing import Preprocessing, brief

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jfif"}
)
# The Pillow decoders we trust; the content decides, never the file name.
ALLOWED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF")
# 6000x4000 photos (24 MP) are fine; anything past this is refused before decoding.
MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024
# Why a file that crashed the decoder's process has no result (desktop.pipeline.ChildDied): the
# crash is in native code, so no ImageLoadError could say more.
CRASHED_READER = "reading it stopped the image reader (a damaged or unusual file)"

# Pillow's own bomb guard raises/warns at different limits; we check ourselves first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Never hand the model a partly grey image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageLoadError(Exception):
    """A file that cannot be turned into model input; ``str(err)`` is a one-line reason."""


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the name has a known image extension (used when expanding folders)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _display_name(p: Path) -> str:
    """The file name as shown in messages: control characters (a newline!) escaped."""
    name = p.name or str(p)
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)


def _high_bit_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale to 8-bit ``L`` by nominal range.

    I;16 is 0..65535; I is 0..255 or 0..65535 when it fits, F is 0..1 or
    0..255 when it fits. Anything else is min-max stretched (a flat image
    then keeps its clipped value instead of turning black).
    """
    arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(arr.min()), float(arr.max())
    if img.mode.startswith("I;16"):
        arr = arr / 257.0
    elif img.mode == "F" and lo >= 0.0 and hi <= 1.0:
        arr = arr * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        pass
    elif img.mode == "I" and lo >= 0.0 and hi <= 65535.0:
        arr = arr / 257.0
    elif hi > lo:
        arr = (arr - lo) * (255.0 / (hi - lo))
    arr8 = np.clip(arr, 0.0, 255.0).round().astype(np.uint8)
    return Image.fromarray(arr8)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited onto black (dermoscopy vignette)."""
    if img.mode in _HIGH_BIT_MODES:
        img = _high_bit_to_l(img)  # a tRNS key colour is lost here; rare enough to accept
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "RGB":
        return img
    return img.convert("RGB")


def open_image(path: str | os.PathLike[str], draft_size: int | None = None) -> Image.Image:
    """Decode a file into an upright RGB image, or raise :class:`ImageLoadError`.

    Truncated files are refused (a half-grey lesion is worse than no answer);
    animated images use their first frame; EXIF orientation is honoured.
    ``draft_size`` lets JPEG decode at a reduced scale (much faster on big photos).
    """
    p = Path(path)
    name = _display_name(p)
    try:
        if not p.exists():
            if p.is_symlink():
                raise ImageLoadError(f"{name}: is a broken link or a link loop")
            raise ImageLoadError(f"{name}: file not found")
        if p.is_dir():
            raise ImageLoadError(f"{name}: is a folder, not an image file")
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ImageLoadError(f"{name}: is not a regular file (device, pipe or socket)")
        size = st.st_size
    except ImageLoadError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # permissions, vanished files, NUL bytes
        raise ImageLoadError(f"{name}: cannot access file ({_short(exc)})") from None
    if size == 0:
        raise ImageLoadError(f"{name}: file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(f"{name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    if not _GUARDED:
        return _open(p, name, draft_size, p.read_bytes)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, MemoryError) as exc:  # permissions, a file that vanished
        raise ImageLoadError(f"{name}: cannot access file ({_short(exc)})") from None
    if len(data) > MAX_FILE_BYTES:  # it grew since it was measured
        raise ImageLoadError(f"{name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    img = _decode_in_child(data, name, draft_size)
    return img if img is not None else _open(io.BytesIO(data), name, draft_size, lambda: data)


# Whether open_image first decodes each file's bytes in a forked child (guard_decoder).
_GUARDED = False
# A guarded decode that runs longer than this is ended, and the file refused: a 64 MP PNG, the
# largest image allowed, decodes in a few seconds.
DECODE_SECONDS = 120.0


def guard_decoder(on: bool = True) -> None:
    """Make a crash in native decoding code cost only the file that caused it, in this process.

    While on, :func:`open_image` reads the file's bytes and decodes them in a forked child
    (:func:`desktop.pipeline.in_child`), which sends back the pixels (or the reason it refused
    them); a child that dies gives :data:`CRASHED_READER`, and nothing is decoded here. For the
    window, whose threads read files beside what is on screen and the open case store; the
    command line reads in forked children already (:func:`desktop.pipeline.in_processes`). It
    costs a fork and a copy of the pixels per file. Where processes do not fork (Windows,
    macOS) it does nothing.
    """
    global _GUARDED
    if on:
        Image.init()  # every decoder imported before the first fork: a child never imports
    _GUARDED = on


def decoder_guarded() -> bool:
    return _GUARDED


def _decode_in_child(data: bytes, name: str, draft_size: int | None) -> Image.Image | None:
    """:func:`_open` of ``data`` in a forked child, its pixels or its refusal sent back: a crash
    there is this file's :class:`ImageLoadError`. None where no child could do it (no fork to
    be had, or an error :func:`_open` does not expect): then it is read here."""
    from desktop.pipeline import ChildDied, in_child

    try:
        out = in_child(lambda: _packed(data, name, draft_size), DECODE_SECONDS)
    except ChildDied:
        raise ImageLoadError(f"{name}: {CRASHED_READER}") from None
    except TimeoutError:
        raise ImageLoadError(
            f"{name}: reading it took too long (a damaged or unusual file)"
        ) from None
    except OSError:  # no fork to be had (out of memory, the process limit)
        return None
    if not out:
        return None
    if out[:1] == b"E":
        raise ImageLoadError(out[1:].decode("utf-8", "replace"))
    width, height = struct.unpack("<II", out[1:9])
    try:
        return Image.frombytes("RGB", (width, height), out[9:])
    except MemoryError:
        raise ImageLoadError(f"{name}: not enough memory to decode this image") from None


def _packed(data: bytes, name: str, draft_size: int | None) -> bytes:
    """What :func:`_decode_in_child` sends back: ``E`` and the refusal, or ``I``, the size
    and the RGB pixels."""
    try:
        img = _open(io.BytesIO(data), name, draft_size, lambda: data)
    except ImageLoadError as err:
        return b"E" + str(err).encode("utf-8")
    if img.mode != "RGB":
        return b""
    return b"I" + struct.pack("<II", img.width, img.height) + img.tobytes()


def _open(
    source: Path | io.BytesIO, name: str, draft_size: int | None, raw: Callable[[], bytes]
) -> Image.Image:
    """:func:`_decode` with every failure turned into :class:`ImageLoadError`; ``raw`` gives
    the file's bytes for the one repair tried (:func:`_missing_eoi_only`)."""
    try:
        return _decode(source, name, draft_size)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(
            f"{name}: not a readable image (not JPEG, PNG, TIFF, WebP, BMP or GIF, or corrupt)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(
            f"{name}: image is too large to decode safely (over {MAX_PIXELS // 1_000_000} MP)"
        ) from None
    except MemoryError:
        raise ImageLoadError(f"{name}: not enough memory to decode this image") from None
    except PermissionError:
        raise ImageLoadError(f"{name}: permission denied") from None
    except FileNotFoundError:
        raise ImageLoadError(f"{name}: file vanished while reading") from None
    except Exception as exc:  # the contract: only ImageLoadError escapes
        if _is_truncation(exc):
            whole = _missing_eoi_only(raw, name, draft_size)
            if whole is not None:
                return whole
        raise ImageLoadError(f"{name}: {_damage(exc)}") from None


def _decode(source: Path | io.BytesIO, name: str, draft_size: int | None) -> Image.Image:
    """Decode with the checks of :func:`open_image`; decoder errors pass through."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # Corrupt-EXIF and similar chatter: the outcome is what matters.
        warnings.simplefilter("ignore", UserWarning)
        with Image.open(source, formats=ALLOWED_FORMATS) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(
                    f"{name}: image is {width}x{height} pixels, larger than the "
                    f"{MAX_PIXELS // 1_000_000} MP limit"
                )
            if width < 1 or height < 1:
                raise ImageLoadError(f"{name}: image has no pixels")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            if draft_size and img.format in ("JPEG", "MPO"):
                img.draft("RGB", (draft_size, draft_size))
            img.load()
            upright = ImageOps.exif_transpose(img)
            rgb = _to_rgb(upright)
            # Never hand out the file-backed image: it is closed when the `with` ends.
            return rgb.copy() if rgb is img else rgb


_EOI = b"\xff\xd9"


def _missing_eoi_only(
    raw: Callable[[], bytes], name: str, draft_size: int | None
) -> Image.Image | None:
    """The image of a JPEG whose data is complete but lacks its end-of-image marker, else None.

    The marker is added back; that every pixel was in the file is proven by
    decoding again with filler bytes before the marker: if the scan data had
    ended early the decoder would read the filler as pixels and the results
    would differ. Anything short of identical stays refused as truncated.
    """
    try:
        data = raw()
    except OSError:
        return None
    if not data.startswith(b"\xff\xd8") or data.endswith(_EOI):
        return None
    try:
        whole = _decode(io.BytesIO(data + _EOI), name, draft_size)
        reference = np.asarray(whole)
        for filler in (b"\x00", b"\x55", b"\xaa"):
            padded = _decode(io.BytesIO(data + filler * 64 + _EOI), name, draft_size)
            if not np.array_equal(np.asarray(padded), reference):
                return None
    except Exception:  # any failure: it stays refused as truncated
        return None
    return whole


def _is_truncation(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "truncat" in text or isinstance(exc, EOFError) or "no data left" in text


def _damage(exc: BaseException) -> str:
    """The decoder's complaint in plain words: its own text ("32 bytes not processed")
    means nothing to a clinician, and is the same for every damaged file anyway."""
    if _is_truncation(exc):
        return "the file is incomplete (truncated: perhaps an unfinished copy or download)"
    return "the image data is damaged and cannot be decoded"


def _short(exc: BaseException) -> str:
    """First line of an exception message, capped, for one-line errors."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:120]


def view_box(width: int, height: int, pre: Preprocessing) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the region of a ``width x height`` photo the model sees.

    The central square, then ``crop`` keeps that share of its side around the centre
    (dermoscopy centres the lesion; the rim and corners carry the camera, not the lesion).
    """
    left, top, right, bottom = 0, 0, width, height
    if width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        right, bottom = left + side, top + side
    if pre.crop < 1.0:
        w, h = right - left, bottom - top
        kw, kh = max(1, round(w * pre.crop)), max(1, round(h * pre.crop))
        left, top = left + (w - kw) // 2, top + (h - kh) // 2
        right, bottom = left + kw, top + kh
    return (left, top, right, bottom)


# Test-time views: the model is averaged over flips and quarter turns of its input. A lesion
# under a dermatoscope has no "up", so every view is as valid as the photo, and the mean
# is steadier than any one of them. Each view works on one image (H, W, C) or a batch.
_VIEWS = {
    "identity": lambda a: a,
    "flip_lr": lambda a: np.flip(a, -2),
    "flip_ud": lambda a: np.flip(a, -3),
    "rotate_180": lambda a: np.flip(a, (-3, -2)),
    "transpose": lambda a: np.swapaxes(a, -3, -2),
    "rotate_90": lambda a: np.flip(np.swapaxes(a, -3, -2), -3),
    "rotate_270": lambda a: np.flip(np.swapaxes(a, -3, -2), -2),
    "anti_transpose": lambda a: np.flip(np.swapaxes(a, -3, -2), (-3, -2)),
}
VIEW_SETS: dict[str, tuple[str, ...]] = {
    "none": ("identity",),
    "flips": ("identity", "flip_lr", "flip_ud", "rotate_180"),
    "dihedral": tuple(_VIEWS),
}


def model_views(arr: np.ndarray, views: str) -> list[np.ndarray]:
    """The model inputs of one view set (``VIEW_SETS``), the unchanged input first."""
    a = np.asarray(arr)
    if a.ndim >= 3 and a.shape[-3] == a.shape[-2]:
        return list(view_stack(a, views))
    if views not in VIEW_SETS:
        raise ValueError(f"unknown test-time views {brief(views)}")
    return [np.ascontiguousarray(_VIEWS[name](a)) for name in VIEW_SETS[views]]


def view_stack(arr: np.ndarray, views: str) -> np.ndarray:
    """:func:`model_views` of a square image (or batch) as one array ``(views, *arr.shape)``:
    a batch for the model."""
    if views not in VIEW_SETS:
        raise ValueError(f"unknown test-time views {brief(views)}")
    names = VIEW_SETS[views]
    a = np.asarray(arr)
    if a.ndim < 3 or a.shape[-3] != a.shape[-2]:  # a quarter turn would change the shape
        raise ValueError(f"test-time views need square images, not {a.shape}")
    out = np.empty((len(names), *a.shape), dtype=a.dtype)
    src, dst = a, out
    if a.strides[-1] == a.itemsize:
        # Each pixel as one item (its channels' bytes): moving pixels, not bytes, is faster.
        item = np.dtype((np.void, a.shape[-1] * a.itemsize))
        src, dst = a.view(item), out.view(item)
    for i, name in enumerate(names):
        dst[i] = _VIEWS[name](src)
    return out


def preprocess(img: Image.Image, pre: Preprocessing) -> np.ndarray:
    """RGB PIL image to a ``(size, size, 3)`` uint8 array, exactly as the model expects.

    The region the model sees (:func:`view_box`, the box the heat-map outlines)
    is cut out *before* resizing, so a 1x60000 strip never becomes a 128x7.7M
    intermediate.
    """
    size = int(pre.size)
    if img.mode != "RGB":
        img = img.convert("RGB")
    box = view_box(img.width, img.height, pre)
    if box != (0, 0, img.width, img.height):
        img = img.crop(box)
    img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.uint8)
    if pre.color_constancy == "shades_of_gray":
        arr = shades_of_gray(arr, pre.constancy_power, pre.level)
    return np.ascontiguousarray(arr)


def load_image(path: str | os.PathLike[str], pre: Preprocessing) -> np.ndarray:
    """The shared entry point: file to model input (``uint8``, ``size x size x 3``, RGB 0-255)."""
    img = open_image(path, draft_size=pre.draft_size)
    try:
        return preprocess(img, pre)
    except MemoryError:
        raise ImageLoadError(
            f"{_display_name(Path(path))}: not enough memory to resize this image"
        ) from None
