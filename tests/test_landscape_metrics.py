"""Per-iterate trajectory metrics against values computed by hand on a quadratic."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import toposcape as ts
from toposcape.errors import InvalidInputError
from toposcape.landscape.metrics import trajectory_metrics

VARIABLES = {
    "loss",
    "grad_norm",
    "distance",
    "distance_to_final",
    "step_length",
    "grad_cosine",
    "grad_dot_to_final",
    "overlap",
    "curvature",
}


class Quadratic:
    """``f(x) = 0.5 x^T A x - b^T x`` (SPD ``A``, eigenvalues in [1, 6])."""

    def __init__(self, n: int = 10, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        self.A = Q @ np.diag(np.linspace(1.0, 6.0, n)) @ Q.T
        self.A = 0.5 * (self.A + self.A.T)
        self.b = rng.standard_normal(n)
        self.size = n
        self.x0 = rng.standard_normal(n)
        self.hvps = 0

    def value_and_grad(self, x):
        return float(0.5 * x @ self.A @ x - self.b @ x), self.A @ x - self.b

    def hvp(self, x, v):
        self.hvps += 1
        return self.A @ v


@pytest.fixture(scope="module")
def run():
    q = Quadratic()
    traj = ts.optim.get("gd", lr=0.1).run(q, q.x0, max_steps=8, record_params=True)
    return q, traj


def _by_hand(q, thetas):
    G = thetas @ q.A.T - q.b
    T = thetas[-1]
    K1 = len(thetas)
    cos = np.full(K1, np.nan)
    for j in range(1, K1):
        cos[j] = G[j - 1] @ G[j] / (np.linalg.norm(G[j - 1]) * np.linalg.norm(G[j]))
    HG = G @ q.A.T
    return {
        "loss": np.array([q.value_and_grad(t)[0] for t in thetas]),
        "grad_norm": np.linalg.norm(G, axis=1),
        "distance": np.linalg.norm(thetas - thetas[0], axis=1),
        "distance_to_final": np.linalg.norm(T - thetas, axis=1),
        "step_length": np.r_[np.nan, np.linalg.norm(np.diff(thetas, axis=0), axis=1)],
        "grad_cosine": cos,
        "grad_dot_to_final": np.einsum("ij,ij->i", G, T - thetas),
        "overlap": np.einsum("ij,ij->i", G, HG)
        / (np.linalg.norm(G, axis=1) * np.linalg.norm(HG, axis=1)),
        "curvature": np.einsum("ij,ij->i", G, HG) / np.linalg.norm(G, axis=1) ** 2,
    }


def test_metrics_with_objective_match_hand_values(run):
    q, traj = run
    m = trajectory_metrics(traj, q)
    assert isinstance(m, xr.Dataset)
    assert set(m.data_vars) == VARIABLES
    K1 = traj.n_steps + 1
    assert m.sizes["step"] == K1
    assert m.attrs["gradients"] == "recomputed"
    expected = _by_hand(q, traj.thetas)
    for name, values in expected.items():
        np.testing.assert_allclose(m[name].values, values, rtol=1e-10, atol=1e-13, err_msg=name)
    # GD on a quadratic: the gradient points away from where the run ends.
    assert np.all(m["grad_dot_to_final"].values[:-1] < 0)
    assert m["grad_dot_to_final"].values[-1] == 0.0
    # Overlap of an SPD Hessian is positive; curvature lies within its spectrum.
    assert np.all((m["overlap"].values > 0) & (m["overlap"].values <= 1))
    assert np.all((m["curvature"].values >= 1 - 1e-12) & (m["curvature"].values <= 6 + 1e-12))
    # Recorded values agree with the recomputed ones.
    np.testing.assert_allclose(m["loss"].values, traj.losses, rtol=1e-12)
    np.testing.assert_allclose(m["grad_norm"].values, traj.grad_norms, rtol=1e-12)


def test_metrics_known_gd_cosine():
    """GD on f = 0.5 |x|^2 with lr 0.5: g_k = 0.5^k x0, every cosine is 1, every overlap 1."""

    class Sphere:
        size = 3

        def value_and_grad(self, x):
            return 0.5 * float(x @ x), x.copy()

        def hvp(self, x, v):
            return v.copy()

    x0 = np.array([1.0, -2.0, 2.0])
    traj = ts.optim.get("gd", lr=0.5).run(Sphere(), x0, max_steps=4, record_params=True)
    m = trajectory_metrics(traj, Sphere())
    np.testing.assert_allclose(m["grad_norm"].values, 3.0 * 0.5 ** np.arange(5), rtol=1e-14)
    np.testing.assert_allclose(m["grad_cosine"].values[1:], 1.0)
    np.testing.assert_allclose(m["overlap"].values, 1.0)
    np.testing.assert_allclose(m["curvature"].values, 1.0)
    np.testing.assert_allclose(m["distance"].values, 3.0 * (1 - 0.5 ** np.arange(5)), rtol=1e-14)
    # g_j . (theta_T - theta_j) = 0.5^j x0 . (0.5^4 - 0.5^j) x0
    j = np.arange(5)
    np.testing.assert_allclose(
        m["grad_dot_to_final"].values, 9.0 * 0.5**j * (0.5**4 - 0.5**j), rtol=1e-12, atol=1e-15
    )


def test_metrics_without_objective(run):
    q, traj = run
    m = trajectory_metrics(traj)
    assert set(m.data_vars) == VARIABLES
    assert m.attrs["gradients"] == "unavailable"
    np.testing.assert_allclose(m["loss"].values, traj.losses)
    np.testing.assert_allclose(m["grad_norm"].values, traj.grad_norms)
    expected = _by_hand(q, traj.thetas)
    np.testing.assert_allclose(m["distance_to_final"].values, expected["distance_to_final"])
    for name in ("grad_cosine", "grad_dot_to_final", "overlap", "curvature"):
        assert np.isnan(m[name].values).all()
    # Without recorded iterates: only what the optimizer recorded.
    bare = ts.optim.get("gd", lr=0.1).run(q, q.x0, max_steps=8)
    mb = trajectory_metrics(bare)
    np.testing.assert_allclose(mb["distance"].values, expected["distance"], rtol=1e-12)
    assert np.isnan(mb["distance_to_final"].values).all()
    with pytest.raises(InvalidInputError, match="record_params"):
        trajectory_metrics(bare, q)


def test_metrics_given_gradients_and_subset(run):
    q, traj = run
    G = traj.thetas @ q.A.T - q.b
    m = trajectory_metrics(traj, grads=G)
    assert m.attrs["gradients"] == "given"
    expected = _by_hand(q, traj.thetas)
    np.testing.assert_allclose(m["grad_cosine"].values, expected["grad_cosine"], rtol=1e-12)
    np.testing.assert_allclose(
        m["grad_dot_to_final"].values, expected["grad_dot_to_final"], rtol=1e-10, atol=1e-13
    )
    # Subset of steps: values there, NaN elsewhere, hvp only at the chosen ones.
    q.hvps = 0
    ms = trajectory_metrics(traj, q, steps=[3, 6])
    assert q.hvps == 2
    for name in ("grad_cosine", "overlap", "grad_dot_to_final"):
        got = ms[name].values
        np.testing.assert_allclose(got[[3, 6]], expected[name][[3, 6]], rtol=1e-10, atol=1e-13)
        assert np.isnan(np.delete(got, [3, 6])).all()
    # No overlap requested: no hvp.
    q.hvps = 0
    mo = trajectory_metrics(traj, q, overlap=False)
    assert q.hvps == 0 and np.isnan(mo["overlap"].values).all()
    with pytest.raises(InvalidInputError):
        trajectory_metrics(traj, grads=G[:-1])


def test_metrics_concat_over_seeds(run):
    q, _ = run
    runs = [
        ts.optim.get("gd", lr=0.1).run(q, q.x0 + s, max_steps=5, record_params=True)
        for s in range(3)
    ]
    ds = xr.concat([trajectory_metrics(r, q) for r in runs], dim="seed")
    assert ds["grad_norm"].shape == (3, 6)
    med = ds["grad_norm"].median("seed")
    assert med.shape == (6,)
