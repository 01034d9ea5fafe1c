"""Command line: argument parsing, ``--classify`` and ``--self-check``.

Qt-free on purpose: classifying from a script must start fast and work on a
machine with no display, so nothing here (or below it) imports PySide6. Stdout
carries only the requested output; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from desktop import APP_NAME, __version__, verdict
from desktop.batch import classify_paths
from desktop.card import ModelCard
from desktop.front_door import (
    ClassifierFactory,
    Exit,
    exit_help,
    load_model,
    native_stdout_to_stderr,
    reader_left,
)
from desktop.imaging import IMAGE_EXTENSIONS
from desktop.results import ImageResult, SupportsClassify, classify_image, expand_paths

DISCLAIMER = "Decision aid, not a diagnosis."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lesionlens",
        description=f"{APP_NAME}: offline skin-lesion classifier. {DISCLAIMER}",
        epilog="Without --classify or --self-check the window opens, showing PATHs if given. "
        + exit_help(
            {
                Exit.OK: "every image was read",
                Exit.MODEL: "model cannot be loaded",
                Exit.USAGE: "usage error",
                Exit.SOME_FAILED: "some images could not be read or no images were found",
            }
        )
        + " "
        # __main__ hands these two to their own parsers before this one runs.
        "Other commands: 'lesionlens history ...' keeps patients' lesions and visits "
        "(add, show, export, backup, check...; see 'lesionlens history --help'), and "
        "'lesionlens adapt ...' fits the model to this clinic's labelled images "
        "(see 'lesionlens adapt --help').",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image files or folders")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--classify", action="store_true", help="classify PATHs without opening a window"
    )
    mode.add_argument(
        "--self-check",
        action="store_true",
        help="load the model, check it against its card's seal (hash, check images), exit",
    )
    parser.add_argument(
        "--json", action="store_true", help="with --classify: print one JSON array on stdout"
    )
    parser.add_argument(
        "--model",
        type=Path,
        metavar="FILE.tflite",
        help="model to use instead of the bundled one (its .json card must sit beside it)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the window's lesion-history case store (default: $LESIONLENS_DATA_DIR, else the "
        "per-user app-data folder); `history` commands take their own --data-dir",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check combinations; usage errors exit with status 2 (argparse's convention)."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    if args.json and not args.classify:
        parser.error("--json only applies to --classify")
    if args.classify and not args.paths:
        parser.error("--classify needs at least one image file or folder")
    if args.self_check and args.paths:
        parser.error("--self-check takes no PATH")
    if args.data_dir is not None and (args.classify or args.self_check):
        parser.error(
            "--data-dir is the window's case store; --classify and --self-check store nothing"
        )
    return args


def _table_row(r: ImageResult, width: int, card: ModelCard | None = None) -> str:
    """One line per image; the ALERT column uses the verdict's words, as the window does."""
    name = r.name if len(r.name) <= width else "\u2026" + r.name[-(width - 1) :]
    if r.prediction is None:
        return f"{name:<{width}}  UNREADABLE: {_without_name(r.error or '', r.name)}"
    p = r.prediction
    if not p.assessable:
        reasons = "; ".join(p.cannot_assess_reasons)
        return f"{name:<{width}}  CANNOT ASSESS: {reasons}"
    shown = verdict.shown_class(p)[0]  # the benign keratoses as one, as the window
    label = ("? " if verdict.is_uncertain(p) else "") + shown
    # As the window's bars round them (NBSP before '%' turned into a plain space for terminals).
    probability, melanoma = (t.replace(verdict.NBSP, " ") for t in verdict.shown_percent_texts(p))
    alert = verdict.table_alert(verdict.verdict_of(r, card))
    return f"{name:<{width}}  {label:<28} {probability:>7}  {melanoma:>11}  {alert}"


