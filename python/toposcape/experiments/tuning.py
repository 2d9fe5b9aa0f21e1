"""Step-size tuning (studies.md section 1): a seeded TPE search per case, resumable.

A tuning spec is a study spec with a ``[tune]`` table; the tuned option is left out of the
optimizers it applies to:

.. code-block:: toml

    name = "steps"
    problems = ["A", "B"]
    penal = [3.0]
    seeds = [0, 1, 2]
    max_evals = 300

    [[models]]
    kind = "cnn"
    upsampling = "transpose"

    [[optimizers]]
    preset = "gd"              # no lr: it is what is tuned

    [[optimizers]]
    preset = "hd"
    memory = [1, 10]

    [tune]
    option = "lr"              # the option tuned, on a log10 scale
    range = [-6, 0.3]          # log10 range (with a scale: relative to log10(scale))
    scale = "none"             # "none" (absolute), "grad" (1/|g0|), "curvature" (1/lambda_max)
    grid = 0.1                 # log10 grid step (0: continuous)
    trials = 30                # per case
    seed = 0
    batch = 4                  # trials asked together per case (default 4)
    startup = 10               # random trials before TPE proper (Optuna's default)

Each (problem, model, penal, optimizer) case whose optimizer declares ``option`` is one Optuna
study (``TPESampler(constant_liar=True)``). A trial is the runs of all the spec's seeds at one
value, computed by the study executors (local pool or Dask) and stored like any run (content
keys: a value tried twice, or a run shared with another study in the directory, is computed
once); its objective is the median over the seeds of the final loss, a failed or diverged run
(NaN or inf loss) counting as +inf. With a ``scale`` the range is ``log10(scale) + range``,
the scale measured once per case at the model's initial point for the first listed seed
(``grad``: 1/|g0|; ``curvature``: 1/lambda_max of the Hessian by Lanczos), since absolute
step sizes do not carry over between implementations.

Trials are asked in batches of ``batch`` per case, the next batch once the previous one is
told, with a sampler seeded from ``(seed, trials done)``: the sequence of trials depends on the
spec alone, not on the number of workers or the timing of the runs. A trial redone after a kill
gets a later trial number; TPE weights its observations by trial order once 25 or more are
done, so the last trials of a long tuning that was interrupted may differ from those of an
uninterrupted one (before that, they are the same).

A study directory of a tuning holds::

    DIR/index.sqlite, DIR/runs/   the runs of every trial (study "NAME:tune"), as for any study
    DIR/tuning.journal            Optuna's storage (journal file, one Optuna study per case)
    DIR/tuned.json                per case: the best value, the scale, the range, the trials
    DIR/tuning.lock               held (flock) by the coordinator while it runs

Rerunning the same command resumes: the trials a kill left RUNNING are marked FAIL and their
values queued again (``enqueue_trial``), their finished runs taken from the store.

A later spec uses the tuned values by reference, resolved per case when it is loaded::

    [[optimizers]]
    preset = "gd"
    lr = "tuned:out/steps"     # the tuning's directory (relative to the working directory)

or in Python, :func:`tuned_values` gives ``{case label: value}``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import _validate
from .._progress import progress_bar
from ..errors import InvalidInputError
from .executors import Executor, Lost, make_executor
from .spec import TUNED_PREFIX, ModelSpec, OptimizerSpec, StudySpec, _canonical
from .store import Store
from .study import _in_main_thread, _raise_keyboard_interrupt

__all__ = [
    "TuneSpec",
    "Tuning",
    "load_tuning",
    "tune",
    "tuned_values",
    "register_command",
    "stand_in",
    "check_references",
    "resolve_references",
]

#: A run whose worker died is retried once, then counted as failed (as in ``run``).
MAX_ATTEMPTS = 2
_SCALES = ("none", "grad", "curvature")
_TUNE_KEYS = {"option", "range", "scale", "grid", "trials", "seed", "batch", "startup"}
#: The value a tuned or referenced option takes while a spec is checked.
_STAND_IN = 1e-3
FORMAT = 1


def _where(message: str) -> InvalidInputError:
    return InvalidInputError(f"study spec, [tune]: {message}")


@dataclass(frozen=True)
class TuneSpec:
    """The ``[tune]`` table: what is tuned, where, and how many trials."""

    option: str
    low: float
    high: float
    scale: str = "none"
    grid: float = 0.1
    trials: int = 30
    seed: int = 0
    batch: int = 4
    startup: int = 10

    @classmethod
    def from_dict(cls, data: Any) -> TuneSpec:
        if not isinstance(data, Mapping):
            raise _where(f"must be a table, got {data!r}")
        unknown = set(data) - _TUNE_KEYS
        if unknown:
            raise _where(
                f"unknown key(s) {sorted(unknown)}; valid: {', '.join(sorted(_TUNE_KEYS))}"
            )
        for required in ("option", "range"):
            if required not in data:
                raise _where(f"missing {required!r}")
        option = data["option"]
        if not isinstance(option, str) or not option:
            raise _where(f"option must be an option name such as 'lr', got {option!r}")
        bounds = data["range"]
        if (
            not isinstance(bounds, (list, tuple))
            or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            or not all(math.isfinite(b) for b in bounds)
        ):
            raise _where(f"range must be [low, high] in log10 units, got {bounds!r}")
        low, high = (float(b) for b in bounds)
        if not low < high:
            raise _where(f"range must have low < high, got {bounds!r}")
        scale = data.get("scale", "none")
        if scale not in _SCALES:
            raise _where(f"scale must be one of {', '.join(map(repr, _SCALES))}, got {scale!r}")
        try:
            grid = _validate.real(data.get("grid", 0.1), "grid", minimum=0.0)
            trials = _validate.integer(data.get("trials", 30), "trials", minimum=1)
            seed = _validate.integer(data.get("seed", 0), "seed", minimum=0)
            batch = _validate.integer(data.get("batch", 4), "batch", minimum=1)
            startup = _validate.integer(data.get("startup", 10), "startup", minimum=0)
        except (TypeError, ValueError) as exc:
            raise _where(str(exc)) from None
        if grid > 0:
            steps = (high - low) / grid
            if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
                raise _where(
                    f"the range {[low, high]} is not a whole number of grid steps of {grid:g}"
                )
        return cls(option, low, high, scale, grid, trials, seed, batch, startup)

    def to_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "range": [self.low, self.high],
            "scale": self.scale,
            "grid": self.grid,
            "trials": self.trials,
            "seed": self.seed,
            "batch": self.batch,
            "startup": self.startup,
        }

    @property
    def param(self) -> str:
        """The Optuna parameter: log10 of the value (relative to log10(scale) with a scale)."""
        return f"log10_{self.option}"


@dataclass
class Case:
    """One tuned (problem, model, penal, optimizer) case; ``optimizer`` lacks the option."""

    problem: str
    model: ModelSpec
    penal: float
    optimizer: OptimizerSpec

    @property
    def label(self) -> str:
        return f"{self.problem} {self.model.label()} p={self.penal:g} {self.optimizer.label()}"


@dataclass
class Tuning:
    """A parsed tuning spec: the study, its ``[tune]`` table, the cases and the raw source."""

    study: StudySpec
    tune: TuneSpec
    cases: list[Case]
    source: dict[str, Any]
    skipped: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.study.name}:tune"


def _read(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith(".toml")
    ):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"study spec {str(path)!r}: no such file")
        text, origin = path.read_text(), str(path)
    elif isinstance(source, str):
        text, origin = source, "<string>"
    else:
        raise TypeError(
            f"a tuning spec is a TOML path, TOML text or a mapping, got {_validate.given(source)}"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"study spec {origin}: not valid TOML: {exc}") from None


def load_tuning(source: str | Path | Mapping[str, Any] | Tuning) -> Tuning:
    """Parse a tuning spec (a study spec with a ``[tune]`` table); errors name the entry."""
    from .. import optim

    if isinstance(source, Tuning):
        return source
    raw = _read(source)
    if "tune" not in raw:
        raise InvalidInputError("study spec: no [tune] table (see toposcape.experiments.tuning)")
    tune_spec = TuneSpec.from_dict(raw["tune"])
    data = {k: v for k, v in raw.items() if k != "tune"}
    entries = data.get("optimizers")
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list):
        raise InvalidInputError("study spec, top level: missing 'optimizers'")
    option = tune_spec.option
    tuned_entries = []
    patched = []
    unknown = False
    for i, entry in enumerate(entries):
        entry = dict(entry) if isinstance(entry, Mapping) else entry
        if isinstance(entry, dict) and isinstance(entry.get("preset"), str):
            try:
                declared = optim.preset(entry["preset"]).option_names()
            except (KeyError, TypeError):
                declared, unknown = [], True  # reported by the study spec's own check
            if option in declared:
                if option in entry:
                    raise _where(
                        f"optimizers[{i}] ({entry['preset']}) gives {option!r}, the option "
                        "tuned: leave it out (or put that optimizer in a study of its own)"
                    )
                entry[option] = _STAND_IN
                tuned_entries.append(i)
        patched.append(entry)
    data["optimizers"] = patched
    if not tuned_entries:
        if unknown:
            StudySpec.from_dict(data)  # an unknown preset: the spec's own error first
        presets = sorted(
            {str(e.get("preset")) for e in patched if isinstance(e, dict) and "preset" in e}
        )
        raise _where(
            f"no optimizer of the spec has the option {option!r} (optimizers: "
            f"{', '.join(presets)}; see toposcape.optim.describe)"
        )
    study = StudySpec.from_dict(data)
    cases, skipped = [], []
    for problem in study.problems:
        for model in study.models:
            for penal in study.penal:
                for o in study.optimizers:
                    if option not in o.options:
                        skipped.append(o.label())
                        continue
                    template = OptimizerSpec(
                        o.preset,
                        {k: v for k, v in o.options.items() if k != option},
                        budget=o.budget,
                    )
                    cases.append(Case(problem, model, penal, template))
    return Tuning(study, tune_spec, cases, raw, sorted(set(skipped)))


# -- references: "tuned:DIR" ----------------------------------------------------------------
def _match(problem: str, model: ModelSpec, penal: float, optimizer: OptimizerSpec, option: str):
    """What identifies a case across specs: everything but the option, seeds and budget."""
    resolved = optimizer.resolved() if option in optimizer.options else None
    if resolved is None:
        resolved = OptimizerSpec(optimizer.preset, {**optimizer.options, option: _STAND_IN})
        resolved = resolved.resolved()
    resolved.pop(option, None)
    return _canonical(
        {
            "problem": problem,
            "model": {"kind": model.kind, **model.options},
            "penal": penal,
            "optimizer": {"preset": optimizer.preset, **resolved},
        }
    )


def stand_in(preset: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with each ``"tuned:DIR"`` value replaced by a valid value (for checks)."""
    return {
        k: _STAND_IN if isinstance(v, str) and v.startswith(TUNED_PREFIX) else v
        for k, v in options.items()
    }


