"""The cone density filter ``x_phys = F x`` and its adjoint."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _core, _validate
from ..errors import InsufficientMemoryError, InvalidInputError

__all__ = ["ConeFilter"]

#: Bytes per stored entry while a filter is built (values and indices, the copy handed to
#: SciPy, the transpose): what the memory check before building assumes.
BYTES_PER_ENTRY = 48


def design_mask(mask: Any, who: str | None = None, name: str = "mask") -> np.ndarray:
    """``mask`` as a C-contiguous 2-D bool array (booleans, or numbers that are all 0 or 1).

    Raises TypeError for complex, object or string arrays and non-arrays, InvalidInputError for
    a shape that is not 2-D, an empty mask, or values other than 0 and 1 (NaN included).
    """
    prefix = f"{who}: " if who else ""
    if mask is None or isinstance(mask, (str, bytes)):
        raise TypeError(
            f"{prefix}{name} must be a 2-D array of booleans, got {_validate.given(mask)}"
        )
    try:
        arr = np.asarray(mask)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise TypeError(f"{prefix}{name} must be a 2-D array of booleans ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{prefix}{name} must be a 2-D array of booleans, got {_validate.given(arr)}"
        )
    if arr.ndim != 2:
        raise InvalidInputError(f"{prefix}{name} must be 2-D (H, W), got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidInputError(f"{prefix}{name} must not be empty, got shape {arr.shape}")
    if arr.dtype.kind != "b":
        if not np.all((arr == 0) | (arr == 1)):
            raise InvalidInputError(
                f"{prefix}{name} must hold booleans (or only 0 and 1), got values such as "
                f"{arr[(arr != 0) & (arr != 1)].flat[0]!r}"
            )
        arr = arr != 0
    return np.ascontiguousarray(arr, dtype=bool)


def _offsets_bound(radius: float) -> float:
    """More than the number of integer offsets (dy, dx) strictly inside ``radius``."""
    return math.pi * min(radius + 1.5, 1e100) ** 2  # (no overflow for radii near 1e308)


def _cone_filter_csr(mask: np.ndarray, radius: float):
    """``(indptr, indices, data)`` of the filter: the core's stencil, or the offsets in the grid.

    The core loops over the square stencil of side ``2 ceil(radius) + 1`` and reserves room
    for a full stencil per cell; a radius beyond the grid would make that loop and reservation
    huge for no entry (at 1e5 a std::bad_alloc, at 1e9 a practical hang, past 2**63 an
    overflow). Such radii take the offsets inside the grid instead, in NumPy, with the weights
    divided by the radius (``F`` does not change: each row is normalised; no overflow at 1e308).
    A filter whose entries cannot fit in the available memory raises InsufficientMemoryError
    before anything is allocated.
    """
    from .solvers import available_memory

    height, width = mask.shape
    n = height * width
    n_design = int(np.count_nonzero(mask))
    stencil = _offsets_bound(radius)
    entries = n_design * min(n, stencil)  # at least the filter's nnz
    available = available_memory()
    if available is not None and entries * BYTES_PER_ENTRY > available:
        raise InsufficientMemoryError(
            f"ConeFilter: a filter of radius {radius:g} on a {height} x {width} grid holds up to "
            f"{entries:.3g} entries, about {entries * BYTES_PER_ENTRY / 2**30:.3g} GiB to build, "
            f"more than the {available / 2**30:.3g} GiB available",
            estimate=int(min(entries * BYTES_PER_ENTRY, 2**62)),
            available=available,
        )
    # the core reserves n * stencil entries: use it while that is not far above the filter
    if radius <= max(height, width) and n * stencil <= 4 * entries + 2**20:
        return _core.cone_filter(mask.view(np.uint8), radius)
    dy, dx = np.meshgrid(
        np.arange(-(height - 1), height), np.arange(-(width - 1), width), indexing="ij"
    )
    weight = 1.0 - np.sqrt((dy * dy + dx * dx).astype(np.float64)) / radius
    keep = weight > 0.0
    dy, dx, weight = dy[keep], dx[keep], weight[keep]  # (dy, dx) order: sorted columns
    ys, xs = np.nonzero(mask)
    rows_list, cols_list, data_list = [], [], []
    for oy, ox, w in zip(dy.tolist(), dx.tolist(), weight.tolist(), strict=True):
        yy, xx = ys + oy, xs + ox
        inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        rows_list.append(ys[inside] * width + xs[inside])
        cols_list.append(yy[inside] * width + xx[inside])
        data_list.append(np.full(int(np.count_nonzero(inside)), w))
    rows = np.concatenate(rows_list)
    cols = np.concatenate(cols_list)
    data = np.concatenate(data_list)
    column_sum = np.bincount(cols, weights=data, minlength=n)
    data = data / column_sum[rows]
    R = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
    R.sort_indices()
    return R.indptr.astype(np.int64), R.indices.astype(np.int32), R.data


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
        Designable cells (booleans, or numbers that are all 0 or 1).
    radius : float
        Filter radius in elements (the benchmark uses 2), positive and finite. A radius beyond
        the grid is allowed (the filter then averages over the whole grid); a filter too large
        for the available memory raises :class:`~toposcape.errors.InsufficientMemoryError`.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix (H*W, H*W)
        ``F`` over cells numbered in C order of ``(H, W)``.
    """

    def __init__(self, mask: np.ndarray, radius: float = 2.0) -> None:
        who = "ConeFilter"
        mask = design_mask(mask, who)
        radius = _validate.real(radius, "filter radius", minimum=0.0, lower_open=True, who=who)
        self.shape = mask.shape
        self.radius = radius
        indptr, indices, data = _cone_filter_csr(mask, radius)
        n = mask.size
        self.matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n))
        self._transpose = self.matrix.T.tocsr()

    def _flat(self, x: np.ndarray, name: str) -> np.ndarray:
        x = _validate.array(x, name, who="ConeFilter")
        if x.shape != self.shape:
            raise InvalidInputError(
                f"ConeFilter: {name} must have shape {self.shape}, got {x.shape}"
            )
        return x.ravel()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filtered field ``F x``; ``x`` and the result have shape (H, W)."""
        return (self.matrix @ self._flat(x, "x")).reshape(self.shape)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """``F^T g`` (pulls a gradient with respect to the output back to the input), (H, W)."""
        return (self._transpose @ self._flat(g, "g")).reshape(self.shape)
