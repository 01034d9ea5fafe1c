"""The model's interpreters: one caller at a time each, lent out as callers come. No Qt, no
TensorFlow.

A :class:`Lane` is one LiteRT interpreter at a fixed batch (1, or an image's test-time views),
driven directly (set the input, invoke, read the outputs): the signature runner resizes and
re-allocates the tensors on every call, a quarter of a forward pass on the shipped model.
:class:`Lanes` lends them: a caller takes an idle lane, or a new one is made (a few ms), and
gives it back when done. So N threads classifying at once run N interpreters of one thread
each, every core busy and none waiting for another; one caller alone runs one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np


class Lane:
    """One interpreter at ``batch`` images per call, for one caller at a time (:class:`Lanes`).

    ``inputs`` and ``outputs`` are the model signature's tensor details by name. Where the
    signature's tensors are not the interpreter's own inputs and outputs (a model with
    several subgraphs), it falls back to the signature runner.
    """

    def __init__(
        self, model_path: str | os.PathLike[str], num_threads: int = 1, batch: int = 1
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.batch = batch
        self.interpreter = Interpreter(model_path=str(Path(model_path)), num_threads=num_threads)
        runner = self.interpreter.get_signature_runner()
        self.inputs: dict[str, Any] = runner.get_input_details()
        self.outputs: dict[str, Any] = runner.get_output_details()
        own_in = {d["index"] for d in self.interpreter.get_input_details()}
        own_out = {d["index"] for d in self.interpreter.get_output_details()}
        direct = {d["index"] for d in self.inputs.values()} == own_in and {
            d["index"] for d in self.outputs.values()
        } <= own_out
        self._runner = None if direct else runner
        del runner  # it holds the interpreter's internals, which direct calls then refuse
        if self._runner is None:
            if batch != 1:  # a graph that fixes its batch at 1 raises here
                for d in self.inputs.values():
                    shape = [batch, *(int(v) for v in d["shape"][1:])]
                    self.interpreter.resize_tensor_input(d["index"], shape)
            self.interpreter.allocate_tensors()

    def __call__(self, name: str, x: np.ndarray, wanted: Sequence[str]) -> list[np.ndarray]:
        """The ``wanted`` outputs (copies) for input ``name`` set to ``x`` (``batch`` images)."""
        if self._runner is not None:
            outputs = self._runner(**{name: x})
            return [outputs[w] for w in wanted]
        interpreter = self.interpreter
        interpreter.set_tensor(self.inputs[name]["index"], x)
        interpreter.invoke()
        return [interpreter.get_tensor(self.outputs[w]["index"]) for w in wanted]


class Lanes:
    """Lanes of one model, lent to one caller each (thread-safe); idle ones are kept, by
    batch size."""

    def __init__(self, model_path: str | os.PathLike[str], num_threads: int = 1) -> None:
        self.model_path = Path(model_path)
        self.num_threads = num_threads
        self._idle: dict[int, list[Lane]] = {}
        self._lock = threading.Lock()
        self.made = 0
        if hasattr(os, "register_at_fork"):  # a forked child makes its own interpreters
            os.register_at_fork(after_in_child=partial(_call, weakref.WeakMethod(self.forget)))

    def new(self, batch: int = 1) -> Lane:
        lane = Lane(self.model_path, self.num_threads, batch)
        with self._lock:
            self.made += 1
        return lane

    def give_back(self, lane: Lane) -> None:
        with self._lock:
            self._idle.setdefault(lane.batch, []).append(lane)

    def forget(self) -> None:
        """Drop the idle lanes and start afresh: a forked child (:func:`os.fork`) makes its
        own interpreters and lock rather than share its parent's state."""
        self._idle = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lend(self, batch: int = 1) -> Iterator[Lane]:
        """An idle lane for ``batch`` images, or a new one, for the length of the block."""
        with self._lock:
            idle = self._idle.get(batch)
            lane = idle.pop() if idle else None
        if lane is None:
            lane = self.new(batch)
        try:
            yield lane
        finally:
            self.give_back(lane)


def _call(method: weakref.WeakMethod) -> None:
    bound = method()
    if bound is not None:
        bound()
