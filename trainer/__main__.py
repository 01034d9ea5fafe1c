"""``python -m trainer``: train (default), ``audit``, ``scope``, ``export``, ``general``, ``analyse``,
``operating-points`` or ``samples``.

Thin: argparse -> config -> run."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from desktop.imaging import VIEW_SETS
from trainer import analyse, operating_points, samples
from trainer.config import ARCHS, QUANTIZATIONS, STRATEGIES, TrainConfig, help_of
from trainer.general import CALIBRATION
from trainer.general import SIZE as GENERAL_SIZE
from trainer.general import STYLE as GENERAL_STYLE
from trainer.run_folder import RunFileMissing, RunFolder


def _add_config_options(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name in ("data", "out"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        kwargs: dict = {"default": default, "help": f"{f.metadata['help']} (default: {default})"}
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
        p.add_argument("--data", action="append", help=help_of("data"))
        p.add_argument("--out", help=help_of("out"))
        p.add_argument(
            "--resume", metavar="RUN", help="continue an interrupted run from its last checkpoint"
        )
        _add_config_options(p)
    audit = sub.add_parser(
        "audit", help="report counts, corrupt files, duplicates, label conflicts and leakage"
    )
    audit.add_argument("--data", action="append", required=True, help=help_of("data"))
    audit.add_argument("--label-map", default="", help=help_of("label_map"))
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
    general = sub.add_parser(
        "general",
        help="export the general-purpose network the dermoscopy decision reads, beside a card",
    )
    general.add_argument("--card", default="assets/model.json", help="the card to add it to")
    general.add_argument(
        "--size", type=int, default=GENERAL_SIZE, help="its input side (the views shrink to it)"
    )
    general.add_argument(
        "--calibrate",
        action="append",
        default=[],
        metavar="FOLDER",
        help=f"full int8, its ranges set on {CALIBRATION} images of each such folder (read only); "
        "without it, float16 weights",
    )
    general.add_argument(
        "--style",
        nargs="*",
        default=list(GENERAL_STYLE),
        metavar="LAYER",
        help="inner layers whose spread per channel the decision also reads "
        "(default: %(default)s; none: the pooled features only)",
    )
    analyse.add_parser(sub)
    operating_points.add_parser(sub)
    samples.add_parser(sub)
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
    lines.extend(_format_conflicts_and_overlap(summary))
    lines.append("")
    for c, n in summary["per_class"].items():
        lines.append(f"  {c:<30} {n:>6}")
    return "\n".join(lines)


def _format_conflicts_and_overlap(summary: dict) -> list[str]:
    """The audit's first two figures: one image under two classes, and a source's own
    Test/ images that are also in its Train/ (its published split leaks)."""
    conflicts = summary.get("conflicting_labels", [])
    overlap = summary.get("train_test_overlap", [])
    near = sum(o["by"] == "near-duplicate" for o in overlap)
    left_out = sum(c["resolved"] is None for c in conflicts)
    lines = [
        f"images filed under different classes:      {len(conflicts)}"
        f" ({left_out} left out, {len(conflicts) - left_out} resolved by label precedence)",
        f"Test images also in their source's Train:  {len(overlap)}"
        f" ({near} only as near-duplicates; kept out of training)",
    ]
    for c in conflicts[:10]:
        files = " | ".join(f"{f['source']}/{f['file']}: {f['class']}" for f in c["files"])
        lines.append(f"  conflict: {files} -> {c['resolved'] or 'left out'}")
    for o in overlap[:10]:
        lines.append(
            f"  overlap ({o['by']}): {o['source']}/{', '.join(o['test'])} = {', '.join(o['train'])}"
        )
    return lines


def _train_config(args: argparse.Namespace) -> TrainConfig | None:
    """The configuration to train (None after an error message); sets ``args.resume`` when
    the run continues an interrupted one."""
    if args.resume:
        try:
            return RunFolder(args.resume).read_config().replace(out=str(Path(args.resume)))
        except RunFileMissing as exc:
            print(f"error: cannot resume: {exc}", file=sys.stderr)
            return None
    if not args.data:
        print("error: --data is required to train", file=sys.stderr)
        return None
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    values["data"], values["out"] = args.data, args.out or ""
    try:
        config = TrainConfig(**values)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    found = _interrupted(config)
    if found is False:
        return None
    args.resume = config.out if found else None
    return config


def _interrupted(config: TrainConfig) -> bool | None:
    """An interrupted fit in ``--out`` is never started again from scratch: the same settings
    continue it (True, as ``--resume`` would: ``make train`` run again picks up where it
    stopped), other settings are refused (False) rather than overwrite its checkpoints; None:
    no interrupted fit there."""
    if not config.out:
        return None
    folder = RunFolder(config.out)
    epoch = folder.interrupted_epoch()
    if epoch is None:
        return None
    if folder.same_settings(config):
        print(f"[trainer] {config.out} stopped after epoch {epoch}: continuing it", file=sys.stderr)
        return True
    print(
        f"error: {config.out} holds an interrupted run (epoch {epoch}) with other settings; "
        f"continue it with --resume {config.out}, or train into another --out (nothing was "
        "changed)",
        file=sys.stderr,
    )
    return False


def _general(args: argparse.Namespace) -> int:
    """``general``: the general network exported beside the card, its block into the card."""
    from trainer.general import install as install_general

    try:
        block, gave_way = install_general(
            Path(args.card),
            args.size,
            [Path(f) for f in args.calibrate],
            style=tuple(args.style),
        )
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if gave_way:
        print(
            "the card's two-sided scope read another width of the general network: it gives "
            "way to its one-sided distance until python -m benchmarks.scope fits it again",
            file=sys.stderr,
        )
    print(json.dumps(block, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "analyse":
        return analyse.main(args)
    if args.command == "operating-points":
        return operating_points.main(args)
    if args.command == "samples":
        return samples.main(args)
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
    if args.command == "general":
        return _general(args)
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

    config = _train_config(args)
    if config is None:
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
