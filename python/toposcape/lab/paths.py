"""The Fourier path finder (``studies.md`` section 4): low-barrier paths between two minima.

A path from ``theta_a`` to ``theta_b`` is the straight line plus a truncated sine series in
every coordinate,

    path(t) = (1 - t) theta_a + t theta_b + sum_{k=1..modes} c_k sin(k pi t),   t in [0, 1],

so its end points are fixed whatever the coefficients ``c`` (a ``(modes, size)`` array). The
coefficients are optimised to minimise the highest loss on ``points`` nodes of the path,
through a smooth maximum,

    S_T(c) = T log( (1/n) sum_j exp(f(path(t_j)) / T) ),

which lies in ``[max_j f - T log n, max_j f]`` and tends to the node maximum as the temperature
``T`` goes to 0. The temperature is annealed: a sequence of L-BFGS runs (scipy's L-BFGS-B, warm
started from one another) at ``T = tau * scale`` for each ``tau`` of ``temperatures``, ``scale``
being the loss range along the straight line.

What the barrier means, and why the nodes move
----------------------------------------------
The quantity wanted is the highest loss on the *continuous* path. A maximum over fixed nodes is
a lower bound of it, and minimising that bound invites the optimiser to cheat: with nodes at
equal steps of ``t``, the sine series can make the path race across a ridge between two nodes
(a large speed ``|path'(t)|`` over one node gap), so that the ridge falls between them. That is
not a rare corner case but what the optimum of the node problem looks like: on the
``two_depths`` network (4 modes, 32 nodes) the node barrier came out 0.060 for a path whose
continuous maximum is 0.092, while every path must climb at least 0.0836 (the lowest saddle,
its mountain pass). Two measures fix it, one in the optimisation and one in what is reported:

1. **Nodes at equal arc length** (``spacing="arclength"``, the default). At every evaluation
   the nodes ``t_j(c)`` are placed at equal fractions of the path's Euclidean length (measured
   on a fine polygon of at least 2048 segments, in closed form from the ``(modes+1)^2`` Gram
   matrix of ``[theta_b - theta_a; c]``, so it costs nothing per parameter). Consecutive nodes
   are then ``length / (points - 1)`` apart in space wherever they are: the path can no longer
   concentrate its motion between two nodes, and the node maximum undersamples the path about
   as much as it undersamples the straight line. The nodes depend on ``c``; the gradient
   includes that dependence exactly (the derivative of ``t_j`` through the segment lengths, a
   vector-Jacobian product on the Gram matrix), so L-BFGS sees the function it minimises. On
   ``two_depths`` the path then climbs 0.0838 (0.0836 with 6 modes and 64 nodes).
2. **A dense check of the candidates** (``check_points``, ``refine``). The straight line and,
   at the end of each annealing stage, the stage's best paths are evaluated on
   ``check_points`` nodes at equal arc length, then refined: a cubic Hermite interpolant of
   the loss along the path (values and directional derivatives ``grad f . path'(t)``, both
   given by ``value_and_grad``) estimates the maximum in every gap, and the objective is
   evaluated where that estimate beats the highest measured loss, up to ``refine`` times.
   The returned path is the checked candidate with the lowest checked maximum (the straight
   line included, so the barrier never exceeds the straight line's), and
   :attr:`FourierPath.barrier` is that checked maximum minus the higher end point's loss. It
   is a measured loss on the path, so it can only err low, by what ``check_points`` samples
   plus the refinement miss: a spike narrower than the check spacing and invisible in the
   slopes of its neighbours. The node maximum stays available as
   :attr:`FourierPath.node_barrier`; the straight line's barrier is the same dense check.

   The candidates of a stage are a short ladder of the paths with the lowest node maxima (up
   to four, each lower than the previous by at least 1e-3 of ``scale``), checked lowest first
   until one beats the best checked path, at most three per stage; a check stops at the first
   loss that reaches the best checked maximum (that path cannot win) or at an objective
   error, so a losing check is usually cheap. The second candidate matters where the best one
   cheats anyway, or leaves the objective's domain between its nodes (a path hugging the
   boundary of a region where the objective raises: its nodes are inside, its apex is not).

The next stage warm starts from the best *checked* path, so a path that cheats on its nodes is
neither returned nor built upon. Refining the nodes between stages (more nodes on the same
``t`` grid) was the alternative; it multiplies the cost of every later evaluation and the
optimiser can still move the crossing into a gap, so the arc-length nodes are preferred.

Cost, in objective evaluations (``value_and_grad`` calls)
----------------------------------------------------------
``max_evals`` bounds the evaluations of the smooth maximum, each ``points - 2`` objective
evaluations (the end points' losses are evaluated once). A dense check costs at most
``check_points - 2 + refine``; there is one for the straight line and at most three per
annealing stage (none when the stage's best paths were checked already). In all::

    n_objective_evals <= 2 + (points - 2) * max_evals
                         + (3 * len(temperatures) + 1) * (check_points - 2 + refine)
                         [+ points - 2 when (check_points - 1) is not a multiple of
                          (points - 1): the straight line's nodes, then not a subset]

With the defaults (``points=32``, ``check_points=249``, ``refine=8``, four stages) the checks
add typically ``5 * 255 = 1275`` evaluations, at most ``13 * 255 = 3315``, to the
``30 * 300 = 9000`` of the optimisation.
:attr:`FourierPath.n_check_evals` says how many were spent. Memory: the path's nodes and their
gradients, ``2 * points * size`` floats; the dense check evaluates one point at a time.
"""

