"""Pictures that are not dermoscopy, made the same way on every run: the negative side of the
"is this dermoscopy" decision (besides the clinical photos) and its non-skin benchmark.

Made here (text, charts, screen-like renderings, noise, gradients, natural-looking textures
and scenes, synthetic fundus and histology) or shipped by installed packages (matplotlib's
sample photo, MRI slice and terrain data, photos and icons inside installed packages, the
project's own screenshot and plots). Each picture has a category: the grouped
cross-validation leaves whole categories out. Benchmarks may use matplotlib; the app never does.
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from desktop.imaging import ImageLoadError, is_image_path, open_image

ROOT = Path(__file__).resolve().parent.parent

Named = tuple[str, str, Image.Image]  # (category, name, picture)


# Ordinary pictures -----------------------------------------------------------------------------
def _font(size: int, bold: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default()


# fmt: off
WORDS = (
    "hello", "patient", "referral", "clinic", "report", "dermatology", "follow-up",
    "appointment", "results", "lorem", "ipsum", "dolor", "sit", "amet", "consectetur",
    "adipiscing", "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore",
    "et", "dolore", "magna", "aliqua", "invoice", "total", "date", "signature",
)
# fmt: on


def text_pictures(rng: np.random.Generator, n: int = 20) -> Iterator[Named]:
    """Words and paragraphs on plain backgrounds, from a single word to a full page."""
    schemes = [
        ((255, 255, 255), (0, 0, 0)),
        ((250, 250, 245), (30, 30, 90)),
        ((30, 30, 30), (230, 230, 230)),
        ((255, 255, 210), (120, 0, 0)),
        ((225, 235, 245), (20, 60, 120)),
    ]
    for i in range(n):
        bg, fg = schemes[i % len(schemes)]
        w, h = int(rng.integers(240, 1000)), int(rng.integers(180, 800))
        img = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(img)
        size = int(rng.integers(12, 64))
        font = _font(size, bold=bool(i % 3 == 0))
        lines = 1 if i < 5 else int(rng.integers(2, max(3, h // (size + 6))))
        y = int(rng.integers(5, max(6, h // 4)))
        for _ in range(lines):
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 8))))
            draw.text((int(rng.integers(5, max(6, w // 5))), y), words, fill=fg, font=font)
            y += size + 6
            if y > h - size:
                break
        yield "text", f"text-{i:02d}", img


def chart_pictures(rng: np.random.Generator) -> Iterator[Named]:
    """Line, bar, scatter, pie, histogram, heat-map and box plots in several styles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ("line", "bar", "scatter", "pie", "hist", "imshow", "box", "area")
    styles = ("default", "ggplot", "dark_background", "bmh", "grayscale")
    for i in range(24):
        kind, style = kinds[i % len(kinds)], styles[i % len(styles)]
        with plt.style.context(style):
            fig, ax = plt.subplots(figsize=(rng.uniform(3, 8), rng.uniform(2.5, 6)), dpi=80)
            x = np.arange(20)
            if kind == "line":
                for _ in range(3):
                    ax.plot(x, np.cumsum(rng.normal(size=20)))
            elif kind == "bar":
                ax.bar(list("ABCDEFG"), rng.uniform(1, 10, 7))
            elif kind == "scatter":
                ax.scatter(rng.normal(size=200), rng.normal(size=200), s=8, c=rng.uniform(size=200))
            elif kind == "pie":
                ax.pie(rng.uniform(1, 5, 5), labels=list("abcde"))
            elif kind == "hist":
                ax.hist(rng.normal(size=500), bins=25)
            elif kind == "imshow":
                ax.imshow(rng.normal(size=(12, 12)), cmap=("viridis", "magma", "coolwarm")[i % 3])
            elif kind == "box":
                ax.boxplot([rng.normal(size=50) for _ in range(4)])
            else:
                ax.stackplot(x, rng.uniform(1, 3, (3, 20)))
            ax.set_title(f"Figure {i}: {kind}")
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            plt.close(fig)
        yield (
            "chart",
            f"chart-{kind}-{i:02d}",
            Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
        )


