"""Background workers: progress, results, cancel between yields, supersession, errors."""

from __future__ import annotations

import threading
import time

from coloc_viewer.gui.workers import GeneratorWorker, TaskRunner


def counting(n: int, gate: threading.Event | None = None, pause: float = 0.0):
    for i in range(n):
        if gate is not None:
            gate.wait(5)
        time.sleep(pause)
        yield i
    return n * 10


def test_generator_worker_yields_then_returns(qtbot):
    runner = TaskRunner()
    seen, results = [], []
    runner.submit("a", counting, 4, on_yield=seen.append, on_result=results.append)
    qtbot.waitUntil(lambda: results == [40], timeout=5000)
    assert seen == [0, 1, 2, 3]
    assert runner.shutdown(2000)


def test_cancel_stops_at_the_next_yield(qtbot):
    runner = TaskRunner()
    gate = threading.Event()
    seen, results = [], []
    worker = runner.submit("a", counting, 1000, gate, on_yield=seen.append,
                           on_result=results.append)
    gate.set()
    qtbot.waitUntil(lambda: len(seen) >= 1, timeout=5000)
    runner.cancel("a")
    assert worker.done.wait(5)
    qtbot.wait(50)
    assert results == [] and len(seen) < 1000


def test_newer_request_supersedes_older_one(qtbot):
    runner = TaskRunner()
    results = []
    slow_gate = threading.Event()
    old = runner.submit("analysis", counting, 3, slow_gate, on_result=lambda r: results.append(
        ("old", r)))
    runner.submit("analysis", counting, 2, on_result=lambda r: results.append(("new", r)))
    slow_gate.set()
    qtbot.waitUntil(lambda: results == [("new", 20)], timeout=5000)
    assert old.done.wait(5)
    qtbot.wait(50)
    assert results == [("new", 20)]
    assert not runner.is_busy("analysis")


def test_exception_goes_to_the_error_callback_and_the_runner_keeps_working(qtbot):
    runner = TaskRunner()
    errors, results = [], []

    def broken():
        yield 1
        raise RuntimeError("model exploded")

    runner.submit("a", broken, on_error=errors.append)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert str(errors[0]) == "model exploded"
    runner.submit("a", counting, 1, on_result=results.append)
    qtbot.waitUntil(lambda: results == [10], timeout=5000)


def test_plain_function_runs_in_another_thread(qtbot):
    main = threading.get_ident()
    runner = TaskRunner()
    results = []
    runner.submit("a", threading.get_ident, on_result=results.append)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=5000)
    assert results[0] != main


def test_worker_run_synchronously_reports_through_signals(qtbot):
    worker = GeneratorWorker(counting, 2)
    with qtbot.waitSignal(worker.signals.returned, timeout=2000) as blocker:
        worker.run()
    assert blocker.args == [20]
    assert not worker.abort_requested


def test_many_signal_emits_keep_the_interpreter_alive():
    """PySide6 6.12.0 drops a reference to True per emit; the gui package refuses it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    import coloc_viewer.gui  # noqa: F401  (refuses the leaking binding)

    class Emitter(QObject):
        ping = Signal()

    emitter = Emitter()
    before = sys.getrefcount(True)  # what else holds True varies with what was imported
    for _ in range(20000):
        emitter.ping.emit()
    assert sys.getrefcount(True) > before - 1000  # a leak would take 20000 away


def test_timer_driven_slots_keep_none_alive(qtbot):
    """Under PySide6 6.12.0 each Qt-driven slot call drops a reference to None."""
    import sys

    from PySide6.QtCore import QTimer

    from coloc_viewer.gui.qt_compat import emit_leaks_true

    ticks = []
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: ticks.append(1))
    before = sys.getrefcount(None)
    timer.start()
    qtbot.waitUntil(lambda: len(ticks) >= 3000, timeout=20000)
    timer.stop()
    assert not emit_leaks_true()  # the leaking binding is excluded and refused
    assert sys.getrefcount(None) >= before - 100


def test_the_leaking_binding_is_refused_with_a_clear_message():
    from coloc_viewer.gui import qt_compat

    try:
        qt_compat.check_binding("6.12.0", (3, 11, 7))
    except qt_compat.UnsupportedBinding as err:
        assert "6.12.0" in str(err) and "pip install" in str(err)
    else:
        raise AssertionError("PySide6 6.12.0 was not refused")
    qt_compat.check_binding("6.12.0", (3, 12, 0))  # immortal singletons: fine
    qt_compat.check_binding("6.11.3", (3, 11, 7))


def test_product_errors_are_logged_as_one_line_others_with_their_trace(qtbot, caplog):
    """A cancelled retrieval or a refused server is an outcome the GUI shows, not a bug:
    one INFO line; anything else keeps its traceback at ERROR."""
    import logging

    from coloc_viewer.pacs.errors import RetrievalCancelled

    def cancelled():
        raise RetrievalCancelled("retrieval cancelled", "orthanc")

    def broken():
        raise ZeroDivisionError("a bug")

    runner = TaskRunner()
    errors: list[BaseException] = []
    with caplog.at_level(logging.INFO, logger="coloc_viewer.gui.workers"):
        for count, task in enumerate((cancelled, broken), start=1):
            runner.submit(task.__name__, task, on_error=errors.append)
            qtbot.waitUntil(lambda n=count: len(errors) == n, timeout=5000)
    assert [type(e) for e in errors] == [RetrievalCancelled, ZeroDivisionError]
    mine = [r for r in caplog.records if r.name == "coloc_viewer.gui.workers"]
    assert [(r.levelname, r.exc_info is not None) for r in mine] == [("INFO", False),
                                                                    ("ERROR", True)]
    assert mine[0].getMessage() == "background task ended: PACS orthanc: retrieval cancelled"
    assert runner.shutdown(2000)
