"""Figures of the landscape studies (matplotlib; safe under the non-interactive Agg backend).

Every function returns the :class:`matplotlib.figure.Figure` it drew on and accepts existing
axes (``ax=`` or ``axes=``) to draw into instead of a new figure; matplotlib is imported only
when a function is called.

* :func:`plot_spectral_densities`: Hessian and L-BFGS ``B_k`` eigenvalue densities, side by
  side, at chosen steps;
* :func:`plot_interpolation`: loss along 1-D interpolations;
* :func:`plot_plane`: contour plot of a 2-D slice with projected trajectories;
* :func:`plot_run_metrics`: distance moved and gradient norm along runs (median over seeds);
* :func:`plot_interpolation_designs`: the physical designs along an interpolation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from ._common import (
    check_real_result,
    is_dataset,
    is_trajectory,
    loss_function,
    method,
    objective_size,
    step_series,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "plot_interpolation",
    "plot_interpolation_designs",
    "plot_plane",
    "plot_run_metrics",
    "plot_spectral_densities",
]


def _new_axes(nrows: int, ncols: int, figsize: tuple[float, float] | None = None):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    return fig, axes


def _given_axes(axes: Any, nrows: int, ncols: int, who: str, name: str = "axes"):
    """``axes`` (one Axes or any array of them) as an ``(nrows, ncols)`` object array."""
    from matplotlib.axes import Axes

    if isinstance(axes, str | bytes):
        raise TypeError(f"{who}: {name} must be matplotlib Axes, got {_validate.given(axes)}")
    arr = np.empty(1, dtype=object)
    if isinstance(axes, Axes):
        arr[0] = axes
    else:
        try:
            arr = np.asarray(axes, dtype=object)
        except (TypeError, ValueError):
            raise TypeError(
                f"{who}: {name} must be matplotlib Axes, got {_validate.given(axes)}"
            ) from None
    for a in arr.flat:
        if not isinstance(a, Axes):
            raise TypeError(
                f"{who}: {name} must hold matplotlib Axes, got an entry {_validate.given(a)}"
            )
    if arr.size != nrows * ncols:
        raise InvalidInputError(f"{who}: {name} must hold {nrows * ncols} Axes, got {arr.size}")
    arr = arr.reshape(nrows, ncols)
    return arr.flat[0].figure, arr


def _one_axes(ax: Any, figsize: tuple[float, float], who: str):
    """``ax`` (checked), or the Axes of a new figure when None."""
    if ax is None:
        return _new_axes(1, 1, figsize=figsize)[1][0, 0]
    return _given_axes(ax, 1, 1, who, "ax")[1][0, 0]


def _colormap(cmap: Any, who: str):
    """A matplotlib Colormap from a registered name (or a Colormap itself)."""
    import matplotlib
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    name = _validate.lookup(
        cmap, list(matplotlib.colormaps), "colormap", "see matplotlib.colormaps"
    )
    return matplotlib.colormaps[name]


def _labels(labels: Any, count: int, what: str, who: str, name: str = "labels") -> list[str] | None:
    """One label per ``what`` (a sequence, not a single string), as strings."""
    if labels is None:
        return None
    if isinstance(labels, str | bytes) or not isinstance(labels, Sequence | np.ndarray):
        raise TypeError(
            f"{who}: {name} must be a sequence of labels, got {_validate.given(labels)}"
        )
    if len(labels) != count:
        raise InvalidInputError(
            f"{who}: {name} must hold one label per {what} ({count}), got {len(labels)}"
        )
    return [str(label) for label in labels]


def _curve(pair: Any, name: str, who: str) -> tuple[np.ndarray, np.ndarray]:
    expected = "a pair (grid, density) of 1-D arrays of one length >= 2"
    if isinstance(pair, str | bytes) or not isinstance(pair, Sequence | np.ndarray):
        raise TypeError(f"{who}: {name} must be {expected}, got {_validate.given(pair)}")
    if len(pair) != 2:
        raise _validate.fail(name, expected, pair, who)
    grid = _validate.array(pair[0], f"{name} grid", who=who).ravel()
    dens = _validate.array(pair[1], f"{name} density", who=who).ravel()
    if grid.shape != dens.shape or grid.size < 2:
        raise InvalidInputError(
            f"{who}: {name} must be {expected}, got shapes {grid.shape} and {dens.shape}"
        )
    return grid, dens


def _is_pair(x: Any) -> bool:
    """One ``(grid, density)`` pair of 1-D arrays (rather than a sequence of pairs)."""
    return (
        isinstance(x, tuple | list)
        and len(x) == 2
        and all(isinstance(e, np.ndarray) and e.ndim == 1 for e in x)
    )


def _by_step(
    curves: Any, name: str, who: str
) -> tuple[list[Any], list[tuple[np.ndarray, np.ndarray]]]:
    if isinstance(curves, Mapping):
        keys = list(curves)
        return keys, [_curve(curves[k], f"{name}[{k!r}]", who) for k in keys]
    if _is_pair(curves):
        return [None], [_curve(curves, name, who)]
    if isinstance(curves, str | bytes) or not isinstance(curves, Sequence | np.ndarray):
        raise TypeError(
            f"{who}: {name} must be a mapping step -> (grid, density), a sequence of such pairs "
            f"or one pair, got {_validate.given(curves)}"
        )
    seq = list(curves)
    return [None] * len(seq), [_curve(c, f"{name}[{i}]", who) for i, c in enumerate(seq)]


def plot_spectral_densities(
    hessian: Any,
    quasi_newton: Any = None,
    steps: Sequence[Any] | None = None,
    axes: Any = None,
    logy: bool = True,
    floor: float = 1e-8,
) -> Figure:
    """Eigenvalue densities of the Hessian and of L-BFGS's ``B_k``, side by side per step.

    Parameters
    ----------
    hessian : mapping step -> (grid, density), or sequence of (grid, density)
        Densities of the Hessian (e.g. from ``spectral_density``: ``grid`` the eigenvalue
        axis, ``density`` per unit eigenvalue, both 1-D of equal length), one per step.
    quasi_newton : same form, optional
        Densities of ``B_k`` at the same steps (same count); None: Hessian column only.
    steps : sequence, optional
        Row labels (e.g. ``[0, 10, 28]``); default the mapping's keys or ``0, 1, ...``.
    axes : array of Axes (n_steps, 2) or (n_steps, 1), optional
        Axes to draw into (any shape with that many Axes, filled row by row).
    logy : bool
        Logarithmic density axis (densities are clipped below at ``floor``).
    floor : float
        Smallest density shown on a log axis.

    Returns
    -------
    matplotlib.figure.Figure
        One row per step; columns "Hessian" and "L-BFGS B_k".
    """
    who = "plot_spectral_densities"
    logy = _validate.flag(logy, "logy", who)
    floor = _validate.real(floor, "floor", minimum=0.0, lower_open=True, who=who)
    keys, hcurves = _by_step(hessian, "hessian", who)
    qcurves = None
    if quasi_newton is not None:
        _, qcurves = _by_step(quasi_newton, "quasi_newton", who)
        if len(qcurves) != len(hcurves):
            raise InvalidInputError(
                f"{who}: quasi_newton must hold one density per Hessian density "
                f"({len(hcurves)}), got {len(qcurves)}"
            )
    nrows = len(hcurves)
    if nrows == 0:
        raise InvalidInputError(f"{who}: hessian must hold at least one density, got none")
    if steps is None:
        steps = keys if all(k is not None for k in keys) else list(range(nrows))
    else:
        steps = _labels(steps, nrows, "density", who, "steps")
    ncols = 1 if qcurves is None else 2
    if axes is None:
        fig, ax = _new_axes(nrows, ncols, figsize=(4.0 * ncols, 2.4 * nrows))
    else:
        fig, ax = _given_axes(axes, nrows, ncols, who)
    columns = [("Hessian", hcurves, "C0")]
    if qcurves is not None:
        columns.append(("L-BFGS $B_k$", qcurves, "C1"))
    for c, (title, curves, color) in enumerate(columns):
        for r, (grid, dens) in enumerate(curves):
            a = ax[r, c]
            y = np.maximum(dens, floor) if logy else dens
            a.plot(grid, y, color=color, lw=1.2)
            if logy:
                a.set_yscale("log")
            a.set_title(f"{title}, step {steps[r]}", fontsize="medium")
            a.set_ylabel("density")
            if r == nrows - 1:
                a.set_xlabel("eigenvalue")
    return fig


def plot_interpolation(
    alphas: Any,
    losses: Any = None,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    logy: bool = False,
    cmap: str = "viridis",
    colorbar: bool | None = None,
) -> Figure:
    """Loss along one or many linear interpolations.

    Parameters
    ----------
    alphas : ndarray (n,) or xarray.DataArray
        Interpolation coordinates; or a DataArray from the ``interpolate_*`` helpers (dims
        ``(..., "alpha")``), with ``losses`` omitted.
    losses : ndarray (n,) or (m, n), optional
        One curve or ``m`` curves.
    ax : Axes, optional
    labels : sequence of str, optional
        One legend label per curve.
    logy : bool
        Logarithmic loss axis.
    cmap : str
        Colormap for many curves (colour = row order, e.g. the iterate).
    colorbar : bool or None
        Colour bar for many curves; None: when there are more than 10 curves and no labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    who = "plot_interpolation"
    logy = _validate.flag(logy, "logy", who)
    colorbar = None if colorbar is None else _validate.flag(colorbar, "colorbar", who)
    colormap = _colormap(cmap, who)
    rowname, rowvalues = None, None
    if losses is None:
        da = alphas
        if not (hasattr(da, "dims") and hasattr(da, "transpose")) or "alpha" not in da.dims:
            raise TypeError(
                f"{who}: alphas must be a DataArray with an 'alpha' dimension when losses is "
                f"not given, got {_validate.given(da)}"
            )
        if da.ndim > 2:
            raise InvalidInputError(
                f"{who}: alphas must be a DataArray with at most one dimension besides 'alpha', "
                f"got dims {da.dims}"
            )
        da = da.transpose(..., "alpha")
        alphas = da["alpha"].values
        losses = da.values
        if losses.ndim == 2:
            rowname = da.dims[0]
            rowvalues = da[rowname].values
    alphas = _validate.vector(alphas, "alphas", who=who)
    # Losses may hold NaN or inf (e.g. a disconnected design): drawn as gaps.
    L = _validate.array(losses, "losses", finite=False, who=who)
    if L.ndim == 1:
        L = L[None]
    if L.ndim != 2 or L.shape[1] != alphas.size:
        raise InvalidInputError(
            f"{who}: losses must have shape ({alphas.size},) or (m, {alphas.size}), got shape "
            f"{L.shape}"
        )
    labels = _labels(labels, L.shape[0], "curve", who)
    ax = _one_axes(ax, (5.0, 3.5), who)
    fig = ax.figure
    m = L.shape[0]
    if m == 1:
        colors = ["C0"]
    else:
        colors = colormap(np.linspace(0.0, 1.0, m))
    for i in range(m):
        ax.plot(
            alphas,
            L[i],
            color=colors[i],
            lw=1.2 if m < 10 else 0.8,
            label=None if labels is None else labels[i],
        )
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel("loss")
    if labels is not None:
        ax.legend(fontsize="small")
    if colorbar is None:
        colorbar = m > 10 and labels is None
    if colorbar and m > 1:
        import matplotlib

        lo, hi = (0, m - 1) if rowvalues is None else (rowvalues[0], rowvalues[-1])
        sm = matplotlib.cm.ScalarMappable(
            norm=matplotlib.colors.Normalize(vmin=lo, vmax=hi), cmap=colormap
        )
        fig.colorbar(sm, ax=ax, label=rowname or "curve")
    return fig


