"""Render the main window offscreen to ``docs/screenshot.png`` with the shipped samples.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m docs.screenshot [--scale 1.5] [--out FILE]

Classifies the ISIC sample images in ``assets/samples`` with the shipped model
(``assets/model.tflite``), shows the batch table, and selects the most urgent
row with its heat-map on, as a clinician would see it. No patient data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--scale", type=float, default=1.0, help="UI scale, e.g. 1.5 for 150 %%")
    parser.add_argument("--model", type=Path, help="a .tflite model (card beside it)")
    parser.add_argument("--no-heatmap", action="store_true", help="leave the heat-map off")
    args = parser.parse_args()
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)

    from PySide6.QtCore import QSettings, Qt

    from desktop.qt.app import build_window, create_application, load_classifier, samples_dir
    from desktop.qt.views.batch_table import COL_ALERT

    app = create_application()
    classifier, error = load_classifier(args.model)
    if classifier is None:
        print(f"no usable model: {error}", file=sys.stderr)
        return 1
    samples = samples_dir()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window, controller = build_window(classifier, settings=settings, samples=samples)
        window.resize(round(1180 / args.scale), round(820 / args.scale))
        window.show()

        def settle() -> None:
            controller.image.wait(10_000)
            for _ in range(50):
                app.processEvents()

        controller.open_all_samples()
        controller.runner.wait(30_000)
        settle()
        # The most urgent row (alerts first) in the detail pane, as a clinician sorts it.
        panel = window.batch_panel
        panel.table.sortByColumn(COL_ALERT, Qt.SortOrder.DescendingOrder)
        panel.table.selectRow(0)
        panel.table.setFocus()  # where a clinician browsing the batch has it
        settle()
        controller.image.set_heatmap(not args.no_heatmap)
        settle()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out))
        controller.shutdown()
    print(f"wrote {args.out}" if ok else f"could not write {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
