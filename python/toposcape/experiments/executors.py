"""Executors: where a study's runs are computed. One interface, two backends.

* :class:`LocalExecutor` -- a pool of worker processes on this machine (spawned, not forked:
  the coordinator may already run threads), the embedded default.
* :class:`DaskExecutor` -- ``dask.distributed``: an existing cluster (``scheduler`` address)
  or a ``LocalCluster`` started for the study.

Both take ``(key, settings)`` tasks and give back, as they complete, the worker's
:class:`~.runner.RunResult` or a :class:`Lost` when the worker died (killed, out of memory);
the coordinator decides what to retry. Workers pin their thread counts per run
(:func:`toposcape.threads`), so N single-threaded workers on N cores do not oversubscribe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .runner import RunResult, execute

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "Lost", "make_executor"]


@dataclass
class Lost:
    """A run whose worker died before returning (killed, out of memory, crashed)."""

    key: str
    error: str


class Executor(ABC):
    """Submit runs, then iterate over their outcomes as they complete."""

    name = "executor"
    workers = 1

    @abstractmethod
    def submit(self, key: str, settings: Mapping[str, Any]) -> None:
        """Queue one run."""

    @abstractmethod
    def outcomes(self) -> Iterator[RunResult | Lost]:
        """Outcomes of the submitted runs as they complete, until none is outstanding.

        Runs may be submitted while iterating (e.g. a retry)."""

    @property
    @abstractmethod
    def outstanding(self) -> int:
        """Runs submitted whose outcome has not been yielded yet."""

    @abstractmethod
    def close(self, cancel: bool = False) -> None:
        """Release the workers (``cancel``: abandon the runs in flight)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)


def _worker_init() -> None:
    """Prepare a worker before its first run, so that a run's wall time is its own: the
    wait policy before torch or MKL start their pools, then the numba kernels' cache loads
    that the first run would otherwise pay for (torch is imported by the first CNN run)."""
    import toposcape as ts

    tiny = ts.problems.mbb_beam(width=8, height=4, density=0.5)
    with ts.threads(1):
        obj = ts.PixelObjective(tiny)
        obj.hvp(obj.x0, obj.x0)
        obj.value_and_grad(obj.x0)


@contextlib.contextmanager
def _importable_main():
    """Spawned workers re-import the parent's main script; a main read from standard input
    (``python - < script``) has no file to import, and every worker would die at start.
    Such a main is hidden from the spawn machinery while workers start (the workers only
    need toposcape)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or os.path.exists(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


class LocalExecutor(Executor):
    """A process pool on this machine.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: the number of processors available to this process).
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        from .. import _validate

        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        default = available or os.cpu_count() or 1
        self.workers = _validate.integer(
            default if workers is None else workers, "workers", minimum=1, who="LocalExecutor"
        )
        self._pool = None
        self._futures: dict[Any, str] = {}
        self._tasks: dict[str, Mapping[str, Any]] = {}

    def _ensure_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_worker_init,
            )
        return self._pool

    def submit(self, key: str, settings: Mapping[str, Any]) -> None:
        self._tasks[key] = settings
        with _importable_main():  # worker processes start inside submit
            future = self._ensure_pool().submit(execute, key, dict(settings))
        self._futures[future] = key

    @property
    def outstanding(self) -> int:
        return len(self._futures)

    def outcomes(self) -> Iterator[RunResult | Lost]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        while self._futures:
            done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
            ready: list[RunResult | Lost] = []
            broken = False
            for future in done:
                key = self._futures.pop(future)
                try:
                    ready.append(future.result())
                except BrokenProcessPool as exc:
                    broken = True
                    ready.append(Lost(key, f"worker process died ({exc})"))
                except Exception as exc:  # pickling or pool errors: report, do not stop
                    ready.append(Lost(key, f"{type(exc).__name__}: {exc}"))
            if broken:
                # Every run still in the broken pool is lost with it. A fresh pool is made
                # before the coordinator hears of the losses, so its retries land there.
                for future, key in list(self._futures.items()):
                    future.cancel()
                    self._futures.pop(future)
                    ready.append(Lost(key, "worker pool broke while the run was in flight"))
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            yield from ready

    def close(self, cancel: bool = False) -> None:
        if self._pool is None:
            return
        if cancel:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()  # in-flight runs are abandoned: redone on resume
        self._pool.shutdown(wait=not cancel, cancel_futures=True)
        self._pool = None
        self._futures.clear()


class DaskExecutor(Executor):
    """``dask.distributed``: join a running scheduler, or start a ``LocalCluster``.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:PORT``); None starts a LocalCluster with
        ``workers`` single-threaded worker processes.
    workers : int, optional
        Workers of the LocalCluster (default: the processors available).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the Dask executor needs dask.distributed: pip install 'toposcape[dask]'"
            ) from exc
        from .. import _validate

        self._cluster = None
        if scheduler is None:
            default = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
            self.workers = _validate.integer(
                default if workers is None else workers, "workers", minimum=1, who="dask"
            )
            # A run that kills its worker is retried once (the scheduler's own retry count).
            # The nannies write their workers' thread variables (MKL_NUM_THREADS=1, ...) into
            # this process's environment, where every later child would inherit them: keep it.
            environ = dict(os.environ)
            with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,
                )
            os.environ.clear()
            os.environ.update(environ)
            self._client = Client(self._cluster)
        else:
            if not isinstance(scheduler, str):
                raise TypeError(f"scheduler must be an address string, got {scheduler!r}")
            self._client = Client(scheduler, timeout="30s")
            self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        self._client.run(_worker_init)
        self._futures: dict[Any, str] = {}
        self._completed = None

    def submit(self, key: str, settings: Mapping[str, Any]) -> None:
        from distributed import as_completed

        future = self._client.submit(execute, key, dict(settings), key=f"run-{key}", pure=False)
        self._futures[future] = key
        if self._completed is None:
            self._completed = as_completed([future])
        else:
            self._completed.add(future)

    @property
    def outstanding(self) -> int:
        return len(self._futures)

    def outcomes(self) -> Iterator[RunResult | Lost]:
        while self._futures and self._completed is not None:
            future = next(self._completed)
            key = self._futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker and friends
                yield Lost(key, f"{type(exc).__name__}: {exc}")
            else:
                yield result
            finally:
                future.release()

    def close(self, cancel: bool = False) -> None:
        if cancel and self._futures:
            self._client.cancel(list(self._futures))
        self._futures.clear()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    kind: str = "local", workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """``"local"`` or ``"dask"``; a ``scheduler`` address implies Dask."""
    from .. import _validate

    if scheduler is not None:
        kind = "dask"
    _validate.option(kind, "executor", ("local", "dask"))
    if kind == "local":
        return LocalExecutor(workers)
    return DaskExecutor(scheduler, workers)
