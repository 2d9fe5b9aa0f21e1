"""Vector reductions for the optimizer loop, in the core.

The core threads them over its own OpenMP threads for long vectors (serial below 131,072
entries, so the pixel model's runs keep their arithmetic): one pass per call, memory-bound, and
one core of these machines draws half the bandwidth two do. NumPy would send them to its
threaded BLAS, whose separate thread pool then competes with torch's and the sparse solver's.
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
