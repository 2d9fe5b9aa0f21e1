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
    if {a.dtype.kind, b.dtype.kind} & set("bcOU"):
        expect = "type"  # booleans, complex, object and string arrays are refused, not cast
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
    # (the fuzz tests run with ComplexWarning as an error; the refusal does not depend on it:
    # test_level1_refuses_complex)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(TypeError):
            _core.dot(np.ones(3, complex), np.ones(3))


def test_level1_refuses_complex():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any cast: no ComplexWarning either
        with pytest.raises(TypeError, match=r"dot: a must be a real .* got a complex128 array"):
            _core.dot(np.full(3, 1 + 5j), np.ones(3))
        with pytest.raises(TypeError, match="complex128"):
            _core.dot(np.ones(3), [1.0, 2.0, 1j])


@pytest.mark.parametrize(
    "a",
    [np.ones(3, bool), np.full(3, "0.5"), np.full(3, b"1"), np.full(3, 0.5, dtype=object)],
    ids=["bool", "string", "bytes", "object"],
)
def test_level1_refuses_non_numeric_arrays(a):
    with pytest.raises(TypeError, match="must be a real"):
        _core.dot(a, np.ones(3))


_NON_REAL = {
    "complex": lambda: np.full(4, 0.5 + 0j),
    "bool": lambda: np.ones(4, bool),
    "string": lambda: np.full(4, "0.5"),
    "bytes": lambda: np.full(4, b"1"),
    "object": lambda: np.full(4, 0.5, dtype=object),
    "none": lambda: None,
    "str": lambda: "0.5",
}


def _memory_call(method):
    def call(v):
        m = _core.LbfgsMemory(4, 2)
        good = np.linspace(1, 2, 4)
        m.push(good, good)
        return {
            "push": lambda: m.push(v, good),
            "push_step": lambda: m.push_step(good, 0.5, v, good),
            "two_loop": lambda: m.two_loop(v),
            "apply_b": lambda: m.apply_b(v),
            "apply_h": lambda: m.apply_h(v),
        }[method]()

    return call


def _diag(v):
    return np.diag(v) if isinstance(v, np.ndarray) else v


_FLOAT_ARGUMENTS = {
    "dot": lambda v: _core.dot(np.ones(4), v),
    "distance": lambda v: _core.distance(v, np.ones(4)),
    "step_point": lambda v: _core.step_point(np.ones(4), 0.5, v),
    "tridiagonal_eigh": lambda v: _core.tridiagonal_eigh(v, np.ones(3)),
    "gauss_quadrature": lambda v: _core.gauss_quadrature(np.ones(5), v),
    "symmetric_eigh": lambda v: _core.symmetric_eigh(_diag(v)),
    "lanczos_v0": lambda v: _core.lanczos(lambda x: x, v, 2),
    "lanczos_product": lambda v: _core.lanczos(lambda x: v, np.ones(4), 2),
    "eigsh_v0": lambda v: _core.eigsh(lambda x: x, v, 1, "LA", 1e-8, 3, 2),
    "eigsh_product": lambda v: _core.eigsh(lambda x: v, np.ones(4), 1, "LA", 1e-8, 3, 2),
    "assemble_ke": lambda v: _core.build_stiffness_pattern(1, 1, np.arange(8), False).assemble(
        _diag(np.resize(v, 8)) if isinstance(v, np.ndarray) else v, np.ones(1)
    ),
    "csr_residual_b": lambda v: _core.csr_residual(
        np.zeros(5, np.int32), np.zeros(0, np.int32), np.zeros(0), np.ones(4), v, False
    ),
    **{f"LbfgsMemory.{m}": _memory_call(m) for m in ("push", "push_step", "two_loop", "apply_b")},
}


