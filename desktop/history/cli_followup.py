"""The ``history`` follow-up commands: edit (logged), outcome (histology), due, labelled.

What a dermatologist records after the photo; parsed and dispatched by
:mod:`desktop.history.cli`, printed by the rules of :mod:`desktop.history.cli_store`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from desktop.front_door import Exit, err
from desktop.history.cli_store import dump, outcome_text
from desktop.history.service import (
    History,
    HistoryError,
    check_date,
    check_decision,
    check_laterality,
    check_patient,
    check_review_date,
    check_site,
)


def check_edit_args(args: argparse.Namespace) -> None:
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


def edit(args: argparse.Namespace, history: History, out: TextIO) -> int:
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
    visit = lesion.visit(visit_id) if visit_id else None
    dump(visit.to_json() if visit is not None else lesion.to_json(), out)
    what = ", ".join(changed) if changed else "nothing (the values were already so)"
    err(f"changed {what}; the old values are kept in the edit log")
    return Exit.OK


def outcome(args: argparse.Namespace, history: History, out: TextIO) -> int:
    lesion_id = history.lesion_id(args.patient, args.lesion)
    outcome = history.set_outcome(lesion_id, args.diagnosis, args.date, args.note)
    dump(outcome.to_json(), out)
    err(f"recorded histology of {args.lesion!r}: {outcome_text(outcome)}")
    return Exit.OK


def due(args: argparse.Namespace, history: History, out: TextIO) -> int:
    rows = history.due(args.within)
    if args.json:
        dump([{**r.__dict__, "overdue": r.overdue} for r in rows], out)
        return Exit.OK
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
    err(f"{len(rows)} lesion(s) due within {args.within} day(s) or overdue")
    return Exit.OK


def labelled(args: argparse.Namespace, history: History, out: TextIO) -> int:
    from desktop.history.labelled import write_labelled

    summary = write_labelled(history, args.to)
    print(summary.csv, file=out)
    err(summary.message())
    return Exit.OK


FOLLOW_UP: dict[str, Callable[[argparse.Namespace, History, TextIO], int]] = {
    "edit": edit,
    "outcome": outcome,
    "due": due,
    "labelled": labelled,
}
