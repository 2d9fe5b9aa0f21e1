"""Shared Hypothesis strategies and the outcome check of the property-based (fuzz) tests.

The fuzz tests (``tests/test_fuzz_*.py``) feed the public API and the bindings arrays of the
wrong shape or dtype (float32, int, complex, bool, object, strings), strided views, read-only
arrays, NaN/inf, empty arrays, huge (1e300) and tiny (1e-300) values and wrong-typed scalars.
Every call must end in a valid result or in a clear exception of the conventional type
(``toposcape._validate``): TypeError for a wrong type, InvalidInputError (a ValueError) for a
bad value, UnknownNameError for an unknown name. Anything else (a crash, a hang, an
AttributeError/IndexError/ZeroDivisionError from deep inside, a C++ message such as
``std::bad_alloc``, a ComplexWarning of a silent cast, a NaN result from finite input) fails.

Profiles (registered in ``tests/conftest.py``, chosen by the environment variable
``HYPOTHESIS_PROFILE``): ``default`` (few examples, the normal suite, well under a minute for all
fuzz files) and ``nightly`` (about 1000 examples per test)::

    HYPOTHESIS_PROFILE=nightly python -m pytest -q tests/test_fuzz_*.py

This module holds no fuzz test of an entry point itself, only the building blocks and a check
that the strategies produce what they claim.
"""

from __future__ import annotations

import math
import signal
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toposcape.errors import InvalidInputError, UnknownNameError

#: What a public entry point may raise for bad input.
PUBLIC_ERRORS = (TypeError, InvalidInputError, UnknownNameError)

#: Seconds a single fuzzed call may take before it counts as a hang.
HANG_SECONDS = 30.0


@dataclass(frozen=True)
class Case:
    """A fuzzed argument and what a correct entry point must do with it.

    expect:
        ``"type"`` -- must raise TypeError; ``"value"`` -- must raise InvalidInputError;
        ``"error"`` -- must raise one of the two; ``"ok"`` -- must return a valid result;
        ``"any"`` -- a valid result or an allowed error.
    """

    value: Any
    expect: str
    what: str

    def __repr__(self) -> str:  # Hypothesis prints the falsifying example with this
        return f"Case({self.what}, expect={self.expect!r})"


class Hang(Exception):
    """A fuzzed call ran past HANG_SECONDS."""


@contextmanager
def _deadline(seconds: float):
    # SIGALRM only in the main thread (pytest's); elsewhere no guard.
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def _raise(signum, frame):
        raise Hang(f"call ran past {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _check_message(exc: BaseException) -> None:
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} without a message"
    for leak in ("std::", "bad_alloc", "basic_string", "vector::"):
        assert leak not in text, f"internal C++ message leaked: {text!r}"


def outcome(
    fn: Callable[[], Any],
    expect: str = "any",
    *,
    errors: tuple[type[BaseException], ...] = PUBLIC_ERRORS,
    check: Callable[[Any], None] | None = None,
) -> Any:
    """Call ``fn`` and check it ends as ``expect`` says (see :class:`Case`).

    An exception outside ``errors`` propagates (the test fails with its traceback). A
    ComplexWarning (a silent complex-to-real cast) is an error. ``check(result)`` validates a
    result. Returns the result, or None when an allowed exception was raised.
    """
    assert expect in ("type", "value", "error", "ok", "any")
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        try:
            with _deadline(HANG_SECONDS):
                result = fn()
        except errors as exc:
            _check_message(exc)
            if expect == "ok":
                raise AssertionError(f"valid input raised {type(exc).__name__}: {exc}") from exc
            if expect == "type" and not isinstance(exc, TypeError):
                raise AssertionError(
                    f"expected TypeError, got {type(exc).__name__}: {exc}"
                ) from exc
            if expect == "value" and not isinstance(exc, InvalidInputError):
                raise AssertionError(
                    f"expected InvalidInputError, got {type(exc).__name__}: {exc}"
                ) from exc
            return None
    if expect in ("type", "value", "error"):
        raise AssertionError(f"expected a {expect} error, got a result: {result!r:.200}")
    if check is not None:
        check(result)
    return result


