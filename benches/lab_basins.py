"""Basin maps per second: the vectorized runs of ``ts.lab.basins`` against loops over starts.

Issue 14, point 8. On the network ``two_depths`` (the study's settings: GD step 0.01), each
optimizer runs from a 400 x 400 grid over its box [-3, 3]^2 with ``ts.lab.run_starts`` (all
starts advance together in arrays) and, in the same process, from a subsample of the same
starts one at a time:

- ``opt.run`` per start (the library's scalar path, the result every vectorized start must
  reproduce);
- for GD also a plain NumPy loop (``theta -= lr * g`` with ``net.value_and_grad``, the
  finiteness test, nothing else: the least a Python loop over starts can cost).

Throughput is in start-steps per second (accepted steps summed over the starts, per second of
wall time; evaluations per second as well, since the energy rule, Euler-Richardson and LM
evaluate more than once per step). The loops run on a subsample and are extrapolated per
start-step; the ratio is vectorized over loop. ``stop_stationary=False``: the vectorized runs
do every step the loops do (the default shortcut, which skips the steps of starts at a bitwise
fixed point, would only widen the gap).

Usage::

    python benches/lab_basins.py [--quick] [--n 400] [--steps 200] [--sample 100]

Prints a Markdown table (~2-3 minutes on 2 shared cores; ``--quick``: 100 x 100, 50 steps,
~20 s). As a pytest-benchmark suite (pyproject's addopts disable benchmarks; re-enable them)::

    python -m pytest benches/lab_basins.py --benchmark-enable -p no:cacheprovider
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pytest

import toposcape as ts
from toposcape.lab import networks

NETWORK = "two_depths"
#: (label, preset, options): the study's settings for two_depths (examples/lab_basins.py)
OPTIMIZERS = [
    ("gd", "gd", {"lr": 0.01}),
    ("momentum", "momentum", {"lr": 0.001}),
    ("adam", "adam", {"lr": 0.01}),
    ("gd_energy", "gd_energy", {"lr": 0.01}),
    ("euler_richardson", "euler_richardson", {"lr": 0.01}),
    ("lm", "lm", {}),
]


def grid(n: int, lo: float = -3.0, hi: float = 3.0) -> np.ndarray:
    xs = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(xs, xs)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def subsample(starts: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    return starts[np.random.default_rng(seed).choice(len(starts), size=k, replace=False)]


def plain_gd_loop(net, starts: np.ndarray, lr: float, steps: int) -> int:
    """GD one start at a time with the one-point evaluation; returns the steps taken."""
    total = 0
    for start in starts:
        theta = start.copy()
        f, g = net.value_and_grad(theta)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            continue
        for _ in range(steps):
            trial = theta - lr * g
            if not np.all(np.isfinite(trial)):
                break
            f, g_new = net.value_and_grad(trial)
            if not (math.isfinite(f) and np.all(np.isfinite(g_new))):
                break
            theta, g = trial, g_new
            total += 1
    return total


def run_loop(net, opt, starts: np.ndarray, steps: int) -> tuple[int, int]:
    """``opt.run`` per start; returns (steps, evaluations)."""
    total_steps = total_evals = 0
    for start in starts:
        traj = opt.run(net, theta0=start, max_steps=steps, max_evals=None, progress=False)
        total_steps += traj.n_steps
        total_evals += traj.n_evals
    return total_steps, total_evals


def measure(n: int, steps: int, sample: int) -> list[dict]:
    net = networks.get(NETWORK)
    starts = grid(n)
    few = subsample(starts, sample)
    ts.lab.run_starts(net, ts.optim.get("gd", lr=0.01), starts[:64], 5)  # warm-up (lambdify)
    rows = []
    for label, preset, options in OPTIMIZERS:
        opt = ts.optim.get(preset, **options)
        runs = ts.lab.run_starts(net, opt, starts, steps, stop_stationary=False)
        vec_steps, vec_evals = int(runs.steps.sum()), int(runs.evals.sum())
        run_loop(net, opt, few[:2], 5)  # warm-up
        clock = time.perf_counter()
        loop_steps, loop_evals = run_loop(net, opt, few, steps)
        loop_seconds = time.perf_counter() - clock
        row = {
            "optimizer": label,
            "options": options,
            "starts": len(starts),
            "steps": steps,
            "vec_seconds": runs.seconds,
            "vec_start_steps_per_s": vec_steps / runs.seconds,
            "vec_evals_per_s": vec_evals / runs.seconds,
            "loop_starts": len(few),
            "loop_seconds": loop_seconds,
            "loop_start_steps_per_s": loop_steps / loop_seconds,
            "loop_evals_per_s": loop_evals / loop_seconds,
            "loop_seconds_for_grid": vec_steps / (loop_steps / loop_seconds),
        }
        row["ratio"] = row["vec_start_steps_per_s"] / row["loop_start_steps_per_s"]
        if label == "gd":
            plain_gd_loop(net, few[:2], options["lr"], 5)  # warm-up
            clock = time.perf_counter()
            plain_steps = plain_gd_loop(net, few, options["lr"], steps)
            plain_seconds = time.perf_counter() - clock
            row["plain_start_steps_per_s"] = plain_steps / plain_seconds
            row["plain_ratio"] = row["vec_start_steps_per_s"] / row["plain_start_steps_per_s"]
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    r0 = rows[0]
    lines = [
        f"{NETWORK}, {r0['starts']:,} starts ({int(math.isqrt(r0['starts']))}^2 grid) x "
        f"{r0['steps']} steps vectorized; loops on {r0['loop_starts']} of the same starts",
        "",
        "| optimizer | vectorized: s | start-steps/s | evals/s | opt.run loop: start-steps/s "
        "| evals/s | loop, extrapolated to the grid: s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['optimizer']} | {r['vec_seconds']:.1f} | {r['vec_start_steps_per_s']:.3g} | "
            f"{r['vec_evals_per_s']:.3g} | {r['loop_start_steps_per_s']:.3g} | "
            f"{r['loop_evals_per_s']:.3g} | {r['loop_seconds_for_grid']:.0f} | "
            f"{r['ratio']:.0f}x |"
        )
    for r in rows:
        if "plain_start_steps_per_s" in r:
            lines += [
                "",
                f"Plain NumPy GD loop (one-point value_and_grad, no optimizer machinery): "
                f"{r['plain_start_steps_per_s']:.3g} start-steps/s; vectorized / plain = "
                f"{r['plain_ratio']:.0f}x.",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 x 100, 50 steps")
    parser.add_argument("--n", type=int, help="grid points per side (default 400)")
    parser.add_argument("--steps", type=int, help="steps per start (default 200)")
    parser.add_argument("--sample", type=int, help="starts in the loops (default 100)")
    args = parser.parse_args()
    n, steps, sample = (100, 50, 20) if args.quick else (400, 200, 100)
    n = args.n or n
    steps = args.steps or steps
    sample = args.sample or sample
    print(table(measure(n, steps, sample)))


# -- pytest-benchmark ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def net():
    net = networks.get(NETWORK)
    net.value_and_grad_batch(grid(4))  # build the batched functions outside the timings
    return net


@pytest.mark.parametrize(("label", "preset", "options"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_vectorized(benchmark, net, label, preset, options):
    benchmark.group = f"basins {label}: 100x100 starts x 50 steps"
    opt = ts.optim.get(preset, **options)
    runs = benchmark.pedantic(
        ts.lab.run_starts,
        args=(net, opt, grid(100), 50),
        kwargs={"stop_stationary": False},
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info["start_steps"] = int(runs.steps.sum())


@pytest.mark.parametrize(("label", "preset", "options"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_loop_per_start(benchmark, net, label, preset, options):
    """``opt.run`` on 100 of the same starts (multiply by 100 for the grid)."""
    benchmark.group = f"basins {label}: 100x100 starts x 50 steps"
    opt = ts.optim.get(preset, **options)
    few = subsample(grid(100), 100)
    steps, _ = benchmark.pedantic(run_loop, args=(net, opt, few, 50), rounds=1, iterations=1)
    benchmark.extra_info["start_steps"] = steps


if __name__ == "__main__":
    main()
