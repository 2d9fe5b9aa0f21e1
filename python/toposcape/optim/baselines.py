r"""Classical topology-optimization baselines with an explicit volume constraint: OC and MMA.

Both work on the pixel model in *density space*,
``PixelObjective(problem, volume_constraint=False)``, where ``theta`` are the cell densities
``x`` in ``[0, 1]`` (C order of ``(H, W)``) and the objective is the SIMP compliance of the
filtered design ``x_phys = F (x * mask)``. The volume constraint is the problem's target
density ``rho`` on the mean physical density over the ``n_d`` designable cells,

.. math::

    V(x) = \frac{1}{n_d} \sum_{i \in \mathrm{mask}} \big(F (x \odot m)\big)_i
         = \nabla V \cdot x, \qquad
    \nabla V = \frac{1}{n_d}\, m \odot F^{T} m,

a linear function whose constant gradient is computed once through the filter adjoint. Cells
outside the mask are held at 0 and the box ``0 <= x <= 1`` holds throughout.

* :class:`OptimalityCriteria` -- the optimality-criteria update of the 88-line code
  (Andreassen et al. 2011; Bendsøe & Sigmund 2003, sec. 1.2), enforcing ``V(x) = rho``.
* :class:`MMA` -- the method of moving asymptotes (Svanberg 1987) through nlopt's ``LD_MMA``,
  the globally convergent CCSA variant (Svanberg 2002), enforcing ``V(x) <= rho``; the way the
  neural-reparameterization benchmark (Hoyer et al. 2019) ran it.

References
----------
.. [1] M. P. Bendsøe and O. Sigmund, *Topology Optimization: Theory, Methods and
   Applications*, Springer, 2003.
.. [2] E. Andreassen, A. Clausen, M. Schevenels, B. S. Lazarov and O. Sigmund, "Efficient
   topology optimization in MATLAB using 88 lines of code", Struct. Multidisc. Optim. 43,
   1-16 (2011).
.. [3] K. Svanberg, "The method of moving asymptotes -- a new method for structural
   optimization", Int. J. Numer. Meth. Eng. 24, 359-373 (1987).
.. [4] K. Svanberg, "A class of globally convergent optimization methods based on
   conservative convex separable approximations", SIAM J. Optim. 12, 555-573 (2002).
.. [5] S. G. Johnson, The NLopt nonlinear-optimization package, https://github.com/stevengj/nlopt
   (algorithm ``NLOPT_LD_MMA``).
.. [6] S. Hoyer, J. Sohl-Dickstein and S. Greydanus, "Neural reparameterization improves
   structural optimization", arXiv:1909.04240 (2019).
"""

from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from .protocol import Requirements, Runner, evaluate
from .trajectory import Trajectory, TrajectoryRecorder

__all__ = ["OptimalityCriteria", "MMA"]


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------
class _VolumeConstraint:
    """The linear volume ``V(theta) = grad . theta``, read through the objective's public API.

    ``Requirements(explicit_volume=True).check`` has verified that the objective offers
    ``free``, ``target_volume``, ``volume(theta)`` and ``volume_gradient()``.
    """

    def __init__(self, obj, who: str) -> None:
        mask = np.asarray(obj.free, dtype=bool).ravel()
        if mask.size != obj.size:
            raise InvalidInputError(
                f"{who}: objective.free must have one entry per parameter ({obj.size}), "
                f"got {mask.size}"
            )
        n_design = int(mask.sum())
        if n_design == 0:
            raise InvalidInputError(f"{who}: the problem has no designable cells")
        self.mask = mask
        self.index = np.flatnonzero(mask)
        self.n_design = n_design
        self.density = _validate.real(
            obj.target_volume, "objective.target_volume", minimum=0.0, maximum=1.0, who=who
        )
        self.grad = _validate.vector(obj.volume_gradient(), "volume_gradient()", obj.size, who=who)
        self._volume = obj.volume

    def __call__(self, theta: np.ndarray) -> float:
        """``V(theta)``: mean physical density over the designable cells."""
        return float(self._volume(theta))

    def feasible(self, volume: float, rtol: float) -> bool:
        return volume <= self.density * (1.0 + rtol) + 1e-15


