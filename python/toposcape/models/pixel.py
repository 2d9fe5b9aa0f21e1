"""The pixel model: the parameters are the logits (or the densities) of every cell."""

from __future__ import annotations

import functools
import threading

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from ..physics.compliance import Compliance
from ..physics.filter import ConeFilter
from ..physics.sigmoid import SigmoidState, VolumeSigmoid

__all__ = ["PixelObjective"]


def _synchronized(method):
    """Run ``method`` under the objective's lock: one evaluation at a time per objective.

    An objective caches the last design and its factorization; two threads evaluating one
    objective at once would mix those caches. Separate objectives run in parallel freely.
    """

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class PixelObjective:
    """Compliance of a problem as a function of per-cell parameters ``theta`` (the pixel model).

    With ``volume_constraint=True`` (the benchmark formulation) ``theta`` are logits ``z``:
    ``theta -> z (H, W) -> volume-constrained sigmoid -> cone filter -> SIMP compliance``, and
    every design meets the problem's density exactly. With ``volume_constraint=False``
    ``theta`` are densities in [0, 1]: ``x_v = theta * mask -> cone filter -> compliance``, for
    optimizers that enforce the volume themselves (MMA, OC).

    Parameters
    ----------
    problem : toposcape.problems.Problem or str
        The problem, or the name of a suite problem (``toposcape.problems.names()``).
    penal : float
        SIMP penalty (3 by default; 1 makes the density-space problem convex).
    volume_constraint : bool
        See above.
    solver : str
        Sparse solver backend (``"auto"``, ``"pardiso"``, ``"cholmod"``, ``"superlu"``, ``"amg"``).
    filter_radius : float
        Cone filter radius in elements (2 in the benchmark).

    Attributes
    ----------
    size : int
        ``H * W``; ``theta`` is ``z.ravel()`` in C order of ``(H, W)``.
    x0 : ndarray (size,)
        Initial parameters ``density * mask`` (a uniform first design), a fresh copy each time.

    Notes
    -----
    The latest ``theta`` is cached: :meth:`hvp` at the point of the last :meth:`value_and_grad`
    reuses its factorization and costs one extra sparse solve.
    """

    def __init__(
        self,
        problem,
        penal: float = 3.0,
        volume_constraint: bool = True,
        solver: str = "auto",
        filter_radius: float = 2.0,
    ) -> None:
        who = "PixelObjective"
        problem = _validate.problem(problem, who=who)
        penal = _validate.real(penal, "penal", minimum=1.0, who=who)
        volume_constraint = _validate.flag(volume_constraint, "volume_constraint", who)
        filter_radius = _validate.real(
            filter_radius, "filter_radius", minimum=0.0, lower_open=True, who=who
        )
        if not isinstance(solver, str):
            raise TypeError(f"{who}: solver must be a string, got {_validate.given(solver)}")
        self._lock = threading.RLock()
        self.problem = problem
        self.physics = Compliance(problem, penal=penal, solver=solver)
        self.penal = self.physics.penal
        self.volume_constraint = volume_constraint
        self.shape = (int(problem.height), int(problem.width))
        self.size = self.shape[0] * self.shape[1]
        self.mask = np.asarray(problem.mask, dtype=bool)
        self.filter = ConeFilter(self.mask, filter_radius)
        self.sigmoid = VolumeSigmoid(self.mask, problem.density) if volume_constraint else None
        self._theta: np.ndarray | None = None
        self._sig: SigmoidState | None = None
        self._x_phys: np.ndarray | None = None
        self._free: np.ndarray | None = None
        self._volume_gradient: np.ndarray | None = None

    @property
    def x0(self) -> np.ndarray:
        return (self.problem.density * self.mask).astype(np.float64).ravel()

    @property
    def solver_threads(self) -> int | None:
        """Threads of the sparse solver, fixed when it was built (None: not threaded)."""
        threads = getattr(self.physics.solver, "threads", None)
        return None if threads is None else int(threads)

    # ----------------------------------------------------------------------------------------
    # The volume, for optimizers that enforce it themselves (OC, MMA: Requirements.explicit_volume)
    @property
    def explicit_volume(self) -> bool:
        """True when ``theta`` are densities and the optimizer must enforce the volume."""
        return not self.volume_constraint

    @property
    def target_volume(self) -> float:
        """The problem's target density: the mean of ``x_phys`` over the designable cells."""
        return float(self.problem.density)

    @property
    def free(self) -> np.ndarray:
        """(size,) bool: the designable cells, the only parameters an optimizer may move."""
        return self.mask.ravel().copy()

    @_synchronized
    def volume(self, theta: np.ndarray) -> float:
        """Mean physical density ``x_phys`` over the designable cells at ``theta``.

        With ``volume_constraint=False`` this is the linear function
        ``V(theta) = volume_gradient() . theta`` (computed through the filter); with the
        volume constraint every design meets the target, up to rounding.
        """
        if self.volume_constraint:
            x_phys = self._forward(theta).ravel()
        else:
            theta = self._check_theta(theta)
            if theta.min() < 0.0 or theta.max() > 1.0:
                raise InvalidInputError(
                    "volume: densities must lie in [0, 1] without the volume constraint "
                    f"(got min {theta.min():g}, max {theta.max():g})"
                )
            x_phys = self.filter.matrix @ (theta * self.mask.ravel())
        index = self._free_index()
        return float(np.sum(x_phys[index]) / index.size)

    def volume_gradient(self) -> np.ndarray:
        """(size,) gradient of :meth:`volume` in density space: ``m * F^T m / n_d``.

        Only with ``volume_constraint=False`` (with it the volume is constant).
        """
        if self.volume_constraint:
            raise InvalidInputError(
                "volume_gradient() needs PixelObjective(..., volume_constraint=False): with the "
                "volume constraint theta are logits and every design meets the target volume"
            )
        if self._volume_gradient is None:
            m = self.mask.ravel().astype(np.float64)
            n_design = self._free_index().size
            self._volume_gradient = m * np.asarray(self.filter.matrix.T @ m).ravel() / n_design
        return self._volume_gradient.copy()

    def _free_index(self) -> np.ndarray:
        if self._free is None:
            self._free = np.flatnonzero(self.mask.ravel())
        return self._free

    # ----------------------------------------------------------------------------------------
    def _check_theta(self, theta: np.ndarray, name: str = "theta") -> np.ndarray:
        return _validate.vector(theta, name, self.size)

    def _forward(self, theta: np.ndarray) -> np.ndarray:
        theta = self._check_theta(theta)
        if self._theta is not None and np.array_equal(theta, self._theta):
            return self._x_phys
        z = theta.reshape(self.shape)
        if self.sigmoid is not None:
            sig = self.sigmoid.forward(z)
            x_v = sig.x
        else:
            if theta.min() < 0.0 or theta.max() > 1.0:
                raise InvalidInputError(
                    "densities must lie in [0, 1] without the volume constraint "
                    f"(got min {theta.min():g}, max {theta.max():g})"
                )
            sig = None
            x_v = z * self.mask
        self._sig = sig
        self._x_phys = self.filter(x_v)
        self._theta = theta.copy()
        return self._x_phys

    def _pull_back(self, g_phys: np.ndarray) -> np.ndarray:
        g_v = self.filter.adjoint(g_phys)
        if self._sig is not None:
            return self._sig.vjp(g_v)
        return g_v * self.mask

    def _push_forward(self, v: np.ndarray) -> np.ndarray:
        if self._sig is not None:
            return self.filter(self._sig.jvp(v))
        return self.filter(v * self.mask)

    # ----------------------------------------------------------------------------------------
    @_synchronized
    def design(self, theta: np.ndarray) -> np.ndarray:
        """Physical densities ``x_phys`` (H, W) for parameters ``theta`` (size,)."""
        return self._forward(theta).copy()

    @_synchronized
    def value(self, theta: np.ndarray) -> float:
        """Compliance at ``theta``."""
        return self.physics.value(self._forward(theta))

    @_synchronized
    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Compliance (float) and its gradient with respect to ``theta`` ((size,) float64)."""
        c, g_phys = self.physics.value_and_grad(self._forward(theta))
        return c, self._pull_back(g_phys).ravel()

    @_synchronized
    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Hessian-vector product ``H(theta) v``, (size,) float64.

        ``J^T F^T H_phys F J v`` plus, with the volume constraint, the sigmoid's curvature term
        ``sum_i g_i d^2 x_i/dz^2 v`` (``g`` the gradient with respect to the sigmoid output).
        """
        x_phys = self._forward(theta)
        v = self._check_theta(v, "v").reshape(self.shape)
        hv_phys = self.physics.hvp(x_phys, self._push_forward(v))
        out = self._pull_back(hv_phys)
        if self._sig is not None:
            g_v = self.filter.adjoint(self.physics.state(x_phys).gradient)
            out = out + self._sig.second_order(g_v, v)
        return out.ravel()
