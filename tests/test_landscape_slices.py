"""Directions, slices and projections of the landscape tools (studies.md, sections 1 and 5).

Slices are checked exactly on a quadratic with a known Hessian; filter normalisation on a tiny
CNN (its ``parameter_groups()``); PCA planes and their explained variance against NumPy's SVD.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

import toposcape as ts
from toposcape.errors import InvalidInputError
from toposcape.landscape.directions import (
    eigen_directions,
    normalize_direction,
    pca_directions,
    random_directions,
)
from toposcape.landscape.slices import (
    interpolate,
    interpolate_between,
    interpolate_from_inits,
    interpolate_pairs,
    interpolate_successive,
    interpolate_to_final,
    plane,
    project,
)


class Quadratic:
    """``f(x) = 0.5 x^T A x + b^T x + c`` with a known symmetric (indefinite) Hessian ``A``."""

    def __init__(self, n: int = 12, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        self.eigenvalues = np.concatenate([[-0.5], np.linspace(1.0, 3.0, n - 3), [7.0, 9.0]])
        self.A = Q @ np.diag(self.eigenvalues) @ Q.T
        self.A = 0.5 * (self.A + self.A.T)
        self.b = rng.standard_normal(n)
        self.c = 0.25
        self.size = n
        self.x0 = rng.standard_normal(n)
        self.calls = 0

    def f(self, x: np.ndarray) -> float:
        return float(0.5 * x @ self.A @ x + self.b @ x + self.c)

    def value_and_grad(self, x):
        self.calls += 1
        return self.f(x), self.A @ x + self.b

    def hvp(self, x, v):
        return self.A @ v


@pytest.fixture(scope="module")
def tiny_cnn():
    # H = 8 and W = 16 are divisible by 8, the product of the CNN's resizes.
    return ts.CNNObjective(
        ts.problems.mbb_beam(width=16, height=8, density=0.5), penal=3.0, seed=0, dtype="float64"
    )


# ------------------------------------------------------------------------------------------
# interpolate and plane: exact on a quadratic
# ------------------------------------------------------------------------------------------
def test_interpolate_exact_on_quadratic():
    q = Quadratic()
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(q.size), rng.standard_normal(q.size)
    alphas, losses = interpolate(q, a, b, n=11, extend=0.5)
    np.testing.assert_allclose(alphas, np.linspace(-0.5, 1.5, 11))
    # f along the line is the parabola f(a) + t g(a).(b - a) + t^2/2 (b - a)^T A (b - a).
    d = b - a
    expected = q.f(a) + alphas * ((q.A @ a + q.b) @ d) + 0.5 * alphas**2 * (d @ q.A @ d)
    np.testing.assert_allclose(losses, expected, rtol=1e-12, atol=1e-12)
    assert q.calls == 11
    # The end points are evaluated exactly.
    alphas, losses = interpolate(q, a, b, n=3)
    assert losses[0] == q.f(a) and losses[-1] == q.f(b)


def test_plane_exact_on_quadratic():
    q = Quadratic()
    rng = np.random.default_rng(2)
    center, d1, d2 = (rng.standard_normal(q.size) for _ in range(3))
    A, B_, L = plane(q, center, d1, d2, extent=(1.0, 2.0), n=(7, 5), progress=False)
    assert A.shape == B_.shape == L.shape == (5, 7)
    np.testing.assert_allclose(A[0], np.linspace(-1, 1, 7))
    np.testing.assert_allclose(B_[:, 0], np.linspace(-2, 2, 5))
    g = q.A @ center + q.b
    expected = (
        q.f(center)
        + A * (g @ d1)
        + B_ * (g @ d2)
        + 0.5 * A**2 * (d1 @ q.A @ d1)
        + A * B_ * (d1 @ q.A @ d2)
        + 0.5 * B_**2 * (d2 @ q.A @ d2)
    )
    np.testing.assert_allclose(L, expected, rtol=1e-12, atol=1e-11)
    # Centre of a symmetric odd grid is the centre itself.
    A, B_, L = plane(q, center, d1, d2, extent=0.3, n=5)
    assert A[2, 2] == 0.0 and B_[2, 2] == 0.0
    assert L[2, 2] == pytest.approx(q.f(center), rel=1e-14)
    # Explicit 4-tuple extent.
    A, B_, _ = plane(q, center, d1, d2, extent=(0.0, 1.0, -1.0, 0.0), n=3)
    np.testing.assert_allclose(A[0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(B_[:, 0], [-1.0, -0.5, 0.0])


def test_plane_progress_bar(capsys):
    q = Quadratic(n=4)
    z = np.zeros(4)
    e = np.eye(4)
    plane(q, z, e[0], e[1], n=3, progress=True)  # forced bar on a small grid
    assert "plane" in capsys.readouterr().err


def test_slices_validate_input():
    q = Quadratic(n=4)
    z = np.zeros(4)
    with pytest.raises(InvalidInputError):
        interpolate(q, z, np.zeros(3))
    with pytest.raises(InvalidInputError):
        interpolate(q, z, z, n=1)
    with pytest.raises(InvalidInputError):
        interpolate(q, z, z, extend=-0.1)
    with pytest.raises(InvalidInputError):
        interpolate(q, z, np.full(4, np.nan))
    with pytest.raises(ValueError):
        plane(q, z, z + 1, z + 2, extent=(1.0, -1.0, 0.0, 1.0))
    with pytest.raises(ValueError):
        plane(q, z, z + 1, z + 2, n=(3, 4, 5))


# ------------------------------------------------------------------------------------------
# The study's four interpolations
# ------------------------------------------------------------------------------------------
def _gd_run(q, steps=6):
    return ts.optim.get("gd", lr=0.05).run(q, q.x0, max_steps=steps, record_params=True)


def test_study_interpolations_on_a_run():
    q = Quadratic()
    traj = _gd_run(q)
    K1 = traj.thetas.shape[0]
    # (b) iterate -> final: alpha 0 is the iterate's loss, alpha 1 the final loss.
    b = interpolate_to_final(q, traj, n=5)
    assert b.dims == ("step", "alpha") and b.shape == (K1, 5)
    np.testing.assert_allclose(b.sel(alpha=0.0).values, traj.losses, rtol=1e-12)
    np.testing.assert_allclose(b.sel(alpha=1.0).values, traj.losses[-1], rtol=1e-12)
    sub = interpolate_to_final(q, traj, steps=[0, -2], n=3)
    np.testing.assert_array_equal(sub["step"].values, [0, K1 - 2])
    # (d) successive iterates: segment j from theta_j to theta_{j+1}.
    d = interpolate_successive(q, traj, n=3)
    assert d.shape == (K1 - 1, 3)
    np.testing.assert_allclose(d.values[:, 0], traj.losses[:-1], rtol=1e-12)
    np.testing.assert_allclose(d.values[:, -1], traj.losses[1:], rtol=1e-12)
    mid = 0.5 * (traj.thetas[2] + traj.thetas[3])
    assert d.sel(step=2, alpha=0.5).item() == pytest.approx(q.f(mid), rel=1e-12)
    # (c) inits -> final and (a) between inits.
    rng = np.random.default_rng(3)
    inits = rng.standard_normal((3, q.size))
    c = interpolate_from_inits(q, inits, traj.theta, n=4)
    assert c.dims == ("init", "alpha") and c.shape == (3, 4)
    np.testing.assert_allclose(c.values[:, 0], [q.f(x) for x in inits], rtol=1e-12)
    a = interpolate_between(q, list(inits), n=3)
    assert a.shape == (3, 3)
    np.testing.assert_array_equal(a["init_a"].values, [0, 0, 1])
    np.testing.assert_array_equal(a["init_b"].values, [1, 2, 2])
    assert a.values[2, 1] == pytest.approx(q.f(0.5 * (inits[1] + inits[2])), rel=1e-12)
    # General form broadcasts a single end point.
    p = interpolate_pairs(q, inits, traj.theta, n=2)
    np.testing.assert_allclose(p.values, c.values[:, [0, -1]], rtol=1e-12)


def test_study_interpolations_need_recorded_iterates():
    q = Quadratic()
    traj = ts.optim.get("gd", lr=0.05).run(q, q.x0, max_steps=3)
    with pytest.raises(InvalidInputError, match="record_params"):
        interpolate_to_final(q, traj)
    with pytest.raises(InvalidInputError):
        interpolate_between(q, [q.x0])


# ------------------------------------------------------------------------------------------
# project
# ------------------------------------------------------------------------------------------
def test_project_recovers_known_coordinates_non_orthogonal():
    rng = np.random.default_rng(4)
    n = 30
    center = rng.standard_normal(n)
    d1 = rng.standard_normal(n)
    d2 = 0.7 * d1 + rng.standard_normal(n)  # far from orthogonal
    coords = rng.standard_normal((9, 2))
    pts = center + coords[:, :1] * d1 + coords[:, 1:] * d2
    np.testing.assert_allclose(project(pts, center, d1, d2), coords, rtol=1e-10, atol=1e-12)
    # A component orthogonal to the plane does not change the coordinates.
    normal = rng.standard_normal(n)
    D = np.column_stack([d1, d2])
    normal -= D @ np.linalg.lstsq(D, normal, rcond=None)[0]
    np.testing.assert_allclose(
        project(pts + 3.0 * normal, center, d1, d2), coords, rtol=1e-10, atol=1e-12
    )
    # Single point -> (2,).
    np.testing.assert_allclose(project(pts[0], center, d1, d2), coords[0], rtol=1e-10)
    with pytest.raises(InvalidInputError, match="parallel"):
        project(pts, center, d1, 2.0 * d1)


def test_project_trajectory():
    q = Quadratic()
    traj = _gd_run(q, steps=4)
    d1, d2 = np.eye(q.size)[0], np.eye(q.size)[1]
    xy = project(traj, traj.theta, d1, d2)
    np.testing.assert_allclose(xy, (traj.thetas - traj.theta)[:, :2], atol=1e-14)


# ------------------------------------------------------------------------------------------
# Filter normalisation
# ------------------------------------------------------------------------------------------
def _filters(x, group):
    arr = x[group.offset : group.offset + group.size].reshape(group.shape)
    arr = np.moveaxis(arr, group.filter_axis, 0)
    return np.linalg.norm(arr.reshape(arr.shape[0], -1), axis=1)


def test_filter_normalisation_per_filter_on_cnn(tiny_cnn):
    obj = tiny_cnn
    rng = np.random.default_rng(5)
    # A theta whose biases and offsets are not zero (the CNN starts them at 0).
    theta = obj.x0 + 0.01 * rng.standard_normal(obj.size)
    d1, d2 = random_directions(obj, theta, seed=0)
    assert d1.shape == d2.shape == (obj.size,)
    kinds = set()
    for g in obj.parameter_groups():
        kinds.add(g.kind)
        sl = slice(g.offset, g.offset + g.size)
        for d in (d1, d2):
            if g.kind in ("dense", "conv_filter"):
                np.testing.assert_allclose(_filters(d, g), _filters(theta, g), rtol=1e-12)
            elif g.kind == "latent":
                assert np.linalg.norm(d[sl]) == pytest.approx(np.linalg.norm(theta[sl]), 1e-12)
            else:  # biases and offsets: zeroed (Li et al.)
                assert g.kind in ("dense_bias", "conv_bias", "offset")
                assert not np.any(d[sl])
    assert {"latent", "dense", "conv_filter", "conv_bias", "offset"} <= kinds
    # Same seed, same directions; other seed, other directions.
    e1, _ = random_directions(obj, theta, seed=0)
    np.testing.assert_array_equal(d1, e1)
    f1, _ = random_directions(obj, theta, seed=1)
    assert not np.allclose(d1, f1)


def test_bias_and_layer_options_on_cnn(tiny_cnn):
    obj = tiny_cnn
    rng = np.random.default_rng(6)
    theta = obj.x0 + 0.01 * rng.standard_normal(obj.size)
    d = rng.standard_normal(obj.size)
    by_filter = normalize_direction(obj, theta, d, normalize="filter", bias="filter")
    by_layer = normalize_direction(obj, theta, d, normalize="layer", bias="layer")
    for g in obj.parameter_groups():
        sl = slice(g.offset, g.offset + g.size)
        if g.kind in ("dense_bias", "conv_bias"):
            # 1-D bias, per filter: |d_i| = |theta_i|, sign of the draw.
            np.testing.assert_allclose(np.abs(by_filter[sl]), np.abs(theta[sl]), rtol=1e-12)
            np.testing.assert_array_equal(np.sign(by_filter[sl]), np.sign(d[sl]))
        if g.kind == "offset":
            np.testing.assert_allclose(_filters(by_filter, g), _filters(theta, g), rtol=1e-12)
        # Layer: every tensor has the norm of theta's tensor, direction of the draw.
        assert np.linalg.norm(by_layer[sl]) == pytest.approx(np.linalg.norm(theta[sl]), 1e-12)
        cos = by_layer[sl] @ d[sl] / (np.linalg.norm(by_layer[sl]) * np.linalg.norm(d[sl]))
        assert cos == pytest.approx(1.0, abs=1e-12)
    # At the initial point biases and offsets are 0: their directions are 0 too.
    x0 = obj.x0
    zf = normalize_direction(obj, x0, d, normalize="filter", bias="filter")
    for g in obj.parameter_groups():
        if g.kind in ("dense_bias", "conv_bias", "offset"):
            assert not np.any(zf[g.offset : g.offset + g.size])
    unit = normalize_direction(obj, theta, d, normalize="unit")
    assert np.linalg.norm(unit) == pytest.approx(1.0)
    np.testing.assert_array_equal(normalize_direction(obj, theta, d, normalize="none"), d)


def test_transposed_filter_axis():
    """Filters along axis 1 (ConvTranspose2d weights (in, out, kh, kw))."""

    class G:
        def __init__(self, name, shape, kind, offset, axis):
            self.name, self.shape, self.kind, self.offset = name, shape, kind, offset
            self.size = int(np.prod(shape))
            self.filter_axis = axis

    class Obj:
        size = 2 * 3 * 2 * 2 + 3

        def parameter_groups(self):
            return [G("w", (2, 3, 2, 2), "conv_filter", 0, 1), G("b", (3,), "conv_bias", 24, 0)]

    obj = Obj()
    rng = np.random.default_rng(7)
    theta = rng.standard_normal(obj.size)
    d = normalize_direction(obj, theta, rng.standard_normal(obj.size))
    g = obj.parameter_groups()[0]
    np.testing.assert_allclose(_filters(d, g), _filters(theta, g), rtol=1e-12)
    assert not np.any(d[24:])


def test_whole_vector_rule_without_groups():
    q = Quadratic()
    theta = np.random.default_rng(8).standard_normal(q.size)
    d1, d2 = random_directions(q, theta, seed=3)
    assert np.linalg.norm(d1) == pytest.approx(np.linalg.norm(theta), rel=1e-12)
    assert np.linalg.norm(d2) == pytest.approx(np.linalg.norm(theta), rel=1e-12)
    with pytest.raises(InvalidInputError, match="zero"):
        random_directions(q, np.zeros(q.size))
    d1, _ = random_directions(q, np.zeros(q.size), normalize="unit")
    assert np.linalg.norm(d1) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        random_directions(q, theta, normalize="bogus")
    with pytest.raises(InvalidInputError):
        random_directions(q, theta, bias="ignore")


def test_pixel_objective_whole_vector():
    obj = ts.PixelObjective(ts.problems.mbb_beam(width=8, height=4, density=0.5), penal=3.0)
    d1, _ = random_directions(obj, obj.x0)
    assert np.linalg.norm(d1) == pytest.approx(np.linalg.norm(obj.x0), rel=1e-12)


# ------------------------------------------------------------------------------------------
# PCA directions
# ------------------------------------------------------------------------------------------
def _path(K=12, n=40, seed=9):
    """Small early steps, then large late ones, in a few directions plus noise."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([1e-3 * np.ones(K // 2), np.ones(K - K // 2)])
    dirs = rng.standard_normal((K, n)) * 0.1 + np.outer(rng.standard_normal(K) > 0, np.ones(n))
    return np.vstack([np.zeros(n), np.cumsum(steps[:, None] * dirs, axis=0)]) + 2.0


