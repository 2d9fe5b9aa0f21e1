"""Levenberg-Marquardt for objectives with a least-squares form (``studies.md`` section 3).

An objective has a least-squares form when it offers ``residuals(theta) -> (m,)`` and
``jacobian(theta) -> (m, size)`` and its loss is a positive multiple of ``sum(residuals**2)``
plus a constant (the lab's networks: :mod:`toposcape.lab.networks`, loss ``= sum r^2 / m``).
The topology objectives have none (compliance is not a sum of squares), so LM is a
small-problem method here: each step solves a dense ``size x size`` system, fine up to a
few thousand parameters.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from .protocol import Requirements, Runner, evaluate_start, evaluate_trial
from .trajectory import Trajectory, TrajectoryRecorder

__all__ = ["LevenbergMarquardt"]

#: Above this many parameters the dense normal equations are refused (memory ~ size^2 * 8 B).
MAX_SIZE = 20_000


def _residuals(obj, theta: np.ndarray, m: int | None, who: str) -> np.ndarray:
    r = np.asarray(obj.residuals(theta), dtype=np.float64)
    if r.ndim != 1 or (m is not None and r.shape != (m,)):
        want = f"({m},)" if m is not None else "(m,)"
        raise InvalidInputError(
            f"{who}: objective.residuals must return a {want} vector, got shape {r.shape}"
        )
    return r


def _jacobian(obj, theta: np.ndarray, m: int, who: str) -> np.ndarray:
    jac = np.asarray(obj.jacobian(theta), dtype=np.float64)
    if jac.shape != (m, theta.size):
        raise InvalidInputError(
            f"{who}: objective.jacobian must return an (m, size) = ({m}, {theta.size}) array, "
            f"got shape {jac.shape}"
        )
    return jac


class LevenbergMarquardt(Runner):
    """Levenberg-Marquardt with the damping adapted by the gain ratio (Nielsen's rule).

    With residuals ``r``, Jacobian ``J``, ``A = J^T J`` and ``b = J^T r``, a step solves
    ``(A + mu I) delta = -b``. Its gain ratio is the actual over the predicted decrease of
    ``||r||^2``,

        rho = (||r||^2 - ||r(theta + delta)||^2) / (delta^T (mu delta - b)),

    (the denominator is the decrease of the linear model ``||r + J delta||^2``, positive for
    ``delta != 0``). ``rho > 0`` accepts the step and sets
    ``mu <- mu * max(1/3, 1 - (2 rho - 1)^3)``, ``nu <- 2``; otherwise ``mu <- mu * nu``,
    ``nu <- 2 nu`` and the step is retried from the same point. ``mu_0 = tau * max diag(A)``.
    Small ``mu`` is Gauss-Newton, large ``mu`` a short gradient step.

    Every trial evaluates the objective (``value_and_grad``, the recorded loss, counted in
    ``max_evals``) and its residuals; an accepted one also the Jacobian.

    Parameters
    ----------
    tau : float
        Initial damping relative to the largest diagonal entry of ``J^T J``.
    gtol : float
        Stop ("converged") when ``max |grad f| <= gtol`` (0: never).
    xtol : float
        Stop ("converged") when ``||delta|| <= xtol * (||theta|| + xtol)``.
    max_tries : int
        Rejected trials in a row before the run ends (reason ``"no_decrease"``).
    """

    name = "lm"
    requires = Requirements(least_squares=True)

    def __init__(
        self, tau: float = 1e-3, gtol: float = 0.0, xtol: float = 1e-15, max_tries: int = 60
    ) -> None:
        who = "LevenbergMarquardt"
        self.tau = _validate.real(tau, "tau", minimum=0.0, lower_open=True, who=who)
        self.gtol = _validate.real(gtol, "gtol", minimum=0.0, who=who)
        self.xtol = _validate.real(xtol, "xtol", minimum=0.0, who=who)
        self.max_tries = _validate.integer(max_tries, "max_tries", minimum=1, who=who)

    def __repr__(self) -> str:
        return f"LevenbergMarquardt(tau={self.tau:g}, gtol={self.gtol:g}, xtol={self.xtol:g})"

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
        """The iteration of the class docstring (see :meth:`Runner.run` for the arguments)."""
        rec = recorder
        who = f"{self.name}.run"
        if theta.size > MAX_SIZE:
            raise InvalidInputError(
                f"{who}: {theta.size} parameters; Levenberg-Marquardt solves dense "
                f"size x size systems and is meant for small problems (<= {MAX_SIZE})"
            )
        f, g, finite = evaluate_start(obj, theta, rec, who)
        r = _residuals(obj, theta, None, who)
        m = r.size
        if not (finite and np.all(np.isfinite(r))):
            return rec.finish(theta, "nonfinite_loss", "non-finite loss at theta0", self.name)
        jac = _jacobian(obj, theta, m, who)
        a = jac.T @ jac
        b = jac.T @ r
        rr = float(r @ r)
        mu = self.tau * float(np.max(np.diag(a))) if a.size else self.tau
        if not mu > 0:
            mu = self.tau
        nu = 2.0
        eye = np.eye(theta.size)
        steps = 0
        reason, message = "", ""
        while True:
            stop = rec.stop_reason(steps, max_steps, max_evals)
            if stop is not None:
                reason, message = stop
                break
            if self.gtol > 0 and np.max(np.abs(g)) <= self.gtol:
                reason, message = "converged", f"max |g| <= gtol = {self.gtol:g}"
                break
            accepted = False
            for _ in range(self.max_tries):
                if max_evals is not None and rec.n_evals >= max_evals:
                    break
                try:
                    delta = np.linalg.solve(a + mu * eye, -b)
                except np.linalg.LinAlgError:
                    delta = np.full_like(theta, np.nan)
                if not np.all(np.isfinite(delta)):
                    mu, nu = mu * nu, 2.0 * nu
                    continue
                step_norm = float(np.linalg.norm(delta))
                if step_norm <= self.xtol * (float(np.linalg.norm(theta)) + self.xtol):
                    reason, message = "converged", f"||delta|| <= xtol = {self.xtol:g}"
                    break
                new = theta + delta
                f_new, g_new = evaluate_trial(obj, new, who)
                rec.evaluation(new, f_new)
                if not math.isfinite(f_new):  # an overflowed trial: no residuals to ask for
                    mu, nu = mu * nu, 2.0 * nu
                    continue
                r_new = _residuals(obj, new, m, who)
                predicted = float(delta @ (mu * delta - b))
                rr_new = float(r_new @ r_new)
                rho = (rr - rr_new) / predicted if predicted > 0 else -1.0
                if not (math.isfinite(f_new) and math.isfinite(rr_new) and rho > 0):
                    mu, nu = mu * nu, 2.0 * nu
                    continue
                gd = float(g @ delta)
                theta, f, g, r, rr = new, f_new, g_new, r_new, rr_new
                jac = _jacobian(obj, theta, m, who)
                a = jac.T @ jac
                b = jac.T @ r
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                steps += 1
                rec.accept(theta, f, g, step_norm, gd / step_norm)
                accepted = True
                break
            if reason == "converged":
                break
            if not accepted:
                if max_evals is not None and rec.n_evals >= max_evals:
                    reason, message = "max_evals", "budget spent inside a step"
                else:
                    reason = "no_decrease"
                    message = f"{self.max_tries} rejected trials in a row (mu = {mu:.3g})"
                break
        return rec.finish(theta, reason, message, self.name)
