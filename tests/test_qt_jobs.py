"""desktop.qt.jobs: the one background-job helper every worker of the window runs on."""

from __future__ import annotations

import threading

from desktop.qt.jobs import SerialJobs


def test_calls_run_in_order_off_the_ui_thread_and_answer_on_it(qtbot):
    jobs = SerialJobs()
    ui = threading.get_ident()
    ran, got = [], []

    def work(n: int):
        def fn():
            ran.append((n, threading.get_ident() != ui))
            if n == 2:
                raise ValueError("bad file")
            return n * 10

        return fn

    delivered = []
    jobs.delivered.connect(delivered.append)
    ids = [jobs.call(work(n), lambda v: got.append((v, threading.get_ident()))) for n in (1, 2, 3)]
    assert jobs.busy()
    qtbot.waitUntil(lambda: len(delivered) == 3, timeout=5000)
    assert ids == delivered == [1, 2, 3] and jobs.last_id == 3
    assert ran == [(1, True), (2, True), (3, True)]  # one at a time, in order, on the worker
    assert [v for v, _ in got][0::2] == [10, 30] and isinstance(got[1][0], ValueError)
    assert {thread for _, thread in got} == {ui}  # callbacks come back on the UI thread
    assert not jobs.busy()


def test_cancel_flags_every_job_not_finished(qtbot):
    jobs = SerialJobs()
    gate, seen = threading.Event(), {}

    def work(job):
        gate.wait(5)
        seen[job.id] = job.cancelled.is_set()

    jobs.start(work)
    jobs.start(work)
    jobs.cancel()
    later = jobs.start(work)  # given after the cancel: runs normally
    gate.set()
    assert jobs.wait(5000)
    assert seen == {1: True, 2: True, later: False} and not jobs.busy()