from __future__ import annotations

import functools
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

#: Candidates kept for the dense checks (distinct steps of the lowest node maximum).
_LADDER = 4

#: Dense checks per annealing stage at most (more than one only when the first fails).
_CHECKS_PER_STAGE = 3

#: The ways of placing the nodes of :class:`SmoothMaxPath`.
SPACINGS = ("arclength", "uniform")


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


def _line_basis(t: np.ndarray, modes: int) -> np.ndarray:
    """``[t, sin(pi t), ..., sin(modes pi t)]`` as ``(len(t), modes + 1)``: path = a + E X."""
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    return np.column_stack([t, _sine_basis(t, modes)])


def _line_basis_dt(t: np.ndarray, modes: int) -> np.ndarray:
    """The derivative of :func:`_line_basis` in ``t``: ``[1, k pi cos(k pi t)]``."""
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    k = np.arange(1, modes + 1)
    return np.column_stack([np.ones_like(t), np.pi * k * np.cos(np.pi * np.outer(t, k))])


def _fine_segments(modes: int, *counts: int) -> int:
    """Segments of the polygon that measures arc length: fine against every mode and node."""
    return max(2048, 64 * modes, *(4 * c for c in counts))


@functools.lru_cache(maxsize=8)
def _polygon(fine: int, modes: int) -> tuple[np.ndarray, np.ndarray]:
    """The fine grid ``u`` (``fine + 1``) and the increments of :func:`_line_basis` on it."""
    u = np.linspace(0.0, 1.0, fine + 1)
    de = np.diff(_line_basis(u, modes), axis=0)
    u.flags.writeable = de.flags.writeable = False
    return u, de


