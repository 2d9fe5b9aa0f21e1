"""Property-based tests (Hypothesis) of ``ts.landscape``: ``hessian``, ``eigsh``, ``lanczos``,
``spectral_density``, ``trace``, ``curvature``, ``interpolate`` and ``plane`` with bad operators
(NaN, huge, tiny, complex, non-square), operators whose products are bad, and bad counts, seeds
and vectors.

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator

import toposcape as ts
from test_fuzz_strategies import (
    bad_arrays,
    bad_flags,
    bad_integers,
    finite_array,
    good_values,
    outcome,
)

L = ts.landscape
N = 8


def _sym(seed=0, scale=1.0):
    m = np.random.default_rng(seed).normal(size=(N, N))
    return scale * (m + m.T)


class Quadratic:
    size = N

    def __init__(self, A=None):
        self.A = _sym() if A is None else A
        self.x0 = np.zeros(N)

    def value_and_grad(self, theta):
        return float(0.5 * theta @ self.A @ theta), self.A @ theta

    def hvp(self, theta, v):
        return self.A @ v


def _operator(kind):
    """A LinearOperator whose products are of one bad kind."""

    def matvec(x):
        y = _sym() @ np.ravel(x)
        return {
            "nan": np.full(N, np.nan),
            "inf": np.full(N, np.inf),
            "huge": 1e300 * y,
            "tiny": 1e-300 * y,
            "short": y[:-1],
            "2d": np.outer(y, y),
            "complex": y + 1j,
            "list": y.tolist(),
            "string": np.array(["1"] * N),
            "none": None,
            "scalar": 1.0,
            "object": np.array([object()] * N, dtype=object),
            "bool": y > 0,
        }[kind]

    return LinearOperator((N, N), matvec=matvec, dtype=np.float64)


OPERATOR_KINDS = [
    "nan",
    "inf",
    "huge",
    "tiny",
    "short",
    "2d",
    "complex",
    "list",
    "string",
    "none",
    "scalar",
    "object",
    "bool",
]


def _spectrum_calls(H):
    return [
        lambda: L.eigsh(H, k=2, progress=False),
        lambda: L.lanczos(H, 4, progress=False),
        lambda: L.spectral_density(H, runs=1, steps=4, n_grid=50, progress=False),
        lambda: L.trace(H, samples=3, progress=False),
    ]


def _check_finite_result(result):
    arrays = result if isinstance(result, tuple) else (result,)
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            assert np.all(np.isfinite(a)), "NaN or inf in a result of finite input"
        elif isinstance(a, float):
            assert np.isfinite(a)


# ------------------------------------------------------------------------------------------
# Operators
# ------------------------------------------------------------------------------------------
@given(bad_arrays((N, N), exclude={"max_float"}))
def test_spectra_of_bad_matrices(case):
    expect = case.expect
    for call in _spectrum_calls(case.value):
        outcome(call, expect, check=_check_finite_result)


def test_trace_of_a_matrix_with_a_max_float_entry():
    H = np.full((N, N), 0.25)
    H.flat[32] = np.finfo(float).max
    outcome(lambda: L.trace(H, samples=3, progress=False), "any", check=_check_finite_result)


@given(st.sampled_from([1e300, 1e-300, 1e150, 5e-324]), st.integers(0, 100))
def test_spectra_of_extreme_but_finite_matrices(scale, seed):
    """Finite input, finite answer or a clear InvalidInputError (never NaN or a ValueError
    from inside the core)."""
    H = _sym(seed, scale)
    for call in _spectrum_calls(H):
        outcome(call, "any", check=_check_finite_result)


#: Bad products (NaN, inf, a wrong shape, None, a scalar): a clear error from every function.
UNCHECKED_PRODUCTS = ["nan", "inf", "short", "2d", "none", "scalar"]


@given(st.sampled_from([k for k in OPERATOR_KINDS if k not in UNCHECKED_PRODUCTS]))
def test_spectra_of_operators_with_bad_products(kind):
    expect = "any" if kind in ("huge", "tiny", "list") else "error"
    for call in _spectrum_calls(_operator(kind)):
        outcome(call, expect, check=_check_finite_result)


@pytest.mark.parametrize("kind", UNCHECKED_PRODUCTS)
@pytest.mark.parametrize("function", ["eigsh", "lanczos", "spectral_density", "trace"])
def test_spectra_of_operators_with_unchecked_products(function, kind):
    calls = dict(
        zip(
            ["eigsh", "lanczos", "spectral_density", "trace"],
            _spectrum_calls(_operator(kind)),
            strict=True,
        )
    )
    outcome(calls[function], "error")


@given(st.sampled_from([None, 3, "H", object(), [[1, 2], [3, 4]], np.ones(3)]))
def test_spectra_of_non_operators(H):
    for call in _spectrum_calls(H):
        outcome(call, "error")


# ------------------------------------------------------------------------------------------
# Counts, seeds, start vectors
# ------------------------------------------------------------------------------------------
@given(k=bad_integers(1, N), which=st.sampled_from(["LA", "SA", "BE", "LM"]))
def test_eigsh_bad_k(k, which):
    def check(result):
        w, V = result
        assert w.shape == (int(k.value),) and V.shape == (N, int(k.value))
        np.testing.assert_allclose(
            _sym() @ V, V * w, atol=1e-6 * np.abs(np.linalg.eigvalsh(_sym())).max()
        )

    outcome(lambda: L.eigsh(_sym(), k=k.value, which=which, progress=False), k.expect, check=check)


@given(st.one_of(st.text(max_size=4), st.sampled_from([None, 1, b"LA", ["LA"]])))
def test_eigsh_bad_which(which):
    if which in ("LA", "SA", "BE", "LM"):
        return
    outcome(lambda: L.eigsh(_sym(), k=2, which=which, progress=False), "error")


@given(steps=bad_integers(1, N))
def test_lanczos_bad_steps(steps):
    outcome(lambda: L.lanczos(_sym(), steps.value, progress=False), steps.expect)


#: Finite, nonzero start vectors the core refuses (its norm over- or underflows).
EXTREME_V0 = {"huge", "-huge", "huge_mixed", "tiny", "tiny_mixed", "subnormal", "max_float"}


@given(v0=bad_arrays((N,), exclude=EXTREME_V0))
def test_lanczos_and_eigsh_bad_start_vectors(v0):
    expect = v0.expect
    if v0.what == "zeros":
        expect = "value"
    if v0.value is None:
        expect = "ok"  # None: a random start vector
    for call in (
        lambda: L.lanczos(_sym(), 4, v0=v0.value, progress=False),
        lambda: L.eigsh(_sym(), k=2, v0=v0.value, progress=False),
    ):
        outcome(call, expect, check=_check_finite_result)


@pytest.mark.parametrize("value", [1e300, 1e-300, 5e-324])
@pytest.mark.parametrize("function", ["lanczos", "eigsh"])
def test_extreme_start_vectors(function, value):
    v0 = np.full(N, value)
    call = {
        "lanczos": lambda: L.lanczos(_sym(), 4, v0=v0, progress=False),
        "eigsh": lambda: L.eigsh(_sym(), k=2, v0=v0, progress=False),
    }[function]
    outcome(call, "ok", check=_check_finite_result)


@given(
    seed=st.one_of(
        st.sampled_from([None, 0, 2**32, 2**64, -1, 1.5, "0", True, [1, 2], object()]),
        st.integers(0, 2**63),
    )
)
def test_spectra_bad_seeds(seed):
    for call in (
        lambda: L.lanczos(_sym(), 4, seed=seed, progress=False),
        lambda: L.spectral_density(_sym(), runs=1, steps=4, n_grid=20, seed=seed, progress=False),
        lambda: L.trace(_sym(), samples=2, seed=seed, progress=False),
    ):
        outcome(call, "any", check=_check_finite_result)


@given(
    runs=bad_integers(1, None), steps=bad_integers(1, N), which=st.sampled_from(["runs", "steps"])
)
def test_spectral_density_bad_counts(runs, steps, which):
    case = runs if which == "runs" else steps
    expect = case.expect
    if which == "runs" and expect == "ok" and int(case.value) > 10**4:
        return  # runs=2**31 allocates (runs, steps) arrays first: 64 GiB (reported)
    kwargs = {"runs": 1, "steps": 4, which: case.value}
    outcome(
        lambda: L.spectral_density(_sym(), n_grid=20, progress=False, **kwargs),
        expect,
        check=_check_finite_result,
    )


@given(flag=bad_flags())
def test_spectral_flags(flag):
    outcome(
        lambda: L.lanczos(_sym(), 3, return_basis=flag.value, progress=False),
        flag.expect,
    )


# ------------------------------------------------------------------------------------------
# hessian, curvature, interpolation
# ------------------------------------------------------------------------------------------
@given(bad_arrays((N,)))
def test_hessian_bad_points(case):
    obj = Quadratic()
    H = outcome(lambda: L.hessian(obj, case.value), "ok" if case.expect == "any" else case.expect)
    if H is not None:
        outcome(lambda: H @ np.ones(N), "ok", check=finite_array((N,)))


@given(bad_arrays((N,)))
def test_hessian_products_with_bad_vectors(case):
    H = L.hessian(Quadratic(), np.zeros(N))
    outcome(lambda: L.curvature(H, case.value), "any")
    outcome(lambda: L.overlap(H, case.value), "any")


@given(good_values((N,)), good_values((N,)))
def test_hessian_of_a_quadratic_is_its_matrix(theta, v):
    obj = Quadratic()
    H = L.hessian(obj, theta)
    np.testing.assert_allclose(H @ v, obj.A @ v, rtol=1e-12, atol=1e-12)


@given(a=bad_arrays((N,)), n=bad_integers(2, None))
def test_interpolate_bad_endpoints_and_counts(a, n):
    obj = Quadratic()
    b = np.ones(N)

    def check(result):
        alphas, losses = result
        assert np.all(np.isfinite(alphas))
        assert losses.shape == alphas.shape

    outcome(lambda: L.interpolate(obj, a.value, b, n=5, progress=False), a.expect, check=check)
    if n.expect == "ok" and int(n.value) > 10**4:
        return  # a valid huge n: 2**31 points is 16 GiB per array (OOM-killed, reported)
    outcome(lambda: L.interpolate(obj, np.zeros(N), b, n=n.value, progress=False), n.expect)


@given(d1=bad_arrays((N,)))
def test_plane_bad_directions(d1):
    obj = Quadratic()
    d2 = np.eye(N)[1]
    expect = d1.expect
    if d1.what == "zeros":
        expect = "any"  # a zero direction may be refused
    outcome(
        lambda: L.plane(obj, np.zeros(N), d1.value, d2, n=3, progress=False),
        expect,
        check=lambda r: None,
    )


@given(st.sampled_from([None, 3, "obj", object(), np.zeros(N)]))
def test_landscape_non_objectives(obj):
    outcome(lambda: L.hessian(obj, np.zeros(N)), "type")
    outcome(lambda: L.interpolate(obj, np.zeros(N), np.ones(N), n=3, progress=False), "type")


@pytest.fixture(scope="module")
def pixel():
    return ts.PixelObjective(ts.problems.mbb_beam(width=16, height=8, density=0.5))


def test_pixel_hessian_spectrum_is_finite(pixel):
    H = L.hessian(pixel, pixel.x0)
    w, V = L.eigsh(H, k=2, progress=False)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(V))
