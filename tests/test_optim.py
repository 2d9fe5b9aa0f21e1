"""The Python optimizers: presets, compositions, trajectories, budgets and robustness.

L-BFGS is compared iterate by iterate with SciPy's ``fmin_l_bfgs_b`` (the study's reference,
studies.md section 1); the landscape modification with its definition (section 2).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import fmin_l_bfgs_b, rosen, rosen_der

import toposcape as ts
from toposcape.optim import (
    LBFGS,
    GoldenSection,
    Identity,
    LandscapeModification,
    Optimizer,
    StrongWolfe,
)

EPS = float(np.finfo(float).eps)
PIXEL_PROBLEM = "michell_centered_both_32x64_0.12"


# ------------------------------------------------------------------------------------------
# Objectives
# ------------------------------------------------------------------------------------------


class Rosenbrock:
    """SciPy's Rosenbrock function as an objective."""

    def __init__(self, n: int = 60, seed: int = 0) -> None:
        self.size = n
        self.x0 = -1.2 + 0.1 * np.random.default_rng(seed).standard_normal(n)

    def value_and_grad(self, x):
        return float(rosen(x)), rosen_der(x)


class Quadratic:
    """0.5 x^T A x - b^T x with a well-conditioned SPD A (eigenvalues in [1, 4])."""

    def __init__(self, n: int = 20, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        self.A = Q @ np.diag(np.linspace(1.0, 4.0, n)) @ Q.T
        self.b = rng.standard_normal(n)
        self.size = n
        self.x0 = 2.0 * rng.standard_normal(n)
        self.xstar = np.linalg.solve(self.A, self.b)
        self.fmin = float(-0.5 * self.b @ self.xstar)

    def value_and_grad(self, x):
        Ax = self.A @ x
        return float(0.5 * x @ Ax - self.b @ x), Ax - self.b


class Recording:
    """Wraps an objective and records every evaluated point and gradient."""

    def __init__(self, obj) -> None:
        self.obj = obj
        self.size = obj.size
        self.x0 = obj.x0
        self.points: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []

    def value_and_grad(self, x):
        f, g = self.obj.value_and_grad(x)
        self.points.append(np.array(x, copy=True))
        self.grads.append(np.array(g, copy=True))
        return f, g


class NanOutside:
    """Rosenbrock in 2-D, NaN outside the disc ||x|| <= radius (which holds the minimizer)."""

    size = 2

    def __init__(self, radius: float = 1.6) -> None:
        self.radius = radius
        self.x0 = np.array([-1.2, 1.0])

    def value_and_grad(self, x):
        if np.linalg.norm(x) > self.radius:
            return np.nan, np.full(2, np.nan)
        return float(rosen(x)), rosen_der(x)


class UphillGradient:
    """Values of 0.5 ||x||^2 but the gradient ``-scale x``: every 'descent' goes uphill.

    A large ``scale`` makes the predicted decrease dwarf the actual rise, so the search shrinks
    slowly and never reaches steps that round to theta0.
    """

    def __init__(self, n: int = 5, scale: float = 1e6) -> None:
        self.size = n
        self.scale = scale
        self.x0 = np.linspace(1.0, 2.0, n)

    def value_and_grad(self, x):
        return float(0.5 * x @ x), -self.scale * np.asarray(x, dtype=float)


@pytest.fixture(scope="module")
def pixel_objective():
    return ts.PixelObjective(ts.problems.get(PIXEL_PROBLEM), penal=3.0)


def _scipy_iterates(obj, m: int, maxfun: int) -> list[np.ndarray]:
    iterates: list[np.ndarray] = []
    fmin_l_bfgs_b(
        obj.value_and_grad,
        obj.x0,
        m=m,
        factr=1,
        pgtol=1e-14,
        maxfun=maxfun,
        callback=lambda xk: iterates.append(np.array(xk, copy=True)),
    )
    return iterates


def _max_rel_deviation(ours: np.ndarray, ref: list[np.ndarray], count: int) -> float:
    assert len(ref) >= count, f"SciPy made only {len(ref)} iterations"
    assert len(ours) >= count, f"toposcape made only {len(ours)} iterations"
    return max(
        float(np.linalg.norm(ours[k] - ref[k]) / np.linalg.norm(ref[k])) for k in range(count)
    )


# ------------------------------------------------------------------------------------------
# L-BFGS against SciPy's fmin_l_bfgs_b
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("memory", [10, 1])
def test_lbfgs_matches_scipy_on_rosenbrock(memory):
    obj = Rosenbrock(n=60)
    ref = _scipy_iterates(obj, m=memory, maxfun=60)
    traj = ts.optim.get("lbfgs", memory=memory).run(obj, obj.x0, max_evals=60, record_params=True)
    dev = _max_rel_deviation(traj.thetas[1:], ref, 20)
    assert dev < 1e-6, dev
    # And the iterates do move: the comparison is not between constants.
    assert np.linalg.norm(ref[19] - obj.x0) > 0.1 * np.linalg.norm(obj.x0)


def test_lbfgs_matches_scipy_on_pixel_to(pixel_objective):
    obj = pixel_objective
    ref = _scipy_iterates(obj, m=10, maxfun=14)
    traj = ts.optim.get("lbfgs", memory=10).run(obj, obj.x0, max_evals=14, record_params=True)
    dev = _max_rel_deviation(traj.thetas[1:], ref, 10)
    assert dev < 1e-6, dev
    assert traj.losses[10] < 0.9 * traj.losses[0]


def test_lbfgs_first_trials_follow_lbfgsb_rule():
    """First trial 1/||g0|| at step 1, then the unit step along d = -H g."""
    obj = Recording(Rosenbrock(n=10))
    traj = ts.optim.get("lbfgs").run(obj, max_evals=60, record_params=True)
    th, t = traj.thetas, traj.step_sizes
    g0 = obj.grads[0]
    np.testing.assert_allclose(obj.points[1], th[0] - g0 / np.linalg.norm(g0), rtol=1e-14)
    for k in range(1, traj.n_steps):
        first = obj.points[traj.evals[k]]
        d = (th[k + 1] - th[k]) / t[k + 1]
        np.testing.assert_allclose(first, th[k] + d, rtol=1e-9, atol=1e-12)
    assert np.any(traj.evals_per_step[1:] > 1)


# ------------------------------------------------------------------------------------------
# GD_LS
# ------------------------------------------------------------------------------------------


class ForgetfulLBFGS(LBFGS):
    """L-BFGS whose memory is cleared after every step."""

    def update(self, s, y, gd):
        super().update(s, y, gd)
        self.core.clear()


def test_gd_ls_equals_lbfgs_with_cleared_memory():
    obj = Rosenbrock(n=20)
    gd_ls = ts.optim.get("gd_ls").run(obj, max_evals=150, record_params=True)
    composed = Optimizer(ForgetfulLBFGS(10), StrongWolfe(), gtol=1e-14, ftol=EPS).run(
        obj, max_evals=150, record_params=True
    )
    assert gd_ls.n_steps > 30
    assert gd_ls.thetas.shape == composed.thetas.shape
    np.testing.assert_allclose(gd_ls.thetas, composed.thetas, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gd_ls.eval_losses, composed.eval_losses, rtol=1e-12)
    np.testing.assert_array_equal(gd_ls.evals, composed.evals)
    # Plain L-BFGS follows a different path: the memory matters.
    lbfgs = ts.optim.get("lbfgs").run(obj, max_evals=150, record_params=True)
    assert np.linalg.norm(lbfgs.thetas[5] - gd_ls.thetas[5]) > 1e-3


def test_gd_ls_first_trial_is_unit_length_every_step():
    obj = Recording(Rosenbrock(n=20))
    traj = ts.optim.get("gd_ls").run(obj, max_evals=120, record_params=True)
    assert traj.n_steps > 20
    assert np.any(traj.evals_per_step[1:] > 1)  # real line searches happened
    for k in range(traj.n_steps):
        g = obj.grads[traj.evals[k] - 1]  # gradient at the accepted iterate k
        np.testing.assert_array_equal(obj.points[traj.evals[k] - 1], traj.thetas[k])
        first = obj.points[traj.evals[k]]
        np.testing.assert_allclose(first, traj.thetas[k] - g / np.linalg.norm(g), rtol=1e-14)
        np.testing.assert_allclose(np.linalg.norm(first - traj.thetas[k]), 1.0, rtol=1e-12)


def test_golden_section_step_rule_is_exact_on_quadratic():
    q = Quadratic()
    traj = Optimizer(Identity(), GoldenSection(xtol=1e-8)).run(
        q, max_steps=3, max_evals=None, record_params=True
    )
    for k in range(3):
        g = q.value_and_grad(traj.thetas[k])[1]
        t_exact = (g @ g) / (g @ q.A @ g)
        assert traj.step_sizes[k + 1] == pytest.approx(t_exact, rel=1e-7)


# ------------------------------------------------------------------------------------------
# Landscape modification
# ------------------------------------------------------------------------------------------


def _scale(f_kind: str, u: float, c: float, eps: float) -> float:
    t = max(u - c, 0.0)
    return 1.0 / ((t if f_kind == "linear" else t * t) + eps)


@pytest.mark.parametrize("f_kind", ["linear", "quadratic"])
@pytest.mark.parametrize("eps", [1.0, 0.3])
def test_landscape_modification_constant_level(f_kind, eps):
    c = 2.0
    lm = LandscapeModification(f_kind, eps=eps, c=c)
    lm.reset(10.0)  # a constant level ignores the start
    assert lm.level == c
    rng = np.random.default_rng(0)
    g = rng.standard_normal(7)
    for u in (-3.0, 1.0, 2.0, 2.5, 5.0, 40.0):
        F, G = lm.apply(u, g)
        expected = g / (_scale(f_kind, u, c, eps) ** -1)
        np.testing.assert_allclose(G, expected, rtol=1e-14)
        # Stationary points are kept: G = 0 iff g = 0.
        F0, G0 = lm.apply(u, np.zeros(7))
        assert np.all(G0 == 0) and np.all(G != 0)
        assert F0 == F
    # Spot values by hand.
    u = 5.0
    t = u - c
    want = 1.0 / (t + eps) if f_kind == "linear" else 1.0 / (t * t + eps)
    np.testing.assert_allclose(lm.apply(u, g)[1], want * g, rtol=1e-15)
    np.testing.assert_allclose(lm.apply(1.0, g)[1], g / eps, rtol=1e-15)  # (U - c)_+ = 0


@pytest.mark.parametrize("f_kind", ["linear", "quadratic"])
def test_landscape_modification_running_minimum(f_kind):
    eps = 0.5
    lm = LandscapeModification(f_kind, eps=eps, c="running_min")
    g = np.array([1.0, -2.0, 3.0])
    lm.reset(10.0)
    assert lm.level == 10.0
    np.testing.assert_allclose(lm.apply(12.0, g)[1], g * _scale(f_kind, 12.0, 10.0, eps))
    lm.accepted(8.0)
    assert lm.level == 8.0
    np.testing.assert_allclose(lm.apply(9.0, g)[1], g * _scale(f_kind, 9.0, 8.0, eps))
    lm.accepted(9.0)  # a higher loss does not raise the level
    assert lm.level == 8.0
    lm.accepted(3.0)
    np.testing.assert_allclose(lm.apply(9.0, g)[1], g * _scale(f_kind, 9.0, 3.0, eps))
    lm.reset(1.0)  # a new run starts afresh
    assert lm.level == 1.0


@pytest.mark.parametrize("f_kind", ["linear", "quadratic"])
@pytest.mark.parametrize("eps", [1.0, 0.2])
def test_landscape_modification_value_derivative_matches_scale(f_kind, eps):
    c = 1.5
    lm = LandscapeModification(f_kind, eps=eps, c=c)
    values = []
    for u in (-2.0, 0.7, 1.4, 1.6, 2.0, 3.3, 12.0):
        h = 1e-5 * max(1.0, abs(u))
        fd = (lm.value(u + h) - lm.value(u - h)) / (2 * h)
        assert fd == pytest.approx(lm.scale(u), rel=1e-6)
        assert lm.scale(u) == pytest.approx(_scale(f_kind, u, c, eps), rel=1e-15)
        values.append(lm.value(u))
    assert np.all(np.diff(values) > 0)  # F is increasing: the order of losses is kept
    # Continuous at the level.
    assert lm.value(c - 1e-12) == pytest.approx(lm.value(c + 1e-12), abs=1e-10)
    # apply returns F(U) as the value.
    assert lm.apply(3.3, np.ones(2))[0] == lm.value(3.3)


def test_landscape_modification_bad_arguments():
    with pytest.raises(ValueError, match="linear"):
        LandscapeModification("cubic")
    with pytest.raises(ValueError, match="eps"):
        LandscapeModification("linear", eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        LandscapeModification("linear", eps=-1.0)
    with pytest.raises(ValueError, match="running_min"):
        LandscapeModification("linear", c=np.nan)


def test_lm_preset_applies_the_scaled_gradient():
    q = Quadratic()
    lr, eps, c = 0.1, 0.5, -50.0
    traj = ts.optim.get("gd_lm", lr=lr, f="quadratic", lm_eps=eps, c=c).run(
        q, max_steps=2, max_evals=None, record_params=True
    )
    for k in range(2):
        f, g = q.value_and_grad(traj.thetas[k])
        step = lr * g / ((f - c) ** 2 + eps)
        np.testing.assert_allclose(traj.thetas[k + 1], traj.thetas[k] - step, rtol=1e-13)
    # The trajectory records the untransformed loss.
    assert traj.losses[0] == q.value_and_grad(q.x0)[0]


# Regression: the ftol test once compared values at two running-min levels and stopped after
# one step.
@pytest.mark.parametrize("name", ["lbfgs_lm", "gd_ls_lm"])
def test_line_search_lm_presets_do_not_stop_after_one_step(name):
    q = Quadratic()
    traj = ts.optim.get(name).run(q, max_evals=300)
    assert traj.n_steps > 5, (traj.reason, traj.message)
    assert traj.losses[-1] - q.fmin < 1e-6 * (traj.losses[0] - q.fmin)


# ------------------------------------------------------------------------------------------
# Every preset on a convex quadratic
# ------------------------------------------------------------------------------------------

_LR = {
    "gd": 0.2,
    "hd": 0.3,
    "momentum": 0.01,
    "adam": 0.05,
    "rmsprop": 0.05,
    "adagrad": 0.5,
    # the adaptive ones start far too large on purpose: they must shrink it themselves
    "gd_energy": 10.0,
    "momentum_energy": 10.0,
    "euler_richardson": 10.0,
}
# oc and mma need densities, lm a least-squares form (tests/test_optim_adaptive.py)
_PRESETS = [n for n in ts.optim.names() if n not in ("oc", "mma", "lm")]


def test_preset_list_is_complete():
    expected = {"lbfgs", "gd", "gd_ls", "hd", "momentum", "adam", "rmsprop", "adagrad"}
    lab = {"gd_energy", "momentum_energy", "euler_richardson", "qn_golden"}
    assert set(_PRESETS) == expected | {f"{n}_lm" for n in expected} | lab


@pytest.mark.parametrize("name", _PRESETS)
def test_every_preset_decreases_a_convex_quadratic(name):
    q = Quadratic()
    base = name.removesuffix("_lm")
    kwargs = {"lr": _LR[base]} if base in _LR else {}
    traj = ts.optim.get(name, **kwargs).run(q, max_evals=400, max_steps=300)
    f0 = traj.losses[0]
    assert f0 == q.value_and_grad(q.x0)[0]
    assert np.all(np.isfinite(traj.losses))
    assert traj.losses[-1] - q.fmin <= 1e-2 * (f0 - q.fmin), (traj.reason, traj.losses[-1])
    assert traj.best_loss <= traj.losses[-1]


# ------------------------------------------------------------------------------------------
# Trajectory contents
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lbfgs_run():
    obj = Rosenbrock(n=10)
    traj = ts.optim.get("lbfgs", memory=3).run(
        obj, max_evals=80, record_params=True, record_memory=True
    )
    return obj, traj


def test_trajectory_per_iterate_records(lbfgs_run):
    obj, traj = lbfgs_run
    K = traj.n_steps
    assert K > 20
    assert traj.losses.shape == (K + 1,)
    assert traj.thetas.shape == (K + 1, obj.size)
    np.testing.assert_array_equal(traj.thetas[0], obj.x0)
    np.testing.assert_array_equal(traj.theta, traj.thetas[-1])
    assert traj.losses[0] == obj.value_and_grad(obj.x0)[0]
    for k in range(K + 1):
        f, g = obj.value_and_grad(traj.thetas[k])
        assert traj.losses[k] == pytest.approx(f, rel=1e-14)
        assert traj.grad_norms[k] == pytest.approx(np.linalg.norm(g), rel=1e-14)
    # Per-evaluation losses; accepted iterates are the last trial of their step here.
    assert len(traj.eval_losses) == traj.evals[-1] == traj.n_evals
    np.testing.assert_array_equal(traj.eval_losses[traj.evals - 1], traj.losses)
    assert traj.evals_per_step[0] == 1 and np.all(traj.evals_per_step >= 1)
    np.testing.assert_array_equal(np.cumsum(traj.evals_per_step), traj.evals)
    # Step sizes: NaN at 0, positive after, and theta_k - theta_{k-1} = t_k d_k.
    assert np.isnan(traj.step_sizes[0]) and np.all(traj.step_sizes[1:] > 0)
    np.testing.assert_allclose(
        traj.distances, np.linalg.norm(traj.thetas - obj.x0, axis=1), rtol=1e-14
    )
    assert traj.distances[0] == 0.0
    assert np.isnan(traj.directional_derivatives[0])
    assert np.all(traj.directional_derivatives[1:] < 0)
    # g_{k-1} . d_k with d_k = (theta_k - theta_{k-1}) / t_k.
    for k in range(1, K + 1):
        g = obj.value_and_grad(traj.thetas[k - 1])[1]
        d = (traj.thetas[k] - traj.thetas[k - 1]) / traj.step_sizes[k]
        assert traj.directional_derivatives[k] == pytest.approx(g @ d, rel=1e-8)
    assert np.all(np.diff(traj.wall_times) >= 0) and traj.wall_times[-1] > traj.wall_times[0]
    assert traj.optimizer == "lbfgs" and traj.reason == "max_evals"


def test_trajectory_best_theta(lbfgs_run):
    obj, traj = lbfgs_run
    assert traj.best_loss == np.nanmin(traj.eval_losses)
    assert obj.value_and_grad(traj.best_theta)[0] == traj.best_loss
    assert traj.best_loss <= traj.losses.min()


def test_trajectory_memory_rebuilds_the_directions(lbfgs_run):
    obj, traj = lbfgs_run
    m = 3
    assert traj.memory is not None and traj.pairs is not None
    assert len(traj.memory) == traj.n_steps
    assert len(traj.pairs) >= m
    for held in traj.memory:
        assert len(held) <= m and all(0 <= i < len(traj.pairs) for i in held)
        if held:  # the newest pairs, consecutive and in order
            assert list(held) == list(range(held[0], held[0] + len(held)))
    assert max(len(h) for h in traj.memory) == m
    assert traj.memory[0] == ()
    for s, y in traj.pairs:
        assert s @ y > 0
    # The direction of step k+1 is -H g_k with the recorded pairs.
    for k, held in enumerate(traj.memory):
        mem = ts._core.LbfgsMemory(obj.size, m)
        for i in held:
            assert mem.push(*traj.pairs[i])
        g = obj.value_and_grad(traj.thetas[k])[1]
        d = (traj.thetas[k + 1] - traj.thetas[k]) / traj.step_sizes[k + 1]
        np.testing.assert_allclose(-mem.two_loop(g), d, rtol=1e-8, atol=1e-10 * np.abs(d).max())
    # Without record_memory nothing is kept.
    plain = ts.optim.get("lbfgs", memory=3).run(obj, max_evals=10)
    assert plain.memory is None and plain.pairs is None and plain.thetas is None


def test_trajectory_to_xarray(lbfgs_run):
    obj, traj = lbfgs_run
    ds = traj.to_xarray()
    per_step = {
        "loss": traj.losses,
        "grad_norm": traj.grad_norms,
        "step_size": traj.step_sizes,
        "evals": traj.evals,
        "evals_per_step": traj.evals_per_step,
        "distance": traj.distances,
        "directional_derivative": traj.directional_derivatives,
        "wall_time": traj.wall_times,
    }
    for name, values in per_step.items():
        assert ds[name].dims == ("step",)
        np.testing.assert_array_equal(ds[name].values, values)
    assert ds["eval_loss"].dims == ("evaluation",)
    np.testing.assert_array_equal(ds["eval_loss"].values, traj.eval_losses)
    assert ds["theta"].dims == ("step", "parameter")
    np.testing.assert_array_equal(ds["theta"].values, traj.thetas)
    assert ds.sizes["step"] == traj.n_steps + 1 and ds.sizes["evaluation"] == traj.n_evals
    assert ds.attrs["optimizer"] == "lbfgs" and ds.attrs["reason"] == "max_evals"
    assert ds.attrs["best_loss"] == traj.best_loss


# ------------------------------------------------------------------------------------------
# Budgets
# ------------------------------------------------------------------------------------------

_BUDGET_OPTIMIZERS = [
    ("lbfgs", {}),
    ("gd_ls", {}),
    ("gd", {"lr": 1e-3}),
    ("hd", {"lr": 1e-3}),
    ("adam", {}),
    ("lbfgs_lm", {"c": 0.0}),
]


@pytest.mark.parametrize("name, kwargs", _BUDGET_OPTIMIZERS)
@pytest.mark.parametrize("max_evals", [1, 2, 7, 23])
def test_max_evals_is_never_exceeded(name, kwargs, max_evals):
    obj = Recording(Rosenbrock(n=8))
    traj = ts.optim.get(name, **kwargs).run(obj, max_evals=max_evals)
    assert traj.reason == "max_evals"
    assert len(obj.points) == len(traj.eval_losses) == max_evals
    assert traj.evals[-1] <= max_evals
    if max_evals == 1:
        assert traj.n_steps == 0 and len(traj.losses) == 1


@pytest.mark.parametrize("name, kwargs", _BUDGET_OPTIMIZERS)
def test_max_steps_and_whichever_comes_first(name, kwargs):
    obj = Rosenbrock(n=8)
    opt = ts.optim.get(name, **kwargs)
    traj = opt.run(obj, max_evals=None, max_steps=6)
    assert traj.reason == "max_steps" and traj.n_steps == 6
    assert len(traj.eval_losses) == traj.evals[-1]
    # Steps run out first.
    traj = opt.run(obj, max_evals=500, max_steps=4)
    assert traj.reason == "max_steps" and traj.n_steps == 4 and traj.n_evals < 500
    # Evaluations run out first.
    traj = opt.run(obj, max_evals=5, max_steps=500)
    assert traj.reason == "max_evals" and traj.n_evals == 5 and traj.n_steps < 500
    # max_steps=0: only the start is evaluated.
    traj = opt.run(obj, max_evals=None, max_steps=0)
    assert traj.reason == "max_steps" and traj.n_evals == 1 and traj.n_steps == 0


# ------------------------------------------------------------------------------------------
# Robustness
# ------------------------------------------------------------------------------------------


def test_nan_region_makes_line_search_back_off():
    obj = NanOutside(radius=1.6)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=300, record_params=True)
    nan_evals = np.flatnonzero(np.isnan(traj.eval_losses))
    assert nan_evals.size >= 1  # a trial left the disc ...
    assert nan_evals[0] < traj.evals[-2]  # ... before the last step: the run went on
    assert np.all(np.isfinite(traj.losses)) and np.all(np.diff(traj.losses) <= 0)
    assert traj.reason != "line_search_failed"
    np.testing.assert_allclose(traj.theta, [1.0, 1.0], atol=1e-6)
    assert np.isfinite(traj.best_loss) and np.all(np.isfinite(traj.best_theta))


def test_nan_at_first_trial_backs_off_to_a_smaller_step():
    class NanBall:
        size = 4
        x0 = np.full(4, 0.5)  # ||x0|| = 1

        def value_and_grad(self, x):
            if np.linalg.norm(x) >= 3.0:
                return np.nan, np.full(4, np.nan)
            a = np.array([1.0, 1.5, 2.0, 2.5])
            return float(0.5 * x @ (a * x)), a * x

    obj = Recording(NanBall())
    traj = Optimizer(Identity(), StrongWolfe(initial=10.0)).run(obj, max_steps=5, max_evals=100)
    # Trials of the first step: t = ||theta - theta0|| / ||g0||, NaN until back inside the ball.
    n1 = traj.evals_per_step[1]
    g0 = np.linalg.norm(obj.grads[0])
    steps = [np.linalg.norm(p - obj.x0) / g0 for p in obj.points[1 : 1 + n1]]
    losses = traj.eval_losses[1 : 1 + n1]
    assert steps[0] == pytest.approx(10.0) and np.isnan(losses[0])
    first_ok = int(np.argmax(np.isfinite(losses)))
    assert first_ok >= 1 and np.all(np.isnan(losses[:first_ok]))
    assert np.all(np.diff(steps[: first_ok + 1]) < 0) and steps[first_ok] > 0  # backed off
    assert np.linalg.norm(obj.points[first_ok + 1]) < 3.0
    assert traj.reason == "max_steps" and traj.n_steps == 5
    assert np.all(np.diff(traj.losses) < 0)
    assert traj.losses[-1] < 1e-3 * traj.losses[0]


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("transformed", [False, True])
def test_finite_loss_with_a_nonfinite_gradient_entry_is_a_failed_trial(bad, transformed):
    # The loop infers finiteness of the gradient from its slope along d when it can: one bad
    # entry (where d is zero too) must still make the trial count as non-finite.
    class BadGradientOutside:
        size = 4
        x0 = np.array([0.5, 0.5, 0.5, 0.0])  # d = -g has a zero last entry at the start

        def value_and_grad(self, x):
            a = np.array([1.0, 1.5, 2.0, 2.5])
            g = a * x
            if np.linalg.norm(x) >= 3.0:  # lower than anything inside, but a bad gradient
                g[-1] = bad
                return -1.0, g
            return float(0.5 * x @ (a * x)), g

    transforms = [LandscapeModification("linear", c=-1.0)] if transformed else []
    obj = Recording(BadGradientOutside())
    opt = Optimizer(Identity(), StrongWolfe(initial=10.0), transforms=transforms)
    traj = opt.run(obj, max_steps=3, max_evals=100)
    n1 = traj.evals_per_step[1]
    assert n1 >= 2  # the first trial (outside) was rejected and the search backed off
    assert np.linalg.norm(obj.points[1]) >= 3.0
    assert np.linalg.norm(obj.points[n1]) < 3.0  # the accepted point is inside
    assert traj.reason == "max_steps" and np.all(np.diff(traj.losses) < 0)
    # The budget runs out right after the bad trial: its finite, lower loss must not make it
    # the last iterate.
    traj = opt.run(obj, max_evals=2)
    assert traj.reason == "max_evals" and traj.n_steps == 0
    np.testing.assert_array_equal(traj.theta, obj.x0)


def test_inconsistent_gradient_ends_with_line_search_failed():
    obj = UphillGradient(scale=1e6)
    ref = fmin_l_bfgs_b(obj.value_and_grad, obj.x0, m=10, factr=1, pgtol=1e-14, maxfun=300)
    assert ref[2]["warnflag"] == 2 and ref[2]["nit"] == 0  # SciPy: abnormal termination
    for name in ("gd_ls", "lbfgs"):
        traj = ts.optim.get(name).run(obj, max_evals=300)
        assert traj.reason == "line_search_failed", (name, traj.reason)
        assert traj.n_steps == 0
        assert np.all(traj.eval_losses[1:] > traj.losses[0])
        assert traj.n_evals == 21 == ref[2]["funcalls"]  # 20 trials, as L-BFGS-B
        np.testing.assert_array_equal(traj.theta, obj.x0)
        assert traj.best_loss == traj.losses[0]


def test_uphill_gradient_at_rounding_level_stops_where_scipy_stops():
    # With an O(1) uphill gradient the search shrinks to steps that round to theta0; the
    # step is accepted (as L-BFGS-B accepts a dcsrch warning) and nothing moves.
    obj = UphillGradient(scale=1.0)
    ref = fmin_l_bfgs_b(obj.value_and_grad, obj.x0, m=10, factr=1, pgtol=1e-14, maxfun=300)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=300)
    assert traj.n_evals == ref[2]["funcalls"] == 21
    np.testing.assert_allclose(traj.theta, ref[0], rtol=1e-15)
    np.testing.assert_allclose(traj.theta, obj.x0, rtol=1e-15)
    assert traj.losses[-1] == traj.losses[0]