def plot_plane(
    A: np.ndarray,
    B_: np.ndarray,
    L: np.ndarray,
    xy: Any = None,
    ax: Any = None,
    levels: int | Sequence[float] = 30,
    log: bool = False,
    filled: bool = True,
    cmap: str = "viridis",
    colorbar: bool = True,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Contour plot of a 2-D slice, with trajectories projected into its coordinates.

    Parameters
    ----------
    A, B_, L : ndarray (nb, na)
        The output of :func:`~toposcape.landscape.plane`.
    xy : ndarray (m, 2) or sequence of them, optional
        Paths in plane coordinates (:func:`~toposcape.landscape.project`); each is drawn as a
        line with markers, a circle at its start and a star at its end.
    ax : Axes, optional
    levels : int or sequence of float
        Contour levels.
    log : bool
        Contour ``log10(L)`` for positive losses, else ``log10(L - min L + 1e-3 (max L -
        min L))``.
    filled : bool
        Filled contours (``contourf``) under thin lines, or lines only.
    cmap : str
    colorbar : bool
    labels : sequence of str, optional
        Legend labels of the paths.

    Returns
    -------
    matplotlib.figure.Figure
    """
    who = "plot_plane"
    A = _validate.array(A, "A", who=who)
    B_ = _validate.array(B_, "B_", who=who)
    # Losses may hold NaN or inf: masked in the contours.
    L = _validate.array(L, "L", finite=False, who=who)
    if A.ndim != 2 or A.shape != B_.shape or A.shape != L.shape or min(A.shape) < 2:
        raise InvalidInputError(
            f"{who}: A, B_ and L must be 2-D arrays of one shape (>= 2 x 2), got shapes "
            f"{A.shape}, {B_.shape}, {L.shape}"
        )
    log = _validate.flag(log, "log", who)
    filled = _validate.flag(filled, "filled", who)
    colorbar = _validate.flag(colorbar, "colorbar", who)
    colormap = _colormap(cmap, who)
    if not np.isfinite(L).any():
        raise InvalidInputError(f"{who}: L must hold at least one finite loss, got none")
    if isinstance(levels, Sequence | np.ndarray) and not isinstance(levels, str | bytes):
        levels = _validate.vector(levels, "levels", who=who)
        if np.any(np.diff(levels) <= 0):
            raise _validate.fail("levels", "an increasing sequence", levels, who)
    else:
        levels = _validate.integer(levels, "levels", minimum=1, who=who)
    paths: list[np.ndarray] = []
    if xy is not None:
        if isinstance(xy, np.ndarray) and xy.ndim == 2:
            xy = [xy]
        if isinstance(xy, str | bytes) or not isinstance(xy, Sequence | np.ndarray):
            raise TypeError(
                f"{who}: xy must be an array (m, 2) or a sequence of them, got "
                f"{_validate.given(xy)}"
            )
        for i, p in enumerate(xy):
            p = _validate.array(p, f"xy[{i}]", who=who)
            if p.ndim != 2 or p.shape[1] != 2:
                raise InvalidInputError(
                    f"{who}: xy[{i}] must be an array of shape (m, 2), got shape {p.shape}"
                )
            paths.append(p)
    labels = _labels(labels, len(paths), "path", who)
    ax = _one_axes(ax, (5.0, 4.2), who)
    fig = ax.figure
    Z = L
    label = "loss"
    if log:
        finite = L[np.isfinite(L)]
        lo = finite.min() if finite.size else 0.0
        if lo > 0:  # positive losses (compliance): plain log10
            Z = np.log10(L)
            label = r"$\log_{10}$ loss"
        else:
            # Shifted so the floor is positive; the offset (1e-3 of the range) keeps the
            # minimum's own grid point from dominating the colour scale.
            span = finite.max() - lo if finite.size else 1.0
            Z = np.log10(L - lo + 1e-3 * max(span, 1e-300))
            label = r"$\log_{10}$(loss $-$ min + 0.001 range)"
    Zm = np.ma.masked_invalid(Z)
    if filled:
        cs = ax.contourf(A, B_, Zm, levels=levels, cmap=colormap)
        ax.contour(A, B_, Zm, levels=cs.levels, colors="k", linewidths=0.3, alpha=0.5)
    else:
        cs = ax.contour(A, B_, Zm, levels=levels, cmap=colormap)
    if colorbar:
        fig.colorbar(cs, ax=ax, label=label)
    for i, p in enumerate(paths):
        color = f"C{(i + 1) % 10}"
        ax.plot(
            p[:, 0],
            p[:, 1],
            "-",
            color=color,
            lw=1.2,
            marker=".",
            ms=3,
            label=None if labels is None else labels[i],
        )
        ax.plot(p[0, 0], p[0, 1], "o", color=color, ms=6, mec="k")
        ax.plot(p[-1, 0], p[-1, 1], "*", color=color, ms=10, mec="k")
    ax.set_xlabel("$d_1$")
    ax.set_ylabel("$d_2$")
    ax.set_xlim(A.min(), A.max())
    ax.set_ylim(B_.min(), B_.max())
    if labels is not None:
        ax.legend(fontsize="small")
    return fig


def _series(run: Any, name: str, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(distance, grad_norm) per iterate of a Trajectory or a Dataset."""
    out = []
    for variable in ("distance", "grad_norm"):
        values = step_series(run, variable, who, name)
        if values is None:
            held = (
                f"a Dataset with {sorted(run.data_vars)}"
                if is_dataset(run)
                else f"a {type(run).__name__} without {variable}s"
            )
            raise InvalidInputError(
                f"{who}: {name} must have 'distance' and 'grad_norm' variables over 'step' "
                f"(Trajectory.to_xarray() or trajectory_metrics()), got {held}"
            )
        out.append(values)
    return out[0], out[1]


def _runs_by_label(runs: Any, who: str) -> dict[str, list[Any]]:
    """``runs`` (a run, a sequence of runs, or a mapping label -> run(s)) as label -> runs.

    A Dataset is itself a Mapping (of its variables) and a Trajectory may be one too: both
    are single runs, tested before the mapping case.
    """
    if is_trajectory(runs) or is_dataset(runs):
        return {"": [runs]}
    if isinstance(runs, Mapping):
        return {str(k): (list(v) if isinstance(v, list | tuple) else [v]) for k, v in runs.items()}
    if isinstance(runs, list | tuple):
        return {"": list(runs)}
    raise TypeError(
        f"{who}: runs must be a Trajectory, a Dataset (Trajectory.to_xarray() or "
        f"trajectory_metrics()), a sequence of them or a mapping label -> run(s), got "
        f"{_validate.given(runs)}"
    )


def _stack(series: list[np.ndarray]) -> np.ndarray:
    """Runs of different lengths as one (n_runs, max_len) array padded with NaN."""
    n = max(s.size for s in series)
    out = np.full((len(series), n), np.nan)
    for i, s in enumerate(series):
        out[i, : s.size] = s
    return out


def plot_run_metrics(
    runs: Any,
    axes: Any = None,
    median: bool = False,
    alpha: float | None = None,
) -> Figure:
    """Distance moved from the start and gradient norm along runs (several overlaid).

    Parameters
    ----------
    runs : run, sequence of runs, or mapping label -> run(s)
        A run is a :class:`~toposcape.optim.Trajectory`, or a Dataset with ``distance`` and
        ``grad_norm`` over ``step`` (``Trajectory.to_xarray()``, :func:`trajectory_metrics`).
        A mapping draws one colour per label (e.g. per optimizer), its value a run or a list
        of runs (e.g. seeds).
    axes : sequence of two Axes, optional
        Axes for the distance and the gradient norm.
    median : bool
        Also draw the median over the runs of each label (bold line; runs shorter than the
        longest are left out of the median where they have ended), the single runs thin.
    alpha : float, optional
        Opacity of the single runs (default 1 for a single run per label, else 0.35).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: ``||theta_k - theta_0||`` (linear) and ``||g_k||`` (log scale) against the
        iterate ``k``.
    """
    who = "plot_run_metrics"
    median = _validate.flag(median, "median", who)
    alpha = _validate.real(alpha, "alpha", minimum=0.0, maximum=1.0, allow_none=True, who=who)
    groups = _runs_by_label(runs, who)
    empty = [label for label, group in groups.items() if not group]
    if not groups or empty:
        raise InvalidInputError(
            f"{who}: runs must hold at least one run"
            + (f" per label, got none for {empty[0]!r}" if empty and empty[0] else ", got none")
        )
    # Every run is read before anything is drawn, so a bad one leaves no half-made figure.
    all_series = {
        label: [
            _series(r, f"runs[{label!r}][{i}]" if label else f"runs[{i}]", who)
            for i, r in enumerate(group)
        ]
        for label, group in groups.items()
    }
    if axes is None:
        fig, ax = _new_axes(1, 2, figsize=(9.0, 3.5))
        ax = ax[0]
    else:
        fig, ax = _given_axes(axes, 1, 2, who)
        ax = ax[0]
    for gi, (label, series) in enumerate(all_series.items()):
        color = f"C{gi % 10}"
        op = alpha if alpha is not None else (1.0 if len(series) == 1 else 0.35)
        for si, (dist, gnorm) in enumerate(series):
            kw = {"color": color, "alpha": op, "lw": 0.8 if median else 1.2}
            lab = label if (si == 0 and label and not median) else None
            ax[0].plot(np.arange(dist.size), dist, label=lab, **kw)
            ax[1].plot(np.arange(gnorm.size), gnorm, label=lab, **kw)
        if median:
            for k, index in ((0, 0), (1, 1)):
                stacked = _stack([s[index] for s in series])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    med = np.nanmedian(stacked, axis=0)
                name = f"{label} (median)" if label else "median"
                ax[k].plot(np.arange(med.size), med, color=color, lw=2.2, label=name)
    ax[0].set_ylabel(r"$\|\theta_k - \theta_0\|$")
    ax[1].set_ylabel(r"$\|g_k\|$")
    ax[1].set_yscale("log")
    for a in ax:
        a.set_xlabel("iterate")
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize="small")
    return fig


