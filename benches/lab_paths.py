"""The Fourier path finder's cost on the CNN of problem A (issue 14, point 8).

Problem A (``michell_centered_both_32x64_0.12``), the reference CNN at p = 3 (567,553
parameters): two L-BFGS runs (300 evaluations each) from the initial weights of two CNN seeds
give the end points, on *one* objective (the landscape does not depend on the objective's seed,
only ``x0`` does: the second start is another objective's ``x0``). Then
``ts.lab.fourier_path`` between them, and, in the same run, the time of a plain
``value_and_grad`` at points of the straight line (fresh designs, no factorization reused).

Usage::

    python benches/lab_paths.py [--quick] [--seeds 0 1] [--verify N] [--out results/lab-paths]

Prints a Markdown table: objective evaluations (optimisation nodes and dense checks), wall
seconds, seconds per evaluation and its ratio to a plain ``value_and_grad`` (the path finder's
overhead per evaluation: path geometry, smooth maximum, L-BFGS-B on ``modes * size``
coefficients), the barrier (measured densely), the optimiser's node barrier and the straight
line's. ``--out`` also writes the numbers (JSON), the table and the profile figure there.
Defaults: 4 modes, 32 nodes, 150 smooth-maximum evaluations (~10 min on 2 shared cores);
``--quick``: 2 modes, 12 nodes, 20 evaluations, ends from 60-evaluation runs (~1 min).

As a pytest-benchmark suite (pyproject's addopts disable benchmarks; re-enable them)::

    python -m pytest benches/lab_paths.py --benchmark-enable -p no:cacheprovider
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

# toposcape before torch: it sets the OpenMP wait policy before torch's runtime starts.
import toposcape as ts
from toposcape.experiments import STUDY_CODES

PROBLEM = "A"

FULL = {"modes": 4, "points": 32, "max_evals": 150, "end_evals": 300}
QUICK = {"modes": 2, "points": 12, "max_evals": 20, "end_evals": 60}


def objective(seed: int = 0) -> ts.CNNObjective:
    return ts.CNNObjective(ts.problems.get(STUDY_CODES[PROBLEM]), penal=3.0, seed=seed)


def end_points(obj, seeds: tuple[int, int], max_evals: int) -> tuple[list, list]:
    """L-BFGS minima from the initial weights of two CNN seeds, on the one objective ``obj``;
    returns the end points and their final losses."""
    opt = ts.optim.get("lbfgs")
    ends, losses = [], []
    for seed in seeds:
        theta0 = objective(seed).x0
        traj = opt.run(obj, theta0=theta0, max_evals=max_evals, progress=False)
        ends.append(traj.best_theta)
        losses.append(float(obj.value_and_grad(traj.best_theta)[0]))
    return ends, losses


class Timed:
    """An objective that sums the seconds spent in its ``value_and_grad``."""

    def __init__(self, objective) -> None:
        self.objective = objective
        self.size = objective.size
        self.seconds = 0.0
        self.calls = 0

    def value_and_grad(self, theta):
        start = time.perf_counter()
        try:
            return self.objective.value_and_grad(theta)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def plain_eval_seconds(obj, a, b, repeat: int = 7) -> float:
    """Median seconds of one ``value_and_grad`` at fresh points of the straight line (after
    one untimed warm-up call)."""
    obj.value_and_grad(0.5 * (a + b))
    times = []
    for t in np.linspace(0.2, 0.8, repeat):
        theta = (1.0 - t) * a + t * b
        start = time.perf_counter()
        obj.value_and_grad(theta)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(
    settings: dict, seeds: tuple[int, int], verify: int = 0
) -> tuple[dict, ts.lab.FourierPath]:
    obj = objective(0)
    start = time.perf_counter()
    (a, b), end_losses = end_points(obj, seeds, settings["end_evals"])
    ends_seconds = time.perf_counter() - start
    designs = [np.asarray(obj.design(x)) for x in (a, b)]
    plain = plain_eval_seconds(obj, a, b)
    timed = Timed(obj)
    r = ts.lab.fourier_path(
        timed,
        a,
        b,
        modes=settings["modes"],
        points=settings["points"],
        max_evals=settings["max_evals"],
    )
    plain_after = plain_eval_seconds(obj, a, b)
    per_eval = r.wall_time / r.n_objective_evals
    row = {
        "problem": STUDY_CODES[PROBLEM],
        "size": obj.size,
        "seeds": list(seeds),
        **settings,
        "end_losses": end_losses,
        "ends_seconds": ends_seconds,
        "design_l1_mean": float(np.abs(designs[0] - designs[1]).mean()),
        "theta_distance": float(np.linalg.norm(a - b)),
        "n_path_evals": r.n_path_evals,
        "n_objective_evals": r.n_objective_evals,
        "n_check_evals": r.n_check_evals,
        "n_failures": r.n_failures,
        "wall_seconds": r.wall_time,
        "seconds_per_eval": per_eval,
        "plain_eval_seconds": [plain, plain_after],
        "ratio": per_eval / (0.5 * (plain + plain_after)),
        "objective_seconds": timed.seconds,
        "objective_share": timed.seconds / r.wall_time,
        "inside_seconds_per_eval": timed.seconds / timed.calls,
        "barrier": r.barrier,
        "node_barrier": r.node_barrier,
        "straight_barrier": r.straight_barrier,
        "straight_node_barrier": float(r.straight_losses.max() - max(end_losses)),
        "improvement": r.improvement,
        "stage_barrier": r.stage_barrier,
        "stage_max": [m - max(end_losses) for m in r.stage_max],
    }
    if verify:
        # An independent profile on equally spaced t (not the path finder's own check).
        start = time.perf_counter()
        _, losses = r.profile(obj, verify)
        row["verify_points"] = verify
        row["verify_barrier"] = float(losses.max() - max(end_losses))
        row["verify_seconds"] = time.perf_counter() - start
    return row, r


def table(row: dict) -> str:
    plain = 0.5 * sum(row["plain_eval_seconds"])
    lines = [
        "| quantity | value |",
        "|---|---:|",
        f"| parameters | {row['size']:,} |",
        f"| modes x nodes, smooth-max evaluations | {row['modes']} x {row['points']}, "
        f"{row['n_path_evals']} |",
        f"| objective evaluations (of which dense checks) | {row['n_objective_evals']:,} "
        f"({row['n_check_evals']:,}) |",
        f"| wall seconds | {row['wall_seconds']:.1f} |",
        f"| seconds per evaluation | {row['seconds_per_eval']:.4f} |",
        f"| plain value_and_grad, seconds (same run) | {plain:.4f} |",
        f"| ratio | {row['ratio']:.2f} |",
        f"| share of the wall time inside value_and_grad | {row['objective_share']:.1%} |",
        f"| seconds per value_and_grad inside the path finder | "
        f"{row['inside_seconds_per_eval']:.4f} |",
        f"| end losses (seeds {row['seeds'][0]}, {row['seeds'][1]}) | "
        f"{row['end_losses'][0]:.4g}, {row['end_losses'][1]:.4g} |",
        f"| mean abs design difference | {row['design_l1_mean']:.3f} |",
        f"| barrier (dense check) | {row['barrier']:.4g} |",
        f"| node barrier (what the optimiser saw) | {row['node_barrier']:.4g} |",
        f"| straight-line barrier (dense check) | {row['straight_barrier']:.4g} |",
        f"| straight-line barrier on the {row['points']} nodes | "
        f"{row['straight_node_barrier']:.4g} |",
    ]
    if "verify_points" in row:
        lines.append(
            f"| barrier on an independent {row['verify_points']}-point profile | "
            f"{row['verify_barrier']:.4g} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 minute run")
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 1])
    parser.add_argument("--max-evals", type=int, help="smooth-maximum evaluations")
    parser.add_argument("--out", type=Path, help="folder for JSON, table and figure")
    parser.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="N",
        help="also profile the path on N equally spaced t (N evaluations more)",
    )
    args = parser.parse_args()
    settings = dict(QUICK if args.quick else FULL)
    if args.max_evals is not None:
        settings["max_evals"] = args.max_evals
    row, r = measure(settings, tuple(args.seeds), args.verify)
    text = table(row)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "cnn_A_quick" if args.quick else "cnn_A"
        (args.out / f"{stem}.json").write_text(json.dumps(row, indent=2) + "\n")
        (args.out / f"{stem}.md").write_text(text + "\n")
        import matplotlib

        matplotlib.use("Agg")
        profile_figure(r, args.seeds).savefig(args.out / f"{stem}_profile.png", dpi=120)
        designs_figure(r).savefig(args.out / f"{stem}_designs.png", dpi=120)


def profile_figure(r: ts.lab.FourierPath, seeds):
    """The checked profiles of the path and the straight line (log scale), and the path's
    alone (linear scale, its nodes as dots)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0), layout="constrained")
    r.plot(ax=left)
    left.set_yscale("log")
    left.set_title(f"problem A, CNN: L-BFGS minima of seeds {seeds[0]} and {seeds[1]}")
    r.plot(ax=right)
    top = float(r.check_losses.max())
    right.set_ylim(0.9 * float(r.check_losses.min()), 1.15 * top)
    right.set_title("the same, linear scale, the path's range")
    right.get_legend().remove()
    return fig


