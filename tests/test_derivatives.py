"""Exact first and second derivatives of the pipeline against finite differences and dense
linear algebra: PixelObjective (with and without the volume constraint), physics.Compliance in
density space, and the pieces (VolumeSigmoid, ConeFilter, element kernels)."""

from __future__ import annotations

import numpy as np
import pytest

import toposcape as ts
from toposcape.physics import (
    Compliance,
    ConeFilter,
    VolumeSigmoid,
    element_bilinear,
    element_energies,
    element_stiffness,
    scatter_element_loads,
    simp_modulus,
)


def _mbb():
    return ts.problems.mbb_beam(width=16, height=8, density=0.4)


def _lshape():
    # non-trivial design mask: exercises the masked sigmoid and the column-sum filter
    return ts.problems.l_shape(width=12, height=12, density=0.4)


PROBLEMS = {"mbb": _mbb, "lshape": _lshape}


def _theta(obj, rng):
    """A random interior point: logits ~ N(0, 1), or densities in [0.2, 0.8]."""
    if obj.volume_constraint:
        return rng.normal(size=obj.size)
    return rng.uniform(0.2, 0.8, size=obj.size)


def _central(fun, x, v, h):
    """Plain central difference of ``fun`` along ``v``."""
    return (fun(x + h * v) - fun(x - h * v)) / (2 * h)


def _central4(fun, x, v, h):
    """Fourth-order central difference of ``fun`` along ``v``."""
    return (8 * (fun(x + h * v) - fun(x - h * v)) - (fun(x + 2 * h * v) - fun(x - 2 * h * v))) / (
        12 * h
    )


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _grad(obj):
    return lambda t: obj.value_and_grad(t)[1]


def _value(obj):
    return lambda t: obj.value_and_grad(t)[0]


# --------------------------------------------------------------------------------------------
# Hessian-vector products against finite differences of gradients
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("penal", [1.0, 3.0])
@pytest.mark.parametrize("volume_constraint", [True, False])
def test_pixel_hvp_vs_central_differences(problem, penal, volume_constraint):
    rng = np.random.default_rng(1)
    obj = ts.PixelObjective(PROBLEMS[problem](), penal=penal, volume_constraint=volume_constraint)
    theta = _theta(obj, rng)
    v = rng.normal(size=obj.size)
    hv = obj.hvp(theta, v)
    assert hv.shape == (obj.size,) and hv.dtype == np.float64
    assert np.linalg.norm(hv) > 0
    g = _grad(obj)
    # plain central differences, step ~1e-4 of the theta scale (logits ~1, densities ~0.5)
    h = 1e-4 if volume_constraint else 1e-5
    err2 = _rel(_central(g, theta, v, h), hv)
    assert err2 <= 1e-6, err2
    # fourth-order stencil: truncation O(h^4), much tighter
    err4 = _rel(_central4(g, theta, v, 1e-3), hv)
    assert err4 <= 1e-7, err4
    if volume_constraint:
        # the composition J^T F^T H_phys F J v + curvature term, rebuilt from the pieces
        z = theta.reshape(obj.shape)
        st = obj.sigmoid.forward(z)
        x_phys = obj.filter(st.x)
        hv_phys = obj.physics.hvp(x_phys, obj.filter(st.jvp(v.reshape(obj.shape))))
        gauss_newton = st.vjp(obj.filter.adjoint(hv_phys)).ravel()
        g_v = obj.filter.adjoint(obj.physics.value_and_grad(x_phys)[1])
        curvature = st.second_order(g_v, v.reshape(obj.shape)).ravel()
        np.testing.assert_allclose(gauss_newton + curvature, hv, rtol=0, atol=1e-12 * abs(hv).max())
        # the test discriminates: dropping the sigmoid curvature term is far outside tolerance
        assert _rel(gauss_newton, hv) > 1e-4


@pytest.mark.parametrize("penal", [1.0, 2.0, 2.5, 3.0])
def test_compliance_hvp_vs_central_differences(penal):
    rng = np.random.default_rng(2)
    problem = _mbb()
    phys = Compliance(problem, penal=penal)
    x = rng.uniform(0.2, 0.8, size=(problem.height, problem.width))
    v = rng.normal(size=x.shape)
    hv = phys.hvp(x, v)
    assert hv.shape == x.shape
    g = lambda t: phys.value_and_grad(t)[1]  # noqa: E731
    err2 = _rel(_central(g, x, v, 1e-5), hv)
    err4 = _rel(_central4(g, x, v, 1e-3), hv)
    assert err2 <= 1e-6, err2
    assert err4 <= 1e-7, err4


