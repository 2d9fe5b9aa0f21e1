"""The 116-problem suite: names -> category function and parameters; names(), get(), suite()."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import _validate
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

__all__ = ["names", "get", "suite", "categories"]


_CATEGORIES: dict[str, Callable[..., Problem]] = {
    f.__name__: f
    for f in (
        mbb_beam,
        cantilever_beam_full,
        cantilever_beam_two_point,
        pure_bending_moment,
        ground_structure,
        michell_centered_both,
        michell_centered_below,
        l_shape,
        crane,
        tower,
        center_support,
        column,
        roof,
        causeway_bridge,
        two_level_bridge,
        suspended_bridge,
        canyon_bridge,
        thin_support_bridge,
        drawbridge,
        hoop,
        dam,
        ramp,
        staircase,
        staggered_points,
        multistory_building,
    )
}

_Instance = tuple[Any, ...]  # (W, H, density) or (W, H, density, extra kwargs)

# (suite label, category function, shared extra kwargs, instances)
_SUITE_SPEC: list[tuple[str, Callable[..., Problem], dict[str, Any], list[_Instance]]] = [
    (
        "mbb_beam",
        mbb_beam,
        {},
        [(96, 32, 0.5), (192, 64, 0.4), (384, 128, 0.3), (192, 32, 0.5), (384, 64, 0.4)],
    ),
    (
        "cantilever_beam_full",
        cantilever_beam_full,
        {},
        [(96, 32, 0.4), (192, 64, 0.3), (384, 128, 0.2), (384, 128, 0.15)],
    ),
    (
        "cantilever_beam_two_point",
        cantilever_beam_two_point,
        {},
        [(64, 48, 0.4), (128, 96, 0.3), (256, 192, 0.2), (256, 192, 0.15)],
    ),
    (
        "pure_bending_moment",
        pure_bending_moment,
        {},
        [(32, 64, 0.15), (64, 128, 0.125), (128, 256, 0.1)],
    ),
    (
        "ground_structure",
        ground_structure,
        {},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.07), (256, 256, 0.05)],
    ),
    (
        "michell_centered_both",
        michell_centered_both,
        {},
        [(32, 64, 0.12), (64, 128, 0.12), (128, 256, 0.12), (128, 256, 0.06)],
    ),
    (
        "michell_centered_below",
        michell_centered_below,
        {},
        [(64, 64, 0.12), (128, 128, 0.12), (256, 256, 0.12), (256, 256, 0.06)],
    ),
    ("l_shape_0.2", l_shape, {"aspect": 0.2}, [(64, 64, 0.4), (128, 128, 0.3), (256, 256, 0.2)]),
    ("l_shape_0.4", l_shape, {"aspect": 0.4}, [(64, 64, 0.4), (128, 128, 0.3), (256, 256, 0.2)]),
    ("crane", crane, {}, [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (256, 256, 0.1)]),
    (
        "center_support",
        center_support,
        {},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.1), (256, 256, 0.05)],
    ),
    (
        "column",
        column,
        {},
        [(32, 128, 0.3), (64, 256, 0.3), (128, 512, 0.1), (128, 512, 0.3), (128, 512, 0.5)],
    ),
    (
        "roof",
        roof,
        {},
        [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.4), (256, 256, 0.2), (256, 256, 0.1)],
    ),
    (
        "causeway_bridge_top",
        causeway_bridge,
        {"deck_level": 1},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.1), (128, 64, 0.3), (256, 128, 0.2)],
    ),
    (
        "causeway_bridge_middle",
        causeway_bridge,
        {"deck_level": 0.5},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.08)],
    ),
    (
        "causeway_bridge_low",
        causeway_bridge,
        {"deck_level": 0.3},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.08)],
    ),
    ("two_level_bridge", two_level_bridge, {}, [(64, 64, 0.2), (128, 128, 0.16), (256, 256, 0.12)]),
    (
        "free_suspended_bridge",
        suspended_bridge,
        {"anchored": False},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.075), (256, 256, 0.05)],
    ),
    (
        "anchored_suspended_bridge",
        suspended_bridge,
        {"span_position": 0.1, "anchored": True},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.075), (256, 256, 0.05)],
    ),
    (
        "canyon_bridge",
        canyon_bridge,
        {},
        [(64, 64, 0.16), (128, 128, 0.12), (256, 256, 0.1), (256, 256, 0.05)],
    ),
    (
        "thin_support_bridge",
        thin_support_bridge,
        {},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (256, 256, 0.1)],
    ),
    ("drawbridge", drawbridge, {}, [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.1)]),
    ("hoop", hoop, {}, [(32, 64, 0.25), (64, 128, 0.2), (128, 256, 0.15)]),
    (
        "dam",
        dam,
        {},
        [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.05), (256, 256, 0.1), (256, 256, 0.2)],
    ),
    ("ramp", ramp, {}, [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.2), (256, 256, 0.1)]),
    (
        "staircase",
        staircase,
        {"num_stories": 3},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (128, 512, 0.15, {"num_stories": 6})],
    ),
    (
        "staggered_points",
        staggered_points,
        {},
        [
            (64, 64, 0.3),
            (128, 128, 0.3),
            (256, 256, 0.3),
            (256, 256, 0.5),
            (64, 128, 0.3),
            (128, 256, 0.3),
            (32, 128, 0.3),
            (64, 256, 0.3),
            (128, 512, 0.3),
            (128, 512, 0.15, {"interval": 32}),
        ],
    ),
    (
        "multistory_building",
        multistory_building,
        {},
        [
            (32, 64, 0.5),
            (64, 128, 0.4, {"interval": 32}),
            (128, 256, 0.3, {"interval": 64}),
            (128, 512, 0.25, {"interval": 64}),
            (128, 512, 0.2, {"interval": 128}),
        ],
    ),
]


def _build_registry() -> dict[str, tuple[Callable[..., Problem], dict[str, Any]]]:
    registry: dict[str, tuple[Callable[..., Problem], dict[str, Any]]] = {}
    for label, func, shared, sizes in _SUITE_SPEC:
        for size in sizes:
            w, h, d = size[:3]
            kwargs = {**shared, **(size[3] if len(size) > 3 else {})}
            name = f"{label}_{w}x{h}_{float(d)}"
            registry[name] = (
                func,
                {"width": w, "height": h, "density": d, **kwargs, "name": name},
            )
    return registry


_REGISTRY = _build_registry()


def names() -> list[str]:
    """Names of the 116 suite problems, in suite order.

    Returns
    -------
    list of str
        ``f"{label}_{W}x{H}_{density}"``, e.g. ``"mbb_beam_96x32_0.5"``.
    """
    return list(_REGISTRY)


def get(name: str) -> Problem:
    """Build the suite problem called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    Problem

    Raises
    ------
    UnknownNameError
        Unknown name (a :class:`KeyError`); the message suggests the closest suite names.
    TypeError
        ``name`` is not a string.
    """
    _validate.lookup(name, names(), "problem", hint="see toposcape.problems.names()")
    func, kwargs = _REGISTRY[name]
    return func(**kwargs)


def suite(selected: Sequence[str] | None = None) -> Iterator[Problem]:
    """Iterate over suite problems, built lazily in suite order.

    Parameters
    ----------
    selected : sequence of str, optional
        Subset of :func:`names` to build (in the given order); ``None``: all 116.

    Yields
    ------
    Problem
    """
    for name in names() if selected is None else selected:
        yield get(name)


def categories() -> dict[str, Callable[..., Problem]]:
    """The category functions by name (``"mbb_beam"``, ..., ``"tower"``).

    Returns
    -------
    dict of str to callable
        Each takes ``(width, height, density, *extras, name=None)`` and returns a
        :class:`Problem`.
    """
    return dict(_CATEGORIES)
