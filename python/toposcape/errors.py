"""Exceptions raised at toposcape's boundary.

Every error that bad input can cause is a subclass of :class:`ValueError`, so code that
already catches ``ValueError`` keeps working; the subclasses say what kind of input was wrong.
"""

from __future__ import annotations

__all__ = [
    "InvalidInputError",
    "InvalidProblemError",
    "UnderconstrainedProblemError",
    "UnknownNameError",
]


class InvalidInputError(ValueError):
    """An argument has the right type but a bad value (shape, range, NaN/inf, empty)."""


class InvalidProblemError(InvalidInputError):
    """A problem definition is invalid (sizes, DOF indices, loads, mask or target density)."""


class UnderconstrainedProblemError(InvalidProblemError):
    """The supports leave a rigid-body motion free, so the stiffness matrix is singular."""


class UnknownNameError(KeyError, InvalidInputError):
    """A name that no registry holds (a problem, an optimizer, an option).

    A :class:`KeyError` (a lookup that failed) and a :class:`ValueError` (bad input), so code
    catching either keeps working. Its message suggests the closest names.
    """

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""
