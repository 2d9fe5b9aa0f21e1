"""Command-line interface: ``toposcape <command> ...`` (``toposcape --help``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

__all__ = ["main"]


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _cmd_problems(args: argparse.Namespace) -> int:
    from . import problems

    matches = [n for n in problems.names() if args.filter is None or args.filter in n]
    if not matches:
        print(
            f"toposcape: no suite problem name contains {args.filter!r} "
            "('toposcape problems' lists all 116)",
            file=sys.stderr,
        )
        return 1
    for name in matches:
        print(name)
    return 0


def _cmd_optimizers(args: argparse.Namespace) -> int:
    from . import optim

    print(optim.describe(args.name))
    if args.name is None:
        print(
            "\nSet options with -o NAME=VALUE on 'toposcape run', or "
            "toposcape.optim.get(name, **options) in Python."
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from . import problems
    from .models.pixel import PixelObjective

    problem = problems.get(args.problem)
    start = time.perf_counter()
    obj = PixelObjective(
        problem, penal=args.penal, volume_constraint=not args.densities, solver=args.solver
    )
    setup = time.perf_counter() - start
    rng = np.random.default_rng(args.seed)
    theta = obj.x0
    if not args.densities:
        theta = theta + 0.5 * rng.standard_normal(obj.size)
    v = rng.standard_normal(obj.size)

    # First call pays for JIT compilation and solver initialisation: not part of the timings.
    obj.value_and_grad(theta)
    obj.hvp(theta, v)

    def fresh_value_and_grad():
        nonlocal theta
        theta = theta + 1e-9 * v  # a new design each time: no cached factorization
        return obj.value_and_grad(theta)

    t_vg = _median_time(fresh_value_and_grad, args.repeat)
    t_hvp = _median_time(lambda: obj.hvp(theta, v), args.repeat)
    c, g = obj.value_and_grad(theta)
    hv = obj.hvp(theta, v)

    dofs = 2 * (problem.width + 1) * (problem.height + 1)
    space = "densities" if args.densities else "logits"
    print(f"problem      {problem.name}  ({problem.width}x{problem.height}, {dofs:,} DOFs)")
    print(f"model        pixel {space}, penal {args.penal:g}, solver {obj.physics.solver_name}")
    print(f"setup        {setup * 1e3:9.2f} ms  (pattern, scatter map, symbolic analysis)")
    print(f"compliance   {c:.10g}")
    print(f"|gradient|   {np.linalg.norm(g):.6g}")
    print(f"v.Hv         {float(v @ hv):.6g}")
    print(f"value+grad   {t_vg * 1e3:9.2f} ms  (median of {args.repeat}, fresh designs)")
    print(f"hvp          {t_hvp * 1e3:9.2f} ms  ({t_hvp / t_vg:.2f}x value+grad, same factor)")
    return 0


def _parse_option(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE an int, a float, true/false, none, or else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"optimizer option {text!r} must look like NAME=VALUE, e.g. memory=1")
    key, value = key.strip(), value.strip()
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    words = {"true": True, "false": False, "none": None}
    return key, words.get(value.lower(), value)


def _run_stem(args, problem_name: str, options: dict) -> str:
    """A file name that tells runs apart: every setting that changes the result."""
    parts = [problem_name, args.model]
    if args.model == "cnn":
        parts += [args.upsampling, args.dtype]
    parts.append(f"p{args.penal:g}")
    label = args.optimizer + "".join(f"-{key}={value}" for key, value in sorted(options.items()))
    parts.append(label)
    budget = []
    if args.max_evals is not None:
        budget.append(f"evals{args.max_evals}")
    if args.max_steps is not None:
        budget.append(f"steps{args.max_steps}")
    parts.append("-".join(budget))
    if args.model == "cnn":
        parts.append(f"seed{args.seed}")
    if args.solver != "auto":
        parts.append(args.solver)
    return "_".join(parts).replace("/", "-").replace(" ", "")


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import optim, problems
    from .errors import InvalidInputError
    from .models.pixel import PixelObjective
    from .optim.trajectory import write_netcdf

    if args.max_evals is None and args.max_steps is None:
        args.max_evals = 300
    problem = problems.get(args.problem)
    options = dict(_parse_option(o) for o in args.option)
    stem = _run_stem(args, problem.name, options)
    opt = optim.get(args.optimizer, **options)
    explicit_volume = opt.requires.explicit_volume
    if explicit_volume and args.model != "pixel":
        raise InvalidInputError(
            f"optimizer {args.optimizer!r} enforces the volume constraint itself and runs on the "
            "pixel model's densities: add --model pixel"
        )
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".toposcape-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(f"cannot write to the output folder {str(out)!r}: {exc.strerror}") from None
    if args.model == "cnn":
        from .models.neural import CNNObjective

        obj = CNNObjective(
            problem,
            penal=args.penal,
            seed=args.seed,
            upsampling=args.upsampling,
            dtype=args.dtype,
            solver=args.solver,
        )
    else:
        obj = PixelObjective(
            problem, penal=args.penal, volume_constraint=not explicit_volume, solver=args.solver
        )
    budget = " and ".join(
        text
        for text in (
            f"{args.max_evals} evaluations" if args.max_evals is not None else "",
            f"{args.max_steps} steps" if args.max_steps is not None else "",
        )
        if text
    )
    print(
        f"{problem.name}: {args.model} model ({obj.size:,} parameters), {opt.name}, "
        f"budget {budget or 'none'}"
    )
    traj = opt.run(
        obj,
        max_evals=args.max_evals,
        max_steps=args.max_steps,
        progress=False if args.quiet else None,
    )
    design = obj.design(traj.best_theta)
    ds_attrs = {
        "problem": problem.name,
        "model": args.model,
        "penal": args.penal,
        "optimizer_config": repr(opt),
        "max_evals": -1 if args.max_evals is None else args.max_evals,
        "max_steps": -1 if args.max_steps is None else args.max_steps,
        "solver": args.solver,
    }
    storage_for = getattr(getattr(opt, "direction", None), "storage_for", None)
    if storage_for is not None:  # L-BFGS: the precision its pairs were kept in
        ds_attrs["pair_dtype"] = storage_for(obj)
    if args.model == "cnn":
        ds_attrs.update(seed=args.seed, upsampling=args.upsampling, dtype=args.dtype)
    nc_path = out / f"{stem}.nc"
    ds = traj.to_xarray()
    ds["design"] = (("y", "x"), design)
    ds.attrs.update(ds_attrs)
    write_netcdf(ds, nc_path)
    design_png, curve_png = out / f"{stem}_design.png", out / f"{stem}_loss.png"
    _save_figures(
        design, traj, f"{problem.name} | {args.model} | {opt.name}", design_png, curve_png
    )
    print(
        f"best compliance {traj.best_loss:.6g} after {traj.n_evals} evaluations "
        f"({traj.n_steps} steps, {traj.wall_times[-1]:.1f} s); stopped: {traj.reason}"
    )
    for path in (design_png, curve_png, nc_path):
        print(f"wrote {path}")
    return 0


def _save_figures(design, traj, title, design_png, curve_png) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = design.shape
    fig, ax = plt.subplots(figsize=(min(12, 2 + 6 * w / max(h, w)), min(8, 1 + 6 * h / max(h, w))))
    ax.imshow(design, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{title}\ncompliance {traj.best_loss:.6g}")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(design_png, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(
        np.arange(1, traj.n_evals + 1),
        traj.eval_losses,
        lw=0.6,
        alpha=0.5,
        label="every evaluation",
    )
    ax.plot(traj.evals, traj.losses, lw=1.5, label="accepted iterates")
    ax.set_yscale("log")
    # Line-search trials can be many orders above the run (a wild first trial step): keep the
    # axis on the accepted iterates.
    ax.set_ylim(0.8 * np.min(traj.losses), 2.0 * np.max(traj.losses))
    ax.set_xlabel("objective evaluations")
    ax.set_ylabel("compliance")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(curve_png, dpi=120)
    plt.close(fig)


def integer_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (refused before anything is built)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


_positive = integer_at_least(1)
_non_negative = integer_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="toposcape",
        description="Fast, exact structural physics for studying topology-optimization landscapes.",
    )
    parser.add_argument("--version", action="version", version=f"toposcape {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("problems", help="list the 116 suite problems")
    p.add_argument("filter", nargs="?", default=None, help="only names containing this text")
    p.set_defaults(func=_cmd_problems)

    e = sub.add_parser(
        "evaluate",
        help="compliance, gradient and a Hessian-vector product of a suite problem, with timings",
        description=(
            "Build a suite problem, evaluate the pixel model's compliance, gradient and an exact "
            "Hessian-vector product at a random logit vector, and print timings."
        ),
    )
    e.add_argument(
        "problem", help="suite name (see 'toposcape problems'), e.g. mbb_beam_384x128_0.3"
    )
    e.add_argument("--penal", type=float, default=3.0, help="SIMP penalty (default 3)")
    e.add_argument("--solver", default="auto", help="auto, pardiso, cholmod, superlu or amg")
    e.add_argument("--densities", action="store_true", help="no volume constraint")
    e.add_argument("--repeat", type=_positive, default=5, help="timed repetitions (default 5)")
    e.add_argument(
        "--seed", type=_non_negative, default=0, help="random seed of the evaluation point"
    )
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser(
        "run",
        help="optimize one suite problem with a model and an optimizer; save design, curve, run",
        description=(
            "Optimize one problem of the suite and save the final design and the loss curve as "
            "PNG files and the whole trajectory as a netCDF file (an xarray Dataset). Example: "
            "toposcape run michell_centered_both_32x64_0.12 --model cnn --optimizer lbfgs "
            "--max-evals 300"
        ),
    )
    r.add_argument(
        "problem",
        nargs="?",
        default="michell_centered_both_32x64_0.12",
        help="suite name (see 'toposcape problems'); default: problem A of the study",
    )
    r.add_argument("--model", choices=("cnn", "pixel"), default="cnn", help="default: cnn")
    r.add_argument(
        "--optimizer",
        default="lbfgs",
        help="a preset of toposcape.optim (lbfgs, gd, gd_ls, hd, adam, ..., oc, mma); "
        "'toposcape optimizers' lists them with their options",
    )
    r.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="optimizer option, repeatable: -o memory=1 -o lr=0.004 "
        "('toposcape optimizers NAME' lists a preset's options)",
    )
    r.add_argument(
        "--max-evals",
        type=_positive,
        default=None,
        help="evaluation budget (300; none when only --max-steps is given)",
    )
    r.add_argument("--max-steps", type=_positive, default=None, help="step budget (none)")
    r.add_argument("--penal", type=float, default=3.0, help="SIMP penalty (3)")
    r.add_argument("--seed", type=_non_negative, default=0, help="CNN initialisation seed (0)")
    r.add_argument(
        "--upsampling",
        choices=("bilinear", "transpose"),
        default="bilinear",
        help="CNN variant (bilinear: the reference; transpose: the thesis)",
    )
    r.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="CNN precision (float32)"
    )
    r.add_argument("--solver", default="auto", help="sparse solver backend (auto)")
    r.add_argument("--out", default="toposcape-out", help="output folder (toposcape-out)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    o = sub.add_parser(
        "optimizers",
        help="list the optimizer presets with their options and defaults",
        description="List the optimizer presets of toposcape.optim, their options and defaults.",
    )
    o.add_argument("name", nargs="?", default=None, help="only this preset")
    o.set_defaults(func=_cmd_optimizers)

    from .experiments.commands import register as register_study

    register_study(sub)
    from .experiments.reproduce import register_command as register_reproduce

    register_reproduce(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toposcape`` command."""
    args = build_parser().parse_args(argv)
    from .errors import InsufficientMemoryError, StudyInUseError

    try:
        return args.func(args)
    except (
        KeyError,
        ValueError,
        TypeError,
        OSError,
        InsufficientMemoryError,
        StudyInUseError,
    ) as exc:
        # Bad input (names, values, types), unwritable output, a problem too large for
        # memory, or a study directory another process is writing: a message, not a
        # traceback. Anything else is a bug and keeps its traceback.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"toposcape: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
