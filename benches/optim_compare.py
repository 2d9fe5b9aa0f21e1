"""Optimizer benchmarks: bookkeeping cost against SciPy and torch, and the thesis' family.

Usage::

    python benches/optim_compare.py [--quick] [--skip-torch] [--figure PATH]

Prints markdown tables:

1. Bookkeeping per evaluation (all work but the objective) of ``ts.optim.get("lbfgs")``,
   SciPy's L-BFGS-B and ``torch.optim.LBFGS`` (strong Wolfe, history 10) on a cheap
   ill-conditioned quadratic at n = 1e3, 1e5, 1.4e6, measured in the same run. The objective's
   own time is measured inside it and subtracted.
2. Pixel model, problem A (``michell_centered_both_32x64_0.12``), p = 3, 300 evaluations:
   final compliance of the ``lbfgs`` preset against SciPy's ``fmin_l_bfgs_b`` (m = 10,
   factr = 1, pgtol = 1e-14, maxfun = 300) on the same objective.
3. The thesis' optimizer family on the pixel model of problems A and B at p = 1 and 3 with the
   step sizes of studies.md (L-BFGS, L-BFGS_M1: 300 evaluations; GD, GD_LS: 700 steps;
   HD_M1, HD_M10: 700 steps); final losses, and the loss curves as a figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.optimize as so

import toposcape as ts


class CheapQuadratic:
    """``f = 0.5 sum a_i x_i^2 - b.x`` with ``a`` log-spaced in [1, 1e4]; times itself."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.size = n
        self.a = np.logspace(0, 4, n)
        rng.shuffle(self.a)
        self.b = rng.standard_normal(n)
        self.x0 = np.zeros(n)
        self.time = 0.0
        self.calls = 0

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        ax = self.a * x
        f = 0.5 * float(x @ ax) - float(self.b @ x)
        g = ax - self.b
        self.time += time.perf_counter() - start
        self.calls += 1
        return f, g


def bookkeeping_ours(n: int, evals: int) -> float:
    obj = CheapQuadratic(n)
    opt = ts.optim.get("lbfgs", memory=10)
    start = time.perf_counter()
    traj = opt.run(obj, obj.x0, max_evals=evals)
    total = time.perf_counter() - start
    return (total - obj.time) / traj.n_evals


def bookkeeping_scipy(n: int, evals: int) -> float:
    obj = CheapQuadratic(n)
    start = time.perf_counter()
    so.fmin_l_bfgs_b(obj.value_and_grad, obj.x0, m=10, factr=1, pgtol=1e-14, maxfun=evals)
    total = time.perf_counter() - start
    return (total - obj.time) / obj.calls


def bookkeeping_torch(n: int, evals: int) -> float:
    import torch

    obj = CheapQuadratic(n)
    a = torch.from_numpy(obj.a)
    b = torch.from_numpy(obj.b)
    p = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [p],
        lr=1,
        max_iter=evals,
        max_eval=evals,
        history_size=10,
        tolerance_grad=0,
        tolerance_change=0,
        line_search_fn="strong_wolfe",
    )
    state = {"time": 0.0, "calls": 0}

    def closure():
        start = time.perf_counter()
        with torch.no_grad():
            ax = a * p
            f = 0.5 * torch.dot(p, ax) - torch.dot(b, p)
            p.grad = ax - b
        state["time"] += time.perf_counter() - start
        state["calls"] += 1
        return f

    start = time.perf_counter()
    opt.step(closure)
    total = time.perf_counter() - start
    return (total - state["time"]) / state["calls"]


def table_bookkeeping(sizes, evals, repeats, with_torch) -> None:
    print("\n### Bookkeeping per evaluation (objective time excluded), cheap quadratic\n")
    head = "| n | evals | toposcape (ms) | SciPy L-BFGS-B (ms) | ratio vs SciPy |"
    sep = "|---|---|---|---|---|"
    if with_torch:
        head += " torch LBFGS (ms) | ratio vs torch |"
        sep += "---|---|"
    print(head)
    print(sep)
    for n in sizes:
        ours = np.median([bookkeeping_ours(n, evals) for _ in range(repeats)])
        ref = np.median([bookkeeping_scipy(n, evals) for _ in range(repeats)])
        row = f"| {n:,} | {evals} | {ours * 1e3:.3f} | {ref * 1e3:.3f} | {ours / ref:.2f} |"
        if with_torch:
            tor = np.median([bookkeeping_torch(n, evals) for _ in range(repeats)])
            row += f" {tor * 1e3:.3f} | {ours / tor:.2f} |"
        print(row, flush=True)


