"""The central study's landscape analysis on problem A (studies.md, section 1).

Problem A (``michell_centered_both_32x64_0.12``), p = 3, the CNN's transposed-convolution
variant in float64 (second-order accuracy):

1. Eigenvalue densities (SLQ: 3 random starts x 50 Lanczos steps, Gaussian variance 1e-4) of
   the Hessian and of L-BFGS_M1's own matrix ``B_k`` at steps 0, 10 and 28 of one run, side by
   side, with Hutchinson estimates of the Hessian's trace and Frobenius norm (3 seeds x 50
   samples). ``B_0`` is the identity: its density is a single peak at 1.
2. The four linear interpolations: (a) between two random initialisations, (b) from iterates
   to the final point, (c) from random initialisations to the final point, (d) between
   successive iterates; and the designs along (c).
3. A filter-normalised random plane around the initial point, with the L-BFGS and GD paths
   projected into it.
4. Distance from the start and gradient norm along L-BFGS (300 evaluations) and GD (the
   study's step 2.5e-4 for NN3A, 700 steps) over seeds, medians in bold. With this CNN the
   Hessian's largest eigenvalue at the start is ~1e8, so that constant step diverges on every
   seed (see the issue notes); the curves show it.

Usage::

    python examples/landscape_analysis.py [--seeds 3] [--out results/landscape_A] [--quick]

Writes ``densities.png``, ``interpolations.png``, ``interpolation_designs.png``,
``plane.png``, ``run_metrics.png`` and ``summary.nc`` (the numbers behind the figures) to
``--out`` and prints a summary. ``--quick`` shrinks every budget (a smoke run of ~1 minute).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import toposcape as ts

PROBLEM = "michell_centered_both_32x64_0.12"
DENSITY_STEPS = (0, 10, 28)


def objective(seed: int) -> ts.CNNObjective:
    return ts.CNNObjective(
        ts.problems.get(PROBLEM), penal=3.0, seed=seed, upsampling="transpose", dtype="float64"
    )


def densities(obj, traj, steps, runs: int, lanczos_steps: int, samples: int):
    """SLQ densities of the Hessian and of B_k at the given L-BFGS steps; trace and norm."""
    hessian, quasi_newton, estimates = {}, {}, {}
    for step in steps:
        theta = traj.thetas[step]
        H = ts.landscape.hessian(obj, theta)
        hessian[step] = ts.landscape.spectral_density(
            H, runs=runs, steps=lanczos_steps, sigma2=1e-4, seed=0
        )
        B = traj.quasi_newton(step, "B")
        quasi_newton[step] = ts.landscape.spectral_density(
            B, runs=runs, steps=lanczos_steps, sigma2=1e-4, seed=0
        )
        traces = [ts.landscape.trace(H, samples=samples, seed=s) for s in range(3)]
        norms = [ts.landscape.frobenius_norm(H, samples=samples, seed=s) for s in range(3)]
        top, _ = ts.landscape.eigsh(H, k=1, which="LA", tol=1e-6)
        estimates[step] = (float(np.mean(traces)), float(np.mean(norms)), float(top[0]))
    return hessian, quasi_newton, estimates


def run(out: Path, seeds: int = 3, quick: bool = False):
    """Run the analysis, write the figures and ``summary.nc`` to ``out``; return the summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    out.mkdir(parents=True, exist_ok=True)
    evals, gd_steps = (60, 60) if quick else (300, 700)
    runs, lanczos_steps, samples = (2, 15, 5) if quick else (3, 50, 50)
    n_interp, n_plane = (11, 9) if quick else (31, 31)
    started = time.perf_counter()

    # One L-BFGS_M1 run with its iterates and memory: the subject of the spectra.
    obj = objective(0)
    m1 = ts.optim.get("lbfgs", memory=1).run(
        obj, max_evals=evals, record_params=True, record_memory=True, progress=True
    )
    steps = [s for s in DENSITY_STEPS if s < m1.n_steps]
    print(f"L-BFGS_M1: {m1.n_steps} steps, best compliance {m1.best_loss:.4f}")
    hess, qn, est = densities(obj, m1, steps, runs, lanczos_steps, samples)
    fig = ts.landscape.plot_spectral_densities(hess, qn, steps=steps)
    fig.savefig(out / "densities.png", dpi=150)
    plt.close(fig)
    print("\n| step | Hessian trace | Frobenius norm | top eigenvalue |")
    print("|---|---|---|---|")
    for step, (tr, fro, top) in est.items():
        print(f"| {step} | {tr:.4g} | {fro:.4g} | {top:.4g} |")

    # Interpolations (a)-(d) on an L-BFGS (m = 10) run.
    lbfgs = ts.optim.get("lbfgs").run(obj, max_evals=evals, record_params=True, progress=True)
    final = lbfgs.theta
    inits = np.stack([objective(seed).x0 for seed in range(1, 4)])
    curves = {
        "a": ts.landscape.interpolate_between(obj, inits[:2], n=n_interp),
        "b": ts.landscape.interpolate_to_final(
            obj, lbfgs, steps=np.linspace(0, lbfgs.n_steps - 1, 6).astype(int), n=n_interp
        ),
        "c": ts.landscape.interpolate_from_inits(obj, inits, final, n=n_interp),
        "d": ts.landscape.interpolate_successive(
            obj, lbfgs, steps=np.arange(0, min(lbfgs.n_steps - 1, 30), 3), n=n_interp
        ),
    }
    fig, axes = plt.subplots(1, 4, figsize=(18, 4), constrained_layout=True)
    titles = {
        "a": "(a) between random initialisations",
        "b": "(b) iterates to the final point",
        "c": "(c) initialisations to the final point",
        "d": "(d) successive iterates",
    }
    for ax, (key, curve) in zip(axes, curves.items(), strict=True):
        ts.landscape.plot_interpolation(curve, ax=ax, logy=True)
        ax.set_title(titles[key])
    fig.savefig(out / "interpolations.png", dpi=150)
    plt.close(fig)
    fig = ts.landscape.plot_interpolation_designs(obj, inits[0], final)
    fig.savefig(out / "interpolation_designs.png", dpi=150)
    plt.close(fig)

    # GD with the study's step, and the filter-normalised plane around the initial point.
    gd = ts.optim.get("gd", lr=2.5e-4).run(
        obj, max_steps=gd_steps, max_evals=None, record_params=True, progress=True
    )
    center = obj.x0
    d1, d2 = ts.landscape.random_directions(obj, center, seed=0, normalize="filter")
    A, B_, L = ts.landscape.plane(obj, center, d1, d2, extent=1.0, n=n_plane, progress=True)
    paths = [ts.landscape.project(t, center, d1, d2) for t in (lbfgs, gd)]
    fig = ts.landscape.plot_plane(A, B_, L, xy=paths, log=True, labels=["L-BFGS", "GD"])
    fig.savefig(out / "plane.png", dpi=150)
    plt.close(fig)

    # Distance and gradient norm along L-BFGS and GD over seeds.
    runs_by_optimizer: dict[str, list] = {"L-BFGS": [], "GD": []}
    for seed in range(seeds):
        o = objective(seed)
        runs_by_optimizer["L-BFGS"].append(
            ts.optim.get("lbfgs").run(o, max_evals=evals, record_params=True)
        )
        runs_by_optimizer["GD"].append(
            ts.optim.get("gd", lr=2.5e-4).run(
                o, max_steps=gd_steps, max_evals=None, record_params=True
            )
        )
    fig = ts.landscape.plot_run_metrics(runs_by_optimizer, median=True)
    fig.savefig(out / "run_metrics.png", dpi=150)
    plt.close(fig)

    summary = xr.Dataset(
        {
            f"interpolation_{key}": curve.rename({d: f"{d}_{key}" for d in curve.dims})
            for key, curve in curves.items()
        }
    )
    summary["plane_loss"] = (("b", "a"), L)
    summary = summary.assign_coords(a=A[0], b=B_[:, 0])
    for step in steps:
        grid, dens = hess[step]
        summary[f"hessian_density_step{step}"] = (f"grid_h{step}", dens)
        summary = summary.assign_coords({f"grid_h{step}": grid})
        grid, dens = qn[step]
        summary[f"bk_density_step{step}"] = (f"grid_b{step}", dens)
        summary = summary.assign_coords({f"grid_b{step}": grid})
    summary.attrs.update(problem=PROBLEM, cnn="transpose, float64", penal=3.0)
    summary["final_loss"] = float(obj.value_and_grad(final)[0])
    summary["initial_loss"] = float(obj.value_and_grad(center)[0])
    summary.to_netcdf(out / "summary.nc")
    finals = {k: [float(t.best_loss) for t in v] for k, v in runs_by_optimizer.items()}
    print("\nbest compliance per seed:", {k: np.round(v, 3).tolist() for k, v in finals.items()})
    print(f"figures in {out} ({time.perf_counter() - started:.0f} s)")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the run-metric curves")
    parser.add_argument("--out", type=Path, default=Path("results/landscape_A"))
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    args = parser.parse_args()
    run(args.out, args.seeds, args.quick)


if __name__ == "__main__":
    main()
