"""The ``history`` commands on patients, visits and the store itself: add, show, patients,
import, reclassify, delete, check and recover; and the JSON output every command writes.

Same conventions as ``--classify``: stdout carries only the requested output (JSON where
asked), messages go to stderr as one line each. Parsing and dispatch are in
:mod:`desktop.history.cli`; the follow-up commands in :mod:`desktop.history.cli_followup`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from desktop import APP_NAME
from desktop.front_door import Exit, err, native_stdout_to_stderr
from desktop.history.images import SourceError
from desktop.history.service import (
    PHOTO_WORDS,
    History,
    HistoryError,
    Outcome,
    StoredResult,
    Visit,
    check_date,
    check_decision,
    check_laterality,
    check_lesion,
    check_patient,
    check_review_date,
    check_site,
    looks_like_name,
    model_info,
    site_text,
)
from desktop.history.store import StoreError


def warn_name(code: str) -> None:
    """A patient id that looks like a person's name is stored, with a warning."""
    if looks_like_name(code):
        err(
            f"warning: patient id {code!r} looks like a person's name; the case store is "
            "meant for pseudonymous ids (stored as given)"
        )


def dump(obj: Any, out: TextIO) -> None:
    json.dump(obj, out, indent=2, ensure_ascii=False, allow_nan=False)
    out.write("\n")
    out.flush()


def check_add_args(args: argparse.Namespace) -> None:
    """Refuse bad values for ``add`` before a model is loaded or the store opened."""
    check_patient(args.patient)
    check_lesion(args.lesion)
    check_date(args.date)
    check_laterality(args.side)
    check_decision(args.decision)
    check_review_date(args.next_review)
    if args.site is not None:
        check_site(args.site)
    warn_name(check_patient(args.patient))


def add(args: argparse.Namespace, history: History, classifier: Any, out: TextIO) -> int:
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
        with native_stdout_to_stderr():
            result = classify_path(classifier, path)
        if result.prediction is None:
            err(result.error or f"{path.name}: could not be classified")
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
            err(str(exc) if path.name in str(exc) else f"{path.name}: {exc}")
            failed += 1
            continue
        except StoreError as exc:  # full or read-only disk: later images would fail too
            dump(records, out)
            err(f"{exc} Stopped after {len(records)} stored image(s).")
            return Exit.STORE
        record["source"] = str(path)
        records.append(record)
        print(
            f"{APP_NAME}: stored {i}/{len(files)}: {path.name} as visit {record['number']} "
            f"of {record['lesion']!r}",
            file=sys.stderr,
            flush=True,
        )
    dump(records, out)
    return Exit.SOME_FAILED if failed else Exit.OK


def show(args: argparse.Namespace, history: History, out: TextIO) -> int:
    case = history.case(args.patient)
    if args.json:
        dump(case.to_json(), out)
        return Exit.OK
    print(f"Patient {case.patient}", file=out)
    for lesion in case.lesions:
        print(f"\n  {lesion.label}  ({site_text(lesion.site, lesion.laterality)})", file=out)
        if lesion.outcome:
            print(f"    histology: {outcome_text(lesion.outcome)}", file=out)
        for visit in lesion.visits:
            _show_visit(visit, out)
    return Exit.OK


def outcome_text(outcome: Outcome) -> str:
    note = f" ({outcome.note})" if outcome.note else ""
    return f"{outcome.diagnosis}, {outcome.date}{note}"


def result_text(r: StoredResult) -> str:
    """One result in words: a melanoma figure only where the image could be assessed."""
    _, headline = r.describe()
    if not r.assessed:
        return f"{headline}: no class, no melanoma figure"
    return f"melanoma {r.melanoma_text or '-':>12}  {headline}"


