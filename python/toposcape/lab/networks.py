"""Benchmark networks whose critical points are known exactly (``studies.md`` section 3).

Each network is a tiny model with two parameters ``theta = (w1, w2)`` fitted to a handful of
data points ``(x_i, y_i)`` with exact rational values. Its loss is the mean squared error

    loss(theta) = sum_i r_i(theta)**2 / m,      r_i(theta) = f(x_i; theta) - y_i,

so ``gradient = (2/m) J^T r`` and the Gauss-Newton matrix is ``(2/m) J^T J`` (``J`` the
``(m, 2)`` Jacobian of the residuals, :meth:`Network.jacobian`).

>>> import toposcape as ts
>>> from toposcape.lab import networks
>>> networks.names()                                      # doctest: +SKIP
>>> net = networks.get("two_depths")
>>> net.critical_points()                                 # doctest: +SKIP
>>> ts.optim.get("lbfgs").run(net, max_evals=200)         # doctest: +SKIP

How the critical points are computed (:meth:`Network.critical_points`)
------------------------------------------------------------------------
The loss is built symbolically with SymPy. Every network is polynomial in its parameters, or
becomes rational after the substitution ``s = exp(c * w)`` of a parameter that enters only
through ``exp`` / ``tanh`` of integer multiples of it (the inputs ``x_i`` are integers), with
``dL/dw = c s dL/ds`` and ``s > 0``. The numerators of the gradient (denominators are positive
for ``s > 0``) form a polynomial system with rational coefficients. Its lexicographic Groebner
basis is computed exactly and checked to be zero-dimensional (finitely many complex
solutions, so no curve of critical points is missed); the real roots of the basis' univariate
element are isolated exactly (``Poly.real_roots``), each is substituted back at 60 digits,
the other coordinate is taken from the common roots of the remaining basis elements
(numerically, at 60 digits, with a residual test: exact isolation for the eliminated
coordinate, a high-precision numerical check for the other one), and
every candidate is refined by Newton's method in mpmath and kept when the gradient vanishes
to 1e-25 and it lies in :attr:`Network.box` (a closed box). So the list is every critical
point in the box, not a sample (a network whose critical points form a curve, such as the deep
linear ``w1 w2 x``, fails the zero-dimensionality check and is refused rather than sampled);
the tests also run a dense multistart of root finders on the gradient inside the box and check
that it finds nothing else.

``kind`` is the Hessian's verdict from its eigenvalues: ``"minimum"`` (all > tol),
``"maximum"`` (all < -tol), ``"saddle"`` (both signs, none near 0) or ``"degenerate"`` (an
eigenvalue within ``tol = 1e-9 * max(1, max |lambda|)`` of zero: the Hessian does not decide).
The column ``nature`` adds the verdict of higher-order terms for a degenerate point, found by
sampling the loss on small circles around it (for ``degenerate_gate``, the only network with a
degenerate point, its docstring also proves it is a minimum).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import pandas as pd
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from .. import _validate

__all__ = ["Network", "names", "get", "describe"]

_W1, _W2 = sp.symbols("w1 w2", real=True)
_PARAMS = (_W1, _W2)


@dataclass(frozen=True)
class _Definition:
    name: str
    summary: str
    covers: str
    model: object  # callable(x: sympy Integer, w1, w2) -> sympy expression
    xs: tuple
    ys: tuple
    box: tuple
    x0: tuple
    # substitution: for each parameter, None (polynomial in it) or c (enters through
    # exp(c * k * w) with integers k): s = exp(c * w)
    substitution: tuple = (None, None)
    infimum_at_infinity: str = ""


class Network:
    """A benchmark network: an Objective (``size``, ``x0``, ``value_and_grad``, ``hvp``) with
    exact critical points, plus the least-squares form (``residuals``, ``jacobian``).

    Attributes
    ----------
    name : str
    size : int
        Number of parameters (2).
    x0 : ndarray (size,)
        A default start, inside :attr:`box`.
    box : tuple of (lo, hi)
        The closed box the list of :meth:`critical_points` is complete for.
    xs, ys : ndarray (m,)
        The data points.
    n_residuals : int
        ``m``; the loss is ``sum(residuals**2) / m``.
    covers : str
        What the network is a benchmark for.
    infimum_at_infinity : str
        Empty, or where the infimum of the loss is approached when no finite minimum reaches
        it.
    """

    def __init__(self, definition: _Definition):
        self._d = definition
        self.name = definition.name
        self.size = 2
        self.box = tuple((float(lo), float(hi)) for lo, hi in definition.box)
        self.xs = np.array([float(x) for x in definition.xs])
        self.ys = np.array([float(y) for y in definition.ys])
        self.n_residuals = len(definition.xs)
        self.covers = definition.covers
        self.infimum_at_infinity = definition.infimum_at_infinity
        self.__doc__ = definition.summary
        self._x0 = np.array(definition.x0, dtype=np.float64)
        res = self._residual_exprs()
        loss = sum(r**2 for r in res) / len(res)
        grad = [sp.diff(loss, w) for w in _PARAMS]
        hess = [[sp.diff(g, w) for w in _PARAMS] for g in grad]
        jac = [[sp.diff(r, w) for w in _PARAMS] for r in res]
        self._loss_expr = loss
        self._grad_expr = grad
        self._f_res = sp.lambdify(_PARAMS, res, "numpy")
        self._f_jac = sp.lambdify(_PARAMS, jac, "numpy")
        self._f_loss = sp.lambdify(_PARAMS, loss, "numpy")
        self._f_grad = sp.lambdify(_PARAMS, grad, "numpy")
        self._f_hess = sp.lambdify(_PARAMS, hess, "numpy")
        self._mp_grad = sp.lambdify(_PARAMS, grad, "mpmath")
        self._mp_hess = sp.lambdify(_PARAMS, hess, "mpmath")

    # -- the objective -------------------------------------------------------------------

    @property
    def x0(self) -> np.ndarray:
        return self._x0.copy()

    def __repr__(self) -> str:
        return f"Network({self.name!r})"

    def _theta(self, theta, who: str) -> np.ndarray:
        return _validate.vector(theta, "theta", self.size, who=f"{self.name}.{who}")

    def _residual_exprs(self) -> list:
        d = self._d
        return [
            d.model(sp.Integer(x) if Fraction(x).denominator == 1 else sp.Rational(x), *_PARAMS)
            - sp.Rational(y)
            for x, y in zip(d.xs, d.ys, strict=True)
        ]

    def loss(self, theta) -> float:
        """The mean squared error at ``theta``."""
        t = self._theta(theta, "loss")
        with np.errstate(all="ignore"):
            return float(self._f_loss(*t))

    def value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        """Loss and gradient at ``theta`` (non-finite values are returned as they are)."""
        t = self._theta(theta, "value_and_grad")
        with np.errstate(all="ignore"):
            return float(self._f_loss(*t)), np.array(self._f_grad(*t), dtype=np.float64)

    def hessian(self, theta) -> np.ndarray:
        """The exact ``(size, size)`` Hessian at ``theta``."""
        t = self._theta(theta, "hessian")
        with np.errstate(all="ignore"):
            return np.array(self._f_hess(*t), dtype=np.float64)

    def hvp(self, theta, v) -> np.ndarray:
        """The exact Hessian-vector product ``H(theta) v``."""
        h = self.hessian(theta)
        v = _validate.vector(v, "v", self.size, who=f"{self.name}.hvp")
        return h @ v

    def residuals(self, theta) -> np.ndarray:
        """``r_i = f(x_i; theta) - y_i`` as an ``(m,)`` array; loss = ``sum(r**2) / m``."""
        t = self._theta(theta, "residuals")
        with np.errstate(all="ignore"):
            return np.array(self._f_res(*t), dtype=np.float64)

    def jacobian(self, theta) -> np.ndarray:
        """``dr_i / dtheta_j`` as an ``(m, size)`` array; gradient = ``(2/m) J^T r``."""
        t = self._theta(theta, "jacobian")
        with np.errstate(all="ignore"):
            return np.array(self._f_jac(*t), dtype=np.float64).reshape(self.n_residuals, self.size)

    # -- batched evaluation: many points at once (toposcape.lab.basin_maps) ------------------
    #
    # The loss, gradient, residuals and Jacobian are lambdified a second time for arrays of
    # points: loss and gradient in one function, common subexpressions computed once
    # (``cse``), and small integer powers written as products (``w*w*w``), since NumPy's
    # array ``power`` is slow for exponents other than 2. Together ~10x faster than the
    # one-point functions applied to arrays, and evaluated in chunks of rows that stay in
    # cache. The values agree with the one-point methods to a few units in the last place,
    # not bitwise: there ``w**3`` on a float64 scalar is C ``pow`` (correctly rounded or
    # nearly), here two rounded products, and subexpressions may be summed in another order.

    @functools.cached_property
    def _batch_functions(self):
        res = self._residual_exprs()
        jac = [[sp.diff(r, w) for w in _PARAMS] for r in res]
        options = {"modules": "numpy", "printer": _ProductPowers, "cse": True}
        return (
            sp.lambdify(_PARAMS, [self._loss_expr, *self._grad_expr], **options),
            sp.lambdify(_PARAMS, res, **options),
            sp.lambdify(_PARAMS, [v for row in jac for v in row], **options),
        )

    def _thetas(self, thetas, who: str) -> np.ndarray:
        return _validate.array(
            thetas, "thetas", (None, self.size), finite=False, who=f"{self.name}.{who}"
        )

    def _batched(self, which: int, thetas, who: str) -> np.ndarray:
        """The batch function ``which`` on the rows of ``thetas``: a (k, outputs) array."""
        t = self._thetas(thetas, who)
        fn = self._batch_functions[which]
        k = t.shape[0]
        out = None
        with np.errstate(all="ignore"):
            for start in range(0, k, _BATCH_ROWS):
                rows = t[start : start + _BATCH_ROWS]
                values = fn(rows[:, 0], rows[:, 1])
                if out is None:
                    out = np.empty((k, len(values)))
                for j, v in enumerate(values):
                    out[start : start + len(rows), j] = v  # constants broadcast
        return out

    def value_and_grad_batch(self, thetas) -> tuple[np.ndarray, np.ndarray]:
        """Loss and gradient at each row of ``thetas`` ((k, size)).

        Returns ``losses`` (k,) and ``grads`` (k, size), float64, equal to
        :meth:`value_and_grad`'s to a few units in the last place (see the comment above).
        Rows with NaN or inf give non-finite results instead of an error (the one-point
        methods refuse them).
        """
        out = self._batched(0, thetas, "value_and_grad_batch")
        return out[:, 0].copy(), out[:, 1:].copy()

    def residuals_batch(self, thetas) -> np.ndarray:
        """:meth:`residuals` at each row of ``thetas`` ((k, size)), as a (k, m) array."""
        return self._batched(1, thetas, "residuals_batch")

    def jacobian_batch(self, thetas) -> np.ndarray:
        """:meth:`jacobian` at each row of ``thetas`` ((k, size)), as a (k, m, size) array."""
        out = self._batched(2, thetas, "jacobian_batch")
        return out.reshape(out.shape[0], self.n_residuals, self.size)

    # -- exact critical points -----------------------------------------------------------

    def critical_points(self) -> pd.DataFrame:
        """Every critical point in :attr:`box`, exactly (see the module docstring).

        Returns a DataFrame (a copy) with columns ``theta_0``, ``theta_1``, ``kind``
        (``"minimum"``, ``"saddle"``, ``"maximum"`` or ``"degenerate"``, from the Hessian),
        ``nature`` (``kind``, or for a degenerate point what higher-order terms make it),
        ``loss`` and ``hessian_eigenvalues`` (a tuple, ascending), sorted by loss.
        """
        return _critical_points(self.name).copy()

    def minima(self) -> pd.DataFrame:
        """The rows of :meth:`critical_points` whose ``nature`` is ``"minimum"``."""
        cps = self.critical_points()
        return cps[cps["nature"] == "minimum"].reset_index(drop=True)

    def _polynomial_system(self):
        """The gradient's numerators in the substituted variables, and the map back."""
        d = self._d
        zs = []
        back = []
        subs = {}
        for w, c in zip(_PARAMS, d.substitution, strict=True):
            if c is None:
                zs.append(w)
                back.append(lambda z: z)
            else:
                s = sp.Symbol(f"s_{w.name}", positive=True)
                zs.append(s)
                subs[w] = sp.log(s) / c
                back.append(lambda z, c=c: mpmath.log(z) / c)
        if subs:
            res = [
                sp.expand_log(sp.expand(r.rewrite(sp.exp).subs(subs)), force=True)
                for r in self._residual_exprs()
            ]
            res = [sp.powsimp(sp.simplify(r)) for r in res]
        else:
            res = self._residual_exprs()
        loss = sum(r**2 for r in res)
        eqs = []
        for z in zs:
            num, _den = sp.fraction(sp.together(sp.diff(loss, z)))
            eqs.append(sp.Poly(sp.expand(num), *zs))
        return zs, eqs, back


