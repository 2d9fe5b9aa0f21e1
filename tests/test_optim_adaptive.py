"""The lab's optimizers (studies.md section 3): energy-decreasing steps, Euler-Richardson,
Levenberg-Marquardt, quasi-Newton with a golden-section search, and stochastic objectives."""

from __future__ import annotations

import numpy as np
import pytest

import toposcape as ts
from toposcape.errors import InvalidInputError
from toposcape.optim.adaptive import EnergyDecrease


class Quadratic:
    """0.5 sum(lam_i x_i^2): curvatures ``lam``; GD with a constant step t diverges iff
    t max(lam) > 2."""

    def __init__(self, lam=(1.0, 10.0, 100.0)):
        self.lam = np.asarray(lam, dtype=float)
        self.size = self.lam.size
        self.x0 = np.ones(self.size)

    def value_and_grad(self, theta):
        with np.errstate(all="ignore"):  # plain GD is run into overflow on purpose
            g = self.lam * theta
            return float(0.5 * theta @ g), g


class Rosenbrock:
    """The residual form r = (10 (y - x^2), 1 - x): loss r.r, minimum (1, 1)."""

    size = 2
    x0 = np.array([-1.2, 1.0])

    def residuals(self, theta):
        x, y = theta
        return np.array([10.0 * (y - x * x), 1.0 - x])

    def jacobian(self, theta):
        x, _ = theta
        return np.array([[-20.0 * x, 10.0], [-1.0, 0.0]])

    def value_and_grad(self, theta):
        r = self.residuals(theta)
        return float(r @ r), 2.0 * self.jacobian(theta).T @ r


# ------------------------------------------------------------------------------------------
# Energy-decreasing steps
# ------------------------------------------------------------------------------------------


def test_gd_energy_converges_where_gd_diverges_and_its_loss_always_decreases():
    q = Quadratic()
    lr = 0.5  # 0.5 * 100 = 50 > 2: plain GD diverges
    gd = ts.optim.get("gd", lr=lr).run(q, max_steps=200)
    assert gd.reason == "nonfinite_loss" or gd.losses[-1] > 1e10
    traj = ts.optim.get("gd_energy", lr=lr).run(q, max_steps=1000, max_evals=None)
    assert np.all(np.diff(traj.losses) < 0)
    assert traj.losses[-1] < 1e-12 * traj.losses[0]
    steps = traj.step_sizes[1:]
    assert np.all(steps <= lr)
    # every accepted step is lr * shrink^k for an integer k >= 0 (grow = 2, shrink = 0.5)
    k = np.log2(lr / steps)
    assert np.allclose(k, np.round(k)) and np.all(k >= 0)
    # the first accepted step is the first one that lowers the loss
    f0 = q.value_and_grad(q.x0)[0]
    t = lr
    while not q.value_and_grad(q.x0 - t * q.lam * q.x0)[0] < f0:
        t *= 0.5
    assert steps[0] == t


def test_gd_energy_step_grows_back_to_max_lr():
    q = Quadratic(lam=(1.0,))
    traj = ts.optim.get("gd_energy", lr=0.1, max_lr=1.5).run(q, max_steps=6)
    # on lam = 1 every step <= 1.5 lowers the loss: 0.1, 0.2, 0.4, 0.8, 1.5, 1.5
    assert traj.step_sizes[1:].tolist() == [0.1, 0.2, 0.4, 0.8, 1.5, 1.5]


def test_momentum_energy_decreases_loss_plus_kinetic_energy():
    q = Quadratic()
    traj = ts.optim.get("momentum_energy", lr=0.5, beta=0.9).run(
        q, max_steps=1000, max_evals=None, record_params=True
    )
    t = traj.step_sizes[1:]
    moves = np.diff(traj.thetas, axis=0)
    kinetic = np.concatenate([[0.0], np.sum(moves**2, axis=1) / (2.0 * t)])
    energy = traj.losses + kinetic
    assert np.all(np.diff(energy) < 0)
    assert traj.losses[-1] < 1e-12 * traj.losses[0]
    gd = ts.optim.get("momentum", lr=0.5, beta=0.9).run(q, max_steps=300)
    assert not gd.losses[-1] < 1e10  # the constant step diverges


def test_momentum_energy_converges_on_a_single_mode():
    q = Quadratic(lam=(1.0,))
    traj = ts.optim.get("momentum_energy", lr=1.0, beta=0.9).run(q, max_steps=300)
    assert traj.losses[-1] < 1e-12 * traj.losses[0]


def test_a_failed_momentum_step_restarts_the_velocity():
    rule = ts.optim.Momentum(0.9)
    rule.reset(2)
    assert not rule.restartable
    rule.direction(np.array([1.0, 2.0]))
    assert rule.restartable
    rule.restart()
    assert not rule.restartable
    np.testing.assert_array_equal(rule.direction(np.array([3.0, 4.0])), [-3.0, -4.0])


