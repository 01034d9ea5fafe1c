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
    DECISIONS,
    DUE_SOON_DAYS,
    LATERALITIES,
    OUTCOMES,
    PHOTO_WORDS,
    RECOVERED_LESION,
    RECOVERED_PATIENT,
    History,
    HistoryError,
    assessed,
    check_date,
    check_decision,
    check_laterality,
    check_lesion,
    check_outcome,
    check_patient,
    check_review_date,
    check_site,
    describe,
    looks_like_name,
    model_info,
    site_text,
)
from desktop.history.store import ENV_DATA_DIR, Store, StoreError, default_data_dir
from desktop.history.transfer import PdfWriter

EXIT_OK = 0
EXIT_MODEL = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_STORE = 4

PROG = "lesionlens history"
READING = ("show", "patients", "export", "check", "due", "labelled")  # work read-only


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
    add.add_argument("--side", metavar="SIDE", help="laterality: " + ", ".join(LATERALITIES))
    add.add_argument("--date", metavar="YYYY-MM-DD", help="date the photo was taken (today)")
    add.add_argument(
        "--before-first",
        action="store_true",
        help="the photo is older than the patient's first stored visit (else refused)",
    )
    add.add_argument("--note", default="", help="clinician note for these visits")
    add.add_argument("--decision", metavar="WHAT", help="decision: " + ", ".join(DECISIONS))
    add.add_argument("--next-review", metavar="YYYY-MM-DD", help="date of the next review")
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
    rec.add_argument("--patient", metavar="ID", help="with --visit N: visit N of this patient")
    rec.add_argument("--lesion", metavar="NAME")
    rec.add_argument(
        "--visit", required=True, type=int, metavar="N", help=VISIT_HELP + " (alone: the id)"
    )
    rec.add_argument("--model", type=Path, metavar="FILE.tflite")

    dele = sub.add_parser(
        "delete", parents=[common], help="delete a patient, lesion or visit and its images"
    )
    dele.add_argument("--patient", required=True, metavar="ID")
    dele.add_argument("--lesion", metavar="NAME", help="this lesion (or, with --visit, its visit)")
    dele.add_argument("--visit", type=int, metavar="N", help=VISIT_HELP)
    dele.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    _follow_up_parsers(sub, common)

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


VISIT_HELP = "visit number, 1, 2, 3… by date as 'show' lists them"


def _follow_up_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """edit, outcome, due, labelled: what a dermatologist records after the photo."""
    edit = sub.add_parser(
        "edit",
        parents=[common],
        help="change a visit's date, note, decision or review, or a lesion's site (logged)",
    )
    edit.add_argument("--patient", required=True, metavar="ID")
    edit.add_argument("--lesion", metavar="NAME", help="needed when the patient has several")
    edit.add_argument("--visit", type=int, metavar="N", help=VISIT_HELP)
    edit.add_argument("--date", metavar="YYYY-MM-DD")
    edit.add_argument("--before-first", action="store_true", help="allow a date before the first")
    edit.add_argument("--note", help="the visit's note (replaces it)")
    edit.add_argument("--decision", metavar="WHAT", help=", ".join(DECISIONS) + "; '' clears")
    edit.add_argument("--next-review", metavar="YYYY-MM-DD", help="'' clears it")
    edit.add_argument("--site", metavar="SITE", help="the lesion's body site")
    edit.add_argument("--side", metavar="SIDE", help=", ".join(LATERALITIES))

    out = sub.add_parser(
        "outcome", parents=[common], help="record a lesion's histology once it is known"
    )
    out.add_argument("--patient", required=True, metavar="ID")
    out.add_argument("--lesion", required=True, metavar="NAME")
    out.add_argument("--diagnosis", required=True, metavar="CLASS", help=", ".join(OUTCOMES))
    out.add_argument("--date", metavar="YYYY-MM-DD", help="date of the histology (today)")
    out.add_argument("--note", default="", help="the report's words (say what, for 'other')")

    due = sub.add_parser("due", parents=[common], help="lesions whose review is due or overdue")
    due.add_argument(
        "--within",
        type=int,
        default=DUE_SOON_DAYS,
        metavar="DAYS",
        help=f"also those due within DAYS (default {DUE_SOON_DAYS})",
    )
    due.add_argument("--json", action="store_true")

    lab = sub.add_parser(
        "labelled",
        parents=[common],
        help="lesions with a histology outcome as a labelled data set (image,label,group CSV)",
    )
    lab.add_argument("--to", required=True, type=Path, metavar="DIR", help="new or empty folder")


