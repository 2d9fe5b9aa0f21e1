"""ts.lab.basins (toposcape.lab.basin_maps): vectorized runs from many starts, basin maps."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

import toposcape as ts
from toposcape.errors import InvalidInputError
from toposcape.lab import networks
from toposcape.lab.basin_maps import basins, reach_probabilities, run_starts
from toposcape.optim import Optimizer
from toposcape.optim.directions import Identity, Momentum
from toposcape.optim.steps import Constant, Schedule

matplotlib.use("Agg")

# the module, for its private helpers
lab_basins = importlib.import_module("toposcape.lab.basin_maps")


class QuadQuartic:
    """``f(x, y) = (x^2 - 1)^2 + y^2``: minima (+-1, 0) (loss 0), a saddle at (0, 0) (loss 1).

    Written with products only, so the batched and one-point evaluations are the same
    arithmetic (bitwise equal); residuals ``(x^2 - 1, y)``. ``offset`` is added to the loss.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    size = 2
    name = "quad_quartic"
    box = ((-2.0, 2.0), (-2.0, 2.0))
    x0 = np.array([0.5, 0.5])

    def value_and_grad(self, theta):
        x, y = float(theta[0]), float(theta[1])
        u = x * x - 1.0
        return u * u + y * y + self.offset, np.array([4.0 * x * u, 2.0 * y])

    def value_and_grad_batch(self, thetas):
        x, y = thetas[:, 0], thetas[:, 1]
        u = x * x - 1.0
        return u * u + y * y + self.offset, np.stack([4.0 * x * u, 2.0 * y], axis=1)

    def residuals(self, theta):
        return np.array([theta[0] * theta[0] - 1.0, theta[1]])

    def jacobian(self, theta):
        return np.array([[2.0 * theta[0], 0.0], [0.0, 1.0]])

    def residuals_batch(self, thetas):
        return np.stack([thetas[:, 0] * thetas[:, 0] - 1.0, thetas[:, 1]], axis=1)

    def jacobian_batch(self, thetas):
        k = thetas.shape[0]
        jac = np.zeros((k, 2, 2))
        jac[:, 0, 0] = 2.0 * thetas[:, 0]
        jac[:, 1, 1] = 1.0
        return jac

    def critical_points(self):
        return pd.DataFrame(
            {
                "theta_0": [-1.0, 1.0, 0.0],
                "theta_1": [0.0, 0.0, 0.0],
                "kind": ["minimum", "minimum", "saddle"],
                "nature": ["minimum", "minimum", "saddle"],
                "loss": [self.offset, self.offset, 1.0 + self.offset],
            }
        )


class OnePointOnly(QuadQuartic):
    """The same function without the batched methods (evaluated point by point)."""

    value_and_grad_batch = None
    residuals_batch = None
    jacobian_batch = None


class ViaBatch:
    """A network whose one-point methods are its batched ones on one row, so scalar runs do
    the batched arithmetic: what is left to compare is the kernels themselves."""

    def __init__(self, net) -> None:
        self.net = net
        self.size = net.size
        self.box = net.box
        self.name = net.name

    def value_and_grad(self, theta):
        f, g = self.net.value_and_grad_batch(np.asarray(theta)[None])
        return float(f[0]), g[0]

    def value_and_grad_batch(self, thetas):
        return self.net.value_and_grad_batch(thetas)

    def residuals(self, theta):
        return self.net.residuals_batch(np.asarray(theta)[None])[0]

    def jacobian(self, theta):
        return self.net.jacobian_batch(np.asarray(theta)[None])[0]

    def residuals_batch(self, thetas):
        return self.net.residuals_batch(thetas)

    def jacobian_batch(self, thetas):
        return self.net.jacobian_batch(thetas)

    def critical_points(self):
        return self.net.critical_points()


