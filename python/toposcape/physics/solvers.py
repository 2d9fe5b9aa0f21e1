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
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _core
from ..errors import InvalidInputError, UnderconstrainedProblemError

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
    """

    #: Registry name of the backend.
    name: str = ""
    #: Whether the backend takes only the upper triangle of ``K``.
    upper_triangle: bool = False
    #: Whether a solution is exact to round-off (direct) or to a tolerance (iterative).
    direct: bool = True

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int32)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.n = int(n)
        if self.indptr.shape != (self.n + 1,):
            raise InvalidInputError(f"indptr must have n + 1 = {self.n + 1} entries")
        self.nnz = int(self.indptr[-1])
        self._factorized = False
        self._values = np.zeros(self.nnz)
        self.last_residual = float("nan")
        self.last_refinements = 0

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
        if not self._factorized:
            raise RuntimeError("factorize() must be called before solve()")
        b = np.ascontiguousarray(b, dtype=np.float64)
        if b.shape != (self.n,):
            raise InvalidInputError(f"right-hand side must have shape ({self.n},), got {b.shape}")
        if x0 is not None and np.shape(x0) != (self.n,):
            raise InvalidInputError(f"x0 must have shape ({self.n},), got {np.shape(x0)}")
        x = self._solve(b, x0)
        if self.direct:
            x = self._refine(b, x)
        return x

    #: Residual ``||K x - b|| / ||b||`` above which a direct solution is refined.
    refine_residual = 1e-10
    #: Iterative-refinement steps at most (each one extra solve with the same factors).
    max_refinements = 3
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
            x = x + self._solve(r, None)
            r, residual = self._residual(b, x, bnorm)
            steps += 1
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

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
        super().__init__(indptr, indices, n)
        try:
            import cholespy
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the 'cholmod' solver needs 'pip install cholespy'") from exc
        self._cholespy = cholespy
        self._factor = None
        # cholespy's nanobind signature wants writeable arrays.
        self._indptr_rw = self.indptr.copy()
        self._indices_rw = self.indices.copy()

    def factorize(self, data: np.ndarray) -> None:
        data = self._check_data(data)
        cs = self._cholespy
        self._factorized = False
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

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
        super().__init__(indptr, indices, n)
        self._lu = None

    def factorize(self, data: np.ndarray) -> None:
        data = self._check_data(data)
        self._factorized = False
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

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        n: int,
        near_null_space: np.ndarray | None = None,
        rtol: float = 1e-10,
        maxiter: int = 2000,
    ) -> None:
        super().__init__(indptr, indices, n)
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

    def factorize(self, data: np.ndarray) -> None:
        import pyamg

        data = self._check_data(data)
        self._factorized = False
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
            # pyamg's default dense pseudo-inverse of the coarse level costs seconds per design.
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
    if name not in _BACKENDS:
        raise ValueError(f"unknown solver {name!r}; choose 'auto' or one of {sorted(_BACKENDS)}")
    return name


def solver_class(name: str) -> type[SparseSolver]:
    """The backend class registered as ``name`` (not ``"auto"``)."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown solver {name!r}; choose 'auto' or one of {sorted(_BACKENDS)}")
    return _BACKENDS[name]
