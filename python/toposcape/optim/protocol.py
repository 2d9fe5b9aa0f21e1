"""The one run protocol every optimizer follows, baselines included.

Every optimizer is a :class:`Runner`: ``run(objective, theta0=None, max_evals="auto",
max_steps=None, record_params=False, progress=None, callback=None, record_memory=False)``
returns a :class:`~toposcape.optim.trajectory.Trajectory`. The base class validates the
arguments, checks the objective against what the optimizer declares it needs
(:class:`Requirements`), and drives the progress bar and the user's callback; subclasses
implement :meth:`Runner._run` only. The experiment engine, the CLI and notebooks rely on this
signature and on :attr:`Runner.requires` rather than on preset names.

Stochastic objectives (minibatches)
-----------------------------------
An objective with a method ``select_batch(k: int)`` is stochastic: the optimizer calls it with
``k = 0`` before evaluating ``theta0`` and with ``k + 1`` before the step from iterate ``k``,
so every evaluation of a step (the trial at iterate ``k + 1`` included) uses batch ``k + 1``.
The batch must be a pure function of ``k`` and the objective's seed, so a run stays a pure
function of its settings. Deterministic objectives have no such method and nothing changes
for them. The optimizers built on :class:`~toposcape.optim.Optimizer` follow this; others
ignore it (they see whatever batch is selected).

Gradient precision
------------------
An objective whose gradient is a float32 computation (returned as float64) may say so with
an attribute ``gradient_dtype = "float32"`` (:class:`~toposcape.CNNObjective` with its default
``dtype``). L-BFGS with ``pair_dtype="auto"`` (the default) then stores its curvature pairs in
float32, which halves the memory traffic of the pairs at no loss the gradient's own rounding
does not already cause, and takes the direction from the compact representation (two passes
over the pairs instead of the two-loop's); objectives that declare nothing count as float64.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _threads, _validate
from .._progress import progress_bar
from ..errors import InvalidInputError
from .trajectory import Trajectory, TrajectoryRecorder

__all__ = [
    "Requirements",
    "RunState",
    "Runner",
    "Callback",
    "evaluate",
    "evaluate_start",
    "evaluate_trial",
]


@dataclass(frozen=True)
class Requirements:
    """What an optimizer needs of the objective it runs on.

    Attributes
    ----------
    explicit_volume : bool
        The optimizer enforces the volume constraint itself (OC, MMA): the objective's
        parameters must be densities in [0, 1] and it must expose the linear volume through
        ``explicit_volume = True``, ``target_volume``, ``free`` (bool mask of the parameters
        the optimizer may move), ``volume(theta)`` and ``volume_gradient()``, as
        ``PixelObjective(problem, volume_constraint=False)`` does.
    curvature_memory : bool
        The optimizer keeps L-BFGS curvature pairs, so ``record_memory=True`` is meaningful.
    least_squares : bool
        The optimizer needs the least-squares form (Levenberg-Marquardt): ``residuals(theta)
        -> (m,)`` and ``jacobian(theta) -> (m, size)``, the loss a positive multiple of
        ``sum(residuals**2)`` (plus a constant).
    """

    explicit_volume: bool = False
    curvature_memory: bool = False
    least_squares: bool = False

    def check(self, objective, who: str) -> None:
        """Raise a clear error when ``objective`` lacks what these requirements ask for."""
        if self.explicit_volume:
            needed = ("target_volume", "free", "volume", "volume_gradient")
            missing = [a for a in needed if not hasattr(objective, a)]
            if missing or not getattr(objective, "explicit_volume", False):
                raise InvalidInputError(
                    f"{who} enforces the volume constraint itself and needs an objective over "
                    "densities in [0, 1], e.g. toposcape.PixelObjective(problem, "
                    f"volume_constraint=False); got {_describe(objective)}"
                )
        if self.least_squares:
            missing = [
                a for a in ("residuals", "jacobian") if not callable(getattr(objective, a, None))
            ]
            if missing:
                raise InvalidInputError(
                    f"{who} needs an objective in least-squares form, with residuals(theta) "
                    "and jacobian(theta) (e.g. toposcape.lab.networks.get(...)); "
                    f"{type(objective).__name__} has no {' or '.join(missing)} (the topology "
                    "objectives have none: compliance is not a sum of squares)"
                )


def _describe(objective) -> str:
    name = type(objective).__name__
    if getattr(objective, "explicit_volume", None) is False and hasattr(objective, "volume"):
        return f"{name} with volume_constraint=True (theta = logits)"
    return name


@dataclass(frozen=True)
class RunState:
    """What a callback sees after every accepted iterate (``step = 0`` is ``theta0``).

    Attributes
    ----------
    optimizer : str
        The optimizer's name.
    step : int
        Accepted steps so far.
    n_evals : int
        Objective evaluations so far.
    loss : float
        Loss at the current iterate.
    best_loss : float
        Lowest loss evaluated so far.
    grad_norm : float
        Euclidean norm of the gradient at the current iterate.
    theta : ndarray (size,)
        The current iterate, read-only (copy it to keep it).
    elapsed : float
        Seconds since the run started.
    """

    optimizer: str
    step: int
    n_evals: int
    loss: float
    best_loss: float
    grad_norm: float
    theta: np.ndarray
    elapsed: float


#: ``callback(state) -> bool | None``: a true return value stops the run (reason "callback").
Callback = Callable[[RunState], "bool | None"]


class Runner(ABC):
    """Base class of every optimizer: one ``run`` signature, one :class:`Trajectory`.

    Subclasses set :attr:`name` and :attr:`requires` and implement :meth:`_run`, which gets
    validated arguments and a :class:`~toposcape.optim.trajectory.TrajectoryRecorder` that
    already carries the progress bar and the callback: after each ``recorder.accept(...)`` an
    implementation ends its loop when ``recorder.stop_requested`` is set, with reason
    ``"callback"``.
    """

    name: str = "optimizer"
    requires: Requirements = Requirements()

    def run(
        self,
        objective,
        theta0: np.ndarray | None = None,
        max_evals: int | None | str = "auto",
        max_steps: int | None = None,
        record_params: bool = False,
        progress: bool | None = None,
        callback: Callback | None = None,
        record_memory: bool = False,
    ) -> Trajectory:
        """Minimize ``objective`` from ``theta0`` until a budget is spent or a stop test passes.

        Parameters
        ----------
        objective : Objective
            Anything with ``size`` and ``value_and_grad(theta) -> (float, ndarray (size,))``
            (and whatever :attr:`requires` asks for).
        theta0 : ndarray (size,), optional
            Start; ``objective.x0`` by default.
        max_evals : int, None or "auto"
            Budget of objective evaluations (the one at ``theta0`` included); None: no limit;
            ``"auto"`` (default): 300, or no limit when ``max_steps`` is given (so that
            ``run(obj, max_steps=5000)`` takes 5000 steps, as it reads).
        max_steps : int or None
            Budget of accepted steps; None: no limit. At least one budget must be given; the
            run stops at whichever is reached first.
        record_params : bool
            Keep every iterate in ``traj.thetas`` ((n_steps + 1, size) float64).
        progress : bool or None
            Show a progress bar with the current loss; None: only when standard error is a
            terminal.
        callback : callable, optional
            ``callback(state: RunState)`` after every accepted iterate, ``theta0`` included;
            returning a true value stops the run with reason ``"callback"``. Exceptions it
            raises propagate (after the progress bar is closed).
        record_memory : bool
            Keep the L-BFGS curvature pairs (``traj.pairs``, ``traj.memory``); only for
            optimizers whose ``requires.curvature_memory`` is set.

        Returns
        -------
        Trajectory
        """
        who = f"{self.name}.run"
        if isinstance(max_evals, str) and max_evals == "auto":
            max_evals = 300 if max_steps is None else None
        max_evals = _validate.integer(max_evals, "max_evals", minimum=1, allow_none=True, who=who)
        max_steps = _validate.integer(max_steps, "max_steps", minimum=0, allow_none=True, who=who)
        if max_evals is None and max_steps is None:
            raise InvalidInputError(
                f"{who}: give at least one budget, max_evals or max_steps (both are None)"
            )
        record_params = _validate.flag(record_params, "record_params", who)
        record_memory = _validate.flag(record_memory, "record_memory", who)
        if progress is not None:
            progress = _validate.flag(progress, "progress", who)
        if callback is not None and not callable(callback):
            raise TypeError(f"{who}: callback must be callable, got {_validate.given(callback)}")
        if record_memory and not self.requires.curvature_memory:
            raise InvalidInputError(
                f"{who}: record_memory=True needs an optimizer with an L-BFGS memory; "
                f"{self.name} keeps no curvature pairs"
            )
        size = _objective_size(objective, who)
        self.requires.check(objective, self.name)
        if theta0 is None:
            theta0 = getattr(objective, "x0", None)
            if theta0 is None:
                raise TypeError(
                    f"{who}: give theta0: the objective has no x0 to start from "
                    f"({_validate.given(objective)})"
                )
        theta = _validate.vector(theta0, "theta0", size, copy=True, who=who)

        threads = _threads.settings(objective)
        bar = _progress_bar(progress, max_evals, max_steps, self.name)
        recorder = TrajectoryRecorder(
            theta, record_params=record_params, bar=bar, callback=callback, optimizer=self.name
        )
        try:
            trajectory = self._run(
                objective,
                theta,
                max_evals=max_evals,
                max_steps=max_steps,
                recorder=recorder,
                record_memory=record_memory,
            )
            trajectory.threads = threads
            return trajectory
        finally:
            if bar is not None:
                bar.close()

    @abstractmethod
    def _run(
        self,
        objective,
        theta: np.ndarray,
        *,
        max_evals: int | None,
        max_steps: int | None,
        recorder: TrajectoryRecorder,
        record_memory: bool,
    ) -> Trajectory:
        """The optimizer's loop on validated arguments (``theta`` is a private copy)."""

    def fresh(self):
        """A copy for one run, so concurrent runs of one optimizer share no state."""
        return copy.copy(self)


