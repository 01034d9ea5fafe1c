"""The Qt layer's one background-job helper: a private one-thread pool, an id per job, a
cancel flag per job, and the hand-back of a result to the UI thread.

Every worker of the window runs on one of these (classifying a batch, decoding the photo on
screen, adapting to a clinic, the case store's classify/decode/align tasks). Jobs run one at
a time in the order given, so a LiteRT interpreter (one caller at a time) is never shared;
each owner has its own, so one kind of work never waits behind another. The ids let an owner
drop the late signals of a job it has replaced.

Results travel back through signals of QObjects that live in the UI thread, so Qt queues
them onto the event loop (no locks in the widgets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class Job(QRunnable):
    """One job: ``id`` (increasing per owner) and ``cancelled``, which the work reads between
    steps (set by :meth:`SerialJobs.cancel`)."""

    def __init__(self, owner: SerialJobs, job_id: int, work: Callable[[Job], None]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it alive until it has finished
        self.id = job_id
        self.cancelled = threading.Event()
        self._owner, self._work = owner, work

    def run(self) -> None:
        try:
            self._work(self)
        finally:
            self._owner._finished(self.id)


class SerialJobs(QObject):
    """Runs jobs one at a time on a private thread (create it on the UI thread)."""

    returned = Signal(int, object)  # id, what a call()'s function returned or raised
    delivered = Signal(int)  # id, after a call()'s callback has run (lets tests wait)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._last = 0
        self._running: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[Any], None]] = {}  # UI thread only
        self.returned.connect(self._deliver)

    @property
    def last_id(self) -> int:
        """The id of the newest job (a job that is not it has been replaced)."""
        return self._last

    def start(self, work: Callable[[Job], None]) -> int:
        """Queue ``work(job)`` behind the jobs already given; returns the job's id."""
        self._last += 1
        job = Job(self, self._last, work)
        with self._lock:
            self._running[job.id] = job
        self._pool.start(job)
        return job.id

    def call(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> int:
        """Run ``fn()`` in the background, then ``then(result)`` on the UI thread; an
        exception ``fn`` raised is handed to ``then`` in place of a result."""
        self._callbacks[self._last + 1] = then
        return self.start(lambda job: self.returned.emit(job.id, _outcome(fn)))

    def cancel(self) -> None:
        """Set the cancel flag of every job not finished yet."""
        with self._lock:
            for job in self._running.values():
                job.cancelled.set()

    def busy(self) -> bool:
        """A job is queued or running, or a call()'s result has not been delivered yet."""
        with self._lock:
            return bool(self._running) or bool(self._callbacks)

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def _finished(self, job_id: int) -> None:
        with self._lock:
            self._running.pop(job_id, None)

    def _deliver(self, job_id: int, value: Any) -> None:
        then = self._callbacks.pop(job_id, None)
        try:
            if then is not None:
                then(value)
        finally:
            self.delivered.emit(job_id)


class Worker(QObject):
    """The base of the window's workers: their jobs run on their own :class:`SerialJobs`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = SerialJobs(self)

    def _replace(self, work: Callable[[Job], None]) -> int:
        """Cancel the jobs in flight and queue ``work`` (a newer job replaces an older)."""
        self.cancel()
        return self._jobs.start(work)

    def cancel(self) -> None:
        self._jobs.cancel()

    def busy(self) -> bool:
        return self._jobs.busy()

    def wait(self, msecs: int = -1) -> bool:
        return self._jobs.wait(msecs)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # handed to the UI thread, which reports it
        return exc
