"""toposcape.lab.networks: benchmark networks with exactly known critical points."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import toposcape as ts
from toposcape.errors import InvalidInputError, UnknownNameError
from toposcape.lab import networks

NAMES = networks.names()


def _random_points(net, n, seed):
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in net.box])
    hi = np.array([b[1] for b in net.box])
    return lo + (hi - lo) * rng.random((n, net.size))


def test_registry():
    assert len(NAMES) >= 5
    assert len(set(NAMES)) == len(NAMES)
    for name in NAMES:
        net = networks.get(name)
        assert isinstance(net, ts.Objective)
        assert net.name == name and net.size == 2
        assert net.x0.shape == (2,)
        assert all(lo <= t <= hi for t, (lo, hi) in zip(net.x0, net.box, strict=True))
    table = networks.describe()
    assert list(table["name"]) == NAMES


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="two_depths"):
        networks.get("two_depth")
    with pytest.raises(TypeError):
        networks.get(3)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 1)), [np.nan, 0.0], [0.0, np.inf]])
def test_bad_theta(bad):
    net = networks.get("two_depths")
    for call in (net.value_and_grad, net.residuals, net.jacobian, net.hessian, net.loss):
        with pytest.raises(InvalidInputError):
            call(bad)
    with pytest.raises(InvalidInputError):
        net.hvp(bad, np.ones(2))
    with pytest.raises(InvalidInputError):
        net.hvp(np.zeros(2), bad)
    with pytest.raises(TypeError):
        net.value_and_grad("ab")


@pytest.mark.parametrize("name", NAMES)
def test_critical_points_table(name):
    net = networks.get(name)
    cps = net.critical_points()
    expected = ["theta_0", "theta_1", "kind", "nature", "loss", "hessian_eigenvalues"]
    assert list(cps.columns) == expected
    cps.loc[:, "loss"] = -1.0  # a copy: the cached table is not changed
    assert (net.critical_points()["loss"] >= 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_critical_points_are_critical(name):
    net = networks.get(name)
    for row in net.critical_points().itertuples():
        theta = np.array([row.theta_0, row.theta_1])
        loss, grad = net.value_and_grad(theta)
        scale = max(1.0, np.abs(net.hessian(theta)).max() * np.abs(theta).max())
        assert np.abs(grad).max() < 1e-9 * scale, (theta, grad)
        assert loss == pytest.approx(row.loss, rel=1e-12, abs=1e-14)
        for lo_hi, t in zip(net.box, theta, strict=True):
            assert lo_hi[0] <= t <= lo_hi[1]
        eigs = np.linalg.eigvalsh(net.hessian(theta))
        np.testing.assert_allclose(eigs, row.hessian_eigenvalues, rtol=1e-8, atol=1e-10)
        tol = 1e-6 * max(1.0, np.abs(eigs).max())
        if row.kind == "minimum":
            assert eigs.min() > tol
        elif row.kind == "maximum":
            assert eigs.max() < -tol
        elif row.kind == "saddle":
            assert eigs.min() < -tol and eigs.max() > tol
        else:
            assert row.kind == "degenerate"
            assert np.abs(eigs).min() <= tol
        if row.kind != "degenerate":
            assert row.nature == row.kind


def test_expected_contents():
    """What each network is there to cover."""

    def kinds(name):
        return list(networks.get(name).critical_points()["kind"])

    def minima_losses(name):
        return sorted(networks.get(name).minima()["loss"])

    depths = minima_losses("two_depths")
    assert len(depths) == 2 and depths[1] - depths[0] > 0.4
    assert kinds("two_depths").count("saddle") == 2
    sq = kinds("symmetric_squares")
    assert (sq.count("minimum"), sq.count("saddle"), sq.count("maximum")) == (4, 4, 1)
    gate = networks.get("degenerate_gate").critical_points()
    assert list(gate["kind"]) == ["degenerate"] and list(gate["nature"]) == ["minimum"]
    np.testing.assert_allclose(gate[["theta_0", "theta_1"]].to_numpy(), [[1.0, 0.0]], atol=1e-14)
    steep = minima_losses("exp_steep")
    assert len(steep) == 2 and steep[0] < steep[1]
    tanh = networks.get("tanh_infinity")
    assert list(tanh.critical_points()["kind"]) == ["saddle"]
    assert tanh.infimum_at_infinity
    assert tanh.loss([20.0, 1.0]) < 1e-12  # the infimum 0, approached at infinity


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_finite_differences(name):
    net = networks.get(name)
    rng = np.random.default_rng(1)
    h = 1e-6
    for theta in _random_points(net, 5, seed=NAMES.index(name)):
        loss, grad = net.value_and_grad(theta)
        assert isinstance(loss, float) and grad.shape == (2,) and grad.dtype == np.float64
        fd = np.array(
            [(net.loss(theta + h * e) - net.loss(theta - h * e)) / (2 * h) for e in np.eye(2)]
        )
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * max(1.0, abs(loss)))
        v = rng.standard_normal(2)
        hv = net.hvp(theta, v)
        fd_hv = (net.value_and_grad(theta + h * v)[1] - net.value_and_grad(theta - h * v)[1]) / (
            2 * h
        )
        scale = max(1.0, np.abs(net.hessian(theta)).max())
        np.testing.assert_allclose(hv, fd_hv, rtol=1e-6, atol=1e-6 * scale)
        # the least-squares form
        r = net.residuals(theta)
        jac = net.jacobian(theta)
        assert r.shape == (net.n_residuals,) and jac.shape == (net.n_residuals, 2)
        m = net.n_residuals
        assert loss == pytest.approx(np.sum(r**2) / m, rel=1e-12)
        np.testing.assert_allclose(grad, 2.0 / m * jac.T @ r, rtol=1e-10, atol=1e-12)
        fd_jac = np.column_stack(
            [
                (net.residuals(theta + h * e) - net.residuals(theta - h * e)) / (2 * h)
                for e in np.eye(2)
            ]
        )
        np.testing.assert_allclose(jac, fd_jac, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(jac).max()))


@pytest.mark.parametrize("name", NAMES)
def test_multistart_finds_nothing_else(name):
    """A dense grid of root finders on the gradient inside the box finds only listed points."""
    net = networks.get(name)
    cps = net.critical_points()
    listed = cps[["theta_0", "theta_1"]].to_numpy()
    lo = np.array([b[0] for b in net.box])
    hi = np.array([b[1] for b in net.box])
    grid = [np.linspace(a, b, 24) for a, b in net.box]
    starts = np.array(np.meshgrid(*grid)).reshape(2, -1).T
    found_listed = set()
    for start in starts:
        try:
            sol = scipy.optimize.root(
                lambda t: net.value_and_grad(t)[1], start, jac=net.hessian, method="hybr"
            )
        except InvalidInputError:  # the solver stepped to NaN/inf: no root from this start
            continue
        t = sol.x
        if not (sol.success and np.all(np.isfinite(t))):
            continue
        if np.any(t < lo - 1e-9) or np.any(t > hi + 1e-9):
            continue
        grad = net.value_and_grad(t)[1]
        scale = max(1.0, np.abs(net.hessian(t)).max())
        if np.abs(grad).max() > 1e-10 * scale:
            continue
        dist = np.linalg.norm(listed - t, axis=1) if len(listed) else np.array([np.inf])
        # a degenerate point is found only to about sqrt(rounding) by Newton-type solvers
        assert dist.min() < 1e-3, f"{name}: unlisted critical point {t} (grad {grad})"
        found_listed.add(int(dist.argmin()))
    # the multistart reaches every listed nondegenerate point
    nondegenerate = set(np.flatnonzero(cps["kind"].to_numpy() != "degenerate"))
    assert nondegenerate <= found_listed


@pytest.mark.parametrize("name", NAMES)
def test_lbfgs_reaches_a_listed_minimum(name):
    net = networks.get(name)
    traj = ts.optim.get("lbfgs").run(net, max_evals=200)
    theta, final_loss = traj.theta, traj.losses[-1]
    if net.infimum_at_infinity:
        assert final_loss < 1e-6 * net.loss(net.x0)
        assert abs(theta[0]) > 3.0  # heading out of the box, towards the infimum
        return
    minima = net.minima()
    dist = np.linalg.norm(minima[["theta_0", "theta_1"]].to_numpy() - theta, axis=1)
    assert dist.min() < 1e-3, (theta, minima)


@pytest.mark.parametrize("opt", ["gd", "momentum", "adam", "rmsprop", "gd_ls"])
def test_first_order_optimizers_run(opt):
    net = networks.get("two_depths")
    options = {"lr": 1e-3} if opt != "gd_ls" else {}
    traj = ts.optim.get(opt, **options).run(net, max_steps=30, max_evals=None)
    assert np.isfinite(traj.losses[-1]) and traj.losses[-1] <= traj.losses[0]


# -- batched evaluation (toposcape.lab.basin_maps) ----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_batched_methods_match_one_point_methods(name):
    net = networks.get(name)
    points = _random_points(net, 300, seed=11)
    losses, grads = net.value_and_grad_batch(points)
    res = net.residuals_batch(points)
    jac = net.jacobian_batch(points)
    assert losses.shape == (300,) and grads.shape == (300, 2)
    assert res.shape == (300, net.n_residuals) and jac.shape == (300, net.n_residuals, 2)
    for arr in (losses, grads, res, jac):
        assert arr.dtype == np.float64 and arr.flags.c_contiguous
    for i, theta in enumerate(points):
        f, g = net.value_and_grad(theta)
        # a few ulps: products instead of C pow, subexpressions summed in another order
        assert losses[i] == pytest.approx(f, rel=1e-14, abs=1e-300)
        scale = np.abs(net.jacobian(theta)).max() * np.abs(net.residuals(theta)).max()
        np.testing.assert_allclose(grads[i], g, rtol=0, atol=1e-14 * max(scale, 1.0))
        np.testing.assert_allclose(res[i], net.residuals(theta), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(jac[i], net.jacobian(theta), rtol=1e-14, atol=1e-15)


def test_batched_methods_edge_cases():
    net = networks.get("degenerate_gate")  # d r / d w1 = x: constant Jacobian entries
    jac = net.jacobian_batch(np.zeros((5, 2)))
    np.testing.assert_array_equal(jac[:, :, 0], np.broadcast_to(net.xs, (5, 3)))
    one = networks.get("exp_steep").value_and_grad_batch([[0.5, 0.5]])
    assert one[0].shape == (1,) and one[1].shape == (1, 2)
    # rows with NaN/inf or overflow give non-finite values, not errors
    f, g = networks.get("exp_steep").value_and_grad_batch([[np.nan, 0.0], [400.0, 1.0]])
    assert not np.any(np.isfinite(f))
    big = _random_points(networks.get("two_depths"), 40000, seed=1)  # several row chunks
    f, g = networks.get("two_depths").value_and_grad_batch(big)
    np.testing.assert_array_equal(
        f[[0, 39999]], networks.get("two_depths").value_and_grad_batch(big[[0, 39999]])[0]
    )
    for bad in (np.zeros(2), np.zeros((3, 3)), np.zeros((0, 2))):
        with pytest.raises(InvalidInputError):
            net.value_and_grad_batch(bad)
    with pytest.raises(TypeError):
        net.residuals_batch(np.zeros((2, 2), dtype=complex))


def test_lab_without_its_extra_says_how_to_install_it():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sympy'] = None\n"
        "import toposcape as ts\n"
        "try:\n    ts.lab\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'toposcape[lab]'" in out.stdout
