"""Per-part budget of one CNN evaluation against this machine's limits (issue 15, part 1).

Usage::

    python benches/budget.py [--problems A D] [--repeat 15]

For each problem (study codes: A = 32x64, D = 128x128) prints a table: the measured time per
evaluation of each part of ``CNNObjective.value_and_grad`` and of one L-BFGS step around it,
next to a *limit*: the part's floating-point work or memory traffic divided by this
machine's sustained rates, measured first in the same run:

- ``GEMM``: float32 matrix product (torch, 2048 x 2048, its default threads), FLOP/s: the
  ceiling of the convolutions (oneDNN's convolutions are GEMM-like);
- ``DGEMM``: float64 matrix product (NumPy's BLAS), the ceiling of a supernodal Cholesky;
- ``stream``: ``c = a + b`` on 64 MB float64 arrays (NumPy), bytes/s read + written: the
  ceiling of every memory-bound pass (conversions, the two-loop, bookkeeping).

Work per part (stated, so the limits can be checked): convolution FLOPs by
``torch.utils.flop_counter`` for the forward, 2x that for the backward (input and weight
gradients); conversions: bytes read + written; factorization: ``sum_j c_j^2`` over the
factor's columns, approximated by ``nnz(L)^2 / n`` (PARDISO reports ``nnz(L)``), solve
``4 nnz(L)``; assembly: the CSR values written and the element matrices read; the two-loop
of m float32 pairs: ``2 * 2m`` vector reads of 4 bytes per entry plus two passes over ``q``;
the line search's and the recorder's passes: a ``gd_ls`` run on a free objective of the
same size (per evaluation, the objective's own pass subtracted), limit: six vector passes;
the two-loop and pair pushes *inside* a run: an L-BFGS run on the same free objective minus
that. The standalone two-loop (full memory) is shown as a check, outside the sum.

Each time is the median of ``--repeat`` calls after a warm-up, the inputs perturbed between
calls so that no cache of the objective short-cuts them. Absolute times on a shared machine
are noisy; the ratio column (measured / limit) is what to read.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# toposcape before torch: it sets the OpenMP wait policy before torch's runtime starts.
import toposcape as ts
from cnn_compare import median_time

CODES = {
    "A": "michell_centered_both_32x64_0.12",
    "D": "causeway_bridge_middle_128x128_0.1",
}


def machine_rates(repeat: int) -> dict[str, float]:
    """Sustained GEMM FLOP/s (float32 torch, float64 NumPy) and stream bytes/s."""
    import torch

    n = 2048
    a32 = torch.randn(n, n)
    b32 = torch.randn(n, n)
    t = median_time(lambda: torch.mm(a32, b32), repeat)
    gemm = 2 * n**3 / t
    a64 = np.random.default_rng(0).standard_normal((n, n))
    t = median_time(lambda: a64 @ a64, max(3, repeat // 3))
    dgemm = 2 * n**3 / t
    m = 8 * 1024 * 1024  # 64 MB per float64 array
    x, y, z = np.ones(m), np.ones(m), np.empty(m)
    t = median_time(lambda: np.add(x, y, out=z), repeat)
    stream = 3 * 8 * m / t
    return {"gemm": gemm, "dgemm": dgemm, "stream": stream}


def conv_flops(obj) -> float:
    """FLOPs of the CNN's forward pass (convolutions, the dense layer), by
    ``torch.utils.flop_counter`` (it reads the shapes of the aten calls)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        obj.model()
    return float(counter.get_total_flops())


class _Free:
    """An objective of a given size whose evaluation costs nothing: L-BFGS's own overhead."""

    def __init__(self, size: int) -> None:
        rng = np.random.default_rng(0)
        self.size = size
        self.x0 = rng.standard_normal(size)
        # Curvatures over six decades: 25 L-BFGS steps stay far from the minimum, so the
        # float32 pairs keep normal magnitudes (a converging run fills them with subnormal
        # numbers, and the two-loop then runs ~3x slower on x86: not what a CNN run does).
        self._d = 10.0 ** rng.uniform(-3.0, 3.0, size)

    def value_and_grad(self, theta):
        g = self._d * theta  # one pass: the cheapest consistent gradient
        return 0.5 * float(g @ theta), g


