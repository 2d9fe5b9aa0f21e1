"""The Fourier path finder (toposcape.lab.paths, studies.md section 4)."""

from __future__ import annotations

import numpy as np
import pytest

from toposcape.errors import InvalidInputError
from toposcape.lab.paths import FourierPath, SmoothMaxPath, fourier_path


class Banana:
    """f(x, y) = (x^2 - 1)^2 + (y - 2 (1 - x^2))^2.

    In the coordinates u = x, v = y - 2 (1 - x^2) it is (u^2 - 1)^2 + v^2: minima at (+-1, 0)
    (loss 0) and one saddle at (0, 2) of height exactly 1, so the lowest barrier between the
    minima is 1 (every path crosses x = 0, where f >= (0 - 1)^2 = 1). The straight line y = 0
    has f = 5 (1 - x^2)^2: barrier 5, over a bump off the valley.
    """

    size = 2

    def value_and_grad(self, theta):
        x, y = theta
        v = y - 2.0 * (1.0 - x * x)
        f = (x * x - 1.0) ** 2 + v * v
        return float(f), np.array([4.0 * x * (x * x - 1.0) + 8.0 * x * v, 2.0 * v])


class Wells:
    """Separable double well sum_i (x_i^2 - 1)^2 in ``n`` dimensions."""

    def __init__(self, n):
        self.size = n

    def value_and_grad(self, theta):
        return float(np.sum((theta * theta - 1.0) ** 2)), 4.0 * theta * (theta * theta - 1.0)


class Quadratic:
    """A convex quadratic 0.5 theta^T A theta (A positive definite)."""

    def __init__(self, n, seed=0):
        m = np.random.default_rng(seed).standard_normal((n, n))
        self.a = m @ m.T + n * np.eye(n)
        self.size = n

    def value_and_grad(self, theta):
        g = self.a @ theta
        return 0.5 * float(theta @ g), g


def _dense_max(objective, result, n=2001):
    t, losses = result.profile(objective, n)
    assert t.shape == losses.shape == (n,)
    return losses.max()


def test_banana_path_finds_the_saddle_and_beats_the_straight_line():
    f = Banana()
    r = fourier_path(f, [-1.0, 0.0], [1.0, 0.0], modes=6, points=64, max_evals=300)
    assert isinstance(r, FourierPath)
    assert r.straight_barrier == pytest.approx(5.0, rel=1e-2)
    # The continuous path's highest loss is the saddle height within 2% (it cannot be lower).
    assert 1.0 - 1e-9 <= _dense_max(f, r) <= 1.02
    # On the nodes the barrier can fall a little below 1: nodes may straddle the saddle.
    assert 0.93 <= r.barrier <= 1.02
    assert r.barrier < 0.25 * r.straight_barrier
    assert r.improvement == pytest.approx(r.straight_barrier - r.barrier)
    # Shapes, fixed end points, consistency of the stored profile.
    assert r.t.shape == (64,) and r.losses.shape == (64,) and r.straight_losses.shape == (64,)
    assert r.thetas.shape == (64, 2) and r.coefficients.shape == (6, 2)
    assert np.array_equal(r.thetas[0], [-1.0, 0.0]) and np.array_equal(r.thetas[-1], [1.0, 0.0])
    np.testing.assert_allclose(r.path(r.t), r.thetas, atol=1e-12)
    np.testing.assert_allclose([f.value_and_grad(p)[0] for p in r.thetas], r.losses)
    assert r.n_path_evals == 300 and r.n_objective_evals == 2 + 62 * 301
    assert len(r.temperatures) == 4 and np.all(np.diff(r.stage_max) <= 0)


