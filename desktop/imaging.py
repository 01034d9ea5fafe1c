"""Turn an image file into model input.

This is the *one* function shared by the trainer and the app, so the two can
never drift. It imports neither Qt nor TensorFlow. Every way a file can be bad
ends in :class:`ImageLoadError` with a one-line reason, never another exception.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jfif"}
)
# 6000x4000 photos (24 MP) are fine; anything past this is refused before decoding.
MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024

# Pillow's own bomb guard raises/warns at different limits; we check ourselves first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageLoadError(Exception):
    """A file that cannot be turned into model input; ``str(err)`` is a one-line reason."""


@dataclass(frozen=True)
class Preprocessing:
    """How a decoded image becomes model input; saved in the model card."""

    size: int = 128
    resize: str = "center_crop"  # shorter side to `size`, then centre crop
    color_constancy: str = "shades_of_gray"  # or "none"
    constancy_power: int = 6

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        known = {
            k: data[k]
            for k in ("size", "resize", "color_constancy", "constancy_power")
            if k in data
        }
        pre = cls(**known)
        if pre.resize not in ("center_crop", "stretch"):
            raise ValueError(f"unknown resize mode {pre.resize!r}")
        if pre.color_constancy not in ("shades_of_gray", "none"):
            raise ValueError(f"unknown colour constancy {pre.color_constancy!r}")
        if not 8 <= int(pre.size) <= 1024:
            raise ValueError(f"input size {pre.size} out of range")
        return pre


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the name has a known image extension (used when expanding folders)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited onto black (dermoscopy vignette)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.min(arr)), float(np.max(arr))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        arr8 = ((arr - lo) * scale).round().astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def open_image(path: str | os.PathLike[str], draft_size: int | None = None) -> Image.Image:
    """Decode a file into an upright RGB image, or raise :class:`ImageLoadError`.

    Truncated JPEGs are refused (a half-grey lesion is worse than no answer);
    animated images use their first frame; EXIF orientation is honoured.
    ``draft_size`` lets JPEG decode at a reduced scale (much faster on big photos).
    """
    p = Path(path)
    name = p.name or str(p)
    try:
        if not p.exists():
            raise ImageLoadError(f"{name}: file not found")
        if p.is_dir():
            raise ImageLoadError(f"{name}: is a folder, not an image file")
        size = p.stat().st_size
    except ImageLoadError:
        raise
    except (OSError, RuntimeError) as exc:  # symlink loops, permissions, vanished files
        raise ImageLoadError(f"{name}: cannot access file ({_short(exc)})") from None
    if size == 0:
        raise ImageLoadError(f"{name}: file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(f"{name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
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
                if draft_size and img.format == "JPEG":
                    img.draft("RGB", (draft_size, draft_size))
                img.load()
                img = ImageOps.exif_transpose(img) or img
                return _to_rgb(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(f"{name}: not a readable image (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(f"{name}: image is too large to decode safely") from None
    except MemoryError:
        raise ImageLoadError(f"{name}: not enough memory to decode this image") from None
    except PermissionError:
        raise ImageLoadError(f"{name}: permission denied") from None
    except FileNotFoundError:
        raise ImageLoadError(f"{name}: file vanished while reading") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError, KeyError) as exc:
        raise ImageLoadError(f"{name}: corrupt or truncated image ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def shades_of_gray(arr: np.ndarray, power: int = 6) -> np.ndarray:
    """Shades-of-Gray colour constancy (Finlayson & Trezzi 2004).

    Removes the colour cast of each camera/archive, a shortcut cue a CNN would
    otherwise learn instead of the lesion. uint8 in, uint8 out.
    """
    x = arr.astype(np.float32)
    norm = np.power(np.mean(np.power(x, power), axis=(0, 1)), 1.0 / power)
    length = float(np.sqrt(np.sum(norm**2)))
    if length < 1e-6 or not np.all(np.isfinite(norm)):
        return arr.astype(np.uint8, copy=True)
    gains = length / (np.maximum(norm, 1e-6) * np.sqrt(3.0))
    return np.clip(x * gains, 0, 255).round().astype(np.uint8)


def preprocess(img: Image.Image, pre: Preprocessing) -> np.ndarray:
    """RGB PIL image to a ``(size, size, 3)`` uint8 array, exactly as the model expects."""
    size = int(pre.size)
    if pre.resize == "center_crop":
        w, h = img.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    else:
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.uint8)
    if pre.color_constancy == "shades_of_gray":
        arr = shades_of_gray(arr, pre.constancy_power)
    return np.ascontiguousarray(arr)


def load_image(path: str | os.PathLike[str], pre: Preprocessing) -> np.ndarray:
    """The shared entry point: file to model input (``uint8``, ``size x size x 3``, RGB 0-255)."""
    img = open_image(path, draft_size=pre.size * 2)
    try:
        return preprocess(img, pre)
    except MemoryError:
        raise ImageLoadError(f"{Path(path).name}: not enough memory to resize this image") from None