def _check_theta0(theta: np.ndarray, vol: _VolumeConstraint, who: str) -> np.ndarray:
    """Densities in [0, 1] on the designable cells; cells outside the mask are set to 0."""
    designable = theta[vol.index]
    if designable.min() < 0.0 or designable.max() > 1.0:
        raise InvalidInputError(
            f"{who}: theta0 must be densities in [0, 1] on the designable cells, got values in "
            f"[{designable.min():g}, {designable.max():g}]"
        )
    theta[~vol.mask] = 0.0  # cells outside the mask do not enter the design; keep them at 0
    return theta


def _step_stats(theta_new, theta_old, grad_old) -> tuple[float, float]:
    """``t = ||theta_new - theta_old||`` and ``g_old . d`` with the unit direction ``d``."""
    s = theta_new - theta_old
    t = float(np.linalg.norm(s))
    gd = float(grad_old @ s) / t if t > 0 else 0.0
    return t, gd


class _BestFeasible:
    """Tracks the lowest-compliance feasible evaluation (and the least infeasible one).

    Keeps references only: optimizers hand over a fresh array per evaluation and never modify
    it afterwards, so nothing is copied and only two points are held.
    """

    def __init__(self, vol: _VolumeConstraint, feasibility_tol: float) -> None:
        self.vol = vol
        self.feasibility_tol = feasibility_tol
        self.feasible: tuple[float, float, np.ndarray] | None = None
        self.fallback: tuple[float, float, np.ndarray] | None = None

    def update(self, loss: float, volume: float, theta: np.ndarray) -> None:
        if self.vol.feasible(volume, self.feasibility_tol):
            if np.isfinite(loss) and (self.feasible is None or loss < self.feasible[0]):
                self.feasible = (loss, volume, theta)
        elif self.fallback is None or (
            np.isfinite(loss) and (volume, loss) < (self.fallback[1], self.fallback[0])
        ):
            self.fallback = (loss, volume, theta)


def _finish(
    recorder: TrajectoryRecorder,
    theta: np.ndarray,
    reason: str,
    message: str,
    name: str,
    vol: _VolumeConstraint,
    volumes: list[float],
    best: _BestFeasible,
    extras: dict,
) -> Trajectory:
    """Build the trajectory; ``best_theta`` is the lowest-compliance *feasible* evaluation."""
    traj = recorder.finish(theta, reason=reason, message=message, optimizer=name)
    # No feasible point evaluated (an infeasible theta0 and a small budget, or a non-finite
    # loss): fall back to the least infeasible one.
    chosen = best.feasible if best.feasible is not None else best.fallback
    if chosen is not None:
        best_loss, best_volume, best_theta = chosen
        traj.best_theta = np.array(best_theta, dtype=np.float64, copy=True)
        traj.best_loss = float(best_loss)
    else:  # pragma: no cover - only if every evaluation was non-finite
        best_volume = vol(traj.best_theta)
    traj.extras.update(
        {
            "volume": vol(traj.theta),
            "volumes": np.asarray(volumes, dtype=np.float64),
            "target_volume": vol.density,
            "best_volume": float(best_volume),
            "best_feasible": best.feasible is not None,
        }
    )
    traj.extras.update(extras)
    return traj


