"""Where case tasks run: in this process, a local pool (:mod:`coloc_viewer.cohort.pool`),
or a Dask cluster.

Every backend calls the same :func:`coloc_viewer.cohort.worker.run_case`, so the records
(and the tables rebuilt from them) are the same whichever runs them. A task that dies
outside ``run_case`` (a crashed worker, a lost Dask worker) is reported through
``on_error`` with the reason, and the run goes on. A backend is opened once per run and
reused by its phases (worker processes keep their imported torch and loaded models).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from coloc_viewer.cohort.worker import CaseTask, run_case
from coloc_viewer.errors import InputError

OnResult = Callable[[CaseTask, list[dict[str, Any]]], None]
OnError = Callable[[CaseTask, str], None]


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def reason_of(err: BaseException) -> str:
    """One line: the exception's type and message."""
    return " ".join(f"{type(err).__name__}: {err}".split())


class Backend:
    """Runs tasks in this process with ``threads`` torch threads (default: every core)."""

    name = "in-process"

    def __init__(self, threads: int | None = None):
        self.threads = threads or available_cores()

    def run(self, tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
        for t in tasks:
            try:
                records = run_case(replace(t, threads=t.threads or self.threads))
            except Exception as err:  # noqa: BLE001 - a bad case must not stop the run
                on_error(t, reason_of(err))
            else:
                on_result(t, records)

    def close(self) -> None:
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
                on_error(t, reason_of(err))
            else:
                on_result(t, records)

    def close(self) -> None:
        self.client.close()


def open_backend(workers: int, dask: str | None, timeout: float = 20.0, *,
                 threads: int | None = None, preload: Sequence[str] = ()) -> Backend:
    """The backend of a run: Dask at ``dask``, a local pool for ``workers > 1``, else this
    process. ``threads`` fixes torch threads per task; ``preload`` names the models that
    pool processes load while they start."""
    if dask:
        return DaskBackend(dask, timeout)
    if workers > 1:
        from coloc_viewer.cohort.pool import PoolBackend

        return PoolBackend(workers, threads=threads, preload=preload)
    return Backend(threads)