_DOCS: dict[str, tuple[float, dict]] = {}


def _document(directory: str) -> dict[str, Any]:
    path = Path(directory) / "tuned.json"
    if not path.is_file():
        raise InvalidInputError(
            f"{str(Path(directory))!r} holds no tuning (no tuned.json): run "
            f"'toposcape study tune SPEC --out {directory}' first"
        )
    mtime = path.stat().st_mtime_ns
    cached = _DOCS.get(str(path.resolve()))
    if cached is None or cached[0] != mtime:
        cached = (mtime, json.loads(path.read_text()))
        _DOCS[str(path.resolve())] = cached
    return cached[1]


def _lookup(directory: str, option: str, problem, model, penal, optimizer) -> float:
    doc = _document(directory)
    if doc.get("option") != option:
        raise InvalidInputError(f"{directory!r} tuned {doc.get('option')!r}, not {option!r}")
    wanted = _match(problem, model, penal, optimizer, option)
    for label, case in doc["cases"].items():
        if case["match"] == wanted:
            if not case["complete"]:
                raise InvalidInputError(
                    f"the tuning in {directory!r} of {label} is incomplete "
                    f"({case['trials_done']}/{case['trials_target']} trials): rerun "
                    "'toposcape study tune' to finish it"
                )
            if case["best"] is None:
                raise InvalidInputError(
                    f"every trial of {label} in {directory!r} diverged: no tuned value"
                )
            return float(case["best"]["value"])
    shown = OptimizerSpec(
        optimizer.preset, {k: v for k, v in optimizer.options.items() if k != option}
    )
    raise InvalidInputError(
        f"{directory!r} has no tuned {option} for {Case(problem, model, penal, shown).label} "
        f"(tuned cases: {'; '.join(doc['cases']) or 'none'})"
    )