def _optimizers():
    return {
        "gd": ts.optim.get("gd", lr=0.05),
        "momentum": ts.optim.get("momentum", lr=0.02),
        "nesterov": ts.optim.get("momentum", lr=0.02, nesterov=True),
        "adam": ts.optim.get("adam", lr=0.05),
        "rmsprop": ts.optim.get("rmsprop", lr=0.02),
        "adagrad": ts.optim.get("adagrad", lr=0.2),
        "gd_energy": ts.optim.get("gd_energy", lr=1.0),
        "momentum_energy": ts.optim.get("momentum_energy", lr=0.3),
        "euler_richardson": ts.optim.get("euler_richardson", lr=0.5),
        "lm": ts.optim.get("lm"),
        # stop tests and a schedule, composed by hand
        "gd_tolerances": Optimizer(Identity(), Constant(0.02), gtol=1e-6, ftol=1e-12),
        "momentum_restarts": Optimizer(Momentum(0.8), Constant(0.03), restart_on_failure=True),
        "gd_schedule": Optimizer(Identity(), Schedule(lambda k: 0.05 / (1 + 0.01 * k))),
    }


OPTIMIZERS = list(_optimizers())


def _scalar_runs(obj, opt, starts, max_steps, max_evals=None):
    """``opt.run`` per start, as the fields of a BatchRuns."""
    trajs = [
        opt.run(obj, theta0=s, max_steps=max_steps, max_evals=max_evals, progress=False)
        for s in starts
    ]
    return SimpleNamespace(
        theta=np.array([t.theta for t in trajs]),
        reason=np.array([t.reason for t in trajs]),
        steps=np.array([t.n_steps for t in trajs]),
        loss=np.array([t.losses[-1] for t in trajs]),
        start_loss=np.array([t.losses[0] for t in trajs]),
    )


def _labels(obj, runs, tol=None):
    points = obj.critical_points()[["theta_0", "theta_1"]].to_numpy()
    lo = np.array([b[0] for b in obj.box])
    hi = np.array([b[1] for b in obj.box])
    tol = lab_basins._default_tol(points, lo, hi) if tol is None else tol
    return lab_basins._classify(
        runs.theta, runs.reason, runs.loss, runs.start_loss, points, tol, lo, hi, 10.0
    )


# -- a case with a known answer -----------------------------------------------------------


def test_quadratic_quartic_basins_known_answer():
    obj = QuadQuartic()
    result = basins(obj, ts.optim.get("gd", lr=0.02), (-2, -1), (2, 1), n=41, max_steps=600)
    assert result.labels.shape == (41, 41)
    np.testing.assert_array_equal(result.xs, np.linspace(-2, 2, 41))
    np.testing.assert_array_equal(result.ys, np.linspace(-1, 1, 41))
    # labels[i, j] is the start (xs[j], ys[i]): the answer depends on the column only
    np.testing.assert_array_equal(result.starts[..., 0], np.broadcast_to(result.xs, (41, 41)))
    np.testing.assert_array_equal(result.starts[..., 1].T, np.broadcast_to(result.ys, (41, 41)))
    want = np.where(result.xs > 0, 1, np.where(result.xs < 0, 0, 2))  # rows of the table
    np.testing.assert_array_equal(result.labels, np.broadcast_to(want, (41, 41)))
    ends = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])[result.labels]
    np.testing.assert_allclose(result.finals, ends, atol=1e-8)
    fr = result.fractions
    assert list(fr.index) == [0, 1, 2, -1, -2]
    assert fr.loc[0, "count"] == fr.loc[1, "count"] == 20 * 41
    assert fr.loc[2, "count"] == 41 and fr.loc[-1, "count"] == fr.loc[-2, "count"] == 0
    assert fr["fraction"].sum() == pytest.approx(1.0)
    assert fr.loc[2, "kind"] == "saddle" and fr.loc[1, "loss"] == 0.0
    assert result.tol == pytest.approx(min(0.25 * 1.0, 0.02 * np.sqrt(32)))


def test_not_converged_within_budget():
    # 3 steps of a small step size: nobody is near a critical point yet (except at them)
    obj = QuadQuartic()
    result = basins(obj, ts.optim.get("gd", lr=1e-3), -1.9, 1.9, n=11, max_steps=3)
    far = np.min(
        np.linalg.norm(result.starts[:, :, None, :] - np.array([[-1, 0], [1, 0], [0, 0]]), axis=3),
        axis=2,
    )
    assert np.all(result.labels[far > 0.2] == -2)
    assert np.all(result.reasons == "max_steps") and np.all(result.steps == 3)