# ---------------------------------------------------------------------------------------------
# Optimality criteria
# ---------------------------------------------------------------------------------------------
class OptimalityCriteria(Runner):
    r"""The optimality-criteria (OC) method of the 88-line code, with an exact volume.

    For the compliance ``c(x)`` with gradient ``dc`` and the linear volume ``V(x)`` with
    gradient ``dv`` (see the module docstring), one iteration updates every designable cell
    ``e`` by the fixed-point (heuristic) form of the KKT condition ``-dc_e = lambda dv_e``:

    .. math::

        x^{new}_e(\lambda) = \mathrm{clip}\Big(x_e \Big(\frac{\max(0, -dc_e)}
            {\lambda\, dv_e}\Big)^{\eta},\ \max(0, x_e - m),\ \min(1, x_e + m)\Big),

    with move limit ``m`` and damping ``eta``, and finds the Lagrange multiplier ``lambda``
    by bisection so that ``V(x^new) = rho`` (``V(x^new(lambda))`` is continuous and
    non-increasing in ``lambda``). The bracket starts at ``[0, 1e9]`` as in the 88-line code
    and is widened while ``V(x^new(hi)) > rho``; bisection runs until
    ``(hi - lo) <= tol (hi + lo)`` (the 88-line code stops at ``1e-3``, which leaves the
    volume off by ~1e-4; the default here meets it to ~1e-12). If ``rho`` is out of reach of
    the move limits (an infeasible start), ``lambda`` ends at the edge of the bracket and the
    volume moves as far toward ``rho`` as the limits allow.

    Each iteration costs exactly one objective evaluation (at the new iterate). Cells at
    density 0 stay at 0 (the update is multiplicative), as in the 88-line code.

    Parameters
    ----------
    move : float
        Move limit ``m`` in (0, 1] (0.2 in the 88-line code).
    damping : float
        Exponent ``eta > 0`` (0.5 in the 88-line code).
    tol : float
        Relative tolerance of the bisection on ``lambda`` (> 0).
    xtol : float
        Stop with reason ``"converged"`` when an update changes no density by more than
        ``xtol`` (max-norm; >= 0). The default 0 stops only at an exact fixed point, so the
        budget normally ends the run (as in the benchmark).
    feasibility_tol : float
        Relative tolerance of the feasibility test ``V <= rho (1 + feasibility_tol)`` used to
        pick ``best_theta``.

    Notes
    -----
    Trajectory conventions: iterate 0 is ``theta0``; every OC update is an accepted step, so
    ``n_steps = n_evals - 1`` unless the run stops on a non-finite loss. ``step_sizes`` are
    ``||theta_k - theta_{k-1}||`` and ``directional_derivatives`` are ``g_{k-1} . d_k`` with
    the unit direction ``d_k``. ``traj.theta`` is the last evaluated iterate; ``best_theta``
    is the lowest-compliance evaluated point that meets the volume (``V <= rho (1 +
    feasibility_tol)``; OC's iterates meet it with equality after the first step).
    ``traj.extras``: ``"volume"`` (of ``traj.theta``), ``"volumes"`` (per iterate),
    ``"multipliers"`` (the ``lambda`` of every step), ``"target_volume"``, ``"best_volume"``,
    ``"best_feasible"``.

    References
    ----------
    Andreassen et al. (2011), "Efficient topology optimization in MATLAB using 88 lines of
    code"; Bendsøe & Sigmund (2003), *Topology Optimization*, sec. 1.2.
    """

    name = "oc"
    requires = Requirements(explicit_volume=True)

    def __init__(
        self,
        move: float = 0.2,
        damping: float = 0.5,
        tol: float = 1e-12,
        xtol: float = 0.0,
        feasibility_tol: float = 1e-6,
    ) -> None:
        who = "OptimalityCriteria"
        self.move = _validate.real(move, "move", minimum=0.0, maximum=1.0, lower_open=True, who=who)
        self.damping = _validate.real(damping, "damping", minimum=0.0, lower_open=True, who=who)
        self.tol = _validate.real(tol, "tol", minimum=0.0, lower_open=True, who=who)
        self.xtol = _validate.real(xtol, "xtol", minimum=0.0, who=who)
        self.feasibility_tol = _validate.real(
            feasibility_tol, "feasibility_tol", minimum=0.0, lower_open=True, who=who
        )

    def __repr__(self) -> str:
        return (
            f"OptimalityCriteria(move={self.move!r}, damping={self.damping!r}, tol={self.tol!r}, "
            f"xtol={self.xtol!r}, feasibility_tol={self.feasibility_tol!r})"
        )

    # ------------------------------------------------------------------------------------------
    def _update(
        self, theta: np.ndarray, grad: np.ndarray, vol: _VolumeConstraint
    ) -> tuple[np.ndarray, float]:
        """One OC update of ``theta`` given the compliance gradient; returns ``(x_new, lambda)``."""
        idx = vol.index
        x = theta[idx]
        dv = vol.grad[idx]
        b = np.maximum(0.0, -grad[idx]) / dv
        lower = np.maximum(0.0, x - self.move)
        upper = np.minimum(1.0, x + self.move)
        positive = x > 0.0
        target = vol.density
        eta = self.damping

        def candidate(lam: float) -> np.ndarray:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                trial = np.where(positive, x * (b / lam) ** eta, 0.0)
            return np.clip(trial, lower, upper)

        def volume(lam: float) -> float:
            return float(dv @ candidate(lam))

        lo, hi = 0.0, 1e9
        while volume(hi) > target and hi < 1e300:
            lo, hi = hi, hi * 1e3
        for _ in range(10_000):  # terminates far sooner: the interval halves every pass
            if hi - lo <= self.tol * (hi + lo):
                break
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            if volume(mid) > target:
                lo = mid
            else:
                hi = mid
        lam = 0.5 * (lo + hi)
        if lam <= 0.0:
            lam = hi
        x_new = np.zeros_like(theta)
        x_new[idx] = candidate(lam)
        return x_new, lam

    def _run(
        self,
        obj,
        theta: np.ndarray,
        *,
        max_evals: int | None,
        max_steps: int | None,
        recorder: TrajectoryRecorder,
        record_memory: bool,
    ) -> Trajectory:
        """OC on a density-space objective; see :meth:`Runner.run` for the arguments.

        ``theta0`` defaults to ``obj.x0 = rho * mask`` (feasible); entries outside the mask
        are set to 0. Every OC update costs one evaluation and is an accepted step. Losses
        are compliance values; see the class notes for the extras.
        """
        who = "OptimalityCriteria"
        vol = _VolumeConstraint(obj, who)
        theta = _check_theta0(theta, vol, who)

        best = _BestFeasible(vol, self.feasibility_tol)
        volumes: list[float] = []
        multipliers: list[float] = []

        f, g = evaluate(obj, theta, who)
        recorder.evaluation(theta, f)
        v = vol(theta)
        best.update(f, v, theta)
        recorder.accept(theta, f, g)
        volumes.append(v)
        if not np.isfinite(f):
            return _finish(
                recorder,
                theta,
                "nonfinite_loss",
                f"compliance {f} at theta0",
                self.name,
                vol,
                volumes,
                best,
                {"multipliers": np.array([])},
            )
        steps = 0
        reason, message = "", ""
        while True:
            if recorder.stop_requested:
                reason, message = "callback", "stopped by the callback"
                break
            if max_evals is not None and recorder.n_evals >= max_evals:
                reason = "max_evals"
                break
            if max_steps is not None and steps >= max_steps:
                reason = "max_steps"
                break
            x_new, lam = self._update(theta, g, vol)
            change = float(np.max(np.abs(x_new - theta))) if theta.size else 0.0
            if change <= self.xtol:
                reason = "converged"
                message = f"max density change {change:g} <= xtol {self.xtol:g}"
                break
            f_new, g_new = evaluate(obj, x_new, who)
            recorder.evaluation(x_new, f_new)
            v_new = vol(x_new)
            best.update(f_new, v_new, x_new)
            if not np.isfinite(f_new):
                reason = "nonfinite_loss"
                message = f"compliance {f_new} after step {steps + 1}"
                break
            t, gd = _step_stats(x_new, theta, g)
            theta, f, g = x_new, f_new, np.asarray(g_new, dtype=np.float64)
            steps += 1
            multipliers.append(lam)
            recorder.accept(theta, f, g, step_size=t, directional_derivative=gd)
            volumes.append(v_new)
            if recorder.stop_requested:
                reason, message = "callback", "stopped by the callback"
                break
        return _finish(
            recorder,
            theta,
            reason,
            message,
            self.name,
            vol,
            volumes,
            best,
            {"multipliers": np.asarray(multipliers, dtype=np.float64)},
        )


