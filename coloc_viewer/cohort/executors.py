"""Where case tasks run: in this process, a local process pool, or a Dask cluster.

Every backend calls the same :func:`coloc_viewer.cohort.worker.run_case`, so the records
(and the tables rebuilt from them) are the same whichever runs them. A task that dies
outside ``run_case`` (a crashed worker, a lost Dask worker) is reported through
``on_error`` with the reason, and the run goes on. A backend is opened once per run and
reused by its phases (worker processes keep their imported torch and loaded models).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coloc_viewer.cohort.worker import CaseTask, run_case
from coloc_viewer.errors import InputError

OnResult = Callable[[CaseTask, list[dict[str, Any]]], None]
OnError = Callable[[CaseTask, str], None]


def _reason(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


class Backend:
    """Runs tasks in this process; subclasses run them elsewhere."""

    name = "in-process"

    def run(self, tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
        for t in tasks:
            try:
                records = run_case(t)
            except Exception as err:  # noqa: BLE001 - a bad case must not stop the run
                on_error(t, _reason(err))
            else:
                on_result(t, records)

    def close(self) -> None:
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoolBackend(Backend):
    """A pool of ``workers`` spawned processes (spawn: torch is not fork-safe)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.name = f"{workers} worker(s)"
        self._pool: Any = None

    def run(self, tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=mp.get_context("spawn"))
        pending = {self._pool.submit(run_case, t): t for t in tasks}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    t = pending.pop(fut)
                    err = fut.exception()
                    if err is None:
                        on_result(t, fut.result())
                    else:
                        on_error(t, _reason(err))
        except BaseException:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class DaskBackend(Backend):
    """Submits every task to the dask.distributed scheduler at ``address``."""

    name = "dask"

    def __init__(self, address: str, timeout: float = 20.0):
        try:
            from dask.distributed import Client
        except ImportError:
            raise InputError("--dask needs dask.distributed (pip install "
                             "'coloc-viewer[cluster]')") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(f"cannot reach the Dask scheduler ({type(err).__name__})",
                             address) from None

    def run(self, tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
        from dask.distributed import as_completed

        futures = {self.client.submit(run_case, t, pure=False): t for t in tasks}
        for fut in as_completed(list(futures), loop=self.client.loop):
            t = futures[fut]
            try:
                records = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. a killed Dask worker
                on_error(t, _reason(err))
            else:
                on_result(t, records)

    def close(self) -> None:
        self.client.close()


def open_backend(workers: int, dask: str | None, timeout: float = 20.0) -> Backend:
    if dask:
        return DaskBackend(dask, timeout)
    if workers > 1:
        return PoolBackend(workers)
    return Backend()
