"""Drawn and distributed loads: hoop, dam, ramp and staircase, staggered points, floors."""

from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import InvalidProblemError
from ._category import _X, _Y, _doc, _flag, _make, _node_arrays, _size
from ._problem import Problem
from ._raster import _circle_perimeter_aa, _last_occurrence, _line_aa

__all__ = ["hoop", "dam", "staircase", "ramp", "staggered_points", "multistory_building"]


@_doc
def hoop(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Downward loads on a circular hoop resting on the ground (half model).

    Requires ``2*W == H``. Right edge fixed in x; bottom edge fixed in y; loads in y of
    ``-value/(2*pi*W)`` on the anti-aliased circle perimeter of centre ``(W, W)`` and
    radius ``W`` (Xiaolin Wu's algorithm, as ``skimage.draw.circle_perimeter_aa``), clipped
    to the node array; where the perimeter repeats a node the last value drawn wins.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("hoop", width, height, density)
    if 2 * w != h:
        raise InvalidProblemError(f"hoop requires height == 2*width, got {w}x{h}")
    fixed[-1, :, _X] = True
    fixed[:, -1, _Y] = True
    i, j, value = _circle_perimeter_aa(w, w, w, forces.shape[:2])
    last = _last_occurrence(i, j, h + 1)
    forces[i[last], j[last], _Y] = -value[last] / (2 * np.pi * w)
    return _make("hoop", w, h, d, fixed, forces, None, name)


@_doc
def dam(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Dam: hydrostatic-like load on the left edge, clamped on the bottom edge.

    Bottom edge fixed in x and y; on the left edge ``i=0`` the x force at node
    ``j = k-1`` is ``2*k/H**2`` for ``k = 1..H+1``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("dam", width, height, density)
    fixed[:, -1, :] = True
    forces[0, :, _X] = 2 * np.arange(1, h + 2) / h**2
    return _make("dam", w, h, d, fixed, forces, None, name)


@_doc
def staircase(
    width: int,
    height: int,
    density: float,
    num_stories: int = 2,
    *,
    name: str | None = None,
) -> Problem:
    """Zig-zag ramps loaded along anti-aliased lines, clamped on the bottom edge.

    Bottom edge fixed in x and y. With ``n = num_stories``, for each story ``s`` with
    parity ``q = s % 2`` an anti-aliased line (as ``skimage.draw.line_aa``) is drawn from
    node ``(0, (s+q)*H//n)`` to ``(W, (s+1-q)*H//n)``, and each drawn node gets the y
    force ``min(current, -value/(W*n))`` (within one line the last value drawn wins).

    Parameters
    ----------
    {common}
    num_stories : int, default 2
        Number of ramps, at most ``height``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    return _staircase("staircase", width, height, density, num_stories, name)


@_doc
def ramp(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """A single ramp: ``staircase(width, height, density, num_stories=1)``, named ``ramp``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    return _staircase("ramp", width, height, density, 1, name)


def _staircase(category, width, height, density, num_stories, name) -> Problem:
    w, h, d, fixed, forces = _node_arrays(category, width, height, density)
    n = _validate.integer(
        num_stories, "num_stories", minimum=1, maximum=h, who=category, error=InvalidProblemError
    )  # a story is at least one row: more stories than rows would only redraw the same lines
    fixed[:, -1, :] = True
    for story in range(n):
        parity = story % 2
        i, j, value = _line_aa(0, (story + parity) * h // n, w, (story + 1 - parity) * h // n)
        inside = (i >= 0) & (i <= w) & (j >= 0) & (j <= h)
        i, j, value = i[inside], j[inside], value[inside]
        new = np.minimum(forces[i, j, _Y], -value / (w * n))
        last = _last_occurrence(i, j, h + 1)
        forces[i[last], j[last], _Y] = new[last]
    return _make(category, w, h, d, fixed, forces, None, name)


@_doc
def staggered_points(
    width: int,
    height: int,
    density: float,
    interval: int = 16,
    break_symmetry: bool = False,
    *,
    name: str | None = None,
) -> Problem:
    """Point loads on a staggered lattice of nodes, rollers on three sides.

    Bottom edge fixed in y; left and right edges fixed in x. With
    ``f = interval**2/(W*H)`` and ``b = int(break_symmetry)``: y force ``-f`` on the
    node slices ``[interval//2+b :: interval, ::interval]`` and
    ``[b :: interval, interval//2 :: interval]`` (first index i, second j).

    Parameters
    ----------
    {common}
    interval : int, default 16
        Lattice spacing in elements.
    break_symmetry : bool, default False
        Shift the lattice by one node along x.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("staggered_points", width, height, density)
    interval = _size(interval, "interval", "staggered_points")
    b = int(_flag(break_symmetry, "break_symmetry", "staggered_points"))
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    f = interval**2 / (w * h)
    forces[interval // 2 + b :: interval, ::interval, _Y] = -f
    forces[b::interval, interval // 2 :: interval, _Y] = -f
    return _make("staggered_points", w, h, d, fixed, forces, None, name)


@_doc
def multistory_building(
    width: int,
    height: int,
    density: float,
    interval: int = 16,
    *,
    name: str | None = None,
) -> Problem:
    """Floors loaded every ``interval`` rows, rollers at the bottom (half model).

    Bottom edge fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    the rows ``j = 0, interval, 2*interval, ...``.

    Parameters
    ----------
    {common}
    interval : int, default 16
        Floor spacing in elements.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("multistory_building", width, height, density)
    interval = _size(interval, "interval", "multistory_building")
    fixed[:, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, ::interval, _Y] = -1 / w
    return _make("multistory_building", w, h, d, fixed, forces, None, name)
