"""Render the main window offscreen to ``docs/screenshot.png``.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshot.py [--scale 1.5] [--out FILE]

Uses the shipped model when ``assets/model.tflite`` loads; otherwise a clearly
labelled demo classifier with fixed probabilities, so the layout can be
reviewed before a model exists. Images are synthetic (no patient data).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402


def synthetic_dermoscopy(size: int = 600, seed: int = 1, dark: float = 1.0) -> Image.Image:
    """A round dermoscopy-like field: skin, an irregular pigmented lesion, a dark vignette."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    angle = np.arctan2(yy, xx)
    radius = np.sqrt(xx**2 + yy**2)
    wobble = 0.2 + 0.03 * np.sin(3 * angle + seed) + 0.02 * np.sin(7 * angle + 2 * seed)
    lesion = np.clip((wobble - radius) / 0.04, 0, 1)
    core = np.clip((wobble * 0.55 - radius) / 0.05, 0, 1)
    skin = np.array([214, 160, 140], dtype=np.float32)
    brown = np.array([130, 80, 55], dtype=np.float32) * (1.1 - 0.3 * dark)
    darker = np.array([70, 40, 35], dtype=np.float32) * (1.2 - 0.4 * dark)
    img = skin * (1 - lesion[..., None]) + brown * lesion[..., None]
    img = img * (1 - core[..., None] * dark) + darker * core[..., None] * dark
    img += rng.normal(0, 9, img.shape)
    vignette = np.clip((0.5 - radius) / 0.06, 0, 1)[..., None]
    img = np.clip(img * vignette, 0, 255).astype(np.uint8)
    return Image.fromarray(img, mode="RGB").filter(ImageFilter.GaussianBlur(1.2))


class DemoClassifier:
    """Fixed answers per image size, for the screenshot only (never used by the app)."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from fakes import FakeClassifier, make_card, probs_for

        card = make_card(
            threshold=0.3,
            min_top=0.5,
            size=128,
            metrics={"balanced_accuracy": 0.0, "note": "DEMO CARD - not a trained model"},
        )
        classes = card.classes
        self._fake = FakeClassifier(
            probabilities=probs_for(classes, nevus=0.82, melanoma=0.06),
            card=card,
            by_size={
                (600, 600): probs_for(
                    classes, melanoma=0.61, nevus=0.22, seborrheic_keratosis=0.07
                ),
                (580, 580): probs_for(classes, nevus=0.55, melanoma=0.24),
                (560, 560): probs_for(classes, pigmented_benign_keratosis=0.38, nevus=0.30),
            },
        )
        self.card = card

    @property
    def model_name(self) -> str:
        return "DEMO (no trained model installed)"

    def predict_image(self, img, with_cam: bool = True):
        return self._fake.predict_image(img, with_cam)

    def predict_file(self, path, with_cam: bool = True):
        return self._fake.predict_file(path, with_cam)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--scale", type=float, default=1.0, help="UI scale, e.g. 1.5 for 150 %%")
    parser.add_argument("--demo", action="store_true", help="use the demo classifier")
    parser.add_argument("--model", type=Path, help="a .tflite model (card beside it)")
    parser.add_argument("--heatmap", action="store_true", help="show the heat-map overlay")
    args = parser.parse_args()
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)

    from PySide6.QtCore import QSettings, Qt

    from desktop.qt.app import build_window, create_application, load_classifier

    app = create_application()
    classifier, error = (None, "demo requested") if args.demo else load_classifier(args.model)
    if classifier is None:
        print(f"no usable model ({error}); using the demo classifier", file=sys.stderr)
        classifier = DemoClassifier()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clinic-session"
        folder.mkdir()
        for name, size, seed, dark in (
            ("patient-017-back.jpg", 600, 3, 1.0),
            ("patient-017-arm.jpg", 580, 5, 0.6),
            ("patient-018-leg.jpg", 560, 7, 0.4),
            ("patient-019-shoulder.jpg", 520, 9, 0.2),
        ):
            # PNG keeps the exact size the demo classifier keys its answers on.
            synthetic_dermoscopy(size, seed, dark).save(folder / name.replace(".jpg", ".png"))
        (folder / "scan-damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window, controller = build_window(classifier, settings=settings)
        window.resize(round(1180 / args.scale), round(820 / args.scale))
        window.show()
        controller.open_paths([folder])
        controller.runner.wait(30_000)
        for _ in range(50):
            app.processEvents()
        controller.display_loader.wait(10_000)
        for _ in range(50):
            app.processEvents()
        # Show the alert case (the row with the highest alert) in the detail pane.
        panel = window.batch_panel
        panel.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
        ok_rows = [i for i, r in enumerate(panel.results_in_view_order()) if r.ok]
        panel.table.selectRow(ok_rows[0] if ok_rows else 0)
        controller.display_loader.wait(10_000)
        for _ in range(50):
            app.processEvents()
        if args.heatmap:
            controller.set_heatmap(True)
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out))
        controller.shutdown()
    print(f"wrote {args.out}" if ok else f"could not write {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
