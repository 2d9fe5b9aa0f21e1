"""An optimizer-lab stage as a spec: optimizers x seeds on a lab objective (the MLP).

A spec with a ``[lab]`` table describes runs on an objective of :mod:`toposcape.lab` instead of
a topology-optimization problem: the ``[lab]`` table replaces ``problems``, ``models``,
``penal``, ``solver`` and ``[record]``. Every (optimizer setting, seed) is one *lab task*: build
:class:`~toposcape.lab.mlp.MLPObjective` with that seed (its initial point and minibatch order),
run the optimizer, store the loss trajectory, the final and best parameters, and the training
and test loss and accuracy of the final parameters. Tasks go through the same engine as runs:
content keys (the task's settings and the library version), the store, the local pool or Dask,
resumption; ``toposcape study run SPEC --out DIR`` runs them.

.. code-block:: toml

    name = "lab-minima"
    seeds = [0, 1, 2, 3]

    [lab]
    objective = "mlp"          # the only kind so far (default)
    dataset = "digits"         # digits, iris, wine, breast_cancer (scikit-learn, no download)
    hidden = 16
    activation = "tanh"
    test_fraction = 0.25
    split_seed = 0
    weight_decay = 0.0
    batch_size = "full"        # default of the entries: "full" (or omitted) = full batch

    [[optimizers]]
    preset = "gd"              # SGD: gd on minibatches
    lr = 0.1
    batch_size = 32            # an entry's own batch size (overrides [lab])
    max_steps = 2150

    [[optimizers]]
    preset = "qn_golden"
    max_evals = 3000

Top-level keys: ``name``, ``description``, ``seeds``, ``max_evals``, ``max_steps`` (the default
budget of entries without their own), ``threads`` (per task, default 1), ``optimizers``,
``lab``. An optimizer entry takes the preset's options (lists are grids), ``label``, its own
``max_evals`` / ``max_steps`` and ``batch_size``; an entry with a batch size and no label shows
it in its label (``gd(lr=0.1, max_steps=2150, batch_size=32)``).

What a task stores (one netCDF per task): the optimizer's trajectory (``loss`` per step: the
*batch* loss for minibatch runs, ``eval_loss``, ``grad_norm``, ... as
:meth:`~toposcape.optim.Trajectory.to_xarray`), ``final_theta`` and ``best_theta``, and the
scalars ``train_loss``, ``test_loss`` (mean cross-entropy, nats, no decay), ``train_accuracy``,
``test_accuracy`` and ``objective_loss`` (the full-batch objective, decay included) at the final
parameters. The store's ``final_loss`` is ``objective_loss``; its ``best_loss`` is the lower
full-batch objective of the final and the best parameters (for a full-batch run these are the
trajectory's own final and best losses, bit for bit).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _validate
from ..errors import InvalidInputError
from .spec import (
    ModelSpec,
    OptimizerSpec,
    _as_list,
    _canonical,
    _parse_budget,
    _parse_optimizer,
    _parse_seeds,
    _where,
)

__all__ = [
    "LAB_OBJECTIVES",
    "LabSpec",
    "LabTask",
    "build_lab_objective",
    "is_lab_settings",
    "run_lab_task",
]

#: Objective kinds of a ``[lab]`` table.
LAB_OBJECTIVES = ("mlp",)

_TOP_KEYS = {
    "name",
    "description",
    "seeds",
    "max_evals",
    "max_steps",
    "threads",
    "optimizers",
    "lab",
}
#: Top-level keys of a plain study spec that a ``[lab]`` spec replaces.
_REPLACED = {"problems", "models", "penal", "solver", "record"}
_FULL = "full"


def _mlp_defaults() -> dict[str, Any]:
    from ..lab.mlp import MLPObjective

    params = inspect.signature(MLPObjective.__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "seed")}


def is_lab_settings(settings: Mapping[str, Any]) -> bool:
    """Whether engine settings describe a lab task."""
    return settings.get("analysis") == "lab"


def _batch(value: Any, where: str) -> int | None:
    """A batch size: a positive integer, or "full" / None for the whole training set."""
    if value is None or value == _FULL:
        return None
    if isinstance(value, str):
        raise _where(where, f'batch_size must be a positive integer or "full", got {value!r}')
    try:
        return _validate.integer(value, "batch_size", minimum=1)
    except (TypeError, ValueError) as exc:
        raise _where(where, f'{exc} (or "full")') from None


def _parse_lab(table: Any) -> dict[str, Any]:
    """The ``[lab]`` table, every option resolved (defaults filled in) and checked."""
    if not isinstance(table, Mapping):
        raise _where("[lab]", f"must be a table of objective options, got {table!r}")
    options = dict(table)
    kind = options.pop("objective", "mlp")
    if kind not in LAB_OBJECTIVES:
        raise _where(
            "[lab]",
            f"objective must be one of {', '.join(map(repr, LAB_OBJECTIVES))}, got {kind!r}",
        )
    defaults = _mlp_defaults()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        extra = " (the seed comes from 'seeds')" if "seed" in unknown else ""
        raise _where(
            "[lab]",
            f"unknown key(s) {unknown}{extra}; valid: objective, {', '.join(sorted(defaults))}",
        )
    for key, value in options.items():
        if isinstance(value, list):
            raise _where(
                "[lab]",
                f"{key} must be a single value, got the list {value!r} (a [lab] spec studies "
                "one objective; write one spec per setting)",
            )
    resolved = {**defaults, **options, "kind": kind}
    resolved["batch_size"] = _batch(resolved["batch_size"], "[lab]")
    return resolved


def build_lab_objective(options: Mapping[str, Any], seed: int = 0, **overrides: Any):
    """The objective of a ``[lab]`` table's resolved ``options`` (as in a task's settings)
    with ``seed`` (and ``overrides``, e.g. ``batch_size=None`` for the full-batch version)."""
    from ..lab.mlp import MLPObjective

    kind = options.get("kind", "mlp")
    options = {**{k: v for k, v in options.items() if k != "kind"}, **overrides}
    if kind != "mlp":  # pragma: no cover - LAB_OBJECTIVES has one kind
        raise InvalidInputError(f"unknown lab objective {kind!r}")
    return MLPObjective(seed=seed, **options)


@dataclass(frozen=True)
class LabTask:
    """One lab run: the objective's options, an optimizer setting, a seed and a budget.

    Has what the store records of a run: ``problem`` (the data set), ``model`` (the network,
    a :class:`~.spec.ModelSpec` of kind ``mlp``), ``penal`` (0.0), ``optimizer`` (its label
    shows the batch size), ``seed``, :meth:`settings` and :attr:`key`.
    """

    objective: Mapping[str, Any]
    optimizer: OptimizerSpec
    seed: int
    max_evals: int | None
    max_steps: int | None
    threads: int = 1

    @property
    def problem(self) -> str:
        return str(self.objective["dataset"])

    @property
    def model(self) -> ModelSpec:
        shown = {"hidden": self.objective["hidden"], "activation": self.objective["activation"]}
        if self.objective["weight_decay"]:
            shown["weight_decay"] = self.objective["weight_decay"]
        return ModelSpec("mlp", shown)

    @property
    def penal(self) -> float:
        """0.0: no SIMP penalty (the store's and the reports' case column needs a number)."""
        return 0.0

    @property
    def batch_size(self) -> int | None:
        return self.objective["batch_size"]

    def settings(self) -> dict[str, Any]:
        """The task's fully resolved settings (JSON-ready), library version included."""
        from .. import __version__

        return _canonical(
            {
                "analysis": "lab",
                "objective": dict(self.objective),
                "optimizer": {"preset": self.optimizer.preset, **self.optimizer.resolved()},
                "seed": self.seed,
                "max_evals": self.max_evals,
                "max_steps": self.max_steps,
                "threads": self.threads,
                "version": __version__,
            }
        )

    @property
    def key(self) -> str:
        """Content hash of :meth:`settings` (16 hex digits of SHA-256)."""
        text = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def build_objective(self, **overrides: Any):
        """This task's objective (``overrides``: e.g. ``batch_size=None``)."""
        return build_lab_objective(self.objective, self.seed, **overrides)