def _optimizer(optimizer: OptimizerSpec) -> OptimizerSpec:
    return OptimizerSpec(optimizer.preset, stand_in(optimizer.preset, optimizer.options))


def resolve_references(
    optimizer: OptimizerSpec, problem: str, model: ModelSpec, penal: float
) -> OptimizerSpec:
    """``optimizer`` with its ``"tuned:DIR"`` options replaced by the case's tuned values.

    The result keeps the label of the spec entry (e.g. ``gd(lr='tuned:out/steps')``), so the
    runs of all cases line up under one optimizer in :meth:`Study.dataset`.
    """
    options = dict(optimizer.options)
    for key, value in optimizer.options.items():
        if isinstance(value, str) and value.startswith(TUNED_PREFIX):
            directory = value[len(TUNED_PREFIX) :]
            options[key] = _lookup(directory, key, problem, model, penal, _optimizer(optimizer))
    return OptimizerSpec(
        optimizer.preset, options, display=optimizer.label(), budget=optimizer.budget
    )


def check_references(spec: StudySpec) -> None:
    """Every ``"tuned:DIR"`` of ``spec`` resolves for every case (errors name the entry)."""
    for o in spec.optimizers:
        if not any(isinstance(v, str) and v.startswith(TUNED_PREFIX) for v in o.options.values()):
            continue
        for problem in spec.problems:
            for model in spec.models:
                for penal in spec.penal:
                    try:
                        resolve_references(o, problem, model, penal)
                    except (InvalidInputError, KeyError, ValueError) as exc:
                        raise InvalidInputError(
                            f"study spec, optimizers ({o.label()}): {exc}"
                        ) from None