@pytest.mark.parametrize("penal", [1.0, 3.0])
@pytest.mark.parametrize("volume_constraint", [True, False])
def test_hvp_symmetry(penal, volume_constraint):
    rng = np.random.default_rng(3)
    obj = ts.PixelObjective(_lshape(), penal=penal, volume_constraint=volume_constraint)
    theta = _theta(obj, rng)
    for _ in range(3):
        u, v = rng.normal(size=(2, obj.size))
        uhv = float(u @ obj.hvp(theta, v))
        vhu = float(v @ obj.hvp(theta, u))
        assert abs(uhv) > 1e-6 * np.linalg.norm(u) * np.linalg.norm(obj.hvp(theta, v))
        assert abs(uhv - vhu) <= 1e-9 * abs(uhv), (uhv, vhu)


def test_compliance_hvp_symmetry_and_linearity():
    rng = np.random.default_rng(4)
    problem = _mbb()
    phys = Compliance(problem, penal=3.0)
    x = rng.uniform(0.1, 0.9, size=(problem.height, problem.width))
    u, v = rng.normal(size=(2, *x.shape))
    hu, hv = phys.hvp(x, u), phys.hvp(x, v)
    assert abs(np.vdot(u, hv) - np.vdot(v, hu)) <= 1e-9 * abs(np.vdot(u, hv))
    np.testing.assert_allclose(
        phys.hvp(x, 2.0 * u - 3.0 * v), 2.0 * hu - 3.0 * hv, rtol=1e-9, atol=1e-9 * np.abs(hu).max()
    )
    np.testing.assert_array_equal(phys.hvp(x, np.zeros_like(x)), 0.0)


# --------------------------------------------------------------------------------------------
# dense Hessians on a tiny problem
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("penal", [1.0, 3.0])
@pytest.mark.parametrize("volume_constraint", [True, False])
def test_dense_hessian_vs_jacobian_of_gradient(penal, volume_constraint):
    rng = np.random.default_rng(5)
    problem = ts.problems.mbb_beam(width=6, height=4, density=0.5)
    obj = ts.PixelObjective(problem, penal=penal, volume_constraint=volume_constraint)
    n = obj.size
    assert n == 24
    theta = _theta(obj, rng)
    eye = np.eye(n)
    hess = np.column_stack([obj.hvp(theta, eye[i]) for i in range(n)])
    jac = np.column_stack([_central4(_grad(obj), theta, eye[i], 1e-3) for i in range(n)])
    scale = np.abs(hess).max()
    assert scale > 0
    assert np.abs(hess - hess.T).max() <= 1e-10 * scale
    assert np.abs(hess - jac).max() <= 1e-7 * scale, np.abs(hess - jac).max() / scale
    if volume_constraint:
        # a constant shift of the logits is absorbed by the volume sigmoid: null direction
        ones = np.ones(n)
        assert np.abs(hess @ ones).max() <= 1e-9 * scale
        assert (
            abs(obj.value_and_grad(theta)[1] @ ones)
            <= 1e-9 * np.abs(obj.value_and_grad(theta)[1]).sum()
        )


def _dense_physics_hessian(phys, x):
    n = x.size
    eye = np.eye(n)
    return np.column_stack([phys.hvp(x, eye[i].reshape(x.shape)).ravel() for i in range(n)])


def test_compliance_dense_hessian_vs_jacobian():
    rng = np.random.default_rng(6)
    problem = ts.problems.mbb_beam(width=6, height=4, density=0.5)
    phys = Compliance(problem, penal=3.0)
    x = rng.uniform(0.2, 0.8, size=(4, 6))
    hess = _dense_physics_hessian(phys, x)
    g = lambda t: phys.value_and_grad(t)[1].ravel()  # noqa: E731
    eye = np.eye(x.size)
    jac = np.column_stack(
        [_central4(lambda t: g(t.reshape(x.shape)), x.ravel(), eye[i], 1e-3) for i in range(x.size)]
    )
    scale = np.abs(hess).max()
    assert np.abs(hess - hess.T).max() <= 1e-10 * scale
    assert np.abs(hess - jac).max() <= 1e-7 * scale