def plot_interpolation_designs(
    obj: Any,
    theta_a: np.ndarray,
    theta_b: np.ndarray,
    alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    axes: Any = None,
    show_loss: bool = True,
) -> Figure:
    """The physical designs along the line from ``theta_a`` to ``theta_b``.

    Parameters
    ----------
    obj : Objective with ``design(theta) -> ndarray (H, W)`` (densities in [0, 1])
    theta_a, theta_b : ndarray (size,)
    alphas : sequence of float
        Points ``(1 - alpha) theta_a + alpha theta_b`` to show, one panel each.
    axes : sequence of Axes, optional
        One per alpha.
    show_loss : bool
        Put the loss at each point in its panel's title (one more objective call each).

    Returns
    -------
    matplotlib.figure.Figure
        One image per alpha (``gray_r``: solid black, void white; ``vmin=0, vmax=1``).
    """
    who = "plot_interpolation_designs"
    design = method(obj, "design", "design(theta)", who)
    size = objective_size(obj, who)
    show_loss = _validate.flag(show_loss, "show_loss", who)
    loss = loss_function(obj, who) if show_loss else None
    a = _validate.vector(theta_a, "theta_a", size, who=who)
    b = _validate.vector(theta_b, "theta_b", size, who=who)
    alphas = _validate.array(alphas, "alphas", who=who)
    if alphas.ndim > 1:
        raise _validate.fail("alphas", "a number or a flat sequence of numbers", alphas, who)
    alphas = alphas.ravel()
    k = alphas.size
    if axes is None:
        first = np.asarray(design(a))
        h, w = first.shape if first.ndim == 2 else (1, 1)
        width = 2.6 * k
        height = max(1.2, 2.6 * h / max(w, 1)) + 0.5
        fig, ax = _new_axes(1, k, figsize=(width, height))
    else:
        fig, ax = _given_axes(axes, 1, k, who)
    for i, al in enumerate(alphas):
        theta = a if al == 0.0 else (b if al == 1.0 else a + al * (b - a))
        img = check_real_result(design(theta), "obj.design", who)
        if img.ndim != 2:
            raise InvalidInputError(
                f"{who}: obj.design(theta) must return a 2-D array, got shape {img.shape}"
            )
        axi = ax[0, i]
        axi.imshow(img, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        axi.set_xticks([])
        axi.set_yticks([])
        title = rf"$\alpha$ = {al:g}"
        if loss is not None:
            title += f"\nloss {loss(theta):.4g}"
        axi.set_title(title, fontsize="medium")
    return fig