def tuned_values(directory: str | Path, partial: bool = False) -> dict[str, float | None]:
    """``{case label: tuned value}`` of the tuning in ``directory``.

    Raises for an incomplete tuning unless ``partial`` (then the best value so far, None where
    no trial is done or all diverged). For a spec, write ``option = "tuned:DIR"`` instead.
    """
    doc = _document(str(directory))
    out = {}
    for label, case in doc["cases"].items():
        if not case["complete"] and not partial:
            raise InvalidInputError(
                f"the tuning in {str(directory)!r} of {label} is incomplete "
                f"({case['trials_done']}/{case['trials_target']} trials)"
            )
        out[label] = None if case["best"] is None else float(case["best"]["value"])
    return out


# -- the coordinator ------------------------------------------------------------------------
@dataclass
class _Trial:
    case: _CaseState
    trial: Any  # optuna.Trial
    offset: float
    value: float
    keys: list[str]  # one per seed (a pixel run repeats)
    losses: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(k in self.losses for k in self.keys)


@dataclass
class _CaseState:
    case: Case
    config: dict[str, Any]
    scale: dict[str, Any]
    done: int
    requeued: int = 0
    running: list[_Trial] = field(default_factory=list)
    finished: bool = False


def _derived_seed(seed: int, done: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, done]).generate_state(1)[0])


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _finite(value: Any) -> float:
    if value is None:
        return math.inf
    value = float(value)
    return value if math.isfinite(value) else math.inf


