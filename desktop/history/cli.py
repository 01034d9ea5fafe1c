"""``python -m desktop history …``: the case store for scripts, tests and the command line.

Same conventions as ``--classify``: stdout carries only the requested output
(JSON where asked), messages go to stderr as one line each. Exit status:
0 done, 1 the model cannot be loaded, 2 usage error or unknown patient/lesion/visit,
3 some images could not be read (the others were stored), 4 the case store
cannot be used (damaged, newer version, read-only or full disk) or a stored
photo does not match its SHA-256. Reading commands (show, patients, export,
check) work on a store that can only be read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from desktop import APP_NAME
from desktop.history.images import SourceError
from desktop.history.service import (
    BODY_SITES,
    PHOTO_WORDS,
    RECOVERED_LESION,
    RECOVERED_PATIENT,
    History,
    HistoryError,
    check_date,
    check_lesion,
    check_patient,
    check_site,
    describe,
    model_info,
)
from desktop.history.store import ENV_DATA_DIR, Store, StoreError, default_data_dir
from desktop.history.transfer import PdfWriter

EXIT_OK = 0
EXIT_MODEL = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_STORE = 4

PROG = "lesionlens history"


def _parent() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"case store folder (default: ${ENV_DATA_DIR}, else {default_data_dir()})",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _parent()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=f"{APP_NAME} lesion history: patients, lesions, visits and results in a "
        "local database. Decision aid, not a diagnosis.",
        epilog="Exit status: 0 done, 1 model cannot be loaded, 2 usage error or unknown "
        "patient, 3 some images unreadable (others stored), 4 case store unusable.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = sub.add_parser(
        "add", parents=[common], help="classify images and store them as visits of one lesion"
    )
    add.add_argument("--patient", required=True, metavar="ID", help="pseudonymous patient id")
    add.add_argument("--lesion", required=True, metavar="NAME", help='e.g. "left shoulder 1"')
    add.add_argument("--site", metavar="SITE", help="body site: " + ", ".join(BODY_SITES))
    add.add_argument("--date", metavar="YYYY-MM-DD", help="date the photo was taken (today)")
    add.add_argument("--note", default="", help="clinician note for these visits")
    add.add_argument("--model", type=Path, metavar="FILE.tflite", help="model to classify with")
    add.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")

    show = sub.add_parser("show", parents=[common], help="a patient's lesions, visits, results")
    show.add_argument("--patient", required=True, metavar="ID")
    show.add_argument("--json", action="store_true", help="one JSON object on stdout")

    lst = sub.add_parser("patients", parents=[common], help="list patients (case browser)")
    lst.add_argument("--search", default="", metavar="TEXT", help="ids containing TEXT")
    lst.add_argument("--json", action="store_true")

    exp = sub.add_parser(
        "export", parents=[common], help="CSV, case.json + images and a PDF per lesion"
    )
    exp.add_argument("--patient", required=True, metavar="ID")
    exp.add_argument("--to", required=True, type=Path, metavar="DIR", help="new or empty folder")
    exp.add_argument("--no-pdf", action="store_true", help="skip the PDFs (no Qt needed)")

    imp = sub.add_parser("import", parents=[common], help="load a folder written by export")
    imp.add_argument("folder", type=Path, metavar="DIR")
    imp.add_argument("--as-patient", metavar="ID", help="store under another patient id")
    imp.add_argument("--json", action="store_true", help="print the imported case as JSON")

    rec = sub.add_parser(
        "reclassify", parents=[common], help="classify a stored visit again (old result kept)"
    )
    rec.add_argument("--visit", required=True, type=int, metavar="N")
    rec.add_argument("--model", type=Path, metavar="FILE.tflite")

    dele = sub.add_parser(
        "delete", parents=[common], help="delete a patient, lesion or visit and its images"
    )
    dele.add_argument("--patient", required=True, metavar="ID")
    which = dele.add_mutually_exclusive_group()
    which.add_argument("--lesion", metavar="NAME")
    which.add_argument("--visit", type=int, metavar="N")
    dele.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    sub.add_parser("backup", parents=[common], help="take a backup of the database now")
    sub.add_parser(
        "check",
        parents=[common],
        help="integrity check, every image file against its hash, quarantined photos",
    )
    recover = sub.add_parser(
        "recover",
        parents=[common],
        help="turn photos in quarantine/ back into visits (checked by hash; no result yet)",
    )
    recover.add_argument(
        "--patient",
        default=RECOVERED_PATIENT,
        metavar="ID",
        help=f"(default {RECOVERED_PATIENT!r})",
    )
    recover.add_argument(
        "--lesion", default=RECOVERED_LESION, metavar="NAME", help=f"(default {RECOVERED_LESION!r})"
    )
    return parser


def _err(message: str) -> None:
    print(f"{APP_NAME}: {' '.join(str(message).split())}", file=sys.stderr)


def _dump(obj: Any, out: TextIO) -> None:
    json.dump(obj, out, indent=2, ensure_ascii=False, allow_nan=False)
    out.write("\n")
    out.flush()


ClassifierFactory = Callable[[Path | None], Any]


def _classifier(factory: ClassifierFactory | None, model: Path | None) -> Any | None:
    """The classifier through ``desktop.cli``'s factory (patchable there), or None after a message."""
    from desktop import cli as main_cli
    from desktop.inference import ModelLoadError

    make = factory if factory is not None else main_cli.default_factory
    try:
        with main_cli.native_stdout_to_stderr():
            return make(model)
    except ModelLoadError as exc:
        _err(f"cannot load the model: {exc}")
        return None


