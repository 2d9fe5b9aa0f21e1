"""Element-level kernels (numba): too small per element to justify a trip through the bindings.

All kernels work on full-length DOF vectors (``2 (W+1) (H+1)`` entries, fixed DOFs included)
and on elements numbered in C order of the ``(H, W)`` density array, with the element DOFs of
the 88-line code computed on the fly (no edof table in memory).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .. import _validate
from ..errors import InvalidInputError

__all__ = ["element_energies", "element_bilinear", "scatter_element_loads"]


@nb.njit(inline="always")
def _element_dofs(height: int, ey: int, ex: int, out: np.ndarray) -> None:
    n1 = (height + 1) * ex + ey
    n2 = (height + 1) * (ex + 1) + ey
    out[0] = 2 * n1
    out[1] = 2 * n1 + 1
    out[2] = 2 * n2
    out[3] = 2 * n2 + 1
    out[4] = 2 * n2 + 2
    out[5] = 2 * n2 + 3
    out[6] = 2 * n1 + 2
    out[7] = 2 * n1 + 3


@nb.njit(parallel=True, cache=True, fastmath=False)
def _bilinear(ke, u, w, height, width, out):
    for ey in nb.prange(height):
        dofs = np.empty(8, dtype=np.int64)
        ue = np.empty(8)
        we = np.empty(8)
        for ex in range(width):
            _element_dofs(height, ey, ex, dofs)
            for a in range(8):
                ue[a] = u[dofs[a]]
                we[a] = w[dofs[a]]
            acc = 0.0
            for a in range(8):
                row = 0.0
                for b in range(8):
                    row += ke[a, b] * we[b]
                acc += ue[a] * row
            out[ey, ex] = acc


@nb.njit(cache=True)
def _scatter_loads(ke, u, coeff, height, width, out):
    # Serial: neighbouring elements share DOFs, and the work is a few flops per entry.
    dofs = np.empty(8, dtype=np.int64)
    ue = np.empty(8)
    for ey in range(height):
        for ex in range(width):
            c = coeff[ey, ex]
            if c == 0.0:
                continue
            _element_dofs(height, ey, ex, dofs)
            for a in range(8):
                ue[a] = u[dofs[a]]
            for a in range(8):
                row = 0.0
                for b in range(8):
                    row += ke[a, b] * ue[b]
                out[dofs[a]] += c * row


def _check_overflow(out: np.ndarray, who: str) -> None:
    # finite input (checked) can still overflow: report it rather than return inf or NaN
    if not np.isfinite(out.sum()) and not np.all(np.isfinite(out)):
        raise InvalidInputError(f"{who}: the result overflows (input values too large)")


def _grid(height, width, who: str) -> tuple[int, int]:
    height = _validate.integer(height, "height", minimum=1, who=who)
    width = _validate.integer(width, "width", minimum=1, who=who)
    return height, width


def _element_matrix(ke, who: str) -> np.ndarray:
    ke = _validate.array(ke, "element matrix", who=who)
    if ke.shape != (8, 8):
        raise InvalidInputError(f"{who}: element matrix must have shape (8, 8), got {ke.shape}")
    return ke


def _dofs(vec, height: int, width: int, name: str, who: str) -> np.ndarray:
    n_dofs = 2 * (width + 1) * (height + 1)
    vec = _validate.array(vec, name, who=who)
    if vec.shape != (n_dofs,):
        raise InvalidInputError(f"{who}: {name} must have shape ({n_dofs},), got {vec.shape}")
    return vec


def element_bilinear(
    ke: np.ndarray, u: np.ndarray, w: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Element bilinear forms ``u_e^T KE w_e`` for every element.

    Parameters
    ----------
    ke : ndarray (8, 8)
        Element stiffness matrix (unit modulus).
    u, w : ndarray (2 (W+1) (H+1),)
        Full DOF vectors.
    height, width : int
        Grid size in elements.

    Returns
    -------
    ndarray (H, W) float64
    """
    who = "element_bilinear"
    height, width = _grid(height, width, who)
    ke = _element_matrix(ke, who)
    same = w is u
    u = _dofs(u, height, width, "u", who)
    w = u if same else _dofs(w, height, width, "w", who)
    out = np.empty((height, width))
    _bilinear(ke, u, w, height, width, out)
    _check_overflow(out, who)
    return out


def element_energies(ke: np.ndarray, u: np.ndarray, height: int, width: int) -> np.ndarray:
    """Element strain-energy densities ``u_e^T KE u_e`` (twice the strain energy at unit modulus).

    Parameters
    ----------
    ke : ndarray (8, 8)
        Element stiffness matrix (unit modulus).
    u : ndarray (2 (W+1) (H+1),)
        Full displacement vector (zeros at fixed DOFs).
    height, width : int
        Grid size in elements.

    Returns
    -------
    ndarray (H, W) float64
    """
    return element_bilinear(ke, u, u, height, width)


def scatter_element_loads(
    ke: np.ndarray, u: np.ndarray, coeff: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Global vector ``sum_e coeff_e KE u_e`` (element force vectors scattered to the DOFs).

    Parameters
    ----------
    ke : ndarray (8, 8)
    u : ndarray (2 (W+1) (H+1),)
        Full DOF vector.
    coeff : ndarray (H, W)
        Per-element weights.
    height, width : int

    Returns
    -------
    ndarray (2 (W+1) (H+1),) float64
    """
    who = "scatter_element_loads"
    height, width = _grid(height, width, who)
    ke = _element_matrix(ke, who)
    u = _dofs(u, height, width, "u", who)
    coeff = _validate.array(coeff, "coeff", who=who)
    if coeff.shape != (height, width):
        raise InvalidInputError(
            f"{who}: coeff must have shape ({height}, {width}), got {coeff.shape}"
        )
    out = np.zeros_like(u)
    _scatter_loads(ke, u, coeff, height, width, out)
    _check_overflow(out, who)
    return out
