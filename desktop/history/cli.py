"""``python -m desktop history …``: the case store for scripts, tests and the command line.

Same conventions as ``--classify``: stdout carries only the requested output
(JSON where asked), messages go to stderr as one line each; the model is loaded and the
exit status chosen as for every command (:mod:`desktop.front_door`). Reading commands
(show, patients, export, check) work on a store that can only be read.

Here: the parser and the dispatch. The commands are in :mod:`desktop.history.cli_store`
(patients, visits, the store) and :mod:`desktop.history.cli_followup` (edit, outcome, due,
labelled); ``export`` stays here with its PDFs. Those are drawn by the window's code, which
this Qt-free core does not import: the entry point (:mod:`desktop.__main__`) hands ``main``
a ``pdf_writer`` that makes the writer; without one, ``export`` writes everything but the
PDFs and says why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from desktop import APP_NAME
from desktop.front_door import ClassifierFactory, Exit, err, exit_help, load_model, reader_left
from desktop.history import cli_followup, cli_store
from desktop.history.service import (
    BODY_SITES,
    DECISIONS,
    DUE_SOON_DAYS,
    LATERALITIES,
    OUTCOMES,
    RECOVERED_LESION,
    RECOVERED_PATIENT,
    History,
    HistoryError,
    check_date,
    check_lesion,
    check_outcome,
    check_patient,
)
from desktop.history.store import ENV_DATA_DIR, Store, StoreError, default_data_dir
from desktop.history.transfer import PdfWriter

# Makes the lesion PDF writer when ``export`` needs it; ImportError where Qt is missing.
PdfWriterFactory = Callable[[], PdfWriter]

PROG = "lesionlens history"
NO_PDF_WRITER = (
    "PDFs skipped: they are drawn with the window's libraries (Qt), which this command "
    f"was not given (run it as '{PROG} export', or pass --no-pdf)"
)
READING = ("show", "patients", "export", "check", "due", "labelled")  # work read-only
VISIT_HELP = "visit number, 1, 2, 3… by date as 'show' lists them"


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
        epilog=exit_help(
            {
                Exit.OK: "done",
                Exit.MODEL: "model cannot be loaded",
                Exit.USAGE: "usage error or unknown patient",
                Exit.SOME_FAILED: "some images unreadable (others stored)",
                Exit.STORE: "case store unusable",
            }
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser(sub, common)
    _reading_parsers(sub, common)
    _visit_parsers(sub, common)
    _follow_up_parsers(sub, common)
    _store_parsers(sub, common)
    return parser


def _add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """add: classify images and store each as a visit of one lesion."""
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


def _reading_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """show, patients, export, import: a case out of the store, or back in."""
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


def _visit_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """reclassify, delete: what is done to a stored visit, lesion or patient."""
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


def _store_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """backup, check, recover: the store's own safety."""
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


def main(
    argv: Sequence[str] | None = None,
    *,
    factory: ClassifierFactory | None = None,
    out: TextIO | None = None,
    confirm: Callable[[str], bool] | None = None,
    pdf_writer: PdfWriterFactory | None = None,
) -> int:
    """Parse and run one history command; returns the exit status.

    ``pdf_writer`` makes the writer of ``export``'s lesion PDFs (the entry point passes the
    window's); without it ``export`` writes no PDF and says so.
    """
    args = build_parser().parse_args(argv)  # usage errors exit 2 (argparse)
    out = out if out is not None else sys.stdout
    try:
        return _run(args, factory, out, confirm, pdf_writer)
    except HistoryError as exc:
        err(str(exc))
        return Exit.USAGE
    except StoreError as exc:
        err(str(exc))
        return Exit.STORE
    except BrokenPipeError:
        return reader_left()
    except OSError as exc:  # an export folder that cannot be written, a vanished store file
        where = f" ({exc.filename})" if exc.filename else ""
        err(f"{exc.strerror or exc}{where}")
        return Exit.STORE


def _check_args(args: argparse.Namespace) -> None:
    """Refuse bad arguments before a model is loaded or the store is opened."""
    command = args.command
    if command == "add":
        cli_store.check_add_args(args)
    if command == "edit":
        cli_followup.check_edit_args(args)
    if command == "outcome":
        check_outcome(args.diagnosis)
        check_date(args.date)
    if command == "recover":
        check_patient(args.patient)
        check_lesion(args.lesion)


def _run(
    args: argparse.Namespace,
    factory: ClassifierFactory | None,
    out: TextIO,
    confirm: Callable[[str], bool] | None,
    pdf_writer: PdfWriterFactory | None,
) -> int:
    _check_args(args)
    classifier = None
    if args.command in ("add", "reclassify"):
        classifier, _ = load_model(args.model, factory)
        if classifier is None:
            return Exit.MODEL
    with Store.open(args.data_dir) as store:
        history = History(store)
        if store.read_only_reason and args.command in READING:
            err(f"opened for reading only: {store.read_only_reason}")
        return _dispatch(args, history, classifier, out, confirm, pdf_writer)


Command = Callable[[argparse.Namespace, History, TextIO], int]
COMMANDS: dict[str, Command] = {
    "show": cli_store.show,
    "patients": cli_store.patients,
    "import": cli_store.import_folder,
    "recover": cli_store.recover,
    **cli_followup.FOLLOW_UP,
}


def _dispatch(
    args: argparse.Namespace,
    history: History,
    classifier: Any,
    out: TextIO,
    confirm: Callable[[str], bool] | None,
    pdf_writer: PdfWriterFactory | None,
) -> int:
    command = args.command
    if command == "add":
        return cli_store.add(args, history, classifier, out)
    if command == "reclassify":
        return cli_store.reclassify(args, history, classifier, out)
    if command == "delete":
        return cli_store.delete(args, history, out, confirm)
    if command == "export":
        return _export(args, history, out, pdf_writer)
    if command == "backup":
        print(history.store.backup(reason="manual"), file=out)
        return Exit.OK
    if command == "check":
        return cli_store.check(history, out)
    if command in COMMANDS:
        return COMMANDS[command](args, history, out)
    raise HistoryError(f"unknown command {command!r}")  # pragma: no cover (argparse refuses)


def pdf_writer_or_reason(
    make: PdfWriterFactory | None,
) -> tuple[PdfWriter | None, str | None]:
    """The PDF writer ``make`` gives; or None and why (none given, or no Qt on this machine)."""
    if make is None:
        return None, NO_PDF_WRITER
    try:
        return make(), None
    except ImportError as exc:
        return None, f"PDFs skipped: Qt is not available ({exc})"


def _export(
    args: argparse.Namespace, history: History, out: TextIO, make: PdfWriterFactory | None
) -> int:
    writer, reason = (None, None) if args.no_pdf else pdf_writer_or_reason(make)
    summary = history.export(args.patient, args.to, writer)
    print(summary.csv, file=out)
    print(summary.manifest, file=out)
    for pdf in summary.pdfs:
        print(pdf, file=out)
    if reason or summary.pdf_error:
        err(reason or f"PDF not written: {summary.pdf_error}")
        return Exit.STORE if summary.pdf_error else Exit.OK
    return Exit.OK