def test_p1_physics_hessian_is_psd_and_p3_is_not():
    rng = np.random.default_rng(7)
    problem = ts.problems.mbb_beam(width=8, height=4, density=0.5)
    convex = Compliance(problem, penal=1.0)
    penalised = Compliance(problem, penal=3.0)
    found_negative = False
    for _ in range(3):
        x = rng.uniform(0.05, 0.95, size=(4, 8))
        h1 = _dense_physics_hessian(convex, x)
        assert np.abs(h1 - h1.T).max() <= 1e-12 * np.abs(h1).max()
        ev1 = np.linalg.eigvalsh(0.5 * (h1 + h1.T))
        assert ev1.max() > 0
        assert ev1.min() >= -1e-10 * ev1.max(), (ev1.min(), ev1.max())
        h3 = _dense_physics_hessian(penalised, x)
        ev3 = np.linalg.eigvalsh(0.5 * (h3 + h3.T))
        # a clearly negative eigenvalue, far beyond round-off
        found_negative |= ev3.min() < -1e-4 * ev3.max()
    assert found_negative


# --------------------------------------------------------------------------------------------
# gradients against directional finite differences of the value
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("penal", [1.0, 3.0])
@pytest.mark.parametrize("volume_constraint", [True, False])
def test_pixel_gradient_vs_directional_derivative(problem, penal, volume_constraint):
    rng = np.random.default_rng(8)
    obj = ts.PixelObjective(PROBLEMS[problem](), penal=penal, volume_constraint=volume_constraint)
    theta = _theta(obj, rng)
    c, g = obj.value_and_grad(theta)
    assert np.isfinite(c) and c > 0
    for _ in range(2):
        v = rng.normal(size=obj.size)
        fd = _central4(_value(obj), theta, v, 1e-3)
        assert abs(fd - g @ v) <= 1e-7 * abs(g @ v), (fd, g @ v)
    if not volume_constraint:
        # cells outside the mask do not enter the design: zero gradient there
        assert np.all(g[~obj.mask.ravel()] == 0.0)


@pytest.mark.parametrize("penal", [1.0, 3.0])
def test_compliance_gradient_vs_directional_derivative(penal):
    rng = np.random.default_rng(9)
    problem = _mbb()
    phys = Compliance(problem, penal=penal)
    x = rng.uniform(0.2, 0.8, size=(problem.height, problem.width))
    c, g = phys.value_and_grad(x)
    st = phys.state(x)
    # c = f^T u = sum_e E_e u_e^T KE u_e
    assert c == pytest.approx(float(np.asarray(problem.forces) @ st.u), rel=1e-12)
    assert c == pytest.approx(float((st.young * st.energies).sum()), rel=1e-10)
    np.testing.assert_array_equal(st.u[problem.fixed_dofs], 0.0)
    for _ in range(2):
        v = rng.normal(size=x.shape)
        fd = _central4(lambda t: phys.value_and_grad(t)[0], x, v, 1e-3)
        assert abs(fd - np.vdot(g, v)) <= 1e-7 * abs(np.vdot(g, v))


def test_simp_modulus_derivatives():
    x = np.linspace(0.05, 1.0, 20)
    for p in (1.0, 2.0, 2.5, 3.0):
        e, de, d2e = simp_modulus(x, p)
        one = np.ones_like(x)
        fd1 = _central4(lambda t, p=p: simp_modulus(t, p)[0], x, one, 1e-3)
        fd2 = _central4(lambda t, p=p: simp_modulus(t, p)[1], x, one, 1e-3)
        np.testing.assert_allclose(de, fd1, rtol=1e-8)
        np.testing.assert_allclose(d2e, fd2, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(e, ts.physics.E_MIN + (1 - ts.physics.E_MIN) * x**p)
    e, de, d2e = simp_modulus(np.zeros(3), 3.0)
    np.testing.assert_array_equal(e, ts.physics.E_MIN)
    np.testing.assert_array_equal(de, 0.0)
    np.testing.assert_array_equal(d2e, 0.0)


# --------------------------------------------------------------------------------------------
# the volume-constrained sigmoid
# --------------------------------------------------------------------------------------------
MASKS = {
    "full": np.ones((6, 9), dtype=bool),
    "lshape": _lshape().mask,
}


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("density", [0.12, 0.5, 0.8])
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0, 50.0])
def test_volume_sigmoid_mean(mask_name, density, scale):
    mask = MASKS[mask_name]
    vs = VolumeSigmoid(mask, density)
    rng = np.random.default_rng(10)
    for _ in range(3):
        z = scale * rng.normal(size=mask.shape)
        st = vs.forward(z)
        assert abs(st.x[mask].mean() - density) <= 1e-12
        assert np.all(st.x[~mask] == 0.0)
        assert np.all((st.x[mask] >= 0.0) & (st.x[mask] <= 1.0))
        np.testing.assert_allclose(
            st.x[mask], 0.5 * np.tanh(0.5 * (z[mask] + st.b)) + 0.5, rtol=0, atol=1e-15
        )


