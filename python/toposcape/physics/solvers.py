"""Sparse solvers for the free-DOF stiffness system ``K u = f``.

The sparsity pattern of ``K`` is fixed per problem and its values change per design, so every
solver splits its work in three:

- construction, once per problem: symbolic analysis (fill-reducing ordering, elimination tree)
  where the backend allows it;
- :meth:`SparseSolver.factorize`, once per design: numeric factorization (or the AMG hierarchy);
- :meth:`SparseSolver.solve`, any number of times per design: the compliance solve and one per
  Hessian-vector product reuse the factorization.

Backends (select by name; ``"auto"`` chooses by problem size, see :func:`resolve_solver_name`):

``"pardiso"``
    Intel MKL PARDISO (the runtime the ``pypardiso`` wheel brings) for symmetric positive definite
    matrices, called through a thin ctypes binding so that the three PARDISO phases map onto the
    three steps above: analysis (phase 11) once, numeric factorization (phase 22) per design,
    solves (phase 33). Works on the upper triangle.
``"cholmod"``
    CHOLMOD through ``cholespy``, which bundles it. Its API fuses symbolic and numeric
    factorization, so the analysis is repeated per design; kept for comparison and as a fallback
    where MKL is unavailable.
``"superlu"``
    SciPy's SuperLU in symmetric mode (always available; the slowest direct path).
``"amg"``
    Conjugate gradients preconditioned by pyamg smoothed aggregation built with the rigid-body
    near-null space, warm-started from the previous solution: memory grows linearly with the
    grid, for very large problems.

Memory guard: every backend estimates the memory of its factorization (PARDISO from its own
analysis, the others from the sparsity pattern, see :meth:`SparseSolver.memory_estimate`) and
raises :class:`~toposcape.errors.InsufficientMemoryError` when it exceeds the memory available
(:func:`available_memory`) instead of being ended by the operating system's OOM killer. The
check runs at construction and before the first numeric factorization of a solver, not per
design: from then on the solver holds its factorization's memory.

A solver object is safe to share between threads: a lock per object serializes its
factorizations and solves (PARDISO's handle would be corrupted by concurrent phases).
"""

from __future__ import annotations

import math
import os
import re
import threading
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _core
from ..errors import InsufficientMemoryError, InvalidInputError, UnderconstrainedProblemError

__all__ = [
    "SparseSolver",
    "PardisoSolver",
    "CholmodSolver",
    "SuperLUSolver",
    "AMGSolver",
    "available_solvers",
    "resolve_solver_name",
    "solver_class",
    "AUTO_ITERATIVE_THRESHOLD",
    "MEMORY_LIMIT_ENV",
    "available_memory",
    "set_memory_limit",
]

#: Free-DOF count above which ``solver="auto"`` switches from the direct solver to AMG-CG.
#: Measured on this project's 2-core machines (see BENCHMARKS.md): PARDISO stays faster up to
#: the largest grids the memory allows, so the threshold only guards memory.
AUTO_ITERATIVE_THRESHOLD = 12_000_000


