"""Per-iterate metrics of an optimizer's path (studies.md, section 1).

:func:`trajectory_metrics` turns a :class:`~toposcape.optim.Trajectory` into an xarray
Dataset over its iterates: how far the run has moved, how large and how stable its gradient
is, whether the gradient points towards where the run ends, and how well it aligns with the
Hessian's action on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from ._common import (
    as_thetas,
    check_real_result,
    is_dataset,
    is_trajectory,
    method,
    objective_size,
    optional_flag,
    progress_bar,
    step_indices,
    step_series,
)

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

    who = "trajectory_metrics"
    overlap = _validate.flag(overlap, "overlap", who)
    progress = optional_flag(progress, "progress", who)
    out: dict[str, np.ndarray] = {}
    thetas = None
    if is_trajectory(traj) or is_dataset(traj):
        record = {v: step_series(traj, v, who, "traj") for v in ("loss", "grad_norm", "distance")}
        if record["loss"] is None:
            raise InvalidInputError(
                f"{who}: traj must have a 'loss' variable over 'step' (a Dataset from "
                f"Trajectory.to_xarray()), got a Dataset with {sorted(traj.data_vars)}"
            )
        K1 = record["loss"].size
        recorded = getattr(traj, "thetas", None) if is_trajectory(traj) else traj.get("theta")
        if recorded is not None:
            thetas = as_thetas(traj, who)
        for name, values in record.items():
            if values is not None:
                if values.size != K1:
                    raise InvalidInputError(
                        f"{who}: traj must hold one {name} per step ({K1}), got {values.size}"
                    )
                out[name] = values.copy()
    else:
        thetas = as_thetas(traj, who)
        K1 = thetas.shape[0]
    if thetas is not None and thetas.shape[0] != K1:
        raise InvalidInputError(
            f"{who}: traj must hold one iterate per loss ({K1}), got {thetas.shape[0]} iterates"
        )
    for name in _VARIABLES:
        out.setdefault(name, np.full(K1, np.nan))

    size = thetas.shape[1] if thetas is not None else None
    end = None
    if thetas is not None:
        end = thetas[-1] if final is None else _validate.vector(final, "final", size, who=who)
        out["distance"][:] = np.linalg.norm(thetas - thetas[0], axis=1)
        out["distance_to_final"][:] = np.linalg.norm(end - thetas, axis=1)
        out["step_length"][1:] = np.linalg.norm(np.diff(thetas, axis=0), axis=1)
    elif final is not None:
        _validate.vector(final, "final", who=who)

    if obj is not None:
        obj_size = objective_size(obj, who)
        method(obj, "value_and_grad", "value_and_grad(theta)", who)
        if thetas is None:
            raise InvalidInputError(
                f"{who}: recomputing gradients needs the iterates: run the optimizer with "
                "record_params=True"
            )
        if obj_size != size:
            raise InvalidInputError(
                f"{who}: obj.size must match the iterates' length {size}, got {obj_size}"
            )

    G = None
    source = "unavailable"
    wanted = step_indices(steps, K1, who=who)
    if grads is not None:
        G = _validate.array(grads, "grads", who=who)
        if thetas is None and G.ndim == 2:
            size = G.shape[1]
        if G.shape != (K1, size):
            raise InvalidInputError(
                f"{who}: grads must have shape ({K1}, {size}) (one gradient per iterate), "
                f"got shape {G.shape}"
            )
        source = "given"
        out["grad_norm"][:] = np.linalg.norm(G, axis=1)
    hvp = getattr(obj, "hvp", None) if (obj is not None and overlap) else None
    if hvp is not None and not callable(hvp):
        hvp = None
    n_calls = 0
    if obj is not None and G is None:
        need = np.unique(np.concatenate([wanted, wanted[wanted > 0] - 1]))
        n_calls += need.size
    else:
        need = np.empty(0, dtype=np.int64)
    if hvp is not None:
        n_calls += wanted.size
    bar = progress_bar(n_calls, progress, "trajectory metrics")
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
                    hg = check_real_result(hvp(thetas[j], g), "obj.hvp", who)
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