def _show_visit(visit: Visit, out: TextIO) -> None:
    head = f"{visit.date}  visit {visit.number:<3}"
    flag = PHOTO_WORDS[visit.image.status]
    if flag:
        print(f"    {head} ** {flag} **", file=out)
        err(f"visit {visit.number} of {visit.date}: {flag} ({visit.image.file})")
    if not visit.results:
        print(f"    {head} no result yet", file=out)
    for i, r in enumerate(visit.results):
        first = head if i == 0 else " " * len(head)
        old = "" if i == len(visit.results) - 1 else "  (earlier result)"
        print(f"    {first} {result_text(r)}  [model {r.model_version}]{old}", file=out)
    follow = [
        f"decision: {visit.decision}" if visit.decision else "",
        f"next review: {visit.next_review}" if visit.next_review else "",
        f"note: {visit.note}" if visit.note else "",
    ]
    if any(follow):
        print(f"    {' ' * len(head)} {'; '.join(x for x in follow if x)}", file=out)


def patients(args: argparse.Namespace, history: History, out: TextIO) -> int:
    rows = history.patients(args.search)
    if args.json:
        dump([r.__dict__ for r in rows], out)
    else:
        print(f"{'PATIENT':<24} {'LESIONS':>7} {'VISITS':>6}  LAST VISIT  ALERTS", file=out)
        for r in rows:
            print(
                f"{r.code:<24} {r.lesions:>7} {r.visits:>6}  {r.last_visit or '-':<10}  {r.alerts}",
                file=out,
            )
    return Exit.OK


def import_folder(args: argparse.Namespace, history: History, out: TextIO) -> int:
    case = history.import_case(args.folder, args.as_patient)
    if args.json:
        dump(case, out)
    visits = sum(len(lesion["visits"]) for lesion in case["lesions"])
    err(
        f"imported patient {case['patient']!r}: {len(case['lesions'])} lesion(s), {visits} visit(s)"
    )
    return Exit.OK


def reclassify(args: argparse.Namespace, history: History, classifier: Any, out: TextIO) -> int:
    from desktop.results import classify_path

    if args.patient is not None:
        visit_id = history.visit_id(args.patient, args.lesion, args.visit)
    else:  # a script's visit id (from add's JSON output)
        visit_id = args.visit
    path = history.verified_photo(visit_id)
    with native_stdout_to_stderr():
        result = classify_path(classifier, path)
    if result.prediction is None:
        err(f"stored image of visit {args.visit} could not be classified: {result.error}")
        return Exit.SOME_FAILED
    dump(history.add_result(visit_id, result, model_info(classifier)), out)
    return Exit.OK


def _ask(message: str) -> bool:
    print(message, file=sys.stderr)
    print("Delete? Type 'yes' to confirm: ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def delete(
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
        err("nothing deleted")
        return Exit.USAGE
    removed = history.delete(plan)
    print(f"deleted {plan.what}: {len(plan.visit_ids)} visit(s), {removed} image file(s)", file=out)
    return Exit.OK


def check(history: History, out: TextIO) -> int:
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
            err(f"{path}: cannot be read ({exc.strerror or exc})")
            ok = False
        if not ok:
            bad += 1
            err(f"{path}: missing or does not match its SHA-256")
    waiting = store.quarantined()
    for _sha, _ext, path in waiting:
        err(f"recoverable: {path} (a photo without its visit; 'history recover' restores it)")
    partial = store.partial_files()
    print(
        f"database integrity ok; {len(rows) - bad} of {len(rows)} image file(s) ok; "
        f"{len(waiting)} photo(s) in quarantine, recoverable with 'history recover'; "
        f"{len(partial)} partial file(s) of interrupted adds; "
        f"last backup: {store.last_backup() or 'none'}",
        file=out,
    )
    return Exit.STORE if bad else Exit.OK


def recover(args: argparse.Namespace, history: History, out: TextIO) -> int:
    report = history.recover(args.patient, args.lesion)
    for path, why in report.skipped:
        err(f"not recovered: {path}: {why}")
    records = [history.visit_record(vid) for vid in report.visit_ids]
    dump(records, out)
    err(
        f"recovered {len(records)} visit(s) into patient {args.patient!r}, lesion "
        f"{args.lesion!r} (classify them with 'history reclassify'); {report.duplicates} "
        f"duplicate(s) of stored visits removed from quarantine; {len(report.skipped)} "
        "file(s) left there"
    )
    return Exit.SOME_FAILED if report.skipped else Exit.OK
