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
from scipy.sparse.linalg import LinearOperator

from .. import _core, _validate
from ..errors import InvalidInputError
from ._common import (
    as_operator,
    check_allocation,
    check_real_result,
    method,
    nonzero_vector,
    optional_flag,
    rng,
)

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
        Any objective of the protocol (``PixelObjective``, ``CNNObjective``, or one's own);
        for the Hessian in density space, ``PixelObjective(..., volume_constraint=False)``
        (the physics ``Compliance`` itself takes ``(H, W)`` densities, not a flat vector).
    theta : ndarray (n,)
        The point; copied, so later changes to the caller's array do not move the operator.

    Returns
    -------
    LinearOperator (n, n), float64
        ``H @ v`` calls ``obj.hvp(theta, v)``, or the product of ``obj.hvp_at(theta)`` when
        the objective offers one (the CNN objective: one graph reused by every product).
        ``H.hvp_count`` counts the products so far.
    """
    who = "hessian"
    method(obj, "hvp", "hvp(theta, v)", who)
    size = getattr(obj, "size", None)
    if size is not None:
        size = _validate.integer(size, "obj.size", minimum=1, who=who)
    point = _validate.vector(theta, "theta", size, copy=True, who=who)
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
            return check_real_result(product(np.ravel(v)), "the objective's hvp", who)

        def _rmatvec(self, v):
            return self._matvec(v)

        def _adjoint(self):
            return self

    return _Hessian()


# --------------------------------------------------------------------------------------------
# Operators and random vectors
# --------------------------------------------------------------------------------------------


def _matvec_of(op: LinearOperator, progress: bool | None, total: int | None, desc: str, who: str):
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
        y = check_real_result(op.matvec(x), "H's matvec", who).reshape(-1)
        if bar is not None:
            bar.update(1)
        return y

    return matvec, bar


def _rademacher(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0


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
    who = "lanczos"
    op = as_operator(H, who)
    n = op.shape[0]
    steps = _validate.integer(steps, "steps", minimum=1, maximum=n, who=who)
    return_basis = _validate.flag(return_basis, "return_basis", who)
    progress = optional_flag(progress, "progress", who)
    v0 = _start_vector(v0, seed, n, who)
    matvec, bar = _matvec_of(op, progress, steps, "Lanczos", who)
    try:
        return _core.lanczos(matvec, v0, steps, return_basis=return_basis)
    finally:
        if bar is not None:
            bar.close()


def _start_vector(v0: Any, seed: Any, n: int, who: str) -> np.ndarray:
    """The given start vector (checked), else a Rademacher vector from ``seed``."""
    if v0 is None:
        return _rademacher(rng(seed, who), n)
    v0 = nonzero_vector(v0, "v0", n, who)
    # Only v0's direction matters (Lanczos normalizes it): bring a vector whose norm would
    # over- or underflow into range by a power of two (exact, so the direction is unchanged).
    peak = float(np.max(np.abs(v0)))
    if peak > 2.0**500 or peak < 2.0**-500:
        shift = -int(np.frexp(peak)[1])  # up to 1074 for subnormals: two exact halves
        v0 = v0 * float(np.ldexp(1.0, shift // 2)) * float(np.ldexp(1.0, shift - shift // 2))
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
    who = "eigsh"
    op = as_operator(H, who)
    n = op.shape[0]
    k = _validate.integer(k, "k", minimum=1, maximum=n, who=who)
    which = _validate.option(which, "which", ("LA", "SA", "BE", "LM"), who)
    tol = _validate.real(tol, "tol", minimum=0.0, lower_open=True, who=who)
    if ncv is None:
        ncv = min(max(2 * k + 1, 20), n)
    else:
        ncv = _validate.integer(ncv, "ncv", minimum=2, who=who)
        if min(ncv, n) < min(k + 1, n):
            raise _validate.fail("ncv", f"an integer >= k + 1 = {k + 1} (or >= n = {n})", ncv, who)
        ncv = min(ncv, n)
    max_restarts = _validate.integer(max_restarts, "max_restarts", minimum=0, who=who)
    return_info = _validate.flag(return_info, "return_info", who)
    progress = optional_flag(progress, "progress", who)
    v0 = _start_vector(v0, seed, n, who)
    matvec, bar = _matvec_of(op, progress, None, f"eigsh {which} k={k}", who)
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
    who = "spectral_density"
    op = as_operator(H, who)
    n = op.shape[0]
    runs = _validate.integer(runs, "runs", minimum=1, who=who)
    steps = _validate.integer(steps, "steps", minimum=1, maximum=n, who=who)
    sigma2 = _validate.real(sigma2, "sigma2", minimum=0.0, lower_open=True, who=who)
    relative = _validate.flag(relative, "relative", who)
    return_quadrature = _validate.flag(return_quadrature, "return_quadrature", who)
    progress = optional_flag(progress, "progress", who)
    if grid is not None and n_grid is not None:
        raise InvalidInputError(f"{who}: give grid or n_grid, not both")
    if grid is not None:
        grid = _validate.vector(grid, "grid", who=who)
    n_grid = _validate.integer(n_grid, "n_grid", minimum=2, allow_none=True, who=who)
    generator = rng(seed, who)
    check_allocation(16.0 * runs * steps + 8.0 * steps * n, f"{runs} runs of {steps} steps", who)
    nodes = np.full((runs, steps), np.nan)
    weights = np.full((runs, steps), np.nan)
    matvec, bar = _matvec_of(op, progress, runs * steps, "SLQ", who)
    try:
        for r in range(runs):
            alpha, beta = _core.lanczos(matvec, _rademacher(generator, n), steps)
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
    if grid is None:
        if n_grid is None:
            n_grid = int(np.clip(np.ceil((hi - lo + 10 * std) / (std / 3)), 1000, 200_000))
        grid = np.linspace(lo - 5 * std, hi + 5 * std, n_grid)
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
    who = "broadened_density"
    grid = _validate.vector(grid, "grid", who=who)
    nodes = np.ravel(_validate.array(nodes, "nodes", who=who))
    weights = np.ravel(_validate.array(weights, "weights", who=who))
    if nodes.shape != weights.shape:
        raise _validate.fail(
            "weights", f"an array of {nodes.size} entries (one per node)", weights, who
        )
    variance = _validate.real(variance, "variance", minimum=0.0, lower_open=True, who=who)
    out = np.zeros(grid.shape)
    norm = 1.0 / np.sqrt(2.0 * np.pi * variance)
    chunk = max(1, 4_000_000 // max(1, nodes.size))  # bounded temporary (g_chunk x m)
    for start in range(0, grid.size, chunk):
        g = grid[start : start + chunk, None]
        out[start : start + chunk] = (
            np.exp(-((g - nodes[None, :]) ** 2) / (2.0 * variance)) @ weights
        ) * norm
    return out


def _hutchinson(H: Any, samples: int, seed: Any, progress, fn: Callable, desc: str, who: str):
    op = as_operator(H, who)
    n = op.shape[0]
    samples = _validate.integer(samples, "samples", minimum=1, who=who)
    progress = optional_flag(progress, "progress", who)
    generator = rng(seed, who)
    matvec, bar = _matvec_of(op, progress, samples, desc, who)
    values = np.empty(samples)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(samples):
                z = _rademacher(generator, n)
                values[i] = fn(z, matvec(z))
            total = values.sum()
    finally:
        if bar is not None:
            bar.close()
    if not np.isfinite(total):
        raise InvalidInputError(
            f"{who}: the Hutchinson estimate overflows float64 (H's entries are too large; "
            "scale H down)"
        )
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
    return_error = _validate.flag(return_error, "return_error", "trace")
    values = _hutchinson(H, samples, seed, progress, lambda z, hz: float(z @ hz), "trace", "trace")
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
    return_error = _validate.flag(return_error, "return_error", "frobenius_norm")
    values = _hutchinson(
        H, samples, seed, progress, lambda z, hz: float(hz @ hz), "frobenius", "frobenius_norm"
    )
    mean = float(values.mean())
    estimate = float(np.sqrt(max(mean, 0.0)))
    if not return_error:
        return estimate
    if values.size < 2 or estimate == 0.0:
        return estimate, np.nan
    return estimate, float(values.std(ddof=1) / np.sqrt(values.size) / (2.0 * estimate))


def curvature(H: Any, d: np.ndarray) -> float:
    """Curvature along a direction: ``d^T H d / d^T d``."""
    op = as_operator(H, "curvature")
    d = nonzero_vector(d, "d", op.shape[0], "curvature")
    hd = check_real_result(op.matvec(d), "H's matvec", "curvature").ravel()
    return float(d @ hd / (d @ d))


def overlap(H: Any, g: np.ndarray) -> float:
    """How well ``g`` aligns with its image: ``g^T H g / (||g|| ||H g||)``, in [-1, 1].

    Near 1 when ``g`` lies in the span of a few top eigenvectors (Gur-Ari et al. 2018).
    NaN when ``H g = 0``.
    """
    op = as_operator(H, "overlap")
    g = nonzero_vector(g, "g", op.shape[0], "overlap")
    hg = check_real_result(op.matvec(g), "H's matvec", "overlap").ravel()
    denominator = np.linalg.norm(g) * np.linalg.norm(hg)
    return float(g @ hg / denominator) if denominator > 0 else float("nan")
