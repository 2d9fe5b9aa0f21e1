"""Beams, cantilevers and Michell structures: point loads, point or edge supports."""

from __future__ import annotations

from ._category import _X, _Y, _doc, _fraction, _make, _node_arrays, _node_index
from ._problem import Problem

__all__ = [
    "mbb_beam",
    "cantilever_beam_full",
    "cantilever_beam_two_point",
    "pure_bending_moment",
    "ground_structure",
    "michell_centered_both",
    "michell_centered_below",
]


@_doc
def mbb_beam(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """MBB beam (half model): roller on the left edge, loaded at the top-left corner.

    Left edge ``i=0`` fixed in x; node ``(W, H)`` fixed in y; force -1 in y at ``(0, 0)``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("mbb_beam", width, height, density)
    fixed[-1, -1, _Y] = True
    fixed[0, :, _X] = True
    forces[0, 0, _Y] = -1
    return _make("mbb_beam", w, h, d, fixed, forces, None, name)


@_doc
def cantilever_beam_full(
    width: int,
    height: int,
    density: float,
    force_position: float = 0,
    *,
    name: str | None = None,
) -> Problem:
    """Cantilever clamped on the whole left edge, point load on the right edge.

    Left edge fixed in x and y; force -1 in y at ``(W, round((1-force_position)*H))``.

    Parameters
    ----------
    {common}
    force_position : float, default 0
        Height of the load, 0 = bottom, 1 = top, as a fraction of ``H``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("cantilever_beam_full", width, height, density)
    _fraction(force_position, "force_position", "cantilever_beam_full")
    fixed[0, :, :] = True
    forces[-1, round((1 - force_position) * h), _Y] = -1
    return _make("cantilever_beam_full", w, h, d, fixed, forces, None, name)


@_doc
def cantilever_beam_two_point(
    width: int,
    height: int,
    density: float,
    support_position: float = 0.25,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """Cantilever pinned at two points of the left edge, point load on the right edge.

    Nodes ``(0, round(H*(1-s)))`` and ``(0, round(H*s))`` fixed in x and y
    (``s = support_position``); force -1 in y at ``(W, round((1-force_position)*H))``.

    Parameters
    ----------
    {common}
    support_position : float, default 0.25
        Fraction of ``H`` locating the two supports symmetrically.
    force_position : float, default 0.5
        Height of the load as a fraction of ``H`` (0 = bottom).
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("cantilever_beam_two_point", width, height, density)
    _fraction(support_position, "support_position", "cantilever_beam_two_point")
    _fraction(force_position, "force_position", "cantilever_beam_two_point")
    fixed[0, round(h * (1 - support_position)), :] = True
    fixed[0, round(h * support_position), :] = True
    forces[-1, round((1 - force_position) * h), _Y] = -1
    return _make("cantilever_beam_two_point", w, h, d, fixed, forces, None, name)


@_doc
def pure_bending_moment(
    width: int,
    height: int,
    density: float,
    support_position: float = 0.45,
    *,
    name: str | None = None,
) -> Problem:
    """A couple of horizontal forces on the left edge, right edge on rollers.

    Right edge fixed in x; ``(0, round(H*(1-s)))`` and ``(0, round(H*s))`` fixed in y;
    force +1 in x at the first and -1 in x at the second (``s = support_position``).

    Parameters
    ----------
    {common}
    support_position : float, default 0.45
        Fraction of ``H`` locating the two loaded supports symmetrically.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("pure_bending_moment", width, height, density)
    _fraction(support_position, "support_position", "pure_bending_moment")
    fixed[-1, :, _X] = True
    fixed[0, round(h * (1 - support_position)), _Y] = True
    fixed[0, round(h * support_position), _Y] = True
    forces[0, round(h * (1 - support_position)), _X] = 1
    forces[0, round(h * support_position), _X] = -1
    return _make("pure_bending_moment", w, h, d, fixed, forces, None, name)


@_doc
def ground_structure(
    width: int,
    height: int,
    density: float,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """Point load on the bottom edge, bottom-left corner pinned, right edge on rollers.

    Right edge fixed in x; ``(0, H)`` fixed in x and y; force -1 in y at
    ``(round(force_position*H), H)``. As in the reference implementation the load's x
    index scales with ``H``, not ``W`` (the suite's instances are square).

    Parameters
    ----------
    {common}
    force_position : float, default 0.5
        Load position; ``round(force_position*H)`` must be a valid x node index.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("ground_structure", width, height, density)
    _fraction(force_position, "force_position", "ground_structure")
    fixed[-1, :, _X] = True
    fixed[0, -1, :] = True
    i = _node_index(round(force_position * h), w + 1, "ground_structure load x index")
    forces[i, -1, _Y] = -1
    return _make("ground_structure", w, h, d, fixed, forces, None, name)


@_doc
def michell_centered_both(
    width: int,
    height: int,
    density: float,
    position: float = 0.05,
    *,
    name: str | None = None,
) -> Problem:
    """Michell-type structure: point support and point load both at mid-height.

    ``(round(position*W), round(H/2))`` fixed in y; right edge fixed in x (symmetry
    plane); force -1 in y at ``(W, round(H/2))``.

    Parameters
    ----------
    {common}
    position : float, default 0.05
        x position of the support as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("michell_centered_both", width, height, density)
    _fraction(position, "position", "michell_centered_both")
    fixed[round(position * w), round(h / 2), _Y] = True
    fixed[-1, :, _X] = True
    forces[-1, round(h / 2), _Y] = -1
    return _make("michell_centered_both", w, h, d, fixed, forces, None, name)


@_doc
def michell_centered_below(
    width: int,
    height: int,
    density: float,
    position: float = 0.25,
    *,
    name: str | None = None,
) -> Problem:
    """Michell-type structure: support and load on the top edge.

    ``(round(position*W), 0)`` fixed in y; right edge fixed in x; force -1 in y at
    ``(W, 0)``.

    Parameters
    ----------
    {common}
    position : float, default 0.25
        x position of the support as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("michell_centered_below", width, height, density)
    _fraction(position, "position", "michell_centered_below")
    fixed[round(position * w), 0, _Y] = True
    fixed[-1, :, _X] = True
    forces[-1, 0, _Y] = -1
    return _make("michell_centered_below", w, h, d, fixed, forces, None, name)
