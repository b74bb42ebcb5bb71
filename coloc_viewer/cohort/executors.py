"""Where case tasks run: in this process, a local process pool, or a Dask cluster.

Every backend calls the same :func:`coloc_viewer.cohort.worker.run_case`, so the records
(and the tables rebuilt from them) are the same whichever runs them. A task that dies
outside ``run_case`` (a crashed worker, a lost Dask worker) is reported through
``on_error`` with the reason, and the run goes on.
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


def run_inline(tasks: Sequence[CaseTask], on_result: OnResult, on_error: OnError) -> None:
    for t in tasks:
        try:
            records = run_case(t)
        except Exception as err:  # noqa: BLE001 - a bad case must not stop the run
            on_error(t, _reason(err))
        else:
            on_result(t, records)


def run_pool(tasks: Sequence[CaseTask], workers: int, on_result: OnResult,
             on_error: OnError) -> None:
    """A pool of ``workers`` spawned processes (spawn: torch is not fork-safe)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(run_case, t): t for t in tasks}
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
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_dask(tasks: Sequence[CaseTask], address: str, on_result: OnResult,
             on_error: OnError, *, timeout: float = 20.0) -> None:
    """Submit every task to the dask.distributed scheduler at ``address``."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise InputError("--dask needs dask.distributed (pip install "
                         "'coloc-viewer[cluster]')") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(f"cannot reach the Dask scheduler ({type(err).__name__})",
                         address) from None
    try:
        futures = {client.submit(run_case, t, pure=False): t for t in tasks}
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                records = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. a killed Dask worker
                on_error(t, _reason(err))
            else:
                on_result(t, records)
    finally:
        client.close()
