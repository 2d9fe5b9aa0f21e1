"""SIMP compliance of a structured-grid problem with exact gradients and Hessian-vector products.

:class:`Compliance` is the physics in density space: ``c(x) = f^T u`` with ``K(x) u = f``,
``K(x) = sum_e E(x_e) KE``. The sparsity pattern, scatter map and symbolic factorization are
built once per instance (per problem); the numeric factorization once per design, then reused by
the gradient (free: the problem is self-adjoint) and by every Hessian-vector product at that
design (one extra solve each).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _core, _validate
from ..errors import InvalidInputError
from .element import E_0, E_MIN, element_stiffness, simp_modulus
from .kernels import element_bilinear, element_energies, scatter_element_loads
from .solvers import AMGSolver, SparseSolver, resolve_solver_name, solver_class

__all__ = [
    "Compliance",
    "FieldState",
    "assemble_stiffness",
    "compliance_sensitivities",
    "solve_displacements",
]


class FieldState:
    """The physics at one design: moduli, displacements and element energies.

    Attributes
    ----------
    x : ndarray (H, W)
        Physical densities.
    young, dyoung, d2young : ndarray (H, W)
        ``E(x)``, ``E'(x)``, ``E''(x)``.
    u : ndarray (n_dofs,)
        Displacements on all DOFs (0 at fixed DOFs).
    energies : ndarray (H, W)
        ``u_e^T KE u_e``.
    compliance : float
        ``f^T u``.
    """

    __slots__ = ("x", "young", "dyoung", "d2young", "u", "energies", "compliance")

    def __init__(self, x, young, dyoung, d2young, u, energies, compliance):
        self.x = x
        self.young = young
        self.dyoung = dyoung
        self.d2young = d2young
        self.u = u
        self.energies = energies
        self.compliance = compliance

    @property
    def gradient(self) -> np.ndarray:
        """``dc/dx_e = -E'(x_e) u_e^T KE u_e``, (H, W)."""
        return -self.dyoung * self.energies