#: Rows per call of a batched function: the temporaries of one call stay in cache.
_BATCH_ROWS = 16384


class _ProductPowers(NumPyPrinter):
    """NumPy code with ``b**n`` for n = 2, 3, 4 written as ``b*b*...`` (fast on arrays)."""

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp.is_Integer and 2 <= int(exp) <= 4:
            b = f"({self._print(base)})"
            return "(" + "*".join([b] * int(exp)) + ")"
        return super()._print_Pow(expr, rational=rational)


def _real_candidates(zs, eqs):
    """Real solutions (as 60-digit mpmath tuples) of a zero-dimensional system in 2 variables."""
    z0, z1 = zs
    basis = sp.groebner([e.as_expr() for e in eqs], z0, z1, order="lex")
    if not basis.is_zero_dimensional:
        raise RuntimeError("the gradient system has a positive-dimensional solution set")
    polys = [sp.Poly(g, z0, z1) for g in basis.exprs]
    last = [p for p in polys if p.degree(z0) == 0]
    univariate = sp.Poly(last[0].as_expr(), z1)
    others = [p for p in polys if p.degree(z0) > 0]
    out = []
    with mpmath.workdps(60):
        for root in univariate.real_roots():
            r1 = mpmath.mpf(str(sp.N(root, 70)))
            subs = []
            for p in others:
                q = sp.Poly(p.as_expr().subs(z1, sp.Float(str(r1), 70)), z0)
                coeffs = [mpmath.mpf(str(sp.N(c, 70))) for c in q.all_coeffs()]
                subs.append(coeffs)
            tiny = mpmath.mpf(10) ** -40
            nonzero = []
            for co in subs:
                while co and abs(co[0]) < tiny:
                    co = co[1:]
                if co:
                    nonzero.append(co)
            if any(len(co) == 1 for co in nonzero):
                continue  # a non-zero constant: no common root
            if not nonzero:
                raise RuntimeError("a root of the eliminant leaves the other coordinate free")
            lead = min(nonzero, key=len)
            if len(lead) == 2:
                cands = [-lead[1] / lead[0]]
            else:
                try:
                    cands = mpmath.polyroots(lead, maxsteps=200, extraprec=200)
                except mpmath.libmp.NoConvergence:
                    cands = mpmath.polyroots(lead, maxsteps=5000, extraprec=1000)
            for c in cands:
                if abs(mpmath.im(c)) > mpmath.mpf(10) ** -20:
                    continue
                r0 = mpmath.re(c)
                scale = max(1, abs(r0))
                ok = all(
                    abs(mpmath.polyval(co, r0)) <= mpmath.mpf(10) ** -25 * scale ** (len(co))
                    for co in subs
                )
                if ok:
                    out.append((r0, r1))
    return out