def test_pca_directions_match_numpy_svd():
    thetas = _path()
    d1, d2, evr = pca_directions(thetas)
    M = thetas - thetas[-1]
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    assert abs(d1 @ Vt[0]) == pytest.approx(1.0, abs=1e-9)
    assert abs(d2 @ Vt[1]) == pytest.approx(1.0, abs=1e-9)
    assert d1 @ d2 == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(d1) == pytest.approx(1.0) and np.linalg.norm(d2) == pytest.approx(1.0)
    assert (thetas[0] - thetas[-1]) @ d1 >= 0 and (thetas[0] - thetas[-1]) @ d2 >= 0
    K1 = thetas.shape[0]
    assert evr.dims == ("step", "component") and evr.shape == (K1, 2)
    np.testing.assert_allclose(evr.values[-1], s[:2] ** 2 / np.sum(s**2), rtol=1e-9)
    # Every prefix against its own SVD (prefix centred at its last iterate).
    for j in range(1, K1):
        sj = np.linalg.svd(thetas[: j + 1] - thetas[j], compute_uv=False)
        expected = np.zeros(2)
        expected[: min(2, sj.size)] = (sj**2 / np.sum(sj**2))[:2]
        np.testing.assert_allclose(evr.values[j], expected, rtol=1e-7, atol=1e-10)
    assert np.isnan(evr.values[0]).all()
    np.testing.assert_allclose(evr.values[1], [1.0, 0.0], atol=1e-12)
    # Rows: non-increasing, sum <= 1.
    assert np.all(np.diff(evr.values[1:], axis=1) <= 1e-12)
    assert np.all(evr.values[1:].sum(axis=1) <= 1 + 1e-12)
    # All components of a long path sum to 1.
    _, _, full = pca_directions(thetas, n_components=K1)
    np.testing.assert_allclose(full.values[1:].sum(axis=1), 1.0, rtol=1e-10)
    assert evr.attrs["total_variance"] == pytest.approx(np.sum(s**2))


