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
- ``read``: ``sum`` of a float32 tensor (torch, its default threads), bytes/s, and
- ``write``: ``fill_`` of one, each at 64 MB (a working set the last-level cache holds: ~55
  GB/s here) and at 512 MB (main memory: ~28 GB/s read, ~17 GB/s written); a part uses the
  cache's rates when its working set is at most 96 MB.

Rates are the best of their repeats (the limit is what the machine can do); the memory rates
are measured before the GEMMs, whose BLAS threads keep spinning for a while afterwards.

A memory-bound part's limit is ``bytes read / read + bytes written / write``: the bytes its
inputs and outputs occupy, each read or written once (the minimum any implementation moves;
a pass that must read a vector twice, as the direction reads its pairs, counts it twice).

Work per part (stated, so the limits can be checked): convolution FLOPs by
``torch.utils.flop_counter`` for the forward, 2x that for the backward (input and weight
gradients); conversions: bytes read + written; factorization: ``sum_j c_j^2`` over the
factor's columns, bounded below by ``nnz(L)^2 / n`` (Cauchy-Schwarz; PARDISO reports
``nnz(L)`` but not its flop count with the two-level factorization), so that limit is a lower
bound; solve: the factor read twice (forward and backward substitution); assembly: the CSR
values written and the element matrices read; the L-BFGS direction of m float32 pairs (the
compact form): each of its two passes reads the 2m pair rows (4 bytes per entry each) and
``g``, the second writes the direction; the pair push: ``d``, ``g_new``, ``g_old`` read,
``s``, ``y`` written; the line search's and recorder's
passes: per evaluation the trial point with its distance from the start, and the slope with
the gradient's norm (one pass each; the step's slope comes from the direction's pass).

The L-BFGS parts are timed *inside* a 60-evaluation L-BFGS run of the CNN itself (timing
wrappers around ``value_and_grad``, the direction, the push and the level-1 passes):
memory-bound passes between the CNN's and the solver's work run from colder caches, and the
core's threads must be woken, so a synthetic run would mislead. The standalone push and
direction (full memory) are shown as a check, outside the sum; what the run spends outside
the timed calls is the Python bookkeeping row.

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
from cnn_compare import median_time, timings

CODES = {
    "A": "michell_centered_both_32x64_0.12",
    "D": "causeway_bridge_middle_128x128_0.1",
}


def best_time(fn, repeat: int) -> float:
    return min(timings(fn, repeat))


