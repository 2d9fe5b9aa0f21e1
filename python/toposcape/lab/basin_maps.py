"""Basins of attraction: one optimizer from many initial points at once (``studies.md`` sec. 3).

>>> import toposcape as ts
>>> net = ts.lab.networks.get("two_depths")
>>> gd = ts.optim.get("gd", lr=0.02)
>>> result = ts.lab.basins(net, gd, -3, 3, n=400, max_steps=2000)      # doctest: +SKIP
>>> result.fractions                    # share of starts per critical point     # doctest: +SKIP
>>> fig, ax = result.plot()                                                      # doctest: +SKIP
>>> ts.lab.reach_probabilities(net, gd, -3, 3, 10_000, 2000, seed=0)            # doctest: +SKIP

How the starts run
------------------
:func:`run_starts` advances every start together: the iterates, gradients and optimizer
states of all starts are rows of arrays, one objective call evaluates all of them
(``objective.value_and_grad_batch(thetas)``, and ``residuals_batch`` / ``jacobian_batch`` for
Levenberg-Marquardt), and each start stops exactly when its own run
``optimizer.run(objective, theta0=start, max_steps=max_steps, max_evals=None)`` would: the
kernels below repeat the scalar loops' arithmetic operation for operation on arrays (the
same NumPy operations in the same order; the core's dot products and distances reproduced
with its order of summation; for LM, NumPy's stacked ``matmul`` and ``linalg.solve``, which
call the same BLAS/LAPACK routine per row as the one-point products and solve, and C ``pow``
where the scalar code uses Python's ``**``), and rows leave the arrays as their runs end.
The core is compiled without fused multiply-adds on x86-64; where a compiler fuses them
(aarch64), its dot products, and through them the energy rule's and Euler-Richardson's
decisions, can differ from the NumPy reproduction in the last bit. Kernels exist for

- :class:`~toposcape.optim.Optimizer` with direction ``Identity``, ``Momentum`` (Nesterov
  too), ``Adam``, ``RMSProp`` or ``Adagrad``, step ``Constant``, ``Schedule`` or
  ``EnergyDecrease``, no gradient transforms: the presets ``gd``, ``momentum``, ``adam``,
  ``rmsprop``, ``adagrad``, ``gd_energy``, ``momentum_energy``;
- :class:`~toposcape.optim.EulerRichardson` (``euler_richardson``);
- :class:`~toposcape.optim.LevenbergMarquardt` (``lm``).

Any other optimizer (line searches, L-BFGS directions, transforms, stochastic objectives)
raises :class:`~toposcape.errors.InvalidInputError` listing these, unless
``loop_unsupported=True``, which runs ``optimizer.run`` start by start (slow; a warning says
so). An objective without the batched methods is evaluated point by point inside the same
vectorized kernels (slow; a warning says so).

Agreement with the scalar runs. Where the batched evaluation is the same arithmetic as the
one-point one, final points, losses, step counts and stop reasons are equal bitwise (the
tests check it for every kernel). The networks of :mod:`.networks` evaluate batches with
expressions compiled for arrays, equal to a few units in the last place only (see
``Network.value_and_grad_batch``), so there the runs agree to rounding: starts that converge
end within rounding of the scalar run's point, and only starts on a basin boundary (where
rounding decides) can end elsewhere. A trial point that overflows to inf is a failed trial
(a non-finite value) in both (the scalar optimizers catch the objective's refusal of a
non-finite point: :func:`toposcape.optim.protocol.evaluate_trial`).

With ``stop_stationary`` (default), a start whose whole state (iterate, direction and step
state) is unchanged bitwise by an accepted step is at a fixed point of a time-invariant
iteration: every later step repeats it, so it is stopped early with the result of running
to ``max_steps`` (final point, reason ``"max_steps"``, ``steps = max_steps``), without the
evaluations.

Classification (:func:`basins`, :func:`reach_probabilities`)
------------------------------------------------------------
A start's label is

- ``-1`` (diverged) when its run ended on a non-finite value (reasons ``"nonfinite_loss"``,
  ``"nonfinite_direction"``), or its final point or loss is not finite, or the final point
  lies more than ``escape`` box widths outside the reference box in some coordinate with a
  loss above the start's (it blew up);
- else ``i``, the row of the critical-point table nearest (Euclidean) to the final point,
  when that distance is at most ``tol``;
- else ``-2`` (not converged within the budget). This includes runs that travel far out
  along a valley whose loss keeps decreasing (an infimum at infinity, as for
  ``tanh_infinity``): they left the box without blowing up.

The reference box is ``objective.box`` when the objective has one (the box its critical
points are complete for), else the box of the starts. The default ``tol`` is
``min(0.25 d_min, 0.02 D)``, with ``d_min`` the smallest distance between two critical points
and ``D`` the diagonal of the reference box: well below half of ``d_min`` (so at most one
point is within ``tol``) and small on the scale of the box. It is
reported with every result; a run that stops near a saddle within the budget counts as
reaching it.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import _validate
from .._progress import progress_bar
from ..errors import InvalidInputError
from ..optim.adaptive import EnergyDecrease, EulerRichardson
from ..optim.directions import Adagrad, Adam, Identity, Momentum, RMSProp
from ..optim.least_squares import LevenbergMarquardt
from ..optim.optimizer import Optimizer
from ..optim.protocol import Runner, _objective_size
from ..optim.protocol import evaluate as checked_evaluation
from ..optim.steps import Constant, Schedule

__all__ = [
    "BasinResult",
    "BatchRuns",
    "basins",
    "reach_probabilities",
    "run_starts",
    "SUPPORTED",
]

#: What :func:`run_starts` runs vectorized (anything else: an error, or ``loop_unsupported``).
SUPPORTED = (
    "Optimizer(Identity | Momentum | Adam | RMSProp | Adagrad  x  Constant | Schedule | "
    "EnergyDecrease, no transforms) (presets gd, momentum, adam, rmsprop, adagrad, gd_energy, "
    "momentum_energy), EulerRichardson (euler_richardson), LevenbergMarquardt (lm)"
)

#: Iterations between two looks for starts at a bitwise fixed point.
_STATIONARY_EVERY = 8

#: Labels of the starts that reach no critical point.
DIVERGED, NOT_CONVERGED = -1, -2
_NONFINITE_REASONS = ("nonfinite_loss", "nonfinite_direction")


# -- reductions summed as the core sums them (toposcape.optim._vec -> cpp/common/level1.cpp) --


def _core_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``_core.dot``: four partial sums over blocks of 4, the tail into the first."""
    k, n = a.shape
    s = [np.zeros(k) for _ in range(4)]
    blocks = n - n % 4
    for i in range(0, blocks, 4):
        for j in range(4):
            s[j] = s[j] + a[:, i + j] * b[:, i + j]
    for i in range(blocks, n):
        s[0] = s[0] + a[:, i] * b[:, i]
    return (s[0] + s[1]) + (s[2] + s[3])


def _core_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``_core.distance``: ``sqrt`` of the squared differences summed as above."""
    d = a - b
    return np.sqrt(_core_dot(d, d))


def _blas_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``a[i] @ b[i]`` through the same BLAS call as the 1-D product."""
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def _all_columns(mask: np.ndarray) -> np.ndarray:
    """``mask.all(axis=1)`` for few columns (a reduction over a short axis is slow in NumPy)."""
    if mask.ndim == 1:
        return mask
    if mask.shape[1] > 8:
        return mask.all(axis=1)
    out = mask[:, 0].copy()
    for j in range(1, mask.shape[1]):
        out &= mask[:, j]
    return out


def _max_abs_rows(g: np.ndarray) -> np.ndarray:
    """``np.max(np.abs(g), axis=1)``, column by column."""
    if g.shape[1] > 8:
        return np.max(np.abs(g), axis=1)
    out = np.abs(g[:, 0])
    for j in range(1, g.shape[1]):
        out = np.maximum(out, np.abs(g[:, j]))
    return out