def _without_name(reason: str, name: str) -> str:
    """'x.jpg: file is empty' -> 'file is empty' (the row already names the file)."""
    prefix = f"{name}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def classify(
    paths: Sequence[str | os.PathLike[str]],
    *,
    as_json: bool,
    model: Path | None = None,
    factory: ClassifierFactory | None = None,
    out: TextIO | None = None,
) -> int:
    """Classify files and folders; returns the exit status (0, 1 or 3)."""
    out = out if out is not None else sys.stdout
    classifier, _ = load_model(model, factory)
    if classifier is None:
        return Exit.MODEL
    files = expand_paths(paths)
    if not files:
        print(
            f"{APP_NAME}: no image files found in the given paths "
            f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})",
            file=sys.stderr,
        )
        if as_json:
            out.write("[]\n")  # still valid JSON for a script reading stdout
            out.flush()
        return Exit.SOME_FAILED
    results: list[ImageResult] = []
    if as_json:  # nothing on stdout before the array: native output goes to stderr all along
        with native_stdout_to_stderr():
            results = list(classify_paths(classifier, files, with_cam=False, processes=True))
    else:
        width = min(max([len(f.name) for f in files] + [4]), 40)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()  # runtime start-up lines (already written) stay above the table
        print(
            f"{'FILE':<{width}}  {'TOP CLASS':<28} {'PROB':>7}  {'MELANOMA':>11}  ALERT", file=out
        )
        for r in _classified(classifier, files):
            results.append(r)
            print(_table_row(r, width, classifier.card), file=out, flush=True)
    failed = sum(1 for r in results if r.prediction is None)
    if as_json:
        json.dump([r.to_json() for r in results], out, indent=2, allow_nan=False)
        out.write("\n")
        out.flush()
    else:
        not_assessed = sum(1 for r in results if r.alert_level == verdict.CANNOT_ASSESS)
        alerts = verdict.count_words(r.alert_level for r in results)
        classified = len(results) - failed - not_assessed
        print(
            f"\n{len(results)} image(s): {classified} classified ({alerts}), "
            f"{not_assessed} could not be assessed, {failed} unreadable. "
            f"Model: {classifier.model_name}. {DISCLAIMER} '?' marks an uncertain result.",
            file=out,
        )
    return Exit.SOME_FAILED if failed else Exit.OK


def _classified(classifier: SupportsClassify, files: Sequence[Path]) -> Iterator[ImageResult]:
    """Results in file order, the next files worked on meanwhile on every core; no heat-maps
    (nothing here shows them). Native output while waiting for each goes to stderr."""
    results = classify_paths(classifier, files, with_cam=False, processes=True)
    while True:
        with native_stdout_to_stderr():
            r = next(results, None)
        if r is None:
            return
        yield r