def machine_rates(repeat: int) -> dict[str, float]:
    """Sustained GEMM FLOP/s (float32 torch, float64 NumPy) and memory read and write
    bytes/s (the best of ``repeat`` passes: a limit is what the machine can do)."""
    import torch

    # Memory first: NumPy's BLAS threads keep spinning for a while after a GEMM and would
    # halve a pass measured right after it. Two sizes: a working set that stays in the
    # last-level cache (64 MB) and one that does not (512 MB).
    rates = {}
    for label, megabytes in (("cache", 64), ("memory", 512)):
        m = megabytes * 1024 * 1024 // 4
        x, y = torch.ones(m), torch.empty(m)
        rates[f"{label}_read"] = 4 * m / best_time(lambda x=x: x.sum(), 2 * repeat)
        rates[f"{label}_write"] = 4 * m / best_time(lambda y=y: y.fill_(1.5), 2 * repeat)
        del x, y
    n = 2048
    a32 = torch.randn(n, n)
    b32 = torch.randn(n, n)
    gemm = 2 * n**3 / best_time(lambda: torch.mm(a32, b32), repeat)
    a64 = np.random.default_rng(0).standard_normal((n, n))
    dgemm = 2 * n**3 / best_time(lambda: a64 @ a64, max(3, repeat // 3))
    return {"gemm": gemm, "dgemm": dgemm, **rates}


#: Working sets up to this many bytes count as cache-resident (the 64 MB rate measured).
CACHE_BYTES = 96 * 1024 * 1024


def moved(
    read_bytes: float, written_bytes: float, rates: dict[str, float], footprint: float = 0.0
) -> float:
    """Seconds to read and write that many bytes at the measured rates: the cache's for a
    working set (``footprint``, default: the bytes moved) up to :data:`CACHE_BYTES`, main
    memory's beyond."""
    level = "cache" if (footprint or read_bytes + written_bytes) <= CACHE_BYTES else "memory"
    return read_bytes / rates[f"{level}_read"] + written_bytes / rates[f"{level}_write"]


def conv_flops(obj) -> float:
    """FLOPs of the CNN's forward pass (convolutions, the dense layer), by
    ``torch.utils.flop_counter`` (it reads the shapes of the aten calls)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        obj.model()
    return float(counter.get_total_flops())


class _Timers:
    """Seconds spent in named calls during a run: :meth:`wrap` replaces an attribute by a
    timing wrapper until the ``with`` block ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._undo: list = []

    def wrap(self, owner, attribute: str, key: str) -> None:
        plain = getattr(owner, attribute)
        record = self.seconds.setdefault(key, [])

        def timed(*args):
            start = time.perf_counter()
            out = plain(*args)
            record.append(time.perf_counter() - start)
            return out

        # an instance attribute shadowing a method is deleted afterwards, anything else restored
        own = attribute in vars(owner)
        self._undo.append((owner, attribute, vars(owner).get(attribute), own))
        setattr(owner, attribute, timed)

    def __enter__(self) -> _Timers:
        return self

    def __exit__(self, *exc) -> None:
        for owner, attribute, original, own in reversed(self._undo):
            if own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)

    def total(self, key: str) -> float:
        return float(np.sum(self.seconds.get(key, [])))


def cnn_run(obj, evals: int) -> tuple[dict[str, float], float, int, int]:
    """An L-BFGS run of the default configuration (``pair_dtype="auto"``: float32 pairs for
    the float32 CNN, memory 10) on the CNN, with its parts timed inside the run, where the
    machine is in the state a study sees: seconds per part (``value_and_grad``, the direction
    and its slope, the pair push, the line search's and recorder's vector passes), the run's
    wall seconds, evaluations and steps."""
    from toposcape import _core
    from toposcape.optim import _vec, directions

    # an untimed short run first: the first run of a process pays one-time costs (thread pools
    # started, the pair memory's pages first touched) that a study's runs do not
    ts.optim.get("lbfgs").run(obj, max_evals=12, progress=False)
    with _Timers() as timers:
        timers.wrap(obj, "value_and_grad", "value_and_grad")
        timers.wrap(directions.LBFGS, "direction_and_slope", "direction")
        timers.wrap(directions.LBFGS, "update_step", "push")
        timers.wrap(_vec, "dot", "passes")
        timers.wrap(_vec, "distance", "passes")
        timers.wrap(_core, "step_point", "passes")
        timers.wrap(_core, "step_point_distance", "passes")
        timers.wrap(_core, "dot_and_norm", "passes")
        opt = ts.optim.get("lbfgs")
        start = time.perf_counter()
        traj = opt.run(obj, max_evals=evals, progress=False)
        seconds = time.perf_counter() - start
    parts = {key: timers.total(key) for key in ("value_and_grad", "direction", "push", "passes")}
    return parts, seconds, traj.n_evals, traj.n_steps


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
            "flatten gradient and test it finite (float32 -> float64)",
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
    # perturbed points made beforehand: forming one costs two passes over theta
    points = iter([theta + noise * k for k in range(repeat + 2)])
    total = median_time(lambda: obj.value_and_grad(next(points)), repeat)
    inside = sum(r[1] for r in rows)
    rows.append(("rest of value_and_grad (autograd glue, copies)", total - inside, 0.0))

    # -- one L-BFGS step around it, timed inside a run of the CNN ------------------------
    mem = LbfgsMemory(n, 10, single=True)
    for _ in range(10):
        s, y = rng.standard_normal((2, n))
        mem.push(s, y + s, skip_scale=-np.inf)
    g_old, d = rng.standard_normal((2, n))
    g = g_old + 0.5 * d
    # The compact direction (float32 pairs, m = 10): each pass reads the 10 pairs' rows and g,
    # the second writes d. The pairs (80 bytes per entry) are the working set.
    direction_bytes = moved(2 * (2 * 10 * 4 + 8) * n, 8 * n, rates, footprint=80 * n)

    def push_and_direction():  # a new pair each step: its Gram entries are gathered
        mem.push_step(d, 0.5, g, g_old, skip_scale=-np.inf)
        mem.direction_and_slope(g)

    standalone = median_time(push_and_direction, repeat)
    push_bytes = moved(3 * 8 * n, 2 * 4 * n, rates)
    both = push_bytes + direction_bytes
    rows.append(("pair push + direction (10 float32 pairs)", standalone, both))
    parts, run_seconds, run_evals, run_steps = cnn_run(obj, evals=60)
    per_eval = {key: value / run_evals for key, value in parts.items()}
    steps_per_eval = run_steps / run_evals
    rows.append(
        (
            "value_and_grad inside the run, beyond its standalone time (caches)",
            per_eval["value_and_grad"] - total,
            0.0,
        )
    )
    rows.append(
        (
            "direction and its slope inside the run",
            per_eval["direction"],
            direction_bytes * steps_per_eval,
        )
    )
    rows.append(
        (
            "pair push inside the run",
            per_eval["push"],
            # d, g_new, g_old in; s, y (float32) out; once per step
            push_bytes * steps_per_eval,
        )
    )
    rows.append(
        (
            "line search and recorder passes inside the run (trial point, slopes, norms)",
            per_eval["passes"],
            # per evaluation: the trial point and its distance from theta0 (3 in, 1 out), the
            # slope and the gradient's norm (2 in)
            moved(5 * 8 * n, 8 * n, rates),
        )
    )
    rows.append(
        (
            "rest of an L-BFGS evaluation in the run (Python bookkeeping)",
            run_seconds / run_evals - sum(per_eval.values()),
            0.0,
        )
    )
    # the standalone row is a check of the in-run ones, not a part of the sum
    summed = [r for r in rows if not r[0].startswith("pair push + direction (")]
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
        f"read / write {rates['cache_read'] / 1e9:.0f} / {rates['cache_write'] / 1e9:.0f} GB/s "
        f"(64 MB, cache), {rates['memory_read'] / 1e9:.0f} / {rates['memory_write'] / 1e9:.0f} "
        "GB/s (512 MB, memory)\n"
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