def _warn_name(code: str) -> None:
    """A patient id that looks like a person's name is stored, with a warning."""
    if looks_like_name(code):
        _err(
            f"warning: patient id {code!r} looks like a person's name; the case store is "
            "meant for pseudonymous ids (stored as given)"
        )


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
        check_laterality(args.side)
        check_decision(args.decision)
        check_review_date(args.next_review)
        if args.site is not None:
            check_site(args.site)
        _warn_name(check_patient(args.patient))
    if command == "edit":
        _check_edit_args(args)
    if command == "outcome":
        check_outcome(args.diagnosis)
        check_date(args.date)
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
        if store.read_only_reason and command in READING:
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
        if command in FOLLOW_UP:
            return FOLLOW_UP[command](args, history, out)
    raise HistoryError(f"unknown command {command!r}")  # pragma: no cover (argparse refuses)


def _add(args: argparse.Namespace, history: History, classifier: Any, out: TextIO) -> int:
    from desktop import cli as main_cli
    from desktop.results import classify_path, expand_paths

    files = expand_paths(args.images)
    if not files:
        raise HistoryError("no image files found in the given paths")
    model = model_info(classifier)
    site = check_site(args.site) if args.site is not None else None
    history.check_lesion_site(args.patient, args.lesion, site, args.side)
    history.check_visit_date(args.patient, args.date, before_first=args.before_first)
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
                laterality=args.side,
                decision=args.decision,
                next_review=args.next_review,
                before_first=args.before_first,
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
            f"{APP_NAME}: stored {i}/{len(files)}: {path.name} as visit {record['number']} "
            f"of {record['lesion']!r}",
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
        print(
            f"\n  {lesion['label']}  ({site_text(lesion['site'], lesion['laterality'])})", file=out
        )
        if lesion["outcome"]:
            print(f"    histology: {_outcome_text(lesion['outcome'])}", file=out)
        for visit in lesion["visits"]:
            _show_visit(visit, out)
    return EXIT_OK


def _outcome_text(outcome: dict[str, Any]) -> str:
    note = f" ({outcome['note']})" if outcome["note"] else ""
    return f"{outcome['diagnosis']}, {outcome['date']}{note}"


def result_text(r: dict[str, Any]) -> str:
    """One result in words: a melanoma figure only where the image could be assessed."""
    _, headline = describe(r)
    if not assessed(r):
        return f"{headline}: no class, no melanoma figure"
    return f"melanoma {r['melanoma_probability']:6.1%}  {headline}"


def _show_visit(visit: dict[str, Any], out: TextIO) -> None:
    head = f"{visit['date']}  visit {visit['number']:<3}"
    flag = PHOTO_WORDS[visit["image"]["status"]]
    if flag:
        print(f"    {head} ** {flag} **", file=out)
        _err(f"visit {visit['number']} of {visit['date']}: {flag} ({visit['image']['file']})")
    if not visit["results"]:
        print(f"    {head} no result yet", file=out)
    for i, r in enumerate(visit["results"]):
        first = head if i == 0 else " " * len(head)
        old = "" if i == len(visit["results"]) - 1 else "  (earlier result)"
        print(f"    {first} {result_text(r)}  [model {r['model_version']}]{old}", file=out)
    follow = [
        f"decision: {visit['decision']}" if visit["decision"] else "",
        f"next review: {visit['next_review']}" if visit["next_review"] else "",
        f"note: {visit['note']}" if visit["note"] else "",
    ]
    if any(follow):
        print(f"    {' ' * len(head)} {'; '.join(x for x in follow if x)}", file=out)


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

    if args.patient is not None:
        visit_id = history.visit_id(args.patient, args.lesion, args.visit)
    else:  # a script's visit id (from add's JSON output)
        visit_id = args.visit
    path = history.verified_photo(visit_id)
    with main_cli.native_stdout_to_stderr():
        result = classify_path(classifier, path)
    if result.prediction is None:
        _err(f"stored image of visit {args.visit} could not be classified: {result.error}")
        return EXIT_SOME_FAILED
    _dump(history.add_result(visit_id, result, model_info(classifier)), out)
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
    if args.visit is not None:
        visit_id = history.visit_id(args.patient, args.lesion, args.visit)
        plan = history.plan_delete(args.patient, visit_id=visit_id)
    else:
        plan = history.plan_delete(args.patient, args.lesion)
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