def _finite_rows(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.isfinite(f) & _all_columns(np.isfinite(g))


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` and ``b`` equal bit for bit (so -0.0 != 0.0 and NaN == the same NaN)."""
    return _all_columns(a.view(np.int64) == b.view(np.int64))


# -- evaluating many points -------------------------------------------------------------


class _Evaluator:
    """``value_and_grad`` (and the least-squares form) at the rows of a (k, size) array."""

    def __init__(self, objective, size: int, least_squares: bool, who: str) -> None:
        self.objective = objective
        self.size = size
        self.who = who
        self.calls = 0
        names = ["value_and_grad_batch"]
        if least_squares:
            names += ["residuals_batch", "jacobian_batch"]
        self.batched = {name: callable(getattr(objective, name, None)) for name in names}
        self.m: int | None = None
        missing = [name for name, ok in self.batched.items() if not ok]
        if missing:
            warnings.warn(
                f"{who}: the objective has no {', '.join(missing)}(thetas); the starts still "
                "advance together but each point is evaluated on its own (slow). Give the "
                "objective batched methods (see toposcape.lab.networks.Network) for speed.",
                UserWarning,
                stacklevel=4,
            )

    def value_and_grad(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, n = thetas.shape
        self.calls += 1
        if self.batched["value_and_grad_batch"]:
            out = self.objective.value_and_grad_batch(thetas)
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(
                    f"{self.who}: objective.value_and_grad_batch must return (losses, grads), "
                    f"got {_validate.given(out)}"
                )
            f = np.asarray(out[0], dtype=np.float64)
            g = np.asarray(out[1], dtype=np.float64)
            if f.shape != (k,) or g.shape != (k, n):
                raise InvalidInputError(
                    f"{self.who}: objective.value_and_grad_batch must return arrays of shapes "
                    f"({k},) and ({k}, {n}), got {f.shape} and {g.shape}"
                )
            return f, g
        f = np.empty(k)
        g = np.empty((k, n))
        for i in range(k):
            f[i], g[i] = checked_evaluation(self.objective, thetas[i].copy(), self.who)
        return f, g

    def residuals(self, thetas: np.ndarray) -> np.ndarray:
        k = thetas.shape[0]
        if self.batched["residuals_batch"]:
            r = np.asarray(self.objective.residuals_batch(thetas), dtype=np.float64)
        else:
            r = np.stack([np.asarray(self.objective.residuals(t.copy()), float) for t in thetas])
        if r.ndim != 2 or r.shape[0] != k or (self.m is not None and r.shape[1] != self.m):
            want = f"({k}, {self.m if self.m is not None else 'm'})"
            raise InvalidInputError(
                f"{self.who}: objective residuals must come as a {want} array, got {r.shape}"
            )
        self.m = r.shape[1]
        return r

    def jacobian(self, thetas: np.ndarray) -> np.ndarray:
        k, n = thetas.shape
        if self.batched["jacobian_batch"]:
            jac = np.asarray(self.objective.jacobian_batch(thetas), dtype=np.float64)
        else:
            jac = np.stack([np.asarray(self.objective.jacobian(t.copy()), float) for t in thetas])
        if jac.shape != (k, self.m, n):
            raise InvalidInputError(
                f"{self.who}: objective Jacobians must come as a ({k}, {self.m}, {n}) array, "
                f"got {jac.shape}"
            )
        return np.ascontiguousarray(jac)


# -- the live starts and the finished ones ----------------------------------------------


class _Live:
    """Arrays of the starts still running: row ``i`` of every attribute is one start."""

    def __init__(self, **arrays) -> None:
        self.__dict__.update(arrays)

    @property
    def size(self) -> int:
        return self.index.size

    def keep(self, mask: np.ndarray) -> None:
        for name, value in list(vars(self).items()):
            setattr(self, name, value[mask])


class _Finished:
    """Final point, loss, step count, evaluations and stop reason of every start."""

    def __init__(self, k: int, n: int, bar) -> None:
        self.theta = np.full((k, n), np.nan)
        self.loss = np.full(k, np.nan)
        self.loss0 = np.full(k, np.nan)
        self.steps = np.zeros(k, dtype=np.int64)
        self.evals = np.zeros(k, dtype=np.int64)
        self.reason = np.empty(k, dtype=object)
        self.bar = bar

    def record(self, live: _Live, mask: np.ndarray, reason: str, steps: int | None = None):
        """Record the rows ``mask`` of ``live`` as finished (without removing them)."""
        if not mask.any():
            return
        i = live.index[mask]
        self.theta[i] = live.theta[mask]
        self.loss[i] = live.f[mask]
        self.steps[i] = live.steps[mask] if steps is None else steps
        self.evals[i] = live.evals[mask]
        self.reason[i] = reason
        if self.bar is not None:
            self.bar.update(int(mask.sum()))

    def finish(self, live: _Live, mask: np.ndarray, reason: str) -> None:
        """Record the rows ``mask`` and remove them from ``live``."""
        if mask.any():
            self.record(live, mask, reason)
            live.keep(~mask)


def _start(ev: _Evaluator, theta0: np.ndarray, out: _Finished, **extra) -> _Live:
    k = theta0.shape[0]
    f, g = ev.value_and_grad(theta0)
    out.loss0[:] = f
    live = _Live(
        index=np.arange(k),
        theta=theta0.copy(),
        f=f,
        g=g,
        steps=np.zeros(k, dtype=np.int64),
        evals=np.ones(k, dtype=np.int64),
        **extra,
    )
    return live


# -- direction rules on arrays (toposcape.optim.directions) -----------------------------


class _IdentityK:
    def __init__(self, rule: Identity, live: _Live, n: int) -> None:
        pass

    def direction(self, live: _Live) -> np.ndarray:
        return -live.g

    def restartable(self, live: _Live) -> np.ndarray:
        return np.zeros(live.size, dtype=bool)

    def restart(self, live: _Live, mask: np.ndarray) -> None:
        return

    def state(self, live: _Live) -> tuple:
        return ()

    def invariant(self, live: _Live) -> np.ndarray | bool:
        return True

    def may_be_invariant(self, live: _Live) -> bool:
        """Whether :meth:`invariant` can hold after the next direction (cheap)."""
        return True


class _MomentumK(_IdentityK):
    def __init__(self, rule: Momentum, live: _Live, n: int) -> None:
        self.beta = rule.beta
        self.nesterov = rule.nesterov
        live.v = np.zeros((live.size, n))

    def direction(self, live: _Live) -> np.ndarray:
        live.v = live.v * self.beta + live.g  # v *= beta; v += g
        if self.nesterov:
            return -(live.g + self.beta * live.v)
        return -live.v

    def restartable(self, live: _Live) -> np.ndarray:
        return ~_all_columns(live.v == 0)  # bool(np.any(v)); NaN counts as non-zero

    def restart(self, live: _Live, mask: np.ndarray) -> None:
        live.v[mask] = 0.0

    def state(self, live: _Live) -> tuple:
        return (live.v,)


class _AdamK(_IdentityK):
    def __init__(self, rule: Adam, live: _Live, n: int) -> None:
        self.rule = rule
        live.m = np.zeros((live.size, n))
        live.v = np.zeros((live.size, n))
        live.t = np.zeros(live.size, dtype=np.int64)
        self._c = (np.ones(live.size), np.ones(live.size))

    def _scalar_corrections(self, t: int) -> tuple[float, float]:
        # 1 - beta**t in Python floats (C pow), as Adam.direction computes them
        return 1 - self.rule.beta1 ** int(t), 1 - self.rule.beta2 ** int(t)

    def _corrections(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(t.min()), int(t.max())
        if lo == hi:  # the usual case: Adam never restarts, every live start is at step t
            c1, c2 = self._scalar_corrections(lo)
            return np.full(t.size, c1), np.full(t.size, c2)
        c1 = np.empty(t.size)
        c2 = np.empty(t.size)
        for value in np.unique(t):
            rows = t == value
            c1[rows] = 1 - self.rule.beta1 ** int(value)
            c2[rows] = 1 - self.rule.beta2 ** int(value)
        return c1, c2

    def direction(self, live: _Live) -> np.ndarray:
        r = self.rule
        g = live.g
        live.t = live.t + 1
        live.m = live.m * r.beta1 + (1 - r.beta1) * g
        live.v = live.v * r.beta2 + (1 - r.beta2) * g * g
        c1, c2 = self._corrections(live.t)
        self._c = (c1, c2)
        m_hat = live.m / c1[:, None]
        v_hat = live.v / c2[:, None]
        return -m_hat / (np.sqrt(v_hat) + r.eps)

    def state(self, live: _Live) -> tuple:
        return (live.m, live.v)

    def may_be_invariant(self, live: _Live) -> bool:
        return self._scalar_corrections(int(live.t.max()) + 1) == (1.0, 1.0)

    def invariant(self, live: _Live) -> np.ndarray | bool:
        # time-invariant once both bias corrections are exactly 1 (they stay 1 as t grows)
        c1, c2 = self._corrections(live.t)
        return (c1 == 1.0) & (c2 == 1.0)


class _RMSPropK(_IdentityK):
    def __init__(self, rule: RMSProp, live: _Live, n: int) -> None:
        self.rule = rule
        live.v = np.zeros((live.size, n))

    def direction(self, live: _Live) -> np.ndarray:
        r = self.rule
        live.v = live.v * r.rho + (1 - r.rho) * live.g * live.g
        return -live.g / (np.sqrt(live.v) + r.eps)

    def state(self, live: _Live) -> tuple:
        return (live.v,)


class _AdagradK(_IdentityK):
    def __init__(self, rule: Adagrad, live: _Live, n: int) -> None:
        self.rule = rule
        live.a = np.full((live.size, n), rule.initial)

    def direction(self, live: _Live) -> np.ndarray:
        live.a = live.a + live.g * live.g
        return -live.g / (np.sqrt(live.a) + self.rule.eps)

    def state(self, live: _Live) -> tuple:
        return (live.a,)


_DIRECTIONS = {
    Identity: _IdentityK,
    Momentum: _MomentumK,
    Adam: _AdamK,
    RMSProp: _RMSPropK,
    Adagrad: _AdagradK,
}


# -- step rules on arrays (toposcape.optim.steps, .adaptive) ----------------------------
#
# search() returns (accepted, points, losses, grads) over the live rows; the rows not
# accepted hold garbage.


class _ConstantK:
    failure = "nonfinite_loss"
    time_invariant = True

    def __init__(self, rule: Constant, live: _Live) -> None:
        self.lr = rule.lr

    def _lr(self, live: _Live):
        return self.lr

    def search(self, live: _Live, d: np.ndarray, ev: _Evaluator):
        lr = self._lr(live)
        point = live.theta + (lr[:, None] if isinstance(lr, np.ndarray) else lr) * d
        f, g = ev.value_and_grad(point)
        live.evals += 1
        return _finite_rows(f, g), point, f, g

    def state(self, live: _Live) -> tuple:
        return ()


class _ScheduleK(_ConstantK):
    time_invariant = False

    def __init__(self, rule: Schedule, live: _Live) -> None:
        self.schedule = rule.schedule

    def _lr(self, live: _Live) -> np.ndarray:
        lr = np.empty(live.size)
        for k in np.unique(live.steps):
            lr[live.steps == k] = _validate.real(
                self.schedule(int(k)), f"schedule({int(k)})", minimum=0.0, lower_open=True
            )
        return lr


class _EnergyK:
    failure = "no_energy_decrease"
    time_invariant = True

    def __init__(self, rule: EnergyDecrease, live: _Live) -> None:
        self.rule = rule
        live.next_step = np.full(live.size, rule.lr)
        live.kinetic = np.zeros(live.size)

    def search(self, live: _Live, d: np.ndarray, ev: _Evaluator):
        r = self.rule
        a, n = d.shape
        t = live.next_step.copy()
        half_dd = 0.5 * _core_dot(d, d) if r.kinetic else np.zeros(a)
        energy = live.f + live.kinetic
        # the first trial, for every row
        points = live.theta + t[:, None] * d
        losses, grads = ev.value_and_grad(points)
        live.evals += 1
        kinetic = t * half_dd
        accepted = _finite_rows(losses, grads) & (losses + kinetic < energy)
        live.kinetic = np.where(accepted, kinetic, live.kinetic)
        live.next_step = np.where(accepted, np.minimum(t * r.grow, r.max_lr), live.next_step)
        pending = np.flatnonzero(~accepted)
        t[pending] = t[pending] * r.shrink
        for _ in range(r.max_tries - 1):
            if not pending.size:
                break
            tp = t[pending]
            point = live.theta[pending] + tp[:, None] * d[pending]
            f, g = ev.value_and_grad(point)
            live.evals[pending] += 1
            kinetic = tp * half_dd[pending]
            ok = _finite_rows(f, g) & (f + kinetic < energy[pending])
            rows = pending[ok]
            accepted[rows] = True
            points[rows], losses[rows], grads[rows] = point[ok], f[ok], g[ok]
            live.kinetic[rows] = kinetic[ok]
            live.next_step[rows] = np.minimum(tp[ok] * r.grow, r.max_lr)
            pending = pending[~ok]
            t[pending] = t[pending] * r.shrink
        return accepted, points, losses, grads

    def state(self, live: _Live) -> tuple:
        return (live.next_step, live.kinetic)


_STEPS = {Constant: _ConstantK, Schedule: _ScheduleK, EnergyDecrease: _EnergyK}


# -- the kernels ------------------------------------------------------------------------


def _run_composed(opt: Optimizer, ev: _Evaluator, theta0, max_steps, out, stationary, tick):
    """:meth:`Optimizer._run` (no transforms, no evaluation budget) on arrays."""
    n = theta0.shape[1]
    live = _start(ev, theta0, out, fresh=np.zeros(theta0.shape[0], dtype=bool))
    out.finish(live, ~_finite_rows(live.f, live.g), "nonfinite_loss")
    dk = _DIRECTIONS[type(opt.direction)](opt.direction, live, n)
    sk = _STEPS[type(opt.step)](opt.step, live)
    stationary = stationary and sk.time_invariant
    sqrt_n = math.sqrt(n)
    it = 0
    while live.size:
        tick(it)
        it += 1
        out.finish(live, live.steps >= max_steps, "max_steps")
        if opt.gtol > 0 and live.size:
            g = live.g
            small = (np.sqrt(_core_dot(g, g)) <= opt.gtol * sqrt_n) & (_max_abs_rows(g) <= opt.gtol)
            out.finish(live, small, "converged")
        if not live.size:
            break
        # fixed points are looked for every _STATIONARY_EVERY iterations (any is exact)
        look = stationary and it % _STATIONARY_EVERY == 1 and dk.may_be_invariant(live)
        before = (
            [x.copy() for x in (live.theta, *dk.state(live), *sk.state(live))] if look else None
        )
        d = dk.direction(live)
        bad = ~np.isfinite(_core_dot(live.g, d))
        if bad.any():
            out.finish(live, bad, "nonfinite_direction")
            d = d[~bad]
            if before is not None:
                before = [x[~bad] for x in before]
            if not live.size:
                break
        accepted, points, losses, grads = sk.search(live, d, ev)
        done = np.zeros(live.size, dtype=bool)
        failed = ~accepted
        if failed.any():
            again = np.zeros(live.size, dtype=bool)
            if opt.restart_on_failure:
                # at most once per iterate (a restarted velocity is rebuilt from g at once)
                again = failed & dk.restartable(live) & ~live.fresh
            out.record(live, failed & ~again, sk.failure)
            done |= failed & ~again
            dk.restart(live, again)
            live.fresh = again
        else:
            live.fresh[:] = False
        if failed.any():
            f_old = live.f[accepted]
            live.theta[accepted] = points[accepted]
            live.f[accepted] = losses[accepted]
            live.g[accepted] = grads[accepted]
            live.steps[accepted] += 1
        else:  # the common case, without masked copies
            f_old = live.f
            live.theta, live.f, live.g = points, losses, grads
            live.steps += 1
        if opt.ftol > 0:
            decrease = f_old - live.f[accepted]
            scale = np.maximum(np.maximum(np.abs(f_old), np.abs(f_old - decrease)), 1.0)
            converged = np.zeros(live.size, dtype=bool)
            converged[np.flatnonzero(accepted)[decrease <= opt.ftol * scale]] = True
            out.record(live, converged, "converged")
            done |= converged
        if before is not None:
            same = accepted & ~done & dk.invariant(live)
            now = (live.theta, *dk.state(live), *sk.state(live))
            for old, new in zip(before, now, strict=True):
                same &= _same_bits(old, new)
            out.record(live, same, "max_steps", steps=max_steps)
            done |= same
        if done.any():
            live.keep(~done)


def _euler_richardson_try(opt, ev, live, g_norm, sel):
    """One trial of the rows ``sel`` (None: all rows): returns ``sel``'s accepted mask."""

    def take(a):
        return a if sel is None else a[sel]

    t, g, theta, gn = take(live.t), take(live.g), take(live.theta), take(g_norm)
    half = theta - (0.5 * t)[:, None] * g
    f_half, g_half = ev.value_and_grad(half)
    if sel is None:
        live.evals += 1
    else:
        live.evals[sel] += 1
    ratio = np.where(gn > 0, 0.5 * _core_distance(g_half, g) / gn, 0.0)
    bad = ~(np.isfinite(f_half) & np.isfinite(ratio))
    big = ~bad & (ratio > opt.tol)
    go = ~bad & ~big
    new = np.empty_like(half)
    f_new = np.empty_like(f_half)
    g_new = np.empty_like(g_half)
    ok = np.zeros(t.size, dtype=bool)
    if go.all():
        new = half - (0.5 * t)[:, None] * g_half
        f_new, g_new = ev.value_and_grad(new)
        ok = _finite_rows(f_new, g_new)
    elif go.any():
        i = np.flatnonzero(go)
        new[i] = half[i] - (0.5 * t[i])[:, None] * g_half[i]
        f_new[i], g_new[i] = ev.value_and_grad(new[i])
        ok[i] = _finite_rows(f_new[i], g_new[i])
    go_rows = np.flatnonzero(go) if sel is None else sel[go]
    live.evals[go_rows] += 1
    control = opt.safety * opt.tol / ratio
    growth = np.where(ratio > 0, np.minimum(opt.max_growth, control), opt.max_growth)
    t_new = np.where(
        bad,
        t * opt.min_shrink,
        np.where(
            big,
            t * np.maximum(opt.min_shrink, control),
            np.where(ok, t * growth, t * opt.min_shrink),
        ),
    )
    if sel is None:
        live.t = t_new
        live.theta = np.where(ok[:, None], new, live.theta)
        live.f = np.where(ok, f_new, live.f)
        live.g = np.where(ok[:, None], g_new, live.g)
        live.steps += ok
    else:
        live.t[sel] = t_new
        rows = sel[ok]
        live.theta[rows] = new[ok]
        live.f[rows] = f_new[ok]
        live.g[rows] = g_new[ok]
        live.steps[rows] += 1
    return ok


def _run_euler_richardson(opt, ev, theta0, max_steps, out, stationary, tick):
    """:meth:`EulerRichardson._run` (no evaluation budget) on arrays."""
    live = _start(ev, theta0, out, t=np.full(theta0.shape[0], opt.lr))
    out.finish(live, ~_finite_rows(live.f, live.g), "nonfinite_loss")
    it = 0
    with np.errstate(all="ignore"):
        while live.size:
            tick(it)
            it += 1
            out.finish(live, live.steps >= max_steps, "max_steps")
            if opt.gtol > 0 and live.size:
                out.finish(live, _max_abs_rows(live.g) <= opt.gtol, "converged")
            if not live.size:
                break
            look = stationary and it % _STATIONARY_EVERY == 1
            before = (live.theta.copy(), live.t.copy()) if look else None
            g_norm = np.sqrt(_core_dot(live.g, live.g))
            accepted = _euler_richardson_try(opt, ev, live, g_norm, None)
            pending = np.flatnonzero(~accepted)
            for _ in range(opt.max_tries - 1):
                if not pending.size:
                    break
                ok = _euler_richardson_try(opt, ev, live, g_norm, pending)
                accepted[pending[ok]] = True
                pending = pending[~ok]
            done = np.zeros(live.size, dtype=bool)
            done[pending] = True
            out.record(live, done, "step_control_failed")
            if before is not None:
                same = accepted & _same_bits(before[0], live.theta) & _same_bits(before[1], live.t)
                out.record(live, same, "max_steps", steps=max_steps)
                done |= same
            if done.any():
                live.keep(~done)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve`` per row (stacked LAPACK calls); NaN rows where it fails."""
    try:
        return np.linalg.solve(a, b[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(b)
        for i in range(b.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out


def _normal_equations(jac: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    jt = np.swapaxes(jac, 1, 2)
    return jt @ jac, (jt @ r[:, :, None])[:, :, 0]


def _damping_factor(rho: np.ndarray) -> np.ndarray:
    """``max(1/3, 1 - (2 rho - 1)**3)`` with Python's ``**`` (C pow) where it matters."""
    x = 2.0 * rho - 1.0
    factor = np.full(x.size, 1.0 / 3.0)
    # x**3 >= 2/3 + 1e-9 gives 1 - x**3 < 1/3 whatever pow's last bit: the factor is 1/3.
    need = np.flatnonzero(~(x * x * x >= 2.0 / 3.0 + 1e-9))
    if need.size:
        cubes = np.array([math.pow(v, 3.0) for v in x[need].tolist()])
        factor[need] = np.maximum(1.0 / 3.0, 1.0 - cubes)
    return factor


def _run_lm(opt: LevenbergMarquardt, ev, theta0, max_steps, out, stationary, tick):
    """:meth:`LevenbergMarquardt._run` (no evaluation budget) on arrays."""
    k, n = theta0.shape
    live = _start(ev, theta0, out)
    live.r = ev.residuals(live.theta)
    finite = _finite_rows(live.f, live.g) & _all_columns(np.isfinite(live.r))
    out.finish(live, ~finite, "nonfinite_loss")
    if not live.size:
        return
    live.a, live.b = _normal_equations(ev.jacobian(live.theta), live.r)
    live.rr = _blas_dot(live.r, live.r)
    mu = opt.tau * np.max(np.diagonal(live.a, axis1=1, axis2=2), axis=1)
    live.mu = np.where(mu > 0, mu, opt.tau)
    live.nu = np.full(live.size, 2.0)
    eye = np.eye(n)
    it = 0
    while live.size:
        tick(it)
        it += 1
        out.finish(live, live.steps >= max_steps, "max_steps")
        if opt.gtol > 0 and live.size:
            out.finish(live, _max_abs_rows(live.g) <= opt.gtol, "converged")
        if not live.size:
            break
        done = np.zeros(live.size, dtype=bool)
        pending = np.arange(live.size)
        for _ in range(opt.max_tries):
            if not pending.size:
                break
            mu = live.mu[pending]
            b = live.b[pending]
            delta = _solve(live.a[pending] + mu[:, None, None] * eye, -b)
            reject = ~_all_columns(np.isfinite(delta))
            theta = live.theta[pending]
            step_norm = np.sqrt(_blas_dot(delta, delta))
            xtol = ~reject & (step_norm <= opt.xtol * (np.sqrt(_blas_dot(theta, theta)) + opt.xtol))
            converged = np.zeros(live.size, dtype=bool)
            converged[pending[xtol]] = True
            out.record(live, converged, "converged")
            done |= converged
            go = np.flatnonzero(~reject & ~xtol)
            ok_local = np.zeros(pending.size, dtype=bool)
            if go.size:
                new = theta[go] + delta[go]
                f_new, g_new = ev.value_and_grad(new)
                r_new = ev.residuals(new)
                live.evals[pending[go]] += 1
                d = delta[go]
                predicted = _blas_dot(d, mu[go, None] * d - b[go])
                rr_new = _blas_dot(r_new, r_new)
                positive = predicted > 0
                rho = np.full(go.size, -1.0)
                rho[positive] = (live.rr[pending[go]][positive] - rr_new[positive]) / predicted[
                    positive
                ]
                ok = np.isfinite(f_new) & np.isfinite(rr_new) & (rho > 0)
                reject[go[~ok]] = True
                rows = pending[go[ok]]
                if rows.size:
                    live.theta[rows] = new[ok]
                    live.f[rows] = f_new[ok]
                    live.g[rows] = g_new[ok]
                    live.r[rows] = r_new[ok]
                    live.rr[rows] = rr_new[ok]
                    live.a[rows], live.b[rows] = _normal_equations(ev.jacobian(new[ok]), r_new[ok])
                    live.mu[rows] = live.mu[rows] * _damping_factor(rho[ok])
                    live.nu[rows] = 2.0
                    live.steps[rows] += 1
                    ok_local[go[ok]] = True
            rej = pending[reject]
            live.mu[rej] = live.mu[rej] * live.nu[rej]
            live.nu[rej] = 2.0 * live.nu[rej]
            pending = pending[~ok_local & ~xtol]
        failed = np.zeros(live.size, dtype=bool)
        failed[pending] = True
        out.record(live, failed, "no_decrease")
        done |= failed
        if done.any():
            live.keep(~done)


def _kernel(optimizer: Runner, objective):
    """The vectorized kernel for ``optimizer``, or None."""
    if getattr(objective, "select_batch", None) is not None:
        return None  # minibatches: the scalar run draws a batch per iterate
    if type(optimizer) is EulerRichardson:
        return _run_euler_richardson
    if type(optimizer) is LevenbergMarquardt:
        return _run_lm
    if (
        type(optimizer) is Optimizer
        and not optimizer.transforms
        and type(optimizer.direction) in _DIRECTIONS
        and type(optimizer.step) in _STEPS
    ):
        return _run_composed
    return None


def _run_loop(optimizer: Runner, objective, theta0, max_steps, out: _Finished, tick) -> None:
    for i in range(theta0.shape[0]):
        tick(i)
        traj = optimizer.run(
            objective, theta0=theta0[i], max_steps=max_steps, max_evals=None, progress=False
        )
        out.theta[i] = traj.theta
        out.loss[i] = traj.losses[-1]
        out.loss0[i] = traj.losses[0]
        out.steps[i] = traj.n_steps
        out.evals[i] = traj.n_evals
        out.reason[i] = traj.reason
        if out.bar is not None:
            out.bar.update(1)


# -- validation -------------------------------------------------------------------------


def _optimizer(optimizer, objective, who: str) -> Runner:
    if not isinstance(optimizer, Runner):
        raise TypeError(
            f"{who}: optimizer must be a toposcape optimizer (e.g. toposcape.optim.get('gd', "
            f"lr=0.01)), got {_validate.given(optimizer)}"
        )
    optimizer.requires.check(objective, optimizer.name)
    return optimizer


def _bounds(lo, hi, size: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    def one(value, name):
        if np.ndim(value) == 0:
            return np.full(size, _validate.real(value, name, who=who))
        return _validate.vector(value, name, size, who=who)

    lo_v, hi_v = one(lo, "lo"), one(hi, "hi")
    if not np.all(lo_v < hi_v):
        raise InvalidInputError(
            f"{who}: need lo < hi in every coordinate, got lo={lo_v.tolist()}, hi={hi_v.tolist()}"
        )
    return lo_v, hi_v


def _critical_table(objective, critical_points, size: int, who: str) -> pd.DataFrame:
    """The critical points as a DataFrame with columns theta_0.. theta_{size-1}, kind, loss."""
    cols = [f"theta_{i}" for i in range(size)]
    if critical_points is None:
        method = getattr(objective, "critical_points", None)
        if not callable(method):
            raise InvalidInputError(
                f"{who}: the objective has no critical_points(); pass critical_points= (a "
                f"DataFrame with columns {', '.join(cols)}, or an (n_points, {size}) array)"
            )
        critical_points = method()
    if isinstance(critical_points, pd.DataFrame):
        missing = [c for c in cols if c not in critical_points.columns]
        if missing:
            raise InvalidInputError(
                f"{who}: critical_points needs the columns {', '.join(cols)}; missing "
                f"{', '.join(missing)}"
            )
        table = critical_points.reset_index(drop=True).copy()
        coords = table[cols].to_numpy(dtype=np.float64)
        if coords.size and not np.all(np.isfinite(coords)):
            raise InvalidInputError(f"{who}: critical_points has NaN or inf coordinates")
    else:
        coords = _validate.array(critical_points, "critical_points", (None, size), who=who)
        table = pd.DataFrame(coords, columns=cols)
    if "kind" not in table.columns:
        table["kind"] = "point"
    if "nature" not in table.columns:
        table["nature"] = table["kind"]
    if "loss" not in table.columns:
        losses = [
            checked_evaluation(objective, np.array(row, dtype=np.float64), who)[0] for row in coords
        ]
        table["loss"] = np.array(losses, dtype=np.float64)
    return table


def _reference_box(objective, lo, hi, size):
    box = getattr(objective, "box", None)
    try:
        arr = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.shape == (size, 2) and np.all(arr[:, 0] < arr[:, 1]):
        return arr[:, 0], arr[:, 1]
    return lo, hi


def _default_tol(points: np.ndarray, box_lo: np.ndarray, box_hi: np.ndarray) -> float:
    tol = 0.02 * float(np.linalg.norm(box_hi - box_lo))
    if len(points) >= 2:
        d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
        d_min = float(np.min(d[np.triu_indices(len(points), 1)]))
        if d_min > 0:
            tol = min(tol, 0.25 * d_min)
    return tol


def _classify(theta, reason, loss, start_loss, points, tol, box_lo, box_hi, escape) -> np.ndarray:
    """Labels of the module docstring's classification."""
    k = theta.shape[0]
    labels = np.full(k, NOT_CONVERGED, dtype=np.int64)
    finite = np.all(np.isfinite(theta), axis=1) & np.isfinite(loss)
    with np.errstate(invalid="ignore"):
        outside = np.maximum(np.maximum(box_lo - theta, theta - box_hi), 0.0) / (box_hi - box_lo)
        blew_up = (np.max(outside, axis=1) > escape) & ~(loss <= start_loss)
    diverged = ~finite | blew_up | np.isin(reason.astype(str), _NONFINITE_REASONS)
    labels[diverged] = DIVERGED
    rows = np.flatnonzero(~diverged)
    if len(points) and rows.size:
        dist = np.linalg.norm(theta[rows, None, :] - points[None, :, :], axis=2)
        nearest = np.argmin(dist, axis=1)
        near = dist[np.arange(rows.size), nearest] <= tol
        labels[rows[near]] = nearest[near]
    return labels


def _classified_runs(
    objective, optimizer, starts, max_steps, table, bounds, tol, escape, options, who
):
    """Run every start (:func:`_run` with ``options``) and label where each ends: ``(runs,
    labels, tol)``, ``tol`` the radius used (the default of the module docstring if None)."""
    size = starts.shape[1]
    points = table[[f"theta_{i}" for i in range(size)]].to_numpy(dtype=np.float64)
    box_lo, box_hi = _reference_box(objective, *bounds, size)
    if tol is None:
        tol = _default_tol(points, box_lo, box_hi)
    tol = _validate.real(tol, "tol", minimum=0.0, lower_open=True, who=who)
    runs = _run(objective, optimizer, starts, max_steps, who=who, **options)
    labels = _classify(
        runs.theta, runs.reason, runs.loss, runs.start_loss, points, tol, box_lo, box_hi, escape
    )
    return runs, labels, tol


def _describe_point(row, size: int) -> str:
    coords = ", ".join(f"{row[f'theta_{i}']:.3g}" for i in range(size))
    return f"{row['nature']} ({coords})"


def _label_table(labels: np.ndarray, table: pd.DataFrame, size: int) -> pd.DataFrame:
    """One row per critical point, then diverged and not converged: counts and fractions."""
    n = labels.size
    counts = np.bincount(labels[labels >= 0], minlength=len(table)) if len(table) else []
    cols = [f"theta_{i}" for i in range(size)]
    rows = []
    for i, row in table.iterrows():
        entry = {"label": int(i), "point": _describe_point(row, size)}
        entry.update({"kind": row["kind"], "nature": row["nature"]})
        entry.update({c: float(row[c]) for c in cols})
        entry["loss"] = float(row["loss"])
        entry["count"] = int(counts[i])
        rows.append(entry)
    for label, text in ((DIVERGED, "diverged"), (NOT_CONVERGED, "not converged")):
        entry = {"label": label, "point": text, "kind": text, "nature": text}
        entry.update({c: np.nan for c in cols})
        entry["loss"] = np.nan
        entry["count"] = int(np.count_nonzero(labels == label))
        rows.append(entry)
    out = pd.DataFrame(rows).set_index("label")
    out["fraction"] = out["count"] / n if n else np.nan
    return out


# -- public API -------------------------------------------------------------------------


@dataclass
class BatchRuns:
    """The runs of one optimizer from many starts (:func:`run_starts`).

    Attributes
    ----------
    starts, theta : ndarray (k, size)
        Initial and final points (the final point is the scalar run's ``traj.theta``).
    loss, start_loss : ndarray (k,)
        Loss at the final point and at the start.
    steps, evals : ndarray (k,) int
        Accepted steps (``traj.n_steps``) and objective evaluations made (a start stopped
        early at a fixed point counts ``max_steps`` steps but only the evaluations made).
    reason : ndarray (k,) str
        The scalar run's stop reason (``"max_steps"``, ``"converged"``, ``"nonfinite_loss"``,
        ...).
    optimizer : str
    method : str
        ``"vectorized"`` or ``"loop"`` (``optimizer.run`` per start).
    evaluation : str
        ``"batched"`` or ``"per point"``.
    seconds : float
        Wall time.
    """

    starts: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    start_loss: np.ndarray
    steps: np.ndarray
    evals: np.ndarray
    reason: np.ndarray
    optimizer: str
    method: str
    evaluation: str
    seconds: float

    @property
    def start_steps_per_second(self) -> float:
        """Total accepted steps over all starts per second of wall time."""
        return float(self.steps.sum()) / self.seconds if self.seconds > 0 else np.inf

    def __repr__(self) -> str:
        reasons = pd.Series(self.reason).value_counts().to_dict()
        return (
            f"BatchRuns({self.optimizer}: {len(self.starts)} starts, {self.method}, "
            f"{self.seconds:.3g} s, reasons {reasons})"
        )


def run_starts(
    objective,
    optimizer: Runner,
    starts,
    max_steps: int,
    *,
    chunk: int = 32768,
    stop_stationary: bool = True,
    loop_unsupported: bool = False,
    progress: bool | None = None,
) -> BatchRuns:
    """Run ``optimizer`` from every row of ``starts`` at once (see the module docstring).

    Parameters
    ----------
    objective : Objective
        Anything with ``size`` and ``value_and_grad``; ``value_and_grad_batch(thetas (k,
        size)) -> (losses (k,), grads (k, size))`` (and ``residuals_batch`` /
        ``jacobian_batch`` for ``lm``) make it fast.
    optimizer : Runner
        One of :data:`SUPPORTED` (else see ``loop_unsupported``).
    starts : array (k, size)
    max_steps : int
        Budget of accepted steps per start (``max_evals=None``).
    chunk : int
        Starts advanced together at a time (memory and cache; no effect on the results).
    stop_stationary : bool
        Stop a start at a bitwise fixed point early (same result, fewer evaluations).
    loop_unsupported : bool
        Run an optimizer without a kernel by ``optimizer.run`` per start (slow, warns)
        instead of raising.
    progress : bool or None
        A progress bar over starts (None: only on a terminal).

    Returns
    -------
    BatchRuns
    """
    who = "run_starts"
    size = _objective_size(objective, who)
    optimizer = _optimizer(optimizer, objective, who)
    starts = _validate.array(starts, "starts", (None, size), copy=True, who=who)
    return _run(
        objective,
        optimizer,
        starts,
        max_steps,
        chunk=chunk,
        stop_stationary=stop_stationary,
        loop_unsupported=loop_unsupported,
        progress=progress,
        who=who,
    )


def _run(
    objective,
    optimizer,
    starts,
    max_steps,
    *,
    chunk,
    stop_stationary,
    loop_unsupported,
    progress,
    who,
) -> BatchRuns:
    max_steps = _validate.integer(max_steps, "max_steps", minimum=0, who=who)
    chunk = _validate.integer(chunk, "chunk", minimum=1, who=who)
    stop_stationary = _validate.flag(stop_stationary, "stop_stationary", who)
    loop_unsupported = _validate.flag(loop_unsupported, "loop_unsupported", who)
    if progress is not None:
        progress = _validate.flag(progress, "progress", who)
    k, size = starts.shape
    kernel = _kernel(optimizer, objective)
    if kernel is None and not loop_unsupported:
        raise InvalidInputError(
            f"{who}: no vectorized kernel for {optimizer!r}"
            + (" on a minibatch objective" if hasattr(objective, "select_batch") else "")
            + f"; supported: {SUPPORTED}. Pass loop_unsupported=True to run it start by "
            "start with optimizer.run (slow)."
        )
    bar = progress_bar(progress, k, f"{who}[{optimizer.name}]", "start", leave=False)
    out = _Finished(k, size, bar)
    clock = time.perf_counter()
    try:
        if kernel is None:
            warnings.warn(
                f"{who}: no vectorized kernel for {optimizer!r}; running optimizer.run start "
                f"by start ({k} runs, slow)",
                UserWarning,
                stacklevel=3,
            )
            _run_loop(optimizer, objective, starts, max_steps, out, lambda i: None)
            method, evaluation = "loop", "per point"
        else:
            ev = _Evaluator(
                objective, size, kernel is _run_lm, f"{optimizer.name} ({who}, batched)"
            )

            def tick(it: int) -> None:
                if bar is not None and it % 25 == 0:
                    bar.set_postfix_str(f"step {it}")

            with np.errstate(all="ignore"):
                for first in range(0, k, chunk):
                    view = _Finished(0, size, bar)
                    rows = slice(first, min(k, first + chunk))
                    part = starts[rows]
                    view.theta, view.loss = out.theta[rows], out.loss[rows]
                    view.loss0 = out.loss0[rows]
                    view.steps, view.evals = out.steps[rows], out.evals[rows]
                    view.reason = out.reason[rows]
                    kernel(optimizer, ev, part, max_steps, view, stop_stationary, tick)
            method = "vectorized"
            evaluation = "batched" if all(ev.batched.values()) else "per point"
    finally:
        if bar is not None:
            bar.close()
    return BatchRuns(
        starts=starts,
        theta=out.theta,
        loss=out.loss,
        start_loss=out.loss0,
        steps=out.steps,
        evals=out.evals,
        reason=out.reason.astype(str),
        optimizer=optimizer.name,
        method=method,
        evaluation=evaluation,
        seconds=time.perf_counter() - clock,
    )


_KIND_MARKERS = {"minimum": "o", "saddle": "X", "maximum": "^", "degenerate": "D"}
_DIVERGED_COLOUR = "#262626"
_NOT_CONVERGED_COLOUR = "#d4d4d4"


def _palette(count: int) -> list:
    import matplotlib

    tab10 = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]  # no grey
    if count <= len(tab10):
        return tab10[:count]
    tab20 = [c for i, c in enumerate(matplotlib.colormaps["tab20"].colors) if i not in (14, 15)]
    return [tab20[i % len(tab20)] for i in range(count)]


@dataclass
class BasinResult:
    """Where an optimizer ends from every start of a grid (:func:`basins`).

    Orientation: ``labels[i, j]`` (and ``finals[i, j]``, ``starts[i, j]``, ...) belongs to
    the start ``(theta_0, theta_1) = (xs[j], ys[i])``: columns run along ``theta_0``, rows
    along ``theta_1``, so ``plt.imshow(labels, origin="lower")`` shows the map the usual way
    up (:meth:`plot` does).

    Attributes
    ----------
    labels : ndarray (n, n) int
        Row of :attr:`critical_points` reached, -1 diverged, -2 not converged (module
        docstring).
    xs, ys : ndarray (n,)
        The grid's ``theta_0`` and ``theta_1`` values.
    starts, finals : ndarray (n, n, 2)
    losses, start_losses : ndarray (n, n)
        Loss at the final point and at the start.
    steps : ndarray (n, n) int
    reasons : ndarray (n, n) str
        Each run's stop reason.
    critical_points : DataFrame
        The table the labels index (``theta_0``, ``theta_1``, ``kind``, ``nature``, ``loss``).
    tol, escape : float
        The classification's radius and divergence bound (box widths).
    objective, optimizer : str
    max_steps : int
    seconds : float
        Wall time of the runs.
    evals : int
        Objective evaluations made, all starts together.
    """

    labels: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    starts: np.ndarray
    finals: np.ndarray
    losses: np.ndarray
    start_losses: np.ndarray
    steps: np.ndarray
    reasons: np.ndarray
    critical_points: pd.DataFrame
    tol: float
    escape: float
    objective: str
    optimizer: str
    max_steps: int
    seconds: float
    evals: int
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.labels.shape[0]

    @property
    def fractions(self) -> pd.DataFrame:
        """Share of the starts per critical point (with its kind, coordinates and loss),
        then ``-1`` diverged and ``-2`` not converged; indexed by label."""
        return _label_table(self.labels.ravel(), self.critical_points, 2)

    def sensitivity(self, radii, points=None) -> pd.DataFrame:
        """For each minimum: the share of starts within distance ``r`` of it that end at
        another label, as a function of ``r``.

        Parameters
        ----------
        radii : sequence of float > 0
        points : sequence of int, optional
            Rows of :attr:`critical_points` to look at; default the minima (``nature ==
            "minimum"``), or every point when the table has no minimum.

        Returns
        -------
        DataFrame
            One row per (point, radius): ``label``, ``point``, ``radius``, ``starts`` (grid
            starts within ``radius``), ``elsewhere`` (share ending at any other label),
            ``other_point`` (at another critical point), ``diverged``, ``not_converged``
            (NaN where no start is that close).
        """
        who = "BasinResult.sensitivity"
        radii = _validate.vector(radii, "radii", who=who)
        if np.any(radii <= 0):
            raise InvalidInputError(f"{who}: radii must be > 0, got {radii.tolist()}")
        table = self.critical_points
        if points is None:
            chosen = list(np.flatnonzero(table["nature"].to_numpy() == "minimum"))
            if not chosen:
                chosen = list(range(len(table)))
        else:
            chosen = [
                _validate.integer(p, "points[i]", minimum=0, maximum=len(table) - 1, who=who)
                for p in points
            ]
        starts = self.starts.reshape(-1, 2)
        labels = self.labels.ravel()
        rows = []
        for p in chosen:
            centre = table.loc[p, ["theta_0", "theta_1"]].to_numpy(dtype=np.float64)
            dist = np.linalg.norm(starts - centre, axis=1)
            for r in radii:
                near = labels[dist <= r]

                def share(mask: np.ndarray) -> float:
                    return float(np.mean(mask)) if mask.size else np.nan

                rows.append(
                    {
                        "label": int(p),
                        "point": _describe_point(table.loc[p], 2),
                        "radius": float(r),
                        "starts": int(near.size),
                        "elsewhere": share(near != p),
                        "other_point": share((near >= 0) & (near != p)),
                        "diverged": share(near == DIVERGED),
                        "not_converged": share(near == NOT_CONVERGED),
                    }
                )
        return pd.DataFrame(rows)

    def colours(self) -> dict[int, tuple]:
        """The colour of every label in :meth:`plot` (RGB tuples)."""
        import matplotlib.colors as mcolors

        cols = dict(enumerate(_palette(len(self.critical_points))))
        cols[DIVERGED] = mcolors.to_rgb(_DIVERGED_COLOUR)
        cols[NOT_CONVERGED] = mcolors.to_rgb(_NOT_CONVERGED_COLOUR)
        return cols

    def plot(self, ax=None, *, title: str | None = None, legend: bool = True, markers=True):
        """The basin map as an image, critical points marked, a legend naming each label.

        Each critical point's basin has its own colour; diverged starts are dark grey, not
        converged ones light grey. The legend gives every critical point's kind, coordinates,
        loss and share of the starts: a figure legend right of the map when ``ax`` is None,
        else an axes legend outside its right edge. Returns ``(fig, ax)``.
        """
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        created = ax is None
        if created:
            fig, ax = plt.subplots(figsize=(9.5, 5.6), layout="constrained")
        else:
            fig = ax.figure
        table = self.critical_points
        colours = self.colours()
        order = [DIVERGED, NOT_CONVERGED, *range(len(table))]
        code = {label: i for i, label in enumerate(order)}
        image = np.vectorize(code.get, otypes=[np.int64])(self.labels)
        cmap = ListedColormap([colours[label] for label in order])
        dx = (self.xs[-1] - self.xs[0]) / (self.n - 1)
        dy = (self.ys[-1] - self.ys[0]) / (self.n - 1)
        extent = (
            self.xs[0] - dx / 2,
            self.xs[-1] + dx / 2,
            self.ys[0] - dy / 2,
            self.ys[-1] + dy / 2,
        )
        width, height = extent[1] - extent[0], extent[3] - extent[2]
        ax.imshow(
            image,
            origin="lower",
            extent=extent,
            cmap=cmap,
            vmin=-0.5,
            vmax=len(order) - 0.5,
            interpolation="nearest",
            aspect="equal" if 1 / 3 <= width / height <= 3 else "auto",
        )
        fractions = self.fractions
        handles = []
        for i, row in table.iterrows():
            kind = row["nature"] if row["nature"] in _KIND_MARKERS else row["kind"]
            marker = _KIND_MARKERS.get(kind, "s")
            x, y = float(row["theta_0"]), float(row["theta_1"])
            share = fractions.loc[i, "fraction"]
            text = (
                f"{row['kind'] if row['kind'] == row['nature'] else row['nature'] + ' (degen.)'}"
                f" ({x:.3f}, {y:.3f}), loss {row['loss']:.4g}: {share:.1%}"
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=marker,
                    markersize=9,
                    markerfacecolor=colours[i],
                    markeredgecolor="black",
                    linestyle="none",
                    label=text,
                )
            )
            inside = extent[0] <= x <= extent[1] and extent[2] <= y <= extent[3]
            if markers and inside:
                ax.plot(
                    x,
                    y,
                    marker=marker,
                    markersize=10,
                    markerfacecolor=colours[i],
                    markeredgecolor="white",
                    markeredgewidth=1.6,
                    linestyle="none",
                )
                ax.plot(
                    x,
                    y,
                    marker=marker,
                    markersize=12.5,
                    markerfacecolor="none",
                    markeredgecolor="black",
                    markeredgewidth=0.8,
                    linestyle="none",
                )
        for label, text in ((DIVERGED, "diverged"), (NOT_CONVERGED, "not converged")):
            share = fractions.loc[label, "fraction"]
            handles.append(
                Patch(facecolor=colours[label], edgecolor="black", label=f"{text}: {share:.1%}")
            )
        ax.set_xlabel(r"$\theta_0$")
        ax.set_ylabel(r"$\theta_1$")
        ax.set_title(
            title
            if title is not None
            else f"{self.objective}: {self.optimizer}, {self.max_steps} steps, "
            f"{self.n}x{self.n} starts"
        )
        if legend:
            options = {
                "handles": handles,
                "fontsize": "small",
                "title": f"end point (within {self.tol:.3g})",
                "title_fontsize": "small",
                "frameon": False,
            }
            if created:  # a figure legend: the constrained layout makes room for it
                fig.legend(loc="outside right upper", **options)
            else:
                ax.legend(
                    loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **options
                )
        return fig, ax

    def __repr__(self) -> str:
        shares = ", ".join(
            f"{label}: {frac:.1%}" for label, frac in self.fractions["fraction"].items() if frac > 0
        )
        return (
            f"BasinResult({self.objective}, {self.optimizer}, {self.n}x{self.n} starts, "
            f"{self.max_steps} steps, {self.seconds:.3g} s; {shares})"
        )


def _name(obj) -> str:
    return str(getattr(obj, "name", None) or type(obj).__name__)


def basins(
    objective,
    optimizer: Runner,
    lo,
    hi,
    n: int,
    max_steps: int,
    *,
    critical_points=None,
    tol: float | None = None,
    escape: float = 10.0,
    chunk: int = 32768,
    stop_stationary: bool = True,
    loop_unsupported: bool = False,
    progress: bool | None = None,
) -> BasinResult:
    """Run ``optimizer`` from every point of an ``n x n`` grid and classify where each ends.

    Parameters
    ----------
    objective : Objective with ``size == 2``
        E.g. a network of :mod:`toposcape.lab.networks` (batched methods make it fast).
    optimizer : Runner
        One of :data:`SUPPORTED` (else see ``loop_unsupported``).
    lo, hi : float or sequence of 2 floats
        The grid's box: ``theta_0`` from ``lo[0]`` to ``hi[0]`` in ``n`` points (ends
        included), ``theta_1`` likewise.
    n : int >= 2
    max_steps : int
        Budget of accepted steps per start (each start's run is
        ``optimizer.run(objective, theta0=start, max_steps=max_steps, max_evals=None)``).
    critical_points : DataFrame or array (p, 2), optional
        The points to classify against; default ``objective.critical_points()``. A
        DataFrame needs ``theta_0``, ``theta_1`` (and may have ``kind``, ``nature``,
        ``loss``); an array gets kind ``"point"`` and its losses evaluated.
    tol : float, optional
        Radius of "reached" (default: module docstring).
    escape : float
        Final points more than this many box widths outside the reference box count as
        diverged when their loss is above the start's.
    chunk, stop_stationary, loop_unsupported, progress
        As :func:`run_starts`.

    Returns
    -------
    BasinResult
        ``labels[i, j]`` belongs to the start ``(xs[j], ys[i])``.

    Raises
    ------
    InvalidInputError
        ``objective.size != 2``, ``lo >= hi``, NaN bounds, ``n < 2``, an unsupported
        optimizer (without ``loop_unsupported``), bad critical points.
    """
    who = "basins"
    size = _objective_size(objective, who)
    if size != 2:
        raise InvalidInputError(
            f"{who}: a basin map needs a 2-parameter objective, got objective.size = {size} "
            "(run_starts and reach_probabilities take any size)"
        )
    optimizer = _optimizer(optimizer, objective, who)
    lo_v, hi_v = _bounds(lo, hi, 2, who)
    n = _validate.integer(n, "n", minimum=2, who=who)
    escape = _validate.real(escape, "escape", minimum=0.0, lower_open=True, who=who)
    table = _critical_table(objective, critical_points, 2, who)
    xs = np.linspace(lo_v[0], hi_v[0], n)
    ys = np.linspace(lo_v[1], hi_v[1], n)
    gx, gy = np.meshgrid(xs, ys)  # gx[i, j] = xs[j], gy[i, j] = ys[i]
    starts = np.stack([gx, gy], axis=-1)
    runs, labels, tol = _classified_runs(
        objective,
        optimizer,
        starts.reshape(-1, 2),
        max_steps,
        table,
        (lo_v, hi_v),
        tol,
        escape,
        dict(
            chunk=chunk,
            stop_stationary=stop_stationary,
            loop_unsupported=loop_unsupported,
            progress=progress,
        ),
        who,
    )
    return BasinResult(
        labels=labels.reshape(n, n),
        xs=xs,
        ys=ys,
        starts=starts,
        finals=runs.theta.reshape(n, n, 2),
        losses=runs.loss.reshape(n, n),
        start_losses=runs.start_loss.reshape(n, n),
        steps=runs.steps.reshape(n, n),
        reasons=runs.reason.reshape(n, n),
        critical_points=table,
        tol=tol,
        escape=escape,
        objective=_name(objective),
        optimizer=optimizer.name,
        max_steps=int(max_steps),
        seconds=runs.seconds,
        evals=int(runs.evals.sum()),
        extra={"method": runs.method, "evaluation": runs.evaluation},
    )


def _wilson(count: np.ndarray, n: int, z: float = 1.959963984540054):
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = np.where(count == 0, 0.0, np.clip(centre - half, 0, 1))
    high = np.where(count == n, 1.0, np.clip(centre + half, 0, 1))
    return low, high


def reach_probabilities(
    objective,
    optimizer: Runner,
    lo,
    hi,
    n_starts: int,
    max_steps: int,
    seed: int = 0,
    *,
    critical_points=None,
    tol: float | None = None,
    escape: float = 10.0,
    chunk: int = 32768,
    stop_stationary: bool = True,
    loop_unsupported: bool = False,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The probability of reaching each critical point from a uniformly random start.

    ``n_starts`` starts are drawn uniformly from the box ``[lo, hi]`` (scalars or one bound
    per coordinate; any objective size) with ``numpy.random.default_rng(seed)``, run as in
    :func:`run_starts` and classified as in :func:`basins`.

    Returns
    -------
    DataFrame
        Indexed by label (critical points, then -1 diverged, -2 not converged): ``point``,
        ``kind``, ``nature``, coordinates, ``loss``, ``count``, ``probability``,
        ``stderr`` (binomial, ``sqrt(p (1 - p) / n_starts)``), and the Wilson 95% interval
        ``ci_low``, ``ci_high`` (informative where ``count`` is 0). ``attrs`` holds the
        settings (``n_starts``, ``seed``, ``optimizer``, ``max_steps``, ``tol``, ``lo``,
        ``hi``, ``seconds``).
    """
    who = "reach_probabilities"
    size = _objective_size(objective, who)
    optimizer = _optimizer(optimizer, objective, who)
    lo_v, hi_v = _bounds(lo, hi, size, who)
    n_starts = _validate.integer(n_starts, "n_starts", minimum=1, who=who)
    seed = _validate.integer(seed, "seed", minimum=0, who=who)
    escape = _validate.real(escape, "escape", minimum=0.0, lower_open=True, who=who)
    table = _critical_table(objective, critical_points, size, who)
    rng = np.random.default_rng(seed)
    starts = lo_v + (hi_v - lo_v) * rng.random((n_starts, size))
    runs, labels, tol = _classified_runs(
        objective,
        optimizer,
        starts,
        max_steps,
        table,
        (lo_v, hi_v),
        tol,
        escape,
        dict(
            chunk=chunk,
            stop_stationary=stop_stationary,
            loop_unsupported=loop_unsupported,
            progress=progress,
        ),
        who,
    )
    out = _label_table(labels, table, size).rename(columns={"fraction": "probability"})
    p = out["probability"].to_numpy(dtype=np.float64)
    out["stderr"] = np.sqrt(p * (1 - p) / n_starts)
    out["ci_low"], out["ci_high"] = _wilson(out["count"].to_numpy(dtype=np.float64), n_starts)
    out.attrs.update(
        {
            "n_starts": n_starts,
            "seed": seed,
            "optimizer": optimizer.name,
            "objective": _name(objective),
            "max_steps": int(max_steps),
            "tol": tol,
            "lo": lo_v.tolist(),
            "hi": hi_v.tolist(),
            "seconds": runs.seconds,
        }
    )
    return out
