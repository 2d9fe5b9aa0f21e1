"""CNNObjective: exact gradients and Hessian-vector products of the whole graph."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import toposcape as ts  # noqa: E402

PROBLEM = "michell_centered_both_32x64_0.12"


@pytest.fixture(scope="module", params=["bilinear", "transpose"])
def objective64(request):
    problem = ts.problems.get(PROBLEM)
    return ts.CNNObjective(problem, penal=3.0, seed=1, upsampling=request.param, dtype="float64")


def _point(obj, seed=0, scale=0.05):
    rng = np.random.default_rng(seed)
    return obj.x0 + scale * rng.standard_normal(obj.size) * (np.abs(obj.x0) + 0.1)


def test_gradient_matches_central_differences(objective64):
    obj = objective64
    theta = _point(obj)
    _, g = obj.value_and_grad(theta)
    rng = np.random.default_rng(1)
    for _ in range(2):
        d = rng.standard_normal(obj.size)
        d /= np.linalg.norm(d)
        h = 1e-5
        fd = (obj.value_and_grad(theta + h * d)[0] - obj.value_and_grad(theta - h * d)[0]) / (2 * h)
        assert abs(fd - g @ d) <= 1e-6 * abs(g @ d) + 1e-9 * np.linalg.norm(g)


def test_hvp_matches_central_differences_of_gradients(objective64):
    obj = objective64
    theta = _point(obj, seed=2)
    v = np.random.default_rng(3).standard_normal(obj.size)
    v /= np.linalg.norm(v)
    hv = obj.hvp(theta, v)
    h = 1e-4
    fd = (obj.value_and_grad(theta + h * v)[1] - obj.value_and_grad(theta - h * v)[1]) / (2 * h)
    err = np.linalg.norm(hv - fd) / np.linalg.norm(fd)
    assert err < 1e-5, err


def test_hvp_is_symmetric(objective64):
    obj = objective64
    theta = _point(obj, seed=4)
    rng = np.random.default_rng(5)
    u, v = rng.standard_normal((2, obj.size))
    uhv = u @ obj.hvp(theta, v)
    vhu = v @ obj.hvp(theta, u)
    assert abs(uhv - vhu) <= 1e-9 * max(abs(uhv), abs(vhu))


def test_hvp_includes_the_cnn_curvature():
    # The Gauss-Newton part J^T H_z J alone differs from the full Hessian: the test above
    # could not pass with an HVP that dropped the CNN's second derivatives.
    problem = ts.problems.get(PROBLEM)
    obj = ts.CNNObjective(problem, seed=0, dtype="float64")
    theta = _point(obj, seed=6)
    v = np.random.default_rng(7).standard_normal(obj.size)
    full = obj.hvp(theta, v)
    z = torch.from_numpy(obj.logits(theta)).requires_grad_(False)
    flat = torch.from_numpy(theta)
    _, jv = torch.func.jvp(obj.model.forward_from_flat, (flat,), (torch.from_numpy(v),))
    hz_jv = obj.pixel.hvp(z.numpy().ravel(), jv.numpy().ravel()).reshape(z.shape)
    _, vjp = torch.func.vjp(obj.model.forward_from_flat, flat)
    gauss_newton = vjp(torch.from_numpy(hz_jv))[0].numpy()
    assert np.linalg.norm(full - gauss_newton) > 1e-3 * np.linalg.norm(full)


def test_same_seed_same_run_bit_for_bit():
    problem = ts.problems.get(PROBLEM)
    runs = []
    for _ in range(2):
        obj = ts.CNNObjective(problem, seed=3)
        traj = ts.optim.get("lbfgs").run(obj, max_evals=8)
        runs.append((obj.x0, traj.eval_losses, traj.theta))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    other = ts.CNNObjective(problem, seed=4)
    assert not np.array_equal(other.x0, runs[0][0])


def test_float32_default_agrees_with_float64():
    problem = ts.problems.get(PROBLEM)
    o32 = ts.CNNObjective(problem, seed=0)
    o64 = ts.CNNObjective(problem, seed=0, dtype="float64")
    np.testing.assert_array_equal(o32.x0, o64.x0)
    f32, g32 = o32.value_and_grad(o32.x0)
    f64, g64 = o64.value_and_grad(o64.x0)
    assert abs(f32 / f64 - 1) < 1e-4
    assert np.linalg.norm(g32 - g64) < 1e-3 * np.linalg.norm(g64)


@pytest.mark.parametrize("upsampling", ["bilinear", "transpose"])
def test_every_design_meets_the_volume(upsampling):
    problem = ts.problems.get("pure_bending_moment_32x64_0.15")
    obj = ts.CNNObjective(problem, seed=2, upsampling=upsampling)
    rng = np.random.default_rng(8)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=6, record_params=True)
    points = [*traj.thetas, obj.x0 + rng.standard_normal(obj.size)]
    for theta in points:
        x = obj.design(theta)
        assert x.shape == (problem.height, problem.width)
        # the sigmoid's output has the exact mean; x_phys is its filtered image
        z = obj.logits(theta)
        x_v = obj.pixel.sigmoid(z)
        assert abs(x_v[problem.mask].mean() - problem.density) < 1e-12
        np.testing.assert_allclose(x, obj.pixel.filter(x_v), rtol=0, atol=1e-15)


def test_bad_inputs_raise_value_errors():
    problem = ts.problems.get(PROBLEM)
    obj = ts.CNNObjective(problem, seed=0)
    with pytest.raises(ValueError, match="length"):
        obj.value_and_grad(np.zeros(obj.size - 1))
    with pytest.raises(ValueError, match="NaN"):
        obj.value_and_grad(np.full(obj.size, np.nan))
    for bad in (np.nan, np.inf, -np.inf):  # one entry is enough, in every entry point
        theta = obj.x0
        theta[obj.size // 3] = bad
        for call in (obj.value_and_grad, obj.value, obj.logits):
            with pytest.raises(ValueError, match="1 NaN or inf"):
                call(theta)
    # finite values beyond float32's range are not refused up front: they round to inf in the
    # float32 CNN. Here tanh saturates (a finite loss, design and value), but the backward
    # pass overflows, and the gradient's NaN entries are refused with what happened
    theta = obj.x0
    theta[7] = 1e300
    assert np.isfinite(obj.value(theta)) and np.isfinite(obj.design(theta)).all()
    with pytest.raises(ValueError, match="gradient has 1024 NaN or inf entries of 567553 at a"):
        obj.value_and_grad(theta)
    # ... but when they reach the CNN's output, the error says so (not "theta must be finite",
    # the physics' name for its own input)
    theta = obj.x0
    theta[-1] = 1e300  # the last block's offset: one pixel's logit
    for call in (obj.value_and_grad, obj.value, obj.logits, obj.design):
        with pytest.raises(ValueError, match="CNN's output .* has 1 NaN or inf entry of 2048"):
            call(theta)
    theta[-2] = -1e300
    with pytest.raises(ValueError, match="2 NaN or inf entries of 2048: theta overflows"):
        obj.value_and_grad(theta)
    with pytest.raises(ValueError, match="length"):
        obj.hvp(obj.x0, np.zeros(3))
    with pytest.raises(ValueError, match="dtype"):
        ts.CNNObjective(problem, dtype="float16")
    with pytest.raises(ValueError, match="divisible"):
        ts.CNNObjective(ts.problems.mbb_beam(width=60, height=20, density=0.5))
    with pytest.raises(ValueError, match="upsampling"):
        ts.CNNObjective(problem, upsampling="nearest")


def test_changing_torch_threads_after_construction_keeps_the_physics_exact():
    # torch.set_num_threads also sets MKL's thread count; PARDISO's numeric phase with fewer
    # threads than its analysis returned wrong factors (relative residual 0.25, then an
    # UnderconstrainedProblemError). The solver pins its analysis' thread count per call.
    problem = ts.problems.get(PROBLEM)
    threads = torch.get_num_threads()
    obj = ts.CNNObjective(problem, penal=3.0, seed=0, dtype="float64")
    theta = obj.x0
    before = obj.value_and_grad(theta)
    reference = ts.CNNObjective(problem, penal=3.0, seed=0, dtype="float64")
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        f, g = obj.value_and_grad(theta + 0.0)
        f_new, g_new = reference.value_and_grad(theta)
    finally:
        torch.set_num_threads(threads)
    assert obj.pixel.physics.solver.last_residual < 1e-10
    np.testing.assert_allclose(f, before[0], rtol=1e-12)
    np.testing.assert_allclose(g, before[1], rtol=1e-9, atol=1e-12 * np.abs(g).max())
    np.testing.assert_allclose(f_new, f, rtol=1e-12)


def test_float32_cnn_reports_the_float64_compliance():
    # As the reference: the CNN runs in float32, the loss value is the physics' float64 value
    # (a float32-rounded value made line searches stop early on ties).
    obj = ts.CNNObjective(ts.problems.get(PROBLEM), penal=3.0, seed=0)
    f, _ = obj.value_and_grad(obj.x0)
    exact = obj.pixel.value(obj.logits(obj.x0).ravel())
    assert f == exact
    assert f != float(np.float32(f))


def test_hvp_at_reuses_one_graph_and_equals_hvp(objective64):
    obj = objective64
    theta = _point(obj, seed=3)
    product = obj.hvp_at(theta)
    rng = np.random.default_rng(4)
    for _ in range(2):
        v = rng.standard_normal(obj.size)
        expected = obj.hvp(theta, v)
        obj.value_and_grad(theta + 0.1)  # moves the module's parameters and the physics cache
        np.testing.assert_allclose(
            product(v), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max()
        )


def test_value_equals_value_and_grad(objective64):
    # CNNObjective had no value() while PixelObjective did.
    theta = _point(objective64, seed=4)
    assert objective64.value(theta) == objective64.value_and_grad(theta)[0]
    assert objective64.value(objective64.x0) == objective64.value_and_grad(objective64.x0)[0]


def test_objectives_accept_a_suite_name():
    # ts.PixelObjective("name") raised AttributeError.
    by_name = ts.PixelObjective(PROBLEM)
    by_problem = ts.PixelObjective(ts.problems.get(PROBLEM))
    assert by_name.value(by_name.x0) == by_problem.value(by_problem.x0)
    cnn = ts.CNNObjective(PROBLEM, seed=2)
    np.testing.assert_array_equal(cnn.x0, ts.CNNObjective(ts.problems.get(PROBLEM), seed=2).x0)
    with pytest.raises(ts.UnknownNameError, match="did you mean"):
        ts.PixelObjective("michell_centered_both_32x64_0.13")
    for bad in (None, 3, np.zeros(4)):
        with pytest.raises(TypeError, match="problem must be a toposcape.problems.Problem"):
            ts.PixelObjective(bad)
        with pytest.raises(TypeError, match="problem must be a toposcape.problems.Problem"):
            ts.CNNObjective(bad)