def synthetic_lesion(size: int = 320) -> Image.Image:
    """A brown blob on skin tone: enough texture to pass the image-quality checks."""
    img = Image.new("RGB", (size, size), (224, 180, 150))
    draw = ImageDraw.Draw(img)
    c = size // 2
    for i, r in enumerate(range(size // 3, 0, -max(1, size // 24))):
        shade = 150 - i * 10
        draw.ellipse((c - r, c - r * 0.8, c + r, c + r * 0.8), fill=(shade, shade * 2 // 3, 50))
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 8, (size, size, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="RGB").filter(ImageFilter.GaussianBlur(1))


def _version_of(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "unknown"


def self_check(
    *,
    model: Path | None = None,
    factory: ClassifierFactory | None = None,
    out: TextIO | None = None,
) -> int:
    """Load model and card, classify a synthetic image, print versions; 0 or 1."""
    out = out if out is not None else sys.stdout
    print(f"{APP_NAME} {__version__} self-check", file=out)
    print(
        f"  python {platform.python_version()} ({platform.system()} {platform.machine()}), "
        f"numpy {np.__version__}, Pillow {Image.__version__}, "
        f"ai-edge-litert {_version_of('ai-edge-litert')}",
        file=out,
    )
    classifier, reason = load_model(model, factory)
    if classifier is None:
        print(f"FAILED: the model or its card could not be loaded: {reason}", file=out)
        return Exit.MODEL
    card = classifier.card
    print(
        f"  model: {classifier.model_name}; {card.num_classes} classes; "
        f"input {card.input_size}x{card.input_size}; "
        f"melanoma alert at {verdict.percent(card.melanoma_threshold)}",
        file=out,
    )
    try:
        start = time.perf_counter()
        with native_stdout_to_stderr():
            result = classify_image(classifier, synthetic_lesion(), name="synthetic")
        elapsed = (time.perf_counter() - start) * 1000
        pred = result.prediction
        if pred is None:
            raise RuntimeError(result.error or "no prediction")
        total = float(np.sum(pred.probabilities))
        if not np.all(np.isfinite(pred.probabilities)) or abs(total - 1.0) > 1e-4:
            raise RuntimeError(f"probabilities are not a distribution (sum {total:.6f})")
        if len(pred.probabilities) != card.num_classes:
            raise RuntimeError("model returned a different number of classes than the card")
    except Exception as exc:
        print(f"FAILED: classifying a synthetic image: {exc}", file=out)
        return Exit.MODEL
    answer = (
        f"{pred.label} {verdict.percent(pred.top_probability, 1)}"
        if pred.assessable
        else "cannot assess (" + "; ".join(pred.cannot_assess_reasons) + ")"
    )
    scope = "fitted" if card.scope is not None else "pixel checks only"
    print(
        f"  synthetic image: {answer}, {elapsed:.0f} ms, probabilities sum {total:.6f}, "
        f"heat-map {'yes' if result.cam is not None else 'no'}; dermoscopy check: {scope}",
        file=out,
    )
    if not _check_seal(classifier, out) or not _check_registration(out):
        return Exit.MODEL
    print(f"  TensorFlow loaded: {'yes' if 'tensorflow' in sys.modules else 'no'}", file=out)
    print("OK", file=out)
    return Exit.OK


def _check_seal(classifier: SupportsClassify, out: TextIO) -> bool:
    """The card's seal (desktop.integrity): the model file's hash, then the check images
    through the app's own path, so a swapped class list or a changed preprocessing setting
    fails here. One line either way; False on a mismatch. An unsealed (older) card passes
    with a warning on stderr."""
    from desktop.integrity import IntegrityError, verify_check_images, verify_model_file

    seal = getattr(classifier.card, "integrity", None)
    if seal is None:
        print(
            f"{APP_NAME}: warning: the model card has no integrity seal (an older card): "
            "the model file's hash and the check images are not verified",
            file=sys.stderr,
        )
        print("  integrity: not sealed (older card)", file=out)
        return True
    try:
        path = getattr(classifier, "model_path", None)
        if path is not None:
            verify_model_file(seal, path)
        with native_stdout_to_stderr():
            worst = verify_check_images(classifier, seal)  # type: ignore[arg-type]
    except (IntegrityError, OSError) as exc:
        print(f"FAILED: the model does not match its card: {exc}", file=out)
        return False
    print(
        f"  integrity: model file SHA-256 matches the card; {len(seal.check_images)} check "
        f"images match (largest difference {worst:.5f}, limit {seal.tolerance:g})",
        file=out,
    )
    return True


def _check_registration(out: TextIO) -> bool:
    """Aligning two visits of a lesion needs OpenCV: a bundle without it (or with a broken
    build) fails here, not in front of a patient. One line either way (about 0.1 s)."""
    try:
        from desktop.registration import self_check as registration_check

        line = registration_check()
    except Exception as exc:  # ImportError from a bundle without OpenCV, or a wrong answer
        print(f"FAILED: aligning two photos of a lesion: {exc}", file=out)
        return False
    print(f"  alignment of visits: {line}", file=out)
    return True


def run(args: argparse.Namespace, factory: ClassifierFactory | None = None) -> int:
    """Dispatch a parsed command line that does not need a window."""
    try:
        if args.self_check:
            return self_check(model=args.model, factory=factory)
        return classify(args.paths, as_json=args.json, model=args.model, factory=factory)
    except BrokenPipeError:
        return reader_left()
