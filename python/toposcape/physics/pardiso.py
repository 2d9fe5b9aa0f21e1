"""MKL PARDISO through a thin ctypes binding to the MKL runtime (the one ``pypardiso`` brings).

PARDISO's three phases map onto the three steps of a
:class:`~toposcape.physics.solvers.SparseSolver`: analysis (phase 11: METIS ordering and
symbolic factorization) once per problem in the constructor, numeric factorization (phase 22)
once per design in :meth:`PardisoSolver.factorize`, solves (phase 33) with that factorization.
:class:`PardisoSolver` is registered as ``"pardiso"`` in :mod:`toposcape.physics.solvers`,
which re-exports it.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from ctypes.util import find_library

import numpy as np

from ..errors import InsufficientMemoryError
from .solvers import SparseSolver, _singular

__all__ = ["PardisoSolver"]


def _load_mkl_runtime() -> ctypes.CDLL | None:
    # Thread wait policies: see toposcape._threads (applied when the package is imported).
    candidates = []
    env = os.environ.get("PYPARDISO_MKL_RT")
    if env:
        candidates.append(env)
    for name in ("mkl_rt", "mkl_rt.2", "mkl_rt.1"):
        found = find_library(name)
        if found:
            candidates.append(found)
    for prefix in {sys.prefix, sys.base_prefix}:
        candidates += sorted(glob.glob(os.path.join(prefix, "lib*", "libmkl_rt.so*")), key=len)
        candidates += sorted(glob.glob(os.path.join(prefix, "Library", "bin", "mkl_rt*.dll")))
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


_MKL: ctypes.CDLL | None | bool = False  # False: not looked up yet


def _mkl() -> ctypes.CDLL | None:
    global _MKL
    if _MKL is False:
        _MKL = _load_mkl_runtime()
        if _MKL is not None:
            _i32p = ctypes.POINTER(ctypes.c_int32)
            _MKL.pardiso.argtypes = [
                ctypes.c_void_p,  # pt (64 handles)
                _i32p,  # maxfct
                _i32p,  # mnum
                _i32p,  # mtype
                _i32p,  # phase
                _i32p,  # n
                ctypes.c_void_p,  # a
                ctypes.c_void_p,  # ia
                ctypes.c_void_p,  # ja
                ctypes.c_void_p,  # perm
                _i32p,  # nrhs
                ctypes.c_void_p,  # iparm
                _i32p,  # msglvl
                ctypes.c_void_p,  # b
                ctypes.c_void_p,  # x
                _i32p,  # error
            ]
            _MKL.pardiso.restype = None
    return _MKL  # type: ignore[return-value]


_PARDISO_ERRORS = {
    -1: "input inconsistent",
    -2: "not enough memory",
    -3: "reordering problem",
    -4: "zero pivot, numerical factorization or iterative refinement problem",
    -5: "unclassified (internal) error",
    -6: "reordering failed",
    -7: "diagonal matrix is singular",
    -8: "32-bit integer overflow problem",
    -9: "not enough memory for out-of-core solver",
    -10: "error opening out-of-core files",
    -11: "read/write error with out-of-core files",
}


class PardisoSolver(SparseSolver):
    """MKL PARDISO, real symmetric positive definite (``mtype = 2``), upper triangle.

    The fill-reducing ordering (METIS nested dissection) and symbolic factorization run once in
    the constructor; :meth:`factorize` runs only the numeric phase.

    Memory guard: before the analysis the constructor checks :data:`ANALYSIS_BYTES_PER_ENTRY`
    bytes per stored entry and a lower estimate of the numeric phase from the pattern
    (:data:`PRE_ANALYSIS_BYTES_PER_FILL_ENTRY`); after it, the numeric phase's memory that
    PARDISO reports (:meth:`memory_estimate`). A system too large for the memory thus fails at
    construction with :class:`~toposcape.errors.InsufficientMemoryError`, before any
    factorization; so does PARDISO's own "not enough memory" error (-2) in any phase.

    One object may be shared between threads: its phases run under the object's lock (PARDISO
    keeps its state in the handle ``pt``, which concurrent phases would corrupt). Separate
    objects run concurrently.
    """

    name = "pardiso"
    upper_triangle = True
    _memory_step = "PARDISO numeric factorization"

    _MTYPE_SPD = 2
    #: Unknowns from which the two-level factorization (iparm[23] = 1) is used: every size,
    #: since it measured faster on small systems too (BENCHMARKS.md, "Notes moved from code
    #: comments").
    TWO_LEVEL_THRESHOLD = 0
    #: Peak bytes of the analysis per stored (upper-triangle) entry, checked before it runs:
    #: PARDISO's own report of that peak (``iparm[14]``), known only afterwards, is a constant
    #: just below this per entry on this project's grids (BENCHMARKS.md).
    ANALYSIS_BYTES_PER_ENTRY = 64
    #: Margin on the numeric phase's memory that PARDISO reports (``iparm[16]``), for the
    #: workspace it leaves out: see :meth:`memory_estimate`.
    NUMERIC_MEMORY_FACTOR = 1.1
    NUMERIC_MEMORY_EXTRA = 16 << 20
    #: Bytes per entry of the pattern's fill estimate (``SparseSolver._pattern_fill``) that the
    #: numeric phase needs at least, checked before the analysis: half of the 8-byte values,
    #: since that estimate stays within 2x of the fill METIS finds (BENCHMARKS.md).
    PRE_ANALYSIS_BYTES_PER_FILL_ENTRY = 4

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        *,
        grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(indptr, indices, n, grid=grid)
        lib = _mkl()
        if lib is None:
            raise RuntimeError("MKL runtime not found: install 'pypardiso' (or 'mkl')")
        self._check_memory(
            "PARDISO analysis (ordering and symbolic factorization)",
            self.ANALYSIS_BYTES_PER_ENTRY * self.nnz,
        )
        # A lower estimate of the numeric phase from the pattern, so that a grid far too large
        # fails before an analysis that can take minutes.
        self._check_memory(
            self._memory_step,
            self.PRE_ANALYSIS_BYTES_PER_FILL_ENTRY * self._pattern_fill(),
            lambda: self.PRE_ANALYSIS_BYTES_PER_FILL_ENTRY * self._pattern_fill(refine=True),
            at_least=True,
        )
        self._pardiso = lib.pardiso
        self._pt = np.zeros(64, dtype=np.int64)
        self._iparm = np.zeros(64, dtype=np.int32)
        iparm = self._iparm
        iparm[0] = 1  # use the values below, not the defaults
        iparm[1] = 2  # METIS nested-dissection ordering
        iparm[7] = 0  # no iterative refinement: the factorization is exact for SPD
        iparm[9] = 8  # pivot perturbation 1e-8 (unused for SPD without pivoting)
        iparm[17] = -1  # report the number of nonzeros in the factor
        # Classic two-level parallel factorization: measured faster than the default at every
        # size (BENCHMARKS.md). The "improved" variant (iparm[23] = 10) segfaults in the solve
        # phase with MKL 2026.2 (pypardiso's current dependency), so it is not used.
        iparm[23] = 1 if self.n >= self.TWO_LEVEL_THRESHOLD else 0
        iparm[26] = 0  # no matrix checker (the pattern comes from the core, sorted)
        iparm[34] = 1  # zero-based indexing
        self._data = np.zeros(self.nnz)
        self._perm = np.zeros(0, dtype=np.int32)
        self._error = ctypes.c_int32(0)
        self._b = np.zeros(0)
        # PARDISO must run every phase with the thread count of its analysis: with fewer
        # threads, the numeric phase of a two-thread analysis returns wrong factors (relative
        # residual 0.25 on CNN designs of problem A). torch.set_num_threads changes MKL's global
        # setting in this process, so the count is pinned per call (thread-locally).
        self._set_threads_local = lib.MKL_Set_Num_Threads_Local  # C interface (by value)
        self._set_threads_local.argtypes = [ctypes.c_int]
        self._set_threads_local.restype = ctypes.c_int
        #: MKL threads of every PARDISO phase: MKL's setting when the solver was built.
        self.threads = max(1, int(lib.MKL_Get_Max_Threads()))
        self._call(11, self._data, np.zeros(1), np.zeros(1))
        self._analysed = True
        try:
            self._check_memory(self._memory_step, self.memory_estimate())
        except MemoryError:
            self.release()
            raise

    @property
    def factor_nnz(self) -> int:
        """Number of nonzeros in the Cholesky factor (after the analysis)."""
        return int(self._iparm[17])

    @property
    def memory_report(self) -> dict[str, int]:
        """PARDISO's memory report after the analysis, in bytes.

        ``analysis_peak`` (``iparm[14]``): peak of the analysis phase; ``permanent``
        (``iparm[15]``): held from the analysis on; ``numeric`` (``iparm[16]``): the numeric
        factorization and solves, allocated by the first factorization and then reused. The
        total peak is ``max(analysis_peak, permanent + numeric)`` (Intel oneMKL reference,
        ``pardiso iparm``). ``numeric`` is a few percent above the factor's values
        (``factor_nnz * 8`` bytes).
        """
        return {
            "analysis_peak": int(self._iparm[14]) * 1024,
            "permanent": int(self._iparm[15]) * 1024,
            "numeric": int(self._iparm[16]) * 1024,
        }

    def memory_estimate(self) -> int:
        """Bytes the first numeric factorization adds: PARDISO's own report (``iparm[16]``)
        times :data:`NUMERIC_MEMORY_FACTOR` plus :data:`NUMERIC_MEMORY_EXTRA`.

        The report leaves out a few MiB of workspace (threads), which the margin covers: this
        estimate exceeded the resident memory that a first factorization added on every grid
        measured, 128x128 to 1024x1024 (BENCHMARKS.md, "Solver memory estimates"). Later
        factorizations reuse that memory.
        """
        numeric = self.memory_report["numeric"]
        return int(self.NUMERIC_MEMORY_FACTOR * numeric) + self.NUMERIC_MEMORY_EXTRA

    def _call(self, phase: int, data: np.ndarray, b: np.ndarray, x: np.ndarray) -> None:
        error = self._error
        error.value = 0
        i32 = ctypes.c_int32
        previous = self._set_threads_local(self.threads)
        try:
            self._pardiso(
                self._pt.ctypes.data,
                ctypes.byref(i32(1)),
                ctypes.byref(i32(1)),
                ctypes.byref(i32(self._MTYPE_SPD)),
                ctypes.byref(i32(phase)),
                ctypes.byref(i32(self.n)),
                data.ctypes.data,
                self.indptr.ctypes.data,
                self.indices.ctypes.data,
                self._perm.ctypes.data,
                ctypes.byref(i32(1)),
                self._iparm.ctypes.data,
                ctypes.byref(i32(0)),
                b.ctypes.data,
                x.ctypes.data,
                ctypes.byref(error),
            )
        finally:
            self._set_threads_local(previous)
        if error.value != 0:
            detail = _PARDISO_ERRORS.get(error.value, "unknown error")
            if error.value in (-4, -7):
                raise _singular(f"PARDISO error {error.value}: {detail}")
            if error.value == -2:
                raise InsufficientMemoryError(
                    f"PARDISO phase {phase} failed with error -2: {detail} (n = {self.n:,}); "
                    'solver="amg" needs O(nnz) memory'
                )
            raise RuntimeError(f"PARDISO phase {phase} failed with error {error.value}: {detail}")

    def factorize(self, data: np.ndarray) -> None:
        with self._lock:
            data = self._check_data(data)
            self._data = data
            self._factorized = False
            self._guard_factorization()
            # A non-positive pivot stops PARDISO with error -4; a singular matrix whose zero
            # pivots come out as positive round-off is caught by the residual check of the
            # first solve.
            self._call(22, data, np.zeros(1), np.zeros(1))
            self._factorized = True

    def _solve(self, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
        x = np.empty(self.n)
        self._call(33, self._data, b, x)
        return x

    def release(self) -> None:
        """Free PARDISO's internal memory (also done when the solver is garbage collected)."""
        if getattr(self, "_analysed", False):
            with self._lock:
                self._analysed = False
                self._factorized = False
                self._memory_held = False
                try:
                    self._call(-1, self._data, np.zeros(1), np.zeros(1))
                except Exception:  # pragma: no cover - best effort at teardown
                    pass

    def __del__(self) -> None:
        self.release()
