"""The cone density filter ``x_phys = F x`` and its adjoint."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _core
from ..errors import InvalidInputError

__all__ = ["ConeFilter"]


class ConeFilter:
    """Normalised cone filter of radius ``radius`` on an ``(H, W)`` grid with a design mask.

    ``F = diag(1/s) R`` with ``R_ij = max(0, radius - |c_i - c_j|)`` for designable cells ``i``
    and every cell ``j`` of the grid (rows of non-designable cells are empty, so their
    filtered density is 0), and ``s_i = sum_k R_ki`` the column sum. For a full mask ``R`` is
    symmetric and ``F`` is the usual density filter; with a mask the column-sum normalisation
    reproduces the benchmark's reference (rows need not sum to 1, and filtered densities next
    to the mask can exceed the densities they average).

    Parameters
    ----------
    mask : array_like of bool, shape (H, W)
        Designable cells.
    radius : float
        Filter radius in elements (the benchmark uses 2).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix (H*W, H*W)
        ``F`` over cells numbered in C order of ``(H, W)``.
    """

    def __init__(self, mask: np.ndarray, radius: float = 2.0) -> None:
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise InvalidInputError(f"mask must be 2-D (H, W), got shape {mask.shape}")
        if not np.isfinite(radius) or radius <= 0:
            raise InvalidInputError(f"filter radius must be positive and finite, got {radius}")
        self.shape = mask.shape
        self.radius = float(radius)
        indptr, indices, data = _core.cone_filter(mask.astype(np.uint8), self.radius)
        n = mask.size
        self.matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n))
        self._transpose = self.matrix.T.tocsr()

    def _flat(self, x: np.ndarray, name: str) -> np.ndarray:
        if np.iscomplexobj(x):
            raise InvalidInputError(f"{name} must be real, got complex values")
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self.shape:
            raise InvalidInputError(f"{name} must have shape {self.shape}, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InvalidInputError(f"{name} contains NaN or inf")
        return x.ravel()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filtered field ``F x``; ``x`` and the result have shape (H, W)."""
        return (self.matrix @ self._flat(x, "x")).reshape(self.shape)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """``F^T g`` (pulls a gradient with respect to the output back to the input), (H, W)."""
        return (self._transpose @ self._flat(g, "g")).reshape(self.shape)
