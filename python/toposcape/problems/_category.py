"""What the category functions share: argument checks, node arrays, naming, docstrings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidProblemError
from ._problem import Problem, _density, _size

_X, _Y = 0, 1


def _fraction(value: Any, name: str, who: str) -> None:
    """Check that ``value`` is a real number in [0, 1] (a relative position along an edge).

    The value itself is used as given (an int stays an int), as in the reference code.
    """
    _validate.real(value, name, minimum=0.0, maximum=1.0, who=who, error=InvalidProblemError)


def _flag(value: Any, name: str, who: str) -> bool:
    """``value`` as a bool (True/False only; anything else is a TypeError)."""
    return _validate.flag(value, name, who=who)


def _node_index(k: int, n: int, what: str) -> int:
    """Python-style index ``k`` into an axis of length ``n`` (negative wraps around)."""
    if not -n <= k < n:
        raise InvalidProblemError(
            f"{what} = {k} is outside the node axis of length {n} for these parameters"
        )
    return k % n


def _node_arrays(
    category: str, width: Any, height: Any, density: Any
) -> tuple[int, int, float, Any, Any]:
    """Checked ``(W, H, density)`` and zeroed ``(W+1, H+1, 2)`` support and load arrays."""
    w = _size(width, "width", category)
    h = _size(height, "height", category)
    d = _density(density, category)
    shape = (w + 1, h + 1, 2)
    return w, h, d, np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.float64)


def _make(category: str, w: int, h: int, d: float, fixed, forces, mask, name) -> Problem:
    if name is None:
        name = f"{category}_{w}x{h}_{d}"
    return Problem(
        w, h, d, np.flatnonzero(fixed.reshape(-1)), forces.reshape(-1), mask=mask, name=name
    )


_COMMON_PARAMS = """width, height : int
        Number of elements along x and y.
    density : float
        Target volume fraction in (0, 1)."""

_RETURNS = """Returns
    -------
    Problem
        Named ``f"{category}_{W}x{H}_{density}"`` unless ``name`` is given."""


def _doc(func: Callable) -> Callable:
    if func.__doc__:  # None under python -OO
        doc = func.__doc__.replace("{common}", _COMMON_PARAMS)
        func.__doc__ = doc.replace("{returns}", _RETURNS)
    return func
