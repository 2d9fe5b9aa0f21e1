"""The Fourier path finder (``studies.md`` section 4): low-barrier paths between two minima.

A path from ``theta_a`` to ``theta_b`` is the straight line plus a truncated sine series in
every coordinate,

    path(t) = (1 - t) theta_a + t theta_b + sum_{k=1..modes} c_k sin(k pi t),   t in [0, 1],

so its end points are fixed whatever the coefficients ``c`` (a ``(modes, size)`` array). The
path is discretised on ``points`` equally spaced nodes ``t_j`` and the coefficients are
optimised to minimise the highest loss on the nodes, through a smooth maximum:

    S_T(c) = T log( (1/n) sum_j exp(f(path(t_j)) / T) ),

which lies in ``[max_j f - T log n, max_j f]`` and tends to the true maximum as the temperature
``T`` goes to 0. Its exact gradient is, by the chain rule,

    dS_T/dc_k = sum_j w_j sin(k pi t_j) grad f(path(t_j)),   w = softmax(f(path(t_j)) / T),

one ``value_and_grad`` per interior node per evaluation (the end nodes' losses are constants,
evaluated once). The temperature is annealed: a sequence of L-BFGS runs (scipy's L-BFGS-B,
warm started from one another) at ``T = tau * scale`` for each ``tau`` of ``temperatures``,
``scale`` being the loss range along the straight line. Every evaluated path is a candidate
and the result is the one whose *true* maximum over the nodes is lowest (the straight line,
``c = 0``, is a candidate too, so the path's barrier never exceeds the straight line's).

The barriers are maxima over the nodes. Minimising a maximum over nodes can place two nodes on
either side of a narrow saddle, so the node barrier may fall slightly below the continuous
path's (by about ``|f''| h^2 / 8`` for a node gap ``h`` there); :meth:`FourierPath.profile`
evaluates the path on a denser grid to check. More ``points`` per mode make this smaller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate
from .._progress import progress_bar
from ..errors import InvalidInputError

__all__ = ["FourierPath", "SmoothMaxPath", "fourier_path"]

_WHO = "fourier_path"

#: Default annealing schedule: temperatures relative to the loss range along the straight line.
DEFAULT_TEMPERATURES = (3e-2, 1e-2, 3e-3, 1e-3)


def _check_objective(objective: Any, who: str) -> int:
    if not callable(getattr(objective, "value_and_grad", None)):
        raise TypeError(
            f"{who}: objective must have a value_and_grad(theta) method, "
            f"got {_validate.given(objective)}"
        )
    if not hasattr(objective, "size"):
        raise TypeError(f"{who}: objective must have a size attribute (the parameter count)")
    return _validate.integer(objective.size, "objective.size", minimum=1, who=who)


def _sine_basis(t: np.ndarray, modes: int) -> np.ndarray:
    """``sin(k pi t_j)`` as a ``(len(t), modes)`` array (k = 1..modes)."""
    return np.sin(np.pi * np.outer(t, np.arange(1, modes + 1)))


class SmoothMaxPath:
    """The smooth maximum of the losses along a Fourier path, as a function of its coefficients.

    An Objective itself: :attr:`size` is ``modes * objective.size`` and :meth:`value_and_grad`
    takes the coefficients flattened (C order, mode by mode). :attr:`temperature` is absolute
    (in loss units) and may be changed between calls. The end nodes' losses are evaluated once,
    at construction; every call evaluates the objective on the ``points - 2`` interior nodes.

    After each call, :attr:`last_losses` and :attr:`last_thetas` hold the node losses and the
    path, and :attr:`n_objective_evals` counts the objective's evaluations. With
    :attr:`tolerate_errors` set, an objective raising ValueError or ArithmeticError at a node
    (e.g. a topology objective refusing extreme logits) counts as an infinite loss there, the
    call returns ``(inf, 0)`` so that a line search backs off, and :attr:`n_failures` counts them.
    """

    def __init__(
        self,
        objective: Any,
        theta_a: Any,
        theta_b: Any,
        modes: int,
        points: int,
        temperature: float,
    ) -> None:
        who = "SmoothMaxPath"
        n = _check_objective(objective, who)
        self.objective = objective
        self.theta_a = _validate.vector(theta_a, "theta_a", n, copy=True, who=who)
        self.theta_b = _validate.vector(theta_b, "theta_b", n, copy=True, who=who)
        self.modes = _validate.integer(modes, "modes", minimum=1, who=who)
        self.points = _validate.integer(points, "points", minimum=3, who=who)
        self.temperature = _validate.real(
            temperature, "temperature", minimum=0.0, lower_open=True, who=who
        )
        self.dim = n
        self.size = self.modes * n
        self.x0 = np.zeros(self.size)
        self.t = np.linspace(0.0, 1.0, self.points)
        self.basis = _sine_basis(self.t, self.modes)
        self.basis[[0, -1]] = 0.0  # sin(k pi) is 0 up to rounding: make the end points exact
        self.n_objective_evals = 0
        self.n_failures = 0
        self.tolerate_errors = False
        self.end_losses = np.array([self._loss(self.theta_a)[0], self._loss(self.theta_b)[0]])
        self.last_losses: np.ndarray | None = None
        self.last_thetas: np.ndarray | None = None

    def _loss(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = self.objective.value_and_grad(theta)
        self.n_objective_evals += 1
        return float(value), np.asarray(grad, dtype=np.float64).reshape(self.dim)

    def thetas(self, coefficients: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
        """The path at ``t`` (the nodes by default) as a ``(len(t), size)`` array."""
        c = np.asarray(coefficients, dtype=np.float64).reshape(self.modes, self.dim)
        if t is None:
            t, basis = self.t, self.basis
        else:
            t = np.asarray(t, dtype=np.float64)
            basis = _sine_basis(t, self.modes)
        line = np.outer(1.0 - t, self.theta_a) + np.outer(t, self.theta_b)
        return line + basis @ c

    def value_and_grad(self, coefficients: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth maximum of the node losses and its gradient w.r.t. the flat coefficients."""
        thetas = self.thetas(coefficients)
        losses = np.empty(self.points)
        grads = np.zeros((self.points, self.dim))
        losses[0], losses[-1] = self.end_losses
        for j in range(1, self.points - 1):
            try:
                losses[j], grads[j] = self._loss(thetas[j])
            except (ValueError, ArithmeticError):
                if not self.tolerate_errors:
                    raise
                self.n_failures += 1
                losses[j] = np.inf
        self.last_losses, self.last_thetas = losses, thetas
        if not np.all(np.isfinite(losses)):
            return float("inf"), np.zeros(self.size)
        temp = self.temperature
        top = losses.max()
        z = np.exp((losses - top) / temp)
        total = z.sum()
        value = top + temp * np.log(total / self.points)
        weights = z / total
        grad = (self.basis * weights[:, None]).T @ grads  # (modes, dim)
        return float(value), grad.ravel()


