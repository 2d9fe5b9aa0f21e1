"""Per-iterate metrics of an optimizer's path (studies.md, section 1).

:func:`trajectory_metrics` turns a :class:`~toposcape.optim.Trajectory` into an xarray
Dataset over its iterates: how far the run has moved, how large and how stable its gradient
is, whether the gradient points towards where the run ends, and how well it aligns with the
Hessian's action on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError
from .directions import _as_thetas, _size_of
from .slices import _bar, _steps

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["trajectory_metrics"]

_VARIABLES = (
    "loss",
    "grad_norm",
    "distance",
    "distance_to_final",
    "step_length",
    "grad_cosine",
    "grad_dot_to_final",
    "overlap",
    "curvature",
)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return np.nan
    return float(np.clip((a @ b) / (na * nb), -1.0, 1.0))


def trajectory_metrics(
    traj: Any,
    obj: Any = None,
    steps: Any = None,
    grads: np.ndarray | None = None,
    overlap: bool = True,
    final: np.ndarray | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Per-iterate metrics of a run, as an :class:`xarray.Dataset` over ``step``.

    With iterates ``theta_0 .. theta_T`` and gradients ``g_j = grad f(theta_j)``:

    ========================  ===========================================================
    variable                  definition (at iterate ``j``)
    ========================  ===========================================================
    ``loss``                  ``f(theta_j)``
    ``grad_norm``             ``||g_j||``
    ``distance``              ``||theta_j - theta_0||`` (distance moved from the start)
    ``distance_to_final``     ``||theta_T - theta_j||``
    ``step_length``           ``||theta_j - theta_{j-1}||`` (NaN at ``j = 0``)
    ``grad_cosine``           ``cos(g_{j-1}, g_j)`` (NaN at ``j = 0``)
    ``grad_dot_to_final``     ``g_j . (theta_T - theta_j)`` (negative: the gradient points
                              away from the end, i.e. descent heads towards it)
    ``overlap``               ``g_j^T H_j g_j / (||g_j|| ||H_j g_j||)`` in [-1, 1]: 1 when
                              ``g_j`` is an eigenvector of a positive eigenvalue
    ``curvature``             ``g_j^T H_j g_j / ||g_j||^2``: the curvature along ``g_j``
    ========================  ===========================================================

    What is computed depends on what is available; missing values are NaN, so that the
    Datasets of many runs share one layout (``xarray.concat`` over seeds):

    * from any :class:`~toposcape.optim.Trajectory`: ``loss``, ``grad_norm``, ``distance``
      (recorded by the optimizer at every accepted iterate);
    * with recorded iterates (``record_params=True``): ``distance_to_final``, ``step_length``;
    * trajectories do not store gradients, so the gradient metrics (``grad_cosine``,
      ``grad_dot_to_final``) need ``obj`` (gradients are recomputed at the recorded iterates,
      one ``value_and_grad`` per iterate) or ``grads``;
    * ``overlap`` and ``curvature`` need ``obj.hvp`` (one Hessian-vector product per iterate)
      and ``overlap=True``.

    Parameters
    ----------
    traj : Trajectory, Dataset or ndarray (K+1, size)
        A run (with ``record_params=True`` for most metrics), its ``to_xarray()``, or the
        iterates themselves (``loss`` and ``grad_norm`` then come from ``obj`` or ``grads``).
    obj : Objective, optional
        Recomputes losses and gradients at the iterates (and ``hvp`` for the overlap).
    steps : sequence of int, optional
        Iterates to evaluate with ``obj`` (default all). The Dataset always covers every
        iterate; the gradient metrics of the others are NaN. ``grad_cosine[j]`` also needs
        ``g_{j-1}``, which is computed as well.
    grads : ndarray (K+1, size), optional
        Gradients at every iterate, when the caller has them (no ``value_and_grad`` calls).
    overlap : bool
        Compute ``overlap`` and ``curvature`` (needs ``obj.hvp``).
    final : ndarray (size,), optional
        ``theta_T`` in the definitions instead of the last iterate (e.g. ``traj.best_theta``).
    progress : bool or None
        Show a tqdm bar over the objective calls; None: only for more than 200 of them.

    Returns
    -------
    xarray.Dataset
        Dimension ``step`` (``0..K``), the variables of the table above (float64), attributes
        ``optimizer`` (when known) and ``gradients``: ``"recomputed"``, ``"given"`` or
        ``"unavailable"``.
    """
    import xarray as xr

    has_record = hasattr(traj, "losses") and hasattr(traj, "grad_norms")
    thetas = None
    if has_record:
        if getattr(traj, "thetas", None) is not None:
            thetas = _as_thetas(traj)
        K1 = len(traj.losses)
    elif hasattr(traj, "data_vars"):
        if "theta" in traj:
            thetas = _as_thetas(traj)
        if "loss" not in traj:
            raise InvalidInputError("the Dataset has no 'loss' variable (Trajectory.to_xarray())")
        K1 = int(traj.sizes["step"])
    else:
        thetas = _as_thetas(traj)
        K1 = thetas.shape[0]
    if thetas is not None and thetas.shape[0] != K1:
        raise InvalidInputError(f"traj holds {thetas.shape[0]} iterates but {K1} losses")

    out = {name: np.full(K1, np.nan) for name in _VARIABLES}
    if has_record:
        out["loss"][:] = traj.losses
        out["grad_norm"][:] = traj.grad_norms
        out["distance"][:] = traj.distances
    elif hasattr(traj, "data_vars"):
        for src, dst in (("loss", "loss"), ("grad_norm", "grad_norm"), ("distance", "distance")):
            if src in traj:
                out[dst][:] = traj[src].values

    size = thetas.shape[1] if thetas is not None else None
    end = None
    if thetas is not None:
        if final is None:
            end = thetas[-1]
        else:
            end = np.asarray(final, dtype=np.float64)
            if end.shape != (size,) or not np.all(np.isfinite(end)):
                raise InvalidInputError(f"final must be a finite vector of length {size}")
        out["distance"][:] = np.linalg.norm(thetas - thetas[0], axis=1)
        out["distance_to_final"][:] = np.linalg.norm(end - thetas, axis=1)
        out["step_length"][1:] = np.linalg.norm(np.diff(thetas, axis=0), axis=1)

    if obj is not None and thetas is None:
        raise InvalidInputError(
            "recomputing gradients needs the iterates: run the optimizer with record_params=True"
        )
    if obj is not None and _size_of(obj) != size:
        raise InvalidInputError(f"obj.size is {_size_of(obj)}, the iterates have length {size}")

    G = None
    source = "unavailable"
    wanted = _steps(steps, K1)
    if grads is not None:
        G = np.asarray(grads, dtype=np.float64)
        if thetas is None:
            size = G.shape[1] if G.ndim == 2 else None
        if G.shape != (K1, size):
            raise InvalidInputError(f"grads must have shape {(K1, size)}, got {G.shape}")
        source = "given"
        out["grad_norm"][:] = np.linalg.norm(G, axis=1)
    hvp = getattr(obj, "hvp", None) if (obj is not None and overlap) else None
    n_calls = 0
    if obj is not None and G is None:
        need = np.unique(np.concatenate([wanted, wanted[wanted > 0] - 1]))
        n_calls += need.size
    else:
        need = np.empty(0, dtype=np.int64)
    if hvp is not None:
        n_calls += wanted.size
    bar = _bar(n_calls, progress, "trajectory metrics")
    try:
        if need.size:
            G = np.full((K1, size), np.nan)
            source = "recomputed"
            for j in need:
                f, g = obj.value_and_grad(thetas[j])
                G[j] = g
                out["loss"][j] = f
                out["grad_norm"][j] = np.linalg.norm(g)
                if bar is not None:
                    bar.update(1)
        if G is not None:
            for j in wanted:
                if j > 0 and np.all(np.isfinite(G[j - 1])):
                    out["grad_cosine"][j] = _cosine(G[j - 1], G[j])
                if end is not None:
                    out["grad_dot_to_final"][j] = float(G[j] @ (end - thetas[j]))
            if hvp is not None:
                for j in wanted:
                    g = G[j]
                    hg = np.asarray(hvp(thetas[j], g), dtype=np.float64)
                    gn, hn = np.linalg.norm(g), np.linalg.norm(hg)
                    ghg = float(g @ hg)
                    if gn > 0:
                        out["curvature"][j] = ghg / gn**2
                    if gn > 0 and hn > 0:
                        out["overlap"][j] = float(np.clip(ghg / (gn * hn), -1.0, 1.0))
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    attrs = {"gradients": source}
    optimizer = getattr(traj, "optimizer", None)
    if optimizer is None and hasattr(traj, "attrs"):
        optimizer = traj.attrs.get("optimizer")
    if optimizer:
        attrs["optimizer"] = str(optimizer)
    return xr.Dataset(
        {name: ("step", values) for name, values in out.items()},
        coords={"step": np.arange(K1)},
        attrs=attrs,
    )
