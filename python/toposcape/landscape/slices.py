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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from ._common import PROGRESS_THRESHOLD as PROGRESS_THRESHOLD  # re-exported, see _common
from ._common import (
    as_thetas,
    check_allocation,
    loss_function,
    nonzero_vector,
    objective_size,
    optional_flag,
    progress_bar,
    step_indices,
)

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


def _segment_options(n: Any, extend: Any, progress: Any, who: str) -> tuple[int, float, Any]:
    """The checked ``n``, ``extend`` and ``progress`` of the interpolations."""
    n = _validate.integer(n, "n", minimum=2, who=who)
    check_allocation(32.0 * n, f"{n} points", who)  # alphas, losses and temporaries
    extend = _validate.real(extend, "extend", minimum=0.0, who=who)
    return n, extend, optional_flag(progress, "progress", who)


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
    loss = loss_function(obj, desc)
    out = np.empty((starts.shape[0], alphas.size))
    bar = progress_bar(out.size, progress, desc)
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
    who = "interpolate"
    size = objective_size(obj, who)
    loss_function(obj, who)
    a = _validate.vector(theta_a, "theta_a", size, who=who)
    b = _validate.vector(theta_b, "theta_b", size, who=who)
    n, extend, progress = _segment_options(n, extend, progress, who)
    alphas = _alphas(n, extend)
    losses = _segments(obj, a[None], b[None], alphas, progress, who)[0]
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
    return _pairs(obj, starts, ends, n, extend, progress, dim, "interpolate_pairs")


def _pairs(
    obj: Any, starts: Any, ends: Any, n: Any, extend: Any, progress: Any, dim: Any, who: str
) -> xr.DataArray:
    """:func:`interpolate_pairs` on behalf of ``who`` (for its messages)."""
    import xarray as xr

    size = objective_size(obj, who)
    loss_function(obj, who)
    if not isinstance(dim, str):
        raise TypeError(f"{who}: dim must be a string, got {_validate.given(dim)}")
    S = _rows(starts, "starts", size, who)
    E = _rows(ends, "ends", size, who)
    if S.shape[0] != E.shape[0]:
        if S.shape[0] == 1:
            S = np.broadcast_to(S, E.shape)
        elif E.shape[0] == 1:
            E = np.broadcast_to(E, S.shape)
        else:
            raise InvalidInputError(
                f"{who}: ends must hold as many vectors as starts ({S.shape[0]}) or one, "
                f"got {E.shape[0]}"
            )
    n, extend, progress = _segment_options(n, extend, progress, who)
    alphas = _alphas(n, extend)
    losses = _segments(obj, S, E, alphas, progress, who)
    return xr.DataArray(
        losses,
        dims=(dim, "alpha"),
        coords={dim: np.arange(S.shape[0]), "alpha": alphas},
        name="loss",
    )


def _is_flat(v: Any) -> bool:
    try:
        return np.ndim(v) == 1
    except ValueError:  # ragged nesting
        return False


def _rows(x: Any, name: str, size: int, who: str) -> np.ndarray:
    """``x``: one vector or a stack ``(m, size)``, as a finite float64 array ``(m, size)``."""
    if isinstance(x, Sequence) and not isinstance(x, str | bytes):
        if len(x) == 0:
            raise _validate.fail(name, f"one or more vectors of length {size}", x, who)
        # A sequence of vectors, each checked on its own (names the bad one).
        if all(_is_flat(v) for v in x):
            return np.stack(
                [_validate.vector(v, f"{name}[{i}]", size, who=who) for i, v in enumerate(x)]
            )
    arr = _validate.array(x, name, who=who)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != size:
        raise InvalidInputError(
            f"{who}: {name} must be vectors of length {size} ((m, {size}) or ({size},)), "
            f"got shape {arr.shape}"
        )
    return arr


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
    who = "interpolate_between"
    X = _rows(inits, "inits", objective_size(obj, who), who)
    if X.shape[0] < 2:
        raise InvalidInputError(
            f"{who}: inits must hold at least two initial points, got {X.shape[0]}"
        )
    ia, ib = np.triu_indices(X.shape[0], k=1)
    da = _pairs(obj, X[ia], X[ib], n, extend, progress, "pair", who)
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
    who = "interpolate_to_final"
    thetas = _iterates(obj, traj, who)
    end = (
        thetas[-1] if final is None else _validate.vector(final, "final", thetas.shape[1], who=who)
    )
    idx = step_indices(steps, thetas.shape[0], who=who)
    da = _pairs(obj, thetas[idx], end, n, extend, progress, "step", who)
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
    who = "interpolate_from_inits"
    size = objective_size(obj, who)
    X = _rows(inits, "inits", size, who)
    end = _validate.vector(final, "final", size, who=who)
    return _pairs(obj, X, end, n, extend, progress, "init", who)


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
    who = "interpolate_successive"
    thetas = _iterates(obj, traj, who)
    if thetas.shape[0] < 2:
        raise InvalidInputError(
            f"{who}: traj must hold at least two iterates, got {thetas.shape[0]}"
        )
    idx = step_indices(steps, thetas.shape[0] - 1, who=who)
    da = _pairs(obj, thetas[idx], thetas[idx + 1], n, extend, progress, "step", who)
    return da.assign_coords(step=idx)


