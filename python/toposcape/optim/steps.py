"""Step rules: how far to go along a search direction ``d``.

A step rule receives a :class:`StepContext` (the current point, its value and gradient, the
direction, and ``evaluate(t)`` which evaluates the objective at ``theta + t d``) and returns a
:class:`StepOutcome`. The line searches run as reverse-communication state machines in the C++
core; this module only feeds them values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _core, _validate
from ..errors import InvalidInputError
from . import _vec

__all__ = [
    "StepRule",
    "StepContext",
    "StepOutcome",
    "Constant",
    "Schedule",
    "StrongWolfe",
    "Armijo",
    "GoldenSection",
]


class BudgetExhausted(Exception):
    """Raised by :meth:`StepContext.evaluate` when the evaluation budget is spent."""


@dataclass
class Trial:
    """One evaluation along the line."""

    step: float
    theta: np.ndarray
    loss: float  # untransformed
    grad: np.ndarray  # untransformed
    value: float  # as the optimizer sees it (after gradient transforms)
    gvec: np.ndarray  # transformed gradient
    slope: float  # gvec . d
    # Taken in the passes that made the point and the slope, for the recorder (NaN: not known)
    grad_norm: float = float("nan")  # ||grad||
    distance: float = float("nan")  # ||theta - theta0|| of the run


@dataclass
class StepOutcome:
    """Result of a step rule: an accepted trial, or a failure with a reason."""

    trial: Trial | None
    reason: str = ""
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.trial is not None


class StepContext:
    """What a step rule needs: the current point, the direction, and a way to evaluate.

    Attributes
    ----------
    value : float
        Objective value at the current point (after transforms).
    slope : float
        Directional derivative ``g . d`` there.
    direction : ndarray
    first_step : float
        The step a line search should try first when it has no better idea: ``1/||d||`` when
        the direction carries no curvature information (first iteration, gradient descent, a
        cleared memory), else 1 (L-BFGS-B's rule).
    iteration : int
        Number of accepted steps so far.
    """

    def __init__(
        self,
        theta: np.ndarray,
        value: float,
        slope: float,
        direction: np.ndarray,
        has_curvature: bool,
        iteration: int,
        evaluate: Callable[[float], Trial],
    ) -> None:
        self.theta = theta
        self.value = value
        self.slope = slope
        self.direction = direction
        self.iteration = iteration
        self._evaluate = evaluate
        if has_curvature:
            self.first_step = 1.0
        else:  # the norm costs a pass over the vector: only when it is needed
            dnorm = _vec.norm(direction)
            self.first_step = 1.0 / dnorm if dnorm > 0 else 1.0
        #: Lowest-valued finite trial of this step so far.
        self.best: Trial | None = None
        self.n_evals = 0

    def evaluate(self, step: float) -> Trial:
        """Evaluate at ``theta + step * d`` (raises BudgetExhausted when no budget is left)."""
        trial = self._evaluate(step)
        self.n_evals += 1
        if np.isfinite(trial.value) and (self.best is None or trial.value < self.best.value):
            self.best = trial
        return trial


class StepRule(ABC):
    """Base class of step rules."""

    name = "step"

    def reset(self) -> None:
        """Start of a run (the optimizer calls it on its private copy); stateless rules
        ignore it, adaptive ones (:class:`~toposcape.optim.adaptive.EnergyDecrease`) start
        afresh."""
        return

    @abstractmethod
    def search(self, ctx: StepContext) -> StepOutcome:
        """Choose a step along ``ctx.direction``, evaluating through ``ctx.evaluate``."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


def _positive(value: float, name: str, who: str | None = None) -> float:
    return _validate.real(value, name, minimum=0.0, lower_open=True, who=who)


def _initial_step(initial, who: str) -> float | str:
    """``"auto"`` or a positive first trial step."""
    if isinstance(initial, str):
        return _validate.option(initial, "initial", ("auto",), who=who)
    return _positive(initial, "initial", who)


class Constant(StepRule):
    """A fixed step ``t = lr`` (one evaluation per step, always accepted if finite)."""

    name = "constant"

    def __init__(self, lr: float) -> None:
        self.lr = _positive(lr, "lr")

    def search(self, ctx: StepContext) -> StepOutcome:
        trial = ctx.evaluate(self.lr)
        if not (np.isfinite(trial.loss) and np.all(np.isfinite(trial.grad))):
            return StepOutcome(None, "nonfinite_loss", f"non-finite loss at step size {self.lr:g}")
        return StepOutcome(trial)


class Schedule(StepRule):
    """A step that depends on the iteration: ``t = schedule(k)`` for step ``k = 0, 1, ...``."""

    name = "schedule"

    def __init__(self, schedule: Callable[[int], float]) -> None:
        if not callable(schedule):
            raise TypeError(
                f"Schedule: schedule must be a callable k -> step size, "
                f"got {_validate.given(schedule)}"
            )
        self.schedule = schedule

    def search(self, ctx: StepContext) -> StepOutcome:
        lr = _positive(self.schedule(ctx.iteration), f"schedule({ctx.iteration})")
        trial = ctx.evaluate(lr)
        if not (np.isfinite(trial.loss) and np.all(np.isfinite(trial.grad))):
            return StepOutcome(None, "nonfinite_loss", f"non-finite loss at step size {lr:g}")
        return StepOutcome(trial)


def _initial(initial: float | str, ctx: StepContext) -> float:
    return ctx.first_step if initial == "auto" else float(initial)


class StrongWolfe(StepRule):
    """Moré-Thuente line search to the strong Wolfe conditions, as L-BFGS-B uses it.

    ``f(t) <= f(0) + ftol t f'(0)`` and ``|f'(t)| <= gtol |f'(0)|``, with interval tolerance
    ``xtol``, at most ``max_evals`` evaluations. The first trial is ``1/||d||`` when the
    direction has no curvature information and 1 otherwise (``initial="auto"``), or ``initial``.
    A non-finite value at a trial point makes the search back off towards the best step.
    """

    name = "strong_wolfe"

    def __init__(
        self,
        ftol: float = 1e-3,
        gtol: float = 0.9,
        xtol: float = 0.1,
        max_evals: int = 20,
        stpmax: float = 1e10,
        initial: float | str = "auto",
    ) -> None:
        who = "StrongWolfe"
        unit = {"minimum": 0.0, "maximum": 1.0, "lower_open": True, "upper_open": True}
        self.ftol = _validate.real(ftol, "ftol (c1)", **unit, who=who)
        self.gtol = _validate.real(gtol, "gtol (c2)", **unit, who=who)
        if not self.ftol < self.gtol:
            raise InvalidInputError(
                f"{who}: need ftol (c1) < gtol (c2), got ftol={ftol!r}, gtol={gtol!r}"
            )
        self.xtol = _validate.real(xtol, "xtol", minimum=0.0, who=who)
        self.max_evals = _validate.integer(max_evals, "max_evals (maxls)", minimum=1, who=who)
        self.stpmax = _positive(stpmax, "stpmax", who)
        self.initial = _initial_step(initial, who)

    def search(self, ctx: StepContext) -> StepOutcome:
        if not ctx.slope < 0:
            return StepOutcome(None, "line_search_failed", "not a descent direction")
        search = _core.MoreThuente(self.ftol, self.gtol, self.xtol, 0.0, self.stpmax)
        task = search.start(ctx.value, ctx.slope, min(_initial(self.initial, ctx), self.stpmax))
        trial = None
        while task == _core.Task.EVALUATE:
            if ctx.n_evals >= self.max_evals:
                return StepOutcome(
                    None, "line_search_failed", f"no step found in {self.max_evals} evaluations"
                )
            trial = ctx.evaluate(search.step)
            task = search.iterate(trial.value, trial.slope)
        if task == _core.Task.ERROR:
            return StepOutcome(None, "line_search_failed", search.message)
        if trial is None or search.step != trial.step:
            # Backed off after non-finite values: accept the best finite trial if it decreased.
            best = ctx.best
            if best is None or not best.value < ctx.value:
                return StepOutcome(None, "line_search_failed", search.message)
            trial = best
        return StepOutcome(trial, message=search.message)


class Armijo(StepRule):
    """Backtracking: ``t <- shrink t`` until ``f(t) <= f(0) + c1 t f'(0)`` (sufficient decrease)."""

    name = "armijo"

    def __init__(
        self,
        c1: float = 1e-4,
        shrink: float = 0.5,
        max_evals: int = 40,
        initial: float | str = 1.0,
    ) -> None:
        who = "Armijo"
        unit = {"minimum": 0.0, "maximum": 1.0, "lower_open": True, "upper_open": True}
        self.c1 = _validate.real(c1, "c1", **unit, who=who)
        self.shrink = _validate.real(shrink, "shrink", **unit, who=who)
        self.max_evals = _validate.integer(max_evals, "max_evals", minimum=1, who=who)
        self.initial = _initial_step(initial, who)

    def search(self, ctx: StepContext) -> StepOutcome:
        if not ctx.slope < 0:
            return StepOutcome(None, "line_search_failed", "not a descent direction")
        search = _core.Armijo(self.c1, self.shrink, 1e-300)
        task = search.start(ctx.value, ctx.slope, _initial(self.initial, ctx))
        trial = None
        while task == _core.Task.EVALUATE:
            if ctx.n_evals >= self.max_evals:
                return StepOutcome(None, "line_search_failed", "no sufficient decrease found")
            trial = ctx.evaluate(search.step)
            task = search.iterate(trial.value)
        if task != _core.Task.CONVERGED:
            return StepOutcome(None, "line_search_failed", search.message)
        return StepOutcome(trial, message=search.message)


class GoldenSection(StepRule):
    """Exact line search: bracket a minimizer of ``f(theta + t d)``, then golden sections.

    Stops when the bracket is narrower than ``xtol`` times the best step, or after
    ``max_evals`` evaluations (then the best step found is taken if it decreased ``f``).
    """

    name = "golden_section"

    def __init__(self, xtol: float = 1e-4, max_evals: int = 60, initial: float | str = "auto"):
        who = "GoldenSection"
        self.xtol = _positive(xtol, "xtol", who)
        self.max_evals = _validate.integer(max_evals, "max_evals", minimum=2, who=who)
        self.initial = _initial_step(initial, who)

    def search(self, ctx: StepContext) -> StepOutcome:
        if not ctx.slope < 0:
            return StepOutcome(None, "line_search_failed", "not a descent direction")
        search = _core.GoldenSection(self.xtol, 50)
        task = search.start(ctx.value, _initial(self.initial, ctx))
        while task == _core.Task.EVALUATE and ctx.n_evals < self.max_evals:
            task = search.iterate(ctx.evaluate(search.step).value)
        best = ctx.best
        if task == _core.Task.ERROR or best is None or not best.value < ctx.value:
            return StepOutcome(None, "line_search_failed", search.message or "no decrease found")
        return StepOutcome(best, message=search.message)