# Follow-up: edit, outcome, due, labelled -----------------------------------------------------
def _check_edit_args(args: argparse.Namespace) -> None:
    """Refuse a bad value or an empty edit before the store is opened."""
    check_patient(args.patient)
    visit_fields = (args.date, args.note, args.decision, args.next_review)
    if all(v is None for v in (*visit_fields, args.site, args.side)):
        raise HistoryError(
            "nothing to change: give --date, --note, --decision, --next-review, --site or --side"
        )
    if args.visit is None and any(v is not None for v in visit_fields):
        raise HistoryError("--date, --note, --decision and --next-review need --visit N")
    if args.date is not None:
        check_date(args.date)
    check_decision(args.decision)
    check_review_date(args.next_review)
    check_laterality(args.side)
    if args.site is not None:
        check_site(args.site)


def _edit(args: argparse.Namespace, history: History, out: TextIO) -> int:
    changed: list[str] = []
    lesion_id = history.pick_lesion(args.patient, args.lesion)
    visit_id = None
    if args.visit is not None:
        visit_id = history.visit_id(args.patient, args.lesion, args.visit)
    if visit_id is not None:
        changed += history.edit_visit(
            visit_id,
            taken=args.date,
            note=args.note,
            decision=args.decision,
            next_review=args.next_review,
            before_first=args.before_first,
        )
    if args.site is not None or args.side is not None:
        changed += history.edit_lesion(lesion_id, site=args.site, laterality=args.side)
    lesion = history.lesion(lesion_id)
    _dump(next(v for v in lesion["visits"] if v["id"] == visit_id) if visit_id else lesion, out)
    what = ", ".join(changed) if changed else "nothing (the values were already so)"
    _err(f"changed {what}; the old values are kept in the edit log")
    return EXIT_OK


def _outcome(args: argparse.Namespace, history: History, out: TextIO) -> int:
    lesion_id = history.lesion_id(args.patient, args.lesion)
    outcome = history.set_outcome(lesion_id, args.diagnosis, args.date, args.note)
    _dump(outcome, out)
    _err(f"recorded histology of {args.lesion!r}: {_outcome_text(outcome)}")
    return EXIT_OK


def _due(args: argparse.Namespace, history: History, out: TextIO) -> int:
    rows = history.due(args.within)
    if args.json:
        _dump([{**r.__dict__, "overdue": r.overdue} for r in rows], out)
        return EXIT_OK
    print(f"{'REVIEW':<10}  {'STATUS':<16} {'PATIENT':<20} {'LESION':<24} LAST VISIT", file=out)
    for r in rows:
        status = (
            f"overdue {r.days_over} d"
            if r.overdue
            else ("due today" if r.days_over == 0 else f"in {-r.days_over} d")
        )
        print(
            f"{r.next_review:<10}  {status:<16} {r.patient:<20} {r.lesion:<24} "
            f"{r.last_visit} (visit {r.last_number}{', ' + r.decision if r.decision else ''})",
            file=out,
        )
    _err(f"{len(rows)} lesion(s) due within {args.within} day(s) or overdue")
    return EXIT_OK


def _labelled(args: argparse.Namespace, history: History, out: TextIO) -> int:
    from desktop.history.labelled import write_labelled

    summary = write_labelled(history, args.to)
    print(summary.csv, file=out)
    _err(summary.message())
    return EXIT_OK


FOLLOW_UP: dict[str, Callable[[argparse.Namespace, History, TextIO], int]] = {
    "edit": _edit,
    "outcome": _outcome,
    "due": _due,
    "labelled": _labelled,
}
