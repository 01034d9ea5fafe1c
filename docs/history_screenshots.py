"""Screenshots of the lesion-history dialogs on a 1366x768 screen, and a check that each fits.

    make screenshots        # 100 % and 150 % under Xvfb, into docs/screenshots/
    xvfb-run -s "-screen 0 1366x768x24" .venv/bin/python -m docs.history_screenshots --scale 1.5

A case store in a temporary folder gets one lesion photographed three times: a shipped
sample (assets/samples) and the same photo turned, zoomed and moved, as a later visit
taken at another angle would be. The shipped model classifies them. Then the timeline
(later visit aligned onto the earlier one), the case browser and Save to case are opened
as a clinician would, and the whole screen is saved for each. Exit status 1 when a dialog,
or one of its buttons, lies outside the screen's available area. No patient data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATER = ((0.0, 1.0, (0, 0)), (8.0, 1.06, (18, -10)), (-12.0, 0.94, (-20, 14)))


def _visits(folder: Path) -> list[Path]:
    """The sample and two 'later visits' of it (turned, zoomed, moved)."""
    import cv2
    import numpy as np
    from PIL import Image

    from desktop.samples import sample_of

    sample = sample_of(ROOT / "assets" / "samples", "melanoma")
    photo = np.asarray(Image.open(sample).convert("RGB"))
    h, w = photo.shape[:2]
    out = []
    for i, (degrees, scale, shift) in enumerate(LATER):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
        m[:, 2] += shift
        moved = cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        out.append(folder / f"visit-{i + 1}.jpg")
        Image.fromarray(moved).save(out[-1], quality=92)
    return out


def _fits(dialog, area) -> list[str]:
    """What lies outside ``area``: the dialog's frame, or any of its buttons."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QAbstractButton

    problems = []
    if not area.contains(dialog.frameGeometry()):
        problems.append(f"{type(dialog).__name__} {dialog.frameGeometry()} outside {area}")
    for b in dialog.findChildren(QAbstractButton):
        if b.isVisible():
            corner = b.mapToGlobal(QPoint(b.width() - 1, b.height() - 1))
            if not area.contains(b.mapToGlobal(QPoint(0, 0))) or not area.contains(corner):
                problems.append(f"button {b.text()!r} off the screen")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="UI scale, e.g. 1.5 for 150 %%")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication

    from desktop.history.service import History, model_info
    from desktop.history.store import Store
    from desktop.qt.app import build_window, create_application, load_classifier
    from desktop.results import classify_path

    app = create_application()
    classifier, error = load_classifier(None)
    if classifier is None:
        print(f"no usable model: {error}", file=sys.stderr)
        return 1
    tag = f"{round(args.scale * 100)}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cases"
        os.environ["LESIONLENS_DATA_DIR"] = str(data)
        files = _visits(Path(tmp))
        with Store.open(data) as store:
            history = History(store)
            for i, f in enumerate(files):
                result = classify_path(classifier, f)
                history.add_visit("DEMO-1", "left shoulder", f, result, model_info(classifier),
                                  site="posterior torso", taken=f"2025-0{2 * i + 1}-10")  # fmt: skip
            lesion_id = history.show("DEMO-1")["lesions"][0]["id"]
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window, controller = build_window(classifier, settings=settings, samples=None)
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        window.showMaximized()

        def settle(rounds: int = 60) -> None:
            for _ in range(rounds):
                controller.history.pool.waitForDone(100)
                app.processEvents()

        def shoot(name: str, dialog) -> None:
            settle()
            problems.extend(_fits(dialog, area))
            screen.grabWindow(0).save(str(args.out_dir / f"{name}-{tag}.png"))
            dialog.reject()
            settle(5)

        shoot("timeline", controller.history.open_timeline(lesion_id))
        shoot("cases", controller.history.open_cases())
        controller.open_paths([files[0]])
        controller.runner.wait(30_000)
        settle()
        shoot("save-to-case", controller.history.save_to_case())
        controller.shutdown()
        controller.history.shutdown()
    print(f"screen {area.width()}x{area.height()} logical at {tag} %: wrote {args.out_dir}")
    for line in problems:
        print(f"DOES NOT FIT: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
