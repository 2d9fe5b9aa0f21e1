"""Directions in parameter space for slices of the loss landscape.

Three families of direction pairs ``(d1, d2)`` span the planes of the landscape studies
(studies.md, sections 1 and 5):

* :func:`random_directions`: Gaussian directions with *filter normalisation* (Li et al. 2018),
  so that a unit step along a direction changes every filter of the network by as much as
  that filter's own size;
* :func:`pca_directions`: the two principal directions of an optimizer's path,
  ``theta_i - theta_T`` over the iterates, with the explained variance ratio at every iterate;
* :func:`eigen_directions`: the top eigenvectors of a Hessian (or of any symmetric operator,
  e.g. L-BFGS's ``B_k``).

Nothing here imports torch: the layout of a network's flat parameter vector comes from the
objective's ``parameter_groups()`` when it has one (see
:class:`toposcape.models.cnn.ParamGroup`).

References
----------
H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein, "Visualizing the Loss Landscape of Neural
Nets", NeurIPS 2018.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from ._common import as_operator, as_thetas, nonzero_vector, objective_size, rng, step_indices

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "eigen_directions",
    "normalize_direction",
    "pca_directions",
    "random_directions",
]

_NORMALIZE = ("filter", "layer", "unit", "none")
_BIAS = ("zero", "filter", "layer")
#: Group kinds treated as bias-like (Li et al.'s "biases and BN parameters").
_BIAS_KINDS = ("bias", "dense_bias", "conv_bias", "offset")
#: Group kinds that are free vectors without output filters (normalised as one piece).
_WHOLE_KINDS = ("latent", "pixel")


# ------------------------------------------------------------------------------------------------
# Filter normalisation
# ------------------------------------------------------------------------------------------------
def _groups_of(obj: Any, size: int, who: str) -> list[tuple[str, tuple[int, ...], str, Any, Any]]:
    """``(name, shape, kind, index, filter_axis)`` per group, validated; ``[]`` if none.

    ``index`` is a slice of ``theta``; values that no group covers form one extra group of kind
    ``"ungrouped"`` (an integer index array, no filter axis).
    """
    getter = getattr(obj, "parameter_groups", None)
    if getter is None:
        return []
    groups = []
    covered = np.zeros(size, dtype=bool)
    for i, g in enumerate(getter()):
        name = str(getattr(g, "name", "?"))
        arg = f"obj.parameter_groups()[{i}] ({name!r})"
        if not (hasattr(g, "offset") and hasattr(g, "size")):
            raise TypeError(
                f"{who}: {arg} must have offset and size attributes (see "
                f"toposcape.models.cnn.ParamGroup), got {_validate.given(g)}"
            )
        offset = _validate.integer(g.offset, f"{arg}.offset", minimum=0, who=who)
        n = _validate.integer(g.size, f"{arg}.size", minimum=0, who=who)
        shape = tuple(
            _validate.integer(s, f"{arg}.shape", minimum=0, who=who)
            for s in getattr(g, "shape", (n,))
        )
        kind = str(getattr(g, "kind", ""))
        axis = getattr(g, "filter_axis", None)
        if axis is not None:
            axis = _validate.integer(axis, f"{arg}.filter_axis", who=who)
        if offset + n > size:
            raise InvalidInputError(
                f"{who}: {arg} must lie within theta (size {size}), got [{offset}, {offset + n})"
            )
        if int(np.prod(shape, dtype=np.int64)) != n:
            raise InvalidInputError(
                f"{who}: {arg}.shape must hold size = {n} values, got shape {shape}"
            )
        if axis is not None and not -len(shape) <= axis < len(shape):
            raise InvalidInputError(
                f"{who}: {arg}.filter_axis must be an axis of shape {shape}, got {axis}"
            )
        if covered[offset : offset + n].any():
            raise InvalidInputError(f"{who}: {arg} must not overlap another group, but does")
        covered[offset : offset + n] = True
        groups.append((name, shape, kind, slice(offset, offset + n), axis))
    if groups and not covered.all():
        rest = np.flatnonzero(~covered)
        groups.append(("<ungrouped>", (rest.size,), "ungrouped", rest, None))
    return groups


def _is_bias_like(kind: str, shape: tuple[int, ...], axis: Any) -> bool:
    if kind in _BIAS_KINDS:
        return True
    if kind in _WHOLE_KINDS or kind in ("dense", "conv_filter"):
        return False
    # Unknown kinds (a user's own groups): 1-D tensors with a filter axis are biases.
    return len(shape) <= 1 and axis is not None


def _rescale_filters(d: np.ndarray, t: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Rescale every slice of ``d`` along ``axis`` to the norm of the matching slice of ``t``."""
    dm = np.moveaxis(d.reshape(shape), axis, 0)
    tm = np.moveaxis(t.reshape(shape), axis, 0)
    nf = dm.shape[0]
    dn = np.linalg.norm(dm.reshape(nf, -1), axis=1)
    tn = np.linalg.norm(tm.reshape(nf, -1), axis=1)
    scale = np.divide(tn, dn, out=np.zeros_like(tn), where=dn > 0)
    out = dm * scale.reshape((nf,) + (1,) * (dm.ndim - 1))
    return np.moveaxis(out, 0, axis).ravel()


