"""The element: bilinear 4-node square, plane stress, unit thickness, and modified SIMP."""

from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import InvalidInputError

__all__ = ["element_stiffness", "simp_modulus", "E_MIN", "E_0"]

#: Young's modulus of void (keeps K non-singular) and of solid material.
E_MIN = 1e-9
E_0 = 1.0


def element_stiffness(young: float = 1.0, poisson: float = 0.3) -> np.ndarray:
    """Stiffness matrix ``KE`` of a unit square bilinear element (the 88-line code's).

    Parameters
    ----------
    young : float
        Young's modulus, > 0.
    poisson : float
        Poisson's ratio, in (-1, 0.5).

    Returns
    -------
    ndarray (8, 8) float64
        Symmetric, positive semi-definite with the three rigid-body modes as null space. Local
        DOF order: x and y of nodes n1 (top-left), n2 (top-right), n3 (bottom-right),
        n4 (bottom-left), in the numbering of :mod:`toposcape.problems`.
    """
    who = "element_stiffness"
    young = _validate.real(young, "young", minimum=0.0, lower_open=True, who=who)
    if isinstance(poisson, (bool, np.bool_)) or not isinstance(
        poisson, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{who}: Poisson's ratio must be a real number, got {_validate.given(poisson)}"
        )
    poisson = float(poisson)
    if not -1.0 < poisson < 0.5:
        raise InvalidInputError(f"Poisson's ratio must lie in (-1, 0.5), got {poisson}")
    nu = poisson
    k = np.array(
        [
            1 / 2 - nu / 6,
            1 / 8 + nu / 8,
            -1 / 4 - nu / 12,
            -1 / 8 + 3 * nu / 8,
            -1 / 4 + nu / 12,
            -1 / 8 - nu / 8,
            nu / 6,
            1 / 8 - 3 * nu / 8,
        ]
    )
    index = np.array(
        [
            [0, 1, 2, 3, 4, 5, 6, 7],
            [1, 0, 7, 6, 5, 4, 3, 2],
            [2, 7, 0, 5, 6, 3, 4, 1],
            [3, 6, 5, 0, 7, 2, 1, 4],
            [4, 5, 6, 7, 0, 1, 2, 3],
            [5, 4, 3, 2, 1, 0, 7, 6],
            [6, 3, 4, 1, 2, 7, 0, 5],
            [7, 2, 1, 4, 3, 6, 5, 0],
        ]
    )
    with np.errstate(over="ignore"):
        ke = young / (1 - nu**2) * k[index]
    if not np.all(np.isfinite(ke)):
        raise InvalidInputError(
            f"{who}: young = {young:g} with Poisson's ratio {nu:g} overflows the element matrix"
        )
    return ke


def simp_modulus(
    x: np.ndarray, penal: float, e_min: float = E_MIN, e_0: float = E_0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Modified SIMP ``E(x) = e_min + x**p (e_0 - e_min)`` and its first two derivatives.

    Parameters
    ----------
    x : ndarray
        Physical densities (any shape, not empty), finite and >= 0.
    penal : float
        Penalty ``p`` >= 1.
    e_min, e_0 : float
        Moduli of void and solid, ``0 <= e_min <= e_0``, finite.

    Returns
    -------
    E, dE, d2E : ndarray, same shape as ``x``
        ``E(x)``, ``E'(x) = p x**(p-1) (e_0 - e_min)`` and
        ``E''(x) = p (p-1) x**(p-2) (e_0 - e_min)`` (exactly 0 for ``p = 1``, also at ``x = 0``).
    """
    who = "simp_modulus"
    x = _validate.array(x, "x", who=who).reshape(np.shape(x))  # (0-d stays 0-d)
    p = _validate.real(penal, "penal", minimum=1.0, who=who)
    e_min = _validate.real(e_min, "e_min", minimum=0.0, who=who)
    e_0 = _validate.real(e_0, "e_0", minimum=e_min, who=who)
    if x.min() < 0.0:
        raise InvalidInputError(f"{who}: x has negative densities (min {x.min():g})")
    scale = e_0 - e_min
    with np.errstate(over="ignore"):
        E = e_min + scale * x**p
        dE = (p * scale) * x ** (p - 1.0)
    if not (np.all(np.isfinite(E)) and np.all(np.isfinite(dE))):
        raise InvalidInputError(
            f"{who}: E(x) overflows: densities up to {x.max():g} with penal {p:g}"
        )
    if p == 1.0:
        d2E = np.zeros_like(x)
    elif p == 2.0:
        d2E = np.full_like(x, 2.0 * scale)
    else:
        with np.errstate(divide="ignore"):
            d2E = (p * (p - 1.0) * scale) * x ** (p - 2.0)
    return E, dE, d2E