@pytest.mark.parametrize("mask_name", sorted(MASKS))
def test_volume_sigmoid_jvp_vjp(mask_name):
    mask = MASKS[mask_name]
    vs = VolumeSigmoid(mask, 0.3)
    rng = np.random.default_rng(11)
    z = rng.normal(size=mask.shape)
    st = vs.forward(z)
    for _ in range(3):
        v, g = rng.normal(size=(2, *mask.shape))
        jv, jtg = st.jvp(v), st.vjp(g)
        # adjointness <J v, g> == <v, J^T g>
        assert abs(np.vdot(jv, g) - np.vdot(v, jtg)) <= 1e-13 * np.abs(jv).sum() * np.abs(g).max()
        # the volume is preserved to first order: J v sums to 0 over the mask
        assert abs(jv[mask].sum()) <= 1e-14 * np.abs(jv).sum() + 1e-15
        assert np.all(jv[~mask] == 0.0) and np.all(jtg[~mask] == 0.0)
        # J v against finite differences of the forward map
        fd = _central4(lambda t: vs.forward(t).x, z, v, 1e-3)
        assert _rel(fd, jv) <= 1e-9
        # second-order term: derivative of J^T g (g fixed) along v
        so = st.second_order(g, v)
        fd2 = _central4(lambda t, g=g: vs.forward(t).vjp(g), z, v, 1e-3)
        assert _rel(fd2, so) <= 1e-8, _rel(fd2, so)
        assert np.all(so[~mask] == 0.0)


@pytest.mark.parametrize(
    "pattern",
    ["checker50", "checker1000", "normal50", "normal1000", "const1000", "one_hot1000"],
)
def test_volume_sigmoid_extreme_logits_finite(pattern):
    shape = (4, 8)
    rng = np.random.default_rng(12)
    checker = np.where(np.indices(shape).sum(0) % 2 == 0, 1.0, -1.0)
    z = {
        "checker50": 50 * checker,
        "checker1000": 1e3 * checker,
        "normal50": 50 * rng.normal(size=shape),
        "normal1000": 1e3 * rng.normal(size=shape),
        "const1000": np.full(shape, 1e3),
        "one_hot1000": np.where(np.arange(32).reshape(shape) == 5, 1e3, -1e3),
    }[pattern]
    vs = VolumeSigmoid(np.ones(shape, bool), 0.5)
    st = vs.forward(z)
    assert np.isfinite(st.b)
    assert abs(st.x.mean() - 0.5) <= 1e-12
    v, g = rng.normal(size=(2, *shape))
    for out in (st.jvp(v), st.vjp(g), st.second_order(g, v)):
        assert np.all(np.isfinite(out))
    problem = ts.problems.mbb_beam(width=8, height=4, density=0.5)
    obj = ts.PixelObjective(problem, penal=3.0)
    c, grad = obj.value_and_grad(z.ravel())
    hv = obj.hvp(z.ravel(), v.ravel())
    assert np.isfinite(c) and c > 0
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hv))


def test_volume_sigmoid_saturated_logits_do_not_divide_by_zero():
    shape = (4, 8)
    z = 1e20 * np.random.default_rng(0).normal(size=shape)
    # 0.3 * 32 cells is not an integer: saturated logits cannot meet the volume constraint in
    # floating point, which must be a clear error.
    problem = ts.problems.mbb_beam(width=8, height=4, density=0.3)
    obj = ts.PixelObjective(problem, penal=3.0)
    with pytest.raises(ts.InvalidInputError, match="volume constraint cannot be met"):
        obj.value_and_grad(z.ravel())