def test_pca_early_steps_not_masked():
    """A path that first walks along e0, then far along e1: the early prefix is 1-D."""
    n = 10
    e = np.eye(n)
    early = [k * 1e-3 * e[0] for k in range(6)]
    late = [early[-1] + k * 10.0 * e[1] + 0.01 * k * e[2] for k in range(1, 6)]
    thetas = np.array(early + late)
    d1, d2, evr = pca_directions(thetas, steps=[3, 5, 10])
    assert evr.values[3, 0] == pytest.approx(1.0, abs=1e-9)  # early prefix: a straight line
    assert evr.values[5, 0] == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(evr.values[4]).all()  # not requested
    assert abs(d1 @ e[1]) > 0.999


def test_pca_validates():
    with pytest.raises(InvalidInputError):
        pca_directions(np.zeros((1, 5)))
    with pytest.raises(InvalidInputError, match="fewer than two"):
        pca_directions(np.outer(np.arange(4.0), np.ones(5)))
    q = Quadratic()
    traj = ts.optim.get("gd", lr=0.05).run(q, q.x0, max_steps=3)
    with pytest.raises(InvalidInputError, match="record_params"):
        pca_directions(traj)


def test_pca_on_trajectory_and_dataset():
    q = Quadratic()
    traj = _gd_run(q, steps=8)
    d1, d2, evr = pca_directions(traj)
    e1, e2, evr2 = pca_directions(traj.to_xarray())
    np.testing.assert_allclose(d1, e1)
    np.testing.assert_allclose(evr.values, evr2.values, equal_nan=True)
    assert evr.shape == (traj.n_steps + 1, 2)


# ------------------------------------------------------------------------------------------
# Hessian eigenvectors
# ------------------------------------------------------------------------------------------
def test_eigen_directions_against_eigh():
    # Uses toposcape.landscape.spectral.eigsh (SciPy's eigsh while that module is missing).
    q = Quadratic(n=40)
    w, V = np.linalg.eigh(q.A)
    d1, d2, (l1, l2) = eigen_directions(aslinearoperator(q.A), return_values=True)
    assert l1 == pytest.approx(9.0, rel=1e-8) and l2 == pytest.approx(7.0, rel=1e-8)
    assert abs(d1 @ V[:, -1]) == pytest.approx(1.0, abs=1e-8)
    assert abs(d2 @ V[:, -2]) == pytest.approx(1.0, abs=1e-8)
    d1, _ = eigen_directions(q.A, which="SA")
    assert abs(d1 @ V[:, 0]) == pytest.approx(1.0, abs=1e-8)
    with pytest.raises(InvalidInputError):
        eigen_directions(np.ones((3, 4)))