# -- batched runs equal the scalar runs ---------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_batched_equals_scalar_bitwise(name):
    """Each start's final point, stop reason and step count equal opt.run's, bit for bit,
    where the evaluations are the same arithmetic (QuadQuartic, and networks evaluated
    through their batched expressions, so diverging starts and steep gradients are covered)."""
    opt = _optimizers()[name]
    rng = np.random.default_rng(7)
    cases = [
        (QuadQuartic(), rng.uniform(-2.5, 2.5, (24, 2)), 150),
        (ViaBatch(networks.get("exp_steep")), rng.uniform(-3, 3, (24, 2)), 120),
        (ViaBatch(networks.get("two_depths")), rng.uniform(-3, 3, (16, 2)), 120),
    ]
    retried = 0
    for obj, starts, max_steps in cases:
        runs = run_starts(obj, opt, starts, max_steps)
        scalar = _scalar_runs(obj, opt, starts, max_steps)
        np.testing.assert_array_equal(runs.theta, scalar.theta)
        np.testing.assert_array_equal(runs.loss, scalar.loss)
        np.testing.assert_array_equal(runs.start_loss, scalar.start_loss)
        np.testing.assert_array_equal(runs.reason, scalar.reason)
        np.testing.assert_array_equal(runs.steps, scalar.steps)
        np.testing.assert_array_equal(_labels(obj, runs), _labels(obj, scalar))
        retried += int(np.sum(runs.evals > runs.steps + 1))  # shrunk / rejected trials
    if name in ("gd_energy", "momentum_energy", "euler_richardson", "lm"):
        assert retried > 0  # the samples exercise the rejections


def test_batched_samples_cover_divergence():
    runs = run_starts(
        ViaBatch(networks.get("exp_steep")),
        ts.optim.get("gd", lr=0.05),
        np.random.default_rng(7).uniform(-3, 3, (24, 2)),
        120,
    )
    assert np.sum(runs.reason == "nonfinite_loss") >= 5
    assert np.sum(runs.reason == "max_steps") >= 5


def test_networks_agree_with_scalar_runs():
    """On the networks themselves (batched evaluation equal to a few ulps only) the labels
    and stop reasons of a sample of starts equal the scalar runs'."""
    rng = np.random.default_rng(3)
    for name, opt in [
        ("exp_steep", ts.optim.get("gd", lr=0.01)),
        ("two_depths", ts.optim.get("adam", lr=0.01)),
        ("symmetric_squares", ts.optim.get("gd_energy", lr=0.2)),
        ("two_depths", ts.optim.get("lm")),
    ]:
        net = networks.get(name)
        starts = rng.uniform(-3, 3, (20, 2))
        runs = run_starts(net, opt, starts, 300)
        scalar = _scalar_runs(net, opt, starts, 300)
        np.testing.assert_array_equal(runs.reason, scalar.reason)
        labels = _labels(net, scalar)
        np.testing.assert_array_equal(_labels(net, runs), labels)
        ok = np.isin(scalar.reason, ["max_steps", "converged"]) & (labels >= 0)
        np.testing.assert_allclose(runs.theta[ok], scalar.theta[ok], rtol=0, atol=1e-6)


def test_restart_once_per_iterate():
    # momentum_energy converges to a minimum whose loss (1) hides the last decreases in
    # rounding: a step fails, the restarted velocity (-g) fails too, and the run ends there
    # (the optimizer restarts a direction at most once per iterate)
    obj = QuadQuartic(offset=1.0)
    opt = ts.optim.get("momentum_energy", lr=0.1)
    starts = np.random.default_rng(0).uniform(-2, 2, (4, 2))
    runs = run_starts(obj, opt, starts, 1000)
    assert np.all(runs.reason == "no_energy_decrease") and np.all(runs.steps < 1000)
    scalar = _scalar_runs(obj, opt, starts, 1000)
    np.testing.assert_array_equal(runs.reason, scalar.reason)
    np.testing.assert_array_equal(runs.theta, scalar.theta)
    np.testing.assert_array_equal(runs.steps, scalar.steps)
    # a momentum run that overflows retries once from a fresh velocity, then stops
    gd_like = Optimizer(Momentum(0.8), Constant(0.03), restart_on_failure=True)
    runs = run_starts(networks.get("exp_steep"), gd_like, [[0.05, 2.2]], 200)
    assert runs.reason[0] == "nonfinite_loss" and runs.evals[0] == runs.steps[0] + 3


