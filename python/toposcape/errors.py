"""Exceptions raised at toposcape's boundary.

Every error that bad input can cause is a subclass of :class:`ValueError`, so code that
already catches ``ValueError`` keeps working; the subclasses say what kind of input was wrong.
:class:`InsufficientMemoryError` is not about bad input: it is a :class:`MemoryError`;
:class:`StudyInUseError` says that another process is writing a study directory.
"""

from __future__ import annotations

__all__ = [
    "InsufficientMemoryError",
    "InvalidInputError",
    "InvalidProblemError",
    "StudyInUseError",
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


class InsufficientMemoryError(MemoryError):
    """A computation would need more memory than is available, so it is refused beforehand.

    Raised by the sparse solvers before a factorization whose estimated memory exceeds what the
    machine (or its cgroup, or ``TOPOSCAPE_MEMORY_LIMIT``) has available, instead of letting the
    operating system's OOM killer end the process. Not an input error: the same call fits on a
    machine with more memory, or with ``solver="amg"``.

    Attributes
    ----------
    estimate : int or None
        Estimated bytes the refused step needs.
    available : int or None
        Bytes that were available.
    """

    def __init__(self, message: str, *, estimate: int | None = None, available: int | None = None):
        super().__init__(message)
        self.estimate = estimate
        self.available = available


class StudyInUseError(RuntimeError):
    """A study directory is being written by another coordinator (a ``toposcape study run``
    or ``study tune`` in another process, or a store still open in this one).

    One coordinator at a time writes a directory's index: it resets the runs it finds
    "running" as left over from a killed session, which would be wrong while another
    coordinator is computing them. Wait for the other one, or give another ``--out``.
    """