def finite_array(shape: tuple[int, ...] | None = None) -> Callable[[Any], None]:
    """A result check: a float64 ndarray of ``shape``, every entry finite."""

    def check(result: Any) -> None:
        assert isinstance(result, np.ndarray), f"expected an ndarray, got {type(result)}"
        assert result.dtype == np.float64, result.dtype
        if shape is not None:
            assert result.shape == shape, (result.shape, shape)
        assert np.all(np.isfinite(result)), "NaN or inf in the result of finite input"

    return check


def finite_float(result: Any) -> None:
    assert isinstance(result, float), f"expected a float, got {type(result)}"
    assert math.isfinite(result), f"non-finite result {result}"


# ------------------------------------------------------------------------------------------
# Arrays
# ------------------------------------------------------------------------------------------
def good_values(shape: tuple[int, ...], low: float = -3.0, high: float = 3.0):
    """float64 arrays of ``shape`` with finite entries in [low, high]."""
    n = math.prod(shape)
    return st.lists(
        st.floats(low, high, allow_nan=False, allow_infinity=False), min_size=n, max_size=n
    ).map(lambda v: np.array(v, dtype=np.float64).reshape(shape))


def layouts(arr: np.ndarray):
    """The same values in other layouts and real dtypes a function must accept.

    Each draw is ``(array, exact)``: ``exact`` is False for float32, whose values differ from
    ``arr``'s by rounding.
    """

    def strided(a):
        big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]

    def readonly(a):
        b = a.copy()
        b.setflags(write=False)
        return b

    return st.sampled_from(
        [
            ("plain", lambda a: a.copy(), True),
            ("strided", strided, True),
            ("negative_strides", lambda a: a[::-1].copy()[::-1], True),
            ("fortran", lambda a: np.asfortranarray(a), True),
            ("readonly", readonly, True),
            ("list", lambda a: a.tolist(), True),
            ("float32", lambda a: a.astype(np.float32), False),
        ]
    ).map(lambda item: (item[0], item[1](arr), item[2]))


_BAD_TYPE_ARRAYS: list[tuple[str, Callable[[tuple[int, ...]], Any]]] = [
    ("complex", lambda s: np.ones(s, dtype=np.complex128) * (0.5 + 0.25j)),
    ("complex_zero_imag", lambda s: np.full(s, 0.5 + 0j)),
    ("bool", lambda s: np.ones(s, dtype=bool)),
    ("object", lambda s: np.full(s, None, dtype=object)),
    ("object_numbers", lambda s: np.full(s, 0.5, dtype=object)),
    ("string", lambda s: np.full(s, "0.5")),
    ("bytes", lambda s: np.full(s, b"1")),
    ("str_scalar", lambda s: "0.5"),
    ("none", lambda s: None),
    ("dict", lambda s: {"a": 1}),
]

_BAD_VALUE_ARRAYS: list[tuple[str, Callable[[tuple[int, ...]], Any]]] = [
    ("nan", lambda s: _with(s, np.nan)),
    ("inf", lambda s: _with(s, np.inf)),
    ("-inf", lambda s: _with(s, -np.inf)),
    ("empty", lambda s: np.zeros((0,) * len(s))),
    ("scalar_0d", lambda s: np.array(0.5)),
    ("one_short", lambda s: np.zeros(_resize(s, -1))),
    ("one_long", lambda s: np.zeros(_resize(s, +1))),
    ("extra_axis", lambda s: np.zeros((*s, 1))),
    ("transposed", lambda s: np.zeros(s[::-1] if len(s) > 1 and s[0] != s[-1] else (*s, 2))),
    ("flat", lambda s: np.zeros((math.prod(s),)) if len(s) > 1 else np.zeros((s[0], 1))),
]

