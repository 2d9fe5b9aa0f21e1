"""Structural physics on the structured grid: element, filter, volume sigmoid, FE solve, compliance.

A low-level API for people embedding the physics in their own TO codes:

- :func:`element_stiffness`, :func:`simp_modulus`: the element matrix and modified SIMP;
- :func:`assemble_stiffness`, :func:`solve_displacements`: one-call assembly and solve;
- :class:`Compliance`: assemble ``K(x)`` (:meth:`Compliance.stiffness_matrix`), solve
  (:meth:`Compliance.state`), compliance, gradient and exact Hessian-vector products;
- :func:`element_energies`, :func:`element_bilinear`, :func:`scatter_element_loads`: element
  kernels; :func:`compliance_sensitivities`;
- :class:`ConeFilter` (``F x`` and ``F^T g``), :class:`VolumeSigmoid` (forward, ``J v``,
  ``J^T g`` and the curvature term);
- :mod:`~toposcape.physics.solvers`: the sparse backends.
"""

from .compliance import (
    Compliance,
    FieldState,
    assemble_stiffness,
    compliance_sensitivities,
    solve_displacements,
)
from .element import E_0, E_MIN, element_stiffness, simp_modulus
from .filter import ConeFilter
from .kernels import element_bilinear, element_energies, scatter_element_loads
from .sigmoid import VolumeSigmoid, logit, sigmoid
from .solvers import available_solvers

__all__ = [
    "Compliance",
    "FieldState",
    "ConeFilter",
    "VolumeSigmoid",
    "E_0",
    "E_MIN",
    "assemble_stiffness",
    "available_solvers",
    "compliance_sensitivities",
    "element_bilinear",
    "element_energies",
    "element_stiffness",
    "logit",
    "scatter_element_loads",
    "sigmoid",
    "simp_modulus",
    "solve_displacements",
]
