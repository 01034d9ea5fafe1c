"""``python -m trainer analyse``: model analyses of a finished run (not benchmarks).

- ``cues --run RUN``: the cue tests (rim, JPEG q30, sharpen) the trainer runs at the end of
  every run (``trainer.cues.cue_tests``), on the run's saved float model, for runs made
  before they existed.
- ``calibration --run RUN [--model M]``: is a measured ECE distinguishable from perfect
  calibration on this many images? A TFLite model (through the app's own classifier) on one
  split of the run, its top-label ECE next to the spread a perfectly calibrated model with the
  same confidences would show (``trainer.evaluate.ece_sampling_draws``). Every run with the
  same data and seed has the same split, so the shipped model can be checked on any later run.
- ``tta --run RUN [--model M] [--split S]``: the model averaged over flips and quarter turns
  (test-time augmentation) against the plain model, on one split: worth doing in the app?
- ``compare RUN [RUN ...]``: a Markdown table of runs per split and source (stdout).

Each prints one JSON object on stdout (``compare``: a Markdown table). Splits are read by the trainer's one reader and
loader (``trainer.data.load_run_split``). TensorFlow is imported only by
``cues``, and only after the arguments have been checked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from trainer.run_folder import RunFileMissing, RunFolder


class AnalyseError(Exception):
    """A run folder or model that cannot be analysed (a usage error: exit 2)."""


def _need(folder: RunFolder, *paths: Path) -> RunFolder:
    """``folder`` if it and ``paths`` exist, else a message naming what is missing (before
    any slow import)."""
    try:
        folder.need(*paths)
    except RunFileMissing as exc:
        raise AnalyseError(f"{exc.what} not found: {exc.path}") from None
    return folder


def cues(run: Path) -> dict[str, Any]:
    """The cue-test figures of ``run``'s saved float model on its internal test split."""
    folder = RunFolder(run)
    _need(folder, folder.config, folder.card, folder.split, folder.model_keras)

    import keras

    from trainer.cues import cue_tests
    from trainer.data import load_run_split
    from trainer.model_spec import ModelParts  # also registers the custom layers in .keras
    from trainer.train import preprocessing_for

    config = folder.read_config()
    classes = tuple(folder.read_card()["classes"])
    x, y, _ = load_run_split(  # the run's own cache, as the run made it
        run,
        "internal_test",
        classes,
        preprocessing_for(config),
        folder.cache("internal_test"),
    )
    model = keras.models.load_model(folder.model_keras, compile=False)
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    parts = ModelParts(model=model, backbone=backbone, head=model.get_layer("logits"))
    return cue_tests(parts, x, y, classes)


def _split_as_app_sees_it(run: Path, model: Path, split: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """The app's classifier for ``model`` and one split of ``run`` decoded with that model's
    preprocessing, into a temporary cache (the run folder is never written to)."""
    folder = RunFolder(run)
    _need(folder, folder.split)
    if not model.exists():
        raise AnalyseError(f"model not found: {model}")

    from desktop.inference import Classifier, ModelLoadError
    from trainer.data import load_run_split

    try:
        clf = Classifier(model)
    except ModelLoadError as exc:
        raise AnalyseError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="lesionlens-analyse-") as tmp:
        pre, cache = clf.card.preprocessing, Path(tmp) / f"{split}.npz"
        x, y, _ = load_run_split(run, split, clf.card.classes, pre, cache)
    if not len(y):
        raise AnalyseError(f"no readable images in split {split!r} of {run}")
    return clf, x, y


def calibration(run: Path, model: Path, split: str, target: float) -> dict[str, Any]:
    """ECE of ``model`` on one split of ``run`` and where it falls among calibrated draws."""
    if not 0 < target < 1:
        raise AnalyseError(f"--target must be between 0 and 1, got {target}")
    from trainer.evaluate import ece_sampling_draws, expected_calibration_error

    clf, x, y = _split_as_app_sees_it(run, model, split)
    probs = np.stack([clf.run(img)[0] for img in x])
    measured = expected_calibration_error(probs, y)
    draws = ece_sampling_draws(probs, draws=2000)
    return {
        "model": str(model),
        "split": split,
        "images": len(y),
        "accuracy": float((probs.argmax(1) == y).mean()),
        "ece": measured,
        "calibrated_ece_percentiles_5_50_95": np.percentile(draws, [5, 50, 95]).round(4).tolist(),
        "share_of_calibrated_draws_at_or_below_target": float((draws <= target).mean()),
        "share_of_calibrated_draws_at_or_above_measured": float((draws >= measured).mean()),
        "target": target,
    }