def test_volume_sigmoid_derivatives_vanish_when_every_cell_saturates():
    # mean of saturated cells can equal the density exactly (half at 0, half at 1): S1 = 0.
    mask = np.ones((2, 2), bool)
    vs = ts.physics.VolumeSigmoid(mask, 0.5)
    z = np.array([[1e3, -1e3], [1e3, -1e3]])
    state = vs.forward(z)
    np.testing.assert_array_equal(state.x, [[1.0, 0.0], [1.0, 0.0]])
    v = np.ones((2, 2))
    np.testing.assert_array_equal(state.jvp(v), 0.0)
    np.testing.assert_array_equal(state.vjp(v), 0.0)
    np.testing.assert_array_equal(state.second_order(v, v), 0.0)


# --------------------------------------------------------------------------------------------
# the cone filter
# --------------------------------------------------------------------------------------------
def _dense_cone_filter(mask, radius):
    """Dense F from physics.md: R_ij = max(0, r - d_ij) for designable i, column-sum norm."""
    h, w = mask.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    centres = np.column_stack([yy.ravel(), xx.ravel()]).astype(float)
    d = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    r = np.where(d <= radius, np.maximum(0.0, radius - d), 0.0)
    m = mask.ravel()
    r[~m, :] = 0.0
    s = r.sum(axis=0)
    f = np.zeros_like(r)
    f[m] = r[m] / s[m][:, None]
    return f


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("radius", [1.0, 1.5, 2.0, 3.0])
def test_cone_filter_matches_dense_definition(mask_name, radius):
    mask = MASKS[mask_name]
    filt = ConeFilter(mask, radius)
    dense = _dense_cone_filter(mask, radius)
    np.testing.assert_allclose(filt.matrix.toarray(), dense, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("mask_name", sorted(MASKS))
def test_cone_filter_adjoint_and_rows(mask_name):
    mask = MASKS[mask_name]
    filt = ConeFilter(mask, 2.0)
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(2, *mask.shape))
    fx, fty = filt(x), filt.adjoint(y)
    assert fx.shape == mask.shape and fty.shape == mask.shape
    assert abs(np.vdot(fx, y) - np.vdot(x, fty)) <= 1e-13 * np.abs(fx).sum() * np.abs(y).max()
    # non-designable cells map to 0 whatever the input
    assert np.all(fx[~mask] == 0.0)
    assert np.all(filt(np.ones(mask.shape))[~mask] == 0.0)
    # full mask: rows sum to 1, so a constant field is left unchanged
    rows = np.asarray(filt.matrix.sum(axis=1)).ravel()
    if mask.all():
        np.testing.assert_allclose(rows, 1.0, rtol=0, atol=1e-14)
        np.testing.assert_allclose(filt(np.full(mask.shape, 0.37)), 0.37, rtol=1e-14)
        # full mask: R = diag(s) F is symmetric, with s_i = radius / F_ii (R_ii = radius)
        dense = filt.matrix.toarray()
        r = (2.0 / np.diag(dense))[:, None] * dense
        np.testing.assert_allclose(r, r.T, rtol=0, atol=1e-14)
        np.testing.assert_allclose(r.max(), 2.0, rtol=1e-15)
    else:
        assert np.all(rows[~mask.ravel()] == 0.0)
        assert np.all(rows[mask.ravel()] > 0.0)
        # column-sum normalisation: s_i sums R over designable cells only, and R is symmetric
        # between designable cells, so F maps the mask indicator to 1 on the mask, while rows
        # (which also weigh non-designable neighbours) sum to >= 1
        np.testing.assert_allclose(filt(mask.astype(float))[mask], 1.0, rtol=0, atol=1e-14)
        assert rows[mask.ravel()].min() >= 1.0 - 1e-14
        assert rows[mask.ravel()].max() > 1.0 + 1e-3
    # nonnegative weights: densities in [0, 1] stay nonnegative
    assert filt.matrix.data.min() > 0


