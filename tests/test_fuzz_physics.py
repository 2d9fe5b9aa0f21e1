"""Property-based tests (Hypothesis) of ``toposcape.physics``: filter, sigmoid, element, kernels,
compliance. Bad arrays and scalars must end in a clear TypeError / InvalidInputError, good input
in finite results with the documented properties.

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

import toposcape as ts
from test_fuzz_strategies import (
    Case,
    bad_arrays,
    bad_integers,
    bad_reals,
    finite_array,
    finite_float,
    good_values,
    layouts,
    outcome,
)
from toposcape import physics
from toposcape.errors import InsufficientMemoryError, InvalidInputError

H, W = 4, 6
SHAPE = (H, W)
N_DOFS = 2 * (W + 1) * (H + 1)
MASK = np.ones(SHAPE, dtype=bool)
MASK[0, :2] = False


@pytest.fixture(scope="module")
def cone():
    return physics.ConeFilter(MASK, 2.0)


@pytest.fixture(scope="module")
def volume_sigmoid():
    return physics.VolumeSigmoid(MASK, 0.4)


@pytest.fixture(scope="module")
def problem():
    return ts.problems.mbb_beam(width=8, height=4, density=0.5)


@pytest.fixture(scope="module")
def compliance(problem):
    return physics.Compliance(problem, penal=3.0)


# ------------------------------------------------------------------------------------------
# Masks
# ------------------------------------------------------------------------------------------
def bad_masks(shape):
    """Masks: bool (and 0/1 numbers) are fine; other values, NaN, complex, strings are not."""
    ok = st.sampled_from(
        [
            ("bool", lambda: MASK.copy()),
            ("int01", lambda: MASK.astype(np.int64)),
            ("float01", lambda: MASK.astype(np.float64)),
            ("uint8", lambda: MASK.astype(np.uint8)),
            ("strided", lambda: np.repeat(MASK, 2, axis=1)[:, ::2]),
            ("list", lambda: MASK.tolist()),
        ]
    ).map(lambda t: Case(t[1](), "ok", t[0]))
    bad_value = st.sampled_from(
        [
            ("half", lambda: np.full(shape, 0.5)),
            ("two", lambda: np.full(shape, 2)),
            ("negative", lambda: -np.ones(shape)),
            ("nan", lambda: np.full(shape, np.nan)),
            ("1d", lambda: np.ones(shape[0], dtype=bool)),
            ("3d", lambda: np.ones((*shape, 1), dtype=bool)),
            ("empty", lambda: np.ones((0, 3), dtype=bool)),
            ("0d", lambda: np.array(True)),
        ]
    ).map(lambda t: Case(t[1](), "value", t[0]))
    bad_type = st.sampled_from(
        [
            ("complex", lambda: np.ones(shape, dtype=complex)),
            ("string", lambda: np.full(shape, "1")),
            ("object", lambda: np.full(shape, None, dtype=object)),
            ("none", lambda: None),
            ("str", lambda: "mask"),
        ]
    ).map(lambda t: Case(t[1](), "type", t[0]))
    return st.one_of(ok, bad_value, bad_type)


# ------------------------------------------------------------------------------------------
# ConeFilter
# ------------------------------------------------------------------------------------------
@given(mask=bad_masks(SHAPE), radius=bad_reals(0.0, None, open_low=True))
def test_cone_filter_construction(mask, radius):
    expect = mask.expect if mask.expect != "ok" else radius.expect
    if mask.expect != "ok" and radius.expect != "ok":
        expect = "any"  # either mistake may be reported first

    def check(f):
        assert f.matrix.shape == (H * W, H * W)
        assert np.all(np.isfinite(f.matrix.data))

    outcome(lambda: physics.ConeFilter(mask.value, radius.value), expect, check=check)


@pytest.mark.parametrize("radius", [1e3, 1e5, 1e9, 1e300, np.finfo(float).max])
def test_cone_filter_huge_radius(radius):
    """A radius far beyond the grid: a valid (dense) filter or a clear error; no hang, no
    std::bad_alloc, no silently empty matrix."""

    def check(f):
        assert f.matrix.nnz > 0
        x = np.full(SHAPE, 0.5)
        assert np.all(np.isfinite(f(x)))

    outcome(lambda: physics.ConeFilter(MASK, radius), "any", check=check)


def test_cone_filter_refuses_a_filter_too_large_to_hold():
    with pytest.raises(InsufficientMemoryError, match="GiB available"):
        physics.ConeFilter(np.ones((2000, 2000), dtype=bool), 1500.0)


@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.floats(0.05, 12.0),
    st.integers(0, 2**32 - 1),
)
def test_cone_filter_matches_dense_definition(height, width, radius, seed):
    """F = diag(1/s) R, R_ij = max(0, r - |c_i - c_j|) on designable rows, s = column sums."""
    mask = np.random.default_rng(seed).random((height, width)) < 0.7
    f = physics.ConeFilter(mask, radius)
    yy, xx = np.divmod(np.arange(height * width), width)
    dist = np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :])
    R = np.maximum(0.0, radius - dist) * mask.ravel()[:, None]
    s = R.sum(axis=0)
    expected = np.divide(R, s[:, None], out=np.zeros_like(R), where=s[:, None] > 0)
    np.testing.assert_allclose(f.matrix.toarray(), expected, rtol=1e-12, atol=1e-15)


@given(bad_arrays(SHAPE))
def test_cone_filter_apply_bad_arrays(cone, case):
    outcome(lambda: cone(case.value), case.expect, check=finite_array(SHAPE))
    outcome(lambda: cone.adjoint(case.value), case.expect, check=finite_array(SHAPE))


@given(good_values(SHAPE).flatmap(lambda a: st.tuples(st.just(a), layouts(a))))
def test_cone_filter_layouts(cone, item):
    x, (what, variant, exact) = item
    ref = cone(x)
    got = outcome(lambda: cone(variant), "ok", check=finite_array(SHAPE))
    if exact:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_array_equal(got, cone(np.asarray(variant, dtype=np.float64)))


@given(good_values(SHAPE, -1e3, 1e3), good_values(SHAPE, -1e3, 1e3))
def test_cone_filter_adjoint_identity(cone, x, g):
    lhs = float(np.sum(cone(x) * g))
    rhs = float(np.sum(x * cone.adjoint(g)))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-8)


# ------------------------------------------------------------------------------------------
# VolumeSigmoid, sigmoid, logit
# ------------------------------------------------------------------------------------------
@given(mask=bad_masks(SHAPE), density=bad_reals(0.0, 1.0, open_low=True, open_high=True))
def test_volume_sigmoid_construction(mask, density):
    expect = mask.expect if mask.expect != "ok" else density.expect
    if mask.expect != "ok" and density.expect != "ok":
        expect = "any"
    outcome(lambda: physics.VolumeSigmoid(mask.value, density.value), expect)


def test_volume_sigmoid_empty_mask():
    with pytest.raises(InvalidInputError):
        physics.VolumeSigmoid(np.zeros(SHAPE, dtype=bool), 0.5)


def _check_densities(vs):
    def check(x):
        finite_array(SHAPE)(x)
        assert np.all((x >= 0) & (x <= 1))
        assert float(x[vs.mask].mean()) == pytest.approx(vs.density, abs=1e-9)

    return check


@given(bad_arrays(SHAPE))
def test_volume_sigmoid_forward_bad_arrays(volume_sigmoid, case):
    outcome(lambda: volume_sigmoid(case.value), case.expect, check=_check_densities(volume_sigmoid))


@given(bad_arrays(SHAPE))
def test_volume_sigmoid_derivatives_bad_arrays(volume_sigmoid, case):
    state = volume_sigmoid.forward(np.linspace(-2, 2, H * W).reshape(SHAPE))
    good = np.ones(SHAPE)
    check = finite_array(SHAPE)
    outcome(lambda: state.jvp(case.value), case.expect, check=check)
    outcome(lambda: state.vjp(case.value), case.expect, check=check)
    outcome(lambda: state.second_order(case.value, good), case.expect, check=check)
    outcome(lambda: state.second_order(good, case.value), case.expect, check=check)


@given(good_values(SHAPE, -30.0, 30.0), st.floats(0.01, 0.99))
def test_volume_sigmoid_meets_the_target(z, density):
    vs = physics.VolumeSigmoid(MASK, density)
    outcome(lambda: vs(z), "any", check=_check_densities(vs))


@given(good_values(SHAPE, -5.0, 5.0), good_values(SHAPE), good_values(SHAPE))
def test_volume_sigmoid_jacobian_is_symmetric(volume_sigmoid, z, v, g):
    state = volume_sigmoid.forward(z)
    lhs = float(np.sum(state.jvp(v) * g))
    rhs = float(np.sum(v * state.vjp(g)))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@given(good_values(SHAPE).flatmap(lambda a: st.tuples(st.just(a), layouts(a))))
def test_volume_sigmoid_layouts(volume_sigmoid, item):
    z, (what, variant, exact) = item
    ref = volume_sigmoid(z if exact else np.asarray(variant, dtype=np.float64))
    got = outcome(lambda: volume_sigmoid(variant), "ok")
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


#: bad_arrays cases of a valid real array of another shape (for functions of any shape)
OTHER_SHAPES = {"scalar_0d", "one_short", "one_long", "extra_axis", "transposed", "flat"}


@given(bad_arrays((5,)))
def test_sigmoid_bad_arrays(case):
    """Elementwise: any shape; +-inf give 1 and 0, NaN stays NaN (as NumPy's functions)."""
    value = case.value
    if case.what in OTHER_SHAPES | {"nan", "inf", "-inf", "empty"}:
        t = np.asarray(value, dtype=np.float64)
        s = outcome(lambda: physics.sigmoid(value), "ok")
        assert s.shape == t.shape and s.dtype == np.float64
        assert np.all(np.isfinite(s[~np.isnan(t)])) and np.all(np.isnan(s[np.isnan(t)]))
        assert np.all((s[~np.isnan(t)] >= 0) & (s[~np.isnan(t)] <= 1))
    else:
        outcome(lambda: physics.sigmoid(value), case.expect, check=finite_array())


@given(bad_reals(0.0, 1.0))
def test_logit_bad_scalars(case):
    def check(t):
        assert isinstance(t, float) and not np.isnan(t)
        p = float(case.value)
        # 0.5 tanh(t/2) + 0.5 resolves probabilities down to ~1e-17 only
        assert float(physics.sigmoid(t)) == pytest.approx(p, rel=1e-9, abs=1e-16)

    outcome(lambda: physics.logit(case.value), case.expect, check=check)


# ------------------------------------------------------------------------------------------
# Element, SIMP, kernels
# ------------------------------------------------------------------------------------------
@given(
    young=bad_reals(0.0, None, open_low=True),
    poisson=bad_reals(-1.0, 0.5, open_low=True, open_high=True),
)
def test_element_stiffness(young, poisson):
    expect = poisson.expect if young.expect == "ok" else young.expect
    if young.expect != "ok" and poisson.expect != "ok":
        expect = "any"

    def check(ke):
        assert ke.shape == (8, 8) and ke.dtype == np.float64
        if np.all(np.isfinite(ke)):
            np.testing.assert_allclose(ke, ke.T, rtol=1e-12)
        else:  # only from a modulus so large that the entries overflow
            assert float(young.value) > 1e300

    outcome(lambda: physics.element_stiffness(young.value, poisson.value), expect, check=check)


@given(x=bad_arrays(SHAPE), penal=bad_reals(1.0, None))
def test_simp_modulus(x, penal):
    """Any shape of densities >= 0; E and E' finite (a clear error when they overflow)."""
    x_expect = x.expect
    if x.what in OTHER_SHAPES or x.expect == "any":
        x_expect = "value" if np.any(np.asarray(x.value, dtype=float) < 0) else "any"
    expect = x_expect if penal.expect == "ok" else penal.expect
    if penal.expect != "ok" and x_expect != "any":
        expect = "any"  # either mistake may be reported first
    shape = np.shape(x.value)

    def check(result):
        E, dE, d2E = result
        for a in (E, dE, d2E):
            assert a.shape == shape and a.dtype == np.float64
        assert np.all(np.isfinite(E)) and np.all(np.isfinite(dE))

    outcome(lambda: physics.simp_modulus(x.value, penal.value), expect, check=check)


@given(u=bad_arrays((N_DOFS,)), height=bad_integers(1, 50), which=st.sampled_from(["u", "h"]))
def test_element_kernels(u, height, which):
    ke = physics.element_stiffness()
    good_u = np.linspace(-1, 1, N_DOFS)
    if which == "u":
        args, expect = (u.value, H), u.expect
    else:
        args = (good_u, height.value)
        expect = (
            height.expect if height.expect != "ok" else ("ok" if height.value == H else "value")
        )

    def check(out):
        finite_array(SHAPE)(out) if expect != "any" else None

    outcome(lambda: physics.element_energies(ke, args[0], args[1], W), expect, check=check)
    outcome(lambda: physics.element_bilinear(ke, args[0], good_u, args[1], W), expect, check=check)
    outcome(
        lambda: physics.scatter_element_loads(ke, args[0], np.ones(SHAPE), args[1], W),
        expect,
        check=(lambda out: None),
    )


@given(bad_arrays((8, 8)))
def test_element_kernels_bad_element_matrix(case):
    u = np.linspace(-1, 1, N_DOFS)
    outcome(lambda: physics.element_energies(case.value, u, H, W), case.expect)


@given(bad_arrays(SHAPE, extreme=False))
def test_scatter_element_loads_bad_coefficients(case):
    ke = physics.element_stiffness()
    u = np.linspace(-1, 1, N_DOFS)
    outcome(lambda: physics.scatter_element_loads(ke, u, case.value, H, W), case.expect)


# ------------------------------------------------------------------------------------------
# Compliance (physics/compliance.py). The xfail marks are failures in compliance.py, reported
# to its owner; each has an explicit failing example, so the marks are strict and fast.
# ------------------------------------------------------------------------------------------
KNOWN = settings(phases=[Phase.explicit, Phase.generate])


@example(penal=Case("3", "type", "str"), e_min=Case(1e-9, "ok", "ok"), which="penal")
@KNOWN
@given(
    penal=bad_reals(1.0, None),  # any finite penalty >= 1 is a valid SIMP exponent
    e_min=bad_reals(0.0, 1.0, open_low=True, open_high=True),  # 0 < e_min < e_0 = 1
    which=st.sampled_from(["penal", "e_min"]),
)
def test_compliance_construction(problem, penal, e_min, which):
    if which == "penal":
        case, call = penal, lambda: physics.Compliance(problem, penal=penal.value)
    else:
        case, call = e_min, lambda: physics.Compliance(problem, e_min=e_min.value)
    outcome(call, case.expect)


@example(None)
@KNOWN
@given(st.sampled_from([None, 3, object(), np.ones((4, 8))]))
def test_compliance_needs_a_problem(value):
    outcome(lambda: physics.Compliance(value), "type")


def test_compliance_takes_a_suite_name():
    assert physics.Compliance("mbb_beam_96x32_0.5").shape == (32, 96)
    with pytest.raises(ts.UnknownNameError, match="unknown problem 'mbb'"):
        physics.Compliance("mbb")


def _x_expect(case):
    if case.expect != "any":
        return case.expect
    x = np.asarray(case.value, dtype=np.float64)
    return "value" if np.any(x < 0) else "any"


@example(Case(np.ones((4, 8), dtype=bool), "type", "bool"))
@KNOWN
@given(bad_arrays((4, 8)))
def test_compliance_value_and_grad_bad_densities(compliance, case):
    expect = _x_expect(case)

    def check(result):
        c, g = result
        finite_float(float(c))
        finite_array((4, 8))(g)

    outcome(lambda: compliance.value_and_grad(case.value), expect, check=check)


@example(Case(np.ones((4, 8), dtype=bool), "type", "bool"))
@KNOWN
@given(bad_arrays((4, 8)))
def test_compliance_hvp_bad_directions(compliance, case):
    x = np.full((4, 8), 0.5)
    outcome(lambda: compliance.hvp(x, case.value), case.expect, check=finite_array((4, 8)))


@given(good_values((4, 8), 0.0, 1.0).flatmap(lambda a: st.tuples(st.just(a), layouts(a))))
def test_compliance_float32_gradient_equals_float64_cast(compliance, item):
    x, (what, variant, exact) = item
    c, g = compliance.value_and_grad(variant)
    c64, g64 = compliance.value_and_grad(np.asarray(variant, dtype=np.float64))
    assert c == c64
    np.testing.assert_array_equal(g, g64)


@example(Case(np.ones((4, 8), dtype=bool), "type", "bool"))
@KNOWN
@given(bad_arrays((4, 8), extreme=False))
def test_compliance_sensitivities_bad_arrays(case):
    x = np.full((4, 8), 0.5)
    outcome(lambda: physics.compliance_sensitivities(x, case.value), case.expect)
    outcome(lambda: physics.compliance_sensitivities(case.value, np.ones((4, 8))), case.expect)


@example(Case(np.ones((4, 8), dtype=bool), "type", "bool"))
@KNOWN
@given(bad_arrays((4, 8)))
def test_assemble_stiffness_bad_densities(problem, case):
    outcome(lambda: physics.assemble_stiffness(problem, case.value), _x_expect(case))


def test_compliance_unknown_solver(problem):
    with pytest.raises(ts.UnknownNameError):
        physics.Compliance(problem, solver="pardso")
    with pytest.raises(TypeError):
        physics.Compliance(problem, solver=3)