# ---------------------------------------------------------------------------------------------
# MMA (nlopt)
# ---------------------------------------------------------------------------------------------
def _import_nlopt():
    try:
        import nlopt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the MMA baseline needs nlopt, an optional dependency: pip install nlopt"
        ) from exc
    return nlopt


class _StopRun(Exception):
    """Raised inside the nlopt callback to end the run; carries the reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class MMA(Runner):
    r"""The method of moving asymptotes through nlopt's ``LD_MMA`` (Svanberg 1987, 2002).

    Solves, over the designable densities ``x`` (cells outside the mask are fixed at 0 and are
    not nlopt variables),

    .. math::

        \min_x\ c(x) \quad \text{s.t.} \quad V(x) - \rho \le 0, \qquad 0 \le x \le 1,

    with the compliance ``c`` and its gradient from the objective and the linear volume ``V``
    of the module docstring (constant gradient). nlopt's ``LD_MMA`` is the globally convergent
    CCSA form of MMA (Svanberg 2002): each outer iteration minimises a conservative convex
    separable approximation inside moving asymptotes; when the approximation at the trial
    point is not conservative, an *inner* iteration raises its curvature and tries again.
    This is how the neural-reparameterization benchmark ran MMA (Hoyer et al. 2019):
    bounds [0, 1], the volume as one inequality constraint with tolerance ``constraint_tol``
    (1e-8), no other stopping rule than the evaluation budget (``ftol_rel = xtol_rel = 0``).

    Parameters
    ----------
    initial_step : float or None
        nlopt's initial step, which sets MMA's initial asymptote distance (the "move" of the
        first iterations), in (0, 1]; None keeps nlopt's default.
    constraint_tol : float
        Tolerance of the volume inequality handed to nlopt (>= 0).
    feasibility_tol : float
        Relative tolerance of the feasibility test ``V <= rho (1 + feasibility_tol)`` used to
        pick ``best_theta``.

    Notes
    -----
    *Iterates.* nlopt calls the objective at every trial point of its outer and inner
    iterations and does not report which trials it accepts, so **every evaluation is treated
    as an accepted iterate**: ``n_steps = n_evals - 1``, ``losses == eval_losses``, and
    ``max_steps = S`` means ``S + 1`` evaluations. ``traj.theta`` is the last evaluated point
    (which may be a rejected inner trial, and may be slightly infeasible); ``traj.best_theta``
    / ``best_loss`` are the lowest compliance over the evaluated points that are *feasible*,
    ``V <= rho (1 + feasibility_tol)`` (not the lowest compliance overall, which an infeasible
    trial with more material could have). If no evaluated point is feasible, the least
    infeasible one is reported and ``extras["best_feasible"]`` is False. ``step_sizes`` and
    ``directional_derivatives`` are as for :class:`OptimalityCriteria`.

    *Reasons.* nlopt's result codes map to ``"max_evals"`` / ``"max_steps"`` (budget),
    ``"converged"`` (SUCCESS, STOPVAL, FTOL, XTOL) and otherwise to a failure reason
    (``"roundoff_limited"``, ``"nlopt_failure"``, ``"nonfinite_loss"``, ...) with nlopt's
    message in ``traj.message``; nlopt exceptions end the run gracefully. Exceptions raised by
    the objective itself propagate.

    ``traj.extras``: ``"volume"``, ``"volumes"``, ``"target_volume"``, ``"best_volume"``,
    ``"best_feasible"``, ``"nlopt_result"`` (the integer result code or None).

    References
    ----------
    Svanberg (1987), "The method of moving asymptotes"; Svanberg (2002), "A class of globally
    convergent optimization methods based on conservative convex separable approximations";
    S. G. Johnson, NLopt (``NLOPT_LD_MMA``); Hoyer, Sohl-Dickstein & Greydanus (2019).
    """

    name = "mma"
    requires = Requirements(explicit_volume=True)

    def __init__(
        self,
        initial_step: float | None = None,
        constraint_tol: float = 1e-8,
        feasibility_tol: float = 1e-6,
    ) -> None:
        who = "MMA"
        self.initial_step = _validate.real(
            initial_step,
            "initial_step",
            minimum=0.0,
            maximum=1.0,
            lower_open=True,
            allow_none=True,
            who=who,
        )
        self.constraint_tol = _validate.real(constraint_tol, "constraint_tol", minimum=0.0, who=who)
        self.feasibility_tol = _validate.real(
            feasibility_tol, "feasibility_tol", minimum=0.0, lower_open=True, who=who
        )

    def __repr__(self) -> str:
        return (
            f"MMA(initial_step={self.initial_step!r}, constraint_tol={self.constraint_tol!r}, "
            f"feasibility_tol={self.feasibility_tol!r})"
        )

    def _run(
        self,
        obj,
        theta0: np.ndarray,
        *,
        max_evals: int | None,
        max_steps: int | None,
        recorder: TrajectoryRecorder,
        record_memory: bool,
    ) -> Trajectory:
        """MMA on a density-space objective; see :meth:`Runner.run` for the arguments.

        ``theta0`` defaults to ``obj.x0 = rho * mask`` (feasible); entries outside the mask
        are set to 0, and nlopt evaluates it first. Every evaluation is an iterate, so
        nlopt's ``maxeval`` is ``min(max_evals, max_steps + 1)``.
        """
        who = "MMA"
        vol = _VolumeConstraint(obj, who)
        theta0 = _check_theta0(theta0, vol, who)
        nlopt = _import_nlopt()

        limit = min(
            n for n in (max_evals, None if max_steps is None else max_steps + 1) if n is not None
        )
        idx = vol.index
        dv = vol.grad[idx].copy()
        target = vol.density

        best = _BestFeasible(vol, self.feasibility_tol)
        volumes: list[float] = []
        state = {"theta": theta0.copy(), "grad": None}
        callback_error: list[BaseException] = []

        def budget_reason() -> str:
            if max_evals is not None and recorder.n_evals >= max_evals:
                return "max_evals"
            return "max_steps"

        def objective(xs, grad):
            try:
                if recorder.n_evals >= limit:  # nlopt respects maxeval; belt and braces
                    raise _StopRun(budget_reason(), "evaluation budget reached")
                theta = np.zeros(vol.mask.size)
                theta[idx] = np.clip(xs, 0.0, 1.0)
                f, g = evaluate(obj, theta, who)
                recorder.evaluation(theta, f)
                v = vol(theta)
                best.update(f, v, theta)
                if state["grad"] is None:
                    recorder.accept(theta, f, g)  # theta0 is iterate 0 whatever its loss
                elif not np.isfinite(f):
                    raise _StopRun(
                        "nonfinite_loss", f"compliance {f} at evaluation {recorder.n_evals}"
                    )
                else:
                    t, gd = _step_stats(theta, state["theta"], state["grad"])
                    recorder.accept(theta, f, g, step_size=t, directional_derivative=gd)
                volumes.append(v)
                state["theta"], state["grad"] = theta, g
                if not np.isfinite(f):
                    raise _StopRun("nonfinite_loss", f"compliance {f} at theta0")
                if recorder.stop_requested:
                    raise _StopRun("callback", "stopped by the callback")
                if grad.size > 0:
                    grad[:] = g[idx]
                return f
            except _StopRun as stop:
                callback_error.append(stop)
                raise nlopt.ForcedStop(stop.message) from None
            except BaseException as exc:
                callback_error.append(exc)
                raise

        def constraint(xs, grad):
            if grad.size > 0:
                grad[:] = dv
            return float(dv @ np.clip(xs, 0.0, 1.0)) - target

        opt = nlopt.opt(nlopt.LD_MMA, idx.size)
        opt.set_lower_bounds(np.zeros(idx.size))
        opt.set_upper_bounds(np.ones(idx.size))
        opt.set_min_objective(objective)
        opt.add_inequality_constraint(constraint, self.constraint_tol)
        opt.set_ftol_rel(0.0)
        opt.set_ftol_abs(0.0)
        opt.set_xtol_rel(0.0)
        opt.set_xtol_abs(0.0)
        opt.set_maxeval(int(limit))
        if self.initial_step is not None:
            opt.set_initial_step(self.initial_step)

        result = None
        reason, message = "", ""
        try:
            opt.optimize(theta0[idx].copy())
            result = opt.last_optimize_result()
        except nlopt.ForcedStop as exc:
            stop = callback_error[-1] if callback_error else None
            if isinstance(stop, _StopRun):
                reason, message = stop.reason, stop.message
            else:
                reason, message = "forced_stop", str(exc) or "nlopt: forced stop"
            result = nlopt.FORCED_STOP
        except nlopt.RoundoffLimited as exc:
            reason = "roundoff_limited"
            message = str(exc) or "nlopt: roundoff errors limited progress"
            result = nlopt.ROUNDOFF_LIMITED
        except (RuntimeError, ValueError, MemoryError) as exc:
            if callback_error and callback_error[-1] is exc:
                raise  # the objective's own error
            reason = "nlopt_failure"
            message = f"nlopt: {type(exc).__name__}: {exc}"
            result = _safe_result(opt)
        if not reason:
            reason, message = _map_result(nlopt, result, budget_reason, opt)

        if not recorder.losses:
            # nlopt failed before its first evaluation: report theta0 as iterate 0.
            f0, g0 = evaluate(obj, theta0, who)
            recorder.evaluation(theta0, f0)
            recorder.accept(theta0, f0, g0)
            best.update(float(f0), vol(theta0), theta0)
            volumes.append(vol(theta0))
        theta_final = state["theta"]
        return _finish(
            recorder,
            theta_final,
            reason,
            message,
            self.name,
            vol,
            volumes,
            best,
            {"nlopt_result": None if result is None else int(result)},
        )


def _safe_result(opt):
    try:
        return opt.last_optimize_result()
    except Exception:  # pragma: no cover - defensive
        return None


def _map_result(nlopt, result, budget_reason, opt) -> tuple[str, str]:
    """Map an nlopt result code to ``(reason, message)``."""
    names = {
        nlopt.SUCCESS: "SUCCESS",
        nlopt.STOPVAL_REACHED: "STOPVAL_REACHED",
        nlopt.FTOL_REACHED: "FTOL_REACHED",
        nlopt.XTOL_REACHED: "XTOL_REACHED",
        nlopt.MAXEVAL_REACHED: "MAXEVAL_REACHED",
        nlopt.MAXTIME_REACHED: "MAXTIME_REACHED",
    }
    label = f"nlopt result {names.get(result, result)}"
    if result == nlopt.MAXEVAL_REACHED:
        return budget_reason(), label
    if result in (nlopt.SUCCESS, nlopt.STOPVAL_REACHED, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED):
        return "converged", label
    if result == nlopt.MAXTIME_REACHED:
        return "max_time", label
    detail = ""
    try:
        detail = opt.get_errmsg() or ""
    except Exception:  # pragma: no cover - older nlopt
        pass
    return "nlopt_failure", f"{label}{': ' + detail if detail else ''}"
