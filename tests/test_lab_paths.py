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
    # The barrier is measured on the path densely: not below the saddle, and the 2001-point
    # profile finds nothing higher. On the nodes it can fall below 1 (nodes straddle it).
    assert 1.0 - 1e-9 <= r.barrier <= 1.02
    assert _dense_max(f, r) <= r.barrier + 1e-6
    assert 0.93 <= r.node_barrier <= r.barrier
    assert r.barrier < 0.25 * r.straight_barrier
    assert r.improvement == pytest.approx(r.straight_barrier - r.barrier)
    # Shapes, fixed end points, consistency of the stored profile.
    assert r.t.shape == (64,) and r.losses.shape == (64,) and r.straight_losses.shape == (64,)
    assert r.thetas.shape == (64, 2) and r.coefficients.shape == (6, 2)
    assert np.array_equal(r.thetas[0], [-1.0, 0.0]) and np.array_equal(r.thetas[-1], [1.0, 0.0])
    np.testing.assert_allclose(r.path(r.t), r.thetas, atol=1e-12)
    np.testing.assert_allclose([f.value_and_grad(p)[0] for p in r.thetas], r.losses)
    # The budget: 300 smooth maxima of 62 interior nodes, plus the dense checks (505 nodes,
    # refined by at most 8), one for the straight line and at most three per stage.
    assert r.n_path_evals == 300 and r.n_objective_evals == 2 + 62 * 300 + r.n_check_evals
    assert 503 <= r.n_check_evals <= (1 + 3 * 4) * (505 - 2 + 8)
    assert len(r.temperatures) == 4 and np.all(np.diff(r.stage_max) <= 0)


@pytest.mark.parametrize("spacing", ["arclength", "uniform"])
def test_smooth_max_gradient_matches_finite_differences(spacing):
    # With arc-length nodes the gradient includes the motion of the nodes with c.
    f = Banana()
    fn = SmoothMaxPath(
        f, [-1.0, 0.0], [1.0, 0.0], modes=3, points=11, temperature=0.3, spacing=spacing
    )
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
    with pytest.raises(InvalidInputError, match="spacing"):
        fourier_path(f, **good, spacing="chebyshev")
    with pytest.raises(InvalidInputError, match="check_points"):
        fourier_path(f, **good, check_points=2)
    with pytest.raises(TypeError, match="check_points"):
        fourier_path(f, **good, check_points=100.0)
    with pytest.raises(InvalidInputError, match="refine"):
        fourier_path(f, **good, refine=-1)


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
    assert r.n_objective_evals == 2 + 6 * 12 + r.n_check_evals
    assert r.node_barrier <= r.barrier + 1e-12


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


# -- the barrier is the continuous path's, not the nodes' ---------------------------------------


def _two_depths_loss(net, w1, w2):
    """The two_depths loss on arrays, from its definition (independent of the network code):
    ``mean((w2 s(w1 x) - y)^2)``, ``s(z) = z + z^2 + z^3 / 3``."""
    x, y = np.asarray(net.xs, dtype=float), np.asarray(net.ys, dtype=float)
    z = np.asarray(w1)[..., None] * x
    return np.mean((np.asarray(w2)[..., None] * (z + z * z + z**3 / 3.0) - y) ** 2, axis=-1)


def _grid_mountain_pass(loss, box, n, a, b):
    """The lowest level at which ``a`` and ``b`` are connected in ``{loss <= level}`` on an
    ``n x n`` grid of ``box`` (4-connected): the minimax of the loss over grid paths, found by
    bisection over the sorted grid values with connected-component labelling."""
    from scipy import ndimage

    (lo0, hi0), (lo1, hi1) = box
    g0, g1 = np.linspace(lo0, hi0, n), np.linspace(lo1, hi1, n)
    values = loss(*np.meshgrid(g0, g1, indexing="ij"))
    ia = (np.abs(g0 - a[0]).argmin(), np.abs(g1 - a[1]).argmin())
    ib = (np.abs(g0 - b[0]).argmin(), np.abs(g1 - b[1]).argmin())
    levels = np.unique(values)
    lo, hi = 0, levels.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        labels, _ = ndimage.label(values <= levels[mid])
        if labels[ia] != 0 and labels[ia] == labels[ib]:
            hi = mid
        else:
            lo = mid + 1
    return float(levels[lo])


@pytest.mark.parametrize("reverse", [False, True])
def test_two_depths_barrier_is_the_dense_maximum_and_the_mountain_pass(reverse):
    import toposcape as ts

    net = ts.lab.networks.get("two_depths")
    minima = net.minima()
    ends = minima[["theta_0", "theta_1"]].to_numpy()
    a, b = (ends[1], ends[0]) if reverse else (ends[0], ends[1])
    top_end = float(minima["loss"].max())
    assert _two_depths_loss(net, 0.3, 0.7) == pytest.approx(net.loss([0.3, 0.7]), rel=1e-12)

    # The lowest barrier between the minima, twice. (1) In two dimensions the minimax path
    # between two strict minima crosses a critical point of index 1 (mountain pass): the
    # lowest barrier is a saddle's loss minus the higher minimum's; here both saddles lie on
    # w2 = 0, where the output is 0 and the loss is mean(y^2) = 1.75. (2) Independently, the
    # minimax over 4-connected paths on a 601 x 601 grid of the network's box.
    cps = net.critical_points()
    saddle = float(cps.loc[cps["kind"] == "saddle", "loss"].min()) - top_end
    grid = (
        _grid_mountain_pass(lambda w1, w2: _two_depths_loss(net, w1, w2), net.box, 601, a, b)
        - top_end
    )
    assert saddle == pytest.approx(1.75 - top_end, abs=1e-9)
    assert grid == pytest.approx(saddle, abs=1e-6)

    r = fourier_path(net, a, b)  # the contract's defaults: 4 modes, 32 nodes
    t, losses = r.profile(net, 2001)
    span = float(losses.max() - losses.min())
    # The reported barrier is the path's own maximum: a 2001-point profile agrees within
    # 1e-3 of the loss range (the check measures on the path, so it is not above it either,
    # up to rounding), and it is no lower than the mountain pass (no path can be).
    assert abs(r.barrier - (losses.max() - top_end)) <= 1e-3 * span
    assert losses.max() - top_end <= r.barrier + 1e-9 * span
    assert r.barrier >= saddle - 1e-9
    # ... and the path finder reaches the mountain pass within 2e-3 of the loss range (seed 0:
    # 0.3e-3 and 0.4e-3; jitter seeds 0-9 all within 1.5e-3).
    assert r.barrier <= saddle + 2e-3 * span
    assert r.straight_barrier > saddle + 0.05  # the straight line is well above it
    assert r.node_barrier <= r.barrier
    assert np.all(np.diff(r.stage_barrier) <= 0) and r.stage_barrier[-1] == r.barrier