def main(
    argv: Sequence[str] | None = None,
    *,
    factory: ClassifierFactory | None = None,
    out: TextIO | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> int:
    """Parse and run one history command; returns the exit status."""
    args = build_parser().parse_args(argv)  # usage errors exit 2 (argparse)
    out = out if out is not None else sys.stdout
    try:
        return _run(args, factory, out, confirm)
    except HistoryError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except StoreError as exc:
        _err(str(exc))
        return EXIT_STORE
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # an export folder that cannot be written, a vanished store file
        where = f" ({exc.filename})" if exc.filename else ""
        _err(f"{exc.strerror or exc}{where}")
        return EXIT_STORE


def _run(
    args: argparse.Namespace,
    factory: ClassifierFactory | None,
    out: TextIO,
    confirm: Callable[[str], bool] | None,
) -> int:
    command = args.command
    if command == "add":  # check the arguments before loading a model or opening the store
        check_patient(args.patient)
        check_lesion(args.lesion)
        check_date(args.date)
        if args.site is not None:
            check_site(args.site)
    classifier = None
    if command in ("add", "reclassify"):
        classifier = _classifier(factory, args.model)
        if classifier is None:
            return EXIT_MODEL
    if command == "recover":
        check_patient(args.patient)
        check_lesion(args.lesion)
    with Store.open(args.data_dir) as store:
        history = History(store)
        if store.read_only_reason and command in ("show", "patients", "export", "check"):
            _err(f"opened for reading only: {store.read_only_reason}")
        if command == "add":
            return _add(args, history, classifier, out)
        if command == "show":
            return _show(args, history, out)
        if command == "patients":
            rows = history.patients(args.search)
            if args.json:
                _dump([r.__dict__ for r in rows], out)
            else:
                print(f"{'PATIENT':<24} {'LESIONS':>7} {'VISITS':>6}  LAST VISIT  ALERTS", file=out)
                for r in rows:
                    print(
                        f"{r.code:<24} {r.lesions:>7} {r.visits:>6}  {r.last_visit or '-':<10}  "
                        f"{r.alerts}",
                        file=out,
                    )
            return EXIT_OK
        if command == "export":
            return _export(args, history, out)
        if command == "import":
            case = history.import_case(args.folder, args.as_patient)
            if args.json:
                _dump(case, out)
            visits = sum(len(lesion["visits"]) for lesion in case["lesions"])
            _err(
                f"imported patient {case['patient']!r}: {len(case['lesions'])} lesion(s), "
                f"{visits} visit(s)"
            )
            return EXIT_OK
        if command == "reclassify":
            return _reclassify(args, history, classifier, out)
        if command == "delete":
            return _delete(args, history, out, confirm)
        if command == "backup":
            print(store.backup(reason="manual"), file=out)
            return EXIT_OK
        if command == "check":
            return _check(history, out)
        if command == "recover":
            return _recover(args, history, out)
    raise HistoryError(f"unknown command {command!r}")  # pragma: no cover (argparse refuses)


def _add(args: argparse.Namespace, history: History, classifier: Any, out: TextIO) -> int:
    from desktop import cli as main_cli
    from desktop.results import classify_path, expand_paths

    files = expand_paths(args.images)
    if not files:
        raise HistoryError("no image files found in the given paths")
    model = model_info(classifier)
    site = check_site(args.site) if args.site is not None else None
    history.check_lesion_site(args.patient, args.lesion, site)
    records: list[dict[str, Any]] = []
    failed = 0
    for i, path in enumerate(files, start=1):
        with main_cli.native_stdout_to_stderr():
            result = classify_path(classifier, path)
        if result.prediction is None:
            _err(result.error or f"{path.name}: could not be classified")
            failed += 1
            continue
        try:
            record = history.add_visit(
                args.patient,
                args.lesion,
                path,
                result,
                model,
                site=site,
                taken=args.date,
                note=args.note,
            )
        except (SourceError, FileNotFoundError, HistoryError) as exc:
            _err(str(exc) if path.name in str(exc) else f"{path.name}: {exc}")
            failed += 1
            continue
        except StoreError as exc:  # full or read-only disk: later images would fail too
            _dump(records, out)
            _err(f"{exc} Stopped after {len(records)} stored image(s).")
            return EXIT_STORE
        record["source"] = str(path)
        records.append(record)
        print(
            f"{APP_NAME}: stored {i}/{len(files)}: {path.name} as visit {record['id']}",
            file=sys.stderr,
            flush=True,
        )
    _dump(records, out)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _show(args: argparse.Namespace, history: History, out: TextIO) -> int:
    case = history.show(args.patient)
    if args.json:
        _dump(case, out)
        return EXIT_OK
    print(f"Patient {case['patient']}", file=out)
    for lesion in case["lesions"]:
        print(f"\n  {lesion['label']}  ({lesion['site']})", file=out)
        for visit in lesion["visits"]:
            flag = PHOTO_WORDS[visit["image"]["status"]]
            if flag:
                print(f"    {visit['date']}  visit {visit['id']:<5} ** {flag} **", file=out)
                _err(f"visit {visit['id']}: {flag} ({visit['image']['file']})")
            if not visit["results"]:
                print(f"    {visit['date']}  visit {visit['id']:<5} no result yet", file=out)
            for i, r in enumerate(visit["results"]):
                _, headline = describe(r)
                first = f"{visit['date']}  visit {visit['id']:<5}" if i == 0 else " " * 22
                old = "" if i == len(visit["results"]) - 1 else "  (earlier result)"
                print(
                    f"    {first} melanoma {r['melanoma_probability']:6.1%}  {headline}  "
                    f"[model {r['model_version']}]{old}",
                    file=out,
                )
    return EXIT_OK


def pdf_writer_or_reason() -> tuple[PdfWriter | None, str | None]:
    """The Qt PDF writer, offscreen; or None and why (no Qt on this machine)."""
    try:
        from desktop.qt.history_report import offscreen_lesion_pdf_writer
    except ImportError as exc:
        return None, f"PDFs skipped: Qt is not available ({exc})"
    return offscreen_lesion_pdf_writer(), None


def _export(args: argparse.Namespace, history: History, out: TextIO) -> int:
    writer, reason = (None, None) if args.no_pdf else pdf_writer_or_reason()
    summary = history.export(args.patient, args.to, writer)
    print(summary.csv, file=out)
    print(summary.manifest, file=out)
    for pdf in summary.pdfs:
        print(pdf, file=out)
    if reason or summary.pdf_error:
        _err(reason or f"PDF not written: {summary.pdf_error}")
        return EXIT_STORE if summary.pdf_error else EXIT_OK
    return EXIT_OK


def _reclassify(args: argparse.Namespace, history: History, classifier: Any, out: TextIO) -> int:
    from desktop import cli as main_cli
    from desktop.results import classify_path

    path = history.verified_photo(args.visit)
    with main_cli.native_stdout_to_stderr():
        result = classify_path(classifier, path)
    if result.prediction is None:
        _err(f"stored image of visit {args.visit} could not be classified: {result.error}")
        return EXIT_SOME_FAILED
    _dump(history.add_result(args.visit, result, model_info(classifier)), out)
    return EXIT_OK


def _ask(message: str) -> bool:
    print(message, file=sys.stderr)
    print("Delete? Type 'yes' to confirm: ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _delete(
    args: argparse.Namespace,
    history: History,
    out: TextIO,
    confirm: Callable[[str], bool] | None,
) -> int:
    plan = history.plan_delete(args.patient, args.lesion, args.visit)
    message = plan.message()
    if not args.yes and not (confirm or _ask)(message):
        _err("nothing deleted")
        return EXIT_USAGE
    removed = history.delete(plan)
    print(f"deleted {plan.what}: {len(plan.visit_ids)} visit(s), {removed} image file(s)", file=out)
    return EXIT_OK


def _check(history: History, out: TextIO) -> int:
    """Integrity (already checked at open), each image file against its name, quarantine."""
    from desktop.history.images import sha256_file

    store = history.store
    bad = 0
    rows = history.conn.execute("SELECT sha256, ext FROM image ORDER BY sha256").fetchall()
    for row in rows:
        path = store.images.path_for(row["sha256"], row["ext"])
        try:
            ok = sha256_file(path) == row["sha256"]
        except OSError as exc:
            _err(f"{path}: cannot be read ({exc.strerror or exc})")
            ok = False
        if not ok:
            bad += 1
            _err(f"{path}: missing or does not match its SHA-256")
    waiting = store.quarantined()
    for _sha, _ext, path in waiting:
        _err(f"recoverable: {path} (a photo without its visit; 'history recover' restores it)")
    partial = store.partial_files()
    print(
        f"database integrity ok; {len(rows) - bad} of {len(rows)} image file(s) ok; "
        f"{len(waiting)} photo(s) in quarantine, recoverable with 'history recover'; "
        f"{len(partial)} partial file(s) of interrupted adds; "
        f"last backup: {store.last_backup() or 'none'}",
        file=out,
    )
    return EXIT_STORE if bad else EXIT_OK


def _recover(args: argparse.Namespace, history: History, out: TextIO) -> int:
    report = history.recover(args.patient, args.lesion)
    for path, why in report.skipped:
        _err(f"not recovered: {path}: {why}")
    records = [history.visit(vid) for vid in report.visit_ids]
    _dump(records, out)
    _err(
        f"recovered {len(records)} visit(s) into patient {args.patient!r}, lesion "
        f"{args.lesion!r} (classify them with 'history reclassify'); {report.duplicates} "
        f"duplicate(s) of stored visits removed from quarantine; {len(report.skipped)} "
        "file(s) left there"
    )
    return EXIT_SOME_FAILED if report.skipped else EXIT_OK