def evaluate(objective, theta: np.ndarray, who: str) -> tuple[float, np.ndarray]:
    """``objective.value_and_grad(theta)``, its return checked: a real scalar loss and a
    real gradient of ``theta``'s shape, as ``(float, float64 ndarray)``.

    A wrong return (not a pair, a gradient of the wrong shape, complex values) raises a clear
    :class:`TypeError` / :class:`~toposcape.errors.InvalidInputError` naming the objective,
    instead of an error from deep inside the optimizer. Non-finite values are returned as
    they are: the optimizers handle them (a failed trial, or reason ``"nonfinite_loss"``).
    """
    out = objective.value_and_grad(theta)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(
            f"{who}: objective.value_and_grad must return (loss, gradient), got "
            f"{_validate.given(out)}"
        )
    loss, grad = out
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.reshape(()).item()
    if isinstance(loss, (bool, np.bool_, complex, np.complexfloating)) or not isinstance(
        loss, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{who}: the loss returned by objective.value_and_grad must be a real number, got "
            f"{_validate.given(loss)}"
        )
    if not isinstance(grad, np.ndarray) or grad.dtype != np.float64:
        if np.iscomplexobj(grad):
            raise TypeError(
                f"{who}: the gradient returned by objective.value_and_grad must be real, got "
                f"{_validate.given(np.asarray(grad))}"
            )
        try:
            grad = np.asarray(grad, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{who}: the gradient returned by objective.value_and_grad must be an array "
                f"of real numbers, got {_validate.given(grad)}"
            ) from None
    if grad.shape != theta.shape:
        raise InvalidInputError(
            f"{who}: the gradient returned by objective.value_and_grad must have theta's "
            f"shape {theta.shape}, got shape {grad.shape}"
        )
    return float(loss), grad


