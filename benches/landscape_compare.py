"""Landscape tools against PyHessian on the same torch model and loss.

Usage::

    pip install pyhessian          # PyHessian 0.1 (power iteration, SLQ in torch)
    python benches/landscape_compare.py [--quick] [--skip-large]

Both sides see the CNN objective of problem A (``michell_centered_both_32x64_0.12``, float32
CNN, 567,553 parameters, p = 3) at its initial point: PyHessian through a wrapper module whose
criterion is toposcape's compliance (the physics as a twice-differentiable autograd function),
toposcape through ``ts.landscape.hessian``. Both reuse one autograd graph for every
Hessian-vector product (HVP), so an HVP costs the same on both sides.

Prints markdown tables:

1. HVP time (ms) on both sides.
2. Top 1 and top 20 eigenvalues (largest magnitude, what power iteration finds) at a relative
   tolerance of 1e-3: HVPs, wall time, and the largest relative error against a tight
   reference (toposcape's eigsh at tol 1e-6). PyHessian's tolerance is on the change of the
   estimate between iterations; toposcape's is on the Ritz residual ``||H y - lam y||``,
   which bounds the eigenvalue error.
3. A 90-step SLQ density (one run) on both sides: time, and the bookkeeping
   (orthogonalization etc.) as a fraction of it, from the time spent inside HVPs.
4. Lanczos overhead on the CNN of problem D (128x128, 1,936,641 parameters; the issue's
   "1.4M-parameter CNN"): a 90-step run, the time outside HVPs as a fraction of the total
   (target: at most 20%), with the CNN in float64 (the precision of second-order studies) and
   float32, for 1 and 2 core threads.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# toposcape before torch: it sets the OpenMP wait policy before torch starts its threads.
import toposcape as ts
from toposcape import _core

PROBLEM_A = "michell_centered_both_32x64_0.12"
PROBLEM_D = "causeway_bridge_middle_128x128_0.1"


class TimedOperator:
    """Wraps ts.landscape.hessian: counts products and the time spent in them."""

    def __init__(self, H) -> None:
        from scipy.sparse.linalg import LinearOperator

        self.count = 0
        self.seconds = 0.0

        def matvec(v):
            start = time.perf_counter()
            out = H @ np.ravel(v)
            self.seconds += time.perf_counter() - start
            self.count += 1
            return out

        self.op = LinearOperator(H.shape, matvec=matvec, dtype=np.float64)

    def reset(self) -> None:
        self.count = 0
        self.seconds = 0.0


def pyhessian_setup(obj):
    import importlib

    import torch

    # The package re-exports the class under the submodule's name: fetch the module itself.
    ph = importlib.import_module("pyhessian.hessian")

    from toposcape.models.neural import compliance_of_logits

    class Wrapped(torch.nn.Module):
        def __init__(self, cnn) -> None:
            super().__init__()
            self.cnn = cnn

        def forward(self, inputs):
            return self.cnn()

    obj._load(obj.x0)
    model = Wrapped(obj.model)
    model.zero_grad()

    def criterion(z, targets):
        return compliance_of_logits(z, obj.pixel)

    data = (torch.zeros(1), torch.zeros(1))
    hess = ph.hessian(model, criterion, data=data, cuda=False)
    counter = {"count": 0, "seconds": 0.0}
    original = ph.hessian_vector_product

    def counted(gradsH, params, v):
        start = time.perf_counter()
        out = original(gradsH, params, v)
        counter["seconds"] += time.perf_counter() - start
        counter["count"] += 1
        return out

    ph.hessian_vector_product = counted
    return hess, counter


def hvp_times(obj, repeat: int) -> tuple[float, float]:
    import torch

    H = ts.landscape.hessian(obj, obj.x0)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(obj.size)
    H @ v
    start = time.perf_counter()
    for _ in range(repeat):
        H @ v
    ours = (time.perf_counter() - start) / repeat

    hess, _ = pyhessian_setup(obj)
    from pyhessian.utils import hessian_vector_product

    vt = [torch.randn(p.size()) for p in hess.params]
    hessian_vector_product(hess.gradsH, hess.params, vt)
    start = time.perf_counter()
    for _ in range(repeat):
        hessian_vector_product(hess.gradsH, hess.params, vt)
    theirs = (time.perf_counter() - start) / repeat
    return ours, theirs


def top_eigenvalues(obj, top_n: int, reference: np.ndarray) -> dict[str, tuple]:
    import torch

    results = {}
    timed = TimedOperator(ts.landscape.hessian(obj, obj.x0))
    start = time.perf_counter()
    w, _ = ts.landscape.eigsh(timed.op, k=top_n, which="LM", tol=1e-3, progress=False)
    results["toposcape"] = (timed.count, time.perf_counter() - start, _error(w, reference))

    torch.manual_seed(0)
    hess, counter = pyhessian_setup(obj)
    start = time.perf_counter()
    values, _ = hess.eigenvalues(maxIter=100, tol=1e-3, top_n=top_n)
    results["PyHessian"] = (
        counter["count"],
        time.perf_counter() - start,
        _error(np.array(values), reference),
    )
    return results


def _error(values: np.ndarray, reference: np.ndarray) -> float:
    """Largest relative error of the k largest-magnitude values against the reference's."""
    k = len(values)
    ours = np.sort(np.abs(values))[::-1]
    ref = np.sort(np.abs(reference))[::-1][:k]
    return float(np.max(np.abs(ours - ref) / ref))