def _classify(eigs, tol):
    if any(abs(e) <= tol for e in eigs):
        return "degenerate"
    if all(e > 0 for e in eigs):
        return "minimum"
    if all(e < 0 for e in eigs):
        return "maximum"
    return "saddle"


def _local_nature(net: Network, theta: np.ndarray) -> str:
    """Sign pattern of loss - loss(theta) on small circles around theta (degenerate points)."""
    f0 = net.loss(theta)
    signs = set()
    for radius in (1e-2, 3e-3, 1e-3):
        for a in np.linspace(0.0, 2 * np.pi, 64, endpoint=False):
            df = net.loss(theta + radius * np.array([np.cos(a), np.sin(a)])) - f0
            signs.add(np.sign(df) if abs(df) > 1e-14 * max(1.0, abs(f0)) else 0.0)
    if signs <= {1.0}:
        return "minimum"
    if signs <= {-1.0}:
        return "maximum"
    if {1.0, -1.0} <= signs:
        return "saddle"
    return "degenerate"


@functools.cache
def _critical_points(name: str) -> pd.DataFrame:
    net = get(name)
    zs, eqs, back = net._polynomial_system()
    rows = []
    seen = []
    with mpmath.workdps(60):
        for cand in _real_candidates(zs, eqs):
            if any(v <= 0 for v, c in zip(cand, net._d.substitution, strict=True) if c):
                continue
            w = [back[k](cand[k]) for k in range(2)]
            # Newton polish on the original gradient; kept only when it stays at the candidate
            # (near a singular Hessian Newton may fail or wander to another root)
            try:
                polished = list(
                    mpmath.findroot(
                        lambda a, b: net._mp_grad(a, b),
                        tuple(w),
                        J=lambda a, b: net._mp_hess(a, b),
                        tol=mpmath.mpf(10) ** -50,
                    )
                )
                if max(abs(p - q) for p, q in zip(polished, w, strict=True)) < 1e-8:
                    w = polished
            except (ValueError, ZeroDivisionError):
                pass
            g = net._mp_grad(*w)
            if max(abs(x) for x in g) > mpmath.mpf(10) ** -25:
                raise RuntimeError(f"{name}: a candidate critical point failed to verify: {w}")
            point = np.array([float(x) for x in w])
            if not all(
                lo - 1e-12 <= p <= hi + 1e-12 for p, (lo, hi) in zip(point, net.box, strict=True)
            ):
                continue
            if any(np.allclose(point, q, rtol=1e-10, atol=1e-12) for q in seen):
                continue
            seen.append(point)
            h = mpmath.matrix(net._mp_hess(*w))
            eigs = sorted(float(mpmath.re(e)) for e in mpmath.eig(h)[0])
            tol = 1e-9 * max(1.0, max(abs(e) for e in eigs))
            kind = _classify(eigs, tol)
            nature = kind if kind != "degenerate" else _local_nature(net, point)
            rows.append(
                {
                    "theta_0": point[0],
                    "theta_1": point[1],
                    "kind": kind,
                    "nature": nature,
                    "loss": net.loss(point),
                    "hessian_eigenvalues": tuple(eigs),
                }
            )
    cols = ["theta_0", "theta_1", "kind", "nature", "loss", "hessian_eigenvalues"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["loss", "theta_0", "theta_1"]).reset_index(drop=True)


