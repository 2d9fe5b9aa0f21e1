"""Exceptions raised at toposcape's boundary.

Every error that bad input can cause is a subclass of :class:`ValueError`, so code that
already catches ``ValueError`` keeps working; the subclasses say what kind of input was wrong.
"""

from __future__ import annotations

__all__ = ["InvalidProblemError", "UnderconstrainedProblemError", "InvalidInputError"]


class InvalidProblemError(ValueError):
    """A problem definition is invalid (sizes, DOF indices, loads, mask or target density)."""


class UnderconstrainedProblemError(InvalidProblemError):
    """The supports leave a rigid-body motion free, so the stiffness matrix is singular."""


class InvalidInputError(ValueError):
    """An array passed to a solver or objective is malformed (shape, NaN/inf, range)."""