def test_energy_decrease_validates_its_options():
    with pytest.raises(InvalidInputError, match="max_lr"):
        EnergyDecrease(1.0, max_lr=0.5)
    with pytest.raises(InvalidInputError, match="shrink"):
        EnergyDecrease(1.0, shrink=1.0)
    with pytest.raises(InvalidInputError, match="lr"):
        ts.optim.get("gd_energy", lr=0.0)
    with pytest.raises(InvalidInputError, match="needs a value for lr"):
        ts.optim.get("gd_energy")


def test_gd_energy_stops_at_a_minimum_to_rounding():
    q = Quadratic(lam=(1.0,))
    traj = ts.optim.get("gd_energy", lr=1.0).run(q, max_steps=100, max_evals=None)
    assert traj.reason == "no_energy_decrease"  # lr = 1 / lam: exact minimum after 1 step
    assert traj.losses[-1] == 0.0


# ------------------------------------------------------------------------------------------
# Euler-Richardson
# ------------------------------------------------------------------------------------------


def test_euler_richardson_keeps_the_error_estimate_below_tol_and_converges():
    q = Quadratic()
    tol = 0.1
    traj = ts.optim.get("euler_richardson", lr=5.0, tol=tol).run(
        q, max_steps=1000, max_evals=None, record_params=True
    )
    assert traj.losses[-1] < 1e-12 * traj.losses[0]
    for k in range(1, traj.n_steps + 1):
        theta, t = traj.thetas[k - 1], traj.step_sizes[k]
        g = q.lam * theta
        half = theta - 0.5 * t * g
        g_half = q.lam * half
        # the accepted iterate is two half steps, and its error estimate passed the test
        np.testing.assert_allclose(traj.thetas[k], half - 0.5 * t * g_half, rtol=1e-13)
        assert 0.5 * np.linalg.norm(g_half - g) <= tol * np.linalg.norm(g)
    gd = ts.optim.get("gd", lr=5.0).run(q, max_steps=400)
    assert not gd.losses[-1] < 1e10


def test_euler_richardson_controller_on_a_linear_flow():
    """On f = x^2 / 2 the relative estimate is exactly t / 4: from lr the controller shrinks
    by max(0.2, 0.9 tol / ratio) until t / 4 <= tol."""
    q = Quadratic(lam=(1.0,))
    tol, lr = 0.01, 4.0
    traj = ts.optim.get("euler_richardson", lr=lr, tol=tol).run(q, max_steps=1)
    t, rejected = lr, 0
    while t / 4.0 > tol:
        t *= max(0.2, 0.9 * tol / (t / 4.0))
        rejected += 1
    assert rejected >= 2
    assert traj.step_sizes[1] == pytest.approx(t, rel=1e-14)
    # a rejected trial costs one evaluation (the half step), the accepted one two
    assert traj.evals_per_step[1] == rejected + 2
    np.testing.assert_allclose(traj.theta, [(1 - t / 2) ** 2], rtol=1e-14)


# ------------------------------------------------------------------------------------------
# Levenberg-Marquardt
# ------------------------------------------------------------------------------------------


def test_lm_solves_rosenbrock_in_residual_form():
    traj = ts.optim.get("lm", gtol=1e-12).run(Rosenbrock(), max_evals=200)
    assert traj.reason == "converged"
    np.testing.assert_allclose(traj.theta, [1.0, 1.0], atol=1e-10)
    assert traj.n_evals < 60
    assert np.all(np.diff(traj.losses) < 0)  # only steps with a positive gain are accepted


def test_lm_on_linear_least_squares_reaches_the_normal_equations_solution():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=20)

    class Linear:
        size = 4
        x0 = np.zeros(4)

        def residuals(self, theta):
            return a @ theta - b

        def jacobian(self, theta):
            return a

        def value_and_grad(self, theta):
            r = a @ theta - b
            return float(r @ r), 2 * a.T @ r

    traj = ts.optim.get("lm").run(Linear(), max_evals=40)
    exact = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(traj.theta, exact, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ts.lab.networks.names())
def test_lm_reaches_an_exact_critical_point_of_every_network(name):
    net = ts.lab.networks.get(name)
    traj = ts.optim.get("lm", gtol=1e-10).run(net, max_evals=500)
    if net.infimum_at_infinity:
        assert traj.losses[-1] < traj.losses[0]
        return
    cps = net.critical_points()
    xy = cps[["theta_0", "theta_1"]].to_numpy()
    dist = np.linalg.norm(xy - traj.theta, axis=1)
    assert dist.min() < 1e-4, (traj.theta, traj.reason)
    assert traj.losses[-1] == pytest.approx(cps["loss"].iloc[dist.argmin()], rel=1e-9, abs=1e-12)


