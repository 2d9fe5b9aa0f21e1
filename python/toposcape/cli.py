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

    for name in problems.names():
        if args.filter is None or args.filter in name:
            print(name)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toposcape",
        description="Fast, exact structural physics for studying topology-optimization landscapes.",
    )
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
    e.add_argument("problem", nargs="?", default="mbb_beam_384x128_0.3", help="suite name")
    e.add_argument("--penal", type=float, default=3.0, help="SIMP penalty (default 3)")
    e.add_argument("--solver", default="auto", help="auto, pardiso, cholmod, superlu or amg")
    e.add_argument("--densities", action="store_true", help="no volume constraint")
    e.add_argument("--repeat", type=int, default=5, help="timed repetitions (default 5)")
    e.add_argument("--seed", type=int, default=0, help="random seed of the evaluation point")
    e.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toposcape`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"toposcape: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
