"""Clinic adaptation off the UI thread (Model ▸ Adapt to this clinic…).

One run at a time on a private one-thread pool, like the window's other workers; results
come back through signals of a QObject that lives in the UI thread. Cancel answers at once:
the run is marked abandoned (its late signals are dropped), and the worker stops at the next
image or stage. A cancelled run never leaves a model behind, even one that was being
written when Cancel came.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop.adapt.clinic import ClinicDataError
from desktop.adapt.run import DEFAULT_FOLDS, AdaptError, Outcome, adapt
from desktop.features import ExtractionCancelled

# What a written model consists of (the feature cache stays: a re-run reuses it).
MODEL_FILES = ("model.json", "model.tflite", "report.md", "roc.png")


@dataclass(frozen=True)
class AdaptRequest:
    """One adaptation as the dialog asked for it."""

    folders: tuple[str, ...]
    out: Path
    model: Path
    folds: int = DEFAULT_FOLDS
    force: bool = False


def remove_model(out: Path) -> None:
    """Delete what a run wrote into ``out`` (a cancelled run must leave no model)."""
    for name in MODEL_FILES:
        with contextlib.suppress(OSError):
            (out / name).unlink(missing_ok=True)


class _AdaptJob(QRunnable):
    def __init__(self, runner: AdaptRunner, run_id: int, request: AdaptRequest) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps it alive until it has finished
        self._runner, self._id, self._request = runner, run_id, request
        self.cancel = threading.Event()

    def _progress(self, stage: str, done: int, total: int) -> None:
        if self.cancel.is_set():  # stops between cross-validation and writing, too
            raise ExtractionCancelled
        self._runner.progress.emit(self._id, stage, done, total)

    def run(self) -> None:
        r, runner = self._request, self._runner
        try:
            outcome = adapt(
                list(r.folders),
                r.out,
                r.model,
                folds=r.folds,
                force=r.force,
                progress=self._progress,
                cancelled=self.cancel.is_set,
            )
            if self.cancel.is_set():
                if outcome.model is not None:
                    remove_model(r.out)
                runner.cancelled.emit(self._id)
            else:
                runner.succeeded.emit(self._id, outcome)
        except ExtractionCancelled:
            runner.cancelled.emit(self._id)
        except (AdaptError, ClinicDataError) as exc:
            runner.failed.emit(self._id, str(exc))
        except Exception as exc:  # never let a worker die silently
            runner.failed.emit(self._id, f"{type(exc).__name__}: {exc}")
        finally:
            runner._forget(self._id)
            runner.finished.emit(self._id)


class AdaptRunner(QObject):
    """Runs :func:`desktop.adapt.run.adapt` in the background; signals carry the run id so
    the controller can ignore a run it has cancelled."""

    progress = Signal(int, str, int, int)  # run id, stage, done, total
    succeeded = Signal(int, object)  # run id, Outcome
    failed = Signal(int, str)  # run id, one line a user can act on
    cancelled = Signal(int)  # run id
    finished = Signal(int)  # run id; after any of the three above

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._next_id = 0
        self._jobs: dict[int, _AdaptJob] = {}
        self._lock = threading.Lock()

    def start(self, request: AdaptRequest) -> int:
        """Start a run (cancelling one in progress) and return its id."""
        self.cancel()
        self._next_id += 1
        job = _AdaptJob(self, self._next_id, request)
        with self._lock:
            self._jobs[self._next_id] = job
        self._pool.start(job)
        return self._next_id

    def cancel(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()

    def busy(self) -> bool:
        with self._lock:
            return bool(self._jobs)

    def wait(self, msecs: int = -1) -> bool:
        return self._pool.waitForDone(msecs)

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._jobs.pop(run_id, None)


__all__ = ["AdaptRequest", "AdaptRunner", "MODEL_FILES", "Outcome", "remove_model"]