def test_stationary_shortcut_changes_nothing():
    obj = networks.get("symmetric_squares")
    starts = np.random.default_rng(0).uniform(-2, 2, (300, 2))
    for opt in (ts.optim.get("gd", lr=0.02), ts.optim.get("momentum", lr=0.01)):
        fast = run_starts(obj, opt, starts, 3000)
        slow = run_starts(obj, opt, starts, 3000, stop_stationary=False)
        np.testing.assert_array_equal(fast.theta, slow.theta)
        np.testing.assert_array_equal(fast.reason, slow.reason)
        np.testing.assert_array_equal(fast.steps, slow.steps)
        assert fast.evals.sum() < slow.evals.sum()  # fixed points were reached and skipped


def test_chunks_change_nothing():
    obj = networks.get("two_depths")
    starts = np.random.default_rng(1).uniform(-3, 3, (100, 2))
    opt = ts.optim.get("euler_richardson", lr=0.1)
    a = run_starts(obj, opt, starts, 50)
    b = run_starts(obj, opt, starts, 50, chunk=7)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.reason, b.reason)


# -- divergence ---------------------------------------------------------------------------


def test_divergence_labelled_and_energy_rule_never_diverges():
    net = networks.get("exp_steep")
    gd = basins(net, ts.optim.get("gd", lr=0.05), (-3, -4), (3, 4), n=41, max_steps=300)
    energy = basins(net, ts.optim.get("gd_energy", lr=0.05), (-3, -4), (3, 4), n=41, max_steps=300)
    diverged = gd.labels == -1
    assert diverged.mean() > 0.3
    assert set(np.unique(gd.reasons[diverged])) <= {"nonfinite_loss", "nonfinite_direction"}
    assert gd.fractions.loc[-1, "fraction"] == pytest.approx(diverged.mean())
    assert energy.fractions.loc[-1, "count"] == 0
    assert np.all(np.isfinite(energy.finals)) and np.all(np.isfinite(energy.losses))
    # the energy rule never raises the loss above its start
    start_losses, _ = net.value_and_grad_batch(energy.starts.reshape(-1, 2))
    assert np.all(energy.losses.ravel() <= start_losses)


def test_classification_rules():
    obj = QuadQuartic()
    points = obj.critical_points()[["theta_0", "theta_1"]].to_numpy()
    theta = np.array(
        [[1.05, 0.0], [50.0, 0.0], [50.0, 0.0], [0.5, 0.5], [np.nan, 0.0], [0.0, 0.0], [1, 0]]
    )
    reason = np.array(["max_steps"] * 5 + ["converged", "nonfinite_loss"])
    loss = np.array([0.01, 9e6, 9e6, 0.6, np.nan, 1.0, 0.0])
    start = np.array([1.0, 1.0, 1e7, 1.0, 1.0, 2.0, 1.0])
    lo, hi = np.array([-2.0, -2.0]), np.array([2.0, 2.0])
    labels = lab_basins._classify(theta, reason, loss, start, points, 0.1, lo, hi, 10.0)
    # near minimum 1; blew up beyond the bound; escaped with a falling loss; nowhere;
    # non-finite; at the saddle; the run ended on a non-finite trial
    np.testing.assert_array_equal(labels, [1, -1, -2, -2, -1, 2, -1])
    labels = lab_basins._classify(theta, reason, loss, start, points, 0.01, lo, hi, 20.0)
    np.testing.assert_array_equal(labels, [-2, -2, -2, -2, -1, 2, -1])


def test_energy_rule_escapes_down_a_valley_without_diverging():
    # two_depths decreases towards the linear model's loss (1.525) along w1 -> 0,
    # |w2| -> inf: the energy rule's first long steps throw a few starts far out, from where
    # they keep descending; they count as not converged, not as diverged
    net = networks.get("two_depths")
    result = basins(net, ts.optim.get("gd_energy", lr=0.01), -3, 3, n=31, max_steps=300)
    assert result.fractions.loc[-1, "count"] == 0
    far = np.max(np.abs(result.finals), axis=-1) > 63
    assert far.sum() >= 1 and np.all(result.labels[far] == -2)
    assert np.all(result.losses[far] < result.start_losses[far])
    assert np.all(np.abs(result.losses[far] - 1.525) < 0.01)


