"""Draw the LesionLens icon: a white magnifier over a brown lesion dot on medical blue.

Generated, not hand-drawn, so the .png (Linux, window), .ico (Windows) and .icns
(macOS) always match and can be rebuilt without an image editor:

    .venv/bin/python assets/make_icon.py

Drawn at 4x and downsampled, which gives clean anti-aliased edges with plain Pillow.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = 1024  # master size; .icns wants 1024 for Retina
SUPERSAMPLE = 4

BLUE = (21, 101, 192, 255)  # medical blue (#1565C0)
BLUE_LIGHT = (66, 165, 245, 255)  # lens tint (#42A5F5)
WHITE = (255, 255, 255, 255)
LESION = (109, 62, 38, 255)  # dark brown, a pigmented lesion
LESION_RIM = (150, 95, 60, 255)

ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def draw_icon(size: int = SIZE) -> Image.Image:
    """The icon as an RGBA image of ``size`` x ``size`` pixels."""
    big = size * SUPERSAMPLE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)

    def s(v: float) -> int:
        return round(v * big)

    # Rounded square tile, a little inset so it sits well among other app icons.
    d.rounded_rectangle((s(0.04), s(0.04), s(0.96), s(0.96)), radius=s(0.2), fill=BLUE)

    # Lens: centre and radius in fractions of the tile.
    cx, cy, r = 0.43, 0.43, 0.25
    ring = 0.055
    # Handle first, so the ring covers its inner end.
    d.line((s(0.59), s(0.59), s(0.80), s(0.80)), fill=WHITE, width=s(0.10))
    d.ellipse((s(0.75), s(0.75), s(0.85), s(0.85)), fill=WHITE)  # rounded handle end
    d.ellipse((s(cx - r), s(cy - r), s(cx + r), s(cy + r)), fill=WHITE)
    inner = r - ring
    d.ellipse((s(cx - inner), s(cy - inner), s(cx + inner), s(cy + inner)), fill=BLUE_LIGHT)

    # The lesion under the lens: a slightly irregular dot with a lighter rim.
    lr = 0.11
    d.ellipse((s(cx - lr), s(cy - lr * 0.9), s(cx + lr), s(cy + lr * 0.9)), fill=LESION_RIM)
    lr2 = 0.085
    d.ellipse(
        (s(cx - lr2 + 0.01), s(cy - lr2 * 0.85), s(cx + lr2), s(cy + lr2 * 0.85 + 0.01)),
        fill=LESION,
    )
    # A small highlight on the glass.
    d.arc(
        (s(cx - inner + 0.03), s(cy - inner + 0.03), s(cx + inner - 0.03), s(cy + inner - 0.03)),
        start=200,
        end=250,
        fill=(255, 255, 255, 200),
        width=s(0.018),
    )
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon.png (256 px), icon.ico (16-256 px) and icon.icns (up to 1024 px)."""
    master = draw_icon(SIZE)
    master.resize((256, 256), Image.Resampling.LANCZOS).save(HERE / "icon.png", optimize=True)
    master.save(HERE / "icon.ico", sizes=ICO_SIZES)
    master.save(HERE / "icon.icns")
    for name in ("icon.png", "icon.ico", "icon.icns"):
        print(f"wrote {HERE / name} ({(HERE / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