def table_problem_a(evals: int) -> None:
    problem = ts.problems.get("michell_centered_both_32x64_0.12")
    obj = ts.PixelObjective(problem, penal=3.0)
    traj = ts.optim.get("lbfgs", memory=10).run(obj, obj.x0, max_evals=evals)
    calls = []

    def func(x):
        f, g = obj.value_and_grad(x)
        calls.append(f)
        return f, g

    so.fmin_l_bfgs_b(func, obj.x0, m=10, factr=1, pgtol=1e-14, maxfun=evals)
    # SciPy checks maxfun only between iterations and may overshoot: compare at the budget.
    scipy_best = min(calls[:evals])
    ours_best = traj.best_loss
    print(f"\n### Pixel model, problem A, p = 3, {evals} evaluations\n")
    print("| optimizer | evaluations | best compliance |")
    print("|---|---|---|")
    print(f"| toposcape lbfgs | {traj.n_evals} | {ours_best:.6f} |")
    print(f"| SciPy fmin_l_bfgs_b | {min(len(calls), evals)} | {scipy_best:.6f} |")
    print(f"\nrelative difference: {abs(ours_best / scipy_best - 1):.2e}")


STEP_SIZES = {  # studies.md: (GD, HD_M1, HD_M10) for the pixel model
    ("P", 3, "A"): (0.1, 0.126, 0.1),
    ("P", 3, "B"): (1.19, 0.398, 0.25),
    ("P", 1, "A"): (10, 1, 1),
    ("P", 1, "B"): (10, 0.63, 0.79),
}
PROBLEMS = {"A": "michell_centered_both_32x64_0.12", "B": "pure_bending_moment_32x64_0.15"}


def family(quick: bool, figure: Path | None) -> None:
    lbfgs_evals, steps = (100, 200) if quick else (300, 700)
    results = {}
    for (model, penal, code), (lr_gd, lr_hd1, lr_hd10) in STEP_SIZES.items():
        problem = ts.problems.get(PROBLEMS[code])
        obj = ts.PixelObjective(problem, penal=float(penal))
        runs = {
            "L-BFGS": (ts.optim.get("lbfgs", memory=10), dict(max_evals=lbfgs_evals)),
            "L-BFGS_M1": (ts.optim.get("lbfgs", memory=1), dict(max_evals=lbfgs_evals)),
            "GD": (ts.optim.get("gd", lr=lr_gd), dict(max_evals=None, max_steps=steps)),
            "GD_LS": (ts.optim.get("gd_ls"), dict(max_evals=None, max_steps=steps)),
            "HD_M1": (
                ts.optim.get("hd", memory=1, lr=lr_hd1),
                dict(max_evals=None, max_steps=steps),
            ),
            "HD_M10": (
                ts.optim.get("hd", memory=10, lr=lr_hd10),
                dict(max_evals=None, max_steps=steps),
            ),
        }
        case = f"{model}{penal}{code}"
        results[case] = {}
        for label, (opt, budget) in runs.items():
            start = time.perf_counter()
            traj = opt.run(obj, obj.x0, **budget)
            results[case][label] = (traj, time.perf_counter() - start)
    labels = list(next(iter(results.values())))
    print("\n### The thesis' optimizer family, pixel model (final loss; evaluations; seconds)\n")
    print("| case | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for case, runs in results.items():
        cells = [
            f"{t.losses[-1]:.5g} ({t.n_evals}; {s:.1f}s)"
            + ("" if t.reason.startswith("max") else f" [{t.reason}]")
            for t, s in runs.values()
        ]
        print(f"| {case} | " + " | ".join(cells) + " |")
    if figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6))
        for ax, (case, runs) in zip(np.atleast_1d(axes), results.items(), strict=True):
            for label, (traj, _) in runs.items():
                ax.plot(np.arange(traj.n_steps + 1), traj.losses, label=label, lw=1.2)
            ax.set_yscale("log")
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(left=0)
            ax.set_title(case)
            ax.set_xlabel("iteration")
        np.atleast_1d(axes)[0].set_ylabel("compliance")
        np.atleast_1d(axes)[-1].legend(fontsize=8)
        fig.tight_layout()
        figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(figure, dpi=120)
        print(f"\nfigure: {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets")
    parser.add_argument("--skip-torch", action="store_true", help="no torch.optim.LBFGS column")
    parser.add_argument("--figure", type=Path, default=Path("benches/figures/optimizer_family.png"))
    args = parser.parse_args()
    with_torch = not args.skip_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch not installed: skipping the torch column")
            with_torch = False
    sizes = [1_000, 100_000] if args.quick else [1_000, 100_000, 1_400_000]
    table_bookkeeping(sizes, evals=60 if args.quick else 200, repeats=3, with_torch=with_torch)
    table_problem_a(100 if args.quick else 300)
    family(args.quick, args.figure)


if __name__ == "__main__":
    main()