# -- sensitivity and reach probabilities -----------------------------------------------------


def test_sensitivity_known_case():
    obj = QuadQuartic()
    result = basins(obj, ts.optim.get("gd", lr=0.02), -2, 2, n=41, max_steps=600)
    radii = [0.5, 0.99, 1.5, 2.5]
    table = result.sensitivity(radii)
    assert list(table["label"].unique()) == [0, 1]  # the two minima
    starts = result.starts.reshape(-1, 2)
    for _, row in table.iterrows():
        centre = np.array([-1.0, 0.0]) if row["label"] == 0 else np.array([1.0, 0.0])
        near = np.linalg.norm(starts - centre, axis=1) <= row["radius"]
        other_side = (starts[near, 0] >= 0) if row["label"] == 0 else (starts[near, 0] <= 0)
        assert row["starts"] == near.sum()
        assert row["elsewhere"] == pytest.approx(other_side.mean())
    assert np.all(table.loc[table["radius"] < 1, "elsewhere"] == 0.0)
    assert np.all(table.loc[table["radius"] == 1.5, "elsewhere"] > 0.1)
    one = result.sensitivity([0.3], points=[2])  # the saddle: only x = 0 stays
    near = np.linalg.norm(starts, axis=1) <= 0.3
    assert one.loc[0, "label"] == 2
    assert one.loc[0, "elsewhere"] == pytest.approx(np.mean(starts[near, 0] != 0))


def test_adam_leaves_a_minimum_it_starts_next_to():
    # two_depths' shallower minimum (-1.275, 0.038) sits in a steep valley (Hessian
    # eigenvalues 0.14 and 114): Adam's first steps have length ~lr whatever the gradient,
    # and at lr = 0.2 no start within 0.05 of the minimum stays there; GD stays
    net = networks.get("two_depths")
    centre = net.critical_points().loc[1, ["theta_0", "theta_1"]].to_numpy(dtype=float)
    lo, hi = centre - 0.1, centre + 0.1
    adam = basins(net, ts.optim.get("adam", lr=0.2), lo, hi, n=11, max_steps=600)
    gd = basins(net, ts.optim.get("gd", lr=0.005), lo, hi, n=11, max_steps=600)
    assert gd.sensitivity([0.05], points=[1]).loc[0, "elsewhere"] == 0.0
    left = adam.sensitivity([0.05], points=[1]).loc[0]
    assert left["starts"] >= 9 and left["elsewhere"] == 1.0
    assert adam.fractions.loc[0, "count"] > 0  # some land in the deeper minimum


def test_reach_probabilities():
    obj = QuadQuartic()
    opt = ts.optim.get("gd", lr=0.02)
    table = reach_probabilities(obj, opt, (-2, -1), (2, 1), 2000, 600, seed=4)
    assert table["count"].sum() == 2000
    assert table["probability"].sum() == pytest.approx(1.0)
    for label in (0, 1):
        p = table.loc[label, "probability"]
        assert abs(p - 0.5) < 4 * table.loc[label, "stderr"]
        assert table.loc[label, "stderr"] == pytest.approx(np.sqrt(p * (1 - p) / 2000))
        assert table.loc[label, "ci_low"] < p < table.loc[label, "ci_high"]
    assert table.loc[-1, "count"] == 0 and 0 < table.loc[-1, "ci_high"] < 0.003
    again = reach_probabilities(obj, opt, (-2, -1), (2, 1), 2000, 600, seed=4)
    pd.testing.assert_frame_equal(table, again)
    other = reach_probabilities(obj, opt, (-2, -1), (2, 1), 2000, 600, seed=5)
    assert not table["count"].equals(other["count"])
    assert table.attrs["n_starts"] == 2000 and table.attrs["seed"] == 4


def test_reach_probabilities_any_size():
    class Bowl:
        size = 3

        def value_and_grad(self, theta):
            return float(theta @ theta), 2.0 * theta

        def value_and_grad_batch(self, thetas):
            return np.sum(thetas * thetas, axis=1), 2.0 * thetas

    table = reach_probabilities(
        Bowl(), ts.optim.get("gd", lr=0.1), -1, 1, 50, 200, critical_points=np.zeros((1, 3))
    )
    assert table.loc[0, "count"] == 50 and table.loc[0, "loss"] == 0.0
    assert list(table.columns[:5]) == ["point", "kind", "nature", "theta_0", "theta_1"]


