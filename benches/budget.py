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
- ``read``: ``sum`` of a 64 MB float32 tensor (torch, its default threads), bytes/s;
- ``write``: ``fill_`` of a 64 MB float32 tensor (torch), bytes/s.

Rates are the best of their repeats (the limit is what the machine can do); the memory rates
are measured before the GEMMs, whose BLAS threads keep spinning for a while afterwards.

A memory-bound part's limit is ``bytes read / read + bytes written / write``: the bytes its
inputs and outputs occupy, each read or written once (the minimum any implementation moves;
a pass that must read a vector twice, as the two-loop reads its pairs, counts it twice).

Work per part (stated, so the limits can be checked): convolution FLOPs by
``torch.utils.flop_counter`` for the forward, 2x that for the backward (input and weight
gradients); conversions: bytes read + written; factorization: ``sum_j c_j^2`` over the
factor's columns, bounded below by ``nnz(L)^2 / n`` (Cauchy-Schwarz; PARDISO reports
``nnz(L)`` but not its flop count with the two-level factorization), so that limit is a lower
bound; solve: the factor read twice (forward and backward substitution); assembly: the CSR
values written and the element matrices read; the two-loop
of m float32 pairs: ``2 * 2m`` vector reads of 4 bytes per entry plus ``g`` read and the
direction written; the line search's and the recorder's passes: a ``gd_ls`` run on a free
objective of the same size (per evaluation, the objective's own pass subtracted), limit: seven
float64 vectors read and one written (trial point, slope, gradient norm, distance);
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


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine_rates(repeat: int) -> dict[str, float]:
    """Sustained GEMM FLOP/s (float32 torch, float64 NumPy) and memory read and write
    bytes/s (the best of ``repeat`` passes: a limit is what the machine can do)."""
    import torch

    # Memory first: NumPy's BLAS threads keep spinning for a while after a GEMM and would
    # halve a pass measured right after it.
    m = 16 * 1024 * 1024  # 64 MB per float32 tensor
    x, y = torch.ones(m), torch.empty(m)
    read = 4 * m / best_time(lambda: x.sum(), 2 * repeat)
    write = 4 * m / best_time(lambda: y.fill_(1.5), 2 * repeat)
    n = 2048
    a32 = torch.randn(n, n)
    b32 = torch.randn(n, n)
    gemm = 2 * n**3 / best_time(lambda: torch.mm(a32, b32), repeat)
    a64 = np.random.default_rng(0).standard_normal((n, n))
    dgemm = 2 * n**3 / best_time(lambda: a64 @ a64, max(3, repeat // 3))
    return {"gemm": gemm, "dgemm": dgemm, "read": read, "write": write}


def moved(read_bytes: float, written_bytes: float, rates: dict[str, float]) -> float:
    """Seconds to read and write that many bytes at the measured rates."""
    return read_bytes / rates["read"] + written_bytes / rates["write"]


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
    gemm, dgemm = rates["gemm"], rates["dgemm"]

    # -- conversions between NumPy and torch ---------------------------------------------
    rows.append(
        (
            "load theta (float64 -> float32 params)",
            median_time(lambda: obj._load(theta), repeat),
            moved(8 * n, 4 * n, rates),
        )
    )
    params = obj._params
    grads = [torch.randn_like(p) for p in params]
    rows.append(
        (
            "flatten gradient (float32 -> float64)",
            median_time(lambda: obj._flat(grads), repeat),
            moved(4 * n, 8 * n, rates),
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
            moved(6 * 8 * cells, 2 * 8 * cells, rates),
        )
    )
    g_phys = np.ones(pix.shape)
    pix._forward(z)
    rows.append(
        (
            "filter + sigmoid, adjoint",
            median_time(lambda: pix._pull_back(g_phys), repeat),
            moved(6 * 8 * cells, 2 * 8 * cells, rates),
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
            moved(8 * cells * 64, 8 * nnz, rates),
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
        rows[-1] = (rows[-1][0], rows[-1][1], moved(8 * 2 * factor_nnz, 0, rates))  # L twice
    u = phys.state(x).u
    rows.append(
        (
            "element energies + sensitivities",
            median_time(lambda: element_energies(phys.ke, u, phys.height, phys.width), repeat),
            moved(8 * 8 * cells, 8 * cells, rates),
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
            moved(2 * 2 * 10 * 4 * n + 8 * n, 8 * n, rates),
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
    rows.append(
        ("line search + recorder (per eval; gd_ls run)", search, moved(7 * 8 * n, 8 * n, rates))
    )

    # -- inside a real run: the two-loop as the CNN's L-BFGS run sees it, and the wall time
    two_loops, run_seconds, run_evals, run_steps = cnn_run(obj, evals=60)
    rows.append(
        (
            "two-loop inside a CNN run (per eval)",
            float(np.sum(two_loops)) / run_evals,
            moved(2 * 2 * 10 * 4 * n + 8 * n, 8 * n, rates) * (len(two_loops) / run_evals),
        )
    )
    explained = total + rows[-2][1] + rows[-1][1]
    rows.append(
        (
            "rest of an L-BFGS evaluation in the run (pair pushes, ...)",
            run_seconds / run_evals - explained,
            # push_step: d, g_new, g_old in; s, y (float32) out; once per step
            moved(3 * 8 * n, 2 * 4 * n, rates) * run_steps / run_evals,
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
        f"memory read {rates['read'] / 1e9:.1f} GB/s, write {rates['write'] / 1e9:.1f} GB/s\n"
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