@dataclass
class FourierPath:
    """A path found by :func:`fourier_path`, with the straight line for comparison.

    Attributes
    ----------
    t : ndarray, (points,)
        The nodes in [0, 1].
    thetas : ndarray, (points, size)
        The path at the nodes (first and last rows are exactly ``theta_a`` and ``theta_b``).
    losses : ndarray, (points,)
        The loss at each node of the path.
    coefficients : ndarray, (modes, size)
        The sine coefficients ``c_k`` of the path.
    barrier : float
        Highest loss on the path's nodes minus the higher end point's loss (>= 0); see
        :meth:`profile` for a denser check between the nodes.
    straight_losses : ndarray, (points,)
        The loss on the same nodes of the straight line.
    straight_barrier : float
        The same barrier for the straight line.
    theta_a, theta_b : ndarray, (size,)
        The end points.
    temperatures : tuple of float
        The absolute temperatures of the annealing stages that ran.
    stage_max : list of float
        The lowest true maximum over the nodes found by the end of each stage.
    n_path_evals : int
        Evaluations of the smooth maximum (each costs ``points - 2`` objective evaluations).
    n_objective_evals : int
        Evaluations of the objective in all (straight line and end points included).
    n_failures : int
        Evaluations off the straight line where the objective raised ValueError or
        ArithmeticError (counted as an infinite loss; such paths are never the result).
    wall_time : float
        Seconds spent.
    """

    t: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray
    coefficients: np.ndarray
    barrier: float
    straight_losses: np.ndarray
    straight_barrier: float
    theta_a: np.ndarray
    theta_b: np.ndarray
    temperatures: tuple[float, ...] = ()
    stage_max: list[float] = field(default_factory=list)
    n_path_evals: int = 0
    n_objective_evals: int = 0
    n_failures: int = 0
    wall_time: float = 0.0

    @property
    def modes(self) -> int:
        return self.coefficients.shape[0]

    @property
    def points(self) -> int:
        return self.t.shape[0]

    @property
    def improvement(self) -> float:
        """How much lower the path's barrier is than the straight line's."""
        return self.straight_barrier - self.barrier

    def path(self, t: Any) -> np.ndarray:
        """The path at any ``t`` in [0, 1] (a scalar or an array), as ``(len(t), size)``."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        line = np.outer(1.0 - t, self.theta_a) + np.outer(t, self.theta_b)
        return line + _sine_basis(t, self.modes) @ self.coefficients

    def profile(self, objective: Any, points: int = 257) -> tuple[np.ndarray, np.ndarray]:
        """``(t, losses)`` of the path on ``points`` equally spaced nodes (a denser check)."""
        n = _check_objective(objective, "profile")
        if n != self.theta_a.shape[0]:
            raise InvalidInputError(
                f"profile: objective.size must be {self.theta_a.shape[0]} (the path's), got {n}"
            )
        points = _validate.integer(points, "points", minimum=2, who="profile")
        t = np.linspace(0.0, 1.0, points)
        thetas = self.path(t)
        thetas[0], thetas[-1] = self.theta_a, self.theta_b
        losses = np.array([float(objective.value_and_grad(p)[0]) for p in thetas])
        return t, losses

    def plot(self, ax: Any = None):
        """The loss profile of the path against the straight line; returns the Figure."""
        if ax is None:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(5.0, 3.5), layout="constrained")
        else:
            from matplotlib.axes import Axes

            if not isinstance(ax, Axes):
                raise TypeError(f"plot: ax must be matplotlib Axes, got {_validate.given(ax)}")
            fig = ax.figure
        ax.plot(
            self.t,
            self.straight_losses,
            "--",
            color="0.5",
            label=f"straight line (barrier {self.straight_barrier:.4g})",
        )
        ax.plot(
            self.t,
            self.losses,
            "-o",
            markersize=3,
            label=f"Fourier path, {self.modes} modes (barrier {self.barrier:.4g})",
        )
        ax.axhline(max(self.losses[0], self.losses[-1]), color="0.8", linewidth=0.8)
        ax.set_xlabel("t")
        ax.set_ylabel("loss")
        ax.legend(fontsize="small")
        return fig


class _BudgetSpent(Exception):
    pass


def fourier_path(
    objective: Any,
    theta_a: Any,
    theta_b: Any,
    modes: int = 4,
    points: int = 32,
    *,
    max_evals: int = 300,
    temperatures: Any = DEFAULT_TEMPERATURES,
    initial: Any = None,
    jitter: float = 1e-3,
    seed: int | None = 0,
    progress: bool | None = False,
) -> FourierPath:
    """The lowest-barrier Fourier path from ``theta_a`` to ``theta_b`` that L-BFGS finds.

    Parameters
    ----------
    objective
        Any object with ``size`` and ``value_and_grad(theta) -> (float, (size,) array)``.
    theta_a, theta_b : array_like, (size,)
        The end points (finite), fixed.
    modes : int >= 1
        Number of sine terms per coordinate.
    points : int >= 3
        Nodes of the discretised path (end points included); the barriers are over these.
    max_evals : int >= 1
        Budget of smooth-maximum evaluations over all annealing stages, split equally between
        them; each costs ``points - 2`` objective evaluations.
    temperatures : sequence of positive floats
        The annealing schedule, relative to the loss range along the straight line (the
        absolute temperature is ``tau * scale``); run in the given order.
    initial : array_like, (modes, size), optional
        Starting coefficients (default zeros, i.e. the straight line, plus ``jitter``).
    jitter : float >= 0
        Standard deviation of a random perturbation of the starting coefficients, relative to
        ``|theta_b - theta_a| / sqrt(size)``; it moves the start off a straight line that is
        stationary by symmetry. The straight line stays a candidate.
    seed : int or None
        Seed of the jitter.
    progress : bool or None
        Show a tqdm bar of the smooth-maximum evaluations (None: only on a terminal).

    Returns
    -------
    FourierPath
        The path with the lowest true maximum over the nodes among all evaluated, its loss
        profile and barrier, and the straight line's.
    """
    from scipy.optimize import minimize

    start = time.perf_counter()
    n = _check_objective(objective, _WHO)
    theta_a = _validate.vector(theta_a, "theta_a", n, copy=True, who=_WHO)
    theta_b = _validate.vector(theta_b, "theta_b", n, copy=True, who=_WHO)
    modes = _validate.integer(modes, "modes", minimum=1, who=_WHO)
    points = _validate.integer(points, "points", minimum=3, who=_WHO)
    max_evals = _validate.integer(max_evals, "max_evals", minimum=1, who=_WHO)
    jitter = _validate.real(jitter, "jitter", minimum=0.0, who=_WHO)
    if seed is not None:
        seed = _validate.integer(seed, "seed", minimum=0, who=_WHO)
    if isinstance(temperatures, str | bytes):
        raise TypeError(
            f"{_WHO}: temperatures must be a sequence of positive numbers, "
            f"got {_validate.given(temperatures)}"
        )
    taus = _validate.vector(np.atleast_1d(temperatures), "temperatures", who=_WHO)
    if np.any(taus <= 0):
        raise _validate.fail("temperatures", "positive numbers", temperatures, _WHO)
    if initial is not None:
        initial = _validate.array(initial, "initial", (modes, n), copy=True, who=_WHO)
    if progress is not None:
        progress = _validate.flag(progress, "progress", who=_WHO)

    fn = SmoothMaxPath(objective, theta_a, theta_b, modes, points, temperature=1.0)
    if not np.all(np.isfinite(fn.end_losses)):
        raise InvalidInputError(
            f"{_WHO}: the loss at the end points must be finite, got {fn.end_losses.tolist()}"
        )

    # The straight line: a candidate, the comparison, and the loss scale of the temperature.
    zeros = np.zeros(fn.size)
    fn.value_and_grad(zeros)
    straight_losses = fn.last_losses.copy()
    if not np.all(np.isfinite(straight_losses)):
        raise InvalidInputError(f"{_WHO}: the loss is not finite on the straight line")
    fn.tolerate_errors = True
    scale = float(straight_losses.max() - straight_losses.min())
    if scale <= 0.0:
        scale = max(abs(float(straight_losses.max())), 1.0) * 1e-6

    penalty = float(straight_losses.max()) + 100.0 * scale
    best = {"max": float(straight_losses.max()), "c": zeros.copy(), "losses": straight_losses}
    best["thetas"] = fn.last_thetas.copy()
    counter = {"evals": 0}
    bar = progress_bar(progress, max_evals, "fourier path", "path")

    def fun(c: np.ndarray) -> tuple[float, np.ndarray]:
        if counter["evals"] >= budget["stage_end"]:
            raise _BudgetSpent
        value, grad = fn.value_and_grad(c)
        counter["evals"] += 1
        if bar is not None:
            bar.update(1)
        top = float(fn.last_losses.max())
        if np.isfinite(value) and top < best["max"]:
            best.update(max=top, c=c.copy(), losses=fn.last_losses, thetas=fn.last_thetas)
        if value < smooth["value"]:
            smooth.update(value=value, c=c.copy())
        if not np.isfinite(value):
            # A finite penalty above every loss seen on the straight line: L-BFGS-B's line
            # search backs off from it, where an infinite value would stop the run.
            return penalty, grad
        return value, grad

    c = zeros if initial is None else initial.ravel()
    if jitter > 0.0:
        rng = np.random.default_rng(seed)
        spread = jitter * np.linalg.norm(theta_b - theta_a) / np.sqrt(n)
        c = c + spread * rng.standard_normal(fn.size)
    budget = {"stage_end": 0}
    smooth: dict[str, Any] = {}
    used_temps: list[float] = []
    stage_max: list[float] = []
    try:
        for stage, tau in enumerate(taus):
            remaining = max_evals - counter["evals"]
            share = remaining // (len(taus) - stage)
            if share < 1:
                continue
            budget["stage_end"] = counter["evals"] + share
            fn.temperature = float(tau) * scale
            used_temps.append(fn.temperature)
            smooth.update(value=np.inf, c=c)
            # L-BFGS-B stops early when its line search fails (a kink of the maximum, or an
            # objective error counted as an infinite loss): restart it from the lowest smooth
            # maximum at this temperature while that keeps improving and budget is left.
            while counter["evals"] < budget["stage_end"]:
                before = smooth["value"]
                try:
                    minimize(
                        fun,
                        smooth["c"],
                        jac=True,
                        method="L-BFGS-B",
                        options={
                            "maxfun": share + 5,
                            "maxiter": 10 * share,
                            "ftol": 0.0,
                            "gtol": 0.0,
                        },
                    )
                except _BudgetSpent:
                    break
                if not smooth["value"] < before - 1e-12 * abs(before):
                    break
            # Warm start the next (colder) stage from the best path so far.
            c = best["c"].copy()
            stage_max.append(best["max"])
    finally:
        if bar is not None:
            bar.close()

    top_end = float(max(fn.end_losses))
    return FourierPath(
        t=fn.t.copy(),
        thetas=best["thetas"],
        losses=best["losses"],
        coefficients=best["c"].reshape(modes, n),
        barrier=float(best["losses"].max()) - top_end,
        straight_losses=straight_losses,
        straight_barrier=float(straight_losses.max()) - top_end,
        theta_a=theta_a,
        theta_b=theta_b,
        temperatures=tuple(used_temps),
        stage_max=stage_max,
        n_path_evals=counter["evals"],
        n_objective_evals=fn.n_objective_evals,
        n_failures=fn.n_failures,
        wall_time=time.perf_counter() - start,
    )
