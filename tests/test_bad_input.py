"""Bad input at the objective / physics boundary: every mistake raises a ValueError subclass
whose message names the issue; nothing crashes, hangs or returns NaN silently, and the objects
stay usable after an error."""

from __future__ import annotations

import numpy as np
import pytest

import toposcape as ts
from toposcape.errors import InvalidInputError, InvalidProblemError, UnderconstrainedProblemError
from toposcape.physics import Compliance, ConeFilter, VolumeSigmoid

H, W = 4, 8
N = H * W


def _problem():
    return ts.problems.mbb_beam(width=W, height=H, density=0.5)


@pytest.fixture(scope="module", params=[True, False], ids=["logits", "densities"])
def objective(request):
    return ts.PixelObjective(_problem(), penal=3.0, volume_constraint=request.param)


def _valid_theta(obj):
    return obj.x0 if not obj.volume_constraint else np.random.default_rng(0).normal(size=N)


def _with(index, value, base=None):
    theta = np.full(N, 0.5) if base is None else base.copy()
    theta[index] = value
    return theta


BAD_THETA = [
    (np.zeros(N - 1), "flat vector of length 32"),
    (np.zeros(N + 1), "flat vector of length 32"),
    (np.zeros((H, W)), r"theta must be a flat vector of length 32, got shape \(4, 8\)"),
    (np.zeros((1, N)), "flat vector"),
    (np.float64(0.5), "flat vector"),
    (_with(3, np.nan), "NaN or inf"),
    (_with(0, np.inf), "NaN or inf"),
    (_with(N - 1, -np.inf), "NaN or inf"),
]


# --------------------------------------------------------------------------------------------
# PixelObjective
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("theta", "match"), BAD_THETA)
def test_pixel_bad_theta(objective, theta, match):
    for call in (
        lambda: objective.value_and_grad(theta),
        lambda: objective.design(theta),
        lambda: objective.hvp(theta, np.ones(N)),
    ):
        with pytest.raises(InvalidInputError, match=match):
            call()
    # still usable, and the result is the one of a fresh objective
    theta0 = _valid_theta(objective)
    c, g = objective.value_and_grad(theta0)
    fresh = ts.PixelObjective(_problem(), penal=3.0, volume_constraint=objective.volume_constraint)
    c_ref, g_ref = fresh.value_and_grad(theta0)
    assert c == c_ref and np.array_equal(g, g_ref)


@pytest.mark.parametrize("value", [-0.1, 1.5, -1e-12, 1.0 + 1e-12])
def test_densities_outside_unit_interval(value):
    obj = ts.PixelObjective(_problem(), penal=3.0, volume_constraint=False)
    theta = _with(5, value)
    with pytest.raises(InvalidInputError, match=r"densities must lie in \[0, 1\]"):
        obj.value_and_grad(theta)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        obj.hvp(theta, np.ones(N))
    # the bounds themselves are valid, with finite results
    for edge in (0.0, 1.0):
        c, g = obj.value_and_grad(_with(5, edge))
        assert np.isfinite(c) and np.all(np.isfinite(g))
    # with the volume constraint the same numbers are just logits
    c, g = ts.PixelObjective(_problem(), penal=3.0).value_and_grad(theta)
    assert np.isfinite(c) and np.all(np.isfinite(g))


@pytest.mark.parametrize(
    ("v", "match"),
    [
        (np.ones(N - 1), "v must be a flat vector of length 32"),
        (np.ones((H, W)), "v must be a flat vector"),
        (_with(2, np.nan, np.ones(N)), "v must be finite, got 1 NaN or inf"),
        (_with(2, np.inf, np.ones(N)), "v must be finite, got 1 NaN or inf"),
    ],
)
def test_pixel_bad_hvp_direction(objective, v, match):
    theta = _valid_theta(objective)
    with pytest.raises(InvalidInputError, match=match):
        objective.hvp(theta, v)
    hv = objective.hvp(theta, np.ones(N))
    assert np.all(np.isfinite(hv))


@pytest.mark.parametrize("penal", [0.0, 0.5, 0.999, -1.0, -3.0, np.nan, np.inf])
def test_bad_penalty(penal):
    for make in (
        lambda: ts.PixelObjective(_problem(), penal=penal),
        lambda: ts.PixelObjective(_problem(), penal=penal, volume_constraint=False),
        lambda: Compliance(_problem(), penal=penal),
    ):
        with pytest.raises(ValueError, match="penal must be a finite (real )?number >= 1"):
            make()


def test_unknown_solver():
    for make in (
        lambda: ts.PixelObjective(_problem(), solver="umfpack"),
        lambda: Compliance(_problem(), solver="umfpack"),
        lambda: ts.PixelObjective(_problem(), solver=""),
    ):
        with pytest.raises(ValueError, match="unknown solver .*choose 'auto' or one of"):
            make()