def _json_loss(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _measure_scale(plan: Tuning, case: Case, cache: dict) -> dict[str, Any]:
    """The case's scale at the model's initial point (first listed seed)."""
    kind = plan.tune.scale
    if kind == "none":
        return {"kind": "none", "value": 1.0, "log10": 0.0, "seed": None}
    from .. import _threads, optim
    from .runner import build_objective

    seed = plan.study.seeds[0]
    opt = OptimizerSpec(
        case.optimizer.preset,
        {**case.optimizer.options, plan.tune.option: 1.0},
        budget=case.optimizer.budget,
    )
    needs_densities = optim.get(opt.preset, **opt.options).requires.explicit_volume
    run = plan.study.run_for(case.problem, case.model, case.penal, opt, seed)
    ident = (case.problem, json.dumps(run.settings()["model"]), case.penal, needs_densities)
    ident = (*ident, run.seed)
    if (ident, kind) not in cache:
        import numpy as np

        with _threads.pinned(plan.study.threads):
            obj = build_objective(run.settings())
            x0 = np.asarray(obj.x0, dtype=np.float64)
            if kind == "grad":
                _, g = obj.value_and_grad(x0)
                size = float(np.linalg.norm(g))
                what = "the gradient norm"
            else:
                from .. import landscape

                vals, _ = landscape.eigsh(landscape.hessian(obj, x0), k=1, which="LA")
                size = float(vals[0])
                what = "the largest Hessian eigenvalue"
        if not (math.isfinite(size) and size > 0):
            raise InvalidInputError(
                f"scale = {kind!r} for {case.label}: {what} at the initial point is {size}, "
                "not a positive number; give an absolute range (scale = 'none')"
            )
        cache[(ident, kind)] = _round(1.0 / size)
    value = cache[(ident, kind)]
    return {"kind": kind, "value": value, "log10": math.log10(value), "seed": run.seed}


@contextlib.contextmanager
def _exclusive(out: Path):
    """One coordinator per directory: an flock, released by the OS even on SIGKILL."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    with open(out / "tuning.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InvalidInputError(
                f"another tuning coordinator is running on {str(out)!r}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _NoLock:
    """The journal's lock: none needed, the coordinator holds the directory's flock.

    (Optuna's own file locks are files that a SIGKILL leaves behind, to be waited out.)
    """

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _storage(path: Path):
    """Optuna's journal storage in ``path``, its tail repaired after a kill.

    Every change is one JSON line appended and fsynced; a kill during an append can leave at
    most a partial last line, cut off here (the change is lost as if the kill came before it).
    """
    import optuna

    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # Optuna 3
        from optuna.storages import JournalFileStorage as JournalFileBackend

    if path.exists():
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
                f.flush()
                os.fsync(f.fileno())
    backend = JournalFileBackend(str(path), lock_obj=_NoLock())
    return optuna.storages.JournalStorage(backend)


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _case_record(plan: Tuning, state: _CaseState, study) -> dict[str, Any]:
    import optuna

    t = plan.tune
    c = state.case
    trials = []
    failed = 0
    for tr in study.get_trials(deepcopy=False):
        if tr.state == optuna.trial.TrialState.FAIL:
            failed += 1
        if tr.state != optuna.trial.TrialState.COMPLETE:
            continue
        trials.append(
            {
                "number": tr.number,
                "origin": tr.user_attrs.get("origin", tr.number),
                "log10_offset": round(tr.params[t.param], 10),
                "value": tr.user_attrs.get("value"),
                "objective": _json_loss(float(tr.value)),
                "losses": tr.user_attrs.get("losses"),
                "keys": tr.user_attrs.get("keys"),
            }
        )
    # In the order asked first: a trial redone after a kill takes the place of the original.
    trials.sort(key=lambda r: r["origin"])
    finite = [r for r in trials if r["objective"] is not None]
    best = min(finite, key=lambda r: (r["objective"], r["origin"])) if finite else None
    return {
        "problem": c.problem,
        "model": {"kind": c.model.kind, **c.model.options},
        "penal": c.penal,
        "optimizer": {"preset": c.optimizer.preset, **c.optimizer.options},
        "match": _match(c.problem, c.model, c.penal, c.optimizer, t.option),
        "scale": state.scale,
        "range": [state.scale["log10"] + t.low, state.scale["log10"] + t.high],
        "trials_done": len(trials),
        "trials_target": t.trials,
        "requeued": failed,
        "complete": len(trials) >= t.trials,
        "best": None
        if best is None
        else {
            "value": best["value"],
            "log10_offset": best["log10_offset"],
            "objective": best["objective"],
            "trial": best["number"],
        },
        "trials": trials,
    }


def tune(
    spec: str | Path | Mapping[str, Any] | Tuning,
    out: str | Path,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    trials: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Tune the ``[tune]`` option of every case of ``spec`` into ``out``; resumable.

    Parameters
    ----------
    spec : path to a TOML file, TOML text, a mapping or a :class:`Tuning`
    out : path
        The study directory (runs, Optuna storage, ``tuned.json``); created if missing.
    executor, workers, scheduler
        As for :func:`~toposcape.experiments.run`.
    trials : int, optional
        Trials per case, instead of the spec's (a resumed tuning can be extended).
    seed : int, optional
        Sampler seed, instead of the spec's.
    progress : bool or None
        A progress bar over trials (None: on a terminal only).
    on_trial : callable, optional
        Called with ``{"case", "number", "value", "objective"}`` as each trial is told.

    Returns
    -------
    dict
        The content of ``tuned.json``: per case label the best value, the scale, the range
        and the trials.
    """
    import optuna

    plan = load_tuning(spec)
    if trials is not None:
        plan.tune = replace(
            plan.tune, trials=_validate.integer(trials, "trials", minimum=1, who="tune")
        )
    if seed is not None:
        plan.tune = replace(plan.tune, seed=_validate.integer(seed, "seed", minimum=0, who="tune"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with _exclusive(out):
            return _tune(plan, out, executor, workers, scheduler, progress, on_trial)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _config(plan: Tuning, case: Case) -> dict[str, Any]:
    """What a case's trials depend on (compared on resume); not the number of trials."""
    opt = OptimizerSpec(
        case.optimizer.preset,
        {**case.optimizer.options, plan.tune.option: 1.0},
        budget=case.optimizer.budget,
    )
    settings = plan.study.run_for(case.problem, case.model, case.penal, opt, None).settings()
    settings["optimizer"].pop(plan.tune.option, None)
    for key in ("seed", "version"):
        settings.pop(key, None)
    tune_config = plan.tune.to_dict()
    tune_config.pop("trials")
    return _canonical({"tune": tune_config, "run": settings, "seeds": list(plan.study.seeds)})


def _tune(plan, out, executor, workers, scheduler, progress, on_trial) -> dict[str, Any]:
    import numpy as np
    import optuna

    t = plan.tune
    store = Store(out)
    storage = _storage(out / "tuning.journal")
    cases: list[_CaseState] = []
    studies: dict[str, Any] = {}
    records: dict[str, dict] = {}
    scale_cache: dict = {}
    ex: Executor | None = None
    own = not isinstance(executor, Executor)
    interrupted = False
    previous = signal.getsignal(signal.SIGTERM)
    bar = None
    result_path = out / "tuned.json"

    def document(complete: bool) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "study": plan.study.name,
            "option": t.option,
            "tune": t.to_dict(),
            "seeds": list(plan.study.seeds),
            "max_evals": plan.study.max_evals,
            "max_steps": plan.study.max_steps,
            "complete": complete and all(r["complete"] for r in records.values()),
            "cases": records,
        }

    try:
        store.recover()
        for case in plan.cases:
            study = optuna.create_study(
                study_name=case.label,
                storage=storage,
                load_if_exists=True,
                direction="minimize",
            )
            config = _config(plan, case)
            stored = study.user_attrs.get("config")
            if stored is None:
                study.set_user_attr("config", config)
            elif stored != config:
                raise InvalidInputError(
                    f"{str(out)!r} holds a tuning of {case.label} with other settings (range, "
                    "scale, grid, seed, batch, seeds or run settings differ): tune into a new "
                    "directory"
                )
            scale = study.user_attrs.get("scale")
            if scale is None:
                scale = _measure_scale(plan, case, scale_cache)
                study.set_user_attr("scale", scale)
            # Trials a kill left RUNNING: FAIL, and their values queued again (once).
            trials_now = study.get_trials(deepcopy=False)
            queued = {
                tr.user_attrs.get("requeued_from")
                for tr in trials_now
                if tr.state == optuna.trial.TrialState.WAITING
            }
            for tr in trials_now:
                if tr.state != optuna.trial.TrialState.RUNNING:
                    continue
                if tr.number not in queued:
                    origin = tr.user_attrs.get("requeued_from", tr.number)
                    study.enqueue_trial(
                        tr.params,
                        user_attrs={"requeued_from": tr.number, "origin": origin},
                        skip_if_exists=False,
                    )
                storage.set_trial_state_values(tr._trial_id, optuna.trial.TrialState.FAIL)
            done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
            state = _CaseState(case, config, scale, done)
            cases.append(state)
            studies[case.label] = study
            records[case.label] = _case_record(plan, state, study)
        _write_json(result_path, document(False))

        total = sum(max(t.trials, s.done) for s in cases)
        bar = _bar(progress, total, plan.study.name, sum(min(s.done, t.trials) for s in cases))
        if _in_main_thread():
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

        inflight: dict[str, list[_Trial]] = {}
        settings: dict[str, dict] = {}
        attempts: dict[str, int] = {}
        outcomes = None

        def submit(key: str) -> None:
            nonlocal ex
            if ex is None:
                ex = make_executor(executor, workers, scheduler) if own else executor
            store.mark_running(key)
            attempts[key] = attempts.get(key, 0) + 1
            ex.submit(key, settings[key])

        def tell(trial: _Trial) -> None:
            state = trial.case
            losses = [trial.losses[k] for k in trial.keys]
            objective = float(np.median(losses))
            trial.trial.set_user_attr("losses", [_json_loss(x) for x in losses])
            studies[state.case.label].tell(trial.trial.number, objective)
            state.running.remove(trial)
            state.done += 1
            records[state.case.label] = _case_record(plan, state, studies[state.case.label])
            _write_json(result_path, document(False))
            if bar is not None:
                bar.update(1)
            if on_trial is not None:
                on_trial(
                    {
                        "case": state.case.label,
                        "number": trial.trial.number,
                        "value": trial.value,
                        "objective": objective,
                    }
                )

        def start_batch(state: _CaseState) -> None:
            remaining = t.trials - state.done
            if remaining <= 0:
                state.finished = True
                return
            label = state.case.label
            waiting = len(
                studies[label].get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
            )
            count = min(waiting, remaining) if waiting else min(t.batch, remaining)
            sampler = optuna.samplers.TPESampler(
                seed=_derived_seed(t.seed, state.done),
                constant_liar=True,
                n_startup_trials=t.startup,
            )
            study = optuna.load_study(study_name=label, storage=storage, sampler=sampler)
            studies[label] = study
            asked = []
            for _ in range(count):  # all asked before any is told: the batch is reproducible
                trial = study.ask()
                offset = trial.suggest_float(t.param, t.low, t.high, step=t.grid or None)
                offset = round(offset, 10)
                value = _round(10.0 ** (state.scale["log10"] + offset))
                opt = OptimizerSpec(
                    state.case.optimizer.preset,
                    {**state.case.optimizer.options, t.option: value},
                    budget=state.case.optimizer.budget,
                )
                c = state.case
                entries = [
                    (plan.study.run_for(c.problem, c.model, c.penal, opt, s), s)
                    for s in plan.study.seeds
                ]
                keys = [run.key for run, _ in entries]
                trial.set_user_attr("value", value)
                trial.set_user_attr("keys", keys)
                store.add_entries(plan.name, plan.source, entries)
                for run, _ in entries:
                    settings.setdefault(run.key, run.settings())
                item = _Trial(state, trial, offset, value, keys)
                state.running.append(item)
                asked.append(item)
            for item in asked:
                for key in dict.fromkeys(item.keys):
                    if key in inflight:
                        inflight[key].append(item)
                        continue
                    row = store.run(key)
                    if row is not None and row["status"] == "done":
                        item.losses[key] = _finite(row["final_loss"])
                    elif row is not None and row["status"] == "failed":
                        item.losses[key] = math.inf
                    else:
                        inflight[key] = [item]
                        submit(key)
            for item in asked:
                if item.ready:
                    tell(item)

        while True:
            progressed = True
            while progressed:
                progressed = False
                for state in cases:
                    if not state.running and not state.finished:
                        start_batch(state)
                        progressed = True
            if not inflight:
                break
            if outcomes is None:
                outcomes = ex.outcomes()
            outcome = next(outcomes, None)
            if outcome is None:  # the generator ran dry: a fresh one for later submissions
                outcomes = None
                if not ex.outstanding:
                    raise RuntimeError(
                        f"the executor has no runs left but {len(inflight)} were expected "
                        f"({', '.join(list(inflight)[:3])}, ...); rerun to resume"
                    )
                continue
            key = outcome.key
            if isinstance(outcome, Lost):
                if attempts.get(key, 0) < MAX_ATTEMPTS:
                    submit(key)
                    continue
                store.fail(key, f"worker died twice: {outcome.error}")
                loss = math.inf
            else:
                store.finish(outcome)
                loss = _finite(outcome.summary.get("final_loss")) if outcome.ok else math.inf
            for item in inflight.pop(key, []):
                item.losses[key] = loss
                if item.ready:
                    tell(item)
        doc = document(True)
        _write_json(result_path, doc)
        return doc
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        if ex is not None and own:
            ex.close(cancel=interrupted)
        if _in_main_thread():
            signal.signal(signal.SIGTERM, previous)
        store.close()


def _bar(enabled: bool | None, total: int, name: str, initial: int):
    return progress_bar(enabled, total, f"{name} tuning", "trial", initial=initial)


# -- command line ---------------------------------------------------------------------------
def _cmd_tune(args: argparse.Namespace) -> int:
    plan = load_tuning(Path(args.spec))
    out = Path(args.out) if args.out else Path("toposcape-studies") / plan.study.name
    trials = args.trials or plan.tune.trials
    print(
        f"tuning {plan.tune.option!r} of {len(plan.cases)} case(s) of {plan.study.name!r}, "
        f"{trials} trials each over {len(plan.study.seeds)} seed(s) -> {out} "
        f"({args.executor if args.scheduler is None else 'dask ' + args.scheduler})"
    )
    if plan.skipped:
        print(f"  not tuned (no option {plan.tune.option!r}): {', '.join(plan.skipped)}")
    started = time.perf_counter()
    try:
        doc = tune(
            plan,
            out,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            trials=args.trials,
            seed=args.seed,
            progress=False if args.quiet else None,
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted: trials in flight will be redone; rerun the same command to continue",
            file=sys.stderr,
        )
        return 130
    for label, case in doc["cases"].items():
        best = case["best"]
        if best is None:
            print(f"  {label}: every trial diverged")
        else:
            print(
                f"  {label}: {plan.tune.option} = {best['value']:.4g} "
                f"(median final loss {best['objective']:.6g}, trial {best['trial']})"
            )
    with Store(out, readonly=True) as store:
        failed = store.counts(plan.name)["failed"]
    if failed:
        print(
            f"  {failed} run(s) failed (counted as diverged): 'toposcape study status {out}' "
            "lists the errors",
            file=sys.stderr,
        )
    print(
        f"done in {time.perf_counter() - started:.1f} s; tuned values in {out / 'tuned.json'}; "
        f'use them with {plan.tune.option} = "{TUNED_PREFIX}{out}"'
    )
    return 0 if doc["complete"] and all(c["best"] is not None for c in doc["cases"].values()) else 1


def register_command(subparsers) -> None:
    """Add ``tune`` to the subcommands of ``toposcape study``."""
    p = subparsers.add_parser(
        "tune",
        help="tune a step size per case with seeded TPE (studies.md section 1); resumable",
        description=(
            "Tune the option of the spec's [tune] table (see toposcape.experiments.tuning) for "
            "every problem x model x penalty x optimizer case: TPE over log10 values, the "
            "objective the median final loss over the seeds. Rerun to continue; use the result "
            'in a later spec as option = "tuned:DIR".'
        ),
    )
    p.add_argument("spec", help="TOML study spec with a [tune] table")
    from ..cli import integer_at_least
    from .commands import add_executor_arguments

    add_executor_arguments(p)
    p.add_argument(
        "--trials", type=integer_at_least(1), default=None, help="trials per case (the spec's)"
    )
    p.add_argument(
        "--seed", type=integer_at_least(0), default=None, help="sampler seed (the spec's)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_tune)
