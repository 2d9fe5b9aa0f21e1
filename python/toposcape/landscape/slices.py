"""One- and two-dimensional slices of the loss landscape, and paths projected into a plane.

* :func:`interpolate`: the loss along the segment ``(1 - a) theta_a + a theta_b``;
* the four interpolations of the study (studies.md, section 1), as labelled arrays:
  (a) :func:`interpolate_between` random initialisations, (b) :func:`interpolate_to_final`
  from each iterate to the final point, (c) :func:`interpolate_from_inits` from random
  initialisations to the final point, (d) :func:`interpolate_successive` between successive
  iterates (:func:`interpolate_pairs` is the general form);
* :func:`plane`: the loss on a grid ``center + a d1 + b d2``;
* :func:`project`: an optimizer's iterates in the coordinates ``(a, b)`` of such a plane.

Every loss is one objective call (``obj.value(theta)`` when the objective has it, else
``obj.value_and_grad(theta)[0]``); a tqdm bar shows the progress of long slices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError
from .directions import _as_thetas, _size_of, _vector

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "interpolate",
    "interpolate_between",
    "interpolate_from_inits",
    "interpolate_pairs",
    "interpolate_successive",
    "interpolate_to_final",
    "plane",
    "project",
]

#: Slices with more objective evaluations than this show a progress bar (``progress=None``).
PROGRESS_THRESHOLD = 200


def _loss_function(obj: Any) -> Callable[[np.ndarray], float]:
    """``theta -> float`` loss of an objective (its cheaper ``value`` when it has one)."""
    value = getattr(obj, "value", None)
    if callable(value):
        return lambda theta: float(value(theta))
    vg = getattr(obj, "value_and_grad", None)
    if not callable(vg):
        raise InvalidInputError("the objective has no value_and_grad (see toposcape.Objective)")
    return lambda theta: float(vg(theta)[0])


def _bar(total: int, progress: bool | None, desc: str):
    """A tqdm bar over ``total`` evaluations, or None when no bar is wanted."""
    show = total > PROGRESS_THRESHOLD if progress is None else bool(progress)
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def _count(n: Any, name: str, minimum: int = 2) -> int:
    if isinstance(n, bool) or int(n) != n or n < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _finite(x: Any, name: str, nonnegative: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, got {x!r}") from None
    if not np.isfinite(v) or (nonnegative and v < 0):
        kind = "a finite non-negative" if nonnegative else "a finite"
        raise InvalidInputError(f"{name} must be {kind} number, got {x!r}")
    return v


def _alphas(n: int, extend: float) -> np.ndarray:
    return np.linspace(-extend, 1.0 + extend, n)


def _segments(
    obj: Any,
    starts: np.ndarray,
    ends: np.ndarray,
    alphas: np.ndarray,
    progress: bool | None,
    desc: str,
) -> np.ndarray:
    """Losses ``(n_segments, n_alphas)`` along ``(1 - a) start + a end``."""
    loss = _loss_function(obj)
    out = np.empty((starts.shape[0], alphas.size))
    bar = _bar(out.size, progress, desc)
    try:
        for i in range(starts.shape[0]):
            delta = ends[i] - starts[i]
            for k, a in enumerate(alphas):
                # Exact end points: alpha 0 and 1 evaluate the given vectors themselves.
                if a == 0.0:
                    theta = starts[i]
                elif a == 1.0:
                    theta = ends[i]
                else:
                    theta = starts[i] + a * delta
                out[i, k] = loss(theta)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


def interpolate(
    obj: Any,
    theta_a: np.ndarray,
    theta_b: np.ndarray,
    n: int = 51,
    extend: float = 0.0,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The loss along the straight line from ``theta_a`` to ``theta_b`` (a 1-D slice).

    Parameters
    ----------
    obj : Objective
    theta_a, theta_b : ndarray (size,)
        End points (``alpha = 0`` and ``alpha = 1``).
    n : int
        Number of points, >= 2, evenly spaced in ``[-extend, 1 + extend]``.
    extend : float
        How far to go beyond each end, as a fraction of the segment (>= 0).
    progress : bool or None
        Show a tqdm bar; None: only for more than 200 evaluations.

    Returns
    -------
    alphas : ndarray (n,)
        ``linspace(-extend, 1 + extend, n)``.
    losses : ndarray (n,)
        ``f((1 - alpha) theta_a + alpha theta_b)``; at ``alpha`` exactly 0 or 1 the end points
        themselves are evaluated.
    """
    size = _size_of(obj)
    a = _vector(theta_a, "theta_a", size)
    b = _vector(theta_b, "theta_b", size)
    n = _count(n, "n")
    extend = _finite(extend, "extend", nonnegative=True)
    alphas = _alphas(n, extend)
    losses = _segments(obj, a[None], b[None], alphas, progress, "interpolate")[0]
    return alphas, losses


