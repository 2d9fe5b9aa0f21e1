"""``toposcape reproduce thesis``: the central study (``studies.md`` section 1) in one command.

Three stages run through the experiment engine into one directory, then a report::

    OUT/tune/        the step sizes of GD and HD per test case (``toposcape study tune``)
    OUT/main/        the 16 test cases x 7 optimizers x seeds (``toposcape study run``)
    OUT/landscape/   the L-BFGS_M1 runs of problems A and D analysed (spectra, slices, ...)
    OUT/report/      report.md and its figures (:mod:`.thesis_report`)
    OUT/profile.json the profile's settings (a rerun with other settings is refused)

Every stage is resumable and content-keyed: rerunning the command continues where it
stopped, and a finished profile computes nothing new. Before starting, the command measures
the cost of one evaluation (and one Hessian-vector product) of each problem and model on this
machine and prints the estimated cost of what is left.

>>> import toposcape as ts
>>> ts.experiments.reproduce_thesis("out/thesis-quick", profile="quick", workers=2)
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _validate
from ..errors import InvalidInputError
from .thesis import PROFILES, profile_settings, thesis_spec

__all__ = ["Estimate", "estimate_cost", "reproduce_thesis", "register_command"]

#: Evaluations per iteration of GD_LS assumed by the estimate (its line search needs more
#: than one on most iterations): measured in the quick profile (problems A and B, 700
#: iterations), 3.1 for the CNN and 1.8 for the pixel model.
GD_LS_EVALS_PER_STEP = {"cnn": 3.1, "pixel": 1.8}
#: Time of an optimizer step besides the evaluation (two-loop, bookkeeping), as a fraction of
#: the evaluation: a rough allowance the estimate adds to every step.
STEP_OVERHEAD = 0.3


@dataclass
class Estimate:
    """The estimated cost of a profile: per stage, evaluations and seconds of one worker."""

    per_stage: dict[str, float] = field(default_factory=dict)  # worker-seconds left
    total_stage: dict[str, float] = field(default_factory=dict)  # worker-seconds in all
    evaluation: dict[str, float] = field(default_factory=dict)  # seconds per value_and_grad
    hvp: dict[str, float] = field(default_factory=dict)  # seconds per Hessian-vector product
    workers: int = 1

    @property
    def seconds(self) -> float:
        """Worker-seconds still to compute."""
        return sum(self.per_stage.values())

    def wall(self) -> float:
        """Estimated wall time with the workers (perfect sharing of the runs)."""
        return self.seconds / max(1, self.workers)

    def lines(self) -> list[str]:
        out = ["per evaluation (value and gradient, one thread):"]
        for case, t in self.evaluation.items():
            hvp = self.hvp.get(case)
            extra = f", Hessian-vector product {hvp * 1e3:.1f} ms" if hvp is not None else ""
            out.append(f"  {case}: {t * 1e3:.1f} ms{extra}")
        for stage in ("tune", "main", "landscape"):
            left, total = self.per_stage.get(stage, 0.0), self.total_stage.get(stage, 0.0)
            done = "" if left >= total else f" ({_duration(total - left)} of it done)"
            out.append(f"  stage {stage:9s} {_duration(total)} of computing{done}")
        out.append(
            f"estimated: {_duration(self.seconds)} of computing left, about "
            f"{_duration(self.wall())} with {self.workers} worker(s)"
        )
        return out


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _case_name(model: str, problem: str) -> str:
    return f"{'NN' if model == 'cnn' else 'P'} {problem}"


def _measure(settings: dict[str, Any], hvps: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per evaluation (and HVP) of each problem and model at theta0, one thread."""
    import numpy as np

    from .. import PixelObjective, _threads, problems
    from ..models.neural import CNNObjective
    from .spec import STUDY_CODES

    evaluation, hvp = {}, {}
    wanted = dict.fromkeys([*settings["problems"], *settings["landscape_problems"]])
    with _threads.pinned(1):
        for code in wanted:
            problem = problems.get(STUDY_CODES.get(code, code))
            for model in ("pixel", "cnn"):
                if model == "pixel":
                    obj = PixelObjective(problem, penal=3.0)
                else:
                    obj = CNNObjective(
                        problem, penal=3.0, seed=0, upsampling=settings["upsampling"]
                    )
                theta = obj.x0
                rng = np.random.default_rng(0)
                obj.value_and_grad(theta)
                started = time.perf_counter()
                repeats = 3
                for _ in range(repeats):
                    # a new point each time: objectives cache the last evaluation
                    obj.value_and_grad(theta + 1e-3 * rng.standard_normal(theta.size))
                name = _case_name(model, code)
                evaluation[name] = (time.perf_counter() - started) / repeats
                if hvps and code in settings["landscape_problems"]:
                    if model == "cnn":
                        obj = CNNObjective(
                            problem,
                            penal=3.0,
                            seed=0,
                            upsampling=settings["upsampling"],
                            dtype=settings["landscape"].get("dtype", "float64"),
                        )
                    v = rng.standard_normal(theta.size)
                    obj.hvp(theta, v)
                    started = time.perf_counter()
                    obj.hvp(theta + 1e-3 * v, v)
                    hvp[name] = time.perf_counter() - started
    return evaluation, hvp


