"""What every command of ``python -m desktop`` shares: the exit codes, loading the model, and
keeping stdout for the requested output.

The commands are the window, ``--classify`` and ``--self-check`` (:mod:`desktop.cli`), the
case store's ``history …`` (:mod:`desktop.history.cli`) and ``adapt …``
(:mod:`desktop.adapt.run`). Each says in its ``--help`` which codes it uses, with
:func:`exit_help`, and returns :class:`Exit` members; each loads its model with
:func:`load_model` (or the window, which shows the reason instead of printing it, with
:func:`open_model`).

Qt-free, and cheap to import: the classifier is imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from desktop import APP_NAME

if TYPE_CHECKING:
    from desktop.results import SupportsClassify


class Exit(IntEnum):
    """A command's exit status: one number per kind of outcome, for every command.

    - 0 ``OK``: done (every image read; the adapted model written).
    - 1 ``MODEL``: the model or its card cannot be loaded (a damaged or swapped model file
      fails its card's seal here), or ``--self-check`` failed. The window: it cannot start
      (``NO_WINDOW``: no display, Qt's system libraries missing).
    - 2 ``USAGE``: usage error (argparse's own), an unknown patient, lesion or visit for
      ``history``, data or options ``adapt`` cannot use.
    - 3 ``SOME_FAILED``: some images could not be read (the others were classified or
      stored) or none were found; for ``adapt`` (``NOT_BETTER``), the adapted model is not
      better out of fold, so nothing was written.
    - 4 ``STORE``: the case store cannot be used (damaged, newer, read-only, full disk) or a
      stored photo does not match its SHA-256.
    """

    OK = 0
    MODEL = 1
    NO_WINDOW = 1
    USAGE = 2
    SOME_FAILED = 3
    NOT_BETTER = 3
    STORE = 4


def exit_help(meanings: Mapping[Exit, str], lead: str = "Exit status:") -> str:
    """The sentence a command's ``--help`` ends with: what each of its codes means to it."""
    return f"{lead} " + ", ".join(f"{int(code)} {what}" for code, what in meanings.items()) + "."


def err(message: str) -> None:
    """A message on stderr as one line, prefixed with the app's name."""
    print(f"{APP_NAME}: {' '.join(str(message).split())}", file=sys.stderr)


ClassifierFactory = Callable[[Path | None], "SupportsClassify"]
C = TypeVar("C")


def default_factory(model: Path | None) -> SupportsClassify:
    """The LiteRT classifier of ``model`` (None: the bundled one) and its card beside it; the
    card's seal (the file's SHA-256) is checked before the runtime parses the file. Raises
    ModelLoadError with a one-line reason. Tests replace it to run a command on a fake."""
    from desktop.inference import DEFAULT_MODEL, Classifier

    return Classifier(model if model is not None else DEFAULT_MODEL)


def open_model(
    model: Path | None, factory: Callable[[Path | None], C] | None = None
) -> tuple[C | None, str | None]:
    """The classifier, or None and the one-line reason it cannot be loaded; prints nothing.

    ``factory`` defaults to :func:`default_factory`, looked up at each call (patchable). What
    the runtime writes to stdout while loading goes to stderr.
    """
    from desktop.inference import ModelLoadError

    make = factory if factory is not None else default_factory
    try:
        with native_stdout_to_stderr():
            return make(model), None  # type: ignore[return-value]
    except ModelLoadError as exc:
        return None, str(exc)


def load_model(
    model: Path | None, factory: Callable[[Path | None], C] | None = None
) -> tuple[C | None, str | None]:
    """A command's model: :func:`open_model`, and when it cannot be loaded the one line
    that says why on stderr (the command then exits with ``Exit.MODEL``)."""
    classifier, reason = open_model(model, factory)
    if classifier is None:
        err(f"cannot load the model: {reason}")
    return classifier, reason


@contextlib.contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Send anything native code writes to fd 1 to stderr while inside the block.

    LiteRT and its delegates log from C++; if one ever wrote to stdout it would
    corrupt the JSON a script is parsing, so fd 1 is pointed at fd 2 meanwhile.
    """
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # no real fd (pytest capture, frozen GUI)
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        sys.stderr.flush()
        os.dup2(sys.stderr.fileno(), fd)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)


def reader_left() -> Exit:
    """``… | head``: the reader of stdout left, which is not the command's error. Stdout is
    pointed at /dev/null so that Python's flush at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return Exit.OK
