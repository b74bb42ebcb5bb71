"""Series loading runs at a lower OS priority than the GUI thread (and than model work),
and the decoding threads it starts inherit that priority (Linux: nice is per thread)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from coloc_viewer.gui.workers import TaskRunner, lower_thread_priority

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread nice values are a Linux feature")


def thread_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def nice_here_and_in_a_child_thread() -> tuple[int, int]:
    child: list[int] = []
    t = threading.Thread(target=lambda: child.append(thread_nice()))
    t.start()
    t.join()
    return thread_nice(), child[0]


def loading_like():
    """Like load_study: the first value (the first slice), then bulk work."""
    before = thread_nice()
    yield "first"
    return before, nice_here_and_in_a_child_thread()


@linux_only
def test_load_channel_is_niced_after_its_first_yield_and_model_channel_is_not(qtbot):
    base = thread_nice()
    runner = TaskRunner()
    expected = max(base, TaskRunner.BACKGROUND_NICENESS)
    results: dict[str, object] = {}
    for _ in range(2):  # the second load starts at normal priority again
        results.clear()
        for channel in ("load", "model"):
            runner.submit(channel, loading_like,
                          on_result=lambda r, c=channel: results.__setitem__(c, r))
        qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
        # the first slice at normal priority; then the loader and its decode threads niced
        assert results["load"] == (base, (expected, expected))
        assert results["model"] == (base, (base, base))
        qtbot.waitUntil(lambda: runner.background_pool.activeThreadCount() == 0, timeout=5000)
        qtbot.wait(50)  # idle pool threads exit (expiry 0)
    assert thread_nice() == base  # the GUI thread is untouched
    assert runner.shutdown(2000)


@linux_only
def test_lower_thread_priority_only_raises_nice():
    out: list[tuple[bool, int, bool, int]] = []

    def work() -> None:
        first = lower_thread_priority(7)
        after_first = thread_nice()
        second = lower_thread_priority(3)  # never lowered back (needs privileges anyway)
        out.append((first, after_first, second, thread_nice()))

    base = thread_nice()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    level = max(base, 7)
    assert out == [(True, level, True, level)]
    assert thread_nice() == base
