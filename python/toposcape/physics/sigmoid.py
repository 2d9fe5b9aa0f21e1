"""The volume-constrained sigmoid: logits ``z`` to densities with a prescribed mean.

``x_i = s(z_i + b)`` on designable cells (0 elsewhere) with ``s(t) = 1/(1 + e^-t)`` evaluated as
``0.5 tanh(t/2) + 0.5``, and the scalar shift ``b(z)`` solving ``mean_i s(z_i + b) = density``
over the designable cells. With ``t = z + b``, ``s' = s(1-s)``, ``s'' = s'(1-2s)`` and
``S1 = sum_k s'_k``, the implicit function theorem gives ``db/dz_i = -s'_i / S1``, so

- Jacobian: ``J v = s' * (v - (s'.v)/S1)``,
- transpose: ``J^T g = s' * g - s' (s'.g)/S1`` (J is symmetric),
- second-order term of a Hessian-vector product with the gradient ``g`` (w.r.t. x) held fixed,
  along ``delta = v - (s'.v)/S1`` (the change of ``t``):
  ``D(J^T g)[v] = q*g - q (s'.g)/S1 - s' (q.g)/S1 + s' (s'.g) sum(q)/S1^2`` with ``q = s''*delta``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core, _validate
from ..errors import InvalidInputError
from .filter import design_mask

__all__ = ["VolumeSigmoid", "sigmoid", "logit"]


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * t) + 0.5


def sigmoid(t: Any) -> np.ndarray:
    """Logistic function ``0.5 tanh(t/2) + 0.5`` (no overflow for large ``|t|``).

    ``t``: a real number or array of any shape (``+-inf`` give 1 and 0, NaN stays NaN);
    complex, boolean, object and string input raise TypeError.
    """
    if isinstance(t, np.ndarray) and t.size == 0 and t.dtype.kind in "iuf":
        return np.zeros(t.shape)
    if isinstance(t, (list, tuple)) and len(t) == 0:
        return np.zeros(0)
    arr = _validate.array(t, "t", finite=False, who="sigmoid")
    return _sigmoid(arr.reshape(np.shape(t)))  # (the layer returns 0-d input as 1-d)


def logit(p: float) -> float:
    """Inverse of :func:`sigmoid`: ``log(p / (1 - p))`` for a real ``p`` in [0, 1] (+-inf at the
    ends)."""
    p = _validate.real(p, "p", minimum=0.0, maximum=1.0, who="logit")
    with np.errstate(divide="ignore"):
        return float(np.log(p) - np.log1p(-p))


class VolumeSigmoid:
    """Volume-constrained sigmoid on a masked ``(H, W)`` grid.

    Parameters
    ----------
    mask : array_like of bool, shape (H, W)
        Designable cells; the mean is taken over them and the output is 0 elsewhere.
    density : float
        Target mean density, in (0, 1).

    Examples
    --------
    >>> vs = VolumeSigmoid(np.ones((4, 4), bool), 0.3)
    >>> state = vs.forward(np.random.default_rng(0).normal(size=(4, 4)))
    >>> round(float(state.x.mean()), 12)
    0.3
    """

    #: Convergence tolerance of the shift ``b`` (absolute, in logit units).
    tol = 1e-14

    def __init__(self, mask: np.ndarray, density: float) -> None:
        who = "VolumeSigmoid"
        mask = design_mask(mask, who)
        if not mask.any():
            raise InvalidInputError(f"{who}: mask has no designable cell")
        if isinstance(density, (bool, np.bool_)) or not isinstance(
            density, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"{who}: density must be a real number, got {_validate.given(density)}")
        density = float(density)
        if not (np.isfinite(density) and 0.0 < density < 1.0):
            raise InvalidInputError(
                f"{who}: density must lie strictly inside (0, 1), got {density}"
            )
        self.mask = mask
        self.shape = mask.shape
        self.density = float(density)
        self._index = np.flatnonzero(mask.ravel())

    def _designable(self, z: np.ndarray, name: str = "z") -> np.ndarray:
        z = _validate.array(z, name, finite=False, who="VolumeSigmoid")
        if z.shape != self.shape:
            raise InvalidInputError(
                f"VolumeSigmoid: {name} must have shape {self.shape}, got {z.shape}"
            )
        zd = z.ravel()[self._index]
        if not np.all(np.isfinite(zd)):
            what = "logits" if name == "z" else name
            raise InvalidInputError(f"VolumeSigmoid: {what} contain NaN or inf")
        return zd

    def shift(self, zd: np.ndarray) -> float:
        """The shift ``b`` for the designable logits ``zd`` (safeguarded Newton, to ~1e-14)."""
        target = self.density * zd.size
        lo = logit(self.density) - float(zd.max())
        hi = logit(self.density) - float(zd.min())
        b = 0.5 * (lo + hi)
        for _ in range(200):
            s = _sigmoid(zd + b)
            residual = float(s.sum()) - target
            if residual == 0.0:
                return b
            if residual > 0:
                hi = b
            else:
                lo = b
            slope = float((s * (1.0 - s)).sum())
            step = residual / slope if slope > 0 else np.inf
            candidate = b - step
            if not lo < candidate < hi:  # Newton left the bracket: bisect instead
                candidate = 0.5 * (lo + hi)
            if abs(candidate - b) <= self.tol * max(1.0, abs(b)) or hi - lo <= self.tol:
                return candidate
            b = candidate
        return b

    def forward(self, z: np.ndarray) -> SigmoidState:
        """Densities for logits ``z`` (H, W), with what the derivatives need."""
        zd = self._designable(z)
        b = self.shift(zd)
        s = _sigmoid(zd + b)
        mean = float(s.mean())
        if abs(mean - self.density) > 1e-9:
            raise InvalidInputError(
                f"the volume constraint cannot be met in floating point: the logits are too "
                f"large in magnitude (max |z| = {np.abs(zd).max():.3g}; mean density "
                f"{mean:.6g} instead of {self.density:g})"
            )
        return SigmoidState(self, b, s)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Densities ``x`` (H, W) for logits ``z`` (H, W)."""
        return self.forward(z).x

    def _scatter(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.mask.size)
        out[self._index] = values
        return out.reshape(self.shape)