def interpolate_pairs(
    obj: Any,
    starts: Any,
    ends: Any,
    n: int = 21,
    extend: float = 0.0,
    progress: bool | None = None,
    dim: str = "pair",
) -> xr.DataArray:
    """:func:`interpolate` for many segments at once, as a labelled array.

    Parameters
    ----------
    obj : Objective
    starts, ends : ndarray (m, size) or (size,)
        Segment ``i`` runs from ``starts[i]`` to ``ends[i]``; a single vector is broadcast
        against the other argument's rows.
    n, extend, progress
        As :func:`interpolate`.
    dim : str
        Name of the segment dimension.

    Returns
    -------
    xarray.DataArray (m, n)
        Dims ``(dim, "alpha")``, coordinates ``alpha`` and ``dim = 0..m-1``; name ``"loss"``.
    """
    import xarray as xr

    size = _size_of(obj)
    S = _rows(starts, "starts", size)
    E = _rows(ends, "ends", size)
    if S.shape[0] != E.shape[0]:
        if S.shape[0] == 1:
            S = np.broadcast_to(S, E.shape)
        elif E.shape[0] == 1:
            E = np.broadcast_to(E, S.shape)
        else:
            raise InvalidInputError(
                f"starts and ends hold {S.shape[0]} and {E.shape[0]} vectors; they must match"
            )
    n = _count(n, "n")
    extend = _finite(extend, "extend", nonnegative=True)
    alphas = _alphas(n, extend)
    losses = _segments(obj, S, E, alphas, progress, "interpolate")
    return xr.DataArray(
        losses,
        dims=(dim, "alpha"),
        coords={dim: np.arange(S.shape[0]), "alpha": alphas},
        name="loss",
    )


def _rows(x: Any, name: str, size: int) -> np.ndarray:
    if np.iscomplexobj(x):
        raise InvalidInputError(f"{name} must be real, got complex values")
    if isinstance(x, Sequence) and not isinstance(x, np.ndarray):
        x = [np.asarray(v, dtype=np.float64) for v in x]
        if not x:
            raise InvalidInputError(f"{name} is empty")
        shapes = {v.shape for v in x}
        if len(shapes) != 1:
            raise InvalidInputError(f"{name}: vectors of different shapes {sorted(shapes)}")
        x = np.stack(x)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != size or arr.shape[0] < 1:
        raise InvalidInputError(
            f"{name} must be vectors of length {size} ((m, {size}) or ({size},)), "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} contains NaN or inf")
    return arr


def _steps(steps: Any, count: int, name: str = "steps") -> np.ndarray:
    if steps is None:
        return np.arange(count)
    arr = np.atleast_1d(np.asarray(steps))
    if arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"{name} must be a non-empty sequence of integers, got {steps!r}")
    arr = arr.astype(np.int64)
    if arr.min() < -count or arr.max() >= count:
        raise InvalidInputError(f"{name} must lie in [0, {count}), got {steps!r}")
    return np.where(arr < 0, arr + count, arr)


def interpolate_between(
    obj: Any,
    inits: Any,
    n: int = 21,
    extend: float = 0.0,
    progress: bool | None = None,
) -> xr.DataArray:
    """Study interpolation (a): between every pair of (random) initialisations.

    Parameters
    ----------
    obj : Objective
    inits : ndarray (m, size) or sequence of (size,), m >= 2
        The initial points (e.g. ``CNNObjective(..., seed=s).x0`` for several seeds).
    n, extend, progress
        As :func:`interpolate`.

    Returns
    -------
    xarray.DataArray (m (m - 1) / 2, n)
        Dims ``("pair", "alpha")``; coordinates ``init_a`` and ``init_b`` on ``pair`` give the
        indices ``i < j`` of the two end points (from ``inits[i]`` at ``alpha = 0`` to
        ``inits[j]`` at 1), in lexicographic order.
    """
    X = _rows(inits, "inits", _size_of(obj))
    if X.shape[0] < 2:
        raise InvalidInputError("interpolate_between needs at least two initial points")
    ia, ib = np.triu_indices(X.shape[0], k=1)
    da = interpolate_pairs(obj, X[ia], X[ib], n=n, extend=extend, progress=progress)
    return da.assign_coords(init_a=("pair", ia), init_b=("pair", ib))