# -- generic objectives, unsupported optimizers -------------------------------------------


def test_objective_without_batched_methods_warns_and_agrees():
    starts = np.random.default_rng(2).uniform(-2, 2, (20, 2))
    for opt in (ts.optim.get("gd_energy", lr=0.5), ts.optim.get("lm")):
        with pytest.warns(UserWarning, match="evaluated on its own"):
            slow = run_starts(OnePointOnly(), opt, starts, 60)
        fast = run_starts(QuadQuartic(), opt, starts, 60)
        assert slow.evaluation == "per point" and fast.evaluation == "batched"
        np.testing.assert_array_equal(slow.theta, fast.theta)


def test_unsupported_optimizer_error_or_loop():
    obj = QuadQuartic()
    lbfgs = ts.optim.get("lbfgs")
    with pytest.raises(InvalidInputError, match="gd_energy.*loop_unsupported"):
        basins(obj, lbfgs, -2, 2, n=3, max_steps=20)
    with pytest.raises(InvalidInputError, match="no vectorized kernel"):
        run_starts(obj, ts.optim.get("gd_lm", lr=0.01), np.zeros((2, 2)), 5)
    with pytest.warns(UserWarning, match="start by start"):
        result = basins(obj, lbfgs, -2, 2, n=3, max_steps=20, loop_unsupported=True)
    assert result.extra["method"] == "loop"
    traj = lbfgs.run(obj, theta0=result.starts[0, 0], max_steps=20, max_evals=None)
    np.testing.assert_array_equal(result.finals[0, 0], traj.theta)
    np.testing.assert_array_equal(result.labels, [[0, 2, 1]] * 3)


def test_critical_points_override():
    obj = QuadQuartic()
    opt = ts.optim.get("gd", lr=0.02)
    as_array = basins(obj, opt, -2, 2, 9, 400, critical_points=[[1.0, 0.0], [-1.0, 0.0]])
    assert list(as_array.critical_points["kind"]) == ["point", "point"]
    np.testing.assert_array_equal(as_array.critical_points["loss"], [0.0, 0.0])
    assert np.all(as_array.labels[:, :4] == 1) and np.all(as_array.labels[:, 5:] == 0)
    assert np.all(as_array.labels[:, 4] == -2)  # x = 0 ends at the saddle: not in the list
    frame = pd.DataFrame({"theta_0": [1.0], "theta_1": [0.0]})
    assert basins(obj, opt, -2, 2, 9, 400, critical_points=frame, tol=0.01).tol == 0.01


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lo": 1.0, "hi": 1.0}, "lo < hi"),
        ({"lo": (0.0, 2.0), "hi": (1.0, 1.0)}, "lo < hi"),
        ({"lo": np.nan}, "lo must be a finite"),
        ({"hi": (1.0, np.inf)}, "hi must be finite"),
        ({"lo": (0.0, 0.0, 0.0)}, "lo must be a flat vector of length 2"),
        ({"n": 1}, "n must be an integer >= 2"),
        ({"max_steps": -1}, "max_steps must be an integer >= 0"),
        ({"tol": 0.0}, "tol must be a finite real number > 0"),
        ({"escape": np.nan}, "escape"),
        ({"critical_points": [[np.nan, 0.0]]}, "critical_points must be finite"),
        ({"critical_points": np.zeros((2, 3))}, "shape"),
        ({"critical_points": pd.DataFrame({"theta_0": [0.0]})}, "theta_1"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"lo": -1.0, "hi": 1.0, "n": 5, "max_steps": 10}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        basins(QuadQuartic(), ts.optim.get("gd", lr=0.01), **args)


