"""Property-based tests (Hypothesis) of the objectives: ``ts.PixelObjective`` (both
formulations) and ``ts.CNNObjective`` on a tiny problem, and the torch models behind them.

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import toposcape as ts
from test_fuzz_strategies import (
    PUBLIC_ERRORS,
    Case,
    bad_arrays,
    bad_flags,
    bad_integers,
    bad_reals,
    finite_array,
    finite_float,
    good_values,
    layouts,
    outcome,
)
from toposcape.errors import InsufficientMemoryError, InvalidInputError

H, W = 8, 16
SIZE = H * W

#: Small CNN options (the constructor passes them to CNNModel): ~4,600 parameters.
CNN_OPTIONS = dict(latent_size=4, dense_channels=4, conv_filters=(8, 8, 4, 4, 1))


@pytest.fixture(scope="module")
def problem():
    return ts.problems.mbb_beam(width=W, height=H, density=0.5)


@pytest.fixture(scope="module", params=[True, False], ids=["logits", "densities"])
def pixel(request, problem):
    return ts.PixelObjective(problem, volume_constraint=request.param)


@pytest.fixture(scope="module")
def logits_objective(problem):
    return ts.PixelObjective(problem)


@pytest.fixture(scope="module")
def cnn(problem):
    pytest.importorskip("torch")
    return ts.CNNObjective(problem, dtype="float64", **CNN_OPTIONS)


def _theta_expect(obj, case: Case) -> str:
    """Densities (volume_constraint=False) outside [0, 1] are a value error."""
    if case.expect != "any" or getattr(obj, "volume_constraint", True):
        return case.expect
    theta = np.asarray(case.value, dtype=np.float64)
    return "value" if theta.min() < 0 or theta.max() > 1 else "any"


def _check_value_and_grad(size):
    def check(result):
        f, g = result
        finite_float(f)
        finite_array((size,))(g)

    return check


# ------------------------------------------------------------------------------------------
# PixelObjective
# ------------------------------------------------------------------------------------------
@given(bad_arrays((SIZE,)))
def test_pixel_value_and_grad_bad_theta(pixel, case):
    expect = _theta_expect(pixel, case)
    outcome(lambda: pixel.value_and_grad(case.value), expect, check=_check_value_and_grad(SIZE))
    outcome(lambda: pixel.value(case.value), expect, check=finite_float)
    outcome(lambda: pixel.design(case.value), expect, check=finite_array((H, W)))


@given(bad_arrays((SIZE,)))
def test_pixel_hvp_bad_theta(pixel, case):
    v = np.linspace(-1, 1, SIZE)
    outcome(
        lambda: pixel.hvp(case.value, v), _theta_expect(pixel, case), check=finite_array((SIZE,))
    )


@given(case=bad_arrays((SIZE,)), volume_constraint=st.booleans())
def test_pixel_hvp_bad_direction(problem, case, volume_constraint):
    # a fresh objective per example: after a failed solve an objective's cache is broken
    # (test_pixel_hvp_after_a_failed_hvp_still_works, a known failure)
    pixel = ts.PixelObjective(problem, volume_constraint=volume_constraint)
    theta = pixel.x0
    outcome(lambda: pixel.hvp(theta, case.value), case.expect, check=finite_array((SIZE,)))


def test_pixel_hvp_after_a_failed_hvp_still_works(problem):
    pixel = ts.PixelObjective(problem)
    theta = pixel.x0
    outcome(lambda: pixel.hvp(theta, np.full(SIZE, 1e300)), "any", check=finite_array((SIZE,)))
    outcome(lambda: pixel.hvp(theta, np.ones(SIZE)), "ok", check=finite_array((SIZE,)))


@given(bad_arrays((SIZE,), extreme=False))
def test_pixel_volume_bad_theta(pixel, case):
    outcome(lambda: pixel.volume(case.value), _theta_expect(pixel, case), check=finite_float)


def test_pixel_volume_checks_density_range(problem):
    pixel = ts.PixelObjective(problem, volume_constraint=False)
    for theta in (np.full(SIZE, 1e300), np.full(SIZE, -0.5), np.full(SIZE, 2.0)):
        outcome(lambda theta=theta: pixel.volume(theta), "value")


@given(
    penal=bad_reals(1.0, None),
    radius=bad_reals(0.0, None, open_low=True),
    flag=bad_flags(),
    which=st.sampled_from(["penal", "filter_radius", "volume_constraint"]),
)
def test_pixel_constructor_bad_options(problem, penal, radius, flag, which):
    case = {"penal": penal, "filter_radius": radius, "volume_constraint": flag}[which]
    expect = case.expect
    if which == "filter_radius" and expect == "ok" and float(case.value) > 1e6:
        expect = "any"  # a radius far beyond the grid may be refused as too large a filter

    def check(obj):
        f, g = obj.value_and_grad(obj.x0)
        finite_float(f)
        finite_array((SIZE,))(g)

    outcome(lambda: ts.PixelObjective(problem, **{which: case.value}), expect, check=check)


@given(st.sampled_from([None, 3, 1.5, object(), np.ones((H, W)), b"mbb", ["mbb_beam_96x32_0.5"]]))
def test_pixel_constructor_needs_a_problem(value):
    outcome(lambda: ts.PixelObjective(value), "type")


@given(st.text(max_size=20).filter(lambda s: s not in ts.problems.names()))
def test_pixel_constructor_unknown_problem_name(name):
    with pytest.raises(ts.UnknownNameError):
        ts.PixelObjective(name)


@given(good_values((SIZE,), -4.0, 4.0))
def test_pixel_value_and_grad_finite_for_finite_logits(logits_objective, theta):
    f, g = outcome(
        lambda: logits_objective.value_and_grad(theta), "ok", check=_check_value_and_grad(SIZE)
    )
    assert f > 0
    design = logits_objective.design(theta)
    assert np.all((design >= 0) & (design <= 1 + 1e-12))


@given(good_values((SIZE,), -4.0, 4.0).flatmap(lambda a: st.tuples(st.just(a), layouts(a))))
def test_pixel_gradient_of_other_layouts_equals_float64_cast(logits_objective, item):
    """float32 / strided / read-only / list input: the same as the float64 cast of it."""
    theta, (what, variant, exact) = item
    cast = np.array(variant, dtype=np.float64).ravel()
    f1, g1 = logits_objective.value_and_grad(variant)
    f2, g2 = logits_objective.value_and_grad(cast.copy())
    assert f1 == f2
    np.testing.assert_array_equal(g1, g2)
    hv1 = logits_objective.hvp(variant, variant)
    hv2 = logits_objective.hvp(cast.copy(), cast.copy())
    np.testing.assert_array_equal(hv1, hv2)
    if exact:
        np.testing.assert_array_equal(cast, theta)


@given(good_values((SIZE,), -3.0, 3.0), good_values((SIZE,), -1.0, 1.0), st.floats(1e-3, 1e3))
def test_pixel_hvp_is_linear_in_v(logits_objective, theta, v, scale):
    hv = logits_objective.hvp(theta, v)
    hv_scaled = logits_objective.hvp(theta, scale * v)
    np.testing.assert_allclose(hv_scaled, scale * hv, rtol=1e-9, atol=1e-9 * np.abs(hv).max())


@given(st.data())
def test_pixel_extreme_logits(logits_objective, data):
    """Huge, tiny and mixed logits: a finite result or a clear InvalidInputError."""
    value = data.draw(st.sampled_from([1e300, 1e30, 1e3, 1e-300, 5e-324]))
    pattern = data.draw(st.sampled_from(["const", "alternating", "one_hot", "ramp"]))
    theta = {
        "const": np.full(SIZE, value),
        "alternating": value * np.where(np.arange(SIZE) % 2, 1.0, -1.0),
        "one_hot": np.where(np.arange(SIZE) == 7, value, 0.0),
        "ramp": value * np.linspace(-1, 1, SIZE),
    }[pattern]
    outcome(lambda: logits_objective.value_and_grad(theta), check=_check_value_and_grad(SIZE))
    outcome(lambda: logits_objective.hvp(theta, np.ones(SIZE)), check=finite_array((SIZE,)))


# ------------------------------------------------------------------------------------------
# CNNObjective
# ------------------------------------------------------------------------------------------
@given(bad_arrays((4617,)))
def test_cnn_value_and_grad_bad_theta(cnn, case):
    assert cnn.size == 4617
    outcome(lambda: cnn.value_and_grad(case.value), case.expect, check=_check_value_and_grad(4617))
    outcome(lambda: cnn.design(case.value), case.expect, check=finite_array((H, W)))


def test_cnn_overflowing_theta(cnn):
    # a weight of 1.8e308 in the second block: a finite forward pass whose backward pass
    # overflows (the gradient of every earlier parameter is NaN)
    value = np.where(np.arange(4617) == 2308, np.finfo(float).max, 0.25)
    with pytest.raises(InvalidInputError, match="gradient has 868 NaN or inf entries of 4617"):
        cnn.value_and_grad(value)
    # ... and one in the last offset: the output itself overflows
    value = np.where(np.arange(4617) == 4616, np.finfo(float).max, 0.25)
    with pytest.raises(InvalidInputError, match="output .* has 1 NaN or inf entry of 128"):
        cnn.value_and_grad(value)


@given(bad_arrays((4617,), exclude={"max_float", "huge", "-huge", "huge_mixed", "big_int"}))
def test_cnn_hvp_bad_direction(cnn, case):
    # v of 1e300 breaks the objective's cache (test_pixel_hvp_after_a_failed_hvp_still_works)
    outcome(lambda: cnn.hvp(cnn.x0, case.value), case.expect, check=finite_array((4617,)))


@hsettings(max_examples=10)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.5))
def test_cnn_value_and_grad_finite_near_x0(cnn, seed, scale):
    delta = scale * np.random.default_rng(seed).standard_normal(cnn.size)
    theta = cnn.x0 + delta
    outcome(lambda: cnn.value_and_grad(theta), "ok", check=_check_value_and_grad(4617))


@pytest.fixture(scope="module")
def cnn32(problem):
    pytest.importorskip("torch")
    return ts.CNNObjective(problem, dtype="float32", **CNN_OPTIONS)


def test_cnn_float32_theta_equals_float64_cast(cnn32):
    theta = cnn32.x0.astype(np.float32)
    f1, g1 = cnn32.value_and_grad(theta)
    f2, g2 = cnn32.value_and_grad(theta.astype(np.float64))
    assert f1 == f2
    np.testing.assert_array_equal(g1, g2)


@given(
    option=st.sampled_from(["seed", "latent_size", "dense_channels", "kernel_size"]),
    value=bad_integers(1, None),
)
def test_cnn_constructor_bad_integers(problem, option, value):
    pytest.importorskip("torch")
    expect = value.expect
    if option == "seed" and expect == "value" and int(value.value) == 0:
        expect = "ok"  # seed 0 is valid (the other sizes start at 1)
    if option == "seed" and expect == "ok" and int(value.value) >= 2**63:
        expect = "value"
    if option != "seed" and expect == "ok" and int(value.value) > 64:
        expect = "any"  # a clear InsufficientMemoryError for sizes that cannot fit
    opts = dict(CNN_OPTIONS)
    opts[option] = value.value
    outcome(
        lambda: ts.CNNObjective(problem, **opts),
        expect,
        errors=PUBLIC_ERRORS + (InsufficientMemoryError,),
    )


@given(
    option=st.sampled_from(["offset_scale", "latent_scale", "dense_init_scale", "penal"]),
    value=bad_reals(),
)
def test_cnn_constructor_bad_reals(problem, option, value):
    pytest.importorskip("torch")
    opts = dict(CNN_OPTIONS)
    opts[option] = value.value
    expect = value.expect
    lowest = {"offset_scale": None, "latent_scale": 0.0, "dense_init_scale": 0.0, "penal": 1.0}
    if expect == "ok" and lowest[option] is not None and float(value.value) < lowest[option]:
        expect = "value"
    if expect == "ok" and option != "penal" and abs(float(value.value)) > 1e3:
        expect = "any"  # huge scales: the initial design may not meet the volume in floating point
    outcome(lambda: ts.CNNObjective(problem, **opts), expect)


@given(
    option=st.sampled_from(["dtype", "upsampling"]),
    value=st.sampled_from(["float16", "FLOAT32", "nearest", "", None, 3, np.float64, b"float32"]),
)
def test_cnn_constructor_bad_names(problem, option, value):
    pytest.importorskip("torch")
    # a fixed set of choices: an unknown value is InvalidInputError, an unhashable one TypeError
    # (_validate.option); NumPy's float64 type may be accepted as a dtype
    expect = "any" if value is np.float64 and option == "dtype" else "error"
    outcome(lambda: ts.CNNObjective(problem, **{option: value}, **CNN_OPTIONS), expect)


@given(
    st.sampled_from(
        [
            ("resizes", (1, 2, 2, 2)),
            ("resizes", (1, 2.0, 2, 2, 1)),
            ("resizes", "12221"),
            ("resizes", 8),
            ("resizes", ()),
            ("conv_filters", (8, 8, 4, 4, 2)),
            ("conv_filters", (8, 8, 4, 4, 1.0)),
            ("conv_filters", None),
            ("conv_filters", (8, -8, 4, 4, 1)),
            ("resizes", (1, 2, 2, 2, 3)),
            ("unknown_option", 3),
        ]
    )
)
def test_cnn_constructor_bad_architecture(problem, item):
    pytest.importorskip("torch")
    option, value = item
    opts = dict(CNN_OPTIONS)
    opts[option] = value
    outcome(lambda: ts.CNNObjective(problem, **opts), "any")