# -- the registry ---------------------------------------------------------------------------

_DEFINITIONS: dict[str, _Definition] = {}


def _register(d: _Definition) -> None:
    _DEFINITIONS[d.name] = d


def names() -> list[str]:
    """The registered network names."""
    return list(_DEFINITIONS)


@functools.cache
def _build(name: str) -> Network:
    return Network(_DEFINITIONS[name])


def get(name: str) -> Network:
    """The network ``name`` (UnknownNameError with suggestions for an unknown name)."""
    _validate.lookup(name, names(), "network", hint="see toposcape.lab.networks.names()")
    return _build(name)


def describe() -> pd.DataFrame:
    """One row per network: name, covers, box, data size."""
    return pd.DataFrame(
        [
            {"name": d.name, "covers": d.covers, "box": d.box, "m": len(d.xs)}
            for d in _DEFINITIONS.values()
        ]
    )


_register(
    _Definition(
        name="two_depths",
        summary="""``f(x) = w2 * s(w1 x)`` with the cubic activation ``s(z) = z + z**2 + z**3/3``
        (one hidden unit), fitted to ``x = (-2, -1, 1, 2)``, ``y = (1, -1, 2, 1)``.

        Two isolated minima of different depths (loss 1.1509 near (0.513, 0.593) and 1.6664
        near (-1.275, 0.038)) and two
        saddles on the line ``w2 = 0`` (where the output is 0, loss 1.75). Outside the box a
        valley runs to infinity along ``w1 -> 0-``, ``w2 -> -inf`` with ``w1 w2 -> 0.3``, where
        the network becomes the least-squares line ``0.3 x``: its loss falls towards 1.525
        (1.538 at ``w1 = -0.01``), below the shallower minimum (no critical point there;
        runs that take it leave the box, see :func:`toposcape.lab.basins`).""",
        covers="isolated minima of different depths; saddles",
        model=lambda x, a, b: b * (a * x + (a * x) ** 2 + (a * x) ** 3 / 3),
        xs=(-2, -1, 1, 2),
        ys=(1, -1, 2, 1),
        box=((-3, 3), (-3, 3)),
        x0=(-1.5, 0.5),
    )
)

