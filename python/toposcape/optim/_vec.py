"""Vector reductions for the optimizer loop, single-threaded in the core.

NumPy sends dot products of long vectors to the threaded BLAS, whose thread pool then competes
with torch's and the sparse solver's on small machines; the loop's reductions are memory-bound
anyway, so one thread loses nothing.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core


def dot(a: np.ndarray, b: np.ndarray) -> float:
    return _core.dot(a, b)


def norm(a: np.ndarray) -> float:
    return math.sqrt(_core.dot(a, a))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b||`` without forming ``a - b``."""
    return _core.distance(a, b)