class Ridge:
    """The double well (x^2 - 1)^2 + y^2 plus a narrow ridge exp(-(x - c)^2 / (2 s^2)).

    Every path from (-1, 0) to (1, 0) crosses x = c, where f >= (c^2 - 1)^2 + 1 =: LOW, and
    the straight line's maximum is LOW + O(1e-5): that is the lowest barrier. With s = 0.01
    the ridge is far narrower than the gaps between 32 nodes (0.065), and c = 0.13 is about
    halfway between two nodes of the straight line (and 1e-3 off the dense check's nearest
    node, so the check's refinement has work to do): on the nodes, the ridge is invisible.
    """

    size = 2
    s = 0.01
    c = 0.13
    LOW = (0.13**2 - 1.0) ** 2 + 1.0

    def value_and_grad(self, theta):
        x, y = theta
        bump = np.exp(-((x - self.c) ** 2) / (2 * self.s**2))
        f = (x * x - 1.0) ** 2 + y * y + bump
        dx = 4.0 * x * (x * x - 1.0) - bump * (x - self.c) / self.s**2
        return float(f), np.array([dx, 2.0 * y])


@pytest.mark.parametrize("spacing", ["arclength", "uniform"])
def test_a_narrow_ridge_between_the_nodes_is_measured(spacing):
    f = Ridge()
    r = fourier_path(f, [-1.0, 0.0], [1.0, 0.0], modes=4, points=32, spacing=spacing)
    # What a node-only maximum reports (the old barrier): the ridge is missed altogether.
    assert r.straight_losses.max() < 1.1
    assert r.node_barrier < 1.1
    # The measured barriers: the straight line's is the ridge crossing, and so is the path's
    # (every path crosses the ridge); a 20001-point profile confirms the path's.
    assert r.straight_barrier == pytest.approx(Ridge.LOW, abs=1e-4)
    assert Ridge.LOW - 1e-9 <= r.barrier <= r.straight_barrier + 1e-12
    t, losses = r.profile(f, 20001)
    assert abs(losses.max() - r.barrier) <= 1e-3 * (losses.max() - losses.min())
    assert np.all(np.diff(r.check_t) > 0) and r.check_t[0] == 0.0 and r.check_t[-1] == 1.0
    assert r.check_losses.max() == pytest.approx(r.barrier)


def test_arclength_nodes_are_equally_spaced_and_end_exactly():
    f = Banana()
    fn = SmoothMaxPath(f, [-1.0, 0.0], [1.0, 0.0], modes=5, points=17, temperature=1.0)
    c = 0.7 * np.random.default_rng(4).standard_normal(fn.size)
    fn.value_and_grad(c)
    t, thetas = fn.last_t, fn.last_thetas
    assert t[0] == 0.0 and t[-1] == 1.0 and np.all(np.diff(t) > 0)
    assert np.array_equal(thetas[0], [-1.0, 0.0]) and np.array_equal(thetas[-1], [1.0, 0.0])
    # Equal arc length: the length of the path between consecutive nodes (on a fine polygon).
    u = np.linspace(0.0, 1.0, 200001)
    pts = fn.thetas(c, u)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    pieces = np.diff(np.interp(t, u, s))
    np.testing.assert_allclose(pieces, s[-1] / 16, rtol=1e-4)
    uniform = SmoothMaxPath(
        f, [-1.0, 0.0], [1.0, 0.0], modes=5, points=17, temperature=1.0, spacing="uniform"
    )
    np.testing.assert_array_equal(uniform.node_t(c), np.linspace(0.0, 1.0, 17))


def test_check_budget_and_points_off_the_node_grid():
    f = Banana()
    temps = (3e-2, 1e-2)
    r = fourier_path(
        f,
        [-1.0, 0.0],
        [1.0, 0.0],
        modes=3,
        points=12,
        max_evals=40,
        temperatures=temps,
        check_points=50,
        refine=5,
    )
    # 49 is not a multiple of 11: the straight line's nodes are evaluated on their own.
    assert r.n_objective_evals == 2 + 10 + 10 * 40 + r.n_check_evals
    # One check for the straight line, at most three per stage, each <= 48 + 5 evaluations.
    assert 48 <= r.n_check_evals <= (1 + 3 * len(temps)) * (48 + 5)
    assert r.straight_check_t.size <= 50 + 5
    np.testing.assert_allclose(
        r.straight_losses, [f.value_and_grad(p)[0] for p in np.linspace([-1, 0], [1, 0], 12)]
    )
    assert r.barrier >= r.node_barrier and r.barrier <= r.straight_barrier