def screen_pictures(rng: np.random.Generator, n: int = 16) -> Iterator[Named]:
    """Window-like renderings: title bar, side bar, buttons, fields, list rows; light and dark."""
    themes = [
        ((240, 240, 240), (255, 255, 255), (0, 120, 215), (20, 20, 20)),
        ((32, 33, 36), (48, 49, 52), (138, 180, 248), (230, 230, 230)),
        ((246, 246, 250), (255, 255, 255), (100, 60, 180), (40, 40, 40)),
        ((30, 30, 46), (49, 50, 68), (166, 227, 161), (205, 214, 244)),
    ]
    for i in range(n):
        back, panel, accent, ink = themes[i % len(themes)]
        w, h = int(rng.integers(480, 1280)), int(rng.integers(320, 800))
        img = Image.new("RGB", (w, h), back)
        d = ImageDraw.Draw(img)
        d.rectangle((0, 0, w, 30), fill=accent)
        d.text((10, 6), "Application - document.txt", fill=(255, 255, 255), font=_font(14))
        side = int(rng.integers(120, 260))
        d.rectangle((0, 30, side, h), fill=panel)
        for r in range(int(rng.integers(5, 14))):
            y = 45 + r * 28
            d.text((12, y), str(rng.choice(WORDS)).title(), fill=ink, font=_font(13))
        for b in range(int(rng.integers(2, 6))):
            x0 = side + 20 + b * 110
            d.rounded_rectangle((x0, h - 50, x0 + 95, h - 20), 6, fill=accent)
            d.text((x0 + 12, h - 44), "OK" if b == 0 else "Cancel", fill=(255, 255, 255))
        for f in range(int(rng.integers(2, 6))):
            y = 60 + f * 50
            d.rectangle((side + 20, y, w - 30, y + 30), outline=accent, fill=panel)
            d.text((side + 28, y + 8), " ".join(rng.choice(WORDS, 3)), fill=ink, font=_font(12))
        if i % 2:  # a picture-like block inside the window
            block = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
            img.paste(Image.fromarray(block).resize((160, 120)), (side + 30, h - 200))
        yield "screen", f"screen-{i:02d}", img


def noise_pictures(rng: np.random.Generator) -> Iterator[Named]:
    """Uniform, Gaussian, salt-and-pepper and smooth (cloud-like) noise, grey and colour."""
    size = 256
    yield (
        "noise",
        "noise-uniform-rgb",
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)),
    )
    grey = np.clip(rng.normal(128, 40, (size, size)), 0, 255).astype(np.uint8)
    yield "noise", "noise-gaussian-grey", Image.fromarray(grey).convert("RGB")
    sp = np.where(rng.uniform(size=(size, size)) < 0.5, 0, 255).astype(np.uint8)
    yield "noise", "noise-salt-pepper", Image.fromarray(sp).convert("RGB")
    for i in range(7):
        small = rng.integers(0, 256, (8 * (i + 1), 8 * (i + 1), 3), dtype=np.uint8)
        cloud = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
        yield "noise", f"noise-smooth-{i}", cloud.filter(ImageFilter.GaussianBlur(2))


def gradient_pictures() -> Iterator[Named]:
    """Linear, diagonal, radial and hue gradients in ordinary (not skin-like) colours."""
    size = 256
    t = np.linspace(0, 1, size)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    pairs = [
        ((0, 0, 0), (255, 255, 255)),
        ((0, 60, 200), (255, 255, 255)),
        ((20, 160, 60), (250, 240, 80)),
        ((120, 0, 160), (255, 140, 0)),
    ]
    ramps = {"horizontal": xx, "vertical": yy, "diagonal": (xx + yy) / 2}
    for (a, b), (ramp_name, ramp) in zip(pairs, ramps.items(), strict=False):
        arr = np.array(a) + (np.array(b) - np.array(a)) * ramp[..., None]
        yield "gradient", f"gradient-{ramp_name}", Image.fromarray(arr.astype(np.uint8))
    r = np.clip(np.hypot(xx - 0.5, yy - 0.5) * 2, 0, 1)
    yield (
        "gradient",
        "gradient-radial-blue",
        Image.fromarray(
            (np.array([20, 40, 160]) + np.array([235, 215, 95]) * r[..., None]).astype(np.uint8)
        ),
    )
    hue = (xx * 6) % 6
    rgb = np.stack([np.clip(np.abs(hue - 3) - 1, 0, 1), np.clip(2 - np.abs(hue - 2), 0, 1),
                    np.clip(2 - np.abs(hue - 4), 0, 1)], -1)  # fmt: skip
    yield "gradient", "gradient-rainbow", Image.fromarray((rgb * 255).astype(np.uint8))
    for k, (a, b) in enumerate(pairs):
        arr = np.array(a) + (np.array(b) - np.array(a)) * ((xx * 4 + yy * 4) % 1)[..., None]
        yield "gradient", f"gradient-bands-{k}", Image.fromarray(arr.astype(np.uint8))


