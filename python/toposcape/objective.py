"""The Objective protocol every optimizer and landscape tool works against."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Objective", "SecondOrderObjective"]


@runtime_checkable
class Objective(Protocol):
    """A scalar function of a flat float64 parameter vector ``theta`` of length :attr:`size`."""

    size: int

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss (float) and gradient (``(size,)`` float64) at ``theta``."""
        ...


@runtime_checkable
class SecondOrderObjective(Objective, Protocol):
    """An :class:`Objective` that also provides exact Hessian-vector products."""

    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``H(theta) v`` as a ``(size,)`` float64 array."""
        ...
