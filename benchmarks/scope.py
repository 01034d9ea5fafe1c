"""How well the app tells dermoscopy from everything else ("cannot assess: not a dermoscopy image").

Two sides, both measured with the app's own Classifier and card:

* dermoscopy the model should assess: every cached split of a run except ``train``
  (``val`` set the threshold, so it shows the calibration; ``internal_test`` and
  ``holdout``, where present, are images the scope never saw). Target: at least 97 %
  assessable. Per image source too, when the run's ``split.json`` records sources.
* ordinary pictures it must set aside: made here (text, charts, screen-like renderings,
  noise, gradients, synthetic fundus and histology) or shipped by installed packages
  (matplotlib's sample photo and MRI slice, its terrain data rendered as maps, the
  project's own screenshot and plots). Target: at least 95 % rejected. ``--extra DIR``
  adds any folder of ordinary pictures as its own category.

    python -m benchmarks.scope --run runs/<run> [--out benchmarks/scope.json] [--extra DIR]

A run whose card has no ``scope`` block yet gets one fitted in memory from its cached
arrays (``trainer.scope.fit_scope``); nothing in the run is changed. Benchmarks may use
matplotlib; the app never does. Prints a table and writes a JSON result file.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import platform
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from desktop.card import ModelCard, load_card
from desktop.imaging import ImageLoadError, is_image_path, open_image
from desktop.inference import Classifier, Prediction, assess_quality

ROOT = Path(__file__).resolve().parent.parent

ASSESSABLE_MIN = 0.97
REJECT_MIN = 0.95
DEFAULT_OUT = Path(__file__).resolve().parent / "scope.json"

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


def ordinary_pictures(seed: int = 0, extra: Sequence[Path] = ()) -> list[Named]:
    """Every ordinary picture of the benchmark, made the same way on every run."""
    rng = np.random.default_rng(seed)
    out: list[Named] = []
    for make in (text_pictures, chart_pictures, screen_pictures, noise_pictures):
        out.extend(make(rng))
    out.extend(gradient_pictures())
    out.extend(photo_pictures(rng))
    out.extend(medical_pictures(rng))
    out.extend(project_pictures())
    for folder in extra:
        out.extend(folder_pictures(Path(folder), f"extra:{Path(folder).name}"))
    return out


# Dermoscopy --------------------------------------------------------------------------------------
def _sources(run_dir: Path, split: str, kept: np.ndarray | None, n: int) -> list[str] | None:
    """Image source of each cached row, from the run's split.json (None when not recorded)."""
    path = run_dir / "split.json"
    if kept is None or not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text(encoding="utf-8")).get(split) or []
        sources = [row.get("source") if isinstance(row, dict) else None for row in rows]
        out = [sources[int(i)] for i in kept]
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    if len(out) != n or any(s is None for s in out):
        return None
    return [str(s) for s in out]


def dermoscopy_sets(run_dir: Path) -> dict[str, tuple[np.ndarray, list[str] | None]]:
    """Cached preprocessed arrays of every split but ``train``: {split: (x, sources)}."""
    out = {}
    for cache in sorted((run_dir / "cache").glob("*.npz")):
        name = cache.stem
        if name == "train" or name.endswith(".tmp"):
            continue
        with np.load(cache, allow_pickle=False) as z:
            if "x" not in z.files or len(z["x"]) == 0:
                continue
            x = z["x"]
            kept = z["kept"] if "kept" in z.files else None
            given = [str(v) for v in z["source"]] if "source" in z.files else None
        out[name] = (x, given or _sources(run_dir, name, kept, len(x)))
    return out


# Measuring ---------------------------------------------------------------------------------------
def scoped_classifier(run_dir: Path, model: Path | None) -> tuple[Classifier, str]:
    """The run's model with a scope: the card's own, else one fitted in memory from the run."""
    model = model or run_dir / "model.tflite"
    card = load_card(model.with_suffix(".json"))
    run_card = run_dir / "model.json"
    if run_card.is_file() and load_card(run_card).preprocessing != card.preprocessing:
        raise SystemExit(
            f"{model.name} and {run_dir.name} preprocess differently: the run's cached "
            "images do not show what this model sees"
        )
    if card.scope is not None:
        return Classifier(model, card=card), "card"
    from trainer.scope import fit_scope

    block = fit_scope(run_dir, model=model)
    return Classifier(model, card=ModelCard.from_dict({**card.raw, "scope": block})), "fitted"


def _why(pred: Prediction) -> str:
    if pred.assessable:
        return "assessable"
    if pred.quality_issues:
        return "quality"
    return "model" if pred.scope_score is not None and pred.scope_score > 1 else "pixels"