@pytest.mark.parametrize("radius", [0.0, -2.0, np.nan, np.inf])
def test_bad_filter_radius(radius):
    with pytest.raises(InvalidInputError, match="filter_radius must be a finite real number > 0"):
        ts.PixelObjective(_problem(), filter_radius=radius)
    with pytest.raises(InvalidInputError, match="(filter )?radius"):
        ConeFilter(np.ones((H, W), bool), radius)


def test_objective_results_are_finite_and_typed():
    for vc in (True, False):
        obj = ts.PixelObjective(_problem(), penal=3.0, volume_constraint=vc)
        theta = _valid_theta(obj)
        c, g = obj.value_and_grad(list(theta))  # array-likes are accepted
        assert type(c) is float and np.isfinite(c) and c > 0
        assert g.shape == (N,) and g.dtype == np.float64 and np.all(np.isfinite(g))
        x0 = obj.x0
        x0[:] = 7.0  # x0 is a copy
        assert np.all(obj.x0 <= 1.0)


# --------------------------------------------------------------------------------------------
# Compliance (density space)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.full(N, 0.5), r"x must (be an array of|have) shape \(4, 8\), got (shape )?\(32,\)"),
        (np.full((W, H), 0.5), r"x must (be an array of|have) shape \(4, 8\)"),
        (np.full((H, W, 1), 0.5), r"x must (be an array of|have) shape"),
        (_with(1, np.nan).reshape(H, W), "x must be finite, got 1 NaN or inf"),
        (_with(1, np.inf).reshape(H, W), "x must be finite, got 1 NaN or inf"),
        (_with(1, -0.1).reshape(H, W), "negative densities"),
    ],
)
def test_compliance_bad_density(x, match):
    phys = Compliance(_problem(), penal=3.0)
    for call in (
        lambda: phys.value(x),
        lambda: phys.value_and_grad(x),
        lambda: phys.state(x),
        lambda: phys.hvp(x, np.ones((H, W))),
        lambda: phys.stiffness_values(x),
        lambda: phys.stiffness_matrix(x),
    ):
        with pytest.raises(InvalidInputError, match=match):
            call()
    assert phys.n_factorizations == 0
    assert np.isfinite(phys.value(np.full((H, W), 0.5)))


@pytest.mark.parametrize(
    ("v", "match"),
    [
        (np.ones(N), r"v must (be an array of|have) shape \(4, 8\)"),
        (_with(0, np.nan, np.ones(N)).reshape(H, W), "v must be finite, got 1 NaN or inf"),
        (_with(0, -np.inf, np.ones(N)).reshape(H, W), "v must be finite, got 1 NaN or inf"),
    ],
)
def test_compliance_bad_direction(v, match):
    phys = Compliance(_problem(), penal=3.0)
    x = np.full((H, W), 0.5)
    with pytest.raises(InvalidInputError, match=match):
        phys.hvp(x, v)
    assert np.all(np.isfinite(phys.hvp(x, np.ones((H, W)))))


def test_compliance_bad_material():
    for kwargs in ({"e_min": 0.0}, {"e_min": -1e-9}, {"e_min": 2.0}, {"e_0": np.inf}):
        with pytest.raises(InvalidInputError, match="e_min must be|e_0 must be"):
            Compliance(_problem(), **kwargs)
    with pytest.raises(ValueError, match="Poisson's ratio"):
        Compliance(_problem(), poisson=0.5)


def test_compliance_accepts_filtered_densities_above_one():
    # masked cone filters can produce x_phys slightly above 1 (physics.md): not an error
    phys = Compliance(_problem(), penal=3.0)
    c_hi = phys.value(np.full((H, W), 1.2))
    c_one = phys.value(np.full((H, W), 1.0))
    assert np.isfinite(c_hi) and c_hi == pytest.approx(c_one / (1.2**3), rel=1e-6)


# --------------------------------------------------------------------------------------------
# ConeFilter and VolumeSigmoid
# --------------------------------------------------------------------------------------------
def test_cone_filter_bad_input():
    with pytest.raises(InvalidInputError, match="mask must be 2-D"):
        ConeFilter(np.ones(N, bool))
    with pytest.raises(InvalidInputError, match="mask must be 2-D"):
        ConeFilter(np.ones((2, H, W), bool))
    filt = ConeFilter(np.ones((H, W), bool), 2.0)
    for bad in (np.ones(N), np.ones((W, H)), np.ones((H, W + 1))):
        with pytest.raises(InvalidInputError, match=r"x must (be an array of|have) shape \(4, 8\)"):
            filt(bad)
        with pytest.raises(InvalidInputError, match=r"g must have shape \(4, 8\)"):
            filt.adjoint(bad)


@pytest.mark.parametrize("density", [0.0, 1.0, -0.2, 1.2, np.nan, np.inf])
def test_volume_sigmoid_bad_density(density):
    with pytest.raises(InvalidInputError, match="density must lie strictly inside"):
        VolumeSigmoid(np.ones((H, W), bool), density)


