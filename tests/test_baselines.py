"""The OC and MMA baselines (explicit volume constraint on the density-space pixel model)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import toposcape as ts
from toposcape.optim.baselines import MMA, OptimalityCriteria
from toposcape.optim.trajectory import Trajectory

MBB = "mbb_beam_96x32_0.5"
BUDGET = 100  # evaluations per optimizer on the MBB beam (~2 s each)


def volume(obj, theta) -> float:
    """Mean physical density over the designable cells, computed through the objective."""
    return float(obj.design(theta)[obj.mask].mean())


@pytest.fixture(scope="module")
def mbb():
    return ts.PixelObjective(ts.problems.get(MBB), penal=3.0, volume_constraint=False)


@pytest.fixture(scope="module")
def oc_run(mbb):
    return OptimalityCriteria().run(mbb, max_evals=BUDGET, record_params=True)


@pytest.fixture(scope="module")
def mma_run(mbb):
    pytest.importorskip("nlopt")
    return MMA().run(mbb, max_evals=BUDGET, record_params=True)


@pytest.fixture(scope="module")
def lshape():
    p = ts.problems.l_shape(width=32, height=32, density=0.4)
    assert (~p.mask).sum() > 0
    return ts.PixelObjective(p, penal=3.0, volume_constraint=False)


def optimizers():
    out = [OptimalityCriteria()]
    try:
        import nlopt  # noqa: F401

        out.append(MMA())
    except ImportError:  # pragma: no cover
        pass
    return out


# ---------------------------------------------------------------------------------------------
# MBB beam: volume, progress, agreement
# ---------------------------------------------------------------------------------------------
def test_oc_meets_volume_and_descends(mbb, oc_run):
    traj = oc_run
    assert isinstance(traj, Trajectory)
    assert traj.reason == "max_evals"
    assert traj.n_evals == BUDGET and traj.n_steps == BUDGET - 1
    assert traj.optimizer == "oc"
    # every iterate after theta0 meets the volume (OC's equality) to high accuracy
    vols = traj.extras["volumes"]
    assert vols.shape == (traj.n_steps + 1,)
    assert np.max(np.abs(vols[1:] - 0.5)) <= 1e-6
    for theta in traj.thetas[1 :: max(1, traj.n_steps // 10)]:
        assert abs(volume(mbb, theta) - 0.5) <= 1e-6
    assert abs(traj.extras["volume"] - volume(mbb, traj.theta)) <= 1e-12
    assert abs(traj.extras["volume"] - 0.5) <= 1e-6
    # losses are compliance values at the iterates; one evaluation per OC update
    np.testing.assert_array_equal(traj.losses, traj.eval_losses)
    assert traj.losses[0] == pytest.approx(mbb.value_and_grad(mbb.x0)[0], rel=1e-12)
    assert traj.losses[-1] == pytest.approx(mbb.value_and_grad(traj.theta)[0], rel=1e-12)
    np.testing.assert_array_equal(traj.thetas[-1], traj.theta)
    assert traj.losses[-1] < 0.3 * traj.losses[0]
    assert np.all(traj.evals_per_step == 1)
    assert np.all((traj.thetas >= 0.0) & (traj.thetas <= 1.0))
    # the move limit holds
    assert np.max(np.abs(np.diff(traj.thetas, axis=0))) <= 0.2 + 1e-12
    assert traj.extras["multipliers"].shape == (traj.n_steps,)


def test_mma_meets_volume_and_descends(mbb, mma_run):
    traj = mma_run
    assert traj.reason == "max_evals"
    assert traj.n_evals == BUDGET and traj.n_steps == BUDGET - 1  # every evaluation an iterate
    assert traj.optimizer == "mma"
    np.testing.assert_array_equal(traj.losses, traj.eval_losses)
    # theta is the last evaluated point
    np.testing.assert_array_equal(traj.thetas[-1], traj.theta)
    assert traj.losses[-1] == pytest.approx(mbb.value_and_grad(traj.theta)[0], rel=1e-12)
    assert traj.losses[0] == pytest.approx(mbb.value_and_grad(mbb.x0)[0], rel=1e-12)
    # best_theta: the best feasible evaluated point, with the volume constraint active
    v_best = volume(mbb, traj.best_theta)
    assert v_best <= 0.5 + 1e-6
    assert v_best >= 0.5 - 1e-3
    assert traj.extras["best_feasible"]
    assert traj.extras["best_volume"] == pytest.approx(v_best, abs=1e-12)
    feasible = traj.extras["volumes"] <= 0.5 * (1 + 1e-6)
    assert traj.best_loss == pytest.approx(traj.losses[feasible].min(), rel=1e-15)
    assert traj.best_loss == pytest.approx(mbb.value_and_grad(traj.best_theta)[0], rel=1e-12)
    assert abs(traj.extras["volume"] - volume(mbb, traj.theta)) <= 1e-12
    assert abs(traj.extras["volume"] - 0.5) <= 1e-3
    assert traj.best_loss < 0.3 * traj.losses[0]
    assert np.all((traj.thetas >= 0.0) & (traj.thetas <= 1.0))
    assert traj.extras["nlopt_result"] is not None


def test_oc_and_mma_agree(oc_run, mma_run):
    """The issue's acceptance criterion: final compliances within 5% of each other."""
    c_oc = oc_run.losses[-1]
    c_mma = mma_run.best_loss
    assert abs(c_oc - c_mma) <= 0.05 * min(c_oc, c_mma), (c_oc, c_mma)