def _rescale_whole(d: np.ndarray, t: np.ndarray) -> np.ndarray:
    dn = np.linalg.norm(d)
    return d * (np.linalg.norm(t) / dn) if dn > 0 else np.zeros_like(d)


def normalize_direction(
    obj: Any,
    theta: np.ndarray,
    d: np.ndarray,
    normalize: str = "filter",
    bias: str = "zero",
) -> np.ndarray:
    """Rescale a direction piece by piece to the size of ``theta`` (Li et al. 2018).

    Parameters
    ----------
    obj : Objective
        Supplies ``size`` and, optionally, ``parameter_groups()`` (the layout of ``theta``:
        objects with ``name, shape, kind, offset, size, filter_axis``, see
        :class:`toposcape.models.cnn.ParamGroup`).
    theta : ndarray (size,)
        The point the direction is attached to (the centre of a plane).
    d : ndarray (size,)
        The raw direction (not modified).
    normalize : {"filter", "layer", "unit", "none"}
        * ``"filter"``: Li et al.'s filter normalisation. For every weight tensor, each output
          filter ``d_f`` is rescaled to ``d_f * ||theta_f|| / ||d_f||``: one filter per output
          channel of a convolution (the slice along the group's ``filter_axis``: axis 0 of a
          Conv2d weight ``(out, in, kh, kw)``, axis 1 of a ConvTranspose2d weight
          ``(in, out, kh, kw)``) and one per output neuron (row) of a dense weight
          ``(out, in)``. Groups without a filter axis (the CNN's trainable **latent** vector,
          kind ``"latent"``; pixel logits, kind ``"pixel"``) are one filter each: the whole
          piece is rescaled to the norm of the matching piece of ``theta``.
        * ``"layer"``: every parameter tensor (group) is rescaled as a whole to the norm of the
          matching tensor of ``theta``.
        * ``"unit"``: the whole direction is scaled to unit Euclidean norm (``theta`` unused).
        * ``"none"``: ``d`` is returned unchanged (a copy).

        **Objectives without** ``parameter_groups()`` (e.g. :class:`~toposcape.PixelObjective`
        or a user's function) are one single filter: under ``"filter"`` and ``"layer"`` the
        whole direction is rescaled to ``||theta||``. Per-pixel normalisation would make every
        ``|d_i| = |theta_i|`` (random signs only), which is why it is not used. A zero
        ``theta`` then leaves no scale to match and raises :class:`InvalidInputError` (use
        ``"unit"``).
    bias : {"zero", "filter", "layer"}
        How bias-like groups are treated under ``"filter"`` and ``"layer"`` (kinds
        ``"dense_bias"``, ``"conv_bias"`` and ``"offset"`` -- the CNN's trainable per-pixel
        offsets ``(filters, h, w)`` are biases that vary over the image -- and, for groups of
        unknown kind, 1-D tensors with a filter axis):

        * ``"zero"`` (default, as Li et al., who zero the directions of biases and batch-norm
          parameters): the direction is 0 there, so the slice keeps them at ``theta``'s value;
        * ``"filter"``: each output filter's entries are rescaled to the matching entries of
          ``theta`` (for a 1-D bias: ``|d_i| = |theta_i|``; for an offset: per channel);
        * ``"layer"``: the whole tensor is rescaled to the norm of ``theta``'s tensor.

        With ``"filter"`` and ``"layer"`` a bias that is exactly 0 in ``theta`` (the CNN
        initialises biases and offsets to 0) gets a zero direction, as any zero filter does.

    Returns
    -------
    ndarray (size,)
        The normalised direction, float64.

    Notes
    -----
    A filter whose ``theta`` part is zero always gets a zero direction (``||theta_f|| = 0``),
    except under ``"unit"`` and ``"none"``.
    """
    return _normalize(obj, theta, d, normalize, bias, "normalize_direction")