def test_volume_sigmoid_bad_input():
    with pytest.raises(InvalidInputError, match="mask has no designable cell"):
        VolumeSigmoid(np.zeros((H, W), bool), 0.5)
    with pytest.raises(InvalidInputError, match="mask must be 2-D"):
        VolumeSigmoid(np.ones(N, bool), 0.5)
    mask = np.ones((H, W), bool)
    mask[:, :2] = False
    vs = VolumeSigmoid(mask, 0.3)
    for bad in (np.zeros(N), np.zeros((W, H))):
        with pytest.raises(InvalidInputError, match=r"z must have shape \(4, 8\)"):
            vs.forward(bad)
    for bad_value in (np.nan, np.inf, -np.inf):
        z = np.zeros((H, W))
        z[1, 5] = bad_value  # a designable cell
        with pytest.raises(InvalidInputError, match="logits contain NaN or inf"):
            vs.forward(z)
    st = vs.forward(np.zeros((H, W)))
    np.testing.assert_allclose(st.x[mask], 0.3, rtol=1e-14)
    with pytest.raises(InvalidInputError, match=r"v must (be an array of|have) shape \(4, 8\)"):
        st.jvp(np.ones(N))
    with pytest.raises(InvalidInputError, match=r"g must have shape \(4, 8\)"):
        st.vjp(np.ones((W, H)))
    with pytest.raises(InvalidInputError, match=r"must have shape \(4, 8\)"):
        st.second_order(np.ones((H, W)), np.ones(N))


# --------------------------------------------------------------------------------------------
# invalid problems, end to end
# --------------------------------------------------------------------------------------------
def _cantilever():
    n_dofs = 2 * (W + 1) * (H + 1)
    fixed = np.arange(2 * (H + 1))  # left edge clamped
    forces = np.zeros(n_dofs)
    forces[-1] = -1.0
    return n_dofs, fixed, forces


def test_custom_problem_end_to_end():
    n_dofs, fixed, forces = _cantilever()
    problem = ts.problems.Problem(W, H, 0.4, fixed, forces)
    obj = ts.PixelObjective(problem, penal=3.0)
    c, g = obj.value_and_grad(obj.x0)
    assert np.isfinite(c) and c > 0 and np.all(np.isfinite(g))
    # tip load on a clamped cantilever: compliance = f^T u = -u_y(tip) > 0
    st = obj.physics.state(obj.design(obj.x0))
    assert c == pytest.approx(-st.u[n_dofs - 1], rel=1e-12)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"fixed_dofs": "out_of_range"}, InvalidProblemError, "out of range"),
        ({"fixed_dofs": "negative"}, InvalidProblemError, "out of range"),
        ({"density": 0.0}, InvalidProblemError, "density"),
        ({"density": 1.2}, InvalidProblemError, "density"),
        ({"forces": "short"}, InvalidProblemError, "forces must have length exactly"),
        ({"forces": "nan"}, InvalidProblemError, "forces must be finite"),
        ({"fixed_dofs": "roller"}, UnderconstrainedProblemError, "rigid-body motion free"),
        ({"mask": "wrong"}, InvalidProblemError, "mask must have shape"),
    ],
)
def test_invalid_problem_never_reaches_the_objective(change, error, match):
    n_dofs, fixed, forces = _cantilever()
    args = {"width": W, "height": H, "density": 0.4, "fixed_dofs": fixed, "forces": forces}
    key, what = next(iter(change.items()))
    if what == "out_of_range":
        args["fixed_dofs"] = np.append(fixed, n_dofs)
    elif what == "negative":
        args["fixed_dofs"] = np.append(fixed, -1)
    elif what == "short":
        args["forces"] = forces[:-2]
    elif what == "nan":
        args["forces"] = np.where(forces != 0, np.nan, 0.0)
    elif what == "roller":
        args["fixed_dofs"] = np.arange(0, 2 * (H + 1), 2)  # x only: y translation free
    elif what == "wrong":
        args["mask"] = np.ones((W, H), bool)
    else:
        args[key] = what
    with pytest.raises(error, match=match) as info:
        ts.PixelObjective(ts.problems.Problem(**args), penal=3.0)
    assert isinstance(info.value, ValueError)


def test_category_function_bad_arguments():
    with pytest.raises(InvalidProblemError, match="density"):
        ts.problems.mbb_beam(width=8, height=4, density=1.2)
    with pytest.raises(InvalidProblemError, match="density"):
        ts.problems.mbb_beam(width=8, height=4, density=0)
    with pytest.raises(InvalidProblemError, match="width must be an integer >= 1"):
        ts.problems.mbb_beam(width=0, height=4, density=0.5)
    with pytest.raises(KeyError):
        ts.problems.get("mbb_beam_96x32_0.55")