#: Finite but extreme values: a result (finite) or an InvalidInputError, never NaN or a crash.
_EXTREME_ARRAYS: list[tuple[str, Callable[[tuple[int, ...]], Any]]] = [
    ("huge", lambda s: np.full(s, 1e300)),
    ("-huge", lambda s: np.full(s, -1e300)),
    ("huge_mixed", lambda s: _alternating(s, 1e300)),
    ("tiny", lambda s: np.full(s, 1e-300)),
    ("tiny_mixed", lambda s: _alternating(s, 1e-300)),
    ("max_float", lambda s: _with(s, np.finfo(np.float64).max)),
    ("subnormal", lambda s: np.full(s, 5e-324)),
    ("zeros", lambda s: np.zeros(s)),
    ("big_int", lambda s: np.full(s, 2**62, dtype=np.int64)),
    ("uint8", lambda s: np.ones(s, dtype=np.uint8)),
    ("float16", lambda s: np.full(s, 0.5, dtype=np.float16)),
]


def _with(shape, value):
    a = np.full(shape, 0.25)
    a.flat[len(a.flat) // 2] = value
    return a


def _alternating(shape, value):
    a = np.full(shape, value)
    a.flat[::2] = -value
    return a


def _resize(shape, delta):
    s = list(shape)
    s[-1] = max(s[-1] + delta, 1) if delta < 0 and s[-1] > 1 else s[-1] + abs(delta)
    if delta < 0 and shape[-1] == 1:
        s[-1] = 2
    return tuple(s)


def bad_arrays(shape: tuple[int, ...], *, extreme: bool = True, exclude=frozenset()):
    """:class:`Case` s of wrong arrays for an argument that should be float64 of ``shape``.

    Wrong types (complex, bool, object, string arrays, non-arrays) expect TypeError; wrong
    shapes, empty arrays and NaN/inf expect InvalidInputError; with ``extreme``, finite but
    extreme values (1e300, 1e-300, subnormals, big integers) expect "any" (a finite result or
    an InvalidInputError). ``exclude``: names of cases to leave out.
    """

    def pick(table, expect):
        table = [t for t in table if t[0] not in exclude]
        return st.sampled_from(table).map(lambda t: Case(t[1](shape), expect, t[0]))

    cases = [pick(_BAD_TYPE_ARRAYS, "type"), pick(_BAD_VALUE_ARRAYS, "value")]
    if extreme:
        cases.append(pick(_EXTREME_ARRAYS, "any"))
    return st.one_of(*cases)


# ------------------------------------------------------------------------------------------
# Scalars
# ------------------------------------------------------------------------------------------
_NOT_NUMBERS = [
    ("str", "3"),
    ("none", None),
    ("list", [1.0]),
    ("complex", 1 + 2j),
    ("np_complex", np.complex128(2.0)),
    ("bool", True),
    ("np_bool", np.bool_(False)),
    ("object", object()),
    ("bytes", b"1"),
]

_NON_FINITE = [("nan", float("nan")), ("inf", float("inf")), ("-inf", float("-inf"))]


def bad_reals(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
):
    """:class:`Case` s for a real-number argument valid in [low, high] (None: unbounded;
    ``open_low`` / ``open_high`` exclude the bound itself).

    Non-numbers expect TypeError, NaN/inf InvalidInputError; numbers of every real type,
    including 1e300 and 1e-300, expect "ok" inside the bounds and InvalidInputError outside.
    """

    def classify(value):
        v = float(value)
        above = low is None or (v > low if open_low else v >= low)
        below = high is None or (v < high if open_high else v <= high)
        return "ok" if above and below else "value"

    numbers = st.one_of(
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 1e-300, 5e-324, 2.0, 3.0]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**70), 2**70),
    )
    typed = numbers.flatmap(
        lambda v: st.sampled_from(
            [v]
            + ([np.float64(v), np.float32(v)] if isinstance(v, float) and abs(v) < 3e38 else [])
            + ([np.int64(v)] if isinstance(v, int) and abs(v) < 2**63 else [])
        )
    )
    return st.one_of(
        st.sampled_from(_NOT_NUMBERS).map(lambda t: Case(t[1], "type", t[0])),
        st.sampled_from(_NON_FINITE).map(lambda t: Case(t[1], "value", t[0])),
        typed.map(lambda v: Case(v, classify(v), f"{type(v).__name__}({v!r})")),
    )


