"""One run of a study: a pure function of its settings (and its pinned thread count).

:func:`execute` is what a worker (a process of the local pool, a Dask worker) calls: it builds
the problem, the model and the optimizer from the settings, runs under pinned thread counts,
and returns the result as netCDF bytes plus metadata. It writes nothing: the coordinator alone
writes the store, so a cluster needs no shared file system.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import socket
import subprocess
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["RunResult", "execute", "build_objective"]


@dataclass
class RunResult:
    """What a worker sends back for one run."""

    key: str
    ok: bool
    netcdf: bytes = b""
    summary: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""


def build_objective(settings: Mapping[str, Any]):
    """The objective a run's settings describe (problem, model, penalty, solver, seed)."""
    from .. import PixelObjective, optim, problems

    problem = problems.get(settings["problem"])
    model = dict(settings["model"])
    kind = model.pop("kind")
    needs_densities = optim.get(
        settings["optimizer"]["preset"],
        **{k: v for k, v in settings["optimizer"].items() if k != "preset"},
    ).requires.explicit_volume
    if kind == "pixel":
        return PixelObjective(
            problem,
            penal=settings["penal"],
            volume_constraint=not needs_densities,
            solver=settings["solver"],
        )
    if needs_densities:
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"optimizer {settings['optimizer']['preset']!r} needs the pixel model's densities"
        )
    from ..models.neural import CNNObjective

    for key in ("resizes", "conv_filters"):
        if key in model:
            model[key] = tuple(model[key])
    return CNNObjective(
        problem,
        penal=settings["penal"],
        seed=settings["seed"] if settings["seed"] is not None else 0,
        solver=settings["solver"],
        **model,
    )


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    """The commit of the library's checkout, when it runs from one (once per process)."""
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def execute(
    key: str,
    settings: Mapping[str, Any],
    callback: Callable[[Any], Any] | None = None,
) -> RunResult:
    """Run the study run ``key`` with ``settings`` (see :class:`~.spec.RunSpec.settings`).

    Never raises for a failing run: the error and traceback come back in the result, so the
    other runs go on. ``callback(state)`` is passed to the optimizer (progress, cancellation).
    """
    from .. import __version__, _threads, models, optim
    from ..optim.trajectory import Trajectory

    started = time.time()
    meta: dict[str, Any] = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "started": started,
    }
    if settings.get("analysis") == "lab":  # a lab task (.lab_spec)
        from .lab_spec import execute_lab

        return execute_lab(key, settings, meta, started)
    if settings.get("analysis") is not None:
        return _execute_analysis(key, settings, meta, started)
    try:
        threads = int(settings["threads"])
        if settings["model"]["kind"] != "pixel":
            models.load_torch()  # before pinning, so torch's threads are pinned too
        with _threads.pinned(threads):
            obj = build_objective(settings)
            options = {k: v for k, v in settings["optimizer"].items() if k != "preset"}
            opt = optim.get(settings["optimizer"]["preset"], **options)
            record = settings["record"]
            every = record.get("params_every")
            memory_at = set(record.get("memory_at", ()))
            designs_at = set(record.get("designs_at", ()))
            designs: dict[int, np.ndarray] = {}

            def observe(state):
                if state.step in designs_at:
                    designs[state.step] = obj.design(state.theta)
                if callback is not None:
                    return callback(state)
                return None

            traj: Trajectory = opt.run(
                obj,
                max_evals=settings["max_evals"],
                max_steps=settings["max_steps"],
                record_params=every is not None,
                record_memory=bool(memory_at) and opt.requires.curvature_memory,
                progress=False,
                callback=observe,
            )
            best_design = obj.design(traj.best_theta)
            final_design = obj.design(traj.theta)
        ds = _dataset(traj, every, memory_at, designs, best_design, final_design)
        finished = time.time()
        meta.update(finished=finished, wall_time=finished - started, threads=traj.threads)
        for k, v in traj.threads.items():
            ds.attrs[f"thread_{k}"] = v
        _stamp(ds, key, meta, started, finished)
        summary = {
            "best_loss": float(traj.best_loss),
            "final_loss": float(traj.losses[-1]),
            "n_evals": int(traj.n_evals),
            "n_steps": int(traj.n_steps),
            "reason": traj.reason,
            "wall_time": finished - started,
        }
        return RunResult(key, True, bytes(ds.to_netcdf(engine="scipy")), summary, meta)
    except Exception as exc:  # a failing run is recorded, not fatal to the study
        return _failed(key, exc, meta, started)


