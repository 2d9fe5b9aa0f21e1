"""Spectral tools against dense linear algebra on problems small enough to form the Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator

import toposcape as ts
from toposcape import _core
from toposcape.errors import InvalidInputError

SMALL = dict(width=16, height=8, density=0.5)


def _dense(H) -> np.ndarray:
    n = H.shape[0]
    D = np.column_stack([H @ e for e in np.eye(n)])
    assert np.allclose(D, D.T, rtol=0, atol=1e-8 * np.abs(D).max())
    return (D + D.T) / 2


def _pixel_case():
    obj = ts.PixelObjective(ts.problems.mbb_beam(**SMALL), penal=3.0)
    theta = obj.x0 + 0.5 * np.random.default_rng(0).standard_normal(obj.size)
    return obj, theta


def _cnn_case():
    pytest.importorskip("torch")
    obj = ts.CNNObjective(
        ts.problems.mbb_beam(**SMALL),
        penal=3.0,
        seed=0,
        dtype="float64",
        latent_size=4,
        dense_channels=2,
        resizes=(2, 2, 1),
        conv_filters=(2, 1, 1),
        kernel_size=3,
    )
    theta = obj.x0 + 0.05 * np.random.default_rng(1).standard_normal(obj.size)
    return obj, theta


@pytest.fixture(scope="module", params=["pixel", "cnn"])
def case(request):
    obj, theta = _pixel_case() if request.param == "pixel" else _cnn_case()
    H = ts.landscape.hessian(obj, theta)
    D = _dense(H)
    return request.param, obj, theta, H, D, np.linalg.eigh(D)


def _close_eigenvalues(w, ref, scale):
    # 1e-8 relative to each eigenvalue; eigenvalues near zero relative to ||H||.
    return np.all(np.abs(w - ref) <= 1e-8 * np.maximum(np.abs(ref), 1e-3 * scale))


@pytest.mark.parametrize("which", ["LA", "SA", "BE", "LM"])
def test_extremal_eigenpairs_match_dense_eigh(case, which):
    name, obj, theta, H, D, (lam, U) = case
    k = 6
    w, V, info = ts.landscape.eigsh(H, k=k, which=which, return_info=True)
    ref = {
        "LA": lam[-k:],
        "SA": lam[:k],
        "BE": np.r_[lam[: k // 2], lam[-(k - k // 2) :]],
        "LM": np.sort(lam[np.argsort(np.abs(lam))[-k:]]),
    }[which]
    scale = np.abs(lam).max()
    assert info["converged"]
    assert _close_eigenvalues(w, ref, scale), (name, w, ref)
    assert V.shape == (obj.size, k)
    np.testing.assert_allclose(V.T @ V, np.eye(k), atol=1e-10)
    np.testing.assert_allclose(D @ V, V * w, atol=1e-8 * scale)


def test_eigsh_needs_far_fewer_products_than_the_dimension(case):
    _, obj, _, H, _, (lam, _) = case
    counter = ts.landscape.hessian(obj, H.theta)
    w, _ = ts.landscape.eigsh(counter, k=1, which="LA", tol=1e-3)
    assert abs(w[0] - lam[-1]) <= 1e-3 * abs(lam[-1])
    assert counter.hvp_count < obj.size / 4


def test_slq_density_matches_the_broadened_dense_spectrum(case):
    name, _, _, _, D, (lam, _) = case
    # SLQ resolves a density only down to its node spacing. The pixel Hessian's spectrum is
    # compact: the study's 50 steps with sigma2 = 1e-3 of its width (PyHessian's relative
    # convention) suffice. The CNN's spans four decades in |lambda| on both sides, so its bulk
    # needs 100 steps and sigma2 = 1e-2 (with 50 steps the L1 distance is 0.54 at 1e-2).
    # The dense matrix (equal to the hvp operator, checked by the fixture) keeps the 5,000
    # products fast.
    steps, sigma2 = (50, 1e-3) if name == "pixel" else (100, 1e-2)
    distances = {}
    for runs in (3, 50):
        grid, density, (nodes, _) = ts.landscape.spectral_density(
            aslinearoperator(D),
            runs=runs,
            steps=steps,
            sigma2=sigma2,
            seed=1,
            return_quadrature=True,
        )
        variance = sigma2 * max(1.0, np.nanmax(nodes) - np.nanmin(nodes))
        reference = ts.landscape.broadened_density(
            grid, lam, np.full(lam.size, 1.0 / lam.size), variance
        )
        dx = grid[1] - grid[0]
        assert density.sum() * dx == pytest.approx(1.0, abs=1e-6)
        distances[runs] = np.abs(density - reference).sum() * dx
    assert distances[50] < 0.05, (name, distances)
    assert distances[50] < distances[3]


def test_slq_density_through_the_hessian_operator(case):
    # The same estimate through hvp products equals the dense one (same seeds).
    _, _, _, H, D, _ = case
    a = ts.landscape.spectral_density(H, runs=2, steps=20, seed=3, return_quadrature=True)
    b = ts.landscape.spectral_density(
        aslinearoperator(D), runs=2, steps=20, seed=3, grid=a[0], return_quadrature=True
    )
    scale = np.abs(D).max()
    np.testing.assert_allclose(a[2][0], b[2][0], rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-4, atol=1e-6 * a[1].max())


def test_lanczos_quadrature_integrates_polynomials_exactly(case):
    _, _, _, H, D, _ = case
    v0 = np.random.default_rng(2).standard_normal(D.shape[0])
    steps = 8
    alpha, beta, basis = ts.landscape.lanczos(H, steps, v0=v0, return_basis=True)
    np.testing.assert_allclose(basis @ basis.T, np.eye(steps), atol=1e-12)
    np.testing.assert_allclose(
        basis @ D @ basis.T,
        np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1),
        atol=1e-9 * np.abs(D).max(),
    )
    nodes, weights = _core.gauss_quadrature(alpha, beta)
    assert weights.sum() == pytest.approx(1.0, abs=1e-13)
    u = v0 / np.linalg.norm(v0)
    scale = np.abs(D).max()
    # Gauss quadrature with k nodes is exact for polynomials of degree < 2k.
    for p in range(2 * steps):
        exact = u @ np.linalg.matrix_power(D / scale, p) @ u
        assert weights @ (nodes / scale) ** p == pytest.approx(exact, rel=1e-8, abs=1e-10)


def test_trace_and_frobenius_within_three_standard_errors(case):
    _, _, _, H, D, _ = case
    for seed in range(3):
        t, t_err = ts.landscape.trace(H, samples=50, seed=seed, return_error=True)
        f, f_err = ts.landscape.frobenius_norm(H, samples=50, seed=seed, return_error=True)
        assert abs(t - np.trace(D)) <= 3 * t_err
        assert abs(f - np.linalg.norm(D)) <= 3 * f_err
    # With Rademacher vectors the trace estimate of a diagonal matrix is exact.
    diag = np.diag(np.arange(1.0, 11.0))
    assert ts.landscape.trace(diag, samples=1) == pytest.approx(55.0)


def test_curvature_and_overlap(case):
    _, _, _, H, D, (lam, U) = case
    g = np.random.default_rng(4).standard_normal(D.shape[0])
    assert ts.landscape.curvature(H, g) == pytest.approx(g @ D @ g / (g @ g), rel=1e-10)
    hg = D @ g
    expected = g @ hg / (np.linalg.norm(g) * np.linalg.norm(hg))
    assert ts.landscape.overlap(H, g) == pytest.approx(expected, rel=1e-10)
    assert ts.landscape.overlap(H, U[:, -1]) == pytest.approx(np.sign(lam[-1]), rel=1e-10)


def test_quasi_newton_operators_equal_dense_bfgs_and_invert_each_other():
    obj, _ = _pixel_case()
    traj = ts.optim.get("lbfgs", memory=4).run(obj, max_evals=30, record_memory=True)
    n = obj.size
    for step in (1, 3, len(traj.memory) - 1):
        B = _dense(traj.quasi_newton(step, "B"))
        Hinv = _dense(traj.quasi_newton(step, "H"))
        held = [traj.pairs[i] for i in traj.memory[step]]
        s_new, y_new = held[-1]
        # The recursive BFGS update from B_0 = (y.y / s.y) I of the newest pair.
        reference = (y_new @ y_new) / (s_new @ y_new) * np.eye(n)
        for s, y in held:
            bs = reference @ s
            reference = reference - np.outer(bs, bs) / (s @ bs) + np.outer(y, y) / (y @ s)
        np.testing.assert_allclose(B, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())
        np.testing.assert_allclose(B @ Hinv, np.eye(n), atol=1e-8)
        # And Lanczos on B_k finds its dense eigenvalues.
        w, _ = ts.landscape.eigsh(traj.quasi_newton(step, "B"), k=4, which="BE")
        lam = np.linalg.eigvalsh(reference)
        assert _close_eigenvalues(w, np.r_[lam[:2], lam[-2:]], np.abs(lam).max())


def test_p1_physics_hessian_in_density_space_is_positive_semidefinite():
    # At p = 1 compliance is convex in the densities (the study's convexity check).
    obj = ts.PixelObjective(ts.problems.mbb_beam(**SMALL), penal=1.0, volume_constraint=False)
    rng = np.random.default_rng(5)
    x = rng.uniform(0.05, 1.0, obj.size)
    H = ts.landscape.hessian(obj, x)
    lam = np.linalg.eigvalsh(_dense(H))
    assert lam[0] >= -1e-10 * lam[-1]
    # The smallest eigenvalues cluster within 1e-6 of zero against lambda_max ~ 23, where
    # restarted Lanczos (like ARPACK) converges slowly; a full Lanczos run (n steps) resolves
    # them: its Ritz values are the eigenvalues.
    alpha, beta = ts.landscape.lanczos(H, obj.size, seed=0)
    ritz = _core.tridiagonal_eigh(alpha, beta)[0]
    assert ritz[0] >= -1e-9 * lam[-1]
    assert ritz[0] == pytest.approx(lam[0], abs=1e-9 * lam[-1])
    w, _ = ts.landscape.eigsh(H, k=1, which="LA")
    assert w[0] == pytest.approx(lam[-1], rel=1e-8)
    # The density of its spectrum has no mass below zero beyond the broadening.
    grid, density = ts.landscape.spectral_density(H, runs=3, steps=40, sigma2=1e-4, seed=0)
    std = np.sqrt(1e-4 * max(1.0, lam[-1] - lam[0]))
    dx = grid[1] - grid[0]
    assert density[grid < -6 * std].sum() * dx < 1e-6


def test_reorthogonalization_keeps_a_long_basis_orthonormal():
    # Lanczos without reorthogonalization loses orthogonality once Ritz values converge;
    # 150 steps on a spectrum with well-separated top eigenvalues would show it.
    rng = np.random.default_rng(6)
    n = 400
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.r_[np.geomspace(1e-4, 1.0, n - 5), [10.0, 20.0, 50.0, 100.0, 1000.0]]
    A = (Q * lam) @ Q.T
    _, _, basis = ts.landscape.lanczos(A, 150, seed=0, return_basis=True)
    assert np.abs(basis @ basis.T - np.eye(150)).max() < 1e-12


def test_threaded_reorthogonalization_matches_serial():
    n = 200_003
    d = np.geomspace(1e-3, 1e3, n)
    A = LinearOperator((n, n), matvec=lambda x: d * np.ravel(x), dtype=np.float64)
    default = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        serial = ts.landscape.lanczos(A, 30, seed=3, progress=False)
        _core.set_num_threads(2)
        threaded = ts.landscape.lanczos(A, 30, seed=3, progress=False)
    finally:
        _core.set_num_threads(0)
    assert _core.get_num_threads() == default
    np.testing.assert_allclose(threaded[0], serial[0], rtol=1e-11)
    np.testing.assert_allclose(threaded[1], serial[1], rtol=1e-9)


def test_invariant_subspace_and_whole_space():
    # A start vector in a 3-dimensional invariant subspace: Lanczos stops after 3 steps.
    d = np.arange(1.0, 11.0)
    v0 = np.zeros(10)
    v0[:3] = 1.0
    alpha, beta = ts.landscape.lanczos(np.diag(d), 8, v0=v0)
    assert alpha.size == 3 and beta.size == 2
    np.testing.assert_allclose(np.sort(_core.tridiagonal_eigh(alpha, beta)[0]), [1, 2, 3])
    # All eigenvalues of a small matrix (k = n), and eigsh continuing past an invariant space.
    w, V = ts.landscape.eigsh(np.diag(d), k=10, which="LA")
    np.testing.assert_allclose(w, d, rtol=1e-12)
    w, _ = ts.landscape.eigsh(np.diag(d), k=2, which="LA", v0=v0, ncv=5)
    np.testing.assert_allclose(w, [9.0, 10.0], rtol=1e-10)


def test_dense_eigen_solvers_of_the_core():
    rng = np.random.default_rng(8)
    diag, off = rng.standard_normal(40), rng.standard_normal(39)
    T = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    w, Z = _core.tridiagonal_eigh(diag, off)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(T), atol=1e-13)
    np.testing.assert_allclose(T @ Z, Z * w, atol=1e-12)
    A = rng.standard_normal((30, 30))
    A = A + A.T
    w, Z = _core.symmetric_eigh(A)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(A), atol=1e-12)
    np.testing.assert_allclose(Z.T @ Z, np.eye(30), atol=1e-13)


def test_bad_inputs_raise_value_errors():
    A = np.diag(np.arange(1.0, 6.0))
    with pytest.raises(ValueError, match="which"):
        ts.landscape.eigsh(A, k=2, which="SM")
    with pytest.raises(ValueError, match="k must"):
        ts.landscape.eigsh(A, k=6)
    with pytest.raises(ValueError, match="v0"):
        ts.landscape.eigsh(A, k=2, v0=np.zeros(5))
    with pytest.raises(ValueError, match="square"):
        ts.landscape.eigsh(np.ones((3, 4)), k=1)
    with pytest.raises(ValueError, match="steps"):
        ts.landscape.spectral_density(A, steps=6)
    with pytest.raises(ValueError, match="sigma2"):
        ts.landscape.spectral_density(A, steps=3, sigma2=-1.0)
    with pytest.raises(ValueError, match="samples"):
        ts.landscape.trace(A, samples=0)
    with pytest.raises(ValueError, match="NaN"):
        ts.landscape.eigsh(aslinearoperator(A) * np.nan, k=1)

    bad = LinearOperator((5, 5), matvec=lambda x: np.ones(4), dtype=np.float64)
    with pytest.raises(ValueError):
        ts.landscape.lanczos(bad, 3)

    def failing(x):
        raise KeyError("boom from the user's product")

    with pytest.raises(KeyError, match="boom"):
        ts.landscape.lanczos(LinearOperator((5, 5), matvec=failing, dtype=np.float64), 3)
    obj, theta = _pixel_case()
    with pytest.raises(InvalidInputError, match=r"theta must be a flat vector of length 128"):
        ts.landscape.hessian(obj, theta[:-1])
    with pytest.raises(ValueError, match="NaN"):
        ts.landscape.hessian(obj, np.full(obj.size, np.nan))


def test_eigsh_explores_beyond_a_start_vector_in_an_invariant_subspace():
    # The Krylov space of v0 closes exactly when the basis is full: its Ritz values are exact
    # but not the wanted ones; eigsh must look further before reporting convergence.
    d = np.arange(1.0, 101.0)
    v0 = np.zeros(100)
    v0[:20] = 1.0
    w, _, info = ts.landscape.eigsh(np.diag(d), k=2, v0=v0, return_info=True)
    np.testing.assert_allclose(w, [99.0, 100.0], rtol=1e-10)
    assert info["converged"]
    small = np.arange(1.0, 51.0)
    res = _core.eigsh(
        lambda x: small * x, np.r_[1.0, 1.0, 1.0, np.zeros(47)], 2, "LA", 1e-10, 3, 200
    )
    np.testing.assert_allclose(res["values"], [49.0, 50.0], rtol=1e-8)


def test_eigsh_stops_early_on_an_easy_case_and_propagates_callback_errors():
    rng = np.random.default_rng(9)
    n = 300
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.r_[np.linspace(0.0, 1.0, n - 1), 100.0]
    A = (Q * lam) @ Q.T
    w, _, info = ts.landscape.eigsh(A, k=1, which="LA", tol=1e-6, return_info=True)
    assert w[0] == pytest.approx(100.0, rel=1e-9)
    assert info["matvecs"] < 20  # the default basis holds 20 vectors

    calls = []

    def failing(x):
        calls.append(1)
        if len(calls) == 7:
            raise KeyError("boom inside eigsh")
        return A @ x

    with pytest.raises(KeyError, match="boom"):
        ts.landscape.eigsh(LinearOperator((n, n), matvec=failing, dtype=np.float64), k=2)
    with pytest.raises(ValueError, match="ncv"):
        ts.landscape.eigsh(A, k=5, ncv=4)


def test_threaded_eigsh_matches_serial():
    # Covers the threaded basis rotation of the restarts as well as the projections.
    n = 300_007
    d = np.r_[np.linspace(0.0, 1.0, n - 3), [3.0, 4.0, 6.0]]
    A = LinearOperator((n, n), matvec=lambda x: d * np.ravel(x), dtype=np.float64)
    results = {}
    try:
        for threads in (1, 2):
            _core.set_num_threads(threads)
            results[threads] = ts.landscape.eigsh(
                A, k=3, which="LA", tol=1e-8, ncv=6, progress=False, return_info=True
            )
    finally:
        _core.set_num_threads(0)
    assert results[1][2]["restarts"] > 0
    np.testing.assert_allclose(results[2][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][0], d[-3:], rtol=1e-8)
    overlap = np.abs(np.sum(results[1][1] * results[2][1], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)


@pytest.mark.parametrize("scale", [1e-170, 1.0, 1e160])
def test_dense_jacobi_on_badly_scaled_and_clustered_matrices(scale):
    rng = np.random.default_rng(10)
    k = 60
    Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    lam = np.r_[np.zeros(20), np.full(20, 1.0), 1.0 + 1e-12 * np.arange(10), np.arange(10.0)]
    A = (Q * lam) @ Q.T
    A = (A + A.T) / 2 * scale
    w, Z = _core.symmetric_eigh(A)
    np.testing.assert_allclose(w / scale, np.sort(lam), atol=1e-12)
    np.testing.assert_allclose(Z.T @ Z, np.eye(k), atol=1e-12)