def bad_integers(low: int | None = None, high: int | None = None):
    """:class:`Case` s for an integer-count argument valid in [low, high].

    Floats (3.0 too), strings, bools and the like expect TypeError; integers outside the
    bounds InvalidInputError; integers inside "ok".
    """

    def classify(v):
        return "ok" if (low is None or v >= low) and (high is None or v <= high) else "value"

    ints = st.one_of(
        st.integers(-5, 40),
        st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, -(2**63), 10**30]),
    )
    typed = ints.flatmap(
        lambda v: st.sampled_from([v] + ([np.int64(v), np.int32(v)] if abs(v) < 2**31 else []))
    )
    return st.one_of(
        st.sampled_from(
            _NOT_NUMBERS
            + [("float_int", 3.0), ("float", 2.5), ("np_float", np.float64(4.0))]
            + _NON_FINITE
        ).map(lambda t: Case(t[1], "type", t[0])),
        typed.map(lambda v: Case(v, classify(int(v)), f"{type(v).__name__}({v!r})")),
    )


def bad_flags():
    """:class:`Case` s for a boolean flag: True/False "ok", anything else TypeError."""
    return st.one_of(
        st.sampled_from([True, False, np.bool_(True)]).map(lambda v: Case(v, "ok", repr(v))),
        st.sampled_from([0, 1, "yes", None, 1.0, [True]]).map(lambda v: Case(v, "type", repr(v))),
    )


def bad_names(valid: list[str]):
    """:class:`Case` s for a registered name: valid "ok", unknown strings UnknownNameError
    (checked by the caller), non-strings TypeError."""
    return st.one_of(
        st.sampled_from(valid).map(lambda v: Case(v, "ok", repr(v))),
        st.one_of(
            st.text(max_size=12).filter(lambda s: s not in valid),
            st.sampled_from([v.upper() for v in valid if v.upper() not in valid] or ["X"]),
            st.sampled_from([v + " " for v in valid]),
        ).map(lambda v: Case(v, "unknown", repr(v))),
        st.sampled_from([None, 3, 1.5, b"lbfgs", ["lbfgs"]]).map(
            lambda v: Case(v, "type", repr(v))
        ),
    )


def expect_name(case: Case, fn: Callable[[], Any], check=None) -> Any:
    """:func:`outcome` for a :func:`bad_names` case (``"unknown"``: UnknownNameError)."""
    if case.expect == "unknown":
        with pytest.raises(UnknownNameError) as info:
            fn()
        _check_message(info.value)
        assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
        return None
    return outcome(fn, case.expect, check=check)


# ------------------------------------------------------------------------------------------
# The strategies themselves
# ------------------------------------------------------------------------------------------
@given(bad_arrays((3, 4)))
def test_bad_arrays_are_what_they_claim(case):
    value = case.value
    if case.expect == "type":
        assert not (isinstance(value, np.ndarray) and value.dtype.kind in "iuf"), case.what
    elif case.expect == "value":
        a = np.asarray(value)
        assert a.dtype.kind in "iuf"
        assert a.shape != (3, 4) or not np.all(np.isfinite(a))


@given(bad_reals(0.0, 1.0))
def test_bad_reals_are_what_they_claim(case):
    if case.expect == "ok":
        assert 0.0 <= float(case.value) <= 1.0


@given(good_values((2, 3)).flatmap(layouts))
def test_layouts_keep_the_values(item):
    what, arr, exact = item
    a = np.asarray(arr, dtype=np.float64)
    assert a.shape == (2, 3), what
    if what == "readonly":
        assert not arr.flags.writeable
    if what == "strided":
        assert not arr.flags.c_contiguous
    np.testing.assert_allclose(a, np.asarray(arr, dtype=np.float64))