def cnn_run(obj, evals: int) -> tuple[np.ndarray, float, int, int]:
    """An L-BFGS run of ``toposcape run``'s configuration (float32 pairs, memory 10) on the
    CNN: the seconds of every two-loop at full memory (timed inside the run, where the
    machine is in the state a study sees), the run's wall seconds, evaluations and steps."""
    from toposcape.optim import directions

    times: list[float] = []
    counted: list[int] = []
    plain = directions.LBFGS.direction

    def timed(self, g):
        start = time.perf_counter()
        out = plain(self, g)
        times.append(time.perf_counter() - start)
        counted.append(self.core.size)
        return out

    directions.LBFGS.direction = timed
    try:
        opt = ts.optim.get("lbfgs", pair_dtype="float32")
        start = time.perf_counter()
        traj = opt.run(obj, max_evals=evals, progress=False)
        seconds = time.perf_counter() - start
    finally:
        directions.LBFGS.direction = plain
    full = np.array([t for t, k in zip(times, counted, strict=True) if k == 10])
    # steps before the memory is full cost less: count every step at the full-memory median
    per_step = np.full(traj.n_steps, np.median(full) if full.size else np.mean(times))
    return per_step, seconds, traj.n_evals, traj.n_steps


def budget(code: str, repeat: int, rates: dict[str, float]) -> list[tuple[str, float, float]]:
    """(part, measured seconds, limit seconds) per evaluation for problem ``code``."""
    import torch
    from toposcape._core import LbfgsMemory

    from toposcape.physics.element import simp_modulus
    from toposcape.physics.kernels import element_energies

    problem = ts.problems.get(CODES[code])
    obj = ts.CNNObjective(problem, penal=3.0, seed=0)
    n = obj.size
    rng = np.random.default_rng(1)
    theta = obj.x0
    noise = 1e-4 * rng.standard_normal(n)
    counter = iter(range(10**9))
    rows: list[tuple[str, float, float]] = []
    stream, gemm, dgemm = rates["stream"], rates["gemm"], rates["dgemm"]

    # -- conversions between NumPy and torch ---------------------------------------------
    rows.append(
        (
            "load theta (float64 -> float32 params)",
            median_time(lambda: obj._load(theta), repeat),
            12 * n / stream,
        )
    )
    params = obj._params
    grads = [torch.randn_like(p) for p in params]
    rows.append(
        (
            "flatten gradient (float32 -> float64)",
            median_time(lambda: obj._flat(grads), repeat),
            12 * n / stream,
        )
    )

    # -- the CNN -------------------------------------------------------------------------
    flops = conv_flops(obj)
    rows.append(("CNN forward", median_time(lambda: obj.model(), repeat), flops / gemm))
    out = obj.model()
    upstream = torch.randn_like(out)

    def backward():
        z = obj.model()
        torch.autograd.grad(z, params, upstream)

    fwd_bwd = median_time(backward, repeat)
    rows.append(("CNN backward", fwd_bwd - rows[-1][1], 2 * flops / gemm))

    # -- the design pipeline (cone filter, volume-constrained sigmoid) -------------------
    pix = obj.pixel
    z = obj.logits(theta).ravel()
    cells = z.size
    rows.append(
        (
            "filter + sigmoid, forward",
            median_time(lambda: pix._forward(z * (1 + 1e-9 * next(counter))), repeat),
            2 * 8 * cells * 4 / stream,
        )
    )
    g_phys = np.ones(pix.shape)
    pix._forward(z)
    rows.append(
        (
            "filter + sigmoid, adjoint",
            median_time(lambda: pix._pull_back(g_phys), repeat),
            2 * 8 * cells * 4 / stream,
        )
    )

    # -- the physics, part by part ---------------------------------------------------------
    phys = pix.physics
    x = pix.design(z)
    young = simp_modulus(x, phys.penal, phys.e_min, phys.e_0)[0].ravel()
    nnz = phys.pattern.nnz if hasattr(phys.pattern, "nnz") else phys._data.size
    data = phys._data
    rows.append(
        (
            "assembly (CSR values)",
            median_time(lambda: phys.pattern.assemble(phys.ke, young, data), repeat),
            (8 * nnz + 8 * cells * 64) / stream,
        )
    )
    solver = phys.solver
    phys.pattern.assemble(phys.ke, young, data)
    rows.append(("factorization", median_time(lambda: solver.factorize(data), repeat), np.nan))
    f = phys._forces_free
    rows.append(("solve", median_time(lambda: solver.solve(f), repeat), np.nan))
    factor_nnz = getattr(solver, "factor_nnz", None)
    if factor_nnz:
        unknowns = f.size
        rows[-2] = (rows[-2][0], rows[-2][1], factor_nnz**2 / unknowns / dgemm)
        rows[-1] = (rows[-1][0], rows[-1][1], 8 * 2 * factor_nnz / stream)  # L read twice
    u = phys.state(x).u
    rows.append(
        (
            "element energies + sensitivities",
            median_time(lambda: element_energies(phys.ke, u, phys.height, phys.width), repeat),
            (8 * 8 * cells + 8 * cells) / stream,
        )
    )

    # -- the whole evaluation: what its parts leave out is torch's and the glue's ---------
    total = median_time(lambda: obj.value_and_grad(theta + noise * next(counter)), repeat)
    inside = sum(r[1] for r in rows)
    rows.append(("rest of value_and_grad (autograd glue, copies)", total - inside, 0.0))

    # -- one L-BFGS step around it -------------------------------------------------------
    mem = LbfgsMemory(n, 10, single=True)
    for _ in range(10):
        s, y = rng.standard_normal((2, n))
        mem.push(s, y + s, skip_scale=-np.inf)
    g = rng.standard_normal(n)
    rows.append(
        (
            "two-loop (10 float32 pairs)",
            median_time(lambda: mem.two_loop(g), repeat),
            (2 * 2 * 10 * 4 * n + 4 * 8 * n) / stream,
        )
    )
    free = _Free(n)
    free_eval = median_time(lambda: free.value_and_grad(g), repeat)

    def per_eval(name: str) -> tuple[float, int, int]:
        """Seconds per evaluation of a 25-step run on the free objective, minus its cost."""
        opt = ts.optim.get(name, pair_dtype="float32") if name == "lbfgs" else ts.optim.get(name)
        traj = opt.run(free, max_steps=25, max_evals=None, progress=False)
        seconds = median_time(
            lambda: opt.run(free, max_steps=25, max_evals=None, progress=False),
            max(3, repeat // 5),
        )
        return seconds / traj.n_evals - free_eval, traj.n_evals, traj.n_steps

    search, _, _ = per_eval("gd_ls")
    rows.append(("line search + recorder (per eval; gd_ls run)", search, 6 * 8 * n / stream))

    # -- inside a real run: the two-loop as the CNN's L-BFGS run sees it, and the wall time
    two_loops, run_seconds, run_evals, run_steps = cnn_run(obj, evals=60)
    rows.append(
        (
            "two-loop inside a CNN run (per eval)",
            float(np.sum(two_loops)) / run_evals,
            (2 * 2 * 10 * 4 * n + 4 * 8 * n) * (len(two_loops) / run_evals) / stream,
        )
    )
    explained = total + rows[-2][1] + rows[-1][1]
    rows.append(
        (
            "rest of an L-BFGS evaluation in the run (pair pushes, ...)",
            run_seconds / run_evals - explained,
            (3 * 8 + 2 * 4)
            * n
            * run_steps
            / run_evals
            / stream,  # push_step: d, g_new, g_old in; s, y (float32) out
        )
    )
    # the standalone two-loop row is a check of the in-run one, not a part of the sum
    summed = [r for r in rows if not r[0].startswith("two-loop (")]
    whole = run_seconds / run_evals
    rows.append(
        (
            "sum of the parts (one L-BFGS evaluation)",
            sum(r[1] for r in summed),
            sum(r[2] for r in summed if np.isfinite(r[2])),
        )
    )
    rows.append(("CNNObjective.value_and_grad (measured whole)", total, np.nan))
    rows.append(("L-BFGS run, wall time per evaluation (measured whole)", whole, np.nan))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=["A", "D"], choices=sorted(CODES))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    import torch

    rates = machine_rates(args.repeat)
    print(
        f"torch threads {torch.get_num_threads()}; sustained: float32 GEMM "
        f"{rates['gemm'] / 1e9:.1f} GFLOP/s, float64 GEMM {rates['dgemm'] / 1e9:.1f} GFLOP/s, "
        f"stream {rates['stream'] / 1e9:.1f} GB/s\n"
    )
    for code in args.problems:
        rows = budget(code, args.repeat, rates)
        print(f"### Problem {code} ({CODES[code]})\n")
        print("| part | measured (ms) | limit (ms) | measured / limit |")
        print("|---|---:|---:|---:|")
        for name, measured, limit in rows:
            ratio = f"{measured / limit:.1f}x" if np.isfinite(limit) and limit > 0 else "-"
            limit = np.nan if limit == 0 else limit
            lim = f"{1e3 * limit:.2f}" if np.isfinite(limit) else "-"
            print(f"| {name} | {1e3 * measured:.2f} | {lim} | {ratio} |")
        print()


if __name__ == "__main__":
    main()
