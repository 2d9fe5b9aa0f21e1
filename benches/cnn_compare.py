"""CNN objective benchmarks: where an evaluation's time goes, HVP cost, end-to-end runs.

Usage::

    python benches/cnn_compare.py [--quick]

Prints markdown tables:

1. Time per evaluation split into CNN forward + backward (torch), design pipeline (volume
   sigmoid and cone filter, forward and adjoint) and physics (assembly, factorization, solve,
   sensitivities), with the total ``CNNObjective.value_and_grad`` and the L-BFGS bookkeeping per
   evaluation at that parameter count, at 32x64, 128x128 and 384x128 (MBB-type problems).
2. Exact Hessian-vector product of the whole graph relative to a value-and-gradient
   (float32 and float64).
3. End to end: problem A (``michell_centered_both_32x64_0.12``), CNN, L-BFGS, 300 evaluations,
   wall time per seed (the published reference implementation takes about 27 s for this run
   on this machine type; target: at least 5x faster).
4. Thread settings: the same end-to-end run with torch at 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# toposcape before torch (imported in the functions below): it sets the OpenMP wait policy
# before torch's runtime starts its threads.
import toposcape as ts


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def split(problem, repeat: int) -> dict[str, float]:
    import torch

    obj = ts.CNNObjective(problem, seed=0)
    theta = obj.x0
    rng = np.random.default_rng(0)
    noise = 1e-3 * rng.standard_normal(obj.size)
    params = obj._params
    counter = iter(range(10**9))

    def cnn():
        z = obj.model()
        torch.autograd.grad(z.sum(), params)

    z = obj.logits(theta).ravel()
    pix = obj.pixel
    g_phys = np.ones(pix.shape)

    def pipeline():
        zz = z + 1e-9 * next(counter)
        x_phys = pix._forward(zz)
        pix._pull_back(g_phys + 0 * x_phys)

    x_phys = pix.design(z)

    def physics():
        pix.physics.value_and_grad(x_phys * (1 + 1e-9 * next(counter)))

    def total():
        obj.value_and_grad(theta + noise * next(counter))

    from toposcape._core import LbfgsMemory

    mem = LbfgsMemory(obj.size, 10)
    for _ in range(10):
        s, y = rng.standard_normal((2, obj.size))
        mem.push(s, y + s, skip_scale=-np.inf)
    g = rng.standard_normal(obj.size)

    return {
        "parameters": obj.size,
        "cnn": median_time(cnn, repeat),
        "pipeline": median_time(pipeline, repeat),
        "physics": median_time(physics, repeat),
        "total": median_time(total, repeat),
        "two_loop": median_time(lambda: mem.two_loop(g), repeat),
    }


def hvp_ratio(dtype: str, repeat: int) -> tuple[float, float]:
    problem = ts.problems.get("michell_centered_both_32x64_0.12")
    obj = ts.CNNObjective(problem, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    v = rng.standard_normal(obj.size)
    counter = iter(range(10**9))
    theta = obj.x0

    def vg():
        obj.value_and_grad(theta + 1e-6 * next(counter) * v)

    t_vg = median_time(vg, repeat)
    t_hvp = median_time(lambda: obj.hvp(theta, v), repeat)
    return t_vg, t_hvp


def end_to_end(seeds, evals: int) -> list[float]:
    problem = ts.problems.get("michell_centered_both_32x64_0.12")
    times = []
    for seed in seeds:
        start = time.perf_counter()
        obj = ts.CNNObjective(problem, seed=seed)
        ts.optim.get("lbfgs").run(obj, max_evals=evals)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch

    repeat = 5 if args.quick else 15
    sizes = [(64, 32), (128, 128)] if args.quick else [(64, 32), (128, 128), (384, 128)]

    print("\n### Time per evaluation (ms, median), CNN float32, MBB beam\n")
    print(
        "| grid | parameters | CNN fwd+bwd | design pipeline | physics | value_and_grad "
        "| L-BFGS two-loop (m=10) |"
    )
    print("|---|---|---|---|---|---|---|")
    for w, h in sizes:
        r = split(ts.problems.mbb_beam(width=w, height=h, density=0.5), repeat)
        print(
            f"| {w}x{h} | {r['parameters']:,} | {r['cnn'] * 1e3:.1f} | "
            f"{r['pipeline'] * 1e3:.1f} | {r['physics'] * 1e3:.1f} | {r['total'] * 1e3:.1f} | "
            f"{r['two_loop'] * 1e3:.1f} |",
            flush=True,
        )

    print("\n### Exact HVP of the whole graph vs value_and_grad (problem A)\n")
    print("| dtype | value_and_grad (ms) | hvp (ms) | ratio |")
    print("|---|---|---|---|")
    for dtype in ("float32", "float64"):
        t_vg, t_hvp = hvp_ratio(dtype, repeat)
        print(f"| {dtype} | {t_vg * 1e3:.1f} | {t_hvp * 1e3:.1f} | {t_hvp / t_vg:.2f} |")

    seeds = range(2) if args.quick else range(3)
    evals = 100 if args.quick else 300
    print(f"\n### End to end: problem A, CNN, L-BFGS, {evals} evaluations\n")
    print("| torch threads | seconds per run (median) | runs | vs 27 s reference |")
    print("|---|---|---|---|")
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        times = end_to_end(seeds, evals)
        med = float(np.median(times))
        print(f"| {threads} | {med:.2f} | {len(times)} | {27.0 / med:.1f}x |", flush=True)
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