@dataclass(frozen=True)
class LabSpec:
    """A ``[lab]`` spec: optimizer settings x seeds on one lab objective (module docstring)."""

    name: str
    objective: Mapping[str, Any]
    optimizers: tuple[tuple[OptimizerSpec, int | None], ...]
    seeds: tuple[int, ...]
    max_evals: int | None = None
    max_steps: int | None = None
    threads: int = 1
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabSpec:
        """Parse and check a ``[lab]`` spec; every error names the offending entry."""
        from .. import optim

        if not isinstance(data, Mapping):
            raise TypeError(f"a study spec must be a mapping, got {_validate.given(data)}")
        replaced = sorted(_REPLACED & set(data))
        if replaced:
            raise _where(
                "top level",
                f"a [lab] spec describes its objective in the [lab] table; remove {replaced}",
            )
        if "landscape" in data:
            raise _where("[landscape]", "a [lab] spec has no landscape stage; remove the table")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise _where(
                "top level",
                f"unknown key(s) {sorted(unknown)}; valid in a [lab] spec: "
                f"{', '.join(sorted(_TOP_KEYS))}",
            )
        if "optimizers" not in data:
            raise _where("top level", "missing 'optimizers'")
        name = data.get("name", "lab")
        if not isinstance(name, str) or not name:
            raise _where("name", f"must be a non-empty string, got {name!r}")
        objective = _parse_lab(data.get("lab"))

        seeds = _parse_seeds(data)
        max_evals, max_steps, threads = _parse_budget(data)

        entries: list[tuple[OptimizerSpec, int | None]] = []
        for i, entry in enumerate(_as_list(data["optimizers"], "optimizers")):
            where = f"optimizers[{i}]"
            if not isinstance(entry, Mapping):
                raise _where(where, f"must be a table with 'preset', got {entry!r}")
            entry = dict(entry)
            preset = entry.get("preset")
            batch = objective["batch_size"]
            if "batch_size" in entry:
                batch = _batch(entry.pop("batch_size"), f"{where} ({preset})")
            for spec in _parse_optimizer(entry, where, optim):
                if spec.display is None and batch is not None:
                    spec = OptimizerSpec(
                        spec.preset, spec.options, _with_batch(spec.label(), batch), spec.budget
                    )
                if spec.budget is None and max_evals is None and max_steps is None:
                    raise _where(
                        f"{where} ({spec.label()})",
                        "give a budget: max_evals or max_steps in the entry or at the top level",
                    )
                needs = optim.get(spec.preset, **spec.options).requires
                if needs.least_squares or needs.explicit_volume:
                    raise _where(
                        f"{where} ({spec.label()})",
                        f"optimizer {spec.preset!r} needs "
                        + (
                            "a least-squares objective (residuals and Jacobian); the MLP's "
                            "cross-entropy has none"
                            if needs.least_squares
                            else "a density-space topology objective"
                        ),
                    )
                entries.append((spec, batch))
        labels = [spec.label() for spec, _ in entries]
        repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
        if repeated:
            raise _where(
                "optimizers",
                f"two entries have the same label {repeated[0]!r}: give them distinct labels",
            )
        spec = cls(
            name=name,
            objective=_canonical(objective),
            optimizers=tuple(entries),
            seeds=tuple(seeds),
            max_evals=max_evals,
            max_steps=max_steps,
            threads=threads,
            source=dict(data),
        )
        # The objective's own checks (data set name, sizes, batch size vs the training set).
        for _, batch in entries:
            try:
                build_lab_objective(spec.objective, 0, batch_size=batch)
            except (TypeError, ValueError) as exc:
                raise _where("[lab]", str(exc)) from None
        return spec

    def tasks(self) -> list[LabTask]:
        """Every (optimizer setting, seed) task, in a fixed order (optimizer-major)."""
        out = []
        for optimizer, batch in self.optimizers:
            budget = optimizer.budget or (self.max_evals, self.max_steps)
            for seed in self.seeds:
                out.append(
                    LabTask(
                        {**self.objective, "batch_size": batch},
                        optimizer,
                        seed,
                        budget[0],
                        budget[1],
                        self.threads,
                    )
                )
        return out

    def expand(self) -> list[tuple[LabTask, int]]:
        """``(task, seed)`` for every task (the engine's interface)."""
        return [(task, task.seed) for task in self.tasks()]

    def unique_runs(self) -> list[LabTask]:
        seen: dict[str, LabTask] = {}
        for task in self.tasks():
            seen.setdefault(task.key, task)
        return list(seen.values())

    def build_objective(self, seed: int = 0, **overrides: Any):
        """The study's objective, full batch unless ``batch_size`` is given (the data, split
        and network are the same for every task; the seed sets ``x0`` and the batches)."""
        overrides.setdefault("batch_size", None)
        return build_lab_objective(self.objective, seed, **overrides)