@pytest.mark.parametrize("what", list(_NON_REAL))
@pytest.mark.parametrize("call", list(_FLOAT_ARGUMENTS))
def test_float_arguments_refuse_non_real_arrays(call, what):
    """Every float64 argument of the bindings (and a Python product's result) refuses what is
    no real array with a TypeError naming the function and the argument, before any cast."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="must be a real .*, got "):
            _FLOAT_ARGUMENTS[call](_NON_REAL[what]())


@pytest.mark.parametrize(
    "value",
    [np.full(3, 2, np.int64), np.full(3, 0.5, np.float32), [1, 2, 3], np.uint8([1, 2, 3])],
    ids=["int64", "float32", "list", "uint8"],
)
def test_float_arguments_accept_real_dtypes_and_lists(value):
    expected = float(np.sum(np.asarray(value, dtype=np.float64)))
    assert _core.dot(value, np.ones(3)) == expected


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
    # whatever happened, the memory is still usable and finite on good input: NaN or inf
    # pairs are refused, and pairs the products cannot use (overflowing s.y, y.y or s.s, y.y
    # underflowing to 0 as for s = 1, y = 1e-300, gamma or 1 / gamma overflowing as for
    # s = 5e-324, y = 1) are skipped (test_lbfgs_non_finite_pairs_are_not_stored)
    out = m.two_loop(good)
    assert out.shape == (5,)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(m.apply_h(good)))


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
    # the direction (float32 pairs: the compact form's own passes) is -H_k g, and descends
    d, slope = m.direction_and_slope(g)
    np.testing.assert_allclose(-d, h1, rtol=1e-6 if single else 0, atol=1e-12)
    assert slope < 0 and slope == pytest.approx(float(g @ d), rel=1e-12)


def _out_call(method, buffer):
    if method == "assemble":
        pattern = _core.build_stiffness_pattern(1, 1, np.arange(8), False)
        return pattern.assemble(np.eye(8), np.ones(1), buffer)
    m = _core.LbfgsMemory(3, 2)
    m.push(np.array([1.0, 0.5, 0.25]), np.ones(3))
    return getattr(m, method)(np.ones(3), out=buffer)


_NNZ = {"assemble": _core.build_stiffness_pattern(1, 1, np.arange(8), False).nnz}


@pytest.mark.parametrize("out", ["float32", "int64", "list", "big_endian"])
@pytest.mark.parametrize("method", ["two_loop", "apply_h", "apply_b", "assemble"])
def test_out_arguments_of_another_dtype_are_refused(method, out):
    """An out= the result cannot be written into in place is a TypeError (it used to be
    converted to a temporary float64 copy, written there, and the caller's buffer left alone)."""
    n = _NNZ.get(method, 3)
    buffer = (
        [0.0] * n if out == "list" else np.zeros(n, dtype=">f8" if out == "big_endian" else out)
    )
    with pytest.raises(TypeError, match="out must be a float64 array"):
        _out_call(method, buffer)


@pytest.mark.parametrize("method", ["two_loop", "apply_h", "apply_b", "assemble"])
def test_out_arguments_are_written_in_place(method):
    n = _NNZ.get(method, 3)
    buffer = np.full(n, np.nan)
    result = _out_call(method, buffer)
    assert np.shares_memory(result, buffer) and np.all(np.isfinite(buffer))
    with pytest.raises(ValueError, match="out must be a writeable contiguous"):
        _out_call(method, np.zeros(2 * n)[::2])
    readonly = np.zeros(n)
    readonly.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        _out_call(method, readonly)


@pytest.mark.parametrize("single", [False, True], ids=["float64", "float32"])
@pytest.mark.parametrize("method", ["push", "push_step"])
@pytest.mark.parametrize(
    "pair",
    [
        "inf_entry",
        "nan_entry",
        "-inf_entry",
        "overflow",
        "ss_overflow",
        "yy_underflow",
        "subnormal",
    ],
)
def test_lbfgs_non_finite_pairs_are_not_stored(pair, method, single):
    """NaN or inf entries are refused (ValueError, nothing stored); finite pairs whose products
    overflow or underflow are skipped like a failed curvature test (push returns False): s.y
    overflowing (s = y = 1e300), s.s overflowing (s = 1e300, y = 1), y.y underflowing to 0
    (s = 1, y = 1e-300), 1 / gamma overflowing (s = 5e-324, y = 1; in float32 storage s
    rounds to 0: a failed curvature test)."""
    m = _core.LbfgsMemory(5, 3, single)
    good = np.linspace(1, 2, 5)
    m.push(good, good)
    s, y = {
        "inf_entry": (np.ones(5), np.array([1.0, 1.0, np.inf, 1.0, 1.0])),
        "nan_entry": (np.array([np.nan, 1.0, 1.0, 1.0, 1.0]), np.ones(5)),
        "-inf_entry": (np.array([1.0, 1.0, 1.0, 1.0, -np.inf]), np.ones(5)),
        "overflow": (np.full(5, 1e300), np.full(5, 1e300)),
        "ss_overflow": (np.full(5, 1e300), np.ones(5)),
        "yy_underflow": (np.ones(5), np.full(5, 1e-300)),
        "subnormal": (np.full(5, 5e-324), np.ones(5)),
    }[pair]
    if method == "push":
        push = lambda: m.push(s, y)  # noqa: E731
    else:  # s = 1 * s, y = y - 0
        push = lambda: m.push_step(s, 1.0, y, np.zeros(5))  # noqa: E731
    before = (m.two_loop(good), m.apply_h(good), m.apply_b(good))
    if pair.endswith("_entry"):
        with pytest.raises(ValueError, match="must be finite"):
            push()
        assert m.n_skipped == 0
    else:
        assert push() is False
        assert m.n_skipped == 1
    assert m.size == 1 and m.n_pushed == 1
    after = (m.two_loop(good), m.apply_h(good), m.apply_b(good))
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.all(np.isfinite(b))


def test_lbfgs_push_step_refuses_a_non_finite_step_or_gradient():
    m = _core.LbfgsMemory(3, 2)
    with pytest.raises(ValueError, match="finite"):
        m.push_step(np.ones(3), np.inf, np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="must be finite"):
        m.push_step(np.ones(3), 1.0, np.array([1.0, np.inf, 1.0]), np.array([0.0, np.inf, 0.0]))
    assert m.size == 0


def test_lbfgs_push_refuses_an_infinite_precomputed_sy():
    m = _core.LbfgsMemory(2, 2)
    with pytest.raises(ValueError, match="sy must be finite"):
        m.push(np.ones(2), np.ones(2), sy=np.inf)
    assert m.size == 0


def test_lbfgs_apply_b_of_a_singular_middle_matrix_is_a_value_error():
    """Pairs of wildly different scales can make the compact form's middle matrix singular in
    floating point: a ValueError, not a RuntimeError."""
    m = _core.LbfgsMemory(5, 3)
    good = np.linspace(1, 2, 5)
    m.push(good, good)
    assert m.push(good, np.full(5, 2.0**62))
    with pytest.raises(ValueError, match="singular"):
        m.apply_b(good)
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


@pytest.mark.parametrize("call", ["lanczos", "lanczos_basis", "eigsh"])
def test_lanczos_and_eigsh_huge_bases_are_clear_memory_errors(call):
    """A Krylov basis beyond the machine's memory is a MemoryError naming the size, raised
    before anything is allocated (it was a bare MemoryError 'std::bad_alloc'): 4e6 x 4e6
    floats, 116 TiB."""
    n = 4 * 10**6
    run = in_subprocess(
        f"""
        n = {n}
        v0 = np.ones(n)
        product = lambda x: x
        calls = {{
            "lanczos": lambda: core.lanczos(product, v0, n),
            "lanczos_basis": lambda: core.lanczos(product, v0, n, return_basis=True),
            "eigsh": lambda: core.eigsh(product, v0, 1, "LA", 1e-8, n, 1),
        }}
        try:
            calls["{call}"]()
        except MemoryError as e:
            print("MemoryError:", e)
        """,
        timeout=20.0,
    )
    assert run.returncode == 0, run.stderr[-300:]
    name = call.split("_")[0]
    assert f"MemoryError: {name}(n={n}" in run.stdout, run.stdout
    assert "GiB" in run.stdout and "std::" not in run.stdout


@given(diag=bad_arrays((5,)), off=bad_arrays((4,)))
def test_tridiagonal_bindings(diag, off):
    """max_float entries included: solved scaled, or a ValueError when the eigenvalues
    overflow (test_tridiagonal_eigh_of_a_max_float_entry)."""

    def check(result):
        for a in result:
            assert np.all(np.isfinite(a))

    # (a TypeError, or the ValueError of a bad diag checked before off's type)
    expect = "error" if "type" in (diag.expect, off.expect) else "any"
    if diag.expect == "type":
        expect = "type"
    core(lambda: _core.tridiagonal_eigh(diag.value, off.value), expect, check=check)
    core(lambda: _core.gauss_quadrature(diag.value, off.value), expect, check=check)


@given(bad_arrays((4, 4)))
def test_symmetric_eigh_binding(case):
    def check(result):
        w, Z = result
        assert np.all(np.isfinite(w)) and np.all(np.isfinite(Z))

    expect = "type" if case.expect == "type" else "any"
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
    expect = "type" if (ke if which == "ke" else young).expect == "type" else "any"
    result = core(lambda: pattern.assemble(*args), expect)
    if result is not None:
        assert result.shape == (pattern.nnz,)


@given(
    mask=any_arrays(max_len=5),
    radius=st.one_of(
        st.floats(-1.0, 30.0),
        st.sampled_from([0.0, 1e-300, float("inf"), float("nan"), "2", None]),
        st.sampled_from([1e5, 1e9, 2.0**63, 1e300, float(np.finfo(float).max)]),
    ),
)
def test_cone_filter_binding(mask, radius):
    """Any mask, radii from below 0 to 1e300 (a 3x3 grid at radius 1e9 once ran for hours)."""
    expect = "any"
    if mask.dtype.kind in "cOU":
        expect = "type"  # complex, object and string masks are refused, not cast

    def check(result):
        indptr, indices, data = result
        assert indptr.shape == (mask.size + 1,)
        assert np.all(np.isfinite(data))
        assert indices.size == indptr[-1] == data.size
        assert np.all(indices >= 0) and np.all(indices < mask.size)

    core(lambda: _core.cone_filter(mask, radius), expect, check=check)


@pytest.mark.parametrize(
    "mask",
    [
        np.full((3, 3), 0.5),
        np.full((3, 3), -1.0),
        np.full((3, 3), 2, np.int64),
        np.full((3, 3), -1, np.int8),
        np.full((3, 3), np.nan),
        np.full((3, 3), 256, np.int64),  # (would wrap to 0 in uint8)
    ],
    ids=["0.5", "-1.0", "2", "int8_-1", "nan", "256"],
)
def test_cone_filter_binding_refuses_non_boolean_masks(mask):
    with pytest.raises(ValueError, match="cone_filter: mask must be a boolean array"):
        _core.cone_filter(mask, 2.0)


@pytest.mark.parametrize(
    "mask",
    [np.full((3, 3), 1 + 0j), np.full((3, 3), "1"), np.full((3, 3), 1, dtype=object), None],
    ids=["complex", "string", "object", "none"],
)
def test_cone_filter_binding_refuses_non_real_masks(mask):
    with pytest.raises(TypeError, match="cone_filter: mask must be a boolean array"):
        _core.cone_filter(mask, 2.0)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint8, np.float32])