def interpolate_to_final(
    obj: Any,
    traj: Any,
    steps: Any = None,
    n: int = 21,
    extend: float = 0.0,
    final: np.ndarray | None = None,
    progress: bool | None = None,
) -> xr.DataArray:
    """Study interpolation (b): from each iterate ``theta_j`` to the final point ``theta_T``.

    Parameters
    ----------
    obj : Objective
    traj : Trajectory, Dataset or ndarray (K+1, size)
        A run with ``record_params=True`` (or its iterates).
    steps : sequence of int, optional
        Which iterates ``j`` to start from (default all, ``0..K``).
    n, extend, progress
        As :func:`interpolate`.
    final : ndarray (size,), optional
        The end point instead of the last iterate (e.g. ``traj.best_theta``).

    Returns
    -------
    xarray.DataArray (len(steps), n)
        Dims ``("step", "alpha")``; ``alpha = 0`` is ``theta_j``, ``alpha = 1`` the final point.
    """
    thetas = _as_thetas(traj)
    size = _size_of(obj)
    if thetas.shape[1] != size:
        raise InvalidInputError(f"traj holds vectors of length {thetas.shape[1]}, not {size}")
    end = thetas[-1] if final is None else _vector(final, "final", size)
    idx = _steps(steps, thetas.shape[0])
    da = interpolate_pairs(obj, thetas[idx], end, n=n, extend=extend, progress=progress, dim="step")
    return da.assign_coords(step=idx)


def interpolate_from_inits(
    obj: Any,
    inits: Any,
    final: np.ndarray,
    n: int = 21,
    extend: float = 0.0,
    progress: bool | None = None,
) -> xr.DataArray:
    """Study interpolation (c): from (random) initialisations to the final point.

    Parameters
    ----------
    obj : Objective
    inits : ndarray (m, size) or sequence of (size,)
        Initial points (``alpha = 0``).
    final : ndarray (size,)
        The common end point (``alpha = 1``), e.g. a run's ``traj.theta``.
    n, extend, progress
        As :func:`interpolate`.

    Returns
    -------
    xarray.DataArray (m, n)
        Dims ``("init", "alpha")``.
    """
    size = _size_of(obj)
    X = _rows(inits, "inits", size)
    end = _vector(final, "final", size)
    return interpolate_pairs(obj, X, end, n=n, extend=extend, progress=progress, dim="init")


def interpolate_successive(
    obj: Any,
    traj: Any,
    steps: Any = None,
    n: int = 11,
    extend: float = 0.0,
    progress: bool | None = None,
) -> xr.DataArray:
    """Study interpolation (d): between successive iterates ``theta_j`` and ``theta_{j+1}``.

    Shows whether a step crossed a barrier (a loss above both ends) or stopped short of the
    minimum along its own line.

    Parameters
    ----------
    obj : Objective
    traj : Trajectory, Dataset or ndarray (K+1, size)
        A run with ``record_params=True`` (or its iterates), K >= 1.
    steps : sequence of int, optional
        Which steps ``j`` (segments ``theta_j -> theta_{j+1}``, ``0 <= j < K``); default all.
    n, extend, progress
        As :func:`interpolate`.

    Returns
    -------
    xarray.DataArray (len(steps), n)
        Dims ``("step", "alpha")``; coordinate ``step = j`` labels the segment starting at
        ``theta_j`` (``alpha = 0``) and ending at ``theta_{j+1}`` (``alpha = 1``).
    """
    thetas = _as_thetas(traj)
    size = _size_of(obj)
    if thetas.shape[1] != size:
        raise InvalidInputError(f"traj holds vectors of length {thetas.shape[1]}, not {size}")
    if thetas.shape[0] < 2:
        raise InvalidInputError("interpolate_successive needs at least two iterates")
    idx = _steps(steps, thetas.shape[0] - 1)
    da = interpolate_pairs(
        obj, thetas[idx], thetas[idx + 1], n=n, extend=extend, progress=progress, dim="step"
    )
    return da.assign_coords(step=idx)


# ------------------------------------------------------------------------------------------------
# Planes
# ------------------------------------------------------------------------------------------------
def _extent(extent: Any) -> tuple[float, float, float, float]:
    e = np.atleast_1d(np.asarray(extent, dtype=np.float64))
    if e.ndim != 1 or e.size not in (1, 2, 4) or not np.all(np.isfinite(e)):
        raise InvalidInputError(
            "extent must be a finite number e, a pair (ea, eb) or (amin, amax, bmin, bmax), "
            f"got {extent!r}"
        )
    if e.size == 1:
        e = np.array([-e[0], e[0], -e[0], e[0]])
    elif e.size == 2:
        e = np.array([-e[0], e[0], -e[1], e[1]])
    if not (e[0] < e[1] and e[2] < e[3]):
        raise InvalidInputError(f"extent gives an empty range: {tuple(e)}")
    return tuple(float(v) for v in e)


