"""Property-based tests (Hypothesis) of the bindings in ``toposcape._core``, called directly with
wrong dtypes, shapes, non-contiguous and read-only arrays, extreme values and bad scalars. A
binding must raise (TypeError, ValueError, or a MemoryError naming the size), never crash,
hang, read out of bounds, leak a C++ message or silently cast.

Calls that could crash the interpreter or hang run in a subprocess with a time limit.

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_fuzz_strategies import bad_arrays, good_values, layouts, outcome
from toposcape import _core

#: What a binding may raise for bad input.
CORE_ERRORS = (TypeError, ValueError, MemoryError)


def core(fn, expect="any", check=None):
    return outcome(fn, expect, errors=CORE_ERRORS, check=check)


def in_subprocess(code: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Run ``code`` (numpy as np and toposcape._core as core imported) in a fresh interpreter."""
    program = "import numpy as np\nfrom toposcape import _core as core\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout
    )


# ------------------------------------------------------------------------------------------
# Arrays of any kind
# ------------------------------------------------------------------------------------------
DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.int64,
    np.int32,
    np.uint8,
    np.bool_,
    np.complex128,
    object,
    "U3",
]


@st.composite
def any_arrays(draw, max_len=6):
    """Arrays of any dtype, 0 to 2 dimensions, in any layout."""
    ndim = draw(st.integers(0, 2))
    shape = tuple(draw(st.lists(st.integers(0, max_len), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    values = draw(
        st.lists(
            st.floats(-1e3, 1e3),
            min_size=int(np.prod(shape)),
            max_size=int(np.prod(shape)),
        )
    )
    base = np.array(values, dtype=np.float64).reshape(shape)
    if dtype == "U3":
        arr = base.astype("U3")
    elif dtype is object:
        arr = base.astype(object)
    else:
        arr = base.astype(dtype)
    layout = draw(st.sampled_from(["plain", "strided", "readonly", "fortran"]))
    if layout == "strided" and arr.ndim >= 1:
        big = np.zeros((*arr.shape[:-1], 2 * arr.shape[-1]), dtype=arr.dtype)
        big[..., ::2] = arr
        arr = big[..., ::2]
    elif layout == "readonly":
        arr = arr.copy()
        arr.setflags(write=False)
    elif layout == "fortran":
        arr = np.asfortranarray(arr)
    return arr


def _real_1d(a) -> bool:
    return isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "iuf"


# ------------------------------------------------------------------------------------------
# Level 1: dot, distance, step_point
# ------------------------------------------------------------------------------------------
@given(any_arrays(), any_arrays(), st.floats(allow_nan=True, allow_infinity=True))
def test_level1_any_arrays(a, b, step):
    both_ok = _real_1d(a) and _real_1d(b) and a.shape == b.shape
    expect = "any" if both_ok else "error"
    if {a.dtype.kind, b.dtype.kind} & set("bOU"):
        expect = "any"  # booleans, object and string arrays of numbers are cast (reported)
    ref_dot = float(np.dot(a.astype(float), b.astype(float))) if both_ok else None

    def check_dot(r):
        assert isinstance(r, float)
        if ref_dot is not None:
            assert r == pytest.approx(ref_dot, rel=1e-6, abs=1e-6)

    core(lambda: _core.dot(a, b), expect, check=check_dot)
    core(lambda: _core.distance(a, b), expect)
    core(lambda: _core.step_point(a, step, b), expect)


@given(good_values((7,), -1e3, 1e3).flatmap(lambda a: st.tuples(st.just(a), layouts(a))))
def test_level1_layouts_equal_contiguous(item):
    a, (what, variant, exact) = item
    ref = np.asarray(variant, dtype=np.float64)
    assert _core.dot(variant, variant) == _core.dot(ref, ref)
    np.testing.assert_array_equal(_core.step_point(variant, 0.5, ref), ref + 0.5 * ref)


def test_level1_refuses_complex_only_with_warnings_as_errors():
    # (the fuzz tests run with ComplexWarning as an error, which turns the cast into a
    # TypeError; test_level1_refuses_complex shows the default behaviour)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(TypeError):
            _core.dot(np.ones(3, complex), np.ones(3))


@pytest.mark.xfail(
    strict=True,
    reason="_core (src/arrays.hpp carray forcecast): a complex array passed as a float64 "
    "argument is cast with only a ComplexWarning (imaginary part dropped): "
    "dot(np.full(3, 1 + 5j), np.ones(3)) == 3.0",
)
def test_level1_refuses_complex():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        with pytest.raises(TypeError):
            _core.dot(np.full(3, 1 + 5j), np.ones(3))


@pytest.mark.xfail(
    strict=True,
    reason="_core (src/arrays.hpp carray forcecast): boolean, string ('0.5'), bytes and object "
    "arrays of numbers are converted silently by every float64 argument (dot, distance, "
    "step_point, tridiagonal_eigh, symmetric_eigh, ...; convention: TypeError)",
)
@pytest.mark.parametrize(
    "a",
    [np.ones(3, bool), np.full(3, "0.5"), np.full(3, b"1"), np.full(3, 0.5, dtype=object)],
    ids=["bool", "string", "bytes", "object"],
)
def test_level1_refuses_non_numeric_arrays(a):
    with pytest.raises(TypeError):
        _core.dot(a, np.ones(3))


# ------------------------------------------------------------------------------------------
# LbfgsMemory
# ------------------------------------------------------------------------------------------
@given(
    n=st.one_of(st.integers(-3, 50), st.sampled_from([2**31, 2**40, 2**62, 3.0, "3", None])),
    memory=st.one_of(st.integers(-3, 20), st.sampled_from([2**31, 2**40, 2.0, None])),
    single=st.sampled_from([True, False, 0, 1, None, "yes"]),
)
def test_lbfgs_memory_construction(n, memory, single):
    def check(m):
        assert m.n == n and m.memory == memory and m.size == 0

    core(lambda: _core.LbfgsMemory(n, memory, single), "any", check=check)


@given(
    s=bad_arrays((5,)),
    y=bad_arrays((5,)),
    which=st.sampled_from(["push", "push_step", "two_loop", "apply_b", "apply_h"]),
)
def test_lbfgs_memory_bad_vectors(s, y, which):
    m = _core.LbfgsMemory(5, 3)
    good = np.linspace(1, 2, 5)
    m.push(good, good)
    calls = {
        "push": lambda: m.push(s.value, y.value),
        "push_step": lambda: m.push_step(s.value, 0.5, y.value, good),
        "two_loop": lambda: m.two_loop(s.value),
        "apply_b": lambda: m.apply_b(s.value),
        "apply_h": lambda: m.apply_h(s.value),
    }
    core(calls[which], "any")
    # whatever happened, the memory is still usable, and finite on good input unless an inf or
    # overflowing pair went in (test_lbfgs_non_finite_pairs_are_not_stored)
    out = m.two_loop(good)
    assert out.shape == (5,)
    non_finite = {"nan", "inf", "-inf", "huge", "-huge", "huge_mixed", "max_float", "big_int"}
    non_finite |= {"tiny", "tiny_mixed", "subnormal"}  # s.y so small that 1/(s.y) overflows
    if which not in ("push", "push_step") or not {s.what, y.what} & non_finite:
        assert np.all(np.isfinite(out))


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(2, 12), st.booleans())
def test_lbfgs_two_loop_equals_compact_products(seed, memory, n, single):
    """H_k g by the two-loop recursion equals the compact representation's H_k g, and B_k
    inverts H_k, for curvature pairs with s.y > 0."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)
    m = _core.LbfgsMemory(n, memory, single)
    for _ in range(memory + 2):
        s = rng.normal(size=n)
        m.push(s, A @ s)
    g = rng.normal(size=n)
    h1 = m.two_loop(g)
    h2 = m.apply_h(g)
    np.testing.assert_allclose(h1, h2, rtol=1e-6 if single else 1e-9, atol=1e-12)
    np.testing.assert_allclose(m.apply_b(h2), g, rtol=1e-5 if single else 1e-8, atol=1e-9)


@pytest.mark.xfail(
    strict=True,
    reason="_core (src/arrays.hpp output_arg): out=float32/int64 arrays (or a list) are "
    "converted to a temporary float64 copy; the result is written there and the caller's out "
    "is left untouched, silently (LbfgsMemory.two_loop/apply_b/apply_h, "
    "StiffnessPattern.assemble)",
)
@pytest.mark.parametrize("out", ["float32", "int64", "list"])
@pytest.mark.parametrize("method", ["two_loop", "apply_h", "assemble"])
def test_out_arguments_are_written_or_refused(method, out):
    if method == "assemble":
        pattern = _core.build_stiffness_pattern(1, 1, np.arange(8), False)
        n = pattern.nnz
        buffer = [0.0] * n if out == "list" else np.zeros(n, dtype=out)
        result = pattern.assemble(np.eye(8), np.ones(1), buffer)
    else:
        m = _core.LbfgsMemory(3, 2)
        buffer = [0.0] * 3 if out == "list" else np.zeros(3, dtype=out)
        result = getattr(m, method)(np.ones(3), out=buffer)
    assert np.shares_memory(result, buffer) if isinstance(buffer, np.ndarray) else False


@pytest.mark.xfail(
    strict=True,
    reason="_core LbfgsMemory.push: a pair with an inf entry (s = 1, y = [1, 1, inf, 1, 1]), pairs "
    "whose s.y overflows (s = y = 1e300) or whose s.y is subnormal (s = 5e-324, y = 1: 1/s.y "
    "overflows) are stored, and every later two_loop/apply_h returns NaN",
)
@pytest.mark.parametrize("pair", ["inf_entry", "overflow", "subnormal"])
def test_lbfgs_non_finite_pairs_are_not_stored(pair):
    m = _core.LbfgsMemory(5, 3)
    good = np.linspace(1, 2, 5)
    m.push(good, good)
    s, y = {
        "inf_entry": (np.ones(5), np.array([1.0, 1.0, np.inf, 1.0, 1.0])),
        "overflow": (np.full(5, 1e300), np.full(5, 1e300)),
        "subnormal": (np.full(5, 5e-324), np.ones(5)),
    }[pair]
    try:
        m.push(s, y)
    except ValueError:
        pass
    assert np.all(np.isfinite(m.two_loop(good)))


# ------------------------------------------------------------------------------------------
# Lanczos, eigsh, tridiagonal and dense eigen-solves
# ------------------------------------------------------------------------------------------
def _products():
    A = np.diag(np.arange(1.0, 7.0))
    return st.sampled_from(
        [
            ("ok", lambda x: A @ x),
            ("nan", lambda x: np.full(6, np.nan)),
            ("short", lambda x: (A @ x)[:-1]),
            ("2d", lambda x: np.outer(x, x)),
            ("complex", lambda x: A @ x + 1j),
            ("list", lambda x: list(A @ x)),
            ("none", lambda x: None),
            ("str", lambda x: "abc"),
            ("float32", lambda x: (A @ x).astype(np.float32)),
            ("bool", lambda x: A @ x > 3),
            ("int", lambda x: np.arange(6)),
            ("strided", lambda x: np.repeat(A @ x, 2)[::2]),
            ("raises", lambda x: 1 / 0),
        ]
    )


@given(product=_products(), v0=bad_arrays((6,)), steps=st.integers(-2, 8))
def test_lanczos_binding(product, v0, steps):
    what, matvec = product
    errors = CORE_ERRORS + ((ZeroDivisionError,) if what == "raises" else ())

    def check(result):
        alpha, beta = result
        assert np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))

    outcome(lambda: _core.lanczos(matvec, v0.value, steps), "any", errors=errors, check=check)
    outcome(
        lambda: _core.lanczos(matvec, np.ones(6), max(steps, 1) if steps <= 6 else 6),
        "ok" if what in ("ok", "float32", "int", "strided") and 1 <= steps <= 6 else "any",
        errors=errors,
        check=check,
    )


@given(
    product=_products(),
    k=st.integers(-1, 7),
    which=st.sampled_from(["LA", "SA", "BE", "LM", "XX", ""]),
    tol=st.sampled_from([1e-10, 0.0, -1.0, float("nan"), float("inf"), 1e300]),
    ncv=st.integers(-1, 8),
    restarts=st.integers(-1, 5),
)
def test_eigsh_binding(product, k, which, tol, ncv, restarts):
    what, matvec = product
    errors = CORE_ERRORS + ((ZeroDivisionError,) if what == "raises" else ())

    def check(res):
        assert np.all(np.isfinite(res["values"])) and np.all(np.isfinite(res["vectors"]))

    outcome(
        lambda: _core.eigsh(matvec, np.ones(6), k, which, tol, ncv, restarts),
        "any",
        errors=errors,
        check=check,
    )


@given(diag=bad_arrays((5,), exclude={"max_float"}), off=bad_arrays((4,), exclude={"max_float"}))
def test_tridiagonal_bindings(diag, off):
    def check(result):
        for a in result:
            assert np.all(np.isfinite(a))

    expect = "error" if "type" in (diag.expect, off.expect) else "any"
    if {diag.what, off.what} & {"bool", "object_numbers", "string", "bytes"}:
        expect = "any"  # booleans and object arrays of numbers are cast (reported with dot)
    core(lambda: _core.tridiagonal_eigh(diag.value, off.value), expect, check=check)
    core(lambda: _core.gauss_quadrature(diag.value, off.value), expect, check=check)


@given(bad_arrays((4, 4)))
def test_symmetric_eigh_binding(case):
    def check(result):
        w, Z = result
        assert np.all(np.isfinite(w)) and np.all(np.isfinite(Z))

    # booleans and object arrays of numbers are cast (reported with dot)
    cast = ("bool", "object_numbers", "string", "bytes")
    expect = "error" if case.expect == "type" and case.what not in cast else "any"
    core(lambda: _core.symmetric_eigh(case.value), expect, check=check)


# ------------------------------------------------------------------------------------------
# FEM: stiffness pattern, assembly, cone filter
# ------------------------------------------------------------------------------------------
@given(
    width=st.one_of(st.integers(-2, 6), st.sampled_from([2**31, 2**62 - 1, 2.0, "2", None])),
    height=st.integers(-2, 6),
    free_index=any_arrays(max_len=60),
    upper=st.sampled_from([True, False, 1, None]),
)
def test_stiffness_pattern_binding(width, height, free_index, upper):
    core(lambda: _core.build_stiffness_pattern(width, height, free_index, upper), "any")


@given(
    ke=bad_arrays((8, 8)),
    young=bad_arrays((6,)),
    which=st.sampled_from(["ke", "young"]),
)
def test_assemble_binding(ke, young, which):
    n_dof = 2 * 4 * 3
    pattern = _core.build_stiffness_pattern(3, 2, np.arange(n_dof, dtype=np.int64), False)
    good_ke, good_young = np.eye(8), np.ones(6)
    args = (ke.value, good_young) if which == "ke" else (good_ke, young.value)
    result = core(lambda: pattern.assemble(*args), "any")
    if result is not None:
        assert result.shape == (pattern.nnz,)


@given(
    mask=any_arrays(max_len=5),
    radius=st.one_of(
        st.floats(-1.0, 30.0),
        st.sampled_from([0.0, 1e-300, float("inf"), "2", None]),
    ),
)
def test_cone_filter_binding(mask, radius):
    """Radii up to 30 only: larger ones hang or exhaust memory (test_cone_filter_binding_*)."""
    expect = "any"
    if mask.dtype.kind == "c":
        expect = "error"  # (object and string arrays of numbers are cast: reported)

    def check(result):
        indptr, indices, data = result
        assert indptr.shape == (mask.size + 1,)
        assert np.all(np.isfinite(data))

    core(lambda: _core.cone_filter(mask, radius), expect, check=check)


@pytest.mark.xfail(
    strict=True,
    reason="_core.cone_filter (src/fem.cpp, uint8 forcecast): a float mask of 0.5 becomes 0 "
    "(an empty filter) and -1 becomes 255, silently",
)
def test_cone_filter_binding_refuses_non_boolean_masks():
    with pytest.raises((TypeError, ValueError)):
        _core.cone_filter(np.full((3, 3), 0.5), 2.0)


@pytest.mark.xfail(
    strict=True,
    reason="_core.cone_filter (cpp/fem/filter.cpp): the stencil loop covers ceil(radius) in "
    "each direction whatever the grid: radius 1e9 on a 3x3 mask runs for hours, 1e5 raises "
    "MemoryError 'std::bad_alloc', 1e300 (ceil beyond int64) returns an empty filter",
)
@pytest.mark.parametrize("radius", [1e5, 1e9, 1e300])
def test_cone_filter_binding_huge_radius(radius):
    try:
        run = in_subprocess(
            f"""
            r = core.cone_filter(np.ones((3, 3), np.uint8), {radius!r})
            assert r[1].size > 0, "empty filter"
            print("ok")
            """,
            timeout=4.0,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"cone_filter(3x3, {radius}) hangs")
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-300:]


# ------------------------------------------------------------------------------------------
# csr_residual: out-of-bounds reads (in a subprocess)
# ------------------------------------------------------------------------------------------
@given(
    indptr=st.lists(st.integers(0, 6), min_size=3, max_size=3).map(sorted),
    indices=st.lists(st.integers(-2, 4), min_size=0, max_size=6),
    n_data=st.integers(0, 6),
)
def test_csr_residual_consistent_patterns(indptr, indices, n_data):
    """Non-decreasing, non-negative indptr: a result or a ValueError, never a wrong read."""
    ip = np.array(indptr, dtype=np.int32)
    ix = np.array(indices, dtype=np.int32)
    data = np.ones(n_data)
    core(lambda: _core.csr_residual(ip, ix, data, np.ones(2), np.ones(2), False), "any")


@pytest.mark.xfail(
    strict=True,
    reason="_core.csr_residual (src/fem.cpp): a negative indptr[0] is not checked; rows are read "
    "from data[indptr[0]] before the array (out of bounds: NaN results for -100000, a segfault "
    "for -2**31); a 0-d b raises IndexError 'invalid axis' instead of ValueError",
)
@pytest.mark.parametrize("case", ["negative_indptr", "min_int_indptr", "0d_b"])
def test_csr_residual_refuses_bad_patterns(case):
    code = {
        "negative_indptr": "ip = np.array([-100000, 0], np.int32); b = np.ones(1)",
        "min_int_indptr": "ip = np.array([-(2**31), 0], np.int32); b = np.ones(1)",
        "0d_b": "ip = np.array([0, 0], np.int32); b = np.array(1.0)",
    }[case]
    run = in_subprocess(
        code
        + """
try:
    core.csr_residual(ip, np.zeros(0, np.int32), np.zeros(0), np.ones(1), b, False)
    print("result")
except ValueError:
    print("ValueError")
"""
    )
    assert run.returncode == 0, f"crashed with return code {run.returncode}"
    assert "ValueError" in run.stdout, run.stdout + run.stderr[-300:]


# ------------------------------------------------------------------------------------------
# Line searches: bad constants must raise or end, never loop forever
# ------------------------------------------------------------------------------------------
def _drive(search, start_args, f, max_iter=500):
    task = search.start(*start_args)
    for _ in range(max_iter):
        if task != _core.Task.EVALUATE:
            return task
        task = f(search)
    return task


@given(
    ftol=st.sampled_from([1e-3, -1.0, 0.0, 2.0, float("nan")]),
    gtol=st.sampled_from([0.9, -1.0, 0.0, 2.0, float("nan")]),
    stpmax=st.sampled_from([1e10, 0.0, -1.0, float("inf"), float("nan")]),
    f0=st.sampled_from([1.0, float("nan"), 1e300]),
    g0=st.sampled_from([-1.0, 1.0, 0.0, float("nan"), -1e300]),
)
def test_more_thuente_terminates(ftol, gtol, stpmax, f0, g0):
    search = core(lambda: _core.MoreThuente(ftol=ftol, gtol=gtol, stpmax=stpmax), "any")
    if search is None:
        return

    def f(s):
        t = s.step
        return s.iterate((t - 2.0) ** 2 - 3.0, 2.0 * (t - 2.0))

    task = _drive(search, (f0, g0, 1.0), f, max_iter=5000)  # g0 = -1e300: ~660 iterations
    assert task != _core.Task.EVALUATE, "the line search never ends"


@given(
    c1=st.sampled_from([1e-4, 0.5, -1.0, 2.0, float("nan")]),
    shrink=st.sampled_from([0.5, 0.1, 0.9, 0.0, -0.5]),
)
def test_armijo_terminates(c1, shrink):
    search = core(lambda: _core.Armijo(c1=c1, shrink=shrink), "any")
    if search is None:
        return
    task = _drive(search, (1.0, -1.0, 1.0), lambda s: s.iterate(5.0))
    assert task != _core.Task.EVALUATE, "the line search never ends"
    if task == _core.Task.CONVERGED:
        assert 0 < search.step <= 1.0, "converged to a step above the first trial"


@pytest.mark.xfail(
    strict=True,
    reason="_core.Armijo (cpp/optim line search): shrink=1.0 or NaN is accepted and the search "
    "never ends (the step never changes); shrink=2.0 is accepted and 'converges' at a step 4x the "
    "first trial after a failed decrease",
)
@pytest.mark.parametrize("shrink", [1.0, 2.0, float("nan")])
def test_armijo_refuses_shrink_factors_outside_0_1(shrink):
    search = core(lambda: _core.Armijo(shrink=shrink), "any")
    if search is None:
        return
    task = _drive(search, (1.0, -1.0, 1.0), lambda s: s.iterate(5.0))
    assert task != _core.Task.EVALUATE, "the line search never ends"
    if task == _core.Task.CONVERGED:
        assert 0 < search.step <= 1.0, "converged to a step above the first trial"


@pytest.mark.xfail(
    strict=True,
    reason="_core.tridiagonal_eigh (cpp/linalg): an entry of 1.8e308 (diagonal or "
    "off-diagonal) raises RuntimeError 'tridiagonal_eigh: no convergence' (overflow inside the "
    "QL sweeps) instead of a ValueError or a scaled solve",
)
@pytest.mark.parametrize("where", ["diag", "off"])
def test_tridiagonal_eigh_of_a_max_float_entry(where):
    diag, off = np.zeros(5), np.full(4, 0.25)
    (diag if where == "diag" else off)[2] = np.finfo(float).max
    if where == "diag":
        off[:] = 1e300
    core(lambda: _core.tridiagonal_eigh(diag, off), "any")


@given(
    xtol=st.sampled_from([1e-4, 0.0, -1.0, float("nan"), float("inf")]),
    expansions=st.sampled_from([50, 0, -5, 2**31 - 1]),
)
def test_golden_section_terminates(xtol, expansions):
    search = core(lambda: _core.GoldenSection(xtol=xtol, max_expansions=expansions), "any")
    if search is None:
        return
    task = _drive(search, (1.0, 1.0), lambda s: s.iterate((s.step - 0.3) ** 2), max_iter=3000)
    assert task != _core.Task.EVALUATE, "the line search never ends"