def evaluate_start(
    objective, theta: np.ndarray, recorder: TrajectoryRecorder, who: str
) -> tuple[float, np.ndarray, bool]:
    """Evaluate ``theta0`` and record it as evaluation and iterate 0: ``(loss, gradient,
    finite)``, ``finite`` telling whether the run may go on (else it ends with reason
    ``"nonfinite_loss"``)."""
    f, g = evaluate(objective, theta, who)
    recorder.evaluation(theta, f)
    recorder.accept(theta, f, g)
    return f, g, bool(np.isfinite(f) and np.all(np.isfinite(g)))


def evaluate_trial(objective, theta: np.ndarray, who: str) -> tuple[float, np.ndarray]:
    """:func:`evaluate` at a trial point an optimizer computed, which may have overflowed.

    An objective that validates its input refuses a non-finite ``theta`` with
    :class:`~toposcape.errors.InvalidInputError`; for a trial point that is an overflowed
    step, not a user error, so it comes back as a non-finite loss (a failed trial) instead.
    The point is only inspected when the objective refused it: no extra pass on the hot path.
    """
    try:
        return evaluate(objective, theta, who)
    except InvalidInputError:
        if np.all(np.isfinite(theta)):
            raise
        return float("nan"), np.full(theta.shape, np.nan)


def _objective_size(objective, who: str) -> int:
    if not callable(getattr(objective, "value_and_grad", None)):
        raise TypeError(
            f"{who}: objective must have a value_and_grad(theta) method (an Objective such as "
            f"toposcape.PixelObjective), got {_validate.given(objective)}"
        )
    size = getattr(objective, "size", None)
    return _validate.integer(size, "objective.size", minimum=1, who=who)


def _progress_bar(enabled: bool | None, max_evals, max_steps, name):
    if max_evals is not None:
        return progress_bar(enabled, max_evals, name, "eval", leave=False)
    return progress_bar(enabled, max_steps, name, "step", leave=False)
