"""Bridges: decks loaded along a row of nodes, on piers, walls or canyon sides."""

from __future__ import annotations

import numpy as np

from ._category import _X, _Y, _doc, _flag, _fraction, _make, _node_arrays
from ._problem import Problem

__all__ = [
    "causeway_bridge",
    "two_level_bridge",
    "suspended_bridge",
    "canyon_bridge",
    "thin_support_bridge",
    "drawbridge",
]


@_doc
def causeway_bridge(
    width: int,
    height: int,
    density: float,
    deck_level: float = 1,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge deck at a given level, one pier at the bottom-right corner.

    ``(W, H)`` fixed in y; left and right edges fixed in x; force ``-1/W`` in y on every
    node of row ``j = round(H*(1-deck_level))``.

    Parameters
    ----------
    {common}
    deck_level : float, default 1
        Deck height as a fraction of ``H`` (1 = top edge).
    name : str, optional
        Override of the problem name (the suite uses ``causeway_bridge_top``,
        ``_middle`` and ``_low``).

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("causeway_bridge", width, height, density)
    _fraction(deck_level, "deck_level", "causeway_bridge")
    fixed[-1, -1, _Y] = True
    fixed[-1, :, _X] = True
    fixed[0, :, _X] = True
    forces[:, round(h * (1 - deck_level)), _Y] = -1 / w
    return _make("causeway_bridge", w, h, d, fixed, forces, None, name)


@_doc
def two_level_bridge(
    width: int,
    height: int,
    density: float,
    deck_height: float = 0.2,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge with two loaded decks, pinned at the bottom-left corner.

    ``(0, H)`` fixed in x and y; left and right edges fixed in x; force ``-1/(2W)`` in
    **both** x and y on rows ``round(H*(1-deck_height)/2)`` and
    ``round(H*(1+deck_height)/2)``.

    The reference implementation builds its node arrays with ``W`` for both axes (its
    instances are square); here they are ``(W+1, H+1, 2)``, which is identical for
    square grids and well defined for the others.

    Parameters
    ----------
    {common}
    deck_height : float, default 0.2
        Vertical distance between the decks as a fraction of ``H``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("two_level_bridge", width, height, density)
    _fraction(deck_height, "deck_height", "two_level_bridge")
    fixed[0, -1, :] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    forces[:, round(h * (1 - deck_height) / 2), :] = -1 / (2 * w)
    forces[:, round(h * (1 + deck_height) / 2), :] = -1 / (2 * w)
    return _make("two_level_bridge", w, h, d, fixed, forces, None, name)


@_doc
def suspended_bridge(
    width: int,
    height: int,
    density: float,
    span_position: float = 0.2,
    anchored: bool = False,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge loaded along the bottom edge, supported on its left part (half model).

    Right edge fixed in x; nodes ``i < round(span_position*W)`` on ``j=H`` fixed in y
    (and in x when ``anchored``); force ``-1/W`` in y along ``j=H``.

    Parameters
    ----------
    {common}
    span_position : float, default 0.2
        Width of the supported part as a fraction of ``W``.
    anchored : bool, default False
        Also fix the supported nodes in x.
    name : str, optional
        Override of the problem name (the suite uses ``free_suspended_bridge`` and
        ``anchored_suspended_bridge``).

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("suspended_bridge", width, height, density)
    _fraction(span_position, "span_position", "suspended_bridge")
    anchored = _flag(anchored, "anchored", "suspended_bridge")
    fixed[: round(span_position * w), -1, _Y] = True
    if anchored:
        fixed[: round(span_position * w), -1, _X] = True
    fixed[-1, :, _X] = True
    forces[:, -1, _Y] = -1 / w
    return _make("suspended_bridge", w, h, d, fixed, forces, None, name)


@_doc
def canyon_bridge(
    width: int,
    height: int,
    density: float,
    deck_level: float = 1,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge spanning a canyon whose right wall is clamped below the deck.

    With ``dk = round(H*(1-deck_level))``: right-edge nodes ``j >= dk`` fixed in x and y;
    left edge fixed in x; force ``-1/W`` in y along row ``j=dk``.

    Parameters
    ----------
    {common}
    deck_level : float, default 1
        Deck height as a fraction of ``H`` (1 = top edge).
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("canyon_bridge", width, height, density)
    _fraction(deck_level, "deck_level", "canyon_bridge")
    deck = round(h * (1 - deck_level))
    fixed[-1, deck:, :] = True
    fixed[0, :, _X] = True
    forces[:, deck, _Y] = -1 / w
    return _make("canyon_bridge", w, h, d, fixed, forces, None, name)


@_doc
def thin_support_bridge(
    width: int,
    height: int,
    density: float,
    design_width: float = 0.25,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge deck on top with a thin designable support region.

    Bottom edge fixed in y; left and right edges fixed in x; force ``-1/W`` in y along
    ``j=0``; mask ``m`` of shape ``(H, W)`` with
    ``m[-round(W*(1-dw)):, :round(H*(1-dw))] = 0`` (``dw = design_width``).

    The reference implementation builds ``m`` with shape ``(W, H)`` and uses it without
    transposing (its instances are square); here the same slices are applied to an
    ``(H, W)`` array, identical for square grids.

    Parameters
    ----------
    {common}
    design_width : float, default 0.25
        Relative width of the designable support region.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("thin_support_bridge", width, height, density)
    _fraction(design_width, "design_width", "thin_support_bridge")
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    m = np.ones((h, w), dtype=bool)
    m[-round(w * (1 - design_width)) :, : round(h * (1 - design_width))] = False
    return _make("thin_support_bridge", w, h, d, fixed, forces, m, name)


@_doc
def drawbridge(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Drawbridge: clamped on the left edge, loaded along the bottom edge.

    Left edge fixed in x and y; force ``-1/W`` in y along ``j=H``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays("drawbridge", width, height, density)
    fixed[0, :, :] = True
    forces[:, -1, _Y] = -1 / w
    return _make("drawbridge", w, h, d, fixed, forces, None, name)
