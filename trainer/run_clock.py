"""What a training run has cost in time, over every session it took.

A run is resumable, and a session can end by being killed (a machine going back, a session's
time running out) rather than by Ctrl-C. The time spent so far is therefore stamped into the
checkpoint state with every finished epoch, not only at the end: a resumed run's report then
counts each earlier session up to its last finished epoch, instead of the last session alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WALL = "wall_seconds"  # data to export, every session
TRAIN = "train_seconds"  # inside fit(), every session


class RunClock:
    """The run's totals when this session began (from the checkpoint state), plus this
    session's time so far. ``now`` is the clock read (replaceable in tests)."""

    def __init__(
        self,
        state: dict[str, Any],
        wall_start: float,
        earlier_wall: float | None = None,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._now = now
        self.wall_before = float(state.get(WALL, 0.0) if earlier_wall is None else earlier_wall)
        self.train_before = float(state.get(TRAIN, 0.0))
        self.wall_start = wall_start
        self.fit_start: float | None = None

    def start_fit(self) -> None:
        """From here this session's time also counts as training time."""
        self.fit_start = self._now()

    def stamp(self, state: dict[str, Any], fitting: bool = True) -> dict[str, Any]:
        """Write the totals so far into ``state`` (the caller saves it). ``fitting``: the
        training time runs up to now too (else it stays where the fit left it)."""
        now = self._now()
        state[WALL] = self.wall_before + now - self.wall_start
        if self.fit_start is not None and fitting:
            state[TRAIN] = self.train_before + now - self.fit_start
        return state
