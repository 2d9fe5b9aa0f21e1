"""An optimizer is a direction rule x a step rule x optional gradient transforms."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np

from .. import _core, _validate
from . import _vec
from .directions import DirectionRule
from .protocol import Requirements, Runner, evaluate_start, evaluate_trial
from .steps import BudgetExhausted, StepContext, StepRule, Trial
from .trajectory import Trajectory, TrajectoryRecorder
from .transforms import GradientTransform

__all__ = ["Optimizer"]


class Optimizer(Runner):
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
        After a failed line search, drop the direction's state (curvature memory, velocity)
        and try again from the same point (L-BFGS-B's behaviour); the run ends only when a
        search fails from a fresh state.

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
        who = "Optimizer"
        self.direction = direction
        self.step = step
        self.transforms = tuple(transforms)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{who}: name must be a string or None, got {_validate.given(name)}")
        self.name = name or f"{direction.name}+{step.name}"
        self.gtol = _validate.real(gtol, "gtol", minimum=0.0, who=who)
        self.ftol = _validate.real(ftol, "ftol", minimum=0.0, who=who)
        self.restart_on_failure = _validate.flag(restart_on_failure, "restart_on_failure", who)

    def __repr__(self) -> str:
        parts = [repr(self.direction), repr(self.step), *map(repr, self.transforms)]
        return f"Optimizer({self.name!r}: {' x '.join(parts)})"

    @property
    def requires(self) -> Requirements:  # type: ignore[override]
        """Curvature memory when the direction rule keeps L-BFGS pairs; nothing else."""
        return Requirements(curvature_memory=hasattr(self.direction, "record"))

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
        """The iteration of the class docstring (see :meth:`Runner.run` for the arguments).

        When the evaluation budget runs out inside a line search, the lowest trial point of
        that search is taken as a last iterate if it lowers the loss.
        """
        # Rules carry per-run state (curvature pairs, moments, running minima): each run works
        # on its own copies, so one optimizer can run in several threads at once.
        direction = copy.copy(self.direction)
        transforms = tuple(copy.copy(t) for t in self.transforms)
        step_rule = copy.copy(self.step)
        step_rule.reset()
        # A stochastic objective (minibatches) evaluates iterate k on batch k: the protocol's
        # one extension, see toposcape.optim.protocol.
        select_batch = getattr(obj, "select_batch", None)

        def transform(f: float, g: np.ndarray) -> tuple[float, np.ndarray]:
            for t in transforms:
                f, g = t.apply(f, g)
            return f, g

        direction.bind(obj)
        direction.reset(theta.size)
        if hasattr(direction, "record"):
            direction.record = record_memory
        memory_log: list | None = [] if record_memory else None
        rec = recorder

        who = f"{self.name}.run"
        if select_batch is not None:
            select_batch(0)
        f, g, finite = evaluate_start(obj, theta, rec, who)
        if not finite:
            return rec.finish(theta, "nonfinite_loss", "non-finite loss at theta0", self.name)
        for t in transforms:
            t.reset(f)
        F, G = transform(f, g)
        if transforms and not (math.isfinite(F) and np.all(np.isfinite(G))):
            return rec.finish(
                theta, "nonfinite_loss", "the gradient transform overflowed at theta0", self.name
            )

        def evaluate_along(base: np.ndarray, d: np.ndarray):
            def evaluate(step: float) -> Trial:
                if max_evals is not None and rec.n_evals >= max_evals:
                    raise BudgetExhausted
                # the point and its distance from theta0 (the recorder's) in one pass
                point, distance = _core.step_point_distance(base, step, d, rec.theta0)
                loss, grad = evaluate_trial(obj, point, who)
                rec.evaluation(point, loss)
                finite = bool(np.isfinite(loss))
                grad_norm = np.nan
                if finite:
                    value, gvec = transform(loss, grad)
                    # Without transforms a finite slope proves every gradient entry finite
                    # (an inf entry makes its term inf or NaN), saving a pass; otherwise test
                    # both gradients (a transform can overflow a finite one).
                    if transforms:
                        slope = _vec.dot(gvec, d)
                        finite = bool(
                            math.isfinite(value)
                            and np.all(np.isfinite(grad))
                            and np.all(np.isfinite(gvec))
                        )
                    else:  # the slope and the recorder's gradient norm in one pass
                        slope, grad_norm = _core.dot_and_norm(gvec, d)
                        if not math.isfinite(slope):
                            finite = bool(np.all(np.isfinite(grad)))
                if not finite:
                    value, gvec, slope = np.nan, grad, np.nan
                    grad_norm = np.nan
                return Trial(step, point, loss, grad, value, gvec, slope, grad_norm, distance)

            return evaluate

        steps = 0
        reason, message = "", ""
        restarted = False  # the direction was restarted at this iterate already
        while True:
            stop = rec.stop_reason(steps, max_steps, max_evals)
            if stop is not None:
                reason, message = stop
                break
            # max|g| >= ||g|| / sqrt(n): the recorded norm rules most steps out without a pass.
            if (
                self.gtol > 0
                and rec.grad_norms[-1] <= self.gtol * math.sqrt(g.size)
                and np.max(np.abs(g)) <= self.gtol
            ):
                reason, message = "converged", f"max |g| <= gtol = {self.gtol:g}"
                break
            if select_batch is not None:
                select_batch(steps + 1)
            d, slope = direction.direction_and_slope(G)
            if not math.isfinite(slope):  # a direction rule overflowed: never step to NaN
                reason, message = "nonfinite_direction", "the direction rule returned NaN or inf"
                break
            if memory_log is not None:
                memory_log.append(direction.held_pairs)
            ctx = StepContext(
                theta, F, slope, d, direction.has_curvature, steps, evaluate_along(theta, d)
            )
            try:
                outcome = step_rule.search(ctx)
            except BudgetExhausted:
                best = ctx.best
                if best is not None and best.value < F:
                    theta, f, g = best.theta, best.loss, best.grad
                    steps += 1
                    rec.accept(theta, f, g, best.step, slope, best.grad_norm, best.distance)
                reason, message = "max_evals", "budget spent inside a step"
                break
            if not outcome.accepted:
                if memory_log is not None:
                    memory_log.pop()
                # Once per iterate: a restarted velocity is rebuilt from g at once, so a second
                # restart would retry the identical step forever.
                if self.restart_on_failure and direction.restartable and not restarted:
                    direction.restart()
                    restarted = True
                    continue
                reason, message = outcome.reason, outcome.message
                break
            trial = outcome.trial
            restarted = False
            direction.update_step(d, trial.step, trial.gvec, G, trial.step * slope)
            F_old = F
            theta, f, g, F, G = trial.theta, trial.loss, trial.grad, trial.value, trial.gvec
            # The decrease test compares both values at the same transform level, before a
            # running-minimum level moves to the new loss.
            decrease = F_old - F
            for t in transforms:
                t.accepted(f)
            if transforms:  # the level may have moved: re-express the current point
                F, G = transform(f, g)
                if not (math.isfinite(F) and np.all(np.isfinite(G))):
                    steps += 1
                    rec.accept(theta, f, g, trial.step, slope, distance=trial.distance)
                    reason, message = "nonfinite_loss", "the gradient transform overflowed"
                    break
            steps += 1
            rec.accept(theta, f, g, trial.step, slope, trial.grad_norm, trial.distance)
            if self.ftol > 0 and decrease <= self.ftol * max(
                abs(F_old), abs(F_old - decrease), 1.0
            ):
                reason, message = "converged", "relative reduction of f <= ftol"
                break
        return rec.finish(
            theta,
            reason,
            message,
            optimizer=self.name,
            memory=memory_log,
            pairs=list(direction.pairs) if memory_log is not None else None,
        )
