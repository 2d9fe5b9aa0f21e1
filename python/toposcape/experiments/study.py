"""Running a study into its store, and reading it back.

>>> import toposcape as ts
>>> spec = ts.experiments.load_spec("demo.toml")
>>> ts.experiments.run(spec, "out/demo", workers=2)        # resumable: rerun to continue
>>> study = ts.experiments.open("out/demo")
>>> study.runs()        # pandas DataFrame, one row per (run, seed)
>>> study.dataset()     # xarray cube over problem, model, penal, optimizer, seed, step
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from .executors import Executor, Lost, make_executor
from .spec import StudySpec, load_spec
from .store import Store

__all__ = ["StudyReport", "run", "open", "Study"]

#: A run whose worker died is retried once, then recorded as failed.
MAX_ATTEMPTS = 2


@dataclass
class StudyReport:
    """What :func:`run` did: counts of runs by outcome in this session and in total."""

    computed: int
    failed: int
    skipped: int
    lost: int
    counts: dict[str, int]
    wall_time: float

    @property
    def complete(self) -> bool:
        return self.counts["pending"] == 0 and self.counts["running"] == 0

    @property
    def ok(self) -> bool:
        return self.complete and self.counts["failed"] == 0


def run(
    spec: StudySpec | str | Path | dict,
    out: str | Path,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    retry_failed: bool = False,
    on_outcome: Callable[[Any], None] | None = None,
) -> StudyReport:
    """Compute every run of ``spec`` not yet in the store at ``out``; resumable.

    Parameters
    ----------
    spec : StudySpec, LandscapeSpec, path to a TOML file, TOML text or a mapping
        A spec with a ``[landscape]`` table runs its analysis tasks
        (:mod:`~toposcape.experiments.landscape_spec`), one with a ``[lab]`` table its lab
        tasks (:mod:`~toposcape.experiments.lab_spec`).
    out : path
        The study directory (index and results); created if missing.
    executor : "local", "dask" or an Executor
    workers : int, optional
        Worker processes (default: the processors available).
    scheduler : str, optional
        Address of a running Dask scheduler (implies ``executor="dask"``).
    progress : bool or None
        A progress bar over runs (None: on a terminal only).
    retry_failed : bool
        Also rerun runs that failed in an earlier session.
    on_outcome : callable, optional
        Called with each worker outcome (tests and tools).

    Returns
    -------
    StudyReport
        Failed runs do not stop the others; ``report.ok`` is False when some failed.
    """
    from .lab_spec import LabSpec
    from .landscape_spec import LandscapeSpec

    if not isinstance(spec, (StudySpec, LandscapeSpec, LabSpec)):
        spec = load_spec(spec)
    started = time.perf_counter()
    store = Store(out)
    try:
        store.add_study(spec.name, spec.source, spec.expand())
        store.recover()
        todo = store.pending(spec.name, retry_failed=retry_failed)
        total = store.counts(spec.name)
        skipped = total["done"] + (0 if retry_failed else total["failed"])
        computed = failed = lost = 0
        if todo:
            own = not isinstance(executor, Executor)
            ex = make_executor(executor, workers, scheduler) if own else executor
            bar = _bar(progress, len(todo), spec.name, skipped)
            attempts = {row["key"]: row["attempts"] for row in todo}
            settings = {row["key"]: row["settings"] for row in todo}
            interrupted = False
            previous = signal.getsignal(signal.SIGTERM)
            if _in_main_thread():
                signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            try:
                import json

                for key in attempts:
                    store.mark_running(key)
                    attempts[key] += 1
                    ex.submit(key, json.loads(settings[key]))
                unfinished = set(attempts)
                for outcome in ex.outcomes():
                    if on_outcome is not None:
                        on_outcome(outcome)
                    if not isinstance(outcome, Lost) or attempts[outcome.key] >= MAX_ATTEMPTS:
                        unfinished.discard(outcome.key)
                    if isinstance(outcome, Lost):
                        lost += 1
                        if attempts[outcome.key] < MAX_ATTEMPTS:
                            store.mark_running(outcome.key)
                            attempts[outcome.key] += 1
                            ex.submit(outcome.key, json.loads(settings[outcome.key]))
                            continue
                        store.fail(outcome.key, f"worker died twice: {outcome.error}")
                        failed += 1
                    else:
                        store.finish(outcome)
                        if outcome.ok:
                            computed += 1
                        else:
                            failed += 1
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix_str(f"failed={failed}", refresh=False)
            except KeyboardInterrupt:
                interrupted = True
                raise
            finally:
                if bar is not None:
                    bar.close()
                if own:
                    ex.close(cancel=interrupted)
                # Queued or abandoned runs are pending again (a SIGKILL leaves them "running";
                # the next session's recover() does the same).
                for key in locals().get("unfinished", ()):
                    store.mark_pending(key)
                if _in_main_thread():
                    signal.signal(signal.SIGTERM, previous)
        return StudyReport(
            computed,
            failed,
            skipped,
            lost,
            store.counts(spec.name),
            time.perf_counter() - started,
        )
    finally:
        store.close()


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _bar(enabled: bool | None, total: int, name: str, skipped: int):
    desc = f"{name} ({skipped} done before)" if skipped else name
    return progress_bar(enabled, total, desc, "run")


def open(path: str | Path, study: str | None = None) -> Study:  # noqa: A001 - the API name
    """The study stored at ``path`` (its only study, or the one named ``study``)."""
    return Study(path, study)


class Study:
    """A stored study: its runs as a table, as an xarray cube, and one by one.

    Parameters
    ----------
    path : str or Path
        The study directory.
    study : str, optional
        Which study of the directory (default: the only one, or the latest).
    """

    def __init__(self, path: str | Path, study: str | None = None) -> None:
        self.path = Path(path)
        with Store(self.path, readonly=True) as store:
            names = store.studies()
            if not names:
                from ..errors import InvalidInputError

                raise InvalidInputError(f"{str(self.path)!r} holds no study yet")
            if study is None:
                study = names[-1]
            self.spec_source = store.spec(study)
        self.name = study

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"Study({self.name!r} at {str(self.path)!r}: {c['done']} done, "
            f"{c['failed']} failed, {c['pending'] + c['running']} to do)"
        )

    @property
    def spec(self) -> StudySpec:
        """The study's spec, parsed again from the stored source."""
        if "tune" in self.spec_source:  # the runs of a tuning (``NAME:tune``)
            from .tuning import load_tuning

            return load_tuning(self.spec_source).study
        if "lab" in self.spec_source:
            from .lab_spec import LabSpec

            return LabSpec.from_dict(self.spec_source)
        if "landscape" in self.spec_source:
            from .landscape_spec import LandscapeSpec

            return LandscapeSpec.from_dict(self.spec_source)
        return StudySpec.from_dict(self.spec_source)

    def counts(self) -> dict[str, int]:
        """Distinct runs by status: pending, running, done, failed."""
        with Store(self.path, readonly=True) as store:
            return store.counts(self.name)

    def runs(self):
        """A pandas DataFrame, one row per study entry (run x seed).

        Columns: key, status, problem, penal, model, optimizer (a label with its options, e.g.
        ``lbfgs(memory=10)``), seed, best_loss, final_loss, n_evals, n_steps, wall_time,
        reason, attempts, error, host, version. A pixel run (no randomness) is one run
        reported under every seed.
        """
        import pandas as pd

        with Store(self.path, readonly=True) as store:
            rows = store.rows(self.name)
        columns = [
            "key",
            "status",
            "problem",
            "penal",
            "model",
            "optimizer",
            "seed",
            "best_loss",
            "final_loss",
            "n_evals",
            "n_steps",
            "wall_time",
            "reason",
            "attempts",
            "error",
            "host",
            "version",
        ]
        data = [
            {**{c: r[c] for c in columns if c != "seed"}, "seed": r["entry_seed"]} for r in rows
        ]
        return pd.DataFrame(data, columns=columns)

    def trajectory(self, key: str):
        """The :class:`~toposcape.optim.Trajectory` of run ``key``, read from its file."""
        from ..optim.trajectory import Trajectory

        path = self.path / "runs" / f"{key}.nc"
        if not path.is_file():
            from ..errors import UnknownNameError

            raise UnknownNameError(f"no result for run {key!r} in {self.path} (not done yet?)")
        return Trajectory.load(path)

    def result_path(self, key: str) -> Path:
        """The netCDF result file of run ``key`` (it exists once the run is done)."""
        return self.path / "runs" / f"{key}.nc"

    def result(self, key: str, variables=None):
        """The run's result file as an xarray Dataset (designs, recorded extras).

        ``variables``: load only these (e.g. ``["loss", "final_design"]``), not recorded
        parameters a report does not need.
        """
        import xarray as xr

        path = self.result_path(key)
        if not path.is_file():
            from ..errors import UnknownNameError

            raise UnknownNameError(f"no result for run {key!r} in {self.path} (not done yet?)")
        with xr.open_dataset(path, engine="scipy") as ds:
            if variables is not None:
                ds = ds[list(variables)]
            return ds.load()

    def dataset(self, variables=("loss", "grad_norm", "step_size", "evals")):
        """One xarray Dataset over (problem, model, penal, optimizer, seed, step).

        Per-step ``variables`` of every done run, NaN-padded where runs are shorter or not
        done; ``best_loss`` and ``final_loss`` per run; the best designs are in
        :meth:`result`. Options of the optimizers are in the ``optimizer`` labels.
        """
        import xarray as xr

        table = self.runs()
        dims = ["problem", "model", "penal", "optimizer", "seed"]
        coords = {d: list(dict.fromkeys(table[d])) for d in dims}
        shape = [len(coords[d]) for d in dims]
        done = table[table["status"] == "done"]
        series: dict[str, dict[tuple, np.ndarray]] = {v: {} for v in variables}
        longest = 1
        cache: dict[str, Any] = {}
        for _, row in done.iterrows():
            if row["key"] not in cache:
                cache[row["key"]] = self.result(row["key"], variables)
            ds = cache[row["key"]]
            index = tuple(coords[d].index(row[d]) for d in dims)
            for v in variables:
                if v in ds:
                    series[v][index] = np.asarray(ds[v].values, dtype=np.float64)
                    longest = max(longest, series[v][index].size)
        data = {}
        for v in variables:
            cube = np.full((*shape, longest), np.nan)
            for index, values in series[v].items():
                cube[index][: values.size] = values
            data[v] = ((*dims, "step"), cube)
        for v in ("best_loss", "final_loss", "n_evals", "n_steps", "wall_time"):
            cube = np.full(shape, np.nan)
            for _, row in done.iterrows():
                index = tuple(coords[d].index(row[d]) for d in dims)
                cube[index] = row[v]
            data[v] = (tuple(dims), cube)
        coords["step"] = np.arange(longest)
        return xr.Dataset(data, coords=coords, attrs={"study": self.name})
