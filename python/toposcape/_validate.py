"""The validation layer: every public entry point checks its arguments through these functions.

Conventions (one per kind of mistake, so callers can catch what they mean):

* :class:`TypeError` -- the argument has the wrong type: a string where a number belongs, a
  float where an integer count belongs, a complex, boolean, object or string array, ...
* :class:`~toposcape.errors.InvalidInputError` (a :class:`ValueError`) -- the type is right
  but the value is not: a shape, a range, NaN or inf, an empty array.
* :class:`~toposcape.errors.UnknownNameError` (a :class:`KeyError` and a
  :class:`ValueError`) -- a name that is not registered; the message suggests close matches
  and lists what is available.

Every message has one form, ``"<argument> must be <expected form>, got <what was given>"``,
prefixed by the entry point's name when one is given (``who``).
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import InvalidInputError, UnknownNameError

__all__ = [
    "given",
    "fail",
    "integer",
    "real",
    "flag",
    "option",
    "lookup",
    "vector",
    "array",
]

#: Dtype kinds accepted as real numbers (signed, unsigned, float).
_REAL_KINDS = "iuf"


def given(value: Any) -> str:
    """A short description of ``value`` for an error message: its repr and type."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _prefix(who: str | None) -> str:
    return f"{who}: " if who else ""


def fail(
    name: str,
    expected: str,
    value: Any,
    who: str | None = None,
    error: type[InvalidInputError] = InvalidInputError,
) -> InvalidInputError:
    """The ``error`` (an :class:`InvalidInputError`) for argument ``name`` not ``expected``."""
    return error(f"{_prefix(who)}{name} must be {expected}, got {given(value)}")


def _type_error(name: str, expected: str, value: Any, who: str | None) -> TypeError:
    return TypeError(f"{_prefix(who)}{name} must be {expected}, got {given(value)}")


def _bounds_text(minimum, maximum, lower_open: bool, upper_open: bool) -> str:
    if minimum is not None and maximum is not None:
        left = "(" if lower_open else "["
        right = ")" if upper_open else "]"
        return f" in {left}{minimum:g}, {maximum:g}{right}"
    if minimum is not None:
        return f" {'>' if lower_open else '>='} {minimum:g}"
    if maximum is not None:
        return f" {'<' if upper_open else '<='} {maximum:g}"
    return ""


def integer(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
    who: str | None = None,
    error: type[InvalidInputError] = InvalidInputError,
) -> int | None:
    """``value`` as a Python int (Python or NumPy integers; not bools, not floats like 3.0).

    Raises TypeError for a non-integer type and ``error`` (InvalidInputError or a subclass)
    outside the bounds.
    """
    expected = "an integer" + _bounds_text(minimum, maximum, False, False)
    if allow_none:
        expected += " or None"
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise _type_error(name, expected, value, who)
    try:
        number = operator.index(value)
    except TypeError:
        raise _type_error(name, expected, value, who) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise fail(name, expected, value, who, error)
    return int(number)


def real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
    allow_none: bool = False,
    allow_inf: bool = False,
    who: str | None = None,
    error: type[InvalidInputError] = InvalidInputError,
) -> float | None:
    """``value`` as a finite float (any real number type; not bools, strings or complex).

    ``lower_open`` / ``upper_open`` exclude the bounds themselves. Raises TypeError for a
    non-real type and InvalidInputError for NaN, inf (unless ``allow_inf``) or out of bounds.
    """
    expected = ("a real number" if allow_inf else "a finite real number") + _bounds_text(
        minimum, maximum, lower_open, upper_open
    )
    if allow_none:
        expected += " or None"
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in _REAL_KINDS:
            value = value.item()
        else:
            raise _type_error(name, expected, value, who)
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise fail(name, expected, value, who, error)
    if minimum is not None and (number < minimum or (lower_open and number == minimum)):
        raise fail(name, expected, value, who, error)
    if maximum is not None and (number > maximum or (upper_open and number == maximum)):
        raise fail(name, expected, value, who, error)
    return number


