"""ForkedWorkers: results in order, a failed or dead worker's task handed back, close never waits."""

import os
import signal
import sys

import pytest

from edgeinfer.core.forked import ForkedWorkers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers: Linux only")


def _square_or_fail(x):
    if x == "boom":
        raise RuntimeError("boom")
    if x == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if x == "ctrl-c":  # as a Ctrl-C at the terminal sends it to the whole process group
        os.kill(os.getpid(), signal.SIGINT)
        return "still here"
    if x == "hang":
        signal.pause()  # never answers: only close() ends it
    return x * x


def test_results_come_back_in_task_order_from_every_worker():
    with ForkedWorkers(lambda x: (x, os.getpid()), 3) as w:
        out = list(w.map(range(40)))
    assert [x for x, _ in out] == list(range(40))
    assert len({pid for _, pid in out}) > 1 and os.getpid() not in {pid for _, pid in out}


def test_a_raising_or_dying_worker_hands_its_task_back_as_none():
    with ForkedWorkers(_square_or_fail, 2) as w:
        assert list(w.map([1, "boom", 3, "die", 5, 6, "die", 8])) == [1, None, 9, None, 25, 36, None, None]
        # both workers are dead now: everything is the caller's
        assert list(w.map([2, 3])) == [None, None]


def test_close_with_tasks_still_running_kills_and_reaps_the_workers():
    w = ForkedWorkers(_square_or_fail, 2)
    it = w.map([4, "hang", "hang", 7])
    assert next(it) == 16  # stop early: one worker blocked for ever in its task, one idle
    procs = list(w._procs)
    w.close()
    assert all(not p.is_alive() and p.exitcode == -signal.SIGKILL for p in procs)
    w.close()  # idempotent


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="at least one job"):
        ForkedWorkers(abs, 0)


def test_a_workers_sigint_is_ignored_the_parent_handles_it():
    with ForkedWorkers(_square_or_fail, 1) as w:
        assert list(w.map(["ctrl-c", 3])) == ["still here", 9]


def test_a_map_after_an_abandoned_one_is_not_answered_by_its_tasks():
    """A worker still computing a task of an abandoned ``map`` is killed by the next one: it would
    never read the new task (here it is blocked for ever), or its late answer would be taken."""
    with ForkedWorkers(_square_or_fail, 2) as w:
        first = w.map([4, "hang", 6])
        assert next(first) == 16  # one worker blocked in "hang", one idle
        assert list(w.map([2, 3, 5])) == [4, 9, 25]
