"""Entry point for ``python -m desktop``, the ``lesionlens`` script and the frozen bundle.

Kept thin and with absolute imports (PyInstaller runs this file as a script).
PySide6 is imported only when a window is actually wanted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["history"]:  # the case store's own commands (desktop/history/cli.py)
        from desktop.history.cli import main as history_main

        return history_main(argv[1:])
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
