"""Entry point for ``python -m desktop``, the ``lesionlens`` script and the frozen bundle.

Kept thin and with absolute imports (PyInstaller runs this file as a script).
PySide6 is imported only when a window (or a lesion PDF of ``history export``) is wanted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def lesion_pdf_writer() -> Callable[..., Path]:
    """The window's lesion PDF writer, for ``history export``: the history command line is
    Qt-free core, so the entry point hands it this. ImportError where Qt is missing."""
    from desktop.qt.history_report import offscreen_lesion_pdf_writer

    return offscreen_lesion_pdf_writer()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["history"]:  # the case store's own commands (desktop/history/cli.py)
        from desktop.history.cli import main as history_main

        return history_main(argv[1:], pdf_writer=lesion_pdf_writer)
    if argv[:1] == ["adapt"]:  # fit this clinic's model (desktop/adapt/run.py)
        from desktop.adapt.run import main as adapt_main

        return adapt_main(argv[1:])
    from desktop.cli import parse_args, run

    args = parse_args(argv)
    if args.classify or args.self_check:
        return run(args)
    from desktop.preflight import check

    problem = check()
    if problem:  # Qt would abort with a message that names no package
        print(problem, file=sys.stderr)
        from desktop.front_door import Exit

        return Exit.NO_WINDOW
    from desktop.qt.app import run_app

    return run_app(args.paths, model=args.model, data_dir=args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