def test_smooth_max_gradient_matches_finite_differences():
    f = Banana()
    fn = SmoothMaxPath(f, [-1.0, 0.0], [1.0, 0.0], modes=3, points=11, temperature=0.3)
    c = 0.3 * np.random.default_rng(0).standard_normal(fn.size)
    value, grad = fn.value_and_grad(c)
    assert fn.last_losses.max() - 0.3 * np.log(11) <= value <= fn.last_losses.max()
    h = 1e-6
    fd = np.array(
        [
            (fn.value_and_grad(c + h * e)[0] - fn.value_and_grad(c - h * e)[0]) / (2 * h)
            for e in np.eye(fn.size)
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_convex_quadratic_has_no_barrier_on_the_straight_line():
    f = Quadratic(5)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(5), 2.0 * rng.standard_normal(5)
    r = fourier_path(f, a, b, modes=2, points=9, max_evals=30)
    assert abs(r.straight_barrier) <= 1e-12
    assert 0.0 <= r.barrier <= 1e-12
    assert np.array_equal(r.thetas[0], a) and np.array_equal(r.thetas[-1], b)


def test_barrier_is_never_negative_nor_above_the_straight_line():
    f = Banana()
    for a, b in [([-1.0, 0.0], [0.5, 1.0]), ([0.2, -0.3], [1.0, 0.0])]:
        r = fourier_path(f, a, b, modes=2, points=12, max_evals=40, seed=1)
        assert r.barrier >= 0.0
        assert r.barrier <= r.straight_barrier + 1e-12
        assert r.losses.max() >= max(r.losses[0], r.losses[-1])


def test_fifty_dimensional_double_well():
    n = 50
    base = np.sign(np.random.default_rng(1).standard_normal(n))
    a, b = base.copy(), base.copy()
    a[:3], b[:3] = -1.0, 1.0
    f = Wells(n)
    r = fourier_path(f, a, b, modes=4, points=32, max_evals=200)
    # The straight line crosses the three wells at once (barrier 3); flipping one coordinate
    # at a time costs 1, which the path finder reaches (jitter breaks the symmetry).
    assert r.straight_barrier == pytest.approx(3.0, rel=1e-2)
    assert r.barrier < 1.05
    assert _dense_max(f, r, 801) < 1.05
    assert r.coefficients.shape == (4, n) and r.thetas.shape == (32, n)


def test_plot_draws_both_profiles():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = fourier_path(Banana(), [-1.0, 0.0], [1.0, 0.0], modes=2, points=10, max_evals=20)
    fig = r.plot()
    assert len(fig.axes[0].lines) >= 2
    fig2, ax = plt.subplots()
    assert r.plot(ax=ax) is fig2
    with pytest.raises(TypeError):
        r.plot(ax="axes")
    plt.close("all")


def test_progress_bar_runs():
    pytest.importorskip("tqdm")
    r = fourier_path(
        Banana(), [-1.0, 0.0], [1.0, 0.0], modes=1, points=5, max_evals=8, progress=True
    )
    assert r.n_path_evals == 8


def test_bad_input_raises():
    f = Banana()
    good = dict(theta_a=[-1.0, 0.0], theta_b=[1.0, 0.0])
    with pytest.raises(TypeError, match="value_and_grad"):
        fourier_path(object(), **good)
    with pytest.raises(InvalidInputError, match="theta_a"):
        fourier_path(f, [-1.0, 0.0, 0.0], [1.0, 0.0])
    with pytest.raises(InvalidInputError, match="theta_b"):
        fourier_path(f, [-1.0, 0.0], [np.nan, 0.0])
    with pytest.raises(TypeError, match="theta_a"):
        fourier_path(f, "ab", [1.0, 0.0])
    with pytest.raises(InvalidInputError, match="modes"):
        fourier_path(f, **good, modes=0)
    with pytest.raises(TypeError, match="modes"):
        fourier_path(f, **good, modes=2.0)
    with pytest.raises(InvalidInputError, match="points"):
        fourier_path(f, **good, points=2)
    with pytest.raises(InvalidInputError, match="max_evals"):
        fourier_path(f, **good, max_evals=0)
    with pytest.raises(InvalidInputError, match="temperatures"):
        fourier_path(f, **good, temperatures=[0.1, -1.0])
    with pytest.raises(TypeError, match="temperatures"):
        fourier_path(f, **good, temperatures="hot")
    with pytest.raises(InvalidInputError, match="initial"):
        fourier_path(f, **good, modes=2, initial=np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match="jitter"):
        fourier_path(f, **good, jitter=-1.0)
    with pytest.raises(TypeError, match="progress"):
        fourier_path(f, **good, progress=1)


def test_pixel_objective_smoke():
    import toposcape as ts

    obj = ts.PixelObjective(ts.problems.mbb_beam(width=16, height=8, density=0.5))
    opt = ts.optim.get("lbfgs")
    rng = np.random.default_rng(0)
    ends = [
        opt.run(obj, theta0=obj.x0 + 0.3 * rng.standard_normal(obj.size), max_evals=60).best_theta
        for _ in range(2)
    ]
    r = fourier_path(obj, ends[0], ends[1], modes=2, points=8, max_evals=12)
    assert r.barrier >= 0.0
    assert r.barrier <= r.straight_barrier + 1e-9
    assert np.all(np.isfinite(r.losses)) and r.thetas.shape == (8, obj.size)
    assert r.n_objective_evals == 2 + 6 * 13


def test_profile_checks_its_objective():
    r = fourier_path(Banana(), [-1.0, 0.0], [1.0, 0.0], modes=1, points=5, max_evals=5)
    t, losses = r.profile(Banana(), 9)
    assert t[0] == 0.0 and t[-1] == 1.0 and losses[0] == losses[-1] == 0.0
    with pytest.raises(InvalidInputError, match="size"):
        r.profile(Wells(3))
    with pytest.raises(InvalidInputError, match="points"):
        r.profile(Banana(), 1)


class Fenced(Banana):
    """The banana, refusing (ValueError) points with y > 1.5: the saddle at (0, 2) is out."""

    def value_and_grad(self, theta):
        if theta[1] > 1.5:
            raise ValueError("out of the domain")
        return super().value_and_grad(theta)


def test_objective_errors_off_the_straight_line_count_as_infinite_loss():
    f = Fenced()
    r = fourier_path(f, [-1.0, 0.0], [1.0, 0.0], modes=4, points=32, max_evals=150)
    assert r.n_failures > 0
    assert np.all(np.isfinite(r.losses)) and np.all(r.thetas[:, 1] <= 1.5)
    # Best path inside the fence: over x = 0 at y = 1.5, f = 1 + 0.5^2 = 1.25 (nodes may dip).
    assert 1.15 <= r.barrier < 1.3 and r.straight_barrier == pytest.approx(5.0, rel=1e-2)
    with pytest.raises(ValueError, match="domain"):
        fourier_path(f, [-1.0, 2.0], [1.0, 0.0], modes=1, points=5, max_evals=5)