class _Geometry:
    """The shape of one path: points, velocities and arc length, for coefficients ``c``.

    With ``X = [theta_b - theta_a; c]`` (``(modes + 1, size)``) the path is
    ``theta_a + E(t) X``, ``E(t) = [t, sin(pi t), ..., sin(modes pi t)]``. The length of a
    polygon segment between ``u_{i-1}`` and ``u_i`` is ``sqrt(dE_i G dE_i^T)`` with the Gram
    matrix ``G = X X^T``: arc length and its derivative cost ``O(fine * modes^2)``, not
    ``O(fine * size)``.
    """

    def __init__(
        self, theta_a: np.ndarray, theta_b: np.ndarray, coefficients: Any, fine: int
    ) -> None:
        self.theta_a, self.theta_b = theta_a, theta_b
        dim = theta_a.shape[0]
        c = np.asarray(coefficients, dtype=np.float64).reshape(-1, dim)
        self.modes = c.shape[0]
        self.x = np.vstack([(theta_b - theta_a)[None, :], c])
        self.gram = self.x @ self.x.T
        self.u, self.de = _polygon(fine, self.modes)  # de: (fine, modes + 1)
        self.h = 1.0 / fine
        squared = np.einsum("im,mn,in->i", self.de, self.gram, self.de)
        self.seg = np.sqrt(np.maximum(squared, 0.0))
        self.s = np.concatenate([[0.0], np.cumsum(self.seg)])
        self.length = float(self.s[-1])
        # Lengths floored for divisions only: a segment of zero length is never interpolated in.
        floor = max(self.length, 1e-300) * 1e-15
        self.seg_div = np.maximum(self.seg, floor)

    @property
    def degenerate(self) -> bool:
        return not (np.isfinite(self.length) and self.length > 0.0)

    def nodes(self, n: int) -> np.ndarray:
        """``n`` values of ``t`` at equal fractions of the arc length (0 and 1 included)."""
        r = np.linspace(0.0, 1.0, n)
        if self.degenerate:
            return r
        seg, frac = self._locate(r)
        t = self.u[seg] + self.h * frac
        t[0], t[-1] = 0.0, 1.0
        return t

    def _locate(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment (0-based) and fraction within it of the arc-length fractions ``r``."""
        target = r * self.length
        seg = np.clip(np.searchsorted(self.s, target, side="right") - 1, 0, self.seg.size - 1)
        frac = np.clip((target - self.s[seg]) / self.seg_div[seg], 0.0, 1.0)
        return seg, frac

    def nodes_vjp(self, n: int, cotangent: np.ndarray) -> np.ndarray:
        """``d/dc sum_j cotangent_j t_j(c)`` for the nodes of :meth:`nodes`, ``(modes, size)``.

        ``t_j = u_i + h (r_j L - s_i) / l_i`` on the segment ``i`` holding the fraction
        ``r_j``, with ``s_i`` the length before it, ``l_i`` its length, ``L`` the total; every
        length depends on ``c`` through ``l_k = |dE_k X|``, ``dl_k/dX = dE_k dE_k^T X / l_k``.
        """
        a = np.asarray(cotangent, dtype=np.float64).copy()
        a[0] = a[-1] = 0.0  # the end nodes do not move
        if self.degenerate or not np.any(a):
            return np.zeros((self.modes, self.x.shape[1]))
        r = np.linspace(0.0, 1.0, n)
        seg, frac = self._locate(r)
        coef = a * self.h / self.seg_div[seg]
        fine = self.seg.size
        # dt_j/dl_k = coef-scale * (r_j - [k < seg_j] - [k == seg_j] frac_j).
        b = np.full(fine, float(coef @ r))
        per_seg = np.bincount(seg, weights=coef, minlength=fine)
        b -= np.cumsum(per_seg[::-1])[::-1] - per_seg  # segments strictly before seg_j
        np.add.at(b, seg, -coef * frac)
        k = (self.de * (b / self.seg_div)[:, None]).T @ self.de  # (modes + 1, modes + 1)
        return k[1:] @ self.x

    def fraction(self, t: Any) -> np.ndarray:
        """The fraction of the arc length reached at ``t`` (``t`` itself when degenerate)."""
        t = np.asarray(t, dtype=np.float64)
        if self.degenerate:
            return t.copy()
        return np.interp(t, self.u, self.s) / self.length

    def point(self, t: float) -> np.ndarray:
        """The path at one ``t`` (exactly ``theta_a`` / ``theta_b`` at 0 / 1)."""
        if t == 0.0:
            return self.theta_a.copy()
        if t == 1.0:
            return self.theta_b.copy()
        return self.theta_a + _line_basis(t, self.modes)[0] @ self.x

    def points(self, t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The path at every ``t``, ``(len(t), size)``, the end points exact (into ``out``, a
        reused buffer: for a large ``size``, writing fresh pages costs more than the product)."""
        out = np.matmul(_line_basis(t, self.modes), self.x, out=out)
        out += self.theta_a
        out[t == 0.0] = self.theta_a
        out[t == 1.0] = self.theta_b
        return out

    def point_and_velocity(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """``path(t)`` and ``path'(t)`` for one interior ``t``, in one pass over ``X``."""
        rows = np.vstack([_line_basis(t, self.modes), _line_basis_dt(t, self.modes)])
        both = rows @ self.x
        both[0] += self.theta_a
        return both[0], both[1]

    def velocity(self, t: float) -> np.ndarray:
        """``path'(t)``, ``(size,)``."""
        return _line_basis_dt(t, self.modes)[0] @ self.x


class SmoothMaxPath:
    """The smooth maximum of the losses along a Fourier path, as a function of its coefficients.

    An Objective itself: :attr:`size` is ``modes * objective.size`` and :meth:`value_and_grad`
    takes the coefficients flattened (C order, mode by mode). :attr:`temperature` is absolute
    (in loss units) and may be changed between calls. The end nodes' losses are evaluated once,
    at construction; every call evaluates the objective on the ``points - 2`` interior nodes.

    ``spacing="arclength"`` (the default) puts the nodes at equal fractions of the path's
    length, recomputed at every call, and the gradient includes the motion of the nodes
    (see the module docstring); ``"uniform"`` keeps them at equal steps of ``t`` (cheaper to
    differentiate, but the optimiser can then hide a ridge between two nodes).

    After each call, :attr:`last_t`, :attr:`last_losses` and :attr:`last_thetas` hold the
    nodes, their losses and the path there (:attr:`last_thetas` is a buffer that the next
    call overwrites), and :attr:`n_objective_evals` counts the
    objective's evaluations. With :attr:`tolerate_errors` set, an objective raising ValueError
    or ArithmeticError at a node (e.g. a topology objective refusing extreme logits) counts as
    an infinite loss there, the call returns ``(inf, 0)`` so that a line search backs off, and
    :attr:`n_failures` counts them.
    """

    def __init__(
        self,
        objective: Any,
        theta_a: Any,
        theta_b: Any,
        modes: int,
        points: int,
        temperature: float,
        *,
        spacing: str = "arclength",
        fine: int | None = None,
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
        self.spacing = _validate.option(spacing, "spacing", SPACINGS, who=who)
        if fine is None:
            fine = _fine_segments(self.modes, self.points)
        self.fine = _validate.integer(fine, "fine", minimum=1, who=who)
        self.dim = n
        self.size = self.modes * n
        self.x0 = np.zeros(self.size)
        self.n_objective_evals = 0
        self.n_failures = 0
        self.tolerate_errors = False
        ends = [self._loss(self.theta_a), self._loss(self.theta_b)]
        self.end_losses = np.array([ends[0][0], ends[1][0]])
        self.end_grads = np.array([ends[0][1], ends[1][1]])
        self.last_t: np.ndarray | None = None
        self.last_losses: np.ndarray | None = None
        self.last_thetas: np.ndarray | None = None
        self._thetas: np.ndarray | None = None
        self._grads: np.ndarray | None = None

    def _loss(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = self.objective.value_and_grad(theta)
        self.n_objective_evals += 1
        return float(value), np.asarray(grad, dtype=np.float64).reshape(self.dim)

    def loss(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``value_and_grad`` at ``theta``, counted; an error is ``(inf, None)`` if tolerated."""
        try:
            return self._loss(theta)
        except (ValueError, ArithmeticError):
            if not self.tolerate_errors:
                raise
            self.n_failures += 1
            return float("inf"), None

    def geometry(self, coefficients: Any) -> _Geometry:
        """The shape of the path with these coefficients (arc length, points, velocities)."""
        return _Geometry(self.theta_a, self.theta_b, coefficients, self.fine)

    def node_t(self, coefficients: Any, geometry: _Geometry | None = None) -> np.ndarray:
        """The ``points`` nodes in ``t`` for these coefficients."""
        if self.spacing == "uniform":
            return np.linspace(0.0, 1.0, self.points)
        if geometry is None:
            geometry = self.geometry(coefficients)
        return geometry.nodes(self.points)

    def thetas(self, coefficients: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
        """The path at ``t`` (the nodes by default) as a ``(len(t), size)`` array."""
        geo = self.geometry(coefficients)
        t = self.node_t(coefficients, geo) if t is None else np.asarray(t, dtype=np.float64)
        return geo.points(np.atleast_1d(t))

    def value_and_grad(self, coefficients: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth maximum of the node losses and its gradient w.r.t. the flat coefficients."""
        geo = self.geometry(coefficients)
        t = self.node_t(coefficients, geo)
        if self._thetas is None:  # buffers reused from call to call (see _Geometry.points)
            self._thetas = np.empty((self.points, self.dim))
            self._grads = np.zeros((self.points, self.dim))
        thetas, grads = geo.points(t, out=self._thetas), self._grads
        losses = np.empty(self.points)
        losses[0], losses[-1] = self.end_losses  # grads[0] and grads[-1] stay 0: fixed ends
        for j in range(1, self.points - 1):
            value, grad = self.loss(thetas[j])
            losses[j] = value
            grads[j] = 0.0 if grad is None else grad
        self.last_t, self.last_losses, self.last_thetas = t, losses, thetas
        if not np.all(np.isfinite(losses)):
            return float("inf"), np.zeros(self.size)
        temp = self.temperature
        top = losses.max()
        z = np.exp((losses - top) / temp)
        total = z.sum()
        value = top + temp * np.log(total / self.points)
        weights = z / total
        basis = _sine_basis(t, self.modes)
        basis[[0, -1]] = 0.0  # sin(k pi) is 0 up to rounding: the end points are fixed
        grad = (basis * weights[:, None]).T @ grads  # (modes, dim): the nodes held fixed in t
        if self.spacing == "arclength":
            # The nodes move with c: add sum_j w_j (grad f_j . path'(t_j)) dt_j/dc.
            along = np.einsum("jm,mj->j", _line_basis_dt(t, self.modes), geo.x @ grads.T)
            grad += geo.nodes_vjp(self.points, weights * along)
        return float(value), grad.ravel()


def _hermite_peaks(t: np.ndarray, f: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest value and its ``t`` of the cubic Hermite interpolant in every gap of ``t``.

    ``f`` and ``df`` are the values and derivatives (in ``t``) at the sorted ``t``; returns
    ``(peak, at)`` of length ``len(t) - 1``; ``at`` is strictly inside the gap where the peak
    is interior, else the gap's midpoint (with ``peak`` the higher end value).
    """
    width = np.diff(t)
    f0, f1 = f[:-1], f[1:]
    m0, m1 = df[:-1] * width, df[1:] * width
    # p(s) = a s^3 + b s^2 + m0 s + f0 on s in [0, 1].
    a = 2.0 * f0 + m0 - 2.0 * f1 + m1
    b = -3.0 * f0 - 2.0 * m0 + 3.0 * f1 - m1
    peak = np.maximum(f0, f1)
    at = np.full(width.shape, 0.5)
    for s in _quadratic_roots(3.0 * a, 2.0 * b, m0):
        inside = (s > 1e-6) & (s < 1.0 - 1e-6)
        value = ((a * s + b) * s + m0) * s + f0
        better = inside & (value > peak)
        peak = np.where(better, value, peak)
        at = np.where(better, s, at)
    return peak, t[:-1] + at * width


def _quadratic_roots(
    qa: np.ndarray, qb: np.ndarray, qc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Both real roots of ``qa s^2 + qb s + qc`` elementwise (NaN where none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = qb * qb - 4.0 * qa * qc
        root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
        # The stable form: q = -(qb + sign(qb) root) / 2, roots q / qa and qc / q.
        q = -0.5 * (qb + np.where(qb >= 0.0, root, -root))
        linear = np.abs(qa) <= 1e-14 * (np.abs(qb) + np.abs(qc))
        r1 = np.where(linear, -qc / qb, q / qa)
        r2 = np.where(linear, np.nan, qc / q)
    return r1, r2


@dataclass
class _Check:
    """A dense check of one path: the measured losses along it, sorted in ``t``.

    ``complete`` is False when the check stopped early (a loss at or above ``stop_at``, or an
    objective error): ``losses`` then holds what was measured and NaN elsewhere.
    """

    t: np.ndarray
    losses: np.ndarray
    complete: bool = True

    @property
    def top(self) -> float:
        return float(self.losses.max()) if self.complete else float("inf")


def _dense_check(
    fn: SmoothMaxPath,
    coefficients: np.ndarray,
    t: np.ndarray | None,
    check_points: int,
    refine: int,
    *,
    stop_at: float = float("inf"),
    first_near: float = 0.5,
) -> _Check:
    """Losses of a path on ``check_points`` nodes (equal arc length unless ``t`` is given),
    then up to ``refine`` more where the cubic Hermite interpolant promises a higher maximum
    than the highest measured (by more than 1e-9 of the measured range).

    The nodes are measured nearest first to the node ``first_near`` (an index fraction, e.g.
    where the optimiser's highest node was), and the check stops at the first loss at or above
    ``stop_at`` (such a path cannot beat the one that set it) or the first objective error.
    """
    geo = fn.geometry(coefficients)
    t = geo.nodes(check_points) if t is None else np.asarray(t, dtype=np.float64)
    f = np.full(t.size, np.nan)
    df = np.full(t.size, np.nan)
    order = np.argsort(np.abs(np.linspace(0.0, 1.0, t.size) - first_near), kind="stable")
    for j in order:
        f[j], df[j] = _value_and_slope(fn, geo, float(t[j]))
        if not f[j] < stop_at:  # also stops at inf (an objective error)
            return _Check(t=t, losses=f, complete=False)
    spread = float(f.max() - f.min())
    tol = 1e-9 * (spread if spread > 0.0 else max(abs(float(f.max())), 1.0))
    for _ in range(refine):
        peak, at = _hermite_peaks(t, f, df)
        k = int(np.argmax(peak))
        if not peak[k] > f.max() + tol:
            break
        value, slope = _value_and_slope(fn, geo, float(at[k]))
        t, f, df = (np.insert(arr, k + 1, v) for arr, v in ((t, at[k]), (f, value), (df, slope)))
        if not value < stop_at:
            return _Check(t=t, losses=f, complete=False)
    return _Check(t=t, losses=f)


def _value_and_slope(fn: SmoothMaxPath, geo: _Geometry, t: float) -> tuple[float, float]:
    """The loss at ``path(t)`` and its derivative along the path, ``grad f . path'(t)`` (the
    end points' losses and gradients are those evaluated once, at construction)."""
    if t == 0.0 or t == 1.0:
        end = 0 if t == 0.0 else 1
        return float(fn.end_losses[end]), float(fn.end_grads[end] @ geo.velocity(t))
    theta, velocity = geo.point_and_velocity(t)
    value, grad = fn.loss(theta)
    if grad is None:
        return value, 0.0
    return value, float(grad @ velocity)


@dataclass
class FourierPath:
    """A path found by :func:`fourier_path`, with the straight line for comparison.

    Attributes
    ----------
    t : ndarray, (points,)
        The nodes in [0, 1] (at equal arc length with the default spacing, so not equally
        spaced in ``t``).
    thetas : ndarray, (points, size)
        The path at the nodes (first and last rows are exactly ``theta_a`` and ``theta_b``).
    losses : ndarray, (points,)
        The loss at each node of the path.
    coefficients : ndarray, (modes, size)
        The sine coefficients ``c_k`` of the path.
    barrier : float
        Highest loss measured on the path by the dense check (:attr:`check_losses`) minus the
        higher end point's loss (>= 0): a measured value, at most the continuous path's
        barrier and tight up to what the check can resolve (module docstring).
    straight_losses : ndarray, (points,)
        The loss on ``points`` equally spaced nodes of the straight line.
    straight_barrier : float
        The straight line's barrier, from the same dense check as :attr:`barrier`.
    theta_a, theta_b : ndarray, (size,)
        The end points.
    temperatures : tuple of float
        The absolute temperatures of the annealing stages that ran.
    stage_max : list of float
        The lowest maximum over the nodes found by the end of each stage.
    stage_barrier : list of float
        The lowest checked barrier (the barrier returned had the run stopped there) by the
        end of each stage.
    node_barrier : float
        Highest loss on the returned path's nodes minus the higher end point's loss: what the
        optimiser saw (<= :attr:`barrier`).
    check_t, check_losses : ndarray
        The dense check of the returned path: the ``t`` values (sorted) and their losses.
    straight_check_t, straight_check_losses : ndarray
        The same for the straight line.
    n_path_evals : int
        Evaluations of the smooth maximum (each costs ``points - 2`` objective evaluations).
    n_objective_evals : int
        Evaluations of the objective in all (end points, straight line and checks included).
    n_check_evals : int
        The objective evaluations spent by the dense checks (straight line included).
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
    stage_barrier: list[float] = field(default_factory=list)
    node_barrier: float = float("nan")
    check_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    check_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    straight_check_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    straight_check_losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_path_evals: int = 0
    n_objective_evals: int = 0
    n_check_evals: int = 0
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

    def arc_fraction(self, t: Any) -> np.ndarray:
        """The fraction of the path's length (Euclidean, in parameter space) reached at ``t``."""
        fine = _fine_segments(self.modes, self.points)
        geo = _Geometry(self.theta_a, self.theta_b, self.coefficients, fine)
        return geo.fraction(np.atleast_1d(np.asarray(t, dtype=np.float64)))

    def profile(self, objective: Any, points: int = 257) -> tuple[np.ndarray, np.ndarray]:
        """``(t, losses)`` of the path on ``points`` equally spaced ``t`` (an independent check;
        one point in memory at a time)."""
        n = _check_objective(objective, "profile")
        if n != self.theta_a.shape[0]:
            raise InvalidInputError(
                f"profile: objective.size must be {self.theta_a.shape[0]} (the path's), got {n}"
            )
        points = _validate.integer(points, "points", minimum=2, who="profile")
        t = np.linspace(0.0, 1.0, points)
        losses = np.empty(points)
        for j, tj in enumerate(t):
            theta = self.theta_a if j == 0 else self.theta_b if j == points - 1 else None
            if theta is None:
                theta = self.path(tj)[0]
            losses[j] = float(objective.value_and_grad(theta)[0])
        return t, losses

    def plot(self, ax: Any = None):
        """The checked loss profile of the path against the straight line's, over the fraction
        of each one's length; the path's nodes are dots. Returns the Figure."""
        if ax is None:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(5.0, 3.5), layout="constrained")
        else:
            from matplotlib.axes import Axes

            if not isinstance(ax, Axes):
                raise TypeError(f"plot: ax must be matplotlib Axes, got {_validate.given(ax)}")
            fig = ax.figure
        st, sl = self.straight_check_t, self.straight_check_losses
        if st.size == 0:
            st, sl = np.linspace(0.0, 1.0, self.straight_losses.size), self.straight_losses
        ax.plot(
            st,
            sl,
            "--",
            color="0.5",
            label=f"straight line (barrier {self.straight_barrier:.4g})",
        )
        line = None
        if self.check_t.size:
            (line,) = ax.plot(
                self.arc_fraction(self.check_t),
                self.check_losses,
                "-",
                label=f"Fourier path, {self.modes} modes (barrier {self.barrier:.4g})",
            )
        ax.plot(
            self.arc_fraction(self.t),
            self.losses,
            "o",
            markersize=3,
            color=None if line is None else line.get_color(),
            label=f"its {self.points} nodes (max {self.node_barrier:.4g} above the ends)",
        )
        ax.axhline(max(self.losses[0], self.losses[-1]), color="0.8", linewidth=0.8)
        ax.set_xlabel("fraction of the path's length")
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
    spacing: str = "arclength",
    check_points: int | None = None,
    refine: int = 8,
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
        Nodes of the discretised path (end points included) the optimiser sees.
    max_evals : int >= 1
        Budget of smooth-maximum evaluations over all annealing stages, split equally between
        them; each costs ``points - 2`` objective evaluations. The dense checks come on top,
        bounded as the module docstring states.
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
    spacing : {"arclength", "uniform"}
        Where the optimiser's nodes sit: at equal arc length, recomputed at every evaluation
        (default), or at equal steps of ``t`` (the optimiser can then hide a ridge between two
        nodes; the dense check still measures the returned path honestly).
    check_points : int >= 3, optional
        Nodes of the dense check of each candidate (default ``8 * (points - 1) + 1``, whose
        straight-line nodes include the ``points`` nodes).
    refine : int >= 0
        Extra evaluations per dense check spent where the cubic Hermite interpolant of the
        loss along the path exceeds the highest measured loss.
    progress : bool or None
        Show a tqdm bar of the smooth-maximum evaluations (None: only on a terminal).

    Returns
    -------
    FourierPath
        Among the checked candidates (the straight line and each stage's paths of lowest node
        maximum, module docstring), the one with the lowest checked maximum; its nodes, dense
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
    spacing = _validate.option(spacing, "spacing", SPACINGS, who=_WHO)
    check_points = _validate.integer(
        check_points, "check_points", minimum=3, allow_none=True, who=_WHO
    )
    if check_points is None:
        check_points = 8 * (points - 1) + 1
    refine = _validate.integer(refine, "refine", minimum=0, who=_WHO)
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

    fine = _fine_segments(modes, points, check_points)
    fn = SmoothMaxPath(
        objective, theta_a, theta_b, modes, points, temperature=1.0, spacing=spacing, fine=fine
    )
    if not np.all(np.isfinite(fn.end_losses)):
        raise InvalidInputError(
            f"{_WHO}: the loss at the end points must be finite, got {fn.end_losses.tolist()}"
        )
    top_end = float(max(fn.end_losses))

    # The straight line: a candidate, the comparison, and the loss scale of the temperature.
    # Checked on equal steps of t (its arc length is t); its nodes are a subset when possible.
    zeros = np.zeros(fn.size)
    straight_nodes = np.linspace(0.0, 1.0, points)
    straight_check = _dense_check(
        fn, zeros, np.linspace(0.0, 1.0, check_points), check_points, refine
    )
    n_check = fn.n_objective_evals - 2
    stride, rest = divmod(check_points - 1, points - 1)
    if rest == 0:
        # The straight line's first check_points values, before any refinement was inserted,
        # are on t = i / (check_points - 1): every stride-th one is a node.
        sampled = np.isin(straight_check.t, np.linspace(0.0, 1.0, check_points))
        straight_losses = straight_check.losses[sampled][::stride].copy()
    else:
        straight_losses = np.empty(points)
        straight_losses[[0, -1]] = fn.end_losses
        for j, theta in enumerate(fn.thetas(zeros, straight_nodes)[1:-1], start=1):
            straight_losses[j] = fn.loss(theta)[0]
    if not (np.all(np.isfinite(straight_losses)) and np.all(np.isfinite(straight_check.losses))):
        raise InvalidInputError(f"{_WHO}: the loss is not finite on the straight line")
    scale = float(straight_check.losses.max() - straight_check.losses.min())
    if scale <= 0.0:
        scale = max(abs(float(straight_check.losses.max())), 1.0) * 1e-6
    fn.tolerate_errors = True

    penalty = float(straight_check.top) + 100.0 * scale
    best = {"max": float(straight_losses.max()), "c": zeros, "losses": straight_losses}
    best.update(t=straight_nodes, id=0)
    chosen = {"top": straight_check.top, "c": zeros, "losses": straight_losses}
    chosen.update(t=straight_nodes, check=straight_check, id=0, max=best["max"])
    counter = {"evals": 0, "id": 0, "checks": n_check}
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
            counter["id"] += 1
            best.update(max=top, c=c.copy(), losses=fn.last_losses, t=fn.last_t)
            best["id"] = counter["id"]
            # The ladder of candidates: a new one replaces the last unless it is lower by a
            # clear step, so the ladder keeps distinct paths, not one descent's small steps.
            if ladder and ladder[-1]["max"] - top < step:
                ladder.pop()
            ladder.append(dict(best))
            del ladder[:-_LADDER]
        if value < smooth["value"]:
            smooth.update(value=value, c=c.copy())
        if not np.isfinite(value):
            # A finite penalty above every loss seen on the straight line: L-BFGS-B's line
            # search backs off from it, where an infinite value would stop the run.
            return penalty, grad
        return value, grad

    rng = np.random.default_rng(seed)
    spread = jitter * np.linalg.norm(theta_b - theta_a) / np.sqrt(n)

    def jittered(c: np.ndarray) -> np.ndarray:
        return c + spread * rng.standard_normal(fn.size) if jitter > 0.0 else c

    c = jittered(zeros if initial is None else initial.ravel())
    budget = {"stage_end": 0}
    smooth: dict[str, Any] = {}
    used_temps: list[float] = []
    stage_max: list[float] = []
    stage_barrier: list[float] = []
    checked = {0}
    ladder: list[dict[str, Any]] = []
    step = 1e-3 * scale
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
            # Check the stage's best paths densely, lowest node maximum first, until one beats
            # the best checked path (or none of the remaining could: dense >= node maximum).
            tries = 0
            for entry in sorted(ladder, key=lambda e: e["max"]):
                if tries == _CHECKS_PER_STAGE or not entry["max"] < chosen["top"]:
                    break
                if entry["id"] in checked:
                    continue
                checked.add(entry["id"])
                tries += 1
                before_evals = fn.n_objective_evals
                highest = int(np.argmax(entry["losses"])) / (points - 1)
                check = _dense_check(
                    fn,
                    entry["c"],
                    None,
                    check_points,
                    refine,
                    stop_at=chosen["top"],
                    first_near=highest,
                )
                counter["checks"] += fn.n_objective_evals - before_evals
                if check.top < chosen["top"]:
                    chosen.update(entry, top=check.top, check=check)
                    break
            stage_max.append(best["max"])
            stage_barrier.append(chosen["top"] - top_end)
            # Warm start the next (colder) stage from the best checked path (jittered again if
            # that is the straight line, which may be stationary by symmetry).
            c = chosen["c"].copy() if chosen["id"] else jittered(zeros)
    finally:
        if bar is not None:
            bar.close()

    coefficients = chosen["c"].reshape(modes, n)
    thetas = fn.thetas(coefficients, chosen["t"])
    check = chosen["check"]
    return FourierPath(
        t=np.asarray(chosen["t"], dtype=np.float64).copy(),
        thetas=thetas,
        losses=np.asarray(chosen["losses"]).copy(),
        coefficients=coefficients,
        barrier=check.top - top_end,
        straight_losses=straight_losses,
        straight_barrier=straight_check.top - top_end,
        theta_a=theta_a,
        theta_b=theta_b,
        temperatures=tuple(used_temps),
        stage_max=stage_max,
        stage_barrier=stage_barrier,
        node_barrier=float(np.max(chosen["losses"])) - top_end,
        check_t=check.t,
        check_losses=check.losses,
        straight_check_t=straight_check.t,
        straight_check_losses=straight_check.losses,
        n_path_evals=counter["evals"],
        n_objective_evals=fn.n_objective_evals,
        n_check_evals=counter["checks"],
        n_failures=fn.n_failures,
        wall_time=time.perf_counter() - start,
    )