_register(
    _Definition(
        name="symmetric_squares",
        summary="""``f(x) = w1**2 x + w2**2 x**2`` (two units with squared weights) fitted to
        the teacher ``y = x + x**2`` at ``x = (1, 2)``.

        Loss ``= Q(w1**2 - 1, w2**2 - 1)`` with ``Q`` a positive definite quadratic form, so
        the critical points are ``w_i = 0`` or a vanishing partial derivative of ``Q``: four
        global minima ``(+-1, +-1)`` (loss 0, equal by the sign symmetry), four saddles
        (``w1 = 0``, ``w2 = +-sqrt(1 + 9/17)`` and ``w2 = 0``, ``w1 = +-sqrt(14/5)``) and a
        maximum at the origin (loss 20).""",
        covers="equivalent minima related by symmetry; saddles; a local maximum",
        model=lambda x, a, b: a**2 * x + b**2 * x**2,
        xs=(1, 2),
        ys=(2, 6),
        box=((-2, 2), (-2, 2)),
        x0=(0.3, 0.5),
    )
)

_register(
    _Definition(
        name="degenerate_gate",
        summary="""``f(x) = w1 x + (w2 x)**2`` (a linear skip connection and a quadratic unit
        with output weight 1) fitted to the teacher ``y = x`` at ``x = (-1, 1, 2)``.

        With ``u = w1 - 1``, ``v = w2**2`` the loss is a positive definite quadratic form in
        ``(u, v)`` (``x`` and ``x**2`` are independent on the data), so its only zero, and the
        only critical point, is ``(1, 0)``: a global minimum whose Hessian is singular (the
        loss grows like ``w2**4`` along ``w2``), so ``kind`` is ``"degenerate"`` and
        ``nature`` ``"minimum"``. Gradient methods converge to it only sublinearly in ``w2``.""",
        covers="an isolated minimum with a singular Hessian (quartic valley)",
        model=lambda x, a, b: a * x + (b * x) ** 2,
        xs=(-1, 1, 2),
        ys=(-1, 1, 2),
        box=((-3, 3), (-3, 3)),
        x0=(0.0, 1.0),
    )
)