def test_lm_refuses_an_objective_without_residuals():
    with pytest.raises(InvalidInputError, match="least-squares form"):
        ts.optim.get("lm").run(Quadratic(), max_evals=5)


def test_lm_checks_the_residual_and_jacobian_shapes():
    class Bad(Rosenbrock):
        def value_and_grad(self, theta):
            r = self.residuals(theta)
            return float(r @ r), 2.0 * Rosenbrock.jacobian(self, theta).T @ r

        def jacobian(self, theta):
            return np.zeros((3, 2))

    with pytest.raises(InvalidInputError, match="jacobian must return"):
        ts.optim.get("lm").run(Bad(), max_evals=5)


# ------------------------------------------------------------------------------------------
# Quasi-Newton with an exact line search
# ------------------------------------------------------------------------------------------


def test_qn_golden_line_search_is_exact():
    q = Quadratic()
    traj = ts.optim.get("qn_golden").run(q, max_evals=400, record_params=True)
    assert traj.losses[-1] < 1e-12 * traj.losses[0]
    # exact line search: the new gradient is orthogonal to the step (to the bracket width)
    for k in range(1, min(traj.n_steps, 4) + 1):
        s = traj.thetas[k] - traj.thetas[k - 1]
        g_new = q.lam * traj.thetas[k]
        assert abs(g_new @ s) <= 1e-3 * np.linalg.norm(q.lam * traj.thetas[k - 1]) * np.linalg.norm(
            s
        )


# ------------------------------------------------------------------------------------------
# Stochastic objectives
# ------------------------------------------------------------------------------------------


class Minibatches:
    """Least squares over 8 samples, 2 per batch; batch k = samples of a seeded permutation."""

    size = 2
    x0 = np.zeros(2)

    def __init__(self, seed=0):
        rng = np.random.default_rng(1)
        self.a, self.b = rng.normal(size=(8, 2)), rng.normal(size=8)
        self.seed = seed
        self.calls: list[int] = []
        self.evaluated_on: list[int] = []
        self._k = None

    def select_batch(self, k):
        self.calls.append(k)
        self._k = k
        epoch, i = divmod(k, 4)
        self._rows = np.random.default_rng([self.seed, epoch]).permutation(8)[2 * i : 2 * i + 2]

    def value_and_grad(self, theta):
        self.evaluated_on.append(self._k)
        a, b = self.a[self._rows], self.b[self._rows]
        r = a @ theta - b
        return float(r @ r / 2), a.T @ r


def test_stochastic_objective_evaluates_iterate_k_on_batch_k():
    obj = Minibatches()
    traj = ts.optim.get("gd", lr=0.1).run(obj, max_steps=10)
    assert obj.calls == list(range(11))
    assert obj.evaluated_on == list(range(11))
    again = Minibatches()
    same = ts.optim.get("gd", lr=0.1).run(again, max_steps=10)
    np.testing.assert_array_equal(traj.losses, same.losses)
    other = ts.optim.get("gd", lr=0.1).run(Minibatches(seed=1), max_steps=10)
    assert not np.array_equal(traj.losses, other.losses)


def test_a_deterministic_objective_is_not_asked_for_batches():
    q = Quadratic()
    a = ts.optim.get("gd", lr=0.01).run(q, max_steps=5)
    assert not hasattr(q, "select_batch") and a.n_steps == 5


def test_momentum_energy_ends_at_a_minimum_to_rounding():
    """At a minimum to rounding no step lowers the energy; the velocity is restarted once
    and the retried step fails too: the run ends (it used to restart forever)."""
    q = Quadratic(lam=(1.0,))
    traj = ts.optim.get("momentum_energy", lr=1.0).run(q, max_steps=None, max_evals=200_000)
    assert traj.reason == "no_energy_decrease"
    assert traj.n_evals < 50_000
    assert traj.losses[-1] < 1e-30


@pytest.mark.parametrize(
    ("name", "options"),
    [("gd", {"lr": 1e308}), ("gd_energy", {"lr": 1e308}), ("euler_richardson", {"lr": 1e308})],
)
def test_an_overflowing_step_is_a_failed_trial_not_an_error(name, options):
    """The networks refuse a non-finite theta (boundary validation); an optimizer whose step
    overflows must not pass that on as the user's error."""
    net = ts.lab.networks.get("exp_steep")
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is the point
        traj = ts.optim.get(name, **options).run(net, max_steps=5, max_evals=200)
    if name == "gd":
        assert traj.reason == "nonfinite_loss"
    else:  # the adaptive steps shrink and go on
        assert np.isfinite(traj.losses[-1]) and traj.losses[-1] <= traj.losses[0]
    with pytest.raises(InvalidInputError):  # a user's non-finite start is still an error
        ts.optim.get(name, **options).run(net, theta0=[np.inf, 0.0], max_steps=5)