def test_bad_objective_and_optimizer():
    class Three:
        size = 3

        def value_and_grad(self, theta):
            return 0.0, np.zeros(3)

    gd = ts.optim.get("gd", lr=0.01)
    with pytest.raises(InvalidInputError, match="2-parameter objective"):
        basins(Three(), gd, -1, 1, 5, 10, critical_points=np.zeros((1, 3)))
    with pytest.raises(TypeError, match="value_and_grad"):
        basins(object(), gd, -1, 1, 5, 10)
    with pytest.raises(TypeError, match="optimizer"):
        basins(QuadQuartic(), "gd", -1, 1, 5, 10)
    with pytest.raises(InvalidInputError, match="critical_points"):
        reach_probabilities(Three(), gd, -1, 1, 5, 10)  # no critical_points() to default to
    with pytest.raises(InvalidInputError, match="starts must be an array of shape"):
        run_starts(QuadQuartic(), gd, np.zeros((4, 3)), 10)
    with pytest.raises(InvalidInputError, match="least-squares|residuals"):
        run_starts(Three(), ts.optim.get("lm"), np.zeros((2, 3)), 10)
    result = basins(QuadQuartic(), gd, -1, 1, 5, 10)
    with pytest.raises(InvalidInputError, match="radii"):
        result.sensitivity([0.0])
    with pytest.raises(InvalidInputError, match="points"):
        result.sensitivity([0.1], points=[7])


# -- the figure, and a full-size grid --------------------------------------------------------


def test_plot_legend_and_orientation():
    import matplotlib.pyplot as plt

    obj = QuadQuartic()
    result = basins(obj, ts.optim.get("gd", lr=0.02), (-2, -1), (2, 1), n=21, max_steps=400)
    fig, ax = result.plot()
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(texts) == 3 + 2
    assert texts[1].startswith("minimum (1.000, 0.000), loss 0") and "%" in texts[1]
    assert texts[2].startswith("saddle (0.000, 0.000)")
    assert texts[3].startswith("diverged: 0.0%") and texts[4].startswith("not converged")
    image = ax.images[0]
    assert image.origin == "lower"
    left, right, bottom, top = image.get_extent()
    assert left < -2 < 2 < right and bottom < -1 < 1 < top
    data = np.asarray(image.get_array())
    # right half (theta_0 > 0) is one colour, the left half another
    assert len(np.unique(data[:, 11:])) == 1 and len(np.unique(data[:, :10])) == 1
    assert data[0, 15] != data[0, 5]
    colours = result.colours()
    assert len({colours[k] for k in (0, 1, 2, -1, -2)}) == 5
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)  # on given axes: an axes legend
    result.plot(ax=axes[1])
    assert axes[1].get_legend() is not None and not fig.legends
    plt.close(fig)


def test_400_grid_shapes():
    obj = QuadQuartic()
    result = basins(obj, ts.optim.get("gd", lr=0.02), -2, 2, n=400, max_steps=40)
    assert result.labels.shape == (400, 400) and result.labels.dtype == np.int64
    assert result.finals.shape == (400, 400, 2) and result.starts.shape == (400, 400, 2)
    assert result.losses.shape == result.steps.shape == result.reasons.shape == (400, 400)
    assert result.fractions["count"].sum() == 160_000
    assert result.evals == 160_000 * 41


def test_lab_basins_example_quick(tmp_path):
    """examples/lab_basins.py --quick (~25 s): every output written, and the study's first
    claim in its numbers: the energy-adaptive GD diverges from no start where GD at the same
    step diverges from many."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "lab_basins.py"
    spec = importlib.util.spec_from_file_location("lab_basins_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run(tmp_path, quick=True)
    for name in ("fractions.csv", "divergence.csv", "reach_probabilities.csv", "sensitivity.csv"):
        assert (tmp_path / name).stat().st_size > 0
    for name in ("basins_two_depths.png", "divergence.png", "sensitivity.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    div = pd.read_csv(tmp_path / "divergence.csv")
    energy = div[div["optimizer"] == "gd_energy"]
    gd = div[div["optimizer"] == "gd"]
    assert len(energy) > 0 and (energy["diverged"] == 0).all()
    assert gd[gd["network"] == "two_depths"]["diverged"].min() > 0.3
    fractions = pd.read_csv(tmp_path / "fractions.csv")
    # label -3 is a breakdown of -2 (not converged, ending outside the box)
    fractions = fractions[fractions["label"] >= -2]
    shares = fractions.groupby(["network", "optimizer"])["fraction"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0, rtol=1e-12)