def _failed(key: str, exc: Exception, meta: dict, started: float) -> RunResult:
    """A run or analysis that raised: recorded with its traceback, the others go on."""
    meta.update(finished=time.time(), wall_time=time.time() - started)
    return RunResult(
        key,
        False,
        meta=meta,
        error=f"{type(exc).__name__}: {exc}",
        traceback=traceback.format_exc(),
    )


def _stamp(ds, key: str, meta: dict, started: float, finished: float) -> None:
    """Where and when a result was computed, in its file's attributes."""
    from .. import __version__

    ds.attrs.update(
        key=key,
        host=meta["host"],
        version=__version__,
        git_commit=meta["git_commit"],
        started=started,
        finished=finished,
    )


def _execute_analysis(key: str, settings: Mapping[str, Any], meta: dict, started: float):
    """An analysis task (:mod:`.landscape_spec`): rerun the run, analyse it, same protocol."""
    from .. import _threads, models

    try:
        if settings["analysis"] != "landscape":
            raise ValueError(f"unknown analysis {settings['analysis']!r}")
        from .landscape import LandscapeOptions, analyze

        run = settings["run"]
        if run["model"]["kind"] != "pixel":
            models.load_torch()  # before pinning, so torch's threads are pinned too
        with _threads.pinned(int(run["threads"])):
            ds = analyze(run, LandscapeOptions.from_dict(settings["landscape"]), progress=False)
        finished = time.time()
        meta.update(finished=finished, wall_time=finished - started)
        _stamp(ds, key, meta, started, finished)
        losses = np.asarray(ds["loss"].values, dtype=np.float64)
        summary = {
            "best_loss": float(np.nanmin(losses)) if np.isfinite(losses).any() else math.nan,
            "final_loss": float(ds["rerun_final_loss"]),
            "n_evals": int(ds.attrs.get("n_evals", -1)),
            "n_steps": int(ds.attrs["n_steps"]),
            "reason": "analysed",
            "wall_time": finished - started,
        }
        return RunResult(key, True, bytes(ds.to_netcdf(engine="scipy")), summary, meta)
    except Exception as exc:  # a failing analysis is recorded, not fatal to the stage
        return _failed(key, exc, meta, started)


def _dataset(traj, every, memory_at, designs, best_design, final_design):
    ds = traj.to_xarray(parameters=False)
    if "theta" in ds:
        keep = np.arange(0, ds.sizes["step"], every)
        ds = ds.drop_vars("theta")
        ds["theta"] = (("param_step", "parameter"), traj.thetas[keep])
        ds = ds.assign_coords(param_step=keep)
    if "memory" in ds:
        held = ds["memory"].values
        rows = sorted(s for s in memory_at if s < held.shape[0])
        used = sorted({int(i) for r in rows for i in held[r] if i >= 0})
        remap = {old: new for new, old in enumerate(used)}
        kept = np.full((len(rows), held.shape[1]), -1, dtype=np.int32)
        for j, r in enumerate(rows):
            for slot, i in enumerate(held[r]):
                if i >= 0:
                    kept[j, slot] = remap[int(i)]
        s_pairs, y_pairs = ds["pair_s"].values[used], ds["pair_y"].values[used]
        ds = ds.drop_vars(["memory", "pair_s", "pair_y"])
        ds["memory"] = (("memory_step", "slot"), kept)
        ds["pair_s"] = (("pair", "parameter"), s_pairs)
        ds["pair_y"] = (("pair", "parameter"), y_pairs)
        ds = ds.assign_coords(memory_step=np.asarray(rows, dtype=np.int64))
    ds["best_design"] = (("y", "x"), best_design)
    ds["final_design"] = (("y", "x"), final_design)
    if designs:
        steps = sorted(designs)
        ds["design"] = (("design_step", "y", "x"), np.stack([designs[s] for s in steps]))
        ds = ds.assign_coords(design_step=np.asarray(steps, dtype=np.int64))
    return ds