def density_run(obj, steps: int) -> dict[str, tuple]:
    import torch

    results = {}
    timed = TimedOperator(ts.landscape.hessian(obj, obj.x0))
    start = time.perf_counter()
    ts.landscape.spectral_density(timed.op, runs=1, steps=steps, seed=0, progress=False)
    total = time.perf_counter() - start
    results["toposcape"] = (timed.count, total, (total - timed.seconds) / total)

    torch.manual_seed(0)
    hess, counter = pyhessian_setup(obj)
    if not hasattr(torch, "eig") or _eig_removed(torch):
        # PyHessian 0.1 calls torch.eig (removed in torch 1.9+) once per run on the small
        # tridiagonal matrix; the same decomposition through torch.linalg.eigh.
        def eig(T, eigenvectors=True):
            values, vectors = torch.linalg.eigh(T)
            return torch.stack([values, torch.zeros_like(values)], dim=1), vectors

        torch.eig = eig
    start = time.perf_counter()
    hess.density(iter=steps, n_v=1)
    total = time.perf_counter() - start
    results["PyHessian"] = (counter["count"], total, (total - counter["seconds"]) / total)
    return results


def _eig_removed(torch) -> bool:
    try:
        torch.eig(torch.eye(2), eigenvectors=True)
    except RuntimeError:
        return True
    return False


def lanczos_overhead(obj, steps: int, threads: int) -> tuple[float, float, float]:
    timed = TimedOperator(ts.landscape.hessian(obj, obj.x0))
    _core.set_num_threads(threads)
    try:
        start = time.perf_counter()
        ts.landscape.lanczos(timed.op, steps, seed=0, progress=False)
        total = time.perf_counter() - start
    finally:
        _core.set_num_threads(0)
    return total, timed.seconds, (total - timed.seconds) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="top 5 instead of 20, fewer steps")
    parser.add_argument("--skip-large", action="store_true", help="skip the 1.4M-parameter run")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    obj = ts.CNNObjective(ts.problems.get(PROBLEM_A), penal=3.0, seed=0)
    print(f"problem A, CNN float32, {obj.size:,} parameters, torch {torch.__version__}")

    ours, theirs = hvp_times(obj, repeat=5 if args.quick else 10)
    print("\n### Hessian-vector product (ms)\n")
    print("| toposcape | PyHessian | ratio |")
    print("|---|---|---|")
    print(f"| {ours * 1e3:.1f} | {theirs * 1e3:.1f} | {theirs / ours:.2f} |", flush=True)

    top = 5 if args.quick else 20
    H = ts.landscape.hessian(obj, obj.x0)
    reference, _, info = ts.landscape.eigsh(
        H, k=top, which="LM", tol=1e-6, ncv=3 * top, return_info=True, progress=False
    )
    print(
        f"\n(reference: eigsh LM k={top} tol 1e-6, {info['matvecs']} HVPs; "
        f"largest |lambda| {np.abs(reference).max():.6g})"
    )
    print("\n### Top eigenvalues at relative tolerance 1e-3\n")
    print("| k | method | HVPs | seconds | max rel. error | HVP ratio |")
    print("|---|---|---|---|---|---|")
    for k in (1, top):
        r = top_eigenvalues(obj, k, reference)
        ratio = r["PyHessian"][0] / r["toposcape"][0]
        for name, (count, secs, err) in r.items():
            extra = f"{ratio:.1f}x fewer" if name == "toposcape" else ""
            print(f"| {k} | {name} | {count} | {secs:.1f} | {err:.1e} | {extra} |", flush=True)

    steps = 30 if args.quick else 90
    print(f"\n### {steps}-step SLQ density (one run)\n")
    print("| method | HVPs | seconds | time outside HVPs |")
    print("|---|---|---|---|")
    for name, (count, secs, frac) in density_run(obj, steps).items():
        print(f"| {name} | {count} | {secs:.1f} | {frac:.1%} |", flush=True)

    if not args.skip_large:
        print(f"\n### {steps}-step Lanczos on the CNN of problem D (128x128)\n")
        print(
            "| CNN dtype | parameters | core threads | seconds | in HVPs | outside HVPs "
            "(target <= 20%) |"
        )
        print("|---|---|---|---|---|---|")
        for dtype in ("float64", "float32"):
            big = ts.CNNObjective(ts.problems.get(PROBLEM_D), penal=3.0, seed=0, dtype=dtype)
            for threads in (1, 2):
                total, hvp, frac = lanczos_overhead(big, steps, threads)
                print(
                    f"| {dtype} | {big.size:,} | {threads} | {total:.1f} | {hvp:.1f} "
                    f"| {frac:.1%} |",
                    flush=True,
                )
            del big


if __name__ == "__main__":
    main()