_register(
    _Definition(
        name="exp_steep",
        summary="""``f(x) = w2 * exp(w1 x)`` (one unit with exponential activation) fitted to
        ``x = (-1, 0, 1, 2)``, ``y = (-3, -1, 2, 3)``.

        Two minima of different depths (loss 3.0554 near (1.374, 0.204) and 3.4034 near
        (-2.107, -0.370)) and a saddle near (-0.095, 0); gradients grow like
        ``exp(2 |w1| max|x|)``: |gradient| reaches about 3e6 at the edge ``w1 = 3`` of
        the box, and gradient descent with the fixed step 0.01 diverges from about a third of
        the box. Exact solve: ``s = exp(w1)`` makes the gradient
        rational in ``(s, w2)``.""",
        covers="steep (exponential) gradients; minima of different depths; a saddle",
        model=lambda x, a, b: b * sp.exp(a * x),
        xs=(-1, 0, 1, 2),
        ys=(-3, -1, 2, 3),
        box=((-3, 3), (-4, 4)),
        x0=(0.5, 0.5),
        substitution=(1, None),
    )
)

_register(
    _Definition(
        name="tanh_infinity",
        summary="""``f(x) = w2 * tanh(w1 x)`` (one tanh unit) fitted to ``y = sign(x)`` at
        ``x = (-2, -1, 1, 2)``.

        No finite minimum: the infimum 0 is approached only as ``|w1| -> inf`` with
        ``w2 -> sign(w1)`` (for fixed ``w1`` the best ``w2`` leaves a loss that decreases
        strictly to 0 with ``|w1|``). The only critical point in the box is the saddle at the
        origin (loss 1). Exact solve: ``s = exp(2 w1)`` makes the gradient rational.""",
        covers="infimum reached only at infinity (saturating activation); a saddle",
        model=lambda x, a, b: b * sp.tanh(a * x),
        xs=(-2, -1, 1, 2),
        ys=(-1, -1, 1, 1),
        box=((-3, 3), (-3, 3)),
        x0=(0.5, 0.5),
        substitution=(2, None),
        infimum_at_infinity="loss -> 0 as |w1| -> inf with w2 -> sign(w1)",
    )
)