def designs_figure(r: ts.lab.FourierPath):
    """The designs at the two ends, at the path's highest checked point and at the middle of
    the straight line."""
    import matplotlib.pyplot as plt

    obj = objective(0)
    top = float(r.check_t[np.argmax(r.check_losses)])
    panels = [
        ("end a", r.theta_a),
        (f"path's highest point (t = {top:.2f})", r.path(top)[0]),
        ("straight line, middle", 0.5 * (r.theta_a + r.theta_b)),
        ("end b", r.theta_b),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(12.0, 2.2), layout="constrained")
    for ax, (title, theta) in zip(axes, panels, strict=True):
        loss = float(obj.value_and_grad(theta)[0])
        ax.imshow(np.asarray(obj.design(theta)), cmap="Greys", vmin=0.0, vmax=1.0)
        ax.set_title(f"{title}\nloss {loss:.4g}", fontsize="small")
        ax.set_axis_off()
    return fig


# -- pytest-benchmark ----------------------------------------------------------------------


def test_fourier_path_cnn_problem_a(benchmark):
    """A short path search on the CNN of problem A (2 modes, 8 nodes, 10 evaluations)."""
    obj = objective(0)
    (a, b), _ = end_points(obj, (0, 1), 40)
    obj.value_and_grad(0.5 * (a + b))  # warm-up
    benchmark.group = "fourier_path cnn A"
    r = benchmark.pedantic(
        ts.lab.fourier_path,
        args=(obj, a, b),
        kwargs={"modes": 2, "points": 8, "max_evals": 10},
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info["n_objective_evals"] = r.n_objective_evals
    benchmark.extra_info["barrier"] = r.barrier
    assert 0.0 <= r.barrier <= r.straight_barrier + 1e-9


def test_fourier_path_two_depths(benchmark):
    """The default path search on the two_depths network (cost outside the objective)."""
    net = ts.lab.networks.get("two_depths")
    a, b = net.minima()[["theta_0", "theta_1"]].to_numpy()
    benchmark.group = "fourier_path two_depths"
    r = benchmark.pedantic(ts.lab.fourier_path, args=(net, a, b), rounds=3, iterations=1)
    benchmark.extra_info["n_objective_evals"] = r.n_objective_evals
    assert r.barrier < r.straight_barrier


if __name__ == "__main__":
    main()
