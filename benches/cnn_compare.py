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
   wall time per seed, with L-BFGS pairs in float64 and in float32, torch at 1 thread and at
   its default; and, with ``--reference PYTHON``, the same run by ``benches/reference_tf.py``
   (the published method's structure: Keras CNN, NumPy/SciPy physics with SuperLU, SciPy's
   ``fmin_l_bfgs_b``) in a child process of that interpreter, timed in the same run. Target:
   at least 5x faster than the reference.

The reference needs TensorFlow, which toposcape does not depend on; install it in a separate
environment (it brings its own protobuf, keras and friends)::

    python -m venv /tmp/tfref && /tmp/tfref/bin/pip install tensorflow-cpu==2.21.0 autograd scipy
    python benches/cnn_compare.py --reference /tmp/tfref/bin/python

``--interleaved`` (with ``--reference``) runs only the end-to-end comparison, alternating the
reference and toposcape seed by seed (a persistent reference process, an untimed warm-up on
both sides), and reports per-seed speed-ups: on a shared machine whose speed drifts by tens of
percent over minutes, runs made seconds apart compare better than two blocks made minutes apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

# toposcape before torch (imported in the functions below): it sets the OpenMP wait policy
# before torch's runtime starts its threads.
import toposcape as ts


def timings(fn, repeat: int) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn`` after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn, repeat: int) -> float:
    return float(np.median(timings(fn, repeat)))


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
    mem32 = LbfgsMemory(obj.size, 10, single=True)
    for _ in range(10):
        s, y = rng.standard_normal((2, obj.size))
        mem.push(s, y + s, skip_scale=-np.inf)
        mem32.push(s, y + s, skip_scale=-np.inf)
    g = rng.standard_normal(obj.size)

    return {
        "parameters": obj.size,
        "cnn": median_time(cnn, repeat),
        "pipeline": median_time(pipeline, repeat),
        "physics": median_time(physics, repeat),
        "total": median_time(total, repeat),
        "two_loop": median_time(lambda: mem.two_loop(g), repeat),
        "two_loop32": median_time(lambda: mem32.two_loop(g), repeat),
        "direction32": median_time(lambda: mem32.direction(g), repeat),
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


PROBLEM_A = "michell_centered_both_32x64_0.12"
#: Study codes accepted by --problem (any suite name works too).
PROBLEM_CODES = {"A": PROBLEM_A, "D": "causeway_bridge_middle_128x128_0.1"}


def end_to_end(seeds, evals: int, pair_dtype: str = "float64", problem_name: str = PROBLEM_A):
    """Wall seconds (model construction included), final losses and evaluation counts, one
    run per seed."""
    problem = ts.problems.get(problem_name)
    times, losses, counts = [], [], []
    for seed in seeds:
        start = time.perf_counter()
        obj = ts.CNNObjective(problem, seed=seed)
        traj = ts.optim.get("lbfgs", pair_dtype=pair_dtype).run(obj, max_evals=evals)
        times.append(time.perf_counter() - start)
        losses.append(float(traj.losses[-1]))
        counts.append(traj.n_evals)
    return times, losses, counts


REFERENCE_SCRIPT = Path(__file__).resolve().parent / "reference_tf.py"


def _write_problem(path: Path, problem_name: str = PROBLEM_A) -> None:
    problem = ts.problems.get(problem_name)
    np.savez(
        path,
        width=problem.width,
        height=problem.height,
        density=problem.density,
        fixed_dofs=problem.fixed_dofs,
        forces=problem.forces,
        mask=problem.mask,
    )


def reference_end_to_end(python: str, seeds, evals: int, threads: int, physics: str) -> dict:
    """``benches/reference_tf.py`` in a child process of ``python`` (no torch, no toposcape)."""
    script = REFERENCE_SCRIPT
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.npz"
        _write_problem(path)
        cmd = [python, str(script), str(path), "--evals", str(evals), "--threads", str(threads)]
        cmd += ["--physics", physics]
        cmd += ["--seeds", *map(str, seeds)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"reference run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def interleaved_end_to_end(
    python: str, seeds, evals: int, physics: str = "autograd", problem_name: str = PROBLEM_A
) -> dict:
    """Reference and toposcape runs alternated seed by seed, in one session.

    The reference (TensorFlow at 1 thread, ``physics``) is a persistent child process
    (``reference_tf.py --serve``); toposcape runs with its defaults (torch's thread count,
    float32 pairs, as ``toposcape run`` does). Both first do an untimed warm-up run of 10
    evaluations (imports, tracing, JIT). The order within a seed alternates (reference first
    for even positions, toposcape first for odd) so that slow drifts of a shared machine hit
    both sides alike; per-seed ratios then compare runs made seconds apart.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.npz"
        _write_problem(path, problem_name)
        cmd = [python, str(REFERENCE_SCRIPT), str(path), "--threads", "1"]
        cmd += ["--physics", physics, "--serve"]
        child = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            header = json.loads(child.stdout.readline())

            def reference(seed: int, n: int) -> dict:
                child.stdin.write(f"{seed} {n}\n")
                child.stdin.flush()
                line = child.stdout.readline()
                if not line:
                    raise RuntimeError(f"reference run failed:\n{child.stderr.read()[-3000:]}")
                return json.loads(line)

            def ours(seed: int, n: int) -> tuple[float, float, int]:
                t, losses, counts = end_to_end([seed], n, "auto", problem_name)
                return t[0], losses[0], counts[0]

            reference(0, 10)
            ours(0, 10)
            rows = []
            for position, seed in enumerate(seeds):
                if position % 2 == 0:
                    ref = reference(seed, evals)
                    t, loss, count = ours(seed, evals)
                else:
                    t, loss, count = ours(seed, evals)
                    ref = reference(seed, evals)
                rows.append(
                    {
                        "seed": seed,
                        "reference_seconds": ref["seconds"],
                        "reference_loss": ref["loss"],
                        "reference_evals": ref["evals"],
                        "seconds": t,
                        "loss": loss,
                        "evals": count,
                    }
                )
                print(
                    f"| {seed} | {ref['seconds']:.2f} | {t:.2f} | {ref['seconds'] / t:.2f} | "
                    f"{ref['loss']:.3f} | {loss:.3f} | {ref['evals']} / {count} |",
                    flush=True,
                )
        finally:
            child.stdin.close()
            child.wait(timeout=60)
    ref_t = np.array([r["reference_seconds"] for r in rows])
    our_t = np.array([r["seconds"] for r in rows])
    return {
        "tensorflow": header["tensorflow"],
        "rows": rows,
        "ratio_of_medians": float(np.median(ref_t) / np.median(our_t)),
        "median_ratio": float(np.median(ref_t / our_t)),
        "min_ratio": float(np.min(ref_t / our_t)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--reference",
        metavar="PYTHON",
        help="interpreter with TensorFlow to run benches/reference_tf.py in the same run",
    )
    parser.add_argument(
        "--only-end-to-end", action="store_true", help="skip the per-evaluation tables"
    )
    parser.add_argument(
        "--interleaved",
        action="store_true",
        help="with --reference: only the end-to-end comparison, reference and toposcape "
        "alternated seed by seed (robust to the drifts of a shared machine)",
    )
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5)")
    parser.add_argument(
        "--problem",
        default="A",
        help="with --interleaved: study code A or D, or a suite name (default A)",
    )
    args = parser.parse_args()
    import torch

    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    evals = 100 if args.quick else 300
    if args.interleaved:
        if not args.reference:
            parser.error("--interleaved needs --reference PYTHON")
        problem_name = PROBLEM_CODES.get(args.problem, args.problem)
        print(f"\n### End to end, interleaved: {problem_name}, CNN, L-BFGS, {evals} evaluations\n")
        print(
            "| seed | reference s | toposcape s | speed-up | reference loss | toposcape loss "
            "| evaluations (ref / ours) |"
        )
        print("|---|---|---|---|---|---|---|")
        result = interleaved_end_to_end(args.reference, seeds, evals, problem_name=problem_name)
        print(
            f"\nReference: TensorFlow {result['tensorflow']} at 1 thread, autograd physics. "
            f"toposcape: torch {torch.get_num_threads()} threads, its default configuration "
            "(pair_dtype='auto': float32 pairs). Speed-up: "
            f"ratio of medians {result['ratio_of_medians']:.2f}x, median of per-seed ratios "
            f"{result['median_ratio']:.2f}x, lowest {result['min_ratio']:.2f}x."
        )
        return

    repeat = 5 if args.quick else 15
    sizes = [(64, 32), (128, 128)] if args.quick else [(64, 32), (128, 128), (384, 128)]

    if not args.only_end_to_end:
        print("\n### Time per evaluation (ms, median), CNN float32, MBB beam\n")
        print(
            "| grid | parameters | CNN fwd+bwd | design pipeline | physics | value_and_grad "
            "| L-BFGS two-loop (m=10) | two-loop, float32 pairs | compact direction, float32 "
            "pairs |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for w, h in sizes:
            r = split(ts.problems.mbb_beam(width=w, height=h, density=0.5), repeat)
            print(
                f"| {w}x{h} | {r['parameters']:,} | {r['cnn'] * 1e3:.1f} | "
                f"{r['pipeline'] * 1e3:.1f} | {r['physics'] * 1e3:.1f} | {r['total'] * 1e3:.1f} | "
                f"{r['two_loop'] * 1e3:.1f} | {r['two_loop32'] * 1e3:.1f} | "
                f"{r['direction32'] * 1e3:.1f} |",
                flush=True,
            )

        print("\n### Exact HVP of the whole graph vs value_and_grad (problem A)\n")
        print("| dtype | value_and_grad (ms) | hvp (ms) | ratio |")
        print("|---|---|---|---|")
        for dtype in ("float32", "float64"):
            t_vg, t_hvp = hvp_ratio(dtype, repeat)
            print(f"| {dtype} | {t_vg * 1e3:.1f} | {t_hvp * 1e3:.1f} | {t_hvp / t_vg:.2f} |")

    print(f"\n### End to end: problem A, CNN, L-BFGS, {evals} evaluations, seeds {seeds}\n")
    print(
        "| implementation | settings | s per run, median | min-max | loss, median "
        "| evaluations per run |"
    )
    print("|---|---|---|---|---|---|")
    rows = []
    if args.reference:
        # TensorFlow at 1 intra-op thread: faster than its default on 2 cores in every run
        # so far (61.4 vs 62.8 s and 61.5 vs 64.5 s per run), so the stricter baseline.
        for physics in ("autograd", "numpy"):
            label = f"TensorFlow 1 thread, {physics} physics"
            ref = reference_end_to_end(args.reference, seeds, evals, 1, physics)
            t = ref["seconds"]
            rows.append(("reference", label, float(np.median(t))))
            print(
                f"| reference (TF {ref['tensorflow']}) | {label} | {np.median(t):.2f} | "
                f"{min(t):.2f}-{max(t):.2f} | {np.median(ref['losses']):.3f} | "
                f"{', '.join(str(r['evals']) for r in ref.get('runs', []))} |",
                flush=True,
            )
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        for pair_dtype in ("float64", "float32"):
            t, losses, counts = end_to_end(seeds, evals, pair_dtype)
            label = f"torch {threads} thread(s), pairs {pair_dtype}"
            rows.append(("toposcape", label, float(np.median(t))))
            print(
                f"| toposcape | {label} | {np.median(t):.2f} | {min(t):.2f}-{max(t):.2f} | "
                f"{np.median(losses):.3f} | {', '.join(map(str, counts))} |",
                flush=True,
            )
    torch.set_num_threads(default_threads)
    reference = [r for r in rows if r[0] == "reference"]
    if reference:
        for _, ref_label, ref_t in reference:
            print(f"\nSpeed-up against the reference with {ref_label} ({ref_t:.2f} s):\n")
            for kind, label, t in rows:
                if kind == "toposcape":
                    print(f"- {label}: {ref_t / t:.2f}x")


if __name__ == "__main__":
    main()