# ---------------------------------------------------------------------------------------------
# Masked problem, budgets, starts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("opt", optimizers(), ids=lambda o: o.name)
def test_non_designable_cells_stay_zero(lshape, opt):
    outside = ~lshape.mask.ravel()
    theta0 = lshape.x0
    theta0[outside] = 0.7  # ignored: cells outside the mask are held at 0
    traj = opt.run(lshape, theta0=theta0, max_evals=25, record_params=True)
    assert np.all(traj.thetas[:, outside] == 0.0)
    assert np.all(traj.theta[outside] == 0.0)
    assert np.all(traj.best_theta[outside] == 0.0)
    assert np.all((traj.thetas >= 0.0) & (traj.thetas <= 1.0))
    assert traj.losses[-1] < traj.losses[0]
    v = volume(lshape, traj.best_theta)
    assert v <= 0.4 * (1 + 1e-6)
    if opt.name == "oc":
        assert np.max(np.abs(traj.extras["volumes"][1:] - 0.4)) <= 1e-6


@pytest.mark.parametrize("opt", optimizers(), ids=lambda o: o.name)
@pytest.mark.parametrize(
    ("max_evals", "max_steps", "n_evals", "reason"),
    [
        (7, None, 7, "max_evals"),
        (1, None, 1, "max_evals"),
        (50, 4, 5, "max_steps"),
        (None, 3, 4, "max_steps"),
        (None, 0, 1, "max_steps"),
        (6, 5, 6, "max_evals"),  # both reached together
    ],
)
def test_budgets_exact(lshape, opt, max_evals, max_steps, n_evals, reason):
    traj = opt.run(lshape, max_evals=max_evals, max_steps=max_steps)
    assert traj.n_evals == n_evals
    assert traj.n_steps == n_evals - 1
    assert traj.reason == reason
    assert traj.losses.shape == traj.grad_norms.shape == traj.evals.shape == (n_evals,)
    assert traj.extras["volumes"].shape == (n_evals,)
    assert traj.thetas is None
    assert traj.evals[-1] == n_evals


def test_oc_from_infeasible_start_reaches_volume(lshape):
    traj = OptimalityCriteria(move=0.2).run(lshape, theta0=np.full(lshape.size, 0.9), max_evals=10)
    vols = traj.extras["volumes"]
    # the move limit bounds the approach; the volume decreases monotonically to the target
    assert vols[0] == pytest.approx(volume(lshape, np.where(lshape.mask.ravel(), 0.9, 0.0)))
    assert np.all(np.diff(vols[:3]) < 0)
    assert abs(vols[-1] - 0.4) <= 1e-6
    assert volume(lshape, traj.best_theta) <= 0.4 * (1 + 1e-6)


def test_volume_gradient_is_linear_and_consistent(lshape):
    from toposcape.optim.baselines import _VolumeConstraint

    vol = _VolumeConstraint(lshape, "test")
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.uniform(size=lshape.size)
        assert vol.grad @ theta == pytest.approx(volume(lshape, theta), rel=1e-12)
        assert vol(theta) == pytest.approx(volume(lshape, theta), rel=1e-12)
    assert np.all(vol.grad[~lshape.mask.ravel()] == 0.0)
    assert np.all(vol.grad[lshape.mask.ravel()] > 0.0)


# ---------------------------------------------------------------------------------------------
# Failure handling
# ---------------------------------------------------------------------------------------------
class _Wrapped:
    """Delegates to a pixel objective; misbehaves from evaluation ``after`` on."""

    def __init__(self, obj, after: int, failure: str) -> None:
        self._obj = obj
        self._after = after
        self._failure = failure
        self.calls = 0
        # The public volume API is all the baselines may use (Requirements.explicit_volume).
        for name in ("explicit_volume", "target_volume", "free", "volume", "volume_gradient"):
            setattr(self, name, getattr(obj, name))
        self.size = obj.size

    @property
    def x0(self):
        return self._obj.x0

    def value_and_grad(self, theta):
        self.calls += 1
        f, g = self._obj.value_and_grad(theta)
        if self.calls > self._after:
            if self._failure == "nan":
                return float("nan"), g
            raise RuntimeError("objective blew up")
        return f, g


@pytest.mark.parametrize("opt", optimizers(), ids=lambda o: o.name)
def test_nonfinite_loss_stops(lshape, opt):
    wrapped = _Wrapped(lshape, after=4, failure="nan")
    traj = opt.run(wrapped, max_evals=20)
    assert traj.reason == "nonfinite_loss"
    assert traj.n_evals == 5
    assert traj.n_steps == 3  # the non-finite point is not accepted
    assert np.all(np.isfinite(traj.losses))
    assert np.isfinite(traj.best_loss)