class SparseSolver(ABC):
    """Solve ``K x = b`` for a symmetric positive definite ``K`` with a fixed sparsity pattern.

    Parameters
    ----------
    indptr, indices : ndarray of int32
        CSR pattern of ``K`` (``n + 1`` and ``nnz`` entries, columns sorted within rows): the
        upper triangle when :attr:`upper_triangle` is True, else the full matrix.
    n : int
        Number of rows (free DOFs).
    grid : (width, height), optional
        The grid the system comes from, named in error messages.

    Raises
    ------
    InsufficientMemoryError
        The estimated memory of the factorization (:meth:`memory_estimate`) exceeds
        :func:`available_memory`; checked at construction and again before the first
        numeric factorization.
    """

    #: Registry name of the backend.
    name: str = ""
    #: Whether the backend takes only the upper triangle of ``K``.
    upper_triangle: bool = False
    #: Whether a solution is exact to round-off (direct) or to a tolerance (iterative).
    direct: bool = True
    #: What the memory guard calls the step it checks (in error messages).
    _memory_step = "factorization"

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        *,
        grid: tuple[int, int] | None = None,
    ) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int32)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.n = int(n)
        if self.indptr.shape != (self.n + 1,):
            raise InvalidInputError(f"indptr must have n + 1 = {self.n + 1} entries")
        self.nnz = int(self.indptr[-1])
        self.grid = None if grid is None else (int(grid[0]), int(grid[1]))
        self._factorized = False
        self._values = np.zeros(self.nnz)
        self.last_residual = float("nan")
        self.last_refinements = 0
        # Serializes factorizations and solves of this object between threads (reentrant, so a
        # backend may call solve() or factorize() under it). Uncontended it costs well under a
        # microsecond a call (BENCHMARKS.md).
        self._lock = threading.RLock()
        # Whether a numeric factorization has passed the memory guard: from then on the solver
        # holds (PARDISO) or replaces in place (the others) its factorization's memory.
        self._memory_held = False
        # Entries of the factor estimated from the pattern (pattern-based backends).
        self._fill_estimate: int | None = None
        self._fill_refined = False

    # ----------------------------------------------------------------------------------------
    # memory guard
    def memory_estimate(self) -> int:
        """Bytes the numeric factorization needs beyond what the solver holds already.

        An estimate for the memory guard, not a bound: see each backend for what it counts and
        how it was checked against measured memory.
        """
        return 0

    def _refined_memory_estimate(self) -> int:
        """A tighter, costlier :meth:`memory_estimate`; computed only when the cheap one does
        not fit."""
        return self.memory_estimate()

    def _nnz_full(self) -> int:
        # Entries of the full symmetric matrix (the diagonal is stored).
        return 2 * self.nnz - self.n if self.upper_triangle else self.nnz

    def _pattern_fill(self, refine: bool = False) -> int:
        """Entries of the factor estimated from the pattern: the nested-dissection fill of a
        square grid with as many unknowns (see ``_nested_dissection_fill``); with ``refine``,
        capped by the envelope under reverse Cuthill-McKee, an upper bound for that ordering
        that is smaller on long, thin grids (O(nnz) work, so computed only when needed)."""
        if self._fill_estimate is None:
            self._fill_estimate = _nested_dissection_fill(self.n)
        if refine and not self._fill_refined:
            envelope = _rcm_envelope(self.indptr, self.indices, self.n, self.upper_triangle)
            self._fill_estimate = min(self._fill_estimate, envelope)
            self._fill_refined = True
        return self._fill_estimate

    def _check_memory(self, step: str, estimate: int, refined=None, at_least: bool = False) -> None:
        """Raise :class:`InsufficientMemoryError` if ``estimate`` bytes exceed the available.

        ``refined``: a function returning a tighter estimate, called only when ``estimate``
        does not fit. ``at_least``: the estimate is a lower one (worded so in the message).
        """
        available, source = _available_memory()
        if available is None or estimate <= available:
            return
        if refined is not None:
            estimate = refined()
            if estimate <= available:
                return
        if self.grid is not None:
            size = f"the {self.grid[0]}x{self.grid[1]} grid ({self.n:,} unknowns)"
        else:
            size = f"a system of {self.n:,} unknowns"
        needs = "needs at least" if at_least else "needs"
        message = (
            f"the {step} of {size} {needs} an estimated {_format_bytes(estimate)} of memory, "
            f"but {_format_bytes(available)} is available ({source})."
        )
        if self.direct:
            amg = _amg_estimate(self.n, self._nnz_full())
            if amg <= available:
                message += (
                    f' Use solver="amg": AMG-CG needs only O(nnz) memory, about '
                    f"{_format_bytes(amg)} here."
                )
            else:
                message += (
                    f' solver="amg" (AMG-CG, whose memory grows only as O(nnz)) would need about '
                    f"{_format_bytes(amg)} here, which does not fit either: use a smaller grid "
                    "or a machine with more memory."
                )
        else:
            message += " Use a smaller grid or a machine with more memory."
        raise InsufficientMemoryError(message, estimate=estimate, available=available)

    def _guard_factorization(self) -> None:
        """The memory check before a numeric factorization, until one has passed it."""
        if not self._memory_held:
            self._check_memory(
                self._memory_step, self.memory_estimate(), self._refined_memory_estimate
            )
            self._memory_held = True

    @abstractmethod
    def factorize(self, data: np.ndarray) -> None:
        """Numeric factorization of the matrix with CSR values ``data`` (nnz,)."""

    @abstractmethod
    def _solve(self, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray: ...

    def solve(self, b: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
        """Solve ``K x = b`` with the current factorization.

        Parameters
        ----------
        b : ndarray (n,)
            Right-hand side.
        x0 : ndarray (n,), optional
            Initial guess; used by iterative backends (warm start), ignored by direct ones.

        Returns
        -------
        x : ndarray (n,) float64
        """
        b = np.ascontiguousarray(b, dtype=np.float64)
        if b.shape != (self.n,):
            raise InvalidInputError(f"right-hand side must have shape ({self.n},), got {b.shape}")
        if x0 is not None and np.shape(x0) != (self.n,):
            raise InvalidInputError(f"x0 must have shape ({self.n},), got {np.shape(x0)}")
        with self._lock:
            if not self._factorized:
                raise RuntimeError("factorize() must be called before solve()")
            x = self._solve(b, x0)
            if self.direct:
                x = self._refine(b, x)
        return x

    #: Residual ``||K x - b|| / ||b||`` above which a direct solution is refined.
    refine_residual = 1e-10
    #: Iterative-refinement steps at most (each one extra solve with the same factors).
    max_refinements = 3
    #: Refinement stops once a step leaves more than this fraction of the residual: in double
    #: precision it has then reached the level that the conditioning allows (LAPACK's
    #: ``xPORFS`` stops likewise when the backward error no longer halves). A step that does
    #: not lower the residual at all is discarded. On CNN designs of problem D the residual of
    #: the first solve stalls near 1e-9 (6.9e-10 after one step, 6.8e-10 and 7.2e-10 after two
    #: more), so the old rule spent three wasted solves there.
    refine_stall = 0.5
    #: Residual that remains after refinement only when ``K`` is singular. A factorization of a
    #: singular matrix (a rigid-body mode left free) can complete with round-off pivots and
    #: return O(1e15) displacements with an O(1) residual that refinement cannot reduce.
    #: Genuine designs stay far below, but not arbitrarily far: CNN designs with solid islands
    #: held only by void (E_min = 1e-9) reach cond(K) ~ 1e13, where the residual of a
    #: backward-stable solve, computed in double precision, stalls near 4e-6 of ||b||.
    #: Problems built through :class:`~toposcape.problems.Problem` cannot be singular (its
    #: supports are checked exactly); this guards hand-made matrices of the low-level API.
    singular_residual = 1e-2

    def _residual(self, b: np.ndarray, x: np.ndarray, bnorm: float) -> tuple[np.ndarray, float]:
        r = _core.csr_residual(self.indptr, self.indices, self._values, x, b, self.upper_triangle)
        return r, _norm(r) / bnorm

    def _refine(self, b: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Check a direct solution's residual; refine it; reject a singular ``K``."""
        bnorm = _norm(b)
        if bnorm == 0.0:
            return x
        r, residual = self._residual(b, x, bnorm)
        steps = 0
        while (
            residual > self.refine_residual
            and steps < self.max_refinements
            and np.isfinite(residual)
        ):
            refined = x + self._solve(r, None)
            r_refined, refined_residual = self._residual(b, refined, bnorm)
            steps += 1
            if not refined_residual < residual:  # no gain: keep the better solution
                break
            stalled = refined_residual > self.refine_stall * residual
            x, r, residual = refined, r_refined, refined_residual
            if stalled:
                break
        #: Relative residual of the last solve, after refinement.
        self.last_residual = residual
        #: Refinement steps of the last solve.
        self.last_refinements = steps
        if not np.isfinite(residual) or residual > self.singular_residual:
            self._factorized = False
            raise _singular(f"relative residual {residual:.2g} after {steps} refinement steps")
        return x

    def _check_data(self, data: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(data, dtype=np.float64)
        if data.shape != (self.nnz,):
            raise InvalidInputError(
                f"matrix values must have shape ({self.nnz},), got {data.shape}"
            )
        if not np.all(np.isfinite(data)):
            raise InvalidInputError("matrix values contain NaN or inf")
        # Kept (not copied) for the residual checks and, for PARDISO, because the library keeps
        # pointers to the values between phases.
        self._values = data
        return data

    def _full_matrix(self, data: np.ndarray) -> sp.csr_matrix:
        # Copies: the pattern arrays are read-only views of the core's, and some consumers
        # (pyamg) clean matrices in place.
        return sp.csr_matrix(
            (data.copy(), self.indices.copy(), self.indptr.copy()), shape=(self.n, self.n)
        )


def _norm(v: np.ndarray) -> float:
    # Single-threaded (the core's): a threaded BLAS level-1 call waits for busy cores.
    return float(np.sqrt(_core.dot(v, v)))


def _singular(detail: str) -> UnderconstrainedProblemError:
    return UnderconstrainedProblemError(
        "the stiffness matrix is not positive definite (" + detail + "): the supports leave a "
        "rigid-body motion free or the element moduli are not positive"
    )


# --------------------------------------------------------------------------------------------
# Memory guard
# --------------------------------------------------------------------------------------------

#: Environment variable that overrides the memory available to a factorization: bytes, or a
#: number with a unit K, M, G or T (powers of 1024; ``"512M"``, ``"1.5GiB"`` and ``"2gb"`` all
#: work). :func:`set_memory_limit` takes precedence over it.
MEMORY_LIMIT_ENV = "TOPOSCAPE_MEMORY_LIMIT"

_memory_limit: int | None = None  # set_memory_limit's value; None: the environment decides

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
#: Limits at or above this mean "no limit" (cgroup v1 reports ~2**63 when none is set).
_NO_LIMIT = 1 << 60


def _parse_size(value: int | float | str, what: str) -> int:
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise InvalidInputError(
                f"{what} must be a number of bytes, optionally with a unit K, M, G or T "
                f"(powers of 1024), got {value!r}"
            )
        number = float(match.group(1)) * _UNITS[match.group(2).lower()]
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise InvalidInputError(f"{what} must be a number of bytes or a string, got {value!r}")
    if not math.isfinite(number) or number < 0:
        raise InvalidInputError(f"{what} must be a finite number of bytes >= 0, got {value!r}")
    return int(number)


def set_memory_limit(limit: int | str | None) -> None:
    """Override the memory the solvers may use for a factorization, or restore the default.

    Parameters
    ----------
    limit : int, str or None
        Bytes (``2 * 2**30``), or a string with a unit (``"2G"``, ``"512MiB"``; powers of
        1024). ``None``: use :data:`MEMORY_LIMIT_ENV` if set, else what the system reports
        (see :func:`available_memory`). Applies to solvers built, and first factorizations
        run, from now on.
    """
    global _memory_limit
    _memory_limit = None if limit is None else _parse_size(limit, "the memory limit")


def _read_meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == b"max":
        return _NO_LIMIT
    try:
        return int(text)
    except ValueError:
        return None


def _cgroup_dirs() -> list[tuple[str, str, str]]:
    """(directory, limit file, usage file) of this process's memory cgroup and its ancestors,
    for cgroup v2 and v1, as far as they are visible in this (possibly namespaced) mount."""
    dirs = []
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            root, files = "/sys/fs/cgroup", ("memory.max", "memory.current")
        elif "memory" in parts[1].split(","):
            root, files = (
                "/sys/fs/cgroup/memory",
                ("memory.limit_in_bytes", "memory.usage_in_bytes"),
            )
        else:
            continue
        path = parts[2].strip("/")
        while True:
            dirs.append((os.path.join(root, path) if path else root, *files))
            if not path:
                break
            path = os.path.dirname(path)
    return dirs


_cgroup_files: list[tuple[str, str]] | None = None  # (limit, usage) files that exist


def _cgroup_available() -> int | None:
    """The smallest ``limit - usage`` over this process's memory cgroups, None if unlimited."""
    global _cgroup_files
    if _cgroup_files is None:  # the cgroup a process is in does not change: look it up once
        _cgroup_files = [
            (os.path.join(directory, limit_file), os.path.join(directory, usage_file))
            for directory, limit_file, usage_file in _cgroup_dirs()
            if os.path.exists(os.path.join(directory, limit_file))
        ]
    best = None
    for limit_path, usage_path in _cgroup_files:
        limit = _read_int(limit_path)
        if limit is None or limit >= _NO_LIMIT:
            continue
        usage = _read_int(usage_path) or 0
        room = max(limit - usage, 0)
        best = room if best is None else min(best, room)
    return best


def _available_memory() -> tuple[int | None, str]:
    """Bytes available to a factorization and where the number comes from."""
    if _memory_limit is not None:
        return _memory_limit, "the limit set by toposcape.physics.solvers.set_memory_limit"
    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env:
        return _parse_size(env, MEMORY_LIMIT_ENV), f"the limit set by {MEMORY_LIMIT_ENV}={env}"
    meminfo = _read_meminfo_available()
    cgroup = _cgroup_available()
    if cgroup is not None and (meminfo is None or cgroup < meminfo):
        return cgroup, "this process's cgroup memory limit minus its usage"
    if meminfo is not None:
        return meminfo, "MemAvailable in /proc/meminfo"
    return None, "unknown"


def available_memory() -> int | None:
    """Bytes of memory a factorization may use now; None where the system does not say.

    In order: the value of :func:`set_memory_limit`; the environment variable
    :data:`MEMORY_LIMIT_ENV`; otherwise the smaller of ``MemAvailable`` in ``/proc/meminfo``
    and, where this process runs in a memory-limited cgroup (v2 ``memory.max`` or v1
    ``memory.limit_in_bytes``, this cgroup and its ancestors), the limit minus the usage.
    Reading it costs tens of microseconds, so the solvers call it once per solver (at
    construction and before their first numeric factorization), not per design.
    """
    return _available_memory()[0]


def _format_bytes(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / (1 << 10):.1f} KiB"


def _nested_dissection_fill(n: int) -> int:
    """Entries of the Cholesky factor of a square 2-D grid of ``n`` unknowns under nested
    dissection: ``7 n log2 n`` (the theory's ``c n log n`` for a 2-D grid, George 1973, with
    ``c`` above the fill METIS reaches on this project's grids, PARDISO's ``factor_nnz``, see
    BENCHMARKS.md). Long grids fill less than square ones of the same size, so it is above
    their fill too."""
    return int(7.0 * n * math.log2(max(n, 2)))


def _rcm_envelope(indptr: np.ndarray, indices: np.ndarray, n: int, upper: bool = False) -> int:
    """Entries of the lower envelope (profile, diagonal included) of a symmetric pattern
    (full, or its upper triangle with ``upper``) under a reverse Cuthill-McKee ordering: an
    upper bound on the Cholesky factor's entries under that ordering (fill stays inside the
    envelope). O(nnz) time and memory."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    pattern = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n, n), copy=False
    )
    if upper:
        pattern = (pattern + pattern.T).tocsr()
        pattern.sort_indices()
        indptr, indices = pattern.indptr, pattern.indices
    perm = reverse_cuthill_mckee(pattern, symmetric_mode=True)
    position = np.empty(n, dtype=np.int64)
    position[perm] = np.arange(n)
    first = np.minimum.reduceat(position[indices], indptr[:-1].astype(np.int64))
    return int(np.sum(position - np.minimum(position, first))) + n


def _amg_estimate(n: int, nnz_full: int) -> int:
    """Peak bytes of a smoothed-aggregation hierarchy (AMGSolver settings) for a matrix with
    ``nnz_full`` stored entries: 96 bytes per entry (above the measured peak while building
    it, BENCHMARKS.md), plus the CG vectors."""
    return 96 * nnz_full + 64 * n


# The PARDISO backend lives in its own module (the ctypes binding); imported here, after the
# base class it extends, so that this module's registry and ``solvers.PardisoSolver`` have it.
from .pardiso import PardisoSolver, _mkl  # noqa: E402

# --------------------------------------------------------------------------------------------
# CHOLMOD (cholespy), SuperLU, AMG
# --------------------------------------------------------------------------------------------


class CholmodSolver(SparseSolver):
    """CHOLMOD supernodal Cholesky through ``cholespy`` (symbolic + numeric per design)."""

    name = "cholmod"
    upper_triangle = False
    _memory_step = "CHOLMOD factorization"
    #: Bytes per factor entry of :meth:`memory_estimate`: above the measured peak memory of a
    #: factorization per entry of the pattern estimate, 128x128 to 512x512 (BENCHMARKS.md).
    BYTES_PER_FILL_ENTRY = 18

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        *,
        grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(indptr, indices, n, grid=grid)
        try:
            import cholespy
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the 'cholmod' solver needs 'pip install cholespy'") from exc
        self._cholespy = cholespy
        self._factor = None
        # cholespy's nanobind signature wants writeable arrays.
        self._indptr_rw = self.indptr.copy()
        self._indices_rw = self.indices.copy()
        self._check_memory(self._memory_step, self.memory_estimate(), self._refined_memory_estimate)

    def memory_estimate(self) -> int:
        """Peak bytes of a factorization: :data:`BYTES_PER_FILL_ENTRY` per entry of the factor
        estimated from the pattern (:meth:`SparseSolver._pattern_fill`; CHOLMOD orders with
        AMD, not the nested dissection the estimate assumes), plus cholespy's copy of the
        matrix. The previous design's factor is freed before the next one is built."""
        return self.BYTES_PER_FILL_ENTRY * self._pattern_fill() + 12 * self.nnz

    def _refined_memory_estimate(self) -> int:
        self._pattern_fill(refine=True)
        return self.memory_estimate()

    def factorize(self, data: np.ndarray) -> None:
        with self._lock:
            data = self._check_data(data)
            cs = self._cholespy
            self._factorized = False
            self._guard_factorization()
            self._factor = None  # free the previous factor before building the next
            try:
                self._factor = cs.CholeskySolverD(
                    self.n, self._indptr_rw, self._indices_rw, data, cs.MatrixType.CSR
                )
            except (ValueError, RuntimeError) as exc:
                raise _singular(f"CHOLMOD: {exc}") from exc
            self._factorized = True

    def _solve(self, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
        x = np.empty(self.n)
        self._factor.solve(b, x)
        return x


class SuperLUSolver(SparseSolver):
    """SciPy's SuperLU in symmetric mode (minimum degree on ``A^T + A``, diagonal pivots)."""

    name = "superlu"
    upper_triangle = False
    _memory_step = "SuperLU factorization"

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        *,
        grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(indptr, indices, n, grid=grid)
        self._lu = None
        self._check_memory(self._memory_step, self.memory_estimate(), self._refined_memory_estimate)

    def memory_estimate(self) -> int:
        """Peak bytes of a factorization: ``4 log2(n) - 10`` bytes (at least 40) per entry of
        the factor estimated from the pattern (:meth:`SparseSolver._pattern_fill`), plus the
        CSR and CSC copies of the matrix. The previous design's factors are freed first.

        SuperLU stores both ``L`` and ``U``, and its minimum-degree ordering's fill grows
        faster than nested dissection's, so the measured peak per estimated entry grows with
        ``n`` (about linearly in ``log2 n``, 128x128 to 640x640, BENCHMARKS.md); this estimate
        stays above those measurements.
        """
        per_entry = max(40.0, 4.0 * math.log2(max(self.n, 2)) - 10.0)
        return int(per_entry * self._pattern_fill()) + 24 * self.nnz + 8 * self.n

    def _refined_memory_estimate(self) -> int:
        self._pattern_fill(refine=True)
        return self.memory_estimate()

    def factorize(self, data: np.ndarray) -> None:
        with self._lock:
            data = self._check_data(data)
            self._factorized = False
            self._guard_factorization()
            self._lu = None  # free the previous factors before computing the next
            K = self._full_matrix(data).tocsc()
            try:
                self._lu = spla.splu(
                    K,
                    permc_spec="MMD_AT_PLUS_A",
                    diag_pivot_thresh=0.0,
                    options={"SymmetricMode": True},
                )
            except RuntimeError as exc:
                raise _singular(f"SuperLU: {exc}") from exc
            diag = self._lu.U.diagonal()
            if not np.all(diag > 0):
                raise _singular("SuperLU found a non-positive pivot")
            self._factorized = True

    def _solve(self, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
        return self._lu.solve(b)


class AMGSolver(SparseSolver):
    """CG preconditioned by smoothed-aggregation AMG with rigid-body near-null space.

    Parameters
    ----------
    near_null_space : ndarray (n, 3), optional
        Rigid-body modes restricted to the free DOFs (translations in x and y, rotation).
        Without it the constant vectors per component are used.
    rtol : float
        Relative residual tolerance of CG (``||b - K x|| <= rtol ||b||``).
    maxiter : int
        Most CG iterations per solve; not converging raises ``RuntimeError``.
    """

    name = "amg"
    upper_triangle = False
    direct = False
    _memory_step = "AMG hierarchy construction"

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        near_null_space: np.ndarray | None = None,
        rtol: float = 1e-10,
        maxiter: int = 2000,
        *,
        grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(indptr, indices, n, grid=grid)
        if near_null_space is not None:
            near_null_space = np.ascontiguousarray(near_null_space, dtype=np.float64)
            if near_null_space.ndim != 2 or near_null_space.shape[0] != n:
                raise InvalidInputError(f"near_null_space must have shape ({n}, k)")
        self.near_null_space = near_null_space
        self.rtol = float(rtol)
        self.maxiter = int(maxiter)
        self._hierarchy = None
        self._K = None
        #: CG iterations of the last solve.
        self.last_iterations = 0
        self._check_memory(self._memory_step, self.memory_estimate(), self._refined_memory_estimate)

    def memory_estimate(self) -> int:
        """Peak bytes of building the hierarchy: O(nnz), 96 bytes per stored entry (see
        ``_amg_estimate``). The previous design's hierarchy is freed first."""
        return _amg_estimate(self.n, self.nnz)

    def factorize(self, data: np.ndarray) -> None:
        import pyamg

        with self._lock:
            data = self._check_data(data)
            self._factorized = False
            self._guard_factorization()
            self._hierarchy = self._K = None  # free the previous hierarchy first
            self._K = self._full_matrix(data)
            diag = self._K.diagonal()
            if not np.all(diag > 0):
                raise _singular("non-positive diagonal entry")
            self._hierarchy = pyamg.smoothed_aggregation_solver(
                self._K,
                B=self.near_null_space,
                symmetry="symmetric",
                # Measured on optimized MBB designs with half the cells void (E = 1e-9): a small
                # strength threshold and energy-minimising prolongation smoothing converge in
                # ~15 CG iterations, where the default settings need 30-50 (BENCHMARKS.md).
                strength=("symmetric", {"theta": 0.02}),
                smooth=("energy", {"degree": 2}),
                max_coarse=500,
                # pyamg's default dense pseudo-inverse of the coarse level costs seconds per
                # design.
                coarse_solver="splu",
            )
            self._factorized = True

    def _solve(self, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
        residuals: list[float] = []
        x = self._hierarchy.solve(
            b,
            x0=x0,
            tol=self.rtol,
            maxiter=self.maxiter,
            accel="cg",
            residuals=residuals,
        )
        self.last_iterations = max(len(residuals) - 1, 0)
        bnorm = np.linalg.norm(b)
        if bnorm > 0 and np.linalg.norm(b - self._K @ x) > 10 * self.rtol * bnorm:
            raise RuntimeError(
                f"AMG-CG did not reach rtol={self.rtol:g} in {self.maxiter} iterations"
            )
        return x


_BACKENDS: dict[str, type[SparseSolver]] = {
    "pardiso": PardisoSolver,
    "cholmod": CholmodSolver,
    "superlu": SuperLUSolver,
    "amg": AMGSolver,
}


def available_solvers() -> list[str]:
    """Names of the backends usable in this environment, in order of preference."""
    names = []
    if _mkl() is not None:
        names.append("pardiso")
    try:
        import cholespy  # noqa: F401

        names.append("cholmod")
    except ImportError:
        pass
    names += ["superlu", "amg"]
    return names


def resolve_solver_name(name: str, n_free: int) -> str:
    """The backend that ``name`` selects for a system with ``n_free`` unknowns."""
    if name == "auto":
        if n_free > AUTO_ITERATIVE_THRESHOLD:
            return "amg"
        return available_solvers()[0]
    return _lookup_solver(name)


def solver_class(name: str) -> type[SparseSolver]:
    """The backend class registered as ``name`` (not ``"auto"``)."""
    return _BACKENDS[_lookup_solver(name)]


def _lookup_solver(name: str) -> str:
    from .. import _validate

    return _validate.lookup(
        name, sorted(_BACKENDS), "solver", hint=f"choose 'auto' or one of {sorted(_BACKENDS)}"
    )