def flag(value: Any, name: str, who: str | None = None) -> bool:
    """``value`` as a bool (Python or NumPy bool only: 0, 1 or "yes" are TypeErrors)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _type_error(name, "True or False", value, who)
    return bool(value)


def option(value: Any, name: str, choices: Iterable[Any], who: str | None = None) -> Any:
    """``value`` if it is one of a small fixed set of ``choices`` (e.g. a dtype name).

    Raises InvalidInputError listing the choices (TypeError if ``value`` is unhashable).
    """
    choices = tuple(choices)
    expected = "one of " + ", ".join(map(repr, choices))
    try:
        ok = value in choices
    except TypeError:
        raise _type_error(name, expected, value, who) from None
    if not ok:
        raise fail(name, expected, value, who)
    return value


def lookup(name: Any, available: Iterable[str], kind: str, hint: str = "") -> str:
    """``name`` if it is one of the ``available`` names of a registry of ``kind`` things.

    Raises UnknownNameError (a KeyError and a ValueError) whose message suggests the closest
    names and lists the available ones (``hint`` is appended, e.g. where to list them), or
    TypeError when ``name`` is not a string.
    """
    available = list(available)
    if not isinstance(name, str):
        raise TypeError(f"a {kind} name must be a string, got {given(name)}")
    if name in available:
        return name
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
    suggestion = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    listing = hint or f"available: {', '.join(available)}"
    raise UnknownNameError(f"unknown {kind} {name!r}{suggestion} ({listing})")


def _as_real_array(value: Any, name: str, who: str | None) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise _type_error(name, "an array of real numbers", value, who)
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged nesting, objects numpy cannot hold
            raise _type_error(name, f"an array of real numbers ({exc})", value, who) from None
    if arr.dtype.kind not in _REAL_KINDS:
        kind = {"c": "complex", "b": "boolean", "O": "object", "U": "string", "S": "bytes"}
        what = kind.get(arr.dtype.kind, str(arr.dtype))
        hint = "; take .real to drop the imaginary part" if what == "complex" else ""
        raise TypeError(
            f"{_prefix(who)}{name} must be an array of real numbers, got a {what} array "
            f"(dtype {arr.dtype}){hint}"
        )
    return arr


def vector(
    value: Any,
    name: str,
    size: int | None = None,
    *,
    finite: bool = True,
    copy: bool = False,
    who: str | None = None,
) -> np.ndarray:
    """``value`` as a 1-D float64 array of length ``size`` (any length when None).

    Integer arrays are converted; complex, boolean, object and string arrays raise TypeError;
    a wrong shape, an empty vector or (with ``finite``) NaN/inf raise InvalidInputError.
    Non-contiguous and read-only inputs are accepted; the result is C-contiguous, and a copy
    when ``copy`` is set (else it may share memory with ``value``).
    """
    arr = _as_real_array(value, name, who)
    expected = f"a flat vector of length {size}" if size is not None else "a non-empty flat vector"
    if arr.ndim != 1 or (size is not None and arr.shape[0] != size) or arr.size == 0:
        raise InvalidInputError(f"{_prefix(who)}{name} must be {expected}, got shape {arr.shape}")
    return _float64(arr, name, finite, copy, who)


def array(
    value: Any,
    name: str,
    shape: tuple[int | None, ...] | None = None,
    *,
    finite: bool = True,
    copy: bool = False,
    who: str | None = None,
) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (None entries match any length).

    Same type rules as :func:`vector`; an empty array raises InvalidInputError.
    """
    arr = _as_real_array(value, name, who)
    if shape is not None and (
        arr.ndim != len(shape)
        or any(want is not None and got != want for got, want in zip(arr.shape, shape, strict=True))
    ):
        wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise InvalidInputError(
            f"{_prefix(who)}{name} must be an array of shape {wanted}, got shape {arr.shape}"
        )
    if arr.size == 0:
        raise InvalidInputError(f"{_prefix(who)}{name} must not be empty, got shape {arr.shape}")
    return _float64(arr, name, finite, copy, who)


def _float64(arr: np.ndarray, name: str, finite: bool, copy: bool, who: str | None):
    """``arr`` as C-contiguous float64 (a copy when asked), checked for NaN/inf if ``finite``."""
    out = (
        np.array(arr, dtype=np.float64, copy=True)
        if copy
        else np.asarray(arr, dtype=np.float64, order="C")
    )
    if finite:
        _check_finite(out, name, who)
    return out


def _check_finite(arr: np.ndarray, name: str, who: str | None) -> None:
    # A sum is finite whenever every entry is (one pass, no temporary array); only a
    # non-finite sum needs the entry-wise test, which also tells overflow of finite values apart.
    if not math.isfinite(float(arr.sum())) and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise InvalidInputError(
            f"{_prefix(who)}{name} must be finite, got {bad} NaN or inf "
            f"entr{'y' if bad == 1 else 'ies'} of {arr.size}"
        )


def problem(value: Any, name: str = "problem", who: str | None = None):
    """A :class:`~toposcape.problems.Problem`, or the suite problem named ``value``.

    A string is looked up in the suite (UnknownNameError with suggestions when unknown); any
    other object must be a Problem (TypeError otherwise).
    """
    from . import problems

    if isinstance(value, str):
        return problems.get(value)
    if not isinstance(value, problems.Problem):
        raise _type_error(name, "a toposcape.problems.Problem or a suite problem name", value, who)
    return value