def _iterates(obj: Any, traj: Any, who: str) -> np.ndarray:
    """The iterates of ``traj``, checked against ``obj.size``."""
    size = objective_size(obj, who)
    thetas = as_thetas(traj, who)
    if thetas.shape[1] != size:
        raise InvalidInputError(
            f"{who}: traj must hold vectors of length obj.size = {size}, got iterates of shape "
            f"{thetas.shape}"
        )
    return thetas


# ------------------------------------------------------------------------------------------------
# Planes
# ------------------------------------------------------------------------------------------------
def _extent(extent: Any, who: str) -> tuple[float, float, float, float]:
    expected = "a number e > 0, a pair (ea, eb) or (amin, amax, bmin, bmax)"
    e = _validate.array(extent, "extent", who=who)
    if e.ndim > 1 or e.size not in (1, 2, 4):
        raise _validate.fail("extent", expected, extent, who)
    e = e.ravel()
    if e.size == 1:
        e = np.array([-e[0], e[0], -e[0], e[0]])
    elif e.size == 2:
        e = np.array([-e[0], e[0], -e[1], e[1]])
    if not (e[0] < e[1] and e[2] < e[3]):
        raise _validate.fail(
            "extent", expected + " giving non-empty ranges (amin < amax, bmin < bmax)", extent, who
        )
    return tuple(float(v) for v in e)


def _grid_counts(n: Any, who: str) -> tuple[int, int]:
    if isinstance(n, Sequence | np.ndarray) and not isinstance(n, str | bytes):
        if len(n) != 2:
            raise _validate.fail("n", "an integer >= 2 or a pair (na, nb)", n, who)
        return (
            _validate.integer(n[0], "n[0]", minimum=2, who=who),
            _validate.integer(n[1], "n[1]", minimum=2, who=who),
        )
    count = _validate.integer(n, "n", minimum=2, who=who)
    return count, count


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
    who = "plane"
    size = objective_size(obj, who)
    loss = loss_function(obj, who)
    center = _validate.vector(center, "center", size, who=who)
    d1 = _validate.vector(d1, "d1", size, who=who)
    d2 = _validate.vector(d2, "d2", size, who=who)
    amin, amax, bmin, bmax = _extent(extent, who)
    na, nb = _grid_counts(n, who)
    progress = optional_flag(progress, "progress", who)
    a = np.linspace(amin, amax, na)
    b = np.linspace(bmin, bmax, nb)
    A, B_ = np.meshgrid(a, b)
    L = np.empty_like(A)
    bar = progress_bar(L.size, progress, who)
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
    who = "project"
    single = isinstance(traj, np.ndarray | list | tuple) and _is_flat(traj)
    X = _validate.vector(traj, "traj", who=who)[None] if single else as_thetas(traj, who)
    size = X.shape[1]
    center = _validate.vector(center, "center", size, who=who)
    D = np.column_stack(
        [nonzero_vector(d1, "d1", size, who=who), nonzero_vector(d2, "d2", size, who=who)]
    )
    G = D.T @ D
    if np.linalg.det(G) <= 1e-12 * G[0, 0] * G[1, 1]:
        raise InvalidInputError(
            f"{who}: d1 and d2 must span a plane, got (nearly) parallel directions"
        )
    rhs = (X - center) @ D  # (m, 2)
    coords = np.linalg.solve(G, rhs.T).T
    return coords[0] if single else coords
