"""Spectra of Hessians and quasi-Newton matrices: Lanczos, SLQ densities, Hutchinson estimates.

Every function takes a symmetric operator ``H`` of order ``n``: a
:class:`scipy.sparse.linalg.LinearOperator` (:func:`hessian` of an objective,
``Trajectory.quasi_newton``), a dense array or a sparse matrix. Lanczos runs in the compiled
core (``toposcape._core``) with full reorthogonalization; only the matrix-vector products
call back into Python.

References
----------
Golub and Meurant (2009), *Matrices, Moments and Quadrature with Applications*: Gauss
quadrature from Lanczos. Ghorbani, Krishnan and Xiao (2019), "An investigation into neural net
optimization via Hessian eigenvalue density": stochastic Lanczos quadrature (SLQ) with
Gaussian broadening. Wu and Simon (2000), "Thick-restart Lanczos method for large symmetric
eigenvalue problems". Hutchinson (1990): trace estimation with Rademacher vectors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from .. import _core
from ..errors import InvalidInputError

__all__ = [
    "curvature",
    "eigsh",
    "frobenius_norm",
    "hessian",
    "lanczos",
    "overlap",
    "spectral_density",
    "trace",
]

#: Operators from this many unknowns show a progress bar over matrix-vector products (on a
#: terminal, unless ``progress`` says otherwise).
PROGRESS_MIN_SIZE = 100_000


def hessian(obj: Any, theta: np.ndarray) -> LinearOperator:
    """The Hessian of an objective at ``theta`` as a matrix-free operator.

    Parameters
    ----------
    obj : Objective with ``hvp(theta, v)``
        Any objective of the protocol (``PixelObjective``, ``CNNObjective``, the physics
        ``Compliance`` for the Hessian in density space, or one's own).
    theta : ndarray (n,)
        The point; copied, so later changes to the caller's array do not move the operator.

    Returns
    -------
    LinearOperator (n, n), float64
        ``H @ v`` calls ``obj.hvp(theta, v)``, or the product of ``obj.hvp_at(theta)`` when
        the objective offers one (the CNN objective: one graph reused by every product).
        ``H.hvp_count`` counts the products so far.
    """
    if not hasattr(obj, "hvp"):
        raise InvalidInputError("hessian needs an objective with an hvp(theta, v) method")
    point = np.array(theta, dtype=np.float64, copy=True)
    if point.ndim != 1 or point.size == 0:
        raise InvalidInputError(f"theta must be a non-empty 1-D array, got shape {point.shape}")
    if not np.all(np.isfinite(point)):
        raise InvalidInputError("theta contains NaN or inf")
    size = getattr(obj, "size", None)
    if size is not None and int(size) != point.size:
        raise InvalidInputError(f"theta has {point.size} entries, the objective {size}")
    n = point.size
    if hasattr(obj, "hvp_at"):
        product = obj.hvp_at(point)
    else:

        def product(v):
            return obj.hvp(point, v)

    class _Hessian(LinearOperator):
        def __init__(self) -> None:
            super().__init__(dtype=np.float64, shape=(n, n))
            self.hvp_count = 0
            self.theta = point

        def _matvec(self, v):
            self.hvp_count += 1
            return np.asarray(product(np.ravel(v)), dtype=np.float64)

        def _rmatvec(self, v):
            return self._matvec(v)

        def _adjoint(self):
            return self

    return _Hessian()


# --------------------------------------------------------------------------------------------
# Operators and random vectors
# --------------------------------------------------------------------------------------------


def _as_operator(H: Any) -> LinearOperator:
    try:
        op = aslinearoperator(H)
    except TypeError as exc:
        raise InvalidInputError(
            "H must be a LinearOperator, a dense array or a sparse matrix"
        ) from exc
    if len(op.shape) != 2 or op.shape[0] != op.shape[1] or op.shape[0] == 0:
        raise InvalidInputError(f"H must be square and non-empty, got shape {op.shape}")
    return op


def _matvec_of(op: LinearOperator, progress: bool | None, total: int | None, desc: str):
    """The operator's product as a callable for the core, with an optional progress bar."""
    n = op.shape[0]
    bar = None
    if progress or (progress is None and n >= PROGRESS_MIN_SIZE):
        from tqdm.auto import tqdm

        # Automatic bars only on a terminal (tqdm's disable=None), never in logs.
        bar = tqdm(
            total=total,
            desc=desc,
            unit="matvec",
            leave=False,
            disable=None if progress is None else False,
        )

    def matvec(x: np.ndarray) -> np.ndarray:
        y = np.asarray(op.matvec(x), dtype=np.float64).reshape(-1)
        if bar is not None:
            bar.update(1)
        return y

    return matvec, bar


def _rademacher(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0


def _check_count(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Lanczos and eigenpairs
# --------------------------------------------------------------------------------------------


def lanczos(
    H: Any,
    steps: int,
    v0: np.ndarray | None = None,
    seed: int | None = 0,
    return_basis: bool = False,
    progress: bool | None = None,
):
    """A Lanczos run with full reorthogonalization (in the core).

    Parameters
    ----------
    H : operator (n, n), symmetric
    steps : int
        Matrix-vector products (at most ``n``); fewer when the Krylov space becomes invariant.
    v0 : ndarray (n,), optional
        Start vector (normalized internally). Default: a Rademacher vector from ``seed``.
    return_basis : bool
        Also return the Lanczos vectors, ``(k, n)``, orthonormal rows.

    Returns
    -------
    alpha : ndarray (k,)
        Diagonal of the tridiagonal ``T = V H V^T``.
    beta : ndarray (k - 1,)
        Its off-diagonal.
    basis : ndarray (k, n)
        With ``return_basis=True``.
    """
    op = _as_operator(H)
    n = op.shape[0]
    steps = _check_count(steps, "steps")
    if steps > n:
        raise InvalidInputError(f"steps must be <= n = {n}, got {steps}")
    if v0 is None:
        v0 = _rademacher(np.random.default_rng(seed), n)
    v0 = _start_vector(v0, n)
    matvec, bar = _matvec_of(op, progress, steps, "Lanczos")
    try:
        return _core.lanczos(matvec, v0, steps, return_basis=return_basis)
    finally:
        if bar is not None:
            bar.close()


def _start_vector(v0: np.ndarray, n: int) -> np.ndarray:
    v0 = np.asarray(v0, dtype=np.float64)
    if v0.shape != (n,):
        raise InvalidInputError(f"v0 must have shape ({n},), got {v0.shape}")
    if not np.all(np.isfinite(v0)) or not np.any(v0):
        raise InvalidInputError("v0 must be finite and nonzero")
    return v0


def eigsh(
    H: Any,
    k: int = 10,
    which: str = "LA",
    tol: float = 1e-10,
    ncv: int | None = None,
    max_restarts: int = 200,
    v0: np.ndarray | None = None,
    seed: int | None = 0,
    return_info: bool = False,
    progress: bool | None = None,
):
    """Extremal eigenpairs of a symmetric operator by thick-restart Lanczos (in the core).

    Parameters
    ----------
    H : operator (n, n), symmetric
    k : int
        Number of eigenpairs, ``1 <= k <= n``.
    which : {"LA", "SA", "BE", "LM"}
        Largest algebraic, smallest algebraic, both ends (``k // 2`` smallest and the rest
        largest), or largest magnitude (what power iteration, e.g. PyHessian's, finds).
    tol : float
        A Ritz pair ``(lam, y)`` is accepted when ``||H y - lam y|| <= tol * max(|lam|,
        1e-3 * max|Ritz value|)``. The eigenvalue error is then at most that residual, and
        usually near its square divided by the gap to the rest of the spectrum.
    ncv : int, optional
        Krylov basis size, ``>= k + 1`` (memory: ``ncv`` vectors of length ``n``). Default
        ``max(2 k + 1, 20)``, at most ``n``. Convergence is checked at every step, so an
        easy case stops before the basis is full.
    max_restarts : int
        Restarts before giving up; a ``RuntimeWarning`` then reports the residuals.
    v0 : ndarray (n,), optional
        Start vector; default a Rademacher vector from ``seed``.
    return_info : bool
        Also return a dict: ``residuals``, ``matvecs``, ``restarts``, ``converged``.

    Returns
    -------
    w : ndarray (k,)
        Eigenvalues, ascending.
    V : ndarray (n, k)
        Orthonormal eigenvectors, column ``j`` for ``w[j]``.
    info : dict
        With ``return_info=True``.
    """
    op = _as_operator(H)
    n = op.shape[0]
    k = _check_count(k, "k")
    if k > n:
        raise InvalidInputError(f"k must be <= n = {n}, got {k}")
    if which not in ("LA", "SA", "BE", "LM"):
        raise InvalidInputError(f"which must be 'LA', 'SA', 'BE' or 'LM', got {which!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise InvalidInputError(f"tol must be positive and finite, got {tol!r}")
    ncv = max(2 * k + 1, 20) if ncv is None else _check_count(ncv, "ncv", 2)
    ncv = min(ncv, n)
    if ncv < min(k + 1, n):
        raise InvalidInputError(f"ncv must be >= k + 1 = {k + 1} (or >= n), got {ncv}")
    max_restarts = _check_count(max_restarts, "max_restarts", 0)
    if v0 is None:
        v0 = _rademacher(np.random.default_rng(seed), n)
    v0 = _start_vector(v0, n)
    matvec, bar = _matvec_of(op, progress, None, f"eigsh {which} k={k}")
    try:
        res = _core.eigsh(matvec, v0, k, which, float(tol), int(ncv), max_restarts)
    finally:
        if bar is not None:
            bar.close()
    if not res["converged"]:
        warnings.warn(
            f"eigsh: {k} eigenpairs ({which}) not converged to tol={tol:g} after "
            f"{res['restarts']} restarts ({res['matvecs']} products); largest residual "
            f"{np.max(res['residuals']):.3g}. Raise max_restarts or ncv.",
            RuntimeWarning,
            stacklevel=2,
        )
    w = res["values"]
    V = res["vectors"].T
    if return_info:
        info = {key: res[key] for key in ("residuals", "matvecs", "restarts", "converged")}
        return w, V, info
    return w, V


# --------------------------------------------------------------------------------------------
# Densities and stochastic estimates
# --------------------------------------------------------------------------------------------


def spectral_density(
    H: Any,
    runs: int = 3,
    steps: int = 50,
    sigma2: float = 1e-4,
    seed: int | None = 0,
    grid: np.ndarray | None = None,
    n_grid: int | None = None,
    relative: bool = True,
    return_quadrature: bool = False,
    progress: bool | None = None,
):
    """Eigenvalue density by stochastic Lanczos quadrature with Gaussian broadening.

    Each run starts Lanczos from a Rademacher vector; the Gauss quadrature of its tridiagonal
    (nodes = Ritz values, weights = squared first components) approximates the spectral
    measure ``(1/n) sum_i delta(lam - lam_i)`` seen from that vector; the runs are averaged
    and each node is broadened by a Gaussian.

    Parameters
    ----------
    H : operator (n, n), symmetric
    runs : int
        Random start vectors (the study: 3).
    steps : int
        Lanczos steps per run (the study: 50), at most ``n``.
    sigma2 : float
        Gaussian variance. With ``relative=True`` (the convention of PyHessian, whose SLQ the
        study used) the variance is ``sigma2 * max(1, lam_max - lam_min)``, the range taken
        over all runs' nodes (PyHessian averages each run's range and pads it by 0.01); with
        ``relative=False`` it is ``sigma2`` in the eigenvalues' units squared. Unlike
        PyHessian, the density is not renormalized on its grid.
    grid : ndarray (g,), optional
        Where to evaluate the density. Default: the node range padded by 5 standard
        deviations, with ``n_grid`` points (default: spacing at most a third of a standard
        deviation, between 1,000 and 200,000 points). Give ``grid`` or ``n_grid``, not both.
    return_quadrature : bool
        Also return ``(nodes, weights)``, arrays ``(runs, steps)`` (NaN-padded when a run
        stopped early at an invariant subspace).

    Returns
    -------
    grid : ndarray (g,)
    density : ndarray (g,)
        Integrates to 1 over the real line (each Gaussian is normalized; the default grid
        holds all but a negligible tail).
    """
    op = _as_operator(H)
    n = op.shape[0]
    runs = _check_count(runs, "runs")
    steps = _check_count(steps, "steps")
    if steps > n:
        raise InvalidInputError(f"steps must be <= n = {n}, got {steps}")
    if not (np.isfinite(sigma2) and sigma2 > 0):
        raise InvalidInputError(f"sigma2 must be positive and finite, got {sigma2!r}")
    rng = np.random.default_rng(seed)
    nodes = np.full((runs, steps), np.nan)
    weights = np.full((runs, steps), np.nan)
    matvec, bar = _matvec_of(op, progress, runs * steps, "SLQ")
    try:
        for r in range(runs):
            alpha, beta = _core.lanczos(matvec, _rademacher(rng, n), steps)
            x, w = _core.gauss_quadrature(alpha, beta)
            nodes[r, : x.size] = x
            weights[r, : w.size] = w
    finally:
        if bar is not None:
            bar.close()
    valid = np.isfinite(nodes)
    lo, hi = float(nodes[valid].min()), float(nodes[valid].max())
    variance = sigma2 * max(1.0, hi - lo) if relative else float(sigma2)
    std = np.sqrt(variance)
    if grid is not None and n_grid is not None:
        raise InvalidInputError("give grid or n_grid, not both")
    if grid is None:
        if n_grid is None:
            n_grid = int(np.clip(np.ceil((hi - lo + 10 * std) / (std / 3)), 1000, 200_000))
        grid = np.linspace(lo - 5 * std, hi + 5 * std, _check_count(n_grid, "n_grid", 2))
    else:
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
            raise InvalidInputError("grid must be a non-empty 1-D array of finite values")
    density = broadened_density(grid, nodes[valid], weights[valid] / runs, variance)
    if return_quadrature:
        return grid, density, (nodes, weights)
    return grid, density


def broadened_density(
    grid: np.ndarray, nodes: np.ndarray, weights: np.ndarray, variance: float
) -> np.ndarray:
    """``sum_i weights_i N(grid; nodes_i, variance)``: point masses broadened by Gaussians.

    Parameters
    ----------
    grid : ndarray (g,)
    nodes, weights : ndarray (m,)
    variance : float
        In the nodes' units squared.

    Returns
    -------
    ndarray (g,)
    """
    grid = np.asarray(grid, dtype=np.float64)
    nodes = np.ravel(np.asarray(nodes, dtype=np.float64))
    weights = np.ravel(np.asarray(weights, dtype=np.float64))
    if nodes.shape != weights.shape:
        raise InvalidInputError("nodes and weights must have the same number of entries")
    if not (np.isfinite(variance) and variance > 0):
        raise InvalidInputError("variance must be positive and finite")
    out = np.zeros(grid.shape)
    norm = 1.0 / np.sqrt(2.0 * np.pi * variance)
    chunk = max(1, 4_000_000 // max(1, nodes.size))  # bounded temporary (g_chunk x m)
    for start in range(0, grid.size, chunk):
        g = grid[start : start + chunk, None]
        out[start : start + chunk] = (
            np.exp(-((g - nodes[None, :]) ** 2) / (2.0 * variance)) @ weights
        ) * norm
    return out


def _hutchinson(H: Any, samples: int, seed: int | None, progress, fn: Callable, desc: str):
    op = _as_operator(H)
    n = op.shape[0]
    samples = _check_count(samples, "samples")
    rng = np.random.default_rng(seed)
    matvec, bar = _matvec_of(op, progress, samples, desc)
    values = np.empty(samples)
    try:
        for i in range(samples):
            z = _rademacher(rng, n)
            values[i] = fn(z, matvec(z))
    finally:
        if bar is not None:
            bar.close()
    return values


def trace(
    H: Any,
    samples: int = 50,
    seed: int | None = 0,
    return_error: bool = False,
    progress: bool | None = None,
):
    """Hutchinson estimate of ``tr(H)``: the mean of ``z^T H z`` over Rademacher ``z``.

    Returns
    -------
    float
        The estimate; with ``return_error=True``, ``(estimate, standard_error)`` where the
        standard error is the sample standard deviation over ``sqrt(samples)`` (NaN for one
        sample).
    """
    values = _hutchinson(H, samples, seed, progress, lambda z, hz: float(z @ hz), "trace")
    estimate = float(values.mean())
    if not return_error:
        return estimate
    error = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else np.nan
    return estimate, error


def frobenius_norm(
    H: Any,
    samples: int = 50,
    seed: int | None = 0,
    return_error: bool = False,
    progress: bool | None = None,
):
    """Hutchinson estimate of ``||H||_F = sqrt(E ||H z||^2)`` over Rademacher ``z``.

    Returns
    -------
    float
        The estimate; with ``return_error=True``, ``(estimate, standard_error)``, the error
        propagated from the mean of ``||H z||^2`` (delta method).
    """
    values = _hutchinson(H, samples, seed, progress, lambda z, hz: float(hz @ hz), "frobenius")
    mean = float(values.mean())
    estimate = float(np.sqrt(max(mean, 0.0)))
    if not return_error:
        return estimate
    if values.size < 2 or estimate == 0.0:
        return estimate, np.nan
    return estimate, float(values.std(ddof=1) / np.sqrt(values.size) / (2.0 * estimate))


def curvature(H: Any, d: np.ndarray) -> float:
    """Curvature along a direction: ``d^T H d / d^T d``."""
    op = _as_operator(H)
    d = _direction(d, op.shape[0], "d")
    return float(d @ np.asarray(op.matvec(d)).ravel() / (d @ d))


def overlap(H: Any, g: np.ndarray) -> float:
    """How well ``g`` aligns with its image: ``g^T H g / (||g|| ||H g||)``, in [-1, 1].

    Near 1 when ``g`` lies in the span of a few top eigenvectors (Gur-Ari et al. 2018).
    NaN when ``H g = 0``.
    """
    op = _as_operator(H)
    g = _direction(g, op.shape[0], "g")
    hg = np.asarray(op.matvec(g)).ravel()
    denominator = np.linalg.norm(g) * np.linalg.norm(hg)
    return float(g @ hg / denominator) if denominator > 0 else float("nan")


def _direction(d: np.ndarray, n: int, name: str) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    if d.shape != (n,):
        raise InvalidInputError(f"{name} must have shape ({n},), got {d.shape}")
    if not np.all(np.isfinite(d)) or not np.any(d):
        raise InvalidInputError(f"{name} must be finite and nonzero")
    return d
