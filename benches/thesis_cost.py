"""Measured cost of one test case of the thesis study (per seed), on this machine.

For each problem (A, B, D, E) and model (pixel, the transposed-convolution CNN) at p = 3, each
optimizer of the main stage runs a short prefix of its budget (one thread, as the engine pins
runs); the time per step times the optimizer's budget (L-BFGS: evaluations; GD_LS: its
measured evaluations per iteration) gives the cost of a full run. Sums per case and per seed
are what ``toposcape reproduce thesis`` spends per (case, seed) in its main stage.

Usage::

    python benches/thesis_cost.py [--problems A B D E] [--steps 40]

Prints a Markdown table (seconds per run and per case-seed). Only ratios between rows of one
run are comparable across machines; the absolute numbers are this machine's.
"""

from __future__ import annotations

import argparse
import time

import toposcape as ts
from toposcape.experiments import STUDY_CODES

#: (label, preset, options, budget kind, budget) of the main stage (thesis.py, full profile).
OPTIMIZERS = [
    ("L-BFGS", "lbfgs", {"memory": 10}, "evals", 300),
    ("L-BFGS_M1", "lbfgs", {"memory": 1}, "evals", 300),
    ("GD", "gd", {}, "steps", 700),
    ("GD_2000", "gd", {}, "steps", 2000),
    ("GD_LS", "gd_ls", {}, "steps", 700),
    ("HD_M1", "hd", {"memory": 1}, "steps", 700),
    ("HD_M10", "hd", {"memory": 10}, "steps", 700),
]


def objective(code: str, model: str):
    problem = ts.problems.get(STUDY_CODES[code])
    if model == "pixel":
        return ts.PixelObjective(problem, penal=3.0)
    return ts.CNNObjective(problem, penal=3.0, seed=0, upsampling="transpose")


def measure(code: str, model: str, steps: int) -> dict[str, float]:
    """Seconds of a full-budget run of each optimizer (from a ``steps``-step prefix)."""
    obj = objective(code, model)
    g0 = obj.value_and_grad(obj.x0)[1]
    lr = 1.0 / float((g0 @ g0) ** 0.5)  # the scale of the tuning range: a stable step
    out = {}
    for label, preset, options, kind, budget in OPTIMIZERS:
        if label == "GD_2000":
            out[label] = out["GD"] * 2000 / 700
            continue
        kw = dict(options)
        if preset in ("gd", "hd"):
            kw["lr"] = lr
        opt = ts.optim.get(preset, **kw)
        started = time.perf_counter()
        if kind == "evals":
            traj = opt.run(obj, max_evals=steps, progress=False)
            per = (time.perf_counter() - started) / traj.n_evals
            out[label] = per * budget
        else:
            traj = opt.run(obj, max_steps=steps, max_evals=None, progress=False)
            per = (time.perf_counter() - started) / max(1, traj.n_steps)
            out[label] = per * budget
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=["A", "B", "D", "E"])
    parser.add_argument("--steps", type=int, default=40, help="steps of each prefix (40)")
    args = parser.parse_args()
    print("| case | " + " | ".join(o[0] for o in OPTIMIZERS) + " | per seed |")
    print("|---|" + "---:|" * (len(OPTIMIZERS) + 1))
    with ts.threads(1):
        for code in args.problems:
            for model, prefix in (("pixel", "P"), ("cnn", "NN")):
                seconds = measure(code, model, args.steps)
                cells = " | ".join(f"{seconds[o[0]]:.0f} s" for o in OPTIMIZERS)
                total = sum(seconds.values())
                print(f"| {prefix}3{code} | {cells} | {total / 60:.1f} min |", flush=True)


if __name__ == "__main__":
    main()