def measure_ordinary(clf: Classifier, pictures: Sequence[Named]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    kept = []
    for category, name, img in pictures:
        pred = clf.predict_image(img, with_cam=False)
        why = _why(pred)
        row = per.setdefault(
            category,
            {"images": 0, "rejected": 0, "by": {}, "alert_without_scope": 0, "assessed": []},
        )
        row["images"] += 1
        row["rejected"] += int(not pred.assessable)
        row["by"][why] = row["by"].get(why, 0) + 1
        row["alert_without_scope"] += int(pred.melanoma_probability >= pred.melanoma_threshold)
        if pred.assessable:
            row["assessed"].append(name)
            kept.append(name)
    total = sum(r["images"] for r in per.values())
    rejected = sum(r["rejected"] for r in per.values())
    for r in per.values():
        r["reject_rate"] = r["rejected"] / r["images"]
    return {
        "images": total,
        "rejected": rejected,
        "reject_rate": rejected / total if total else None,
        "alert_without_scope": sum(r["alert_without_scope"] for r in per.values()),
        "by_category": per,
        "assessed": kept,
    }


def measure_dermoscopy(
    clf: Classifier, sets: dict[str, tuple[np.ndarray, list[str] | None]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split, (x, sources) in sets.items():
        ok = np.zeros(len(x), dtype=bool)
        for i, arr in enumerate(x):
            quality = assess_quality(Image.fromarray(arr), arr)
            ok[i] = clf.predict_array(arr, quality, with_cam=False).assessable
        entry: dict[str, Any] = {"images": len(x), "assessable_rate": float(ok.mean())}
        if sources is not None:
            src = np.array(sources)
            entry["by_source"] = {
                s: {"images": int((src == s).sum()), "assessable_rate": float(ok[src == s].mean())}
                for s in sorted(set(sources))
            }
        out[split] = entry
    return out


def _shown(path: Path) -> str:
    """A path for the result file: relative to the project when inside it, else its name."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def benchmark(run_dir: Path, model: Path | None = None, extra: Sequence[Path] = ()) -> dict:
    clf, origin = scoped_classifier(run_dir, model)
    scope = clf.card.scope
    assert scope is not None
    derm = measure_dermoscopy(clf, dermoscopy_sets(run_dir))
    ordinary = measure_ordinary(clf, ordinary_pictures(extra=extra))
    held_out = {k: v for k, v in derm.items() if k != "val"}
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "run": _shown(run_dir),
        "model": clf.model_name,
        "scope": {
            "origin": origin,
            "method": clf.card.raw.get("scope", {}).get("method") if origin == "card" else None,
            "components": int(scope.components.shape[1]),
            "validation_assessable_rate": scope.validation_assessable_rate,
        },
        "dermoscopy": derm,
        "ordinary": ordinary,
        "targets": [
            {
                "what": f"dermoscopy assessable ({split}) >= {ASSESSABLE_MIN:.0%}",
                "value": entry["assessable_rate"],
                "pass": entry["assessable_rate"] >= ASSESSABLE_MIN,
                "note": "calibration split" if split == "val" else "not used for the fit",
            }
            for split, entry in {**{"val": derm.get("val")}, **held_out}.items()
            if entry is not None
        ]
        + [
            {
                "what": f"ordinary pictures rejected >= {REJECT_MIN:.0%}",
                "value": ordinary["reject_rate"],
                "pass": ordinary["reject_rate"] is not None
                and ordinary["reject_rate"] >= REJECT_MIN,
                "note": f"{ordinary['images']} pictures",
            }
        ],
    }


def format_table(res: dict[str, Any]) -> str:
    lines = [f"Scope benchmark: {res['model']}, run {res['run']} (scope {res['scope']['origin']})"]
    lines.append("")
    lines.append(f"{'dermoscopy split / source':<34} {'images':>7} {'assessable':>11}")
    for split, e in res["dermoscopy"].items():
        lines.append(f"{split:<34} {e['images']:>7} {e['assessable_rate']:>10.1%}")
        for src, s in (e.get("by_source") or {}).items():
            lines.append(f"  {src:<32} {s['images']:>7} {s['assessable_rate']:>10.1%}")
    lines.append("")
    head = f"{'ordinary pictures':<20} {'images':>7} {'rejected':>9}  {'by (model/pixels/quality)':<26}"
    lines.append(head + " alert w/o scope")
    for cat, r in res["ordinary"]["by_category"].items():
        by = r["by"]
        parts = f"{by.get('model', 0)}/{by.get('pixels', 0)}/{by.get('quality', 0)}"
        lines.append(
            f"{cat:<20} {r['images']:>7} {r['reject_rate']:>8.0%}  {parts:<26} "
            f"{r['alert_without_scope']:>5}"
        )
    o = res["ordinary"]
    lines.append(
        f"{'all':<20} {o['images']:>7} {o['reject_rate']:>8.1%}  {'':<26} "
        f"{o['alert_without_scope']:>5}"
    )
    if o["assessed"]:
        lines.append("still assessed: " + ", ".join(o["assessed"]))
    lines.append("")
    for t in res["targets"]:
        verdict = "PASS" if t["pass"] else "FAIL"
        lines.append(f"{verdict}  {t['what']}: {t['value']:.1%} ({t['note']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder with cache/*.npz")
    parser.add_argument("--model", type=Path, help="model (card beside it); default: the run's")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="a folder of ordinary pictures"
    )
    args = parser.parse_args(argv)
    res = benchmark(args.run, args.model, args.extra)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(format_table(res))
    return 0 if all(t["pass"] for t in res["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
