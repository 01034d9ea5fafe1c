"""``history.lock``: one process at a time creates, migrates, cleans up or backs up a store.

An advisory lock on a file in the data folder (``flock`` on POSIX, ``msvcrt.locking`` on
Windows), taken without blocking and retried until a deadline, so a second window that
starts while the first is backing up waits a little and then says so instead of hanging.
The lock goes with the process, so a killed LesionLens never leaves a store locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if os.name == "nt":  # pragma: no cover (Windows)
    import msvcrt
else:
    import fcntl

POLL_S = 0.02


def try_lock(fd: int) -> bool:
    """Take the lock on an open file without waiting; False when another process holds it."""
    try:
        if os.name == "nt":  # pragma: no cover (Windows)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        if os.name == "nt":  # pragma: no cover (Windows)
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def held(path: Path, timeout_s: float, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold the lock on ``path`` (created if needed) for the block; raise ``busy()`` when
    another process still holds it after ``timeout_s``.

    Raises OSError where the lock file cannot be written (a read-only disk).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while not try_lock(fd):
            if time.monotonic() > deadline:
                raise busy()
            time.sleep(POLL_S)
        try:
            yield
        finally:
            unlock(fd)
    finally:
        os.close(fd)