def _normalize(obj: Any, theta: Any, d: Any, normalize: Any, bias: Any, who: str) -> np.ndarray:
    size = objective_size(obj, who)
    theta = _validate.vector(theta, "theta", size, who=who)
    d = _validate.vector(d, "d", size, who=who)
    normalize = _validate.option(normalize, "normalize", _NORMALIZE, who)
    bias = _validate.option(bias, "bias", _BIAS, who)
    if normalize == "none":
        return d.copy()
    if normalize == "unit":
        d = nonzero_vector(d, "d (to be scaled to unit norm)", who=who)
        return d / np.linalg.norm(d)
    groups = _groups_of(obj, size, who)
    if not groups:
        if not np.any(theta):
            raise InvalidInputError(
                f"{who}: theta must be nonzero for whole-vector {normalize} normalisation (it "
                "has no scale to match; use normalize='unit' or 'none'), got a zero vector"
            )
        return _rescale_whole(d, theta)
    out = np.zeros(size)
    for _name, shape, kind, idx, axis in groups:
        if _is_bias_like(kind, shape, axis):
            if bias == "zero":
                continue
            mode = bias
        else:
            mode = normalize
        if mode == "filter" and axis is not None:
            out[idx] = _rescale_filters(d[idx], theta[idx], shape, axis)
        else:
            out[idx] = _rescale_whole(d[idx], theta[idx])
    return out


def random_directions(
    obj: Any,
    theta: np.ndarray,
    seed: int | np.random.Generator | None = 0,
    normalize: str = "filter",
    bias: str = "zero",
) -> tuple[np.ndarray, np.ndarray]:
    """Two random directions around ``theta``, filter-normalised by default (Li et al. 2018).

    Each direction is a draw of ``N(0, I)`` of length ``obj.size`` (``d1`` first, then ``d2``,
    from ``numpy.random.default_rng(seed)``), then rescaled by :func:`normalize_direction`.

    Parameters
    ----------
    obj : Objective
        ``size`` and, when present, ``parameter_groups()``.
    theta : ndarray (size,)
        The centre of the plane: the normalisation matches its filters.
    seed : int, Generator or None
        Random seed (same seed, same directions).
    normalize : {"filter", "layer", "unit", "none"}
        See :func:`normalize_direction` (whole-vector rule for objectives without groups).
    bias : {"zero", "filter", "layer"}
        Treatment of biases and offsets; ``"zero"`` (Li et al.) keeps them fixed.

    Returns
    -------
    d1, d2 : ndarray (size,)
        Independent directions (nearly orthogonal in high dimension; :func:`project` does not
        need them orthogonal).
    """
    who = "random_directions"
    size = objective_size(obj, who)
    theta = _validate.vector(theta, "theta", size, who=who)
    generator = rng(seed, who)
    d1 = generator.standard_normal(size)
    d2 = generator.standard_normal(size)
    return (
        _normalize(obj, theta, d1, normalize, bias, who),
        _normalize(obj, theta, d2, normalize, bias, who),
    )