@pytest.mark.parametrize("opt", optimizers(), ids=lambda o: o.name)
def test_objective_errors_propagate(lshape, opt):
    with pytest.raises(RuntimeError, match="blew up"):
        opt.run(_Wrapped(lshape, after=3, failure="raise"), max_evals=20)


def test_mma_without_nlopt(lshape, monkeypatch):
    monkeypatch.setitem(sys.modules, "nlopt", None)
    with pytest.raises(ImportError, match="pip install nlopt"):
        MMA().run(lshape, max_evals=3)


# ---------------------------------------------------------------------------------------------
# Argument validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"move": 0.0},
        {"move": -0.1},
        {"move": 1.5},
        {"move": float("nan")},
        {"damping": 0.0},
        {"damping": -0.5},
        {"damping": float("inf")},
        {"tol": 0.0},
        {"xtol": -1.0},
    ],
)
def test_oc_bad_arguments(kwargs):
    with pytest.raises(ts.InvalidInputError, match=next(iter(kwargs))):
        OptimalityCriteria(**kwargs)


@pytest.mark.parametrize("kwargs", [{"move": "0.2"}, {"damping": None}, {"tol": 1j}])
def test_oc_wrong_types(kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        OptimalityCriteria(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"initial_step": 0.0}, {"initial_step": 2.0}, {"constraint_tol": -1.0}]
)
def test_mma_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MMA(**kwargs)


@pytest.mark.parametrize("opt", [OptimalityCriteria(), MMA()], ids=lambda o: o.name)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_evals": 0},
        {"max_evals": -3},
        {"max_steps": -1},
        {"max_evals": None, "max_steps": None},
        {"theta0": np.zeros(5)},
        {"theta0": "full(1.5)"},
        {"theta0": "full(-0.1)"},
        {"theta0": "nan"},
    ],
)
def test_run_bad_arguments(lshape, opt, kwargs):
    kwargs = dict(kwargs)
    theta0 = kwargs.get("theta0")
    if isinstance(theta0, str):
        value = {"full(1.5)": 1.5, "full(-0.1)": -0.1, "nan": np.nan}[theta0]
        kwargs["theta0"] = np.full(lshape.size, value)
    with pytest.raises(ts.InvalidInputError):
        opt.run(lshape, **kwargs)


@pytest.mark.parametrize("opt", [OptimalityCriteria(), MMA()], ids=lambda o: o.name)
@pytest.mark.parametrize("kwargs", [{"max_evals": 2.5}, {"max_evals": True}, {"max_steps": "3"}])
def test_run_wrong_types(lshape, opt, kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        opt.run(lshape, **kwargs)


@pytest.mark.parametrize("opt", [OptimalityCriteria(), MMA()], ids=lambda o: o.name)
def test_volume_constrained_objective_rejected(opt):
    obj = ts.PixelObjective(ts.problems.l_shape(width=16, height=16, density=0.4), penal=3.0)
    with pytest.raises(ValueError, match="volume_constraint=False"):
        opt.run(obj, max_evals=3)


@pytest.mark.parametrize("opt", [OptimalityCriteria(), MMA()], ids=lambda o: o.name)
def test_foreign_objective_rejected(opt):
    class Quadratic:
        size = 4

        def value_and_grad(self, theta):
            return float(theta @ theta), 2 * theta

    with pytest.raises(ValueError, match="PixelObjective"):
        opt.run(Quadratic(), theta0=np.zeros(4), max_evals=3)


def test_names_and_repr():
    oc = OptimalityCriteria(move=0.1, damping=0.6)
    mma = MMA(initial_step=0.3)
    assert oc.name == "oc" and mma.name == "mma"
    assert repr(oc).startswith("OptimalityCriteria(move=0.1, damping=0.6")
    assert repr(mma).startswith("MMA(initial_step=0.3")


def test_oc_converged_reason(lshape):
    # every OC update moves a density by at most `move`, so xtol >= move stops at once
    traj = OptimalityCriteria(move=0.1, xtol=0.1).run(lshape, max_evals=10)
    assert traj.reason == "converged"
    assert traj.n_evals == 1 and traj.n_steps == 0


@pytest.mark.parametrize("opt", optimizers(), ids=lambda o: o.name)
def test_best_falls_back_to_least_infeasible(lshape, opt):
    theta0 = np.where(lshape.mask.ravel(), 0.9, 0.0)
    traj = opt.run(lshape, theta0=theta0, max_evals=1)
    assert not traj.extras["best_feasible"]
    np.testing.assert_array_equal(traj.best_theta, theta0)
    assert traj.best_loss == traj.losses[0]


def test_registry_builds_baselines():
    assert isinstance(ts.optim.get("oc", move=0.1), OptimalityCriteria)
    assert ts.optim.get("oc", move=0.1).move == 0.1
    assert isinstance(ts.optim.get("mma"), MMA)