def test_cone_filter_binding_accepts_0_1_masks(dtype):
    mask = np.array([[1, 0, 1], [1, 1, 0]], dtype=bool)
    expected = _core.cone_filter(mask, 1.5)
    for a, b in zip(_core.cone_filter(mask.astype(dtype), 1.5), expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("radius", [1e5, 1e9, 1e300, float(np.finfo(float).max)])
def test_cone_filter_binding_huge_radius(radius):
    """A radius beyond the grid covers the whole grid: every weight is about the radius, so
    every entry is 1/9 on a full 3x3 mask (the stencil is limited to the grid, and the
    weights are divided by the radius where their sums would overflow)."""
    try:
        run = in_subprocess(
            f"""
            indptr, indices, data = core.cone_filter(np.ones((3, 3), np.uint8), {radius!r})
            assert indices.size > 0, "empty filter"
            assert indptr.tolist() == list(range(0, 82, 9)), indptr
            assert np.allclose(data, 1 / 9, rtol=1e-4), data
            print("ok")
            """,
            timeout=10.0,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"cone_filter(3x3, {radius}) hangs")
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-300:]


def test_cone_filter_binding_too_large_for_memory():
    """A filter that cannot fit in memory is a MemoryError naming its size, raised before
    anything is allocated (3000 x 3000 cells at radius 1e9: petabytes)."""
    run = in_subprocess(
        """
        try:
            core.cone_filter(np.ones((3000, 3000), bool), 1e9)
        except MemoryError as e:
            print("MemoryError:", e)
        """,
        timeout=20.0,
    )
    assert run.returncode == 0, run.stderr[-300:]
    assert "MemoryError: cone_filter(radius=1e+09) on a 3000 x 3000 grid needs" in run.stdout
    assert "GiB" in run.stdout and "std::" not in run.stdout


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