# ------------------------------------------------------------------------------------------------
# PCA of a trajectory
# ------------------------------------------------------------------------------------------------
def _top_eigvalsh(G: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest eigenvalues of the symmetric ``G``, descending (zeros if fewer)."""
    w = np.linalg.eigvalsh(G)[::-1]
    out = np.zeros(k)
    m = min(k, w.size)
    out[:m] = np.maximum(w[:m], 0.0)
    return out


def pca_directions(
    traj: Any,
    n_components: int = 2,
    final: np.ndarray | None = None,
    steps: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, xr.DataArray]:
    """Principal directions of an optimizer's path, and the explained variance at every iterate.

    With iterates ``theta_0 .. theta_T`` (``T = K``) the directions are the top two right
    singular vectors of ``M = [theta_i - theta_T]_{i=0..T}`` (rows; no mean is subtracted, as in
    Li et al. 2018), i.e. the plane through ``theta_T`` that holds the path best.

    Because late large steps dominate ``M``, the explained variance ratio is also given *for
    every prefix of the path*: at iterate ``j`` it is that of the PCA of the prefix
    ``[theta_i - theta_j]_{i=0..j}`` (the same construction, ending at ``theta_j``), so
    ``evr[T]`` is the ratio of the returned directions (with ``final=None``) and ``evr[j]``
    shows whether the path so far was already near a plane.

    Parameters
    ----------
    traj : Trajectory, Dataset or ndarray (K+1, size)
        A run with ``record_params=True`` (or its ``to_xarray()``), or the iterates.
    n_components : int
        Number of ratios per iterate in ``evr`` (>= 2; the directions are always two).
    final : ndarray (size,), optional
        The reference point of ``M`` (the directions) instead of the last iterate, e.g.
        ``traj.best_theta``; the prefixes of ``evr`` always end at their last iterate.
    steps : sequence of int, optional
        Iterates at which to compute ``evr`` (default: all). The cost is one symmetric eigen
        solve of order ``j + 1`` per iterate ``j``: ``O(K^4)`` in all, plus one Gram matrix of
        the iterates, ``O(K^2 size)``; pass a subset for runs of many hundred steps.

    Returns
    -------
    d1, d2 : ndarray (size,)
        Unit, orthogonal principal directions; signs chosen so that the start lies on the
        positive side: ``(theta_0 - theta_T) . d >= 0``.
    evr : xarray.DataArray (K+1, n_components)
        Dims ``("step", "component")``, coordinates ``step = 0..K`` and
        ``component = 1..n_components``. ``evr[j, c]`` is ``s_c^2 / sum_i s_i^2`` of the
        prefix ``0..j`` (``s`` its singular values, descending); each row sums to at most 1,
        rows are non-increasing across components, ``evr[1] = (1, 0, ...)``. NaN at ``j = 0``
        (a single point has no variance), for prefixes that did not move, and at iterates not
        in ``steps``. ``evr.attrs["total_variance"]`` holds ``sum_i ||theta_i - theta_T||^2``.
    """
    import xarray as xr

    who = "pca_directions"
    thetas = as_thetas(traj, who)
    K1, size = thetas.shape
    n_components = _validate.integer(n_components, "n_components", minimum=2, who=who)
    if K1 < 2:
        raise InvalidInputError(
            f"{who}: traj must hold at least two iterates, got {K1} (shape {thetas.shape})"
        )
    ref = thetas[-1] if final is None else _validate.vector(final, "final", size, who=who)
    # Checked before the work, so a bad argument fails at once.
    wanted = np.unique(step_indices(steps, K1, who=who, allow_empty=True))

    # Directions: eigenvectors of the Gram matrix M M^T, mapped back by M^T u / s.
    M = thetas - ref
    G = M @ M.T
    w, U = np.linalg.eigh(G)
    order = np.argsort(w)[::-1]
    w, U = w[order], U[:, order]
    dirs = []
    for c in range(2):
        # Gram eigenvalues carry rounding noise of about eps * w[0].
        if w[c] <= 1e-300 or w[c] <= w[0] * 1e-13:
            raise InvalidInputError(
                f"{who}: the iterates span fewer than two directions (a straight path): no PCA "
                "plane exists; use random_directions or eigen_directions"
            )
        v = M.T @ U[:, c]
        v /= np.linalg.norm(v)
        dirs.append(v)
    # Re-orthogonalise (the Gram route loses a little orthogonality), then fix the signs.
    d1, d2 = dirs
    d2 = d2 - (d1 @ d2) * d1
    d2 /= np.linalg.norm(d2)
    start = thetas[0] - ref
    if start @ d1 < 0:
        d1 = -d1
    if start @ d2 < 0:
        d2 = -d2

    # Explained variance of every prefix, from one Gram matrix relative to theta_0 (its entries
    # for a prefix have the prefix's own scale, so small early steps keep their precision).
    D0 = thetas - thetas[0]
    P = D0 @ D0.T
    evr = np.full((K1, n_components), np.nan)
    for j in wanted:
        Pj = P[: j + 1, : j + 1]
        col = P[: j + 1, j]
        Gj = Pj - col[:, None] - col[None, :] + P[j, j]
        total = float(np.trace(Gj))
        if total > 0:
            evr[j] = np.minimum(_top_eigvalsh(Gj, n_components) / total, 1.0)
    da = xr.DataArray(
        evr,
        dims=("step", "component"),
        coords={"step": np.arange(K1), "component": np.arange(1, n_components + 1)},
        name="explained_variance_ratio",
        attrs={"total_variance": float(np.trace(G))},
    )
    return d1, d2, da


# ------------------------------------------------------------------------------------------------
# Hessian eigenvectors
# ------------------------------------------------------------------------------------------------
def eigen_directions(
    H: Any,
    which: str = "LA",
    return_values: bool = False,
    **eigsh_options: Any,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The two leading eigenvectors of a symmetric operator (a Hessian, or L-BFGS's ``B_k``).

    Parameters
    ----------
    H : scipy.sparse.linalg.LinearOperator or ndarray (n, n)
        Symmetric; a dense array is wrapped with ``aslinearoperator``.
    which : {"LA", "SA", "LM"}
        Largest algebraic (the sharpest directions, default), smallest algebraic (the most
        negative curvature) or largest magnitude eigenvalues.
    return_values : bool
        Also return the two eigenvalues.
    **eigsh_options
        Passed to :func:`toposcape.landscape.spectral.eigsh` (the library's Lanczos solver).

    Returns
    -------
    d1, d2 : ndarray (n,)
        Unit eigenvectors, ``d1`` for the leading eigenvalue in the sense of ``which``; each
        sign fixed so that its largest-magnitude entry is positive.
    (l1, l2) : tuple of float
        Their eigenvalues, with ``return_values=True``.
    """
    from .spectral import eigsh

    who = "eigen_directions"
    which = _validate.option(which, "which", ("LA", "SA", "LM"), who)
    return_values = _validate.flag(return_values, "return_values", who)
    H = as_operator(H, who)
    if H.shape[0] < 2:
        raise InvalidInputError(
            f"{who}: H must be at least 2 x 2 to give two directions, got shape {H.shape}"
        )
    w, V = eigsh(H, k=2, which=which, **eigsh_options)
    w = np.asarray(w, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if which == "LA":
        order = np.argsort(w)[::-1]
    elif which == "SA":
        order = np.argsort(w)
    else:
        order = np.argsort(np.abs(w))[::-1]
    out = []
    for c in order[:2]:
        v = V[:, c] / np.linalg.norm(V[:, c])
        if v[np.argmax(np.abs(v))] < 0:
            v = -v
        out.append(v)
    if return_values:
        return out[0], out[1], (float(w[order[0]]), float(w[order[1]]))
    return out[0], out[1]
