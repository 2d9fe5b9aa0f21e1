"""Step sizes that adapt from an energy or an error estimate (``studies.md`` section 3).

Two schemes from the Lyapunov view of optimizers as discretised gradient flows:

- :class:`EnergyDecrease`, a step rule: a step is accepted only if a discrete energy
  decreases, else it is shrunk and retried; an accepted step grows back for the next one. The
  energy is the loss for gradient descent (``Identity`` direction) and the loss plus a kinetic
  term for heavy-ball momentum (``kinetic=True``). Since the energy of the accepted iterates
  decreases, the loss never exceeds its value at the start plus the (zero) initial kinetic
  energy: the iteration cannot diverge, whatever the initial step.
- :class:`EulerRichardson`, an optimizer: gradient descent as the explicit Euler scheme of the
  flow ``theta' = -grad f(theta)``, with the step size controlled by the difference between
  one Euler step and two half steps (Richardson's local error estimate), as adaptive ODE
  solvers do.

Presets: ``gd_energy``, ``momentum_energy``, ``euler_richardson`` (:mod:`.presets`).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from . import _vec
from .protocol import Runner, evaluate_start, evaluate_trial
from .steps import StepContext, StepOutcome, StepRule
from .trajectory import Trajectory, TrajectoryRecorder

__all__ = ["EnergyDecrease", "EulerRichardson"]


def _unit_open(value, name: str, who: str) -> float:
    return _validate.real(
        value, name, minimum=0.0, maximum=1.0, lower_open=True, upper_open=True, who=who
    )


class EnergyDecrease(StepRule):
    """Accept a step only if the discrete energy decreases; shrink it until it does.

    With the current step ``t`` (``lr`` at the start), a trial ``theta + t d`` is accepted when

        E_new = f(theta + t d) + K_new  <  E = f(theta) + K,

    where ``K = 0`` for gradient descent and, with ``kinetic=True`` (heavy-ball momentum),
    ``K = ||theta_k - theta_{k-1}||^2 / (2 t_k) = t_k ||d_k||^2 / 2`` is the kinetic energy of
    the step that produced the iterate (a unit mass moving ``t d`` in time ``sqrt(t)``: the
    heavy-ball ODE discretised with ``lr = h^2``), ``K_0 = 0``. A rejected trial (or a
    non-finite one) is retried with ``t <- shrink * t``; after an accepted step the next first
    trial is ``min(grow * t, max_lr)``. The rule fails (reason ``"no_energy_decrease"``) after
    ``max_tries`` rejections: at a minimum to rounding, or along a direction that is not a
    descent direction (momentum; the optimizer then restarts the velocity and retries).

    Parameters
    ----------
    lr : float
        First trial step (> 0); need not be stable: too large a step is shrunk.
    shrink : float in (0, 1)
        Factor applied to a rejected step.
    grow : float >= 1
        Factor applied to an accepted step for the next first trial.
    max_lr : float or None
        Cap of the step (None: ``lr``, so the step grows back to the initial one at most).
    kinetic : bool
        Add the kinetic term (for a momentum direction).
    max_tries : int
        Trials per step before the rule gives up.
    """

    name = "energy_decrease"

    def __init__(
        self,
        lr: float,
        shrink: float = 0.5,
        grow: float = 2.0,
        max_lr: float | None = None,
        kinetic: bool = False,
        max_tries: int = 60,
    ) -> None:
        who = "EnergyDecrease"
        self.lr = _validate.real(lr, "lr", minimum=0.0, lower_open=True, who=who)
        self.shrink = _unit_open(shrink, "shrink", who)
        self.grow = _validate.real(grow, "grow", minimum=1.0, who=who)
        self.max_lr = (
            self.lr
            if max_lr is None
            else _validate.real(max_lr, "max_lr", minimum=0.0, lower_open=True, who=who)
        )
        if self.max_lr < self.lr:
            raise InvalidInputError(
                f"{who}: max_lr ({self.max_lr:g}) must be at least lr ({self.lr:g})"
            )
        self.kinetic = _validate.flag(kinetic, "kinetic", who)
        self.max_tries = _validate.integer(max_tries, "max_tries", minimum=1, who=who)
        self.reset()

    def reset(self) -> None:
        self._next = self.lr
        self._energy_kinetic = 0.0

    @property
    def current_step(self) -> float:
        """The first trial of the next step."""
        return self._next

    def search(self, ctx: StepContext) -> StepOutcome:
        t = self._next
        half_dd = 0.5 * _vec.dot(ctx.direction, ctx.direction) if self.kinetic else 0.0
        energy = ctx.value + self._energy_kinetic
        for _ in range(self.max_tries):
            trial = ctx.evaluate(t)
            kinetic = t * half_dd
            if math.isfinite(trial.value) and trial.value + kinetic < energy:
                self._energy_kinetic = kinetic
                self._next = min(t * self.grow, self.max_lr)
                return StepOutcome(trial)
            t *= self.shrink
        return StepOutcome(
            None,
            "no_energy_decrease",
            f"no step down to {t / self.shrink:.3g} decreases the energy (a minimum to "
            "rounding, or not a descent direction)",
        )


class EulerRichardson(Runner):
    """Gradient descent with the step controlled by Richardson's local error estimate.

    At ``theta`` with gradient ``g`` and step ``t``: one Euler step ``theta_1 = theta - t g``
    and two half steps ``theta_h = theta - (t/2) g``, ``theta_2 = theta_h - (t/2) g(theta_h)``.
    Their difference ``err = ||theta_2 - theta_1|| = (t/2) ||g(theta_h) - g||`` estimates the
    local error of the Euler step. The control is relative to the step's length ``t ||g||``:

        ratio = err / (t ||g||) = ||g(theta_h) - g|| / (2 ||g||) <= tol

    accepts the step (the iterate becomes the more accurate ``theta_2``, if its loss is
    finite), and the next step is ``t * min(max_growth, safety * tol / ratio)``; otherwise
    ``t`` is multiplied by ``max(min_shrink, safety * tol / ratio)`` and the step retried
    (exponent 1: the ratio grows like ``t``). Two evaluations per accepted step
    (``theta_h`` and ``theta_2``); ``theta_1`` is never evaluated.

    Why relative: with an absolute bound ``err <= tol`` the scheme stalls at a distance of
    order ``tol`` from the minimum along stiff directions (the step settles at the stability
    edge, where the stiff mode neither grows nor decays; measured on a quadratic with
    curvatures 1, 10, 100: the loss stops at 3e-8 of its start for any number of steps). On
    a quadratic the ratio is ``t lambda / 4`` for a mode of curvature ``lambda``, so
    ``tol < 1`` keeps every mode stable and the iteration converges.

    Parameters
    ----------
    lr : float
        First step (> 0).
    tol : float
        Bound on the relative error estimate ``ratio`` (in (0, 1) for a stable iteration).
    safety, max_growth, min_shrink : float
        The controller's safety factor (in (0, 1]), largest growth (>= 1) and smallest
        shrink factor (in (0, 1)) per step.
    gtol : float
        Stop ("converged") when ``max |g_i| <= gtol`` (0: never).
    max_tries : int
        Rejected trials per step before the run ends (reason ``"step_control_failed"``).
    """

    name = "euler_richardson"

    def __init__(
        self,
        lr: float,
        tol: float = 0.1,
        safety: float = 0.9,
        max_growth: float = 2.0,
        min_shrink: float = 0.2,
        gtol: float = 0.0,
        max_tries: int = 60,
    ) -> None:
        who = "EulerRichardson"
        positive = {"minimum": 0.0, "lower_open": True, "who": who}
        self.lr = _validate.real(lr, "lr", **positive)
        self.tol = _validate.real(tol, "tol", **positive)
        self.safety = _validate.real(
            safety, "safety", minimum=0.0, maximum=1.0, lower_open=True, who=who
        )
        self.max_growth = _validate.real(max_growth, "max_growth", minimum=1.0, who=who)
        self.min_shrink = _unit_open(min_shrink, "min_shrink", who)
        self.gtol = _validate.real(gtol, "gtol", minimum=0.0, who=who)
        self.max_tries = _validate.integer(max_tries, "max_tries", minimum=1, who=who)

    def __repr__(self) -> str:
        return (
            f"EulerRichardson(lr={self.lr:g}, tol={self.tol:g}, safety={self.safety:g}, "
            f"max_growth={self.max_growth:g}, min_shrink={self.min_shrink:g})"
        )

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
        """The scheme of the class docstring (see :meth:`Runner.run` for the arguments)."""
        rec = recorder
        who = f"{self.name}.run"
        f, g, finite = evaluate_start(obj, theta, rec, who)
        if not finite:
            return rec.finish(theta, "nonfinite_loss", "non-finite loss at theta0", self.name)
        t = self.lr
        steps = 0
        reason, message = "", ""

        def budget_left() -> bool:
            return max_evals is None or rec.n_evals < max_evals

        while True:
            stop = rec.stop_reason(steps, max_steps, max_evals)
            if stop is not None:
                reason, message = stop
                break
            if self.gtol > 0 and np.max(np.abs(g)) <= self.gtol:
                reason, message = "converged", f"max |g| <= gtol = {self.gtol:g}"
                break
            accepted = False
            g_norm = _vec.norm(g)
            for _ in range(self.max_tries):
                if not budget_left():
                    break
                half = theta - (0.5 * t) * g
                f_half, g_half = evaluate_trial(obj, half, who)
                rec.evaluation(half, f_half)
                change = _vec.distance(g_half, g)
                ratio = 0.5 * change / g_norm if g_norm > 0 else 0.0
                if not (math.isfinite(f_half) and math.isfinite(ratio)):
                    t *= self.min_shrink
                    continue
                if ratio > self.tol:
                    t *= max(self.min_shrink, self.safety * self.tol / ratio)
                    continue
                if not budget_left():
                    break
                new = half - (0.5 * t) * g_half
                f_new, g_new = evaluate_trial(obj, new, who)
                rec.evaluation(new, f_new)
                if not (math.isfinite(f_new) and np.all(np.isfinite(g_new))):
                    t *= self.min_shrink
                    continue
                gd = _vec.dot(g, new - theta) / t
                theta, f, g = new, f_new, g_new
                steps += 1
                rec.accept(theta, f, g, t, gd)
                growth = self.max_growth
                if ratio > 0:
                    growth = min(growth, self.safety * self.tol / ratio)
                t *= growth
                accepted = True
                break
            if not accepted:
                if not budget_left():
                    reason, message = "max_evals", "budget spent inside a step"
                else:
                    reason = "step_control_failed"
                    message = f"{self.max_tries} rejected trials (last step {t:.3g})"
                break
        return rec.finish(theta, reason, message, self.name)