@given(
    indptr=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=3, max_size=3),
    n_data=st.integers(0, 6),
)
def test_csr_residual_any_indptr(indptr, n_data):
    """Any int32 indptr (negative, decreasing, beyond the arrays): a ValueError, or a result
    only for a pattern inside the arrays. Run in-process: the checks come before any read."""
    ip = np.array(indptr, dtype=np.int32)
    valid = 0 <= ip[0] <= ip[1] <= ip[2] <= n_data

    def call():
        ix = np.zeros(n_data, np.int32)
        return _core.csr_residual(ip, ix, np.ones(n_data), np.ones(2), np.ones(2), False)

    if valid:
        core(call, "ok")
    else:
        with pytest.raises(ValueError, match="csr_residual: "):
            call()


@pytest.mark.parametrize(
    "case",
    ["negative_indptr", "min_int_indptr", "0d_b", "0d_x", "0d_data", "2d_indices", "wrapping"],
)
def test_csr_residual_refuses_bad_patterns(case):
    code = {
        "negative_indptr": "ip = np.array([-100000, 0], np.int32); b = np.ones(1)",
        "min_int_indptr": "ip = np.array([-(2**31), 0], np.int32); b = np.ones(1)",
        "0d_b": "ip = np.array([0, 0], np.int32); b = np.array(1.0)",
        "0d_x": "ip = np.array([0, 0], np.int32); b = np.ones(1); x = np.array(1.0)",
        "0d_data": "ip = np.array([0, 0], np.int32); b = np.ones(1); data = np.array(1.0)",
        "2d_indices": "ip = np.zeros(2, np.int32); b = np.ones(1); ix = np.zeros((1, 1), np.int32)",
        # int64 entries beyond int32 would wrap in a cast (2**32 -> 0)
        "wrapping": "ip = np.array([2**32, 2**32], np.int64); b = np.ones(1)",
    }[case]
    run = in_subprocess(
        "x = np.ones(1); data = np.zeros(0); ix = np.zeros(0, np.int32)\n"
        + code
        + """
try:
    core.csr_residual(ip, ix, data, x, b, False)
    print("result")
except ValueError as e:
    print("ValueError", e)
"""
    )
    assert run.returncode == 0, f"crashed with return code {run.returncode}"
    assert "ValueError csr_residual: " in run.stdout, run.stdout + run.stderr[-300:]