def test_constant_step_divergence_ends_with_nonfinite_loss():
    q = Quadratic()
    with np.errstate(over="ignore", invalid="ignore"):
        traj = ts.optim.get("gd", lr=10.0).run(q, max_evals=None, max_steps=2000)
    assert traj.reason == "nonfinite_loss"
    assert traj.n_steps < 2000
    assert np.isfinite(traj.best_loss) and traj.best_loss <= traj.losses[0]


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="lbfgs"):
        ts.optim.get("lbgfs")
    with pytest.raises(ValueError, match="unknown optimizer"):
        ts.optim.get("no_such_optimizer_at_all")
    for name in ("gd", "hd", "momentum", "adam", "rmsprop", "adagrad", "gd_lm"):
        for lr in (0.0, -1e-3):
            with pytest.raises(ValueError, match="lr"):
                ts.optim.get(name, lr=lr)
    with pytest.raises(ValueError, match="lr"):
        ts.optim.get("gd")  # lr is required
    for memory, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="memory"):
            ts.optim.get("lbfgs", memory=memory)
        with pytest.raises(error, match="memory"):
            ts.optim.get("hd", memory=memory, lr=0.1)
    with pytest.raises(ts.UnknownNameError, match="no option 'learning_rate'.*memory=10"):
        ts.optim.get("lbfgs", learning_rate=1.0)

    obj = Rosenbrock(n=6)
    opt = ts.optim.get("lbfgs")
    with pytest.raises(ValueError, match="max_evals"):
        opt.run(obj, max_evals=0)
    with pytest.raises(ValueError, match="max_evals"):
        opt.run(obj, max_evals=-5)
    with pytest.raises(TypeError, match="max_steps"):
        opt.run(obj, max_evals=10, max_steps=2.5)
    with pytest.raises(TypeError, match="max_evals"):
        opt.run(obj, max_evals=3.0)  # accepted before the validation layer
    with pytest.raises(ValueError, match="budget"):
        opt.run(obj, max_evals=None, max_steps=None)
    with pytest.raises(ValueError, match="shape"):
        opt.run(obj, np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        opt.run(obj, np.zeros((2, 3)))
    bad = obj.x0.copy()
    bad[2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        opt.run(obj, bad)
    bad[2] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        opt.run(obj, bad)


# ------------------------------------------------------------------------------------------
# Quasi-Newton matrices rebuilt from a recorded run
# ------------------------------------------------------------------------------------------
def test_quasi_newton_operators_rebuild_the_run():
    n = 30

    class Rosen:
        size = n
        x0 = np.full(n, -0.5)

        def value_and_grad(self, x):
            return rosen(x), rosen_der(x)

    obj = Rosen()
    traj = ts.optim.get("lbfgs", memory=5).run(
        obj, max_evals=60, record_memory=True, record_params=True
    )
    rng = np.random.default_rng(3)
    v = rng.standard_normal(n)
    for k in (0, 5, traj.n_steps - 1):
        B = traj.quasi_newton(k, "B")
        H = traj.quasi_newton(k, "H")
        assert B.shape == (n, n)
        np.testing.assert_allclose(B @ (H @ v), v, rtol=1e-9, atol=1e-9 * np.linalg.norm(v))
        # The step taken from iterate k is -t H_k g_k.
        g = obj.value_and_grad(traj.thetas[k])[1]
        step = traj.thetas[k + 1] - traj.thetas[k]
        np.testing.assert_allclose(step, -traj.step_sizes[k + 1] * (H @ g), rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="record_memory"):
        ts.optim.get("lbfgs").run(obj, max_evals=5).quasi_newton(0)
    with pytest.raises(ValueError, match="kind"):
        traj.quasi_newton(0, "C")


# ------------------------------------------------------------------------------------------
# Pairs stored in float32
# ------------------------------------------------------------------------------------------
def test_lbfgs_float32_pairs_follow_the_float64_run_and_rebuild_exactly():
    obj = Rosenbrock(n=30)
    obj.x0 = np.full(obj.size, -0.5)
    exact = ts.optim.get("lbfgs", memory=5).run(obj, max_evals=40, record_params=True)
    single = ts.optim.get("lbfgs", memory=5, pair_dtype="float32").run(
        obj, max_evals=40, record_params=True, record_memory=True
    )
    # Rounding the pairs perturbs the directions at the 1e-7 level: the first steps agree
    # closely but not bit for bit.
    k = 8
    gap = np.abs(single.thetas[:k] - exact.thetas[:k]).max()
    assert 0 < gap < 1e-4
    # Recorded pairs are the rounded ones the memory held, so the rebuilt H_k gives the steps.
    for s, y in single.pairs:
        np.testing.assert_array_equal(s, s.astype(np.float32))
        np.testing.assert_array_equal(y, y.astype(np.float32))
    for step in (1, 6, single.n_steps - 1):
        H = single.quasi_newton(step, "H")
        g = obj.value_and_grad(single.thetas[step])[1]
        taken = single.thetas[step + 1] - single.thetas[step]
        np.testing.assert_allclose(
            taken, -single.step_sizes[step + 1] * (H @ g), rtol=1e-10, atol=1e-13
        )
    # It still minimises: a longer run gets as close to the optimum as the float64 one.
    far = ts.optim.get("lbfgs", pair_dtype="float32").run(obj, max_evals=300)
    assert far.losses[-1] < 1e-10


@pytest.mark.parametrize("name", ["lbfgs", "gd_ls"])
def test_recorded_norms_and_distances_are_those_of_the_recorded_iterates(name):
    # The loop takes |g| and |theta - theta0| from the passes that made the trial point and
    # its slope; they must be exactly what the recorder would compute from the iterates.
    obj = Rosenbrock(n=150_001)  # above the core's parallel threshold
    obj.x0 = np.full(obj.size, -0.5)
    traj = ts.optim.get(name).run(obj, max_evals=12, record_params=True)
    assert traj.n_steps >= 3
    for k, theta in enumerate(traj.thetas):
        assert traj.distances[k] == ts._core.distance(theta, traj.thetas[0])
        g = obj.value_and_grad(theta)[1]
        assert traj.grad_norms[k] == np.sqrt(ts._core.dot(g, g))


def test_lbfgs_pair_dtype_validation():
    assert ts.optim.get("lbfgs", pair_dtype=np.float32).direction.pair_dtype == "float32"
    assert "pair_dtype='float32'" in repr(ts.optim.get("hd", lr=0.1, pair_dtype="float32"))
    for bad in ("float16", "int64", "complex128", "nonsense", None):
        with pytest.raises(ValueError, match="pair_dtype"):
            ts.optim.get("lbfgs", pair_dtype=bad)


class _Declared:
    """A quadratic that declares the precision of its gradient (or nothing, with None)."""

    def __init__(self, gradient_dtype):
        if gradient_dtype is not None:
            self.gradient_dtype = gradient_dtype
        self.size = 50
        self.x0 = np.linspace(-1.0, 1.0, self.size)
        self._d = np.linspace(1.0, 30.0, self.size)

    def value_and_grad(self, theta):
        g = self._d * theta
        return 0.5 * float(g @ theta), g


@pytest.mark.parametrize(
    "declared, expected", [("float32", "float32"), ("float64", "float64"), (None, "float64")]
)
def test_lbfgs_auto_pairs_follow_the_objectives_gradient_dtype(declared, expected):
    opt = ts.optim.get("lbfgs")
    assert opt.direction.pair_dtype == "auto"
    assert "pair_dtype" not in repr(opt)  # the default
    obj = _Declared(declared)
    traj = opt.run(obj, max_steps=6, max_evals=None, record_memory=True)
    # the run's stored pairs have the storage's precision: float32-rounded, or exact s = dx
    assert traj.pairs
    s, _ = traj.pairs[-1]
    assert np.array_equal(s, s.astype(np.float32)) == (expected == "float32")
    # the preset itself is untouched: the next run on another objective chooses afresh
    assert opt.direction.storage == "float64"
    explicit = ts.optim.get("lbfgs", pair_dtype="float64").run(obj, max_steps=6, max_evals=None)
    if expected == "float64":
        np.testing.assert_array_equal(traj.losses, explicit.losses)
    else:
        assert not np.array_equal(traj.losses, explicit.losses)


def test_cnn_objective_declares_its_gradient_dtype():
    problem = ts.problems.mbb_beam(width=16, height=8, density=0.5)
    assert ts.CNNObjective(problem, seed=0).gradient_dtype == "float32"
    assert ts.CNNObjective(problem, seed=0, dtype="float64").gradient_dtype == "float64"
