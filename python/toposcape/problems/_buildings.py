"""L-shape, crane, tower, center support, column and roof: masked domains and structures
standing on (or hanging from) an edge."""

from __future__ import annotations

import numpy as np

from ._category import _X, _Y, _doc, _fraction, _make, _node_arrays, _node_index
from ._problem import Problem

__all__ = ["l_shape", "crane", "tower", "center_support", "column", "roof"]


@_doc
def l_shape(
    width: int,
    height: int,
    density: float,
    aspect: float = 0.4,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """L-shaped design domain hanging from the top edge, loaded at the arm's tip.

    Nodes ``i < round(aspect*W)`` on ``j=0`` fixed in x and y; force -1 in y at
    ``(W, round((1-aspect*force_position)*H))``. The mask is built as ``m`` of shape
    ``(W, H)`` with ``m[round(H*aspect):, :round(W*(1-aspect))] = 0`` and transposed.

    Parameters
    ----------
    {common}
    aspect : float, default 0.4
        Relative thickness of the L's arms.
    force_position : float, default 0.5
        Position of the load across the horizontal arm.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("l_shape", width, height, density)
    _fraction(aspect, "aspect", "l_shape")
    _fraction(force_position, "force_position", "l_shape")
    fixed[: round(aspect * w), 0, :] = True
    forces[-1, round((1 - aspect * force_position) * h), _Y] = -1
    m = np.ones((w, h), dtype=bool)
    m[round(h * aspect) :, : round(w * (1 - aspect))] = False
    return _make("l_shape", w, h, d, fixed, forces, m.T, name)


@_doc
def crane(
    width: int,
    height: int,
    density: float,
    aspect: float = 0.5,
    force_position: float = 0.9,
    *,
    name: str | None = None,
) -> Problem:
    """Crane: a column clamped on the bottom edge carrying a jib, load under the jib.

    Bottom edge ``j=H`` fixed in x and y; force -1 in y at node
    ``(round(force_position*W), round(1-aspect*H))`` where the (negative) second index
    wraps around as in Python; mask ``m`` of shape ``(W, H)`` with
    ``m[round(aspect*W):, round(H*aspect)+2:] = 0``, transposed.

    Parameters
    ----------
    {common}
    aspect : float, default 0.5
        Relative size of the jib.
    force_position : float, default 0.9
        x position of the load as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("crane", width, height, density)
    _fraction(aspect, "aspect", "crane")
    _fraction(force_position, "force_position", "crane")
    fixed[:, -1, :] = True
    j = _node_index(round(1 - aspect * h), h + 1, "crane load y index")
    forces[round(force_position * w), j, _Y] = -1
    m = np.ones((w, h), dtype=bool)
    m[round(aspect * w) :, round(h * aspect) + 2 :] = False
    return _make("crane", w, h, d, fixed, forces, m.T, name)


@_doc
def tower(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Tower (half model): bottom edge on rollers, load at the top-left corner.

    Bottom edge fixed in y; left edge fixed in x; force -1 in y at ``(0, 0)``.
    Not part of the 116-problem suite.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("tower", width, height, density)
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    forces[0, 0, _Y] = -1
    return _make("tower", w, h, d, fixed, forces, None, name)


@_doc
def center_support(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Distributed load on the top edge carried by a single central support (half model).

    ``(W, H)`` fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("center_support", width, height, density)
    fixed[-1, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    return _make("center_support", w, h, d, fixed, forces, None, name)


@_doc
def column(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Column under a distributed top load, on rollers at the bottom (half model).

    Bottom edge fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("column", width, height, density)
    fixed[:, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    return _make("column", w, h, d, fixed, forces, None, name)


@_doc
def roof(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Roof: distributed top load, walls on both sides and rollers at the bottom.

    Left and right edges fixed in x; bottom edge fixed in y; force ``-1/W`` in y along
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("roof", width, height, density)
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    fixed[:, -1, _Y] = True
    forces[:, 0, _Y] = -1 / w
    return _make("roof", w, h, d, fixed, forces, None, name)