def plane(
    obj: Any,
    center: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
    extent: Any = 1.0,
    n: Any = 41,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loss on the plane ``center + a d1 + b d2`` over a regular grid (a 2-D slice).

    Parameters
    ----------
    obj : Objective
    center : ndarray (size,)
        The origin ``(a, b) = (0, 0)``, e.g. the final iterate.
    d1, d2 : ndarray (size,)
        The plane's directions (not necessarily orthogonal or normalised), e.g. from
        :func:`random_directions`, :func:`pca_directions` or :func:`eigen_directions`.
    extent : float, (ea, eb) or (amin, amax, bmin, bmax)
        Coordinate ranges: ``e`` means ``a, b in [-e, e]``; a pair gives ``a in [-ea, ea]``,
        ``b in [-eb, eb]``.
    n : int or (na, nb)
        Grid points along ``a`` and ``b`` (each >= 2); the grid contains ``(0, 0)`` when the
        ranges are symmetric and the counts odd.
    progress : bool or None
        Show a tqdm bar; None: only for grids of more than 200 points.

    Returns
    -------
    A, B_ : ndarray (nb, na)
        Grid coordinates, ``numpy.meshgrid(a, b)`` (``indexing="xy"``), so that
        ``plt.contour(A, B_, L)`` draws the plane with ``a`` along x.
    L : ndarray (nb, na)
        ``L[i, j] = f(center + A[i, j] d1 + B_[i, j] d2)``: one objective call per point.
    """
    size = _size_of(obj)
    center = _vector(center, "center", size)
    d1 = _vector(d1, "d1", size)
    d2 = _vector(d2, "d2", size)
    amin, amax, bmin, bmax = _extent(extent)
    counts = np.atleast_1d(np.asarray(n))
    if counts.size == 1:
        na = nb = _count(counts[0], "n")
    elif counts.size == 2:
        na, nb = _count(counts[0], "n[0]"), _count(counts[1], "n[1]")
    else:
        raise InvalidInputError(f"n must be an integer or a pair (na, nb), got {n!r}")
    a = np.linspace(amin, amax, na)
    b = np.linspace(bmin, bmax, nb)
    A, B_ = np.meshgrid(a, b)
    L = np.empty_like(A)
    loss = _loss_function(obj)
    bar = _bar(L.size, progress, "plane")
    try:
        for i in range(nb):
            row = center + b[i] * d2
            for j in range(na):
                L[i, j] = loss(row + a[j] * d1)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return A, B_, L


def project(
    traj: Any,
    center: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
) -> np.ndarray:
    """Coordinates of points in the plane ``center + a d1 + b d2`` (least squares).

    ``(a, b)`` minimises ``||theta - center - a d1 - b d2||``: the orthogonal projection onto
    the plane, expressed in the (possibly non-orthogonal, non-normalised) basis ``d1, d2``;
    for orthonormal directions this is ``((theta - center) . d1, (theta - center) . d2)``.

    Parameters
    ----------
    traj : Trajectory, Dataset, ndarray (m, size) or ndarray (size,)
        Iterates (a run with ``record_params=True``), a stack of points, or one point.
    center : ndarray (size,)
    d1, d2 : ndarray (size,)
        Linearly independent directions.

    Returns
    -------
    ndarray (m, 2), or (2,) for a single point
        ``[:, 0]`` the coordinate along ``d1``, ``[:, 1]`` along ``d2``.
    """
    single = isinstance(traj, np.ndarray | list | tuple) and np.ndim(traj) == 1
    X = _vector(traj, "traj")[None] if single else _as_thetas(traj)
    size = X.shape[1]
    center = _vector(center, "center", size)
    D = np.column_stack([_vector(d1, "d1", size), _vector(d2, "d2", size)])
    G = D.T @ D
    if G[0, 0] == 0 or G[1, 1] == 0:
        raise InvalidInputError("d1 and d2 must be non-zero")
    if np.linalg.det(G) <= 1e-12 * G[0, 0] * G[1, 1]:
        raise InvalidInputError("d1 and d2 are (nearly) parallel: they do not span a plane")
    rhs = (X - center) @ D  # (m, 2)
    coords = np.linalg.solve(G, rhs.T).T
    return coords[0] if single else coords
