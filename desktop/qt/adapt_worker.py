"""Clinic adaptation off the UI thread (Model ▸ Adapt to this clinic…).

One run at a time on a private one-thread pool (:mod:`desktop.qt.jobs`), like the window's
other workers; results come back through signals of a QObject that lives in the UI thread.
Cancel answers at once: the run is marked abandoned (its late signals are dropped), and the
worker stops at the next image or stage. A cancelled run never leaves a model behind, even
one that was being written when Cancel came.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal

from desktop.adapt.clinic import ClinicDataError
from desktop.adapt.run import DEFAULT_FOLDS, AdaptError, Outcome, adapt
from desktop.features import ExtractionCancelled
from desktop.qt.jobs import Job, Worker

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
    limit_scope: bool = False  # the clinic's own "unlike this clinic's dermoscopy" limit


def remove_model(out: Path) -> None:
    """Delete what a run wrote into ``out`` (a cancelled run must leave no model)."""
    for name in MODEL_FILES:
        with contextlib.suppress(OSError):
            (out / name).unlink(missing_ok=True)


class AdaptRunner(Worker):
    """Runs :func:`desktop.adapt.run.adapt` in the background; signals carry the run id so
    the controller can ignore a run it has cancelled."""

    progress = Signal(int, str, int, int)  # run id, stage, done, total
    succeeded = Signal(int, object)  # run id, Outcome
    failed = Signal(int, str)  # run id, one line a user can act on
    cancelled = Signal(int)  # run id
    finished = Signal(int)  # run id; after any of the three above

    def start(self, request: AdaptRequest) -> int:
        """Start a run (cancelling one in progress) and return its id."""
        return self._replace(lambda job: self._adapt(job, request))

    def _adapt(self, job: Job, r: AdaptRequest) -> None:
        """The run, on the worker thread; exactly one of succeeded, failed or cancelled."""
        cancel = job.cancelled

        def progress(stage: str, done: int, total: int) -> None:
            if cancel.is_set():  # stops between cross-validation and writing, too
                raise ExtractionCancelled
            self.progress.emit(job.id, stage, done, total)

        try:
            outcome = adapt(
                list(r.folders),
                r.out,
                r.model,
                folds=r.folds,
                force=r.force,
                progress=progress,
                cancelled=cancel.is_set,
                limit_scope=r.limit_scope,
            )
            if cancel.is_set():
                if outcome.model is not None:
                    remove_model(r.out)
                self.cancelled.emit(job.id)
            else:
                self.succeeded.emit(job.id, outcome)
        except ExtractionCancelled:
            self.cancelled.emit(job.id)
        except (AdaptError, ClinicDataError) as exc:
            self.failed.emit(job.id, str(exc))
        except Exception as exc:  # never let a worker die silently
            self.failed.emit(job.id, f"{type(exc).__name__}: {exc}")
        finally:
            self.finished.emit(job.id)


__all__ = ["AdaptRequest", "AdaptRunner", "MODEL_FILES", "Outcome", "remove_model"]