def _sample_data() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


def photo_pictures(rng: np.random.Generator) -> Iterator[Named]:
    """Photographs shipped by installed packages, whole, cropped, flipped and scaled down."""
    photo = Image.open(_sample_data() / "grace_hopper.jpg").convert("RGB")
    yield "photo", "grace_hopper", photo
    yield "photo", "grace_hopper-mirrored", photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    yield "photo", "grace_hopper-small", photo.resize((photo.width // 4, photo.height // 4))
    w, h = photo.size
    for i in range(10):
        side = int(rng.integers(96, min(w, h)))
        x0, y0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        yield "photo", f"grace_hopper-crop-{i}", photo.crop((x0, y0, x0 + side, y0 + side))
    for name in ("Minduka_Present_Blue_Pack.png", "logo2.png"):
        path = _sample_data() / name
        if path.is_file():
            yield "photo", Path(name).stem, Image.open(path).convert("RGB")
    # Terrain data rendered as maps and shaded relief (aerial-photo-like pictures).
    import matplotlib

    dem = np.load(_sample_data() / "jacksboro_fault_dem.npz")["elevation"].astype(float)
    topo = np.load(_sample_data() / "topobathy.npz")["topo"].astype(float)
    for name, z in (("dem", dem), ("topobathy", topo)):
        norm = (z - z.min()) / max(float(np.ptp(z)), 1e-9)
        for cmap in ("terrain", "gist_earth", "gray"):
            rgb = matplotlib.colormaps[cmap](norm)[..., :3]
            yield "photo", f"{name}-{cmap}", Image.fromarray((rgb * 255).astype(np.uint8))
        gy, gx = np.gradient(z)
        shade = np.clip(0.5 + (gx - gy) / (4 * np.std(gx - gy) + 1e-9), 0, 1)
        yield (
            "photo",
            f"{name}-relief",
            Image.fromarray((shade * 255).astype(np.uint8)).convert("RGB"),
        )


def medical_pictures(rng: np.random.Generator) -> Iterator[Named]:
    """Other medical images: an MRI slice (shipped by matplotlib), synthetic fundus, histology."""
    with gzip.open(_sample_data() / "s1045.ima.gz") as fh:
        raw = fh.read()
    mri = np.frombuffer(raw, np.uint16).reshape(256, 256).astype(float)
    grey = (mri / mri.max() * 255).astype(np.uint8)
    yield "medical", "mri-slice", Image.fromarray(grey).convert("RGB")
    import matplotlib

    yield (
        "medical",
        "mri-slice-bone",
        Image.fromarray(
            (matplotlib.colormaps["bone"](grey / 255.0)[..., :3] * 255).astype(np.uint8)
        ),
    )
    size = 320
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(3):  # fundus: orange disc on black, bright optic disc, dark vessels
        r = np.hypot(xx - 0.5, yy - 0.5)
        disc = np.clip((0.46 - r) * 40, 0, 1)
        base = np.stack([200 - 60 * r, 90 - 50 * r, 30 + 0 * r], -1) * disc[..., None]
        od = np.exp(-(((xx - 0.65 - 0.05 * i) ** 2 + (yy - 0.5) ** 2) / 0.002))
        base += od[..., None] * np.array([55, 120, 90])
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(8):
            pts = [(0.65 * size, 0.5 * size)]
            ang = rng.uniform(0, 2 * math.pi)
            for _ in range(6):
                ang += rng.normal(0, 0.3)
                x, y = pts[-1]
                pts.append((x + 25 * math.cos(ang), y + 25 * math.sin(ang)))
            d.line(pts, fill=(110, 20, 10), width=int(rng.integers(2, 5)))
        yield "medical", f"fundus-synthetic-{i}", img.filter(ImageFilter.GaussianBlur(1))
    for i in range(3):  # H&E-like histology: pink stroma, purple nuclei
        arr = np.ones((size, size, 3)) * np.array([235, 170, 200])
        arr += rng.normal(0, 12, arr.shape)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(150, 400))):
            x, y = rng.uniform(0, size, 2)
            rad = rng.uniform(3, 8)
            d.ellipse((x - rad, y - rad * 0.7, x + rad, y + rad * 0.7), fill=(90, 40, 140))
        yield "medical", f"histology-synthetic-{i}", img.filter(ImageFilter.GaussianBlur(0.8))


