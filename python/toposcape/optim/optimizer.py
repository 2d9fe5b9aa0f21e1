"""An optimizer is a direction rule x a step rule x optional gradient transforms."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import _core
from . import _vec
from .directions import DirectionRule
from .steps import BudgetExhausted, StepContext, StepRule, Trial
from .trajectory import Trajectory, TrajectoryRecorder
from .transforms import GradientTransform

__all__ = ["Optimizer"]


class Optimizer:
    """Compose a direction rule, a step rule and gradient transforms into an optimizer.

    One iteration: transform the gradient (``G``), ask the direction rule for ``d``, let the
    step rule pick ``t`` (evaluating the objective as often as it needs), move to
    ``theta + t d``, and give the direction rule the pair ``s = t d``, ``y = G_new - G``.

    Parameters
    ----------
    direction : DirectionRule
    step : StepRule
    transforms : sequence of GradientTransform
        Applied in order to ``(loss, gradient)`` before the direction and step rules see them.
    name : str, optional
        Shown in trajectories (presets pass their registry name).
    gtol : float
        Stop ("converged") when ``max |g_i| <= gtol`` (0: never).
    ftol : float
        Stop ("converged") when an accepted step reduces the (transformed) loss by at most
        ``ftol * max(|f_old|, |f_new|, 1)`` (L-BFGS-B's ``factr * eps``; 0: never).
    restart_on_failure : bool
        After a failed line search, drop the direction's curvature memory and try again from
        the same point (L-BFGS-B's behaviour); the run ends only when a search fails with an
        empty memory.

    Examples
    --------
    >>> from toposcape.optim import Optimizer, LBFGS, StrongWolfe
    >>> opt = Optimizer(LBFGS(memory=5), StrongWolfe(), name="my_lbfgs")
    """

    def __init__(
        self,
        direction: DirectionRule,
        step: StepRule,
        transforms: Sequence[GradientTransform] = (),
        name: str | None = None,
        gtol: float = 0.0,
        ftol: float = 0.0,
        restart_on_failure: bool = True,
    ) -> None:
        if not isinstance(direction, DirectionRule):
            raise TypeError(f"direction must be a DirectionRule, got {type(direction).__name__}")
        if not isinstance(step, StepRule):
            raise TypeError(f"step must be a StepRule, got {type(step).__name__}")
        for t in transforms:
            if not isinstance(t, GradientTransform):
                raise TypeError(f"transforms must be GradientTransforms, got {type(t).__name__}")
        if not (gtol >= 0 and ftol >= 0):
            raise ValueError("gtol and ftol must be >= 0")
        self.direction = direction
        self.step = step
        self.transforms = tuple(transforms)
        self.name = name or f"{direction.name}+{step.name}"
        self.gtol = float(gtol)
        self.ftol = float(ftol)
        self.restart_on_failure = bool(restart_on_failure)

    def __repr__(self) -> str:
        parts = [repr(self.direction), repr(self.step), *map(repr, self.transforms)]
        return f"Optimizer({self.name!r}: {' x '.join(parts)})"

    def _transform(self, f: float, g: np.ndarray) -> tuple[float, np.ndarray]:
        for t in self.transforms:
            f, g = t.apply(f, g)
        return f, g

    def run(
        self,
        obj,
        theta0: np.ndarray | None = None,
        max_evals: int | None = 300,
        max_steps: int | None = None,
        record_params: bool = False,
        record_memory: bool = False,
        progress: bool = False,
    ) -> Trajectory:
        """Minimize ``obj`` from ``theta0`` until a budget is spent or a stopping test passes.

        Parameters
        ----------
        obj : Objective
            Anything with ``value_and_grad(theta) -> (float, ndarray)`` and ``size``.
        theta0 : ndarray (size,), optional
            Start; ``obj.x0`` by default.
        max_evals : int or None
            Budget of objective evaluations (the one at ``theta0`` included); None: no limit.
            When it runs out inside a line search, the lowest trial point of that search is
            taken as a last iterate if it lowers the loss.
        max_steps : int or None
            Budget of accepted steps; None: no limit.
        record_params : bool
            Keep every iterate in ``traj.thetas``.
        record_memory : bool
            With an L-BFGS direction, keep the curvature pairs so that the quasi-Newton matrix of
            any step can be rebuilt (``traj.pairs``, ``traj.memory``).
        progress : bool
            Show a tqdm progress bar with the current loss.

        Returns
        -------
        Trajectory
        """
        if max_evals is None and max_steps is None:
            raise ValueError("give at least one budget: max_evals or max_steps")
        for value, label in ((max_evals, "max_evals"), (max_steps, "max_steps")):
            if value is not None and (int(value) != value or value < 0):
                raise ValueError(f"{label} must be a non-negative integer or None, got {value!r}")
        if max_evals is not None and max_evals < 1:
            raise ValueError("max_evals must be >= 1 (the start point is evaluated)")
        if theta0 is None:
            theta0 = obj.x0
        theta = np.array(theta0, dtype=np.float64, copy=True)
        if theta.ndim != 1 or theta.size != obj.size:
            raise ValueError(f"theta0 must have shape ({obj.size},), got {np.shape(theta0)}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta0 contains NaN or inf")

        record_memory = bool(record_memory)
        direction = self.direction
        direction.reset(theta.size)
        if hasattr(direction, "record"):
            direction.record = record_memory
        memory_log: list | None = [] if record_memory and hasattr(direction, "record") else None
        rec = TrajectoryRecorder(theta, record_params=record_params)
        bar = _progress_bar(progress, max_evals, max_steps, self.name)

        f, g = obj.value_and_grad(theta)
        f = float(f)
        g = np.asarray(g, dtype=np.float64)
        rec.evaluation(theta, f)
        rec.accept(theta, f, g)
        _tick(bar, f, 1)
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return self._finish(rec, theta, "nonfinite_loss", "non-finite loss at theta0", bar)
        for t in self.transforms:
            t.reset(f)
        F, G = self._transform(f, g)

        def evaluate_along(base: np.ndarray, d: np.ndarray):
            def evaluate(step: float) -> Trial:
                if max_evals is not None and rec.n_evals >= max_evals:
                    raise BudgetExhausted
                point = _core.step_point(base, step, d)
                loss, grad = obj.value_and_grad(point)
                loss = float(loss)
                grad = np.asarray(grad, dtype=np.float64)
                rec.evaluation(point, loss)
                _tick(bar, loss, 1)
                finite = bool(np.isfinite(loss))
                if finite:
                    value, gvec = self._transform(loss, grad)
                    slope = _vec.dot(gvec, d)
                    # Without transforms a finite slope proves every gradient entry finite
                    # (an inf entry makes its term inf or NaN), saving a pass; otherwise test.
                    if self.transforms or not math.isfinite(slope):
                        finite = bool(np.all(np.isfinite(grad)))
                if not finite:
                    value, gvec, slope = np.nan, grad, np.nan
                return Trial(step, point, loss, grad, value, gvec, slope)

            return evaluate

        steps = 0
        reason, message = "", ""
        while True:
            if max_steps is not None and steps >= max_steps:
                reason = "max_steps"
                break
            if max_evals is not None and rec.n_evals >= max_evals:
                reason = "max_evals"
                break
            # max|g| >= ||g|| / sqrt(n): the recorded norm rules most steps out without a pass.
            if (
                self.gtol > 0
                and rec.grad_norms[-1] <= self.gtol * math.sqrt(g.size)
                and np.max(np.abs(g)) <= self.gtol
            ):
                reason, message = "converged", f"max |g| <= gtol = {self.gtol:g}"
                break
            d = direction.direction(G)
            slope = _vec.dot(G, d)
            if memory_log is not None:
                memory_log.append(direction.held_pairs)
            ctx = StepContext(
                theta, F, slope, d, direction.has_curvature, steps, evaluate_along(theta, d)
            )
            try:
                outcome = self.step.search(ctx)
            except BudgetExhausted:
                best = ctx.best
                if best is not None and best.value < F:
                    theta, f, g = best.theta, best.loss, best.grad
                    steps += 1
                    rec.accept(theta, f, g, best.step, slope)
                reason, message = "max_evals", "budget spent inside a step"
                break
            if not outcome.accepted:
                if memory_log is not None:
                    memory_log.pop()
                if self.restart_on_failure and direction.has_curvature:
                    direction.restart()
                    continue
                reason, message = outcome.reason, outcome.message
                break
            trial = outcome.trial
            direction.update_step(d, trial.step, trial.gvec, G, trial.step * slope)
            F_old = F
            theta, f, g, F, G = trial.theta, trial.loss, trial.grad, trial.value, trial.gvec
            # The decrease test compares both values at the same transform level, before a
            # running-minimum level moves to the new loss.
            decrease = F_old - F
            for t in self.transforms:
                t.accepted(f)
            if self.transforms:  # the level may have moved: re-express the current point
                F, G = self._transform(f, g)
            steps += 1
            rec.accept(theta, f, g, trial.step, slope)
            if self.ftol > 0 and decrease <= self.ftol * max(
                abs(F_old), abs(F_old - decrease), 1.0
            ):
                reason, message = "converged", "relative reduction of f <= ftol"
                break
        return self._finish(
            rec,
            theta,
            reason,
            message,
            bar,
            memory=memory_log,
            pairs=list(direction.pairs) if memory_log is not None else None,
        )

    def _finish(self, rec, theta, reason, message, bar, memory=None, pairs=None) -> Trajectory:
        if bar is not None:
            bar.close()
        return rec.finish(theta, reason, message, optimizer=self.name, memory=memory, pairs=pairs)


def _progress_bar(enabled: bool, max_evals, max_steps, name):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    total = max_evals if max_evals is not None else None
    return tqdm(total=total, desc=name, unit="eval", leave=False)


def _tick(bar, loss: float, n: int) -> None:
    if bar is not None:
        bar.update(n)
        bar.set_postfix_str(f"loss={loss:.6g}", refresh=False)