def _with_batch(label: str, batch: int) -> str:
    if label.endswith(")"):
        return f"{label[:-1]}, batch_size={batch})"
    return f"{label}(batch_size={batch})"


def run_lab_task(
    settings: Mapping[str, Any], callback: Callable[[Any], Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Compute one lab task from its settings (:meth:`LabTask.settings`).

    Returns ``(dataset, summary)``: the xarray Dataset stored for the task (see the module
    docstring) and the store's summary (``best_loss``, ``final_loss``, ``n_evals``,
    ``n_steps``, ``reason``). Runs under the pinned thread counts (the core's, BLAS's via
    threadpoolctl), so the numbers are a pure function of the settings.
    """
    from threadpoolctl import threadpool_limits

    from .. import _threads, optim

    if not is_lab_settings(settings):
        raise InvalidInputError(f"not the settings of a lab task: {dict(settings)!r}")
    threads = int(settings["threads"])
    # The core (L-BFGS two-loop) and BLAS: what the MLP's numbers depend on (no torch, MKL).
    with _threads.pinned(core=threads), threadpool_limits(limits=threads, user_api="blas"):
        obj = build_lab_objective(settings["objective"], settings["seed"])
        options = {k: v for k, v in settings["optimizer"].items() if k != "preset"}
        opt = optim.get(settings["optimizer"]["preset"], **options)
        traj = opt.run(
            obj,
            max_evals=settings["max_evals"],
            max_steps=settings["max_steps"],
            progress=False,
            callback=callback,
        )
        full = obj.full_batch()
        final = traj.theta
        best = traj.best_theta if traj.best_theta is not None else final
        final_objective = float(full.value_and_grad(final)[0])
        best_objective = float(full.value_and_grad(best)[0])
        metrics = {
            "objective_loss": final_objective,
            "train_loss": full.train_loss(final),
            "test_loss": full.test_loss(final),
            "train_accuracy": full.accuracy(final, "train"),
            "test_accuracy": full.accuracy(final, "test"),
        }
    ds = traj.to_xarray(parameters=True)
    for name, value in metrics.items():
        ds[name] = ((), value)
    ds["best_objective_loss"] = ((), best_objective)
    ds.attrs.update(
        lab_objective=json.dumps(settings["objective"], sort_keys=True),
        seed=int(settings["seed"]),
        batch_size=-1 if obj.batch_size is None else int(obj.batch_size),
        n_evals=int(traj.n_evals),
        n_steps=int(traj.n_steps),
    )
    for k, v in traj.threads.items():
        ds.attrs[f"thread_{k}"] = v
    finite = [v for v in (final_objective, best_objective) if math.isfinite(v)]
    summary = {
        "best_loss": min(finite) if finite else math.nan,
        "final_loss": final_objective,
        "n_evals": int(traj.n_evals),
        "n_steps": int(traj.n_steps),
        "reason": traj.reason,
    }
    return ds, summary


def execute_lab(key: str, settings: Mapping[str, Any], meta: dict, started: float):
    """A lab task for the engine's workers (:func:`~.runner.execute` dispatches here)."""
    from .runner import RunResult, _failed, _stamp

    try:
        ds, summary = run_lab_task(settings)
        finished = time.time()
        meta.update(finished=finished, wall_time=finished - started)
        _stamp(ds, key, meta, started, finished)
        summary["wall_time"] = finished - started
        return RunResult(key, True, bytes(ds.to_netcdf(engine="scipy")), summary, meta)
    except Exception as exc:  # a failing task is recorded, not fatal to the study
        return _failed(key, exc, meta, started)