def _landscape_work(settings: dict[str, Any]) -> tuple[float, float]:
    """(evaluations, Hessian-vector products) of one analysis task."""
    from .landscape import LandscapeOptions

    o = LandscapeOptions.from_dict(settings["landscape"])
    steps = len(o.steps)
    run_steps = settings["lbfgs_evals"]  # an upper bound on the L-BFGS steps
    hvps = steps * (2 * o.slq_starts * o.slq_steps + 2 * o.hutchinson_seeds * o.hutchinson_samples)
    hvps += steps * 40  # the top eigenvalue by Lanczos
    evals = settings["lbfgs_evals"]  # the rerun
    if o.metrics_overlap:
        hvps += run_steps
    evals += run_steps  # gradients at the iterates
    p = o.interpolation_points
    evals += p * (1 + o.interpolation_iterates + o.inits + o.successive_steps)
    evals += 2 * o.plane_points**2
    return float(evals), float(hvps)


def estimate_cost(
    settings: dict[str, Any], out: Path | None = None, workers: int = 1, measure: bool = True
) -> Estimate:
    """The profile's cost on this machine: evaluations counted per stage, times measured.

    Counts (per test case and seed): tuning ``trials x tune_seeds x (tune_steps + 1)`` per
    tuned optimizer (GD, HD_M1, HD_M10); main ``lbfgs_evals`` for each L-BFGS,
    ``gd_steps + 1`` for GD and HD, ``gd_long_steps + 1`` for the long GD,
    :data:`GD_LS_EVALS_PER_STEP` per GD_LS iteration; every step plus :data:`STEP_OVERHEAD`.
    Landscape: the rerun, the gradients and HVPs of the metrics, SLQ and Hutchinson HVPs,
    interpolation and plane evaluations. What the stores at ``out`` already hold is
    subtracted (by the fraction of runs done). A pixel run counts once (it has no seed).
    """
    evaluation, hvp = _measure(settings, hvps=True) if measure else ({}, {})
    est = Estimate(evaluation=evaluation, hvp=hvp, workers=workers)
    main_evals = {
        model: 2 * settings["lbfgs_evals"]
        + 3 * (settings["gd_steps"] + 1)
        + settings["gd_long_steps"]
        + 1
        + per_step * settings["gd_steps"]
        for model, per_step in GD_LS_EVALS_PER_STEP.items()
    }
    tune_evals = 3 * settings["trials"] * len(settings["tune_seeds"]) * (settings["tune_steps"] + 1)
    land_evals, land_hvps = _landscape_work(settings)
    totals = {"tune": 0.0, "main": 0.0, "landscape": 0.0}
    factor = 1.0 + STEP_OVERHEAD
    for code in settings["problems"]:
        for model in ("pixel", "cnn"):
            name = _case_name(model, code)
            t = evaluation.get(name, 0.0)
            seeds = len(settings["seeds"]) if model == "cnn" else 1
            tune_seeds = len(settings["tune_seeds"]) if model == "cnn" else 1
            penalties = 2
            totals["main"] += penalties * seeds * main_evals[model] * t * factor
            totals["tune"] += (
                penalties * tune_evals * t * factor * tune_seeds / len(settings["tune_seeds"])
            )
    for code in settings["landscape_problems"]:
        for model in ("pixel", "cnn"):
            name = _case_name(model, code)
            seeds = len(settings["landscape_seeds"]) if model == "cnn" else 1
            t, h = evaluation.get(name, 0.0), hvp.get(name, 0.0)
            totals["landscape"] += 2 * seeds * (land_evals * t * 1.5 + land_hvps * h)
    est.total_stage = dict(totals)
    est.per_stage = {k: v * (1.0 - _done_fraction(out, k)) for k, v in totals.items()}
    return est