class SigmoidState:
    """The volume sigmoid evaluated at one ``z``: densities and first/second derivatives.

    Attributes
    ----------
    b : float
        The shift.
    x : ndarray (H, W)
        Densities (0 outside the mask).
    """

    def __init__(self, owner: VolumeSigmoid, b: float, s: np.ndarray) -> None:
        self._owner = owner
        self.b = b
        self._s = s
        self._ds = s * (1.0 - s)
        self._d2s = self._ds * (1.0 - 2.0 * s)
        self._S1 = float(self._ds.sum())
        self.x = owner._scatter(s)

    def _project(self, v: np.ndarray) -> np.ndarray:
        # Change of t = z + b along v: delta = v + (db/dz . v). With every cell saturated
        # (S1 = 0) all derivatives vanish, and s' = 0 makes every caller's result 0.
        if self._S1 == 0.0:
            return np.zeros_like(v)
        return v - _core.dot(self._ds, v) / self._S1

    def jvp(self, v: np.ndarray) -> np.ndarray:
        """``J v``: change of the densities along a logit direction ``v`` (H, W)."""
        vd = self._owner._designable(v, "v")
        return self._owner._scatter(self._ds * self._project(vd))

    def vjp(self, g: np.ndarray) -> np.ndarray:
        """``J^T g``: gradient with respect to the logits from one with respect to x, (H, W)."""
        gd = self._owner._designable(g, "g")
        return self._owner._scatter(self._ds * self._project(gd))

    def second_order(self, g: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``sum_i g_i (d^2 x_i / dz^2) v``: the curvature term of an HVP, (H, W)."""
        gd = self._owner._designable(g, "g")
        vd = self._owner._designable(v, "v")
        ds, S1 = self._ds, self._S1
        if S1 == 0.0:
            return self._owner._scatter(np.zeros_like(gd))
        q = self._d2s * self._project(vd)
        sg = _core.dot(ds, gd)
        qg = _core.dot(q, gd)
        term = q * gd - q * (sg / S1) - ds * (qg / S1) + ds * (sg * float(q.sum()) / S1**2)
        return self._owner._scatter(term)
