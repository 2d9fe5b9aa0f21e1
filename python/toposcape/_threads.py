"""Thread settings shared by torch, numba and MKL PARDISO on small machines.

toposcape alternates between three threaded runtimes within every evaluation: torch's
(bundled GNU OpenMP) for the CNN, Intel OpenMP under MKL PARDISO for the sparse solve, and
numba's for the element kernels. By default both OpenMP runtimes keep their threads spinning
after each parallel region (GNU: ~300k spins, Intel: 200 ms), and a spinning team steals the
cores the next runtime needs: on 2 cores a CNN value-and-gradient took 600 ms instead of 26 ms
(BENCHMARKS.md). Letting idle threads sleep removes that; the runtimes read these variables
when they start, so this module must run before torch or MKL load (importing toposcape does
it). Values set by the user are kept. NumPy's huge-page requests for large arrays are turned off
too (see ``_numpy_small_pages``).

GNU OpenMP (torch's CNN and the core's passes) still spins for 100,000 iterations (about a
millisecond here) before a thread sleeps: the CNN's forward and backward run dozens of short
parallel regions back to back, and waking a sleeping thread for each costs more than that
(BENCHMARKS.md, "Threads" and issue 15's section: the CNN run at problem A 4-6% faster than
with 10,000 iterations, measured interleaved). Intel OpenMP under PARDISO, which runs once per
evaluation, does not spin.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

#: Environment defaults applied at import (only where the user has not set them).
DEFAULTS = {
    "OMP_WAIT_POLICY": "PASSIVE",  # GNU and Intel OpenMP: idle threads sleep
    "KMP_BLOCKTIME": "0",  # Intel OpenMP (MKL PARDISO): no spin time after a region
    "GOMP_SPINCOUNT": "100000",  # GNU OpenMP: spin ~1 ms, then sleep
}


def configure() -> dict[str, str]:
    """Apply :data:`DEFAULTS` where unset; returns the values in force.

    When torch was imported before toposcape and the user set no wait policy, torch's OpenMP
    runtime has already started with spinning threads; this warns with the remedies.
    """
    late = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        _numpy_small_pages()
    if late:
        warnings.warn(
            "torch was imported before toposcape: its OpenMP threads spin between parallel "
            "regions and can slow the CNN objective's sparse solves ~20x on small machines. "
            "Import toposcape first, set OMP_WAIT_POLICY=PASSIVE before starting Python, or "
            "call torch.set_num_threads(1).",
            RuntimeWarning,
            stacklevel=3,
        )
    return {key: os.environ[key] for key in DEFAULTS}


def _numpy_small_pages() -> None:
    """Stop NumPy from asking for transparent huge pages for its large arrays.

    NumPy marks every new array of 4 MB or more ``MADV_HUGEPAGE``; with the kernel's usual
    ``defrag=madvise`` a page fault in such an array may compact memory on the spot. An
    optimizer run allocates fresh gradients, trial points and directions of the parameter
    count every evaluation (the CNN of problem D: 15 MB each), and those stalls reached 25 ms
    on single calls: 2-6 ms per evaluation on average (BENCHMARKS.md). Small pages cost
    nothing measurable on these streaming passes. NumPy reads ``NUMPY_MADVISE_HUGEPAGE`` only
    when it is imported, before toposcape can set a default, so the switch is NumPy's runtime
    one; a user who sets ``NUMPY_MADVISE_HUGEPAGE`` keeps their choice.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)


def settings(objective=None) -> dict[str, object]:
    """The thread settings in force: what a run's numbers depend on besides its settings.

    torch's intra-op threads (when torch is loaded), MKL's (PARDISO), numba's, the core's,
    and the OpenMP environment; with an ``objective``, also the thread count its sparse
    solver fixed when it was built (``solver``; PARDISO keeps the count of its analysis).
    Recorded with every run (``Trajectory.threads``).
    """
    from . import _core

    out: dict[str, object] = {"core": int(_core.get_num_threads())}
    solver_threads = getattr(objective, "solver_threads", None)
    if solver_threads is not None:
        out["solver"] = int(solver_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = int(torch.get_num_threads())
    try:
        import numba

        out["numba"] = int(numba.get_num_threads())
    except Exception:  # pragma: no cover - numba is a dependency
        pass
    try:
        from .physics.pardiso import _mkl

        lib = _mkl()
        if lib is not None:
            out["mkl"] = int(lib.MKL_Get_Max_Threads())
    except (ImportError, AttributeError, OSError):  # pragma: no cover - no MKL runtime
        pass
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOPOSCAPE_NUM_THREADS", *DEFAULTS):
        if key in os.environ:
            out[key] = os.environ[key]
    return out


@contextlib.contextmanager
def pinned(threads: int | None = None, *, core: int | None = None, torch: int | None = None):
    """Fix the thread counts a run's numbers depend on, for the duration of a ``with`` block.

    The core's threaded reductions (the L-BFGS two-loop), torch's convolutions and MKL
    PARDISO's factorization each sum in an order that depends on their thread count, so the
    same run gives different last bits (and, over hundreds of steps, different iterates) under
    different counts. Runs are reproducible bit for bit for the same counts; a study fixes
    them per run with this context and records :func:`settings` with every result.

    Parameters
    ----------
    threads : int, optional
        The count for every runtime (the core; torch, MKL and numba) unless given separately.
    core, torch : int, optional
        Per-runtime counts (``torch`` also sets MKL's and numba's).

    Objectives built inside the block keep PARDISO's count from their construction.
    """
    from . import _core, _validate

    core = _validate.integer(
        threads if core is None else core, "core", minimum=1, allow_none=True, who="threads"
    )
    torch_threads = _validate.integer(
        threads if torch is None else torch, "torch", minimum=1, allow_none=True, who="threads"
    )
    restore = []
    try:
        if core is not None:
            restore.append((_core.set_num_threads, _core.get_num_threads()))
            _core.set_num_threads(core)
        if torch_threads is not None:
            # torch is imported (when installed) and pinned even for a block that will not use
            # it: importing it inside the block, after MKL was pinned directly, changes the
            # last bits of later runs (a CNN run differed between the two orders).
            from .models import load_torch

            torch_module = load_torch()
            if torch_module is not None:
                restore.append((torch_module.set_num_threads, torch_module.get_num_threads()))
                torch_module.set_num_threads(torch_threads)
            # The MKL runtime PARDISO calls, set directly: torch's setting does not reach it
            # when MKL_NUM_THREADS is in the environment (Dask sets it for its workers).
            mkl = _mkl_runtime()
            if mkl is not None:
                restore.append((mkl.MKL_Set_Num_Threads, mkl.MKL_Get_Max_Threads()))
                mkl.MKL_Set_Num_Threads(torch_threads)
            numba = sys.modules.get("numba")
            if numba is None:
                import numba
            restore.append((numba.set_num_threads, numba.get_num_threads()))
            numba.set_num_threads(min(torch_threads, numba.config.NUMBA_NUM_THREADS))
        yield settings()
    finally:
        for setter, previous in reversed(restore):
            setter(previous)


def _mkl_runtime():
    try:
        from .physics.pardiso import _mkl

        return _mkl()
    except (ImportError, OSError, AttributeError):  # pragma: no cover - no MKL runtime
        return None
