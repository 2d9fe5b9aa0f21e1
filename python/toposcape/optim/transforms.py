"""Gradient transforms applied before the direction rule sees the gradient.

:class:`LandscapeModification` (studies.md section 2) replaces the gradient of the loss ``U``
by ``grad U / (f((U - c)_+) + eps)``. That is the gradient of a monotone transform ``F(U)`` of
the loss, so line searches stay consistent: the transform also maps values,

- ``f(t) = t``: ``F(U) = log(t + eps)`` (log-like flattening),
- ``f(t) = t^2``: ``F(U) = arctan(t / sqrt(eps)) / sqrt(eps)`` (arctan-like),

with ``t = U - c``, continued linearly (slope ``1/eps``) below ``c``. ``F`` is increasing, so
stationary points and the order of values are unchanged. ``c`` is a constant or the running
minimum of the loss at accepted iterates (updated after each accepted step).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .. import _validate

__all__ = ["GradientTransform", "LandscapeModification"]


class GradientTransform(ABC):
    """Base class: ``(F, G) = apply(f, g)``; ``accepted(f)`` after every accepted step."""

    name = "transform"

    def reset(self, f0: float) -> None:
        """Start of a run at loss ``f0`` (stateless transforms ignore it)."""
        return

    @abstractmethod
    def apply(self, f: float, g: np.ndarray) -> tuple[float, np.ndarray]:
        """Transformed value and gradient."""

    def accepted(self, f: float) -> None:
        """A step was accepted with loss ``f`` (stateless transforms ignore it)."""
        return


class LandscapeModification(GradientTransform):
    """``G = g / (f((U - c)_+) + eps)`` and the matching value transform ``F(U)``.

    Parameters
    ----------
    f : {"linear", "quadratic"}
        ``f(t) = t`` or ``f(t) = t^2``.
    eps : float
        Positive offset (1 by default).
    c : float or "running_min"
        The level below which nothing is modified.
    """

    name = "landscape_modification"

    def __init__(self, f: str = "linear", eps: float = 1.0, c: float | str = "running_min"):
        who = "LandscapeModification"
        self.f = _validate.option(f, "f", ("linear", "quadratic"), who=who)
        self.eps = _validate.real(eps, "eps", minimum=0.0, lower_open=True, who=who)
        if isinstance(c, str):
            c = _validate.option(c, "c", ("running_min",), who=who)
        else:
            c = _validate.real(c, "c (a level or 'running_min')", who=who)
        self.c = c
        self._level = float(c) if c != "running_min" else np.nan

    def __repr__(self) -> str:
        return f"LandscapeModification(f={self.f!r}, eps={self.eps}, c={self.c!r})"

    @property
    def level(self) -> float:
        """The current ``c``."""
        return self._level

    def reset(self, f0: float) -> None:
        if self.c == "running_min":
            self._level = float(f0)

    def accepted(self, f: float) -> None:
        if self.c == "running_min" and f < self._level:
            self._level = float(f)

    def scale(self, loss: float) -> float:
        """``1 / (f((U - c)_+) + eps)``: the factor applied to the gradient."""
        t = max(loss - self._level, 0.0)
        ft = t if self.f == "linear" else t * t
        return 1.0 / (ft + self.eps)

    def value(self, loss: float) -> float:
        """``F(U)``, increasing in ``U`` with ``F'(U)`` equal to :meth:`scale`."""
        t = loss - self._level
        if not np.isfinite(t):
            return float(t)
        if t <= 0:
            base = np.log(self.eps) if self.f == "linear" else 0.0
            return float(base + t / self.eps)
        if self.f == "linear":
            return float(np.log(t + self.eps))
        root = np.sqrt(self.eps)
        return float(np.arctan(t / root) / root)

    def apply(self, f: float, g: np.ndarray) -> tuple[float, np.ndarray]:
        if not np.isfinite(f):
            return float(f), g
        return self.value(f), g * self.scale(f)