def _done_fraction(out: Path | None, stage: str) -> float:
    if out is None:
        return 0.0
    directory = Path(out) / stage
    try:
        if stage == "tune":
            path = directory / "tuned.json"
            if not path.is_file():
                return 0.0
            cases = json.loads(path.read_text())["cases"].values()
            target = sum(c["trials_target"] for c in cases)
            return min(1.0, sum(c["trials_done"] for c in cases) / target) if target else 0.0
        if not (directory / "index.sqlite").is_file():
            return 0.0
        from .store import Store

        with Store(directory, readonly=True) as store:
            names = store.studies()
            if not names:
                return 0.0
            counts = store.counts(names[-1])
        total = sum(counts.values())
        return counts["done"] / total if total else 0.0
    except (OSError, ValueError, KeyError):
        return 0.0


def _check_profile(out: Path, settings: dict[str, Any]) -> None:
    """The directory holds this profile or nothing: never mix two studies in one store."""
    path = out / "profile.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored != settings:
            changed = sorted(
                k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k)
            )
            raise InvalidInputError(
                f"{str(out)!r} holds the thesis study with other settings ({', '.join(changed)} "
                "differ): reproduce into another --out, or delete the directory"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")


#: Where and why a reproduction's numbers differ from the thesis' (written into the report).
KNOWN_DIFFERENCES = [
    "Step sizes: tuned here by the thesis' protocol (TPE on a 0.1 grid of log10(step), median "
    "final loss over the tuning seeds) in a range relative to 1/|g0| measured at the start; "
    "the thesis' absolute steps (Tables B.1-B.3) do not transfer (its GD step for NN3A sends "
    "the published code itself to a disconnected design at the first step).",
    "Seeds: the thesis' seeds are unknown; seeds 0, 1, ... are used, so the CNN's initial "
    "weights (and the medians over seeds) differ from the thesis'.",
    "Implementation: this library's physics and CNN equal the published reference code number "
    "for number (float64 physics, the CNN in float32 as published); the thesis' tables come "
    "from its own code base, whose loss scaling and convergence criteria may differ.",
    "Convergence step: the first step within 1% of the run's own final loss (the thesis gives "
    "an 'approximate convergence step' without a definition).",
]


def reproduce_thesis(
    out: str | Path,
    profile: str = "full",
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    upsampling: str = "transpose",
    seeds: list[int] | None = None,
    echo: Callable[[str], None] | None = print,
) -> Path:
    """Run (or resume) the thesis study in a profile and write its report.

    Parameters
    ----------
    out : path
        The study's directory (stages in subdirectories, see the module docstring).
    profile : {"full", "quick", "miniature"}
        See :data:`~toposcape.experiments.thesis.PROFILES`.
    executor, workers, scheduler
        As for :func:`~toposcape.experiments.run` (``scheduler``: a running Dask scheduler).
    progress : bool or None
        Progress bars (None: on a terminal only).
    upsampling : {"transpose", "bilinear"}
        The CNN: the transposed-convolution variant of the thesis, or the bilinear reference.
    seeds : list of int, optional
        Seeds of the main stage instead of the profile's.
    echo : callable or None
        Where the cost estimate and the stage messages go (None: nowhere).

    Returns
    -------
    Path
        ``OUT/report/report.md``.
    """
    from . import open as open_study
    from . import run, tune
    from .thesis_report import write_thesis_report

    say = echo or (lambda _text: None)
    settings = profile_settings(profile, upsampling=upsampling, seeds=seeds)
    if workers is not None:
        workers = _validate.integer(workers, "workers", minimum=1, who="reproduce_thesis")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{str(out)!r} is a file: give a directory for the study (--out)")
    _check_profile(out, settings)
    n_workers = workers or _cpu_count()
    started = time.perf_counter()
    estimate = estimate_cost(settings, out, workers=n_workers)
    say(f"the thesis study, {settings['profile']} profile -> {out}")
    for line in estimate.lines():
        say(line)
    (out / "estimate.json").write_text(
        json.dumps(
            {
                "seconds_left": estimate.seconds,
                "per_stage": estimate.per_stage,
                "total_stage": estimate.total_stage,
                "evaluation": estimate.evaluation,
                "hvp": estimate.hvp,
                "workers": n_workers,
            },
            indent=1,
        )
        + "\n"
    )
    engine = {"executor": executor, "workers": workers, "scheduler": scheduler}
    tune_dir, main_dir, land_dir = out / "tune", out / "main", out / "landscape"

    session: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "workers": n_workers if scheduler is None else f"dask {scheduler}",
        "estimated_seconds": round(estimate.wall(), 1),
        "computed": {},
    }
    say("stage 1/3: tuning the steps of GD, HD_M1 and HD_M10")
    trials_before = _trials_done(tune_dir)
    tune(
        thesis_spec("tune", profile, **_overrides(settings)), tune_dir, progress=progress, **engine
    )
    session["computed"]["tune trials"] = _trials_done(tune_dir) - trials_before

    say("stage 2/3: the main runs")
    report = run(
        thesis_spec("main", profile, str(tune_dir), **_overrides(settings)),
        main_dir,
        progress=progress,
        **engine,
    )
    session["computed"]["main"] = report.computed
    say(
        f"  computed {report.computed}, already done {report.skipped}, failed "
        f"{report.counts['failed']}"
    )

    say("stage 3/3: the landscape analyses")
    report = run(
        thesis_spec("landscape", profile, **_overrides(settings)),
        land_dir,
        progress=progress,
        **engine,
    )
    session["computed"]["landscape"] = report.computed
    say(
        f"  computed {report.computed}, already done {report.skipped}, failed "
        f"{report.counts['failed']}"
    )

    history = out / "sessions.json"
    sessions = json.loads(history.read_text()) if history.is_file() else []
    session["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    sessions.append(session)
    path = write_thesis_report(
        out / "report",
        main=open_study(main_dir, "thesis"),
        tuning=tune_dir,
        landscape=open_study(land_dir, "thesis-landscape"),
        profile=settings,
        notes=KNOWN_DIFFERENCES,
        sessions=sessions,
    )
    history.write_text(json.dumps(sessions, indent=1) + "\n")
    say(f"report: {path} ({_duration(time.perf_counter() - started)} this session)")
    return path


def _trials_done(directory: Path) -> int:
    path = directory / "tuned.json"
    if not path.is_file():
        return 0
    return sum(c["trials_done"] for c in json.loads(path.read_text())["cases"].values())


def _overrides(settings: dict[str, Any]) -> dict[str, Any]:
    base = profile_settings(settings["profile"])
    return {k: v for k, v in settings.items() if k not in ("profile",) and base.get(k) != v}


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# -- the command ----------------------------------------------------------------------------
def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are integers, e.g. 0,1,2 (got {text!r})") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"distinct seeds >= 0, e.g. 0,1,2 (got {text!r})")
    return seeds


def _cmd_thesis(args: argparse.Namespace) -> int:
    if args.quick and args.profile not in (None, "quick"):
        raise InvalidInputError(
            f"--quick is the quick profile: drop it or --profile {args.profile} (not both)"
        )
    profile = "quick" if args.quick else args.profile or "full"
    out = Path(args.out) if args.out else Path("toposcape-studies") / f"thesis-{profile}"
    if args.estimate:
        settings = profile_settings(profile, upsampling=args.cnn, seeds=args.seeds)
        est = estimate_cost(
            settings, out if out.exists() else None, workers=args.workers or _cpu_count()
        )
        print(f"the thesis study, {profile} profile")
        for line in est.lines():
            print(line)
        return 0
    try:
        reproduce_thesis(
            out,
            profile=profile,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=False if args.quiet else None,
            upsampling=args.cnn,
            seeds=args.seeds,
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted: rerun the same command to continue where it stopped",
            file=sys.stderr,
        )
        return 130
    return 0


def register_command(subparsers) -> None:
    """Add ``reproduce thesis`` to the ``toposcape`` parser."""
    from .commands import add_executor_arguments

    reproduce = subparsers.add_parser(
        "reproduce",
        help="reproduce a published study (the thesis) with its tables, figures and verdicts",
        description="Reproduce a published study end to end through the experiment engine.",
    )
    sub = reproduce.add_subparsers(dest="reproduce_command", required=True, metavar="STUDY")
    t = sub.add_parser(
        "thesis",
        help="why L-BFGS wins in neurally reparameterized TO (studies.md section 1)",
        description=(
            "Tune GD/HD steps, run the 16 test cases with 7 optimizers, analyse the landscape "
            "of problems A and D, and write a report with the thesis' Tables 3.2 and 3.3 side "
            "by side and a verdict on each of its six findings. Resumable: rerun the same "
            "command to continue. The cost estimate is printed before anything starts."
        ),
    )
    t.add_argument(
        "--quick",
        action="store_true",
        help="the quick profile: problems A and B, 3 seeds, 10 trials (~30 min on 2 cores)",
    )
    t.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default=None,
        help="full (default: A, B, D, E, 10 seeds: a cluster or a long run), quick, miniature",
    )
    add_executor_arguments(t)
    t.add_argument(
        "--cnn",
        choices=("transpose", "bilinear"),
        default="transpose",
        help="the CNN: transposed convolutions as the thesis (default) or the bilinear reference",
    )
    t.add_argument(
        "--seeds", type=_seeds, default=None, help="seeds instead of the profile's, e.g. 0,1,2"
    )
    t.add_argument("--estimate", action="store_true", help="print the cost estimate and stop")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_thesis)