class Compliance:
    """Compliance ``c(x)`` of a problem as a function of the physical densities ``x`` (H, W).

    Parameters
    ----------
    problem : toposcape.problems.Problem
        Grid, supports, loads.
    penal : float
        SIMP penalty ``p`` >= 1 (3 by default; 1 makes the problem convex).
    solver : str
        ``"auto"`` or a backend of :mod:`toposcape.physics.solvers` (``"pardiso"``,
        ``"cholmod"``, ``"superlu"``, ``"amg"``).
    e_min, e_0 : float
        Moduli of void and solid.
    poisson : float
        Poisson's ratio of the element.

    Notes
    -----
    The most recently evaluated design is cached: :meth:`value_and_grad` followed by any
    number of :meth:`hvp` calls at the same ``x`` factorizes once.
    """

    def __init__(
        self,
        problem,
        penal: float = 3.0,
        solver: str = "auto",
        e_min: float = E_MIN,
        e_0: float = E_0,
        poisson: float = 0.3,
    ) -> None:
        who = "Compliance"
        problem = _validate.problem(problem, who=who)
        penal = _validate.real(penal, "penal", minimum=1.0, who=who)
        e_min = _validate.real(e_min, "e_min", minimum=0.0, lower_open=True, who=who)
        e_0 = _validate.real(e_0, "e_0", minimum=e_min, lower_open=True, who=who)
        if not isinstance(solver, str):
            raise TypeError(f"{who}: solver must be a string, got {_validate.given(solver)}")
        self.problem = problem
        self.penal = float(penal)
        self.e_min = float(e_min)
        self.e_0 = float(e_0)
        self.height = int(problem.height)
        self.width = int(problem.width)
        self.shape = (self.height, self.width)
        self.ke = element_stiffness(1.0, poisson)

        n_dofs = 2 * (self.width + 1) * (self.height + 1)
        self.free_dofs = np.asarray(problem.free_dofs, dtype=np.int64)
        free_index = np.full(n_dofs, -1, dtype=np.int64)
        free_index[self.free_dofs] = np.arange(self.free_dofs.size)
        self._forces_free = np.asarray(problem.forces, dtype=np.float64)[self.free_dofs]
        self.n_dofs = n_dofs

        self.solver_name = resolve_solver_name(solver, self.free_dofs.size)
        backend = solver_class(self.solver_name)
        self.pattern = _core.build_stiffness_pattern(
            self.width, self.height, free_index, backend.upper_triangle
        )
        # The solver checks at construction that its factorization fits in memory (raising
        # InsufficientMemoryError otherwise); the grid is named in that message.
        grid = (self.width, self.height)
        if backend is AMGSolver:
            self.solver: SparseSolver = AMGSolver(
                self.pattern.indptr,
                self.pattern.indices,
                self.pattern.n_free,
                near_null_space=self._rigid_body_modes(),
                grid=grid,
            )
        else:
            self.solver = backend(
                self.pattern.indptr, self.pattern.indices, self.pattern.n_free, grid=grid
            )
        self._data = np.empty(self.pattern.nnz)
        self._state: FieldState | None = None
        self._last_u_free: np.ndarray | None = None
        self._last_w_free: np.ndarray | None = None
        #: Numeric factorizations and solves performed so far (for tests and profiling).
        self.n_factorizations = 0
        self.n_solves = 0

    # ----------------------------------------------------------------------------------------
    def _rigid_body_modes(self) -> np.ndarray:
        dof = self.free_dofs
        node = dof // 2
        comp = dof % 2
        xi = (node // (self.height + 1)).astype(np.float64)
        yj = (node % (self.height + 1)).astype(np.float64)
        xi -= 0.5 * self.width
        yj -= 0.5 * self.height
        return np.column_stack(
            [(comp == 0).astype(float), (comp == 1).astype(float), np.where(comp == 0, -yj, xi)]
        )

    def _check_density(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        x = _validate.array(x, name, self.shape)
        if x.min() < 0.0:
            raise InvalidInputError(f"{name} has negative densities (min {x.min():g})")
        return x

    def _check_direction(self, v: np.ndarray) -> np.ndarray:
        return _validate.array(v, "v", self.shape)

    # ----------------------------------------------------------------------------------------
    def stiffness_values(self, x: np.ndarray) -> np.ndarray:
        """CSR values of ``K_ff(x)`` over :attr:`pattern` (upper triangle for PARDISO)."""
        x = self._check_density(x)
        young, _, _ = simp_modulus(x, self.penal, self.e_min, self.e_0)
        return self.pattern.assemble(self.ke, young.ravel())

    def state(self, x: np.ndarray) -> FieldState:
        """Factorize ``K(x)``, solve for the displacements and cache the result.

        Parameters
        ----------
        x : ndarray (H, W)
            Physical densities, finite and >= 0.
        """
        x = self._check_density(x)
        cached = self._state
        if cached is not None and np.array_equal(cached.x, x):
            return cached
        young, dyoung, d2young = simp_modulus(x, self.penal, self.e_min, self.e_0)
        self.pattern.assemble(self.ke, young.ravel(), self._data)
        self._state = None
        self.solver.factorize(self._data)
        self.n_factorizations += 1
        u_free = self.solver.solve(self._forces_free, x0=self._last_u_free)
        self.n_solves += 1
        self._last_u_free = u_free
        u = np.zeros(self.n_dofs)
        u[self.free_dofs] = u_free
        energies = element_energies(self.ke, u, self.height, self.width)
        compliance = _core.dot(self._forces_free, u_free)
        self._state = FieldState(x.copy(), young, dyoung, d2young, u, energies, compliance)
        return self._state

    def value(self, x: np.ndarray) -> float:
        """Compliance ``c(x) = f^T u`` (float)."""
        return self.state(x).compliance

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Compliance and its gradient ``dc/dx`` (H, W) at densities ``x`` (H, W)."""
        st = self.state(x)
        return st.compliance, st.gradient

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Hessian-vector product ``(d^2 c/dx^2) v``, (H, W), by the second-order adjoint.

        ``r = sum_j v_j E'(x_j) KE u_j``, ``w = K^{-1} r`` (one solve with the cached
        factorization), ``(H v)_e = 2 E'(x_e) u_e^T KE w_e - E''(x_e) v_e u_e^T KE u_e``.
        """
        st = self.state(x)
        v = self._check_direction(v)
        # The product is linear in v: a v near the ends of the float range is scaled by a power
        # of two (exact) so that the second-order solve neither overflows nor underflows.
        peak = float(np.max(np.abs(v))) if v.size else 0.0
        if peak > 2.0**500 or 0.0 < peak < 2.0**-500:
            scale = float(np.ldexp(1.0, int(np.frexp(peak)[1]) - 1))
            with np.errstate(over="ignore"):
                out = self.hvp(x, v / scale) * scale
            if not np.all(np.isfinite(out)):
                raise InvalidInputError(
                    f"hvp: the Hessian-vector product overflows float64 for this v "
                    f"(max |v| = {peak:g}); scale v down"
                )
            return out
        if np.any(np.isinf(st.d2young) & (v != 0)):
            raise InvalidInputError(
                f"the Hessian is unbounded here: E''(x) is infinite at zero density for "
                f"1 < penal < 2 (penal = {self.penal:g}) and v moves a zero-density cell"
            )
        w_free = self._solve_second_order(st, v)
        w = np.zeros(self.n_dofs)
        w[self.free_dofs] = w_free
        cross = element_bilinear(self.ke, st.u, w, self.height, self.width)
        curvature = st.d2young * v
        curvature[v == 0] = 0.0  # E'' may be infinite where v = 0 (x = 0, 1 < p < 2)
        return 2.0 * st.dyoung * cross - curvature * st.energies

    def _solve_second_order(self, st: FieldState, v: np.ndarray) -> np.ndarray:
        r = scatter_element_loads(self.ke, st.u, v * st.dyoung, self.height, self.width)
        w_free = self.solver.solve(r[self.free_dofs], x0=self._last_w_free)
        self.n_solves += 1
        if not self.solver.direct:
            self._last_w_free = w_free
        return w_free

    # ----------------------------------------------------------------------------------------
    def stiffness_matrix(self, x: np.ndarray, free_only: bool = True) -> sp.csr_matrix:
        """The assembled stiffness matrix as a full symmetric SciPy CSR matrix.

        Parameters
        ----------
        x : ndarray (H, W)
            Physical densities.
        free_only : bool
            True: ``K_ff`` over the free DOFs (``n_free x n_free``, the matrix that is solved).
            False: the full ``n_dofs x n_dofs`` matrix before supports are applied.
        """
        x = self._check_density(x)
        young, _, _ = simp_modulus(x, self.penal, self.e_min, self.e_0)
        if free_only:
            index = np.full(self.n_dofs, -1, dtype=np.int64)
            index[self.free_dofs] = np.arange(self.free_dofs.size)
        else:
            index = np.arange(self.n_dofs, dtype=np.int64)
        pattern = _core.build_stiffness_pattern(self.width, self.height, index, False)
        data = pattern.assemble(self.ke, young.ravel())
        n = pattern.n_free
        return sp.csr_matrix((data, pattern.indices.copy(), pattern.indptr.copy()), shape=(n, n))


# --------------------------------------------------------------------------------------------
# One-call conveniences for embedding the physics in other codes. For repeated evaluations on
# one problem, keep a Compliance object instead: it holds the pattern and the symbolic analysis.
# --------------------------------------------------------------------------------------------


def assemble_stiffness(
    problem, x: np.ndarray, penal: float = 3.0, free_only: bool = True
) -> sp.csr_matrix:
    """Stiffness matrix ``K(x) = sum_e E(x_e) KE`` of ``problem`` as SciPy CSR.

    Parameters
    ----------
    problem : toposcape.problems.Problem
    x : ndarray (H, W)
        Physical densities (>= 0).
    penal : float
        SIMP penalty.
    free_only : bool
        True: ``K_ff`` over the free DOFs (``problem.free_dofs`` order). False: all
        ``2 (W+1) (H+1)`` DOFs, supports not applied.

    Returns
    -------
    scipy.sparse.csr_matrix, symmetric
    """
    return Compliance(problem, penal=penal, solver="superlu").stiffness_matrix(x, free_only)


def solve_displacements(
    problem, x: np.ndarray, penal: float = 3.0, solver: str = "auto"
) -> np.ndarray:
    """Displacements ``u`` (``2 (W+1) (H+1)``,) solving ``K(x) u = f``, 0 on fixed DOFs."""
    return Compliance(problem, penal=penal, solver=solver).state(x).u.copy()


def compliance_sensitivities(
    x: np.ndarray, energies: np.ndarray, penal: float = 3.0, e_min: float = E_MIN, e_0: float = E_0
) -> np.ndarray:
    """``dc/dx_e = -E'(x_e) u_e^T KE u_e`` from element energies (both (H, W))."""
    who = "compliance_sensitivities"
    x = _validate.array(x, "x", who=who)
    energies = _validate.array(energies, "energies", x.shape, who=who)
    penal = _validate.real(penal, "penal", minimum=1.0, who=who)
    _, dyoung, _ = simp_modulus(x, penal, e_min, e_0)
    return -dyoung * energies