def project_pictures() -> Iterator[Named]:
    """The project's own screenshot and report plots."""
    shot = ROOT / "docs" / "screenshot.png"
    if shot.is_file():
        yield "screen", "project-screenshot", Image.open(shot).convert("RGB")
    for plot in sorted((ROOT / "docs" / "plots").glob("*.png")):
        if plot.name != "samples.png":  # a montage of real dermoscopy: not an ordinary picture
            yield "chart", f"project-{plot.stem}", Image.open(plot).convert("RGB")


def folder_pictures(folder: Path, category: str) -> Iterator[Named]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and is_image_path(path):
            try:
                yield category, path.name, open_image(path)
            except ImageLoadError:
                continue


def _fractal(rng: np.random.Generator, size: int, slope: float = 2.0) -> np.ndarray:
    """1/f noise in [0, 1]: the statistics of clouds, terrain, foliage and water."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / size) ** (slope / 2 + 0.5)
    spec = amp * np.exp(2j * np.pi * rng.uniform(size=(size, size)))
    f = np.real(np.fft.ifft2(spec))
    return (f - f.min()) / max(float(np.ptp(f)), 1e-9)


# (name, dark colour, light colour): natural surfaces that are not skin
PALETTES = (
    ("sky", (70, 120, 200), (245, 248, 255)),
    ("grass", (20, 70, 15), (150, 200, 70)),
    ("water", (5, 40, 90), (90, 170, 210)),
    ("rock", (60, 60, 62), (190, 185, 175)),
    ("foliage", (10, 45, 20), (110, 160, 60)),
    ("sand", (150, 120, 70), (240, 220, 170)),
    ("bark", (50, 30, 15), (140, 100, 60)),
    ("snow", (150, 170, 200), (255, 255, 255)),
)


def natural_pictures(rng: np.random.Generator, n: int = 48) -> Iterator[Named]:
    """Natural-looking textures and simple outdoor scenes, made from 1/f noise."""
    size = 256
    for i in range(n):
        name, dark, light = PALETTES[i % len(PALETTES)]
        f = _fractal(rng, size, slope=float(rng.uniform(1.5, 3.0)))
        dark_c, light_c = np.array(dark, float), np.array(light, float)
        rgb = dark_c + (light_c - dark_c) * f[..., None]
        if i % 3 == 2:  # a scene: sky above a horizon, a textured ground below
            sky = PALETTES[0]
            horizon = int(rng.integers(size // 4, 3 * size // 4))
            yy = np.linspace(0, 1, horizon)[:, None, None]
            top = np.array(sky[1], float) * (1 - yy) + np.array(sky[2], float) * yy
            rgb[:horizon] = np.broadcast_to(top, (horizon, size, 3))
        rgb += rng.normal(0, 3, rgb.shape)  # sensor noise, as in any photo
        img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        yield "natural", f"natural-{name}-{i:02d}", img.filter(ImageFilter.GaussianBlur(0.6))


def _flatten(img: Image.Image) -> Image.Image:
    """RGB on white: transparent icons are shown on a light window background."""
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        back = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(back, img).convert("RGB")
    return img.convert("RGB")


def package_pictures(limit: int = 40) -> Iterator[Named]:
    """Pictures inside installed packages (photos, test images, icons), at least 64 px."""
    import sys

    prefix = Path(sys.prefix)
    found = []
    for path in sorted(prefix.rglob("*")):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg") or "sample_data" in path.parts:
            continue  # matplotlib's sample data is shown by photo_pictures already
        try:
            with Image.open(path) as img:
                if min(img.size) >= 64:
                    found.append(path)
        except (OSError, ValueError):
            continue
    step = max(1, len(found) // limit)
    for path in found[::step][:limit]:
        with Image.open(path) as img:
            yield "package", f"package-{path.stem}", _flatten(img)


def ordinary_pictures(seed: int = 0, extra: Sequence[Path] = ()) -> list[Named]:
    """Every ordinary picture of the benchmark, made the same way on every run."""
    rng = np.random.default_rng(seed)
    out: list[Named] = []
    for make in (text_pictures, chart_pictures, screen_pictures, noise_pictures):
        out.extend(make(rng))
    out.extend(gradient_pictures())
    out.extend(photo_pictures(rng))
    out.extend(medical_pictures(rng))
    out.extend(natural_pictures(rng))
    out.extend(package_pictures())
    out.extend(project_pictures())
    for folder in extra:
        out.extend(folder_pictures(Path(folder), f"extra:{Path(folder).name}"))
    return out
