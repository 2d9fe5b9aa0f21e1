"""Same-run performance study of toposcape's physics; prints Markdown tables.

Usage::

    python benches/compare.py            # full study (10-13 minutes on 2 cores)
    python benches/compare.py --quick    # 1-2 minute version (small sizes, fewer repeats)
    python benches/compare.py --sizes 128x128 384x128 --no-scaling --no-backends
    python benches/compare.py --profile 1024x512   # cProfile of value_and_grad at one size

Tables:

(a) toposcape ``PixelObjective`` (volume constraint, p = 3, MBB beam, density 0.5, default
    solver) against the plain NumPy/SciPy reference ``benches/reference_scipy.py`` on the same
    problem, both measured in this run: ``value_and_grad`` at *fresh* designs (the logits are
    perturbed before every call, so no factorization is reused) and ``hvp`` at the design just
    evaluated (it reuses that factorization).
(b) scaling of toposcape ``value_and_grad`` with the number of DOFs on square grids, one
    subprocess per size so that its peak resident memory (``ru_maxrss``) can be read, and the
    log-log least-squares exponent of time against DOFs.
(c) numeric factorization + one solve per sparse backend, on a uniform design and on a
    realistic one (20 steps of gradient descent on the logits, see :func:`gd_design`), each run
    in a subprocess with a time limit.

Every measurement is the median over repeats timed with ``time.perf_counter`` after an untimed
warm-up call (numba JIT / cache load, MKL and OpenMP start-up). The machine may be shared: the
load average at the start and the end of the run is printed with the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

COMPARE_SIZES = [(64, 32), (128, 128), (384, 128), (256, 256), (1024, 512)]
COMPARE_SIZES_QUICK = [(64, 32), (128, 128), (384, 128)]
SCALING_SIZES = [64, 128, 256, 512, 724, 1024]
SCALING_SIZES_QUICK = [64, 128, 256]
BACKENDS = ["pardiso", "cholmod", "superlu", "amg"]
BACKEND_SIZES = [(64, 64), (128, 128), (256, 256), (512, 256), (512, 512)]
BACKEND_SIZES_QUICK = [(64, 64), (128, 128), (256, 128)]
#: Sizes where only the default direct solver and AMG are run (the others are far slower).
BACKEND_SIZES_LARGE = [(1024, 512), (1024, 1024)]
THREAD_VARS = [
    "OMP_WAIT_POLICY",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "KMP_BLOCKTIME",
]
DENSITY = 0.5
PENAL = 3.0


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """``"384x128"`` -> ``(384, 128)`` (width, height)."""
    w, h = text.lower().split("x")
    return int(w), int(h)


def n_dofs(width: int, height: int) -> int:
    return 2 * (width + 1) * (height + 1)


def repeats_for(dofs: int, quick: bool = False) -> int:
    """Number of timed repeats: more for small problems, fewer for big ones."""
    if dofs < 50_000:
        n = 7
    elif dofs < 300_000:
        n = 5
    elif dofs < 1_500_000:
        n = 3
    else:
        n = 2
    return min(n, 3) if quick else n


def peak_rss_gib() -> float:
    """Peak resident memory of this process (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def mbb(width: int, height: int):
    import toposcape as ts

    return ts.problems.mbb_beam(width=width, height=height, density=DENSITY)


def start_logits(size: int) -> np.ndarray:
    """The logits every timing starts from: standard normal (as the physics oracle uses)."""
    return np.random.default_rng(0).normal(size=size)


def perturbed(theta: np.ndarray, k: int) -> np.ndarray:
    """A fresh design near ``theta`` (round ``k``): defeats the per-design factorization cache."""
    return theta + 1e-3 * np.random.default_rng(1000 + k).normal(size=theta.size)


def gd_design(width: int, height: int, steps: int = 20, max_cells: int = 16384) -> np.ndarray:
    """Logits (H, W) of a realistic intermediate design for the MBB beam.

    ``steps`` of normalized gradient descent on the logits (``z -= 4 g / max|g|`` from the
    uniform design, which leaves about 40 % of the cells below 0.05 and 35 % above 0.95) on the
    grid divided by the smallest power of two that leaves at most ``max_cells`` cells, then
    upsampled to ``(height, width)`` by nearest neighbour.
    """
    import toposcape as ts

    f = 1
    while (width // f) * (height // f) > max_cells:
        f *= 2
    w, h = max(width // f, 4), max(height // f, 4)
    obj = ts.PixelObjective(mbb(w, h), penal=PENAL)
    z = np.zeros(obj.size)
    for _ in range(steps):
        _, g = obj.value_and_grad(z)
        z -= 4.0 * g / np.abs(g).max()
    z = z.reshape(h, w)
    rows = np.arange(height) * h // height
    cols = np.arange(width) * w // width
    return z[np.ix_(rows, cols)]


# ---------------------------------------------------------------------------------------------
# workers (each runs in its own subprocess and prints one JSON line)
# ---------------------------------------------------------------------------------------------
def worker_toposcape(width: int, height: int, repeats: int, hvp: bool = True) -> dict:
    """Setup, ``value_and_grad`` at fresh designs and ``hvp`` at the evaluated design."""
    import toposcape as ts

    rss_import = peak_rss_gib()
    problem = mbb(width, height)
    t0 = time.perf_counter()
    obj = ts.PixelObjective(problem, penal=PENAL)
    setup = time.perf_counter() - t0
    theta0 = start_logits(obj.size)
    rng = np.random.default_rng(7)
    c0, _ = obj.value_and_grad(theta0)  # warm-up: numba, MKL, OpenMP
    if hvp:
        obj.hvp(theta0, rng.normal(size=obj.size))
    vg_times, hvp_times, refactorized = [], [], 0
    for k in range(repeats):
        theta = perturbed(theta0, k)
        t0 = time.perf_counter()
        obj.value_and_grad(theta)
        vg_times.append(time.perf_counter() - t0)
        if hvp:
            v = rng.normal(size=obj.size)
            n_fact = obj.physics.n_factorizations
            t0 = time.perf_counter()
            obj.hvp(theta, v)
            hvp_times.append(time.perf_counter() - t0)
            refactorized += obj.physics.n_factorizations - n_fact
    return {
        "solver": obj.physics.solver_name,
        "n_free": int(obj.physics.free_dofs.size),
        "setup": setup,
        "vg": statistics.median(vg_times),
        "vg_all": vg_times,
        "hvp": statistics.median(hvp_times) if hvp else None,
        "hvp_all": hvp_times,
        "hvp_refactorizations": refactorized,
        "compliance": c0,
        "rss_import_gib": rss_import,
        "rss_gib": peak_rss_gib(),
    }


def worker_pair(width: int, height: int, repeats: int, ref_repeats: int, ref_warmup: bool):
    """toposcape, then the reference, on the same problem and designs in one process.

    The two are timed in blocks, not alternated design by design: right after a reference
    call (SuperLU, OpenBLAS, large temporaries) toposcape's next ``value_and_grad`` was
    measured 1.3-2x slower at 128x128 and 384x128 on 2 cores, an interference no user sees.
    """
    import toposcape as ts

    sys.path.insert(0, str(HERE))
    from reference_scipy import ScipyReference

    problem = mbb(width, height)
    theta0 = start_logits(width * height)
    designs = [perturbed(theta0, k) for k in range(max(repeats, ref_repeats))]

    obj = ts.PixelObjective(problem, penal=PENAL)
    rng = np.random.default_rng(7)
    obj.value_and_grad(theta0)  # warm-up: numba, MKL, OpenMP
    obj.hvp(theta0, rng.normal(size=obj.size))
    vg, hvp, refactorized = [], [], 0
    for theta in designs[:repeats]:
        t0 = time.perf_counter()
        c, _ = obj.value_and_grad(theta)
        vg.append(time.perf_counter() - t0)
        v = rng.normal(size=obj.size)
        n_fact = obj.physics.n_factorizations
        t0 = time.perf_counter()
        obj.hvp(theta, v)
        hvp.append(time.perf_counter() - t0)
        refactorized += obj.physics.n_factorizations - n_fact
    c_topo = obj.value(designs[0])
    solver = obj.physics.solver_name
    del obj

    ref = ScipyReference(
        width, height, DENSITY, problem.fixed_dofs, problem.forces, problem.mask, penal=PENAL
    )
    if ref_warmup:
        ref.value_and_grad(theta0.reshape(height, width))
    ref_vg, c_ref = [], None
    for theta in designs[:ref_repeats]:
        t0 = time.perf_counter()
        c, _ = ref.value_and_grad(theta.reshape(height, width))
        ref_vg.append(time.perf_counter() - t0)
        c_ref = c if c_ref is None else c_ref
    return {
        "solver": solver,
        "vg": statistics.median(vg),
        "hvp": statistics.median(hvp),
        "ref_vg": statistics.median(ref_vg),
        "vg_all": vg,
        "hvp_all": hvp,
        "ref_vg_all": ref_vg,
        "hvp_refactorizations": refactorized,
        "rel_diff_compliance": abs(c_ref - c_topo) / abs(c_topo),
        "rss_gib": peak_rss_gib(),
    }


def worker_backend(width: int, height: int, backend: str, designs: list[str], repeats: int):
    """One-time setup and numeric factorization + one solve of ``backend`` per design."""
    from toposcape.physics.compliance import Compliance
    from toposcape.physics.filter import ConeFilter
    from toposcape.physics.sigmoid import VolumeSigmoid

    problem = mbb(width, height)
    t0 = time.perf_counter()
    physics = Compliance(problem, penal=PENAL, solver=backend)
    setup = time.perf_counter() - t0
    solver = physics.solver
    if backend == "amg":
        import pyamg  # noqa: F401  (imported lazily by the backend: keep it out of the timing)
    out = {"setup": setup, "n_free": int(physics.free_dofs.size), "designs": {}}
    for design in designs:
        if design == "uniform":
            z = np.zeros((height, width))
        elif design == "gd20":
            z = gd_design(width, height)
        else:
            raise ValueError(design)
        x = ConeFilter(problem.mask, 2.0)(VolumeSigmoid(problem.mask, DENSITY)(z))
        data = physics.stiffness_values(x)
        f = physics._forces_free
        factor, solve, iters = [], [], []
        # Warm-up (allocations, thread pools). Above 300k DOFs only for PARDISO, the one
        # backend that keeps its factor's memory from one design to the next.
        if n_dofs(width, height) < 300_000 or backend == "pardiso":
            solver.factorize(data)
            solver.solve(f)
        for _ in range(repeats):
            t0 = time.perf_counter()
            solver.factorize(data)
            t1 = time.perf_counter()
            u = solver.solve(f)
            t2 = time.perf_counter()
            factor.append(t1 - t0)
            solve.append(t2 - t1)
            iters.append(getattr(solver, "last_iterations", 0))
        out["designs"][design] = {
            "factor": statistics.median(factor),
            "solve": statistics.median(solve),
            "total": statistics.median(a + b for a, b in zip(factor, solve, strict=True)),
            "iterations": int(max(iters)),
            "compliance": float(f @ u),
            "x_min": float(x.min()),
            "void_fraction": float(np.mean(x < 0.05)),
        }
    out["rss_gib"] = peak_rss_gib()
    return out


def run_worker(spec: dict, timeout: float) -> dict:
    """Run one worker in a fresh interpreter; ``{"error": ...}`` on failure or timeout."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_main(spec: dict) -> None:
    kind = spec.pop("kind")
    func = {
        "toposcape": worker_toposcape,
        "pair": worker_pair,
        "backend": worker_backend,
    }[kind]
    print(json.dumps(func(**spec)))


# ---------------------------------------------------------------------------------------------
# studies
# ---------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_s(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t:.4f}" if t < 0.1 else f"{t:.3f}" if t < 10 else f"{t:.1f}"


def study_compare(sizes, quick: bool, ref_timeout: float) -> list[str]:
    rows = [
        "| size (W x H) | DOFs | reference vg s | toposcape vg s | ratio ref/toposcape "
        "| toposcape hvp s | hvp / vg | rel. diff c | repeats (ref / toposcape) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w, h in sizes:
        dofs = n_dofs(w, h)
        reps = repeats_for(dofs, quick)
        ref_reps = reps if dofs < 300_000 else 1
        warm = dofs < 300_000
        log(f"compare {w}x{h}: {reps} / {ref_reps} repeats, reference warm-up {warm}")
        spec = {"width": w, "height": h, "repeats": reps}
        res = run_worker(
            {"kind": "pair", **spec, "ref_repeats": ref_reps, "ref_warmup": warm}, ref_timeout
        )
        ref_cell = ratio = diff = "-"
        if "error" in res:  # the reference did not finish: toposcape alone
            ref_cell, ref_reps = f"skipped ({res['error']})", 0
            log(f"compare {w}x{h}: reference {res['error']}; toposcape alone")
            res = run_worker({"kind": "toposcape", **spec}, 1200)
            if "error" in res:
                rows.append(f"| {w}x{h} | {dofs:,} | - | failed: {res['error']} | | | | | |")
                continue
        else:
            ref_cell = fmt_s(res["ref_vg"])
            ratio = f"{res['ref_vg'] / res['vg']:.1f}x"
            diff = f"{res['rel_diff_compliance']:.1e}"
        note = "" if res["hvp_refactorizations"] == 0 else " (refactorized!)"
        rows.append(
            f"| {w}x{h} | {dofs:,} | {ref_cell} | {fmt_s(res['vg'])} | {ratio} "
            f"| {fmt_s(res['hvp'])}{note} | {res['hvp'] / res['vg']:.2f} | {diff} "
            f"| {ref_reps} / {reps} |"
        )
    return rows


def study_scaling(sizes, quick: bool) -> list[str]:
    rows = [
        "| size | DOFs | solver | setup s | value_and_grad s | peak RSS GiB | repeats |",
        "|---|---|---|---|---|---|---|",
    ]
    dofs_list, times = [], []
    for n in sizes:
        dofs = n_dofs(n, n)
        reps = repeats_for(dofs, quick)
        log(f"scaling {n}x{n} ({dofs:,} DOFs, {reps} repeats)")
        res = run_worker(
            {"kind": "toposcape", "width": n, "height": n, "repeats": reps, "hvp": False}, 1200
        )
        if "error" in res:
            rows.append(f"| {n}x{n} | {dofs:,} | - | - | failed: {res['error']} | - | - |")
            continue
        dofs_list.append(dofs)
        times.append(res["vg"])
        rows.append(
            f"| {n}x{n} | {dofs:,} | {res['solver']} | {fmt_s(res['setup'])} "
            f"| {fmt_s(res['vg'])} | {res['rss_gib']:.2f} | {reps} |"
        )
    if len(times) >= 2:
        slope, _ = np.polyfit(np.log(dofs_list), np.log(times), 1)
        rows.append("")
        rows.append(
            f"Fitted exponent (log-log least squares, time ~ DOFs^k, "
            f"{sizes[0]}^2 to {sizes[-1]}^2): **k = {slope:.2f}**"
        )
        if len(times) >= 4:
            half = len(times) // 2
            s_lo, _ = np.polyfit(np.log(dofs_list[:half]), np.log(times[:half]), 1)
            s_hi, _ = np.polyfit(np.log(dofs_list[half:]), np.log(times[half:]), 1)
            rows.append(f"(lower half of the sizes: k = {s_lo:.2f}; upper half: k = {s_hi:.2f})")
    return rows


def study_backends(sizes, quick: bool, timeout: float, large=()) -> list[str]:
    designs_direct = ["gd20"]
    designs_amg = ["gd20", "uniform"]
    header = (
        "| size | DOFs (free) | design | "
        + " | ".join(f"{b} s" for b in BACKENDS)
        + " | AMG-CG iterations |"
    )
    rows = [header, "|" + "---|" * (4 + len(BACKENDS))]
    setup_rows = [
        "| size | " + " | ".join(f"{b} setup s / peak RSS GiB" for b in BACKENDS) + " |",
        "|" + "---|" * (1 + len(BACKENDS)),
    ]
    dead: dict[str, str] = {}
    gd_notes: list[str] = []
    for w, h in [*sizes, *large]:
        dofs = n_dofs(w, h)
        reps = 3 if dofs < 300_000 else 1
        if quick:
            reps = min(reps, 2)
        results = {}
        for backend in BACKENDS:
            if (w, h) in large and backend not in ("pardiso", "amg"):
                results[backend] = {"error": "not run (large size)"}
                continue
            if backend in dead:
                results[backend] = {"error": f"skipped ({dead[backend]} at a smaller size)"}
                continue
            designs = designs_amg if backend == "amg" else designs_direct
            if (w, h) in large:
                designs = designs_direct
            log(f"backend {backend} {w}x{h} ({reps} repeats, designs {designs})")
            spec = {
                "kind": "backend",
                "width": w,
                "height": h,
                "backend": backend,
                "designs": designs,
                "repeats": reps,
            }
            res = run_worker(spec, timeout)
            results[backend] = res
            if "error" in res and res["error"].startswith("timeout"):
                dead[backend] = res["error"]
        for res in results.values():
            if "designs" in res and "gd20" in res["designs"]:
                d = res["designs"]["gd20"]
                gd_notes.append(
                    f"{w}x{h} min x {d['x_min']:.1e}, {100 * d['void_fraction']:.0f} % < 0.05"
                )
                break
        n_free = next((r["n_free"] for r in results.values() if "n_free" in r), None)
        for design in designs_direct if (w, h) in large else designs_amg:
            cells = []
            for backend in BACKENDS:
                res = results[backend]
                if "error" in res:
                    cells.append(res["error"] if design == "gd20" else "")
                elif design in res["designs"]:
                    d = res["designs"][design]
                    cell = fmt_s(d["total"])
                    if backend == "amg":  # hierarchy setup + CG solve
                        cell += f" ({fmt_s(d['factor'])} + {fmt_s(d['solve'])})"
                    cells.append(cell)
                else:
                    cells.append("-")
            amg = results["amg"]
            its = "-"
            if design in amg.get("designs", {}):
                its = str(amg["designs"][design]["iterations"])
            free = f"{n_free:,}" if n_free else "-"
            rows.append(f"| {w}x{h} | {free} | {design} | " + " | ".join(cells) + f" | {its} |")
        cells = []
        for backend in BACKENDS:
            res = results[backend]
            cells.append("-" if "error" in res else f"{fmt_s(res['setup'])} / {res['rss_gib']:.2f}")
        setup_rows.append(f"| {w}x{h} | " + " | ".join(cells) + " |")
    notes = [
        "",
        "Direct solvers are timed on gd20 only: with a fixed pattern and no pivoting their cost "
        "does not depend on the values. AMG-CG: total (hierarchy setup + cold-start CG "
        "solve from x0 = 0), rtol 1e-10. Medians of 3 repeats below 300k DOFs, 1 repeat "
        "above. gd20 designs: " + "; ".join(gd_notes) + ".",
        "",
        "One-time setup (symbolic analysis / pattern) and peak RSS of the run:",
        "",
    ]
    return rows + notes + setup_rows


def profile(width: int, height: int, n: int = 3) -> None:
    """cProfile of ``value_and_grad`` (fresh designs) at one size, top entries by own time."""
    import cProfile
    import pstats

    import toposcape as ts

    obj = ts.PixelObjective(mbb(width, height), penal=PENAL)
    theta0 = start_logits(obj.size)
    obj.value_and_grad(theta0)
    prof = cProfile.Profile()
    prof.enable()
    for k in range(n):
        obj.value_and_grad(perturbed(theta0, k))
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    py = platform.python_version()
    return f"{model}, {os.cpu_count()} logical CPUs, {mem:.1f} GiB RAM, Python {py}"


def git_revision() -> str:
    """Short commit of the checkout, with ``+dirty`` when the library sources differ from it."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "python", "cpp", "src"],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
        ).stdout.strip()
    except OSError:
        return "?"
    return (rev or "?") + ("+dirty" if dirty else "")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    parser.add_argument("--sizes", nargs="+", help="sizes WxH for table (a)")
    parser.add_argument("--scaling-sizes", nargs="+", type=int, help="square sizes for (b)")
    parser.add_argument("--backend-sizes", nargs="+", help="sizes WxH for table (c)")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-backends", action="store_true")
    parser.add_argument("--ref-timeout", type=float, default=300.0, help="s for one size of (a)")
    parser.add_argument("--backend-timeout", type=float, default=180.0, help="s per backend run")
    parser.add_argument("--profile", metavar="WxH", help="only profile value_and_grad at WxH")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker_main(json.loads(args.worker))
        return
    if args.profile:
        profile(*parse_size(args.profile))
        return

    # Read before toposcape is imported: it sets thread wait policies in os.environ.
    user_set = {k for k in THREAD_VARS if k in os.environ}

    import toposcape as ts
    from toposcape.physics.solvers import AUTO_ITERATIVE_THRESHOLD, available_solvers

    threads = ", ".join(
        f"{k}={os.environ[k]}" + ("" if k in user_set else " (library default)")
        for k in THREAD_VARS
        if k in os.environ
    )

    q = args.quick
    compare_sizes = (
        [parse_size(s) for s in args.sizes]
        if args.sizes
        else (COMPARE_SIZES_QUICK if q else COMPARE_SIZES)
    )
    scaling_sizes = args.scaling_sizes or (SCALING_SIZES_QUICK if q else SCALING_SIZES)
    backend_sizes = (
        [parse_size(s) for s in args.backend_sizes]
        if args.backend_sizes
        else (BACKEND_SIZES_QUICK if q else BACKEND_SIZES)
    )

    start = time.perf_counter()
    load0 = os.getloadavg()
    out = [
        f"Machine: {machine()}",
        f"toposcape {ts.__version__} (git {git_revision()}); "
        f"backends available: {', '.join(available_solvers())}; "
        f"AUTO_ITERATIVE_THRESHOLD = {AUTO_ITERATIVE_THRESHOLD:,} free DOFs.",
        f"Thread settings in force: {threads or 'none'}.",
        f"Problem: MBB beam, density {DENSITY}, volume constraint, p = {PENAL:g}, filter r = 2.",
        "",
    ]
    if not args.no_compare:
        out += ["### (a) toposcape vs plain SciPy reference (same run)", ""]
        out += study_compare(compare_sizes, q, args.ref_timeout) + [""]
    if not args.no_scaling:
        out += ["### (b) value_and_grad vs DOFs (default solver, square MBB grids)", ""]
        out += study_scaling(scaling_sizes, q) + [""]
    if not args.no_backends:
        out += ["### (c) numeric factorization + one solve per backend", ""]
        large = [] if (q or args.backend_sizes) else BACKEND_SIZES_LARGE
        out += study_backends(backend_sizes, q, args.backend_timeout, large) + [""]
    load1 = os.getloadavg()
    out.append(
        f"Load average (1 min) at start {load0[0]:.2f}, at end {load1[0]:.2f}; "
        f"total wall time {time.perf_counter() - start:.0f} s."
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
