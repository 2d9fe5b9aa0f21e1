"""Bad input to the landscape tools: every mistake is a clear exception, named after the call.

Conventions (toposcape._validate): TypeError for a wrong type or kind of object (a string for a
count, 3.0 for an integer, a complex/boolean/object array, an object without the needed
methods); InvalidInputError (a ValueError) for a bad value (shape, range, NaN/inf, empty),
with messages "<call>: <argument> must be <expected>, got <given>"; unknown names list the
valid choices. Nothing is cast silently (complex input used to be truncated with a warning),
and no AttributeError escapes from deep inside.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import LinearOperator  # noqa: E402

import toposcape as ts  # noqa: E402
from toposcape.errors import InvalidInputError  # noqa: E402

L = ts.landscape
N = 6


class Quadratic:
    """``f(x) = 0.5 x^T A x`` with ``A = diag(1..N)``, plus a design for the plotting calls."""

    size = N

    def __init__(self) -> None:
        self.A = np.diag(np.arange(1.0, N + 1))
        self.x0 = np.linspace(1.0, 2.0, N)

    def value_and_grad(self, x):
        return float(0.5 * x @ self.A @ x), self.A @ x

    def hvp(self, x, v):
        return self.A @ v

    def design(self, x):
        return np.clip(x.reshape(2, 3), 0.0, 1.0)


Q = Quadratic()
TH = Q.x0
A = Q.A
E1 = np.eye(N)[0]
E2 = np.eye(N)[1]
X = np.stack([TH * (1.0 + 0.1 * k) + 0.05 * k**2 * E2 for k in range(5)])
CURVE = (np.linspace(0.0, 1.0, 5), np.ones(5))
AL = np.linspace(0.0, 1.0, 5)
GA, GB = np.meshgrid(np.arange(3.0), np.arange(3.0))
GL = np.ones((3, 3))


@pytest.fixture(scope="module")
def traj():
    return ts.optim.get("gd", lr=0.05).run(Q, TH, max_steps=4, record_params=True)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _complex_op():
    return LinearOperator((N, N), matvec=lambda v: v + 0j, dtype=np.complex128)


# (id, call, exception type, message fragment): calls without a recorded run.
CASES = [
    # hessian
    (
        "hessian-str-obj",
        lambda: L.hessian("abc", TH),
        TypeError,
        "hessian: obj must be an objective with a method hvp(theta, v)",
    ),
    ("hessian-none-obj", lambda: L.hessian(None, TH), TypeError, "obj must be an objective"),
    (
        "hessian-str-theta",
        lambda: L.hessian(Q, "abc"),
        TypeError,
        "theta must be an array of real numbers",
    ),
    (
        "hessian-none-theta",
        lambda: L.hessian(Q, None),
        TypeError,
        "theta must be an array of real numbers",
    ),
    ("hessian-complex-theta", lambda: L.hessian(Q, TH + 1j), TypeError, "complex array"),
    ("hessian-bool-theta", lambda: L.hessian(Q, np.ones(N, bool)), TypeError, "boolean array"),
    (
        "hessian-nan-theta",
        lambda: L.hessian(Q, np.full(N, np.nan)),
        InvalidInputError,
        "theta must be finite",
    ),
    (
        "hessian-short-theta",
        lambda: L.hessian(Q, TH[:-1]),
        InvalidInputError,
        "theta must be a flat vector of length 6, got shape (5,)",
    ),
    ("hessian-2d-theta", lambda: L.hessian(Q, TH.reshape(2, 3)), InvalidInputError, "flat vector"),
    # operators
    (
        "eigsh-str",
        lambda: L.eigsh("abc", k=1),
        TypeError,
        "eigsh: H must be a LinearOperator, a dense array or a sparse matrix",
    ),
    ("eigsh-none", lambda: L.eigsh(None, k=1), TypeError, "H must be a LinearOperator"),
    (
        "eigsh-list",
        lambda: L.eigsh([[1.0, 0.0], [0.0, 1.0]], k=1),
        TypeError,
        "H must be a LinearOperator",
    ),
    ("eigsh-complex-array", lambda: L.eigsh(A + 1j, k=1), TypeError, "complex array"),
    (
        "eigsh-complex-sparse",
        lambda: L.eigsh(sp.csr_matrix(A + 1j), k=1),
        TypeError,
        "real sparse matrix",
    ),
    ("eigsh-complex-operator", lambda: L.eigsh(_complex_op(), k=1), TypeError, "real operator"),
    (
        "eigsh-object-array",
        lambda: L.eigsh(np.array([[1, "a"], [2, 3]], dtype=object), k=1),
        TypeError,
        "object array",
    ),
    ("eigsh-nan-array", lambda: L.eigsh(A * np.nan, k=1), InvalidInputError, "H must be finite"),
    (
        "eigsh-nan-sparse",
        lambda: L.eigsh(sp.csr_matrix(A * np.nan), k=1),
        InvalidInputError,
        "H must be finite",
    ),
    ("eigsh-1d", lambda: L.eigsh(np.ones(N), k=1), InvalidInputError, "H must be square"),
    (
        "eigsh-nonsquare",
        lambda: L.eigsh(np.ones((3, 4)), k=1),
        InvalidInputError,
        "got shape (3, 4)",
    ),
    (
        "eigsh-empty",
        lambda: L.eigsh(np.zeros((0, 0)), k=1),
        InvalidInputError,
        "H must not be empty",
    ),
    ("trace-str", lambda: L.trace("abc"), TypeError, "trace: H must be a LinearOperator"),
    ("frobenius-none", lambda: L.frobenius_norm(None), TypeError, "frobenius_norm: H must be"),
    ("density-str", lambda: L.spectral_density("abc"), TypeError, "spectral_density: H must be"),
    ("density-complex", lambda: L.spectral_density(A + 1j, steps=3), TypeError, "complex array"),
    ("lanczos-none", lambda: L.lanczos(None, 3), TypeError, "lanczos: H must be"),
    # counts
    (
        "eigsh-k0",
        lambda: L.eigsh(A, k=0),
        InvalidInputError,
        "k must be an integer in [1, 6], got 0",
    ),
    (
        "eigsh-k-too-large",
        lambda: L.eigsh(A, k=7),
        InvalidInputError,
        "k must be an integer in [1, 6], got 7",
    ),
    ("eigsh-k-float", lambda: L.eigsh(A, k=3.0), TypeError, "k must be an integer"),
    ("eigsh-k-str", lambda: L.eigsh(A, k="3"), TypeError, "k must be an integer"),
    ("eigsh-k-bool", lambda: L.eigsh(A, k=True), TypeError, "k must be an integer"),
    (
        "eigsh-ncv",
        lambda: L.eigsh(A, k=4, ncv=3),
        InvalidInputError,
        "ncv must be an integer >= k + 1 = 5",
    ),
    (
        "eigsh-max-restarts",
        lambda: L.eigsh(A, k=1, max_restarts=-1),
        InvalidInputError,
        "max_restarts must be an integer >= 0",
    ),
    (
        "lanczos-steps0",
        lambda: L.lanczos(A, 0),
        InvalidInputError,
        "lanczos: steps must be an integer in [1, 6], got 0",
    ),
    (
        "lanczos-steps-too-many",
        lambda: L.lanczos(A, 7),
        InvalidInputError,
        "steps must be an integer in [1, 6]",
    ),
    ("lanczos-steps-float", lambda: L.lanczos(A, 2.5), TypeError, "steps must be an integer"),
    ("lanczos-steps-none", lambda: L.lanczos(A, None), TypeError, "steps must be an integer"),
    (
        "density-runs0",
        lambda: L.spectral_density(A, runs=0, steps=3),
        InvalidInputError,
        "runs must be an integer >= 1",
    ),
    (
        "density-steps0",
        lambda: L.spectral_density(A, steps=0),
        InvalidInputError,
        "steps must be an integer in [1, 6]",
    ),
    (
        "density-n-grid-float",
        lambda: L.spectral_density(A, steps=3, n_grid=10.0),
        TypeError,
        "n_grid must be an integer",
    ),
    (
        "density-n-grid1",
        lambda: L.spectral_density(A, steps=3, n_grid=1),
        InvalidInputError,
        "n_grid must be an integer >= 2",
    ),
    (
        "trace-samples0",
        lambda: L.trace(A, samples=0),
        InvalidInputError,
        "samples must be an integer >= 1",
    ),
    (
        "trace-samples-float",
        lambda: L.trace(A, samples=2.0),
        TypeError,
        "samples must be an integer",
    ),
    # reals, names, flags, seeds
    (
        "eigsh-which",
        lambda: L.eigsh(A, k=1, which="XX"),
        InvalidInputError,
        "which must be one of 'LA', 'SA', 'BE', 'LM', got 'XX'",
    ),
    (
        "eigsh-which-none",
        lambda: L.eigsh(A, k=1, which=None),
        InvalidInputError,
        "which must be one of",
    ),
    (
        "eigsh-which-list",
        lambda: L.eigsh(A, k=1, which=["LA"]),
        InvalidInputError,
        "which must be one of",
    ),
    (
        "eigsh-tol-str",
        lambda: L.eigsh(A, k=1, tol="x"),
        TypeError,
        "tol must be a finite real number > 0",
    ),
    (
        "eigsh-tol-nan",
        lambda: L.eigsh(A, k=1, tol=np.nan),
        InvalidInputError,
        "tol must be a finite real number > 0",
    ),
    ("eigsh-tol-zero", lambda: L.eigsh(A, k=1, tol=0.0), InvalidInputError, "tol must be"),
    (
        "eigsh-return-info",
        lambda: L.eigsh(A, k=1, return_info="yes"),
        TypeError,
        "return_info must be True or False",
    ),
    (
        "eigsh-progress",
        lambda: L.eigsh(A, k=1, progress=1),
        TypeError,
        "progress must be True or False",
    ),
    (
        "eigsh-seed-str",
        lambda: L.eigsh(A, k=1, seed="x"),
        TypeError,
        "seed must be an integer >= 0, a numpy Generator or None",
    ),
    (
        "eigsh-seed-negative",
        lambda: L.eigsh(A, k=1, seed=-1),
        InvalidInputError,
        "seed must be an integer >= 0",
    ),
    (
        "density-sigma2-str",
        lambda: L.spectral_density(A, steps=3, sigma2="x"),
        TypeError,
        "sigma2 must be a finite real number > 0",
    ),
    (
        "density-sigma2-nan",
        lambda: L.spectral_density(A, steps=3, sigma2=np.nan),
        InvalidInputError,
        "sigma2 must be",
    ),
    (
        "density-relative",
        lambda: L.spectral_density(A, steps=3, relative="no"),
        TypeError,
        "relative must be True or False",
    ),
    (
        "density-grid-and-n-grid",
        lambda: L.spectral_density(A, steps=3, grid=AL, n_grid=5),
        InvalidInputError,
        "give grid or n_grid, not both",
    ),
    (
        "density-grid-complex",
        lambda: L.spectral_density(A, steps=3, grid=AL + 0j),
        TypeError,
        "grid must be an array of real numbers",
    ),
    (
        "density-grid-nan",
        lambda: L.spectral_density(A, steps=3, grid=np.array([0.0, np.nan])),
        InvalidInputError,
        "grid must be finite",
    ),
    (
        "density-grid-2d",
        lambda: L.spectral_density(A, steps=3, grid=np.ones((2, 2))),
        InvalidInputError,
        "grid must be a non-empty flat vector",
    ),
    (
        "trace-return-error",
        lambda: L.trace(A, return_error=1),
        TypeError,
        "return_error must be True or False",
    ),
    (
        "broadened-variance0",
        lambda: L.broadened_density(AL, AL[:2], AL[:2], 0.0),
        InvalidInputError,
        "variance must be a finite real number > 0",
    ),
    (
        "broadened-variance-str",
        lambda: L.broadened_density(AL, AL[:2], AL[:2], "x"),
        TypeError,
        "variance must be",
    ),
    (
        "broadened-complex",
        lambda: L.broadened_density(AL, AL[:2] + 1j, AL[:2], 1.0),
        TypeError,
        "nodes must be an array of real numbers",
    ),
    (
        "broadened-nan",
        lambda: L.broadened_density(AL, np.array([np.nan, 1.0]), AL[:2], 1.0),
        InvalidInputError,
        "nodes must be finite",
    ),
    (
        "broadened-mismatch",
        lambda: L.broadened_density(AL, AL[:2], AL[:3], 1.0),
        InvalidInputError,
        "weights must be an array of 2 entries",
    ),
    # vectors
    (
        "eigsh-v0-zero",
        lambda: L.eigsh(A, k=1, v0=np.zeros(N)),
        InvalidInputError,
        "v0 must be a nonzero vector",
    ),
    (
        "eigsh-v0-short",
        lambda: L.eigsh(A, k=1, v0=np.ones(N - 1)),
        InvalidInputError,
        "v0 must be a flat vector of length 6",
    ),
    (
        "eigsh-v0-complex",
        lambda: L.eigsh(A, k=1, v0=np.ones(N) + 1j),
        TypeError,
        "v0 must be an array of real numbers",
    ),
    (
        "eigsh-v0-str",
        lambda: L.eigsh(A, k=1, v0="abc"),
        TypeError,
        "v0 must be an array of real numbers",
    ),
    (
        "curvature-zero",
        lambda: L.curvature(A, np.zeros(N)),
        InvalidInputError,
        "curvature: d must be a nonzero vector",
    ),
    ("curvature-complex", lambda: L.curvature(A, TH + 1j), TypeError, "complex array"),
    (
        "overlap-short",
        lambda: L.overlap(A, TH[:-1]),
        InvalidInputError,
        "overlap: g must be a flat vector of length 6",
    ),
    # products that return complex numbers are not truncated
    (
        "eigsh-complex-product",
        lambda: L.eigsh(LinearOperator((N, N), matvec=lambda v: v + 0j, dtype=np.float64), k=1),
        TypeError,
        "H's matvec must return real numbers",
    ),
    # slices
    (
        "interpolate-str-obj",
        lambda: L.interpolate("abc", TH, TH),
        TypeError,
        "interpolate: obj must be an objective with a 'size'",
    ),
    (
        "interpolate-none-obj",
        lambda: L.interpolate(None, TH, TH),
        TypeError,
        "obj must be an objective",
    ),
    (
        "interpolate-array-obj",
        lambda: L.interpolate(TH, TH, TH),
        TypeError,
        "obj must be an objective",
    ),
    (
        "interpolate-no-loss",
        lambda: L.interpolate(type("S", (), {"size": N})(), TH, TH),
        TypeError,
        "obj must be an objective with a method value_and_grad",
    ),
    (
        "interpolate-complex",
        lambda: L.interpolate(Q, TH + 0j, TH),
        TypeError,
        "theta_a must be an array of real numbers",
    ),
    ("interpolate-str-theta", lambda: L.interpolate(Q, "abc", TH), TypeError, "theta_a must be"),
    ("interpolate-none-theta", lambda: L.interpolate(Q, TH, None), TypeError, "theta_b must be"),
    (
        "interpolate-nan",
        lambda: L.interpolate(Q, np.full(N, np.nan), TH),
        InvalidInputError,
        "theta_a must be finite",
    ),
    (
        "interpolate-short",
        lambda: L.interpolate(Q, TH[:-1], TH),
        InvalidInputError,
        "theta_a must be a flat vector of length 6",
    ),
    (
        "interpolate-n1",
        lambda: L.interpolate(Q, TH, TH, n=1),
        InvalidInputError,
        "n must be an integer >= 2, got 1",
    ),
    (
        "interpolate-n-float",
        lambda: L.interpolate(Q, TH, TH, n=3.0),
        TypeError,
        "n must be an integer",
    ),
    (
        "interpolate-n-str",
        lambda: L.interpolate(Q, TH, TH, n="5"),
        TypeError,
        "n must be an integer",
    ),
    (
        "interpolate-extend-neg",
        lambda: L.interpolate(Q, TH, TH, extend=-0.1),
        InvalidInputError,
        "extend must be a finite real number >= 0",
    ),
    (
        "interpolate-extend-nan",
        lambda: L.interpolate(Q, TH, TH, extend=np.nan),
        InvalidInputError,
        "extend must be",
    ),
    (
        "interpolate-extend-str",
        lambda: L.interpolate(Q, TH, TH, extend="x"),
        TypeError,
        "extend must be",
    ),
    (
        "interpolate-progress",
        lambda: L.interpolate(Q, TH, TH, progress="yes"),
        TypeError,
        "progress must be True or False",
    ),
    (
        "pairs-mismatch",
        lambda: L.interpolate_pairs(Q, X[:2], X[:3]),
        InvalidInputError,
        "ends must hold as many vectors as starts (2) or one, got 3",
    ),
    ("pairs-dim", lambda: L.interpolate_pairs(Q, X, X, dim=3), TypeError, "dim must be a string"),
    (
        "pairs-str",
        lambda: L.interpolate_pairs(Q, "abc", X),
        TypeError,
        "starts must be an array of real numbers",
    ),
    (
        "pairs-ragged",
        lambda: L.interpolate_pairs(Q, [TH, TH[:-1]], X[:2]),
        InvalidInputError,
        "starts[1] must be a flat vector of length 6",
    ),
    (
        "pairs-empty",
        lambda: L.interpolate_pairs(Q, [], X[:2]),
        InvalidInputError,
        "starts must be one or more vectors of length 6",
    ),
    ("pairs-complex", lambda: L.interpolate_pairs(Q, X + 0j, X), TypeError, "complex array"),
    (
        "between-one",
        lambda: L.interpolate_between(Q, [TH]),
        InvalidInputError,
        "inits must hold at least two initial points, got 1",
    ),
    (
        "from-inits-final-none",
        lambda: L.interpolate_from_inits(Q, X, None),
        TypeError,
        "final must be an array of real numbers",
    ),
    (
        "successive-one",
        lambda: L.interpolate_successive(Q, X[:1]),
        InvalidInputError,
        "traj must hold at least two iterates, got 1",
    ),
    (
        "to-final-str",
        lambda: L.interpolate_to_final(Q, "abc"),
        TypeError,
        "traj must be a Trajectory, a Dataset",
    ),
    (
        "to-final-none",
        lambda: L.interpolate_to_final(Q, None),
        TypeError,
        "traj must be a Trajectory",
    ),
    (
        "to-final-wrong-size",
        lambda: L.interpolate_to_final(Q, X[:, :-1]),
        InvalidInputError,
        "traj must hold vectors of length obj.size = 6",
    ),
    (
        "to-final-1d",
        lambda: L.interpolate_to_final(Q, TH),
        InvalidInputError,
        "traj must be iterates as an array (n_iterates, size)",
    ),
    (
        "to-final-steps-float",
        lambda: L.interpolate_to_final(Q, X, steps=[0.5]),
        TypeError,
        "steps must be a non-empty sequence of integers",
    ),
    (
        "to-final-steps-bool",
        lambda: L.interpolate_to_final(Q, X, steps=[True]),
        TypeError,
        "steps must be",
    ),
    (
        "to-final-steps-str",
        lambda: L.interpolate_to_final(Q, X, steps="ab"),
        TypeError,
        "steps must be",
    ),
    (
        "to-final-steps-empty",
        lambda: L.interpolate_to_final(Q, X, steps=[]),
        InvalidInputError,
        "steps must be a non-empty sequence",
    ),
    (
        "to-final-steps-range",
        lambda: L.interpolate_to_final(Q, X, steps=[5]),
        InvalidInputError,
        "steps must be integers in [-5, 5), got [5]",
    ),
    (
        "plane-n0",
        lambda: L.plane(Q, TH, E1, E2, n=0),
        InvalidInputError,
        "plane: n must be an integer >= 2, got 0",
    ),
    (
        "plane-n-pair",
        lambda: L.plane(Q, TH, E1, E2, n=(3, 1)),
        InvalidInputError,
        "n[1] must be an integer >= 2",
    ),
    (
        "plane-n-triple",
        lambda: L.plane(Q, TH, E1, E2, n=(3, 4, 5)),
        InvalidInputError,
        "n must be an integer >= 2 or a pair",
    ),
    ("plane-n-float", lambda: L.plane(Q, TH, E1, E2, n=3.0), TypeError, "n must be an integer"),
    ("plane-n-str", lambda: L.plane(Q, TH, E1, E2, n="5"), TypeError, "n must be an integer"),
    (
        "plane-extent-str",
        lambda: L.plane(Q, TH, E1, E2, extent="x"),
        TypeError,
        "extent must be an array of real numbers",
    ),
    (
        "plane-extent-complex",
        lambda: L.plane(Q, TH, E1, E2, extent=1 + 1j),
        TypeError,
        "extent must be",
    ),
    (
        "plane-extent-nan",
        lambda: L.plane(Q, TH, E1, E2, extent=np.nan),
        InvalidInputError,
        "extent must be finite",
    ),
    (
        "plane-extent-zero",
        lambda: L.plane(Q, TH, E1, E2, extent=0.0),
        InvalidInputError,
        "non-empty ranges",
    ),
    (
        "plane-extent-reversed",
        lambda: L.plane(Q, TH, E1, E2, extent=(1.0, -1.0, 0.0, 1.0)),
        InvalidInputError,
        "non-empty ranges",
    ),
    (
        "plane-extent-three",
        lambda: L.plane(Q, TH, E1, E2, extent=(1, 2, 3)),
        InvalidInputError,
        "extent must be a number e > 0, a pair",
    ),
    (
        "plane-d1-complex",
        lambda: L.plane(Q, TH, E1 + 1j, E2),
        TypeError,
        "d1 must be an array of real numbers",
    ),
    ("plane-d1-none", lambda: L.plane(Q, TH, None, E2), TypeError, "d1 must be"),
    (
        "plane-center-nan",
        lambda: L.plane(Q, np.full(N, np.nan), E1, E2),
        InvalidInputError,
        "center must be finite",
    ),
    (
        "plane-obj-str",
        lambda: L.plane("abc", TH, E1, E2),
        TypeError,
        "plane: obj must be an objective",
    ),
    (
        "project-str",
        lambda: L.project("abc", TH, E1, E2),
        TypeError,
        "project: traj must be a Trajectory",
    ),
    ("project-none", lambda: L.project(None, TH, E1, E2), TypeError, "traj must be a Trajectory"),
    ("project-complex", lambda: L.project(X + 0j, TH, E1, E2), TypeError, "complex array"),
    (
        "project-zero-direction",
        lambda: L.project(X, TH, np.zeros(N), E2),
        InvalidInputError,
        "d1 must be a nonzero vector, got all zeros",
    ),
    (
        "project-parallel",
        lambda: L.project(X, TH, E1, 2 * E1),
        InvalidInputError,
        "d1 and d2 must span a plane",
    ),
    (
        "project-center-short",
        lambda: L.project(X, TH[:-1], E1, E2),
        InvalidInputError,
        "center must be a flat vector of length 6",
    ),
    # directions
    (
        "normalize-name",
        lambda: L.normalize_direction(Q, TH, E1, normalize="XX"),
        InvalidInputError,
        "normalize must be one of 'filter', 'layer', 'unit', 'none', got 'XX'",
    ),
    (
        "normalize-none",
        lambda: L.normalize_direction(Q, TH, E1, normalize=None),
        InvalidInputError,
        "normalize must be one of",
    ),
    (
        "normalize-bias",
        lambda: L.normalize_direction(Q, TH, E1, bias="ignore"),
        InvalidInputError,
        "bias must be one of 'zero', 'filter', 'layer'",
    ),
    (
        "normalize-obj-str",
        lambda: L.normalize_direction("abc", TH, E1),
        TypeError,
        "normalize_direction: obj must be an objective",
    ),
    (
        "normalize-unit-zero",
        lambda: L.normalize_direction(Q, TH, np.zeros(N), normalize="unit"),
        InvalidInputError,
        "must be a nonzero vector",
    ),
    (
        "normalize-zero-theta",
        lambda: L.normalize_direction(Q, np.zeros(N), E1),
        InvalidInputError,
        "theta must be nonzero",
    ),
    (
        "normalize-complex-d",
        lambda: L.normalize_direction(Q, TH, E1 + 1j),
        TypeError,
        "d must be an array of real numbers",
    ),
    (
        "random-seed-str",
        lambda: L.random_directions(Q, TH, seed="x"),
        TypeError,
        "random_directions: seed must be an integer >= 0",
    ),
    (
        "random-seed-float",
        lambda: L.random_directions(Q, TH, seed=1.5),
        TypeError,
        "seed must be an integer >= 0",
    ),
    (
        "random-obj-none",
        lambda: L.random_directions(None, TH),
        TypeError,
        "obj must be an objective",
    ),
    (
        "random-theta-short",
        lambda: L.random_directions(Q, TH[:-1]),
        InvalidInputError,
        "theta must be a flat vector of length 6",
    ),
    (
        "random-normalize",
        lambda: L.random_directions(Q, TH, normalize="bogus"),
        InvalidInputError,
        "normalize must be one of",
    ),
    (
        "pca-str",
        lambda: L.pca_directions("abc"),
        TypeError,
        "pca_directions: traj must be a Trajectory",
    ),
    ("pca-none", lambda: L.pca_directions(None), TypeError, "traj must be a Trajectory"),
    (
        "pca-one-iterate",
        lambda: L.pca_directions(X[:1]),
        InvalidInputError,
        "traj must hold at least two iterates, got 1",
    ),
    (
        "pca-components1",
        lambda: L.pca_directions(X, n_components=1),
        InvalidInputError,
        "n_components must be an integer >= 2",
    ),
    (
        "pca-components-float",
        lambda: L.pca_directions(X, n_components=2.0),
        TypeError,
        "n_components must be an integer",
    ),
    (
        "pca-steps-float",
        lambda: L.pca_directions(X, steps=[0.5]),
        TypeError,
        "steps must be a sequence of integers",
    ),
    (
        "pca-steps-range",
        lambda: L.pca_directions(X, steps=[10]),
        InvalidInputError,
        "steps must be integers in [-5, 5)",
    ),
    ("pca-complex", lambda: L.pca_directions(X + 1j), TypeError, "complex array"),
    (
        "pca-nan",
        lambda: L.pca_directions(np.where(X > 1.5, np.nan, X)),
        InvalidInputError,
        "traj must be finite",
    ),
    (
        "pca-final-short",
        lambda: L.pca_directions(X, final=TH[:-1]),
        InvalidInputError,
        "final must be a flat vector of length 6",
    ),
    (
        "eigen-str",
        lambda: L.eigen_directions("abc"),
        TypeError,
        "eigen_directions: H must be a LinearOperator",
    ),
    ("eigen-none", lambda: L.eigen_directions(None), TypeError, "H must be a LinearOperator"),
    (
        "eigen-which",
        lambda: L.eigen_directions(A, which="BE"),
        InvalidInputError,
        "which must be one of 'LA', 'SA', 'LM', got 'BE'",
    ),
    (
        "eigen-1x1",
        lambda: L.eigen_directions(np.ones((1, 1))),
        InvalidInputError,
        "H must be at least 2 x 2",
    ),
    ("eigen-complex", lambda: L.eigen_directions(A + 1j), TypeError, "complex array"),
    (
        "eigen-nonsquare",
        lambda: L.eigen_directions(np.ones((3, 4))),
        InvalidInputError,
        "H must be square",
    ),
    (
        "eigen-return-values",
        lambda: L.eigen_directions(A, return_values="yes"),
        TypeError,
        "return_values must be True or False",
    ),
    # trajectory_metrics on arrays
    (
        "metrics-str",
        lambda: L.trajectory_metrics("abc"),
        TypeError,
        "trajectory_metrics: traj must be a Trajectory",
    ),
    ("metrics-none", lambda: L.trajectory_metrics(None), TypeError, "traj must be a Trajectory"),
    (
        "metrics-obj-str",
        lambda: L.trajectory_metrics(X, "abc"),
        TypeError,
        "obj must be an objective with a 'size'",
    ),
    (
        "metrics-obj-no-grad",
        lambda: L.trajectory_metrics(X, type("S", (), {"size": N})()),
        TypeError,
        "obj must be an objective with a method value_and_grad",
    ),
    (
        "metrics-grads-complex",
        lambda: L.trajectory_metrics(X, grads=X + 1j),
        TypeError,
        "grads must be an array of real numbers",
    ),
    ("metrics-grads-str", lambda: L.trajectory_metrics(X, grads="abc"), TypeError, "grads must be"),
    (
        "metrics-grads-shape",
        lambda: L.trajectory_metrics(X, grads=X[:-1]),
        InvalidInputError,
        "grads must have shape (5, 6)",
    ),
    (
        "metrics-final-nan",
        lambda: L.trajectory_metrics(X, final=np.full(N, np.nan)),
        InvalidInputError,
        "final must be finite",
    ),
    (
        "metrics-final-complex",
        lambda: L.trajectory_metrics(X, final=TH + 1j),
        TypeError,
        "final must be an array of real numbers",
    ),
    (
        "metrics-steps-range",
        lambda: L.trajectory_metrics(X, Q, steps=[99]),
        InvalidInputError,
        "steps must be integers in [-5, 5)",
    ),
    (
        "metrics-steps-float",
        lambda: L.trajectory_metrics(X, Q, steps=[0.5]),
        TypeError,
        "steps must be a non-empty sequence of integers",
    ),
    (
        "metrics-overlap",
        lambda: L.trajectory_metrics(X, Q, overlap="no"),
        TypeError,
        "overlap must be True or False",
    ),
    (
        "metrics-complex-hvp",
        lambda: L.trajectory_metrics(X, type("C", (Quadratic,), {"hvp": lambda s, x, v: v + 0j})()),
        TypeError,
        "obj.hvp must return real numbers",
    ),
    # plotting
    (
        "densities-str",
        lambda: L.plot_spectral_densities("abc"),
        TypeError,
        "plot_spectral_densities: hessian must be a mapping",
    ),
    (
        "densities-none",
        lambda: L.plot_spectral_densities(None),
        TypeError,
        "hessian must be a mapping",
    ),
    (
        "densities-empty",
        lambda: L.plot_spectral_densities([]),
        InvalidInputError,
        "hessian must hold at least one density",
    ),
    (
        "densities-bad-pair",
        lambda: L.plot_spectral_densities([(AL, AL, AL)]),
        InvalidInputError,
        "hessian[0] must be a pair (grid, density)",
    ),
    (
        "densities-complex",
        lambda: L.plot_spectral_densities((AL, AL + 1j)),
        TypeError,
        "hessian density must be an array of real numbers",
    ),
    (
        "densities-nan-grid",
        lambda: L.plot_spectral_densities((np.array([0.0, np.nan, 1.0]), np.ones(3))),
        InvalidInputError,
        "hessian grid must be finite",
    ),
    (
        "densities-short",
        lambda: L.plot_spectral_densities((AL[:1], AL[:1])),
        InvalidInputError,
        "one length >= 2",
    ),
    (
        "densities-mismatch",
        lambda: L.plot_spectral_densities([CURVE, CURVE], [CURVE]),
        InvalidInputError,
        "quasi_newton must hold one density per Hessian density (2), got 1",
    ),
    (
        "densities-floor-str",
        lambda: L.plot_spectral_densities(CURVE, floor="x"),
        TypeError,
        "floor must be a finite real number > 0",
    ),
    (
        "densities-floor0",
        lambda: L.plot_spectral_densities(CURVE, floor=0.0),
        InvalidInputError,
        "floor must be",
    ),
    (
        "densities-steps-len",
        lambda: L.plot_spectral_densities(CURVE, steps=[1, 2]),
        InvalidInputError,
        "steps must hold one label per density (1), got 2",
    ),
    (
        "densities-steps-int",
        lambda: L.plot_spectral_densities(CURVE, steps=3),
        TypeError,
        "steps must be a sequence of labels",
    ),
    (
        "densities-logy",
        lambda: L.plot_spectral_densities(CURVE, logy="yes"),
        TypeError,
        "logy must be True or False",
    ),
    (
        "densities-axes",
        lambda: L.plot_spectral_densities(CURVE, axes=[1]),
        TypeError,
        "axes must hold matplotlib Axes",
    ),
    (
        "interpolation-str",
        lambda: L.plot_interpolation("abc"),
        TypeError,
        "plot_interpolation: alphas must be a DataArray with an 'alpha' dimension",
    ),
    (
        "interpolation-none",
        lambda: L.plot_interpolation(None),
        TypeError,
        "alphas must be a DataArray",
    ),
    (
        "interpolation-complex",
        lambda: L.plot_interpolation(AL, AL + 1j),
        TypeError,
        "losses must be an array of real numbers",
    ),
    (
        "interpolation-losses-str",
        lambda: L.plot_interpolation(AL, "abcde"),
        TypeError,
        "losses must be",
    ),
    (
        "interpolation-shape",
        lambda: L.plot_interpolation(AL, np.ones(4)),
        InvalidInputError,
        "losses must have shape (5,) or (m, 5)",
    ),
    (
        "interpolation-empty",
        lambda: L.plot_interpolation(np.array([]), np.array([])),
        InvalidInputError,
        "alphas must be a non-empty flat vector",
    ),
    (
        "interpolation-alphas-nan",
        lambda: L.plot_interpolation(np.array([0.0, np.nan]), np.ones(2)),
        InvalidInputError,
        "alphas must be finite",
    ),
    (
        "interpolation-cmap",
        lambda: L.plot_interpolation(AL, np.ones((3, 5)), cmap="viridiss"),
        InvalidInputError,
        "unknown colormap 'viridiss'; did you mean 'viridis'",
    ),
    (
        "interpolation-labels-len",
        lambda: L.plot_interpolation(AL, np.ones((3, 5)), labels=["a"]),
        InvalidInputError,
        "labels must hold one label per curve (3), got 1",
    ),
    (
        "interpolation-labels-str",
        lambda: L.plot_interpolation(AL, np.ones((3, 5)), labels="abc"),
        TypeError,
        "labels must be a sequence of labels",
    ),
    (
        "interpolation-ax",
        lambda: L.plot_interpolation(AL, AL, ax="left"),
        TypeError,
        "ax must be matplotlib Axes",
    ),
    (
        "interpolation-colorbar",
        lambda: L.plot_interpolation(AL, AL, colorbar="no"),
        TypeError,
        "colorbar must be True or False",
    ),
    (
        "plane-plot-str",
        lambda: L.plot_plane("a", "b", "c"),
        TypeError,
        "plot_plane: A must be an array of real numbers",
    ),
    ("plane-plot-complex", lambda: L.plot_plane(GA + 1j, GB, GL), TypeError, "complex array"),
    (
        "plane-plot-shape",
        lambda: L.plot_plane(GA, GB, GL[:-1]),
        InvalidInputError,
        "A, B_ and L must be 2-D arrays of one shape",
    ),
    (
        "plane-plot-no-finite",
        lambda: L.plot_plane(GA, GB, GL * np.nan),
        InvalidInputError,
        "L must hold at least one finite loss",
    ),
    (
        "plane-plot-xy-str",
        lambda: L.plot_plane(GA, GB, GL, xy="abc"),
        TypeError,
        "xy must be an array (m, 2)",
    ),
    (
        "plane-plot-xy-shape",
        lambda: L.plot_plane(GA, GB, GL, xy=np.ones((3, 3))),
        InvalidInputError,
        "xy[0] must be an array of shape (m, 2)",
    ),
    (
        "plane-plot-levels-str",
        lambda: L.plot_plane(GA, GB, GL, levels="x"),
        TypeError,
        "levels must be an integer >= 1",
    ),
    (
        "plane-plot-levels0",
        lambda: L.plot_plane(GA, GB, GL, levels=0),
        InvalidInputError,
        "levels must be an integer >= 1",
    ),
    (
        "plane-plot-levels-order",
        lambda: L.plot_plane(GA, GB, GL, levels=[2.0, 1.0]),
        InvalidInputError,
        "levels must be an increasing sequence",
    ),
    (
        "plane-plot-labels",
        lambda: L.plot_plane(GA, GB, GL, labels=["a"]),
        InvalidInputError,
        "labels must hold one label per path (0), got 1",
    ),
    (
        "plane-plot-cmap",
        lambda: L.plot_plane(GA, GB, GL, cmap="nope"),
        InvalidInputError,
        "unknown colormap 'nope'",
    ),
    (
        "plane-plot-log",
        lambda: L.plot_plane(GA, GB, GL, log="yes"),
        TypeError,
        "log must be True or False",
    ),
    (
        "run-metrics-axes-junk",
        lambda: L.plot_run_metrics(X, axes=[1, 2]),
        TypeError,
        "plot_run_metrics: runs must be a Trajectory",
    ),
    (
        "designs-obj-str",
        lambda: L.plot_interpolation_designs("abc", TH, TH),
        TypeError,
        "plot_interpolation_designs: obj must be an objective with a method design(theta)",
    ),
    (
        "designs-alphas-str",
        lambda: L.plot_interpolation_designs(Q, TH, TH, alphas="abc"),
        TypeError,
        "alphas must be an array of real numbers",
    ),
    (
        "designs-alphas-empty",
        lambda: L.plot_interpolation_designs(Q, TH, TH, alphas=[]),
        InvalidInputError,
        "alphas must not be empty",
    ),
    (
        "designs-alphas-nan",
        lambda: L.plot_interpolation_designs(Q, TH, TH, alphas=[np.nan]),
        InvalidInputError,
        "alphas must be finite",
    ),
    (
        "designs-complex",
        lambda: L.plot_interpolation_designs(Q, TH + 1j, TH),
        TypeError,
        "theta_a must be an array of real numbers",
    ),
    (
        "designs-show-loss",
        lambda: L.plot_interpolation_designs(Q, TH, TH, show_loss=1),
        TypeError,
        "show_loss must be True or False",
    ),
    (
        "designs-axes-count",
        lambda: L.plot_interpolation_designs(Q, TH, TH, axes=plt.subplots(1, 2)[1]),
        InvalidInputError,
        "axes must hold 5 Axes, got 2",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_clear_exception(call, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent casts (ComplexWarning) on the way
        with pytest.raises(error) as info:
            call()
    assert match in str(info.value)
    if error is TypeError:
        assert not isinstance(info.value, ValueError)


def _run_cases(traj):
    ds = traj.to_xarray()
    bare = ts.optim.get("gd", lr=0.05).run(Q, TH, max_steps=2)
    return [
        (lambda: L.pca_directions(bare), InvalidInputError, "record_params=True"),
        (lambda: L.pca_directions(bare.to_xarray()), InvalidInputError, "no 'theta' variable"),
        (lambda: L.interpolate_to_final(Q, bare), InvalidInputError, "record_params=True"),
        (lambda: L.trajectory_metrics(bare, Q), InvalidInputError, "record_params=True"),
        (lambda: L.trajectory_metrics(ds.drop_vars("loss")), InvalidInputError, "'loss'"),
        (lambda: L.trajectory_metrics(traj, object()), TypeError, "obj must be an objective"),
        (
            lambda: L.trajectory_metrics(
                traj, Quadratic.__new__(type("Q3", (Quadratic,), {"size": 3}))
            ),
            InvalidInputError,
            "obj.size must match the iterates' length 6, got 3",
        ),
        (
            lambda: L.plot_run_metrics(traj, alpha="x"),
            TypeError,
            "alpha must be a finite real number in [0, 1] or None",
        ),
        (lambda: L.plot_run_metrics(traj, alpha=2.0), InvalidInputError, "alpha must be"),
        (lambda: L.plot_run_metrics(traj, median="yes"), TypeError, "median must be True or False"),
        (
            lambda: L.plot_run_metrics(traj, axes=[1, 2]),
            TypeError,
            "axes must hold matplotlib Axes, got an entry 1",
        ),
        (
            lambda: L.plot_run_metrics(traj, axes=plt.subplots(1, 3)[1]),
            InvalidInputError,
            "axes must hold 2 Axes, got 3",
        ),
    ]


def test_bad_input_with_a_run(traj):
    for call, error, match in _run_cases(traj):
        with pytest.raises(error) as info:
            call()
        assert match in str(info.value), (match, str(info.value))


def test_every_run_form_is_accepted(traj):
    """The functions that document a Trajectory, its Dataset or the iterates accept all three
    and agree."""
    ds = traj.to_xarray()
    center = traj.thetas[-1]
    d1, d2, evr = L.pca_directions(traj)
    for form in (ds, traj.thetas, list(traj.thetas)):
        e1, e2, evr2 = L.pca_directions(form)
        np.testing.assert_array_equal(e1, d1)
        np.testing.assert_array_equal(evr2.values, evr.values)
        np.testing.assert_array_equal(
            L.project(form, center, d1, d2), L.project(traj, center, d1, d2)
        )
        for fn in (L.interpolate_to_final, L.interpolate_successive):
            np.testing.assert_array_equal(fn(Q, form, n=3).values, fn(Q, traj, n=3).values)
    m = L.trajectory_metrics(traj, Q)
    for form in (ds, traj.thetas):
        other = L.trajectory_metrics(form, Q)
        for name in ("loss", "distance", "grad_cosine", "overlap", "step_length"):
            np.testing.assert_allclose(other[name].values, m[name].values, rtol=1e-12)
    # Seeds: an integer, a Generator (used as is) and a sequence of integers all work.
    a = L.random_directions(Q, TH, seed=3)
    b = L.random_directions(Q, TH, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    L.trace(A, samples=3, seed=[1, 2])


def test_valid_edge_values_still_work():
    """Bounds themselves are valid: k = n, steps = n, integer and float32 matrices, NumPy
    integers for counts, a sparse matrix."""
    w, _ = L.eigsh(A, k=N)
    np.testing.assert_allclose(w, np.arange(1.0, N + 1), rtol=1e-10)
    alpha, _ = L.lanczos(A, N)
    assert alpha.size == N
    w_int, _ = L.eigsh(A.astype(np.int64), k=np.int64(2))
    w_f32, _ = L.eigsh(A.astype(np.float32), k=2)
    w_sp, _ = L.eigsh(sp.csr_matrix(A), k=2)
    np.testing.assert_allclose(w_int, [N - 1.0, N], rtol=1e-10)
    np.testing.assert_allclose(w_f32, [N - 1.0, N], rtol=1e-6)
    np.testing.assert_allclose(w_sp, [N - 1.0, N], rtol=1e-10)
    _, losses = L.interpolate(Q, TH, 2 * TH, n=np.int32(3), extend=0)
    assert losses.shape == (3,)
    fig = L.plot_plane(GA, GB, np.where(GA > 1, np.nan, GA + GB), levels=[0.0, 1.0, 2.0])
    assert fig.get_axes()


def test_absurd_sizes_are_refused_before_allocating():
    # np.linspace(2**31 points) and a (2**31, steps) quadrature table were left to the OOM
    # killer; they are refused with the sizes named.
    import toposcape as ts
    from toposcape.errors import InsufficientMemoryError

    obj = ts.PixelObjective(ts.problems.mbb_beam(width=8, height=4, density=0.5))
    a = obj.x0
    with pytest.raises(InsufficientMemoryError, match="points needs"):
        ts.landscape.interpolate(obj, a, a + 1.0, n=2**40)
    with pytest.raises(InsufficientMemoryError, match="runs of"):
        ts.landscape.spectral_density(np.eye(8), runs=2**40, steps=4, progress=False)