def tta(run: Path, model: Path, split: str) -> dict[str, Any]:
    """Would averaging the model over flips and quarter turns (test-time augmentation) help?

    Per set of views: accuracy, balanced accuracy and melanoma ROC AUC of the mean of the
    calibrated probabilities. The app does not do this; the figures say whether it should.
    """
    from desktop.imaging import VIEW_SETS, model_views
    from trainer.evaluate import balanced_accuracy, roc_auc

    clf, x, y = _split_as_app_sees_it(run, model, split)
    mel, k = clf.card.melanoma_index, clf.card.num_classes
    # Single forward passes (Classifier.run), whatever views the model's own card asks for.
    per_image = [[clf.run(v)[0] for v in model_views(img, "dihedral")] for img in x]
    views = {
        name: np.stack([p[i] for p in per_image]) for i, name in enumerate(VIEW_SETS["dihedral"])
    }
    out: dict[str, Any] = {"model": str(model), "split": split, "images": len(y)}
    out["melanomas"] = int((y == mel).sum())
    for name, keys in VIEW_SETS.items():
        probs = np.mean([views[v] for v in keys], axis=0)
        pred = probs.argmax(1)
        auc = roc_auc(probs[:, mel], y == mel)
        out[name] = {
            "views": len(keys),
            "accuracy": float((pred == y).mean()),
            "balanced_accuracy": balanced_accuracy(y, pred, k),
            "melanoma_roc_auc": None if auc is None else float(auc),
        }
    return out


def compare(runs: list[Path]) -> str:
    """A Markdown table of runs, per split and source, from each run's ``report.json``.

    The figures a recipe is chosen on: melanoma ROC AUC and the alert's sensitivity and
    specificity per source, with the held-out source (``holdout``) the out-of-source check.
    """
    rows = [
        "| run | split | source | images | melanomas | balanced acc. | melanoma ROC AUC | mel. sens. | mel. spec. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        folder = RunFolder(run)
        report = _need(folder, folder.report_json).read_report()
        for split in ("val", "internal_test", "holdout", "test"):
            ev = report["evaluations"].get(split)
            if not ev:
                continue
            for source, v in sorted((ev.get("by_source") or {}).items()):
                m = v["melanoma"]
                auc = "n/a" if m.get("roc_auc") is None else f"{m['roc_auc']:.3f}"
                rows.append(
                    f"| {run.name} | {split} | {source} | {v['images']} | {v['melanomas']} | "
                    f"{v['balanced_accuracy']:.3f} | {auc} | {m['sensitivity']:.3f} | {m['specificity']:.3f} |"
                )
    return "\n".join(rows)


def add_parser(sub: Any) -> None:
    """The ``analyse`` subcommand and its analyses, on the trainer's subparsers."""
    from desktop.inference import DEFAULT_MODEL

    analyse = sub.add_parser("analyse", help="model analyses of a finished run (JSON on stdout)")
    kinds = analyse.add_subparsers(dest="analysis", required=True)
    c = kinds.add_parser("cues", help="cue tests (rim, JPEG q30, sharpen) on the float model")
    c.add_argument("--run", type=Path, required=True, help="the run folder")
    cal = kinds.add_parser(
        "calibration", help="measured ECE against the spread of a perfectly calibrated model"
    )
    cal.add_argument("--run", type=Path, required=True, help="a run whose split.json to use")
    cal.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="TFLite model (default: the shipped one)"
    )
    cal.add_argument("--split", default="internal_test", help="split name (default: internal_test)")
    cal.add_argument("--target", type=float, default=0.05, help="ECE target (default: 0.05)")
    t = kinds.add_parser("tta", help="would averaging over flips and quarter turns help?")
    t.add_argument("--run", type=Path, required=True, help="a run whose split.json to use")
    t.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="TFLite model (default: the shipped one)"
    )
    t.add_argument("--split", default="internal_test", help="split name (default: internal_test)")
    cmp_ = kinds.add_parser("compare", help="Markdown table of runs per split and source")
    cmp_.add_argument("runs", type=Path, nargs="+", help="run folders")


def main(args: argparse.Namespace) -> int:
    """Run the chosen analysis; 0 done, 2 for a missing run, file or bad value."""
    try:
        if args.analysis == "compare":
            print(compare(args.runs))
            return 0
        if args.analysis == "cues":
            result = cues(args.run)
        elif args.analysis == "tta":
            result = tta(args.run, args.model, args.split)
        else:
            result = calibration(args.run, args.model, args.split, args.target)
    except AnalyseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0