@pytest.mark.parametrize("arg", ["indptr", "indices"])
@pytest.mark.parametrize("dtype", [np.float64, np.bool_, np.complex128])
def test_csr_residual_refuses_non_integer_index_arrays(arg, dtype):
    arrays = {"indptr": np.array([0, 1]), "indices": np.array([0])}
    arrays[arg] = arrays[arg].astype(dtype)
    with pytest.raises(TypeError, match=f"csr_residual: {arg} must be an integer array"):
        _core.csr_residual(
            arrays["indptr"], arrays["indices"], np.ones(1), np.ones(1), np.ones(1), False
        )


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


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shrink": 1.0},
        {"shrink": 2.0},
        {"shrink": float("nan")},
        {"shrink": 0.0},
        {"shrink": -0.5},
        {"shrink": float("inf")},
        {"c1": 0.0},
        {"c1": 1.0},
        {"c1": -1.0},
        {"c1": 2.0},
        {"c1": float("nan")},
        {"stpmin": 0.0},
        {"stpmin": -1.0},
        {"stpmin": float("nan")},
        {"stpmin": float("inf")},
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_armijo_refuses_constants_outside_their_ranges(kwargs):
    """shrink 1 or NaN never ended, shrink 2 'converged' at a step 4x the first trial; c1 and
    stpmin outside their ranges end the same ways: ValueError naming the constant."""
    (name,) = kwargs
    with pytest.raises(ValueError, match=f"Armijo: {name} must"):
        _core.Armijo(**kwargs)


@pytest.mark.parametrize("shrink", [0.5, 0.1, 0.999])
def test_armijo_shrink_factors_inside_0_1(shrink):
    search = _core.Armijo(shrink=shrink)
    task = _drive(search, (1.0, -1.0, 1.0), lambda s: s.iterate(5.0), max_iter=100_000)
    assert task == _core.Task.WARNING and 0 < search.step <= 1.0


def test_tridiagonal_eigh_of_a_max_float_entry_off_diagonal():
    """An off-diagonal entry of 1.8e308 raised RuntimeError 'no convergence' (overflow in the
    QL sweeps): the matrix is solved scaled by a power of two, the eigenvalues scaled back."""
    big = np.finfo(float).max
    off = np.full(4, 0.25)
    off[2] = big
    w, Z = _core.tridiagonal_eigh(np.zeros(5), off)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(Z))
    scale = 2.0**-1022  # (exact: the entry becomes about 4)
    T = np.diag(off * scale, 1) + np.diag(off * scale, -1)
    np.testing.assert_allclose(w * scale, np.linalg.eigvalsh(T), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Z.T @ Z, np.eye(5), atol=1e-12)
    nodes, weights = _core.gauss_quadrature(np.zeros(5), off)
    np.testing.assert_array_equal(nodes, w)
    assert weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("where", ["diag", "off"])
def test_tridiagonal_eigh_of_a_max_float_entry(where):
    """Finite eigenvalues, or a ValueError when they lie beyond float64 (1.8e308 on the
    diagonal plus couplings of 1e300)."""
    diag, off = np.zeros(5), np.full(4, 0.25)
    (diag if where == "diag" else off)[2] = np.finfo(float).max
    if where == "diag":
        off[:] = 1e300

    def check(result):
        for a in result:
            assert np.all(np.isfinite(a))

    result = core(lambda: _core.tridiagonal_eigh(diag, off), "any", check=check)
    if result is None:
        with pytest.raises(ValueError, match="overflow"):
            _core.tridiagonal_eigh(diag, off)


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