# --------------------------------------------------------------------------------------------
# element kernels against the assembled stiffness matrix
# --------------------------------------------------------------------------------------------
def test_kernels_match_dense_assembly():
    rng = np.random.default_rng(14)
    problem = ts.problems.mbb_beam(width=7, height=5, density=0.5)
    h, w = problem.height, problem.width
    phys = Compliance(problem, penal=3.0)
    x = rng.uniform(0.0, 1.0, size=(h, w))
    young, _, _ = simp_modulus(x, 3.0)
    k_full = phys.stiffness_matrix(x, free_only=False)
    n_dofs = 2 * (w + 1) * (h + 1)
    assert k_full.shape == (n_dofs, n_dofs)
    ke = element_stiffness()
    np.testing.assert_array_equal(ke, phys.ke)
    u, v = rng.normal(size=(2, n_dofs))
    bil = element_bilinear(ke, u, v, h, w)
    assert bil.shape == (h, w)
    assert float((young * bil).sum()) == pytest.approx(float(u @ (k_full @ v)), rel=1e-12)
    energies = element_energies(ke, u, h, w)
    np.testing.assert_array_equal(energies, element_bilinear(ke, u, u, h, w))
    assert float((young * energies).sum()) == pytest.approx(float(u @ (k_full @ u)), rel=1e-12)
    # element energies are nonnegative (KE is PSD)
    assert energies.min() >= -1e-14 * energies.max()
    loads = scatter_element_loads(ke, u, young, h, w)
    np.testing.assert_allclose(loads, k_full @ u, rtol=0, atol=1e-12 * np.abs(loads).max())
    # per element: unit coefficient on one element gives KE u_e on its DOFs only
    coeff = np.zeros((h, w))
    ey, ex = 2, 3
    coeff[ey, ex] = 1.0
    single = scatter_element_loads(ke, u, coeff, h, w)
    n1 = (h + 1) * ex + ey
    n2 = (h + 1) * (ex + 1) + ey
    edof = np.array(
        [2 * n1, 2 * n1 + 1, 2 * n2, 2 * n2 + 1, 2 * n2 + 2, 2 * n2 + 3, 2 * n1 + 2, 2 * n1 + 3]
    )
    np.testing.assert_allclose(single[edof], ke @ u[edof], rtol=1e-14, atol=1e-14)
    rest = np.delete(single, edof)
    assert np.all(rest == 0.0)
    assert bil[ey, ex] == pytest.approx(float(u[edof] @ ke @ v[edof]), rel=1e-13)
    # the free-DOF matrix is the restriction of the full one
    k_ff = phys.stiffness_matrix(x)
    free = problem.free_dofs
    np.testing.assert_allclose(k_ff.toarray(), k_full.toarray()[np.ix_(free, free)], rtol=1e-14)


# --------------------------------------------------------------------------------------------
# factorization reuse
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("volume_constraint", [True, False])
def test_hvp_reuses_factorization(volume_constraint):
    rng = np.random.default_rng(15)
    obj = ts.PixelObjective(_mbb(), penal=3.0, volume_constraint=volume_constraint)
    phys = obj.physics
    assert (phys.n_factorizations, phys.n_solves) == (0, 0)
    theta = _theta(obj, rng)
    obj.value_and_grad(theta)
    assert (phys.n_factorizations, phys.n_solves) == (1, 1)
    hvs, vs = [], []
    for k in range(4):
        vs.append(rng.normal(size=obj.size))
        hvs.append(obj.hvp(theta, vs[-1]))
        assert phys.n_factorizations == 1
        assert phys.n_solves == 2 + k
    # the same theta again (a new but equal array): still cached
    obj.value_and_grad(theta.copy())
    obj.design(theta.copy())
    assert (phys.n_factorizations, phys.n_solves) == (1, 5)
    # hvp at a new point: one factorization, one state solve and one second-order solve
    theta2 = _theta(obj, rng)
    obj.hvp(theta2, rng.normal(size=obj.size))
    assert (phys.n_factorizations, phys.n_solves) == (2, 7)
    # and the cached results are right: a fresh objective agrees
    fresh = ts.PixelObjective(_mbb(), penal=3.0, volume_constraint=volume_constraint)
    np.testing.assert_allclose(fresh.hvp(theta, vs[0]), hvs[0], rtol=1e-12, atol=0)
