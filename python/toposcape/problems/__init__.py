"""2D compliance problems on a structured grid, and the 116-problem benchmark suite.

The suite is the one of Hoyer, Sohl-Dickstein and Greydanus, "Neural reparameterization
improves structural optimization" (2019). Every instance is built by a parameterized
category function (so any size can be made), and :func:`get` / :func:`names` expose the
116 named instances.

Conventions
-----------
- The domain is ``W x H`` unit-square elements: ``W = width`` along x, ``H = height`` along y.
- Nodes are indexed ``(i, j)`` with ``i in [0, W]`` along x and ``j in [0, H]`` along y;
  ``j = 0`` is the **top** edge and ``j = H`` the **bottom** edge.
- Node arrays have shape ``(W+1, H+1, 2)``; the last axis is the displacement component
  (``0`` = x, ``1`` = y). Flattening is C order, so the degree of freedom (DOF) of
  ``(i, j, d)`` is ``2*(i*(H+1) + j) + d`` (the numbering of the classic 88-line MATLAB code).
- Element densities and the design mask have shape ``(H, W)``: row = y, column = x.
- Loads are nodal forces in units of the (unit) Young's modulus times the unit element
  edge length; they only matter up to scale for compliance comparisons.
- "round" is Python's built-in :func:`round` (ties go to even), and negative node indices
  wrap around as in Python, exactly as in the reference implementation.
- A problem's name is ``f"{category}_{W}x{H}_{density}"`` with Python's float repr; suite
  variants use their own category label (e.g. ``"l_shape_0.2"``, ``"causeway_bridge_top"``).

Layout
------
``_problem`` (the :class:`Problem` class and its validation), ``_raster`` (anti-aliased line
and circle, for drawn loads), ``_category`` (what the category functions share), the category
functions by family (``_beams``, ``_buildings``, ``_bridges``, ``_loads``) and ``_suite``
(the 116 named instances). Everything public is re-exported here.
"""

from ._beams import (
    cantilever_beam_full,
    cantilever_beam_two_point,
    ground_structure,
    mbb_beam,
    michell_centered_below,
    michell_centered_both,
    pure_bending_moment,
)
from ._bridges import (
    canyon_bridge,
    causeway_bridge,
    drawbridge,
    suspended_bridge,
    thin_support_bridge,
    two_level_bridge,
)
from ._buildings import center_support, column, crane, l_shape, roof, tower
from ._loads import dam, hoop, multistory_building, ramp, staggered_points, staircase
from ._problem import Problem
from ._suite import categories, get, names, suite

__all__ = [
    "Problem",
    "names",
    "get",
    "suite",
    "categories",
    "mbb_beam",
    "cantilever_beam_full",
    "cantilever_beam_two_point",
    "pure_bending_moment",
    "ground_structure",
    "michell_centered_both",
    "michell_centered_below",
    "l_shape",
    "crane",
    "tower",
    "center_support",
    "column",
    "roof",
    "causeway_bridge",
    "two_level_bridge",
    "suspended_bridge",
    "canyon_bridge",
    "thin_support_bridge",
    "drawbridge",
    "hoop",
    "dam",
    "ramp",
    "staircase",
    "staggered_points",
    "multistory_building",
]
