"""The landscape stage of the thesis study (studies.md, section 1): one analysis of one run.

:func:`analyze` takes the settings of one study run (what :meth:`~.spec.RunSpec.settings`
returns), reruns it with its iterates (and L-BFGS memory) recorded, and measures the loss
landscape along it with the public :mod:`toposcape.landscape` tools:

* **spectra** at chosen steps: the eigenvalue density of the Hessian and of L-BFGS's own
  matrix ``B_k`` by stochastic Lanczos quadrature (SLQ), the Hessian's top eigenvalue, its
  trace and Frobenius norm (Hutchinson), the SLQ weight on negative eigenvalues, and for the
  pixel model at p = 1 the spectrum of the *physics* Hessian (compliance as a function of
  the volume-constrained densities, projected onto the volume constraint): the convexity check;
* the four **linear interpolations** (a) between two random initialisations, (b) from
  iterates to the final point, (c) from random initialisations to the final point, (d)
  between successive iterates;
* two **planes** around the final point: filter-normalised random directions (Li et al.
  2018) and the PCA directions of the path, each with the path projected into it, and the
  PCA's explained variance at every iterate;
* per-step **trajectory metrics** (distance, gradient norm, cosine of successive gradients,
  ``g . (theta_T - theta)``, overlap ``g^T H g / (|g| |H g|)``, curvature).

The result is one :class:`xarray.Dataset` (layout in :func:`analyze`); the analysis is a pure
function of the run's settings and the :class:`LandscapeOptions` (every random draw is seeded
from the run's seed, the thread counts are pinned to the run's). :func:`landscape_figures`
draws the figures of one case from the datasets of its seeds.

Cost at the default (thesis) options, one thread, problem A, L-BFGS_M1 with 300 evaluations
(measured on a shared 2-core machine): the transposed-convolution CNN at p = 3 (245 steps,
567,553 parameters analysed in float64) about 220 s -- rerun ~40 s, Hutchinson 37-48 s, SLQ
26-37 s, eigsh ~5 s, PCA of the path 32-44 s (Gram matrices of 245 iterates), trajectory
metrics 46-52 s, planes and interpolations ~17 s -- and ~7 GB peak memory (the rerun's
recorded iterates and curvature pairs, 4.5 MB each); the pixel model 13-19 s and 0.5 GB.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError

if TYPE_CHECKING:
    import xarray as xr
    from scipy.sparse.linalg import LinearOperator

__all__ = [
    "GRID_POINTS",
    "NEGATIVE_TOL",
    "LandscapeOptions",
    "analyze",
    "landscape_figures",
    "negative_mass",
    "physics_hessian",
]

#: Points of every density grid (``grid`` dimension): each step's grid spans its Ritz values
#: padded by 5 broadening standard deviations.
GRID_POINTS = 1000

#: Relative threshold of :func:`negative_mass`: eigenvalues below ``-NEGATIVE_TOL * max|Ritz
#: value|`` count as negative ("beyond rounding").
NEGATIVE_TOL = 1e-6

#: PCA explained variance: runs longer than this many iterates get it at a subset of steps
#: (every step up to it, then 300 geometrically spaced ones), since each step costs an
#: eigenvalue problem of its own order.
PCA_ALL_STEPS = 1000

# Independent random streams, each seeded by (run seed, stream, ...).
_SLQ, _HUTCHINSON, _TOP, _PHYSICS, _PLANE, _INIT = range(6)

_DTYPES = ("float32", "float64")
_REQUIRED = ("problem", "model", "penal", "optimizer", "seed", "max_evals", "max_steps")


# ------------------------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandscapeOptions:
    """What :func:`analyze` computes, and how finely (the thesis' settings by default).

    Attributes
    ----------
    steps : tuple of int
        Steps of the run at which the spectra are taken (sorted, duplicates removed); steps
        beyond the run's last step are dropped by :func:`analyze`.
    slq_starts, slq_steps : int
        SLQ: random (Rademacher) start vectors and Lanczos steps per start (the study: 3 and
        50; the steps are capped at the operator's order).
    variance : float
        Gaussian broadening of the densities in PyHessian's *relative* convention (that of
        :func:`toposcape.landscape.spectral_density` with ``relative=True``): the variance is
        ``variance * max(1, lam_max - lam_min)``, the range taken over the Ritz values of all
        starts at that step, so the broadening scales with the spectrum's width.
    hutchinson_seeds, hutchinson_samples : int
        Hutchinson estimates of the Hessian's trace and Frobenius norm: the mean over
        ``hutchinson_seeds`` estimates of ``hutchinson_samples`` Rademacher vectors each (one
        set of products serves both estimates).
    interpolation_points : int
        Points of every linear interpolation, ``alpha`` evenly in [0, 1].
    interpolation_iterates : int
        Iterates interpolated to the final point in (b), evenly spaced over the run.
    successive_steps : int
        Interpolation (d) between ``theta_j`` and ``theta_{j+1}`` for the first steps ``j``.
    inits : int
        Random initialisations for (a) (the first two) and (c) (all), >= 2. CNN: the initial
        weights of the seeds ``seed + 1, ..., seed + inits`` (the points runs of those seeds
        start from). Pixel model (no randomness of its own): the uniform start's logits plus
        standard normal logits, one draw per initialisation (designs with the target volume,
        every density in (0, 1), the volume sigmoid's shift absorbing the mean).
    plane_points : int
        Grid points per axis of both planes; odd (>= 3), so that the centre (the final
        point) lies on the grid.
    plane_extent : float
        Both planes' coordinates run over ``[-plane_extent, plane_extent]``.
    metrics_overlap : bool
        Compute the trajectory metrics ``overlap`` and ``curvature`` (one Hessian-vector
        product per iterate).
    dtype : {"float64", "float32"}
        Precision of the CNN in the analysis (the run's iterates are analysed in it even if
        the run was float32: second derivatives need float64). The pixel model is float64.
    """

    steps: tuple[int, ...] = (0, 10, 28)
    slq_starts: int = 3
    slq_steps: int = 50
    variance: float = 1e-4
    hutchinson_seeds: int = 3
    hutchinson_samples: int = 50
    interpolation_points: int = 25
    interpolation_iterates: int = 6
    successive_steps: int = 30
    inits: int = 3
    plane_points: int = 21
    plane_extent: float = 1.0
    metrics_overlap: bool = True
    dtype: str = "float64"

    def __post_init__(self) -> None:
        who = "LandscapeOptions"
        steps = self.steps
        if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Sequence | np.ndarray):
            raise TypeError(
                f"{who}: steps must be a sequence of integers >= 0, got {_validate.given(steps)}"
            )
        steps = tuple(
            sorted(
                {
                    _validate.integer(s, f"steps[{i}]", minimum=0, who=who)
                    for i, s in enumerate(steps)
                }
            )
        )
        values: dict[str, Any] = {"steps": steps}
        for name, minimum in (
            ("slq_starts", 1),
            ("slq_steps", 1),
            ("hutchinson_seeds", 1),
            ("hutchinson_samples", 1),
            ("interpolation_points", 2),
            ("interpolation_iterates", 1),
            ("successive_steps", 1),
            ("inits", 2),
            ("plane_points", 3),
        ):
            values[name] = _validate.integer(getattr(self, name), name, minimum=minimum, who=who)
        if values["plane_points"] % 2 == 0:
            raise _validate.fail(
                "plane_points",
                "an odd integer >= 3 (the centre on the grid)",
                self.plane_points,
                who,
            )
        for name in ("variance", "plane_extent"):
            values[name] = _validate.real(
                getattr(self, name), name, minimum=0.0, lower_open=True, who=who
            )
        values["metrics_overlap"] = _validate.flag(self.metrics_overlap, "metrics_overlap", who)
        values["dtype"] = _validate.option(self.dtype, "dtype", _DTYPES, who)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> LandscapeOptions:
        """Options from a mapping (e.g. a TOML table or :meth:`to_dict`); missing keys take
        their defaults, unknown keys raise :class:`~toposcape.errors.InvalidInputError`."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise TypeError(
                "LandscapeOptions.from_dict: mapping must be a mapping of option names to "
                f"values, got {_validate.given(mapping)}"
            )
        valid = cls.names()
        unknown = sorted(str(k) for k in mapping if k not in valid)
        if unknown:
            raise InvalidInputError(
                f"LandscapeOptions: unknown option(s) {', '.join(map(repr, unknown))}; valid: "
                f"{', '.join(valid)}"
            )
        return cls(**dict(mapping))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: :meth:`from_dict` of it gives these options back."""
        out = {name: getattr(self, name) for name in self.names()}
        out["steps"] = list(self.steps)
        return out


# ------------------------------------------------------------------------------------------------
# Building blocks (public: the convexity check and the negative mass)
# ------------------------------------------------------------------------------------------------
def negative_mass(nodes: Any, weights: Any, rel_tol: float = NEGATIVE_TOL) -> float:
    """SLQ weight on eigenvalues below ``-rel_tol * max|Ritz value|``, averaged over starts.

    Parameters
    ----------
    nodes, weights : ndarray (starts, steps) or (steps,)
        Ritz values and Gauss weights of each start (``spectral_density(...,
        return_quadrature=True)``; NaN-padded where a start stopped early). Each start's
        weights sum to 1, so the result is the estimated fraction of eigenvalues that are
        negative beyond rounding.
    rel_tol : float
        The threshold relative to the largest ``|Ritz value|`` over all starts: an operator
        that is positive semi-definite in exact arithmetic gets Ritz values down to about
        ``-eps * ||H||`` (a projected operator has an exact zero eigenvalue), which must not
        count; 1e-6 leaves room for the Hessian-vector products' own rounding.

    Returns
    -------
    float
        In [0, 1]; NaN when there is no finite node.

    Notes
    -----
    Ritz values are quadrature nodes, not eigenvalues: with 50 Lanczos steps on a spectrum
    whose outliers are ~1e8 wide, the bulk near zero is represented by one or two nodes
    carrying most of the weight, and its sign decides the result (the CNN at p = 3 on
    problem A: one node at -700 with weight 0.99 against a threshold of 123 at step 0). The
    mass is then "the bulk's quadrature node is negative", not a count of negative
    eigenvalues.
    """
    who = "negative_mass"
    x = np.atleast_2d(_validate.array(nodes, "nodes", finite=False, who=who))
    w = np.atleast_2d(_validate.array(weights, "weights", finite=False, who=who))
    if x.shape != w.shape or x.ndim != 2:
        raise InvalidInputError(
            f"{who}: nodes and weights must have one shape (starts, steps), got {x.shape} and "
            f"{w.shape}"
        )
    rel_tol = _validate.real(rel_tol, "rel_tol", minimum=0.0, who=who)
    valid = np.isfinite(x) & np.isfinite(w)
    if not valid.any():
        return float("nan")
    tol = rel_tol * float(np.max(np.abs(x[valid])))
    below = np.where(valid & (np.where(valid, x, 0.0) < -tol), w, 0.0)
    return float(below.sum(axis=1).mean())


class _ProjectedPhysics:
    """``P H P`` on the free cells, ``H`` the physics Hessian in density space at ``x``."""

    def __init__(self, physics: Any, x: np.ndarray) -> None:
        self.physics = physics
        self.x = x
        self.free = np.flatnonzero(physics.free)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.ravel(v)
        full = np.zeros(self.physics.size)
        full[self.free] = v - v.mean()
        h = self.physics.hvp(self.x, full)[self.free]
        return h - h.mean()


def _projected_operator(physics: Any, x: np.ndarray) -> LinearOperator:
    from scipy.sparse.linalg import LinearOperator

    product = _ProjectedPhysics(physics, x)
    n = product.free.size
    return LinearOperator((n, n), matvec=product, rmatvec=product, dtype=np.float64)


def physics_hessian(
    problem: Any, densities: Any, penal: float = 1.0, solver: str = "auto"
) -> LinearOperator:
    """The physics Hessian on the volume constraint's tangent space: ``P H P``.

    ``H`` is the Hessian of the compliance as a function of the pixel densities ``x`` (before
    the cone filter: :class:`~toposcape.PixelObjective` with ``volume_constraint=False``) at
    ``densities``, restricted to the designable ("free") cells; ``P = I - 1 1^T / n`` (``n``
    free cells) projects onto the directions that keep the volume. At p = 1 the compliance is
    convex in ``x`` (the stiffness is linear in it, the filter is linear), so ``P H P`` is
    positive semi-definite, with an exact zero eigenvalue along ``1``.

    Parameters
    ----------
    problem : Problem or str
    densities : ndarray (H, W) or (H * W,)
        Densities in [0, 1] before the filter (for the pixel model, the volume sigmoid's
        output ``PixelObjective.sigmoid.forward(z).x``).
    penal : float
        SIMP penalty of the physics.
    solver : str
        Sparse solver backend.

    Returns
    -------
    LinearOperator (n, n)
        Over the free cells, in the order of ``numpy.flatnonzero(mask.ravel())``.
    """
    from .. import PixelObjective

    who = "physics_hessian"
    physics = PixelObjective(problem, penal=penal, volume_constraint=False, solver=solver)
    x = _validate.array(densities, "densities", who=who).ravel()
    if x.size != physics.size:
        raise InvalidInputError(
            f"{who}: densities must hold one value per cell ({physics.shape[0]} x "
            f"{physics.shape[1]} = {physics.size}), got {x.size}"
        )
    if x.min() < 0.0 or x.max() > 1.0:
        raise _validate.fail("densities", "values in [0, 1]", densities, who)
    return _projected_operator(physics, x)


def _generator(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def _hutchinson(H: Any, seeds: int, samples: int, key: tuple[int, ...]) -> tuple[float, float]:
    """Trace and Frobenius norm, each the mean over ``seeds`` Hutchinson estimates.

    The same numbers as ``landscape.trace(H, samples, seed=g)`` and
    ``landscape.frobenius_norm(H, samples, seed=g)`` with ``g = default_rng(key + (s,))``,
    from one set of products (both draw the same Rademacher vectors from the same seed).
    """
    n = H.shape[0]
    traces, norms = [], []
    for s in range(seeds):
        generator = _generator(*key, s)
        zt = np.empty(samples)
        zf = np.empty(samples)
        for i in range(samples):
            z = generator.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0
            hz = np.asarray(H.matvec(z), dtype=np.float64).reshape(-1)
            zt[i] = float(z @ hz)
            zf[i] = float(hz @ hz)
        traces.append(float(zt.mean()))
        norms.append(float(np.sqrt(max(float(zf.mean()), 0.0))))
    return float(np.mean(traces)), float(np.mean(norms))


def _cell_density(
    grid: np.ndarray, nodes: np.ndarray, weights: np.ndarray, variance: float
) -> np.ndarray:
    """The broadened density averaged over each grid point's cell (edges at the midpoints).

    Where the grid resolves the Gaussians this is the point density to second order; where it
    does not (a spectrum 1e8 wide broadened by a standard deviation of 1e2), point values
    would miss the peaks between grid points, while cell means keep every node's mass.
    """
    from scipy.special import ndtr

    std = math.sqrt(variance)
    step = np.diff(grid)
    edges = np.concatenate(
        [[grid[0] - step[0] / 2], (grid[1:] + grid[:-1]) / 2, [grid[-1] + step[-1] / 2]]
    )
    a = (edges[:-1, None] - nodes[None, :]) / std
    b = (edges[1:, None] - nodes[None, :]) / std
    # Upper tails by the complementary form, so that small masses keep their precision.
    mass = np.where(a > 0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    return (mass @ weights) / np.diff(edges)


def _slq(op: Any, starts: int, steps: int, variance: float, key: tuple[int, ...]):
    """SLQ of ``op``: grid, cell-averaged density, Ritz values and weights (starts, steps)."""
    from .. import landscape

    steps = min(steps, op.shape[0])
    grid, _, (nodes, weights) = landscape.spectral_density(
        op,
        runs=starts,
        steps=steps,
        sigma2=variance,
        seed=_generator(*key),
        n_grid=GRID_POINTS,
        return_quadrature=True,
        progress=False,
    )
    valid = np.isfinite(nodes)
    spread = float(nodes[valid].max() - nodes[valid].min())
    absolute = variance * max(1.0, spread)  # spectral_density's relative convention
    density = _cell_density(grid, nodes[valid], weights[valid] / starts, absolute)
    return grid, density, nodes, weights


def _top(op: Any, key: tuple[int, ...]) -> float:
    from .. import landscape

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unconverged: the best Ritz value
        w, _ = landscape.eigsh(op, k=1, which="LA", tol=1e-6, seed=_generator(*key))
    return float(w[0])


# ------------------------------------------------------------------------------------------------
# The analysis
# ------------------------------------------------------------------------------------------------
def _check_settings(run_settings: Any, who: str) -> dict[str, Any]:
    if not isinstance(run_settings, Mapping):
        raise TypeError(
            f"{who}: run_settings must be a mapping (RunSpec.settings()), got "
            f"{_validate.given(run_settings)}"
        )
    missing = [k for k in _REQUIRED if k not in run_settings]
    if missing:
        raise InvalidInputError(
            f"{who}: run_settings lacks {', '.join(map(repr, missing))} (needs "
            f"{', '.join(_REQUIRED)}; see RunSpec.settings())"
        )
    settings = dict(run_settings)
    for name, inner in (("model", "kind"), ("optimizer", "preset")):
        value = settings[name]
        if not isinstance(value, Mapping) or inner not in value:
            raise InvalidInputError(
                f"{who}: run_settings[{name!r}] must be a mapping with a {inner!r} key, got "
                f"{_validate.given(value)}"
            )
        settings[name] = dict(value)
    _validate.option(
        settings["model"]["kind"], "run_settings['model']['kind']", ("pixel", "cnn"), who
    )
    if settings["model"]["kind"] == "cnn":
        _validate.integer(settings["seed"], "run_settings['seed']", minimum=0, who=who)
    settings.setdefault("solver", "auto")
    settings["threads"] = _validate.integer(
        settings.get("threads", 1), "run_settings['threads']", minimum=1, who=who
    )
    return settings


def analyze(
    run_settings: Mapping[str, Any],
    options: LandscapeOptions | Mapping[str, Any] | None = None,
    progress: bool | None = False,
) -> xr.Dataset:
    """The landscape analysis of one study run, as one Dataset.

    Parameters
    ----------
    run_settings : mapping
        The run's settings (:meth:`~.spec.RunSpec.settings`): problem, model, penal,
        optimizer, seed, max_evals, max_steps, solver, threads. Optimizers that enforce the
        volume themselves (OC, MMA) are not supported.
    options : LandscapeOptions or mapping, optional
        Default: the thesis' settings (a mapping goes through :meth:`LandscapeOptions.from_dict`).
    progress : bool or None
        A bar over the stages (rerun, each spectral step, interpolations, planes, metrics);
        None: only on a terminal.

    Returns
    -------
    xarray.Dataset
        The run is repeated with ``record_params=True`` (and ``record_memory=True`` for L-BFGS
        direction rules) under the run's pinned thread count: the same computation, so its
        losses equal the run's bit for bit. The analysis objective is the run's objective,
        except that the CNN is rebuilt in ``options.dtype`` (same seed and options) and
        evaluated at the run's iterates. ``theta_T`` is the final iterate.

        Attributes: ``problem``, ``model`` (kind), ``upsampling`` ("" for pixels), ``penal``,
        ``seed`` (-1 for pixels), ``optimizer`` (preset), ``memory`` (-1 without one),
        ``analysis_dtype``, ``n_steps``, ``options`` (JSON of the options).

        Spectra, over ``density_step`` (the steps of ``options.steps`` that the run reached):

        * ``hessian_grid``, ``hessian_density`` (density_step, grid): the SLQ density of the
          Hessian (:data:`GRID_POINTS` points per step spanning its Ritz values padded by 5
          standard deviations; the broadened density averaged over each point's cell, which
          integrates to 1); ``bk_grid``, ``bk_density``: the same for ``B_k``
          (``Trajectory.quasi_newton(k, "B")``, same start vectors); NaN without L-BFGS
          memory or at the last step (no ``B`` was formed there);
        * ``hessian_ritz``, ``hessian_ritz_weight``, ``bk_ritz``, ``bk_ritz_weight``
          (density_step, slq_start, slq_node): the quadratures behind the densities
          (NaN-padded), from which any other broadening can be drawn;
        * ``hessian_top`` (largest eigenvalue, thick-restart Lanczos to tol 1e-6),
          ``hessian_trace``, ``hessian_frobenius`` (Hutchinson), ``hessian_negative_mass``
          (:func:`negative_mass` of the Hessian's quadrature), ``bk_top``;
        * ``physics_negative_mass``, ``physics_min_ritz``, ``physics_max_ritz``: SLQ of
          :func:`physics_hessian` at the design's densities, pixel model at p = 1 only
          (NaN otherwise).

        Interpolations, over ``alpha`` (``interpolation_points`` in [0, 1]; the end points
        are evaluated themselves): ``interp_a`` (alpha) between initialisations 1 and 2;
        ``interp_b`` (b_iterate, alpha) from the iterates ``b_iterate`` to ``theta_T``;
        ``interp_c`` (c_init, alpha) from initialisation ``c_init`` (1..inits) to
        ``theta_T``; ``interp_d`` (d_step, alpha) from ``theta_j`` to ``theta_{j+1}``.

        Planes around ``theta_T`` on one grid ``plane_a``, ``plane_b`` (``plane_points`` in
        ``[-plane_extent, plane_extent]``): ``plane_loss`` (plane_b, plane_a) on
        filter-normalised random directions (``random_directions(normalize="filter")``, biases
        held), ``plane_path`` (step, xy) the iterates projected into it; ``pca_plane_loss``
        on the PCA directions of the path, each scaled so that the projected path covers
        1/1.2 of the extent along it (the scales, in parameter units per plane unit, are the
        variable's attributes ``scale_d1``, ``scale_d2``), ``pca_path`` (step, xy),
        ``pca_explained`` (step, component) the explained variance ratio of the path's
        prefix ending at each iterate (NaN where not computed, see :data:`PCA_ALL_STEPS`).
        The PCA variables are NaN when the path spans fewer than two directions.

        Metrics over ``step`` (``0..n_steps``): ``loss`` (the rerun's, in the run's own
        precision), ``analysis_loss`` (the analysis objective's at the same iterates), and
        from :func:`~toposcape.landscape.trajectory_metrics` on the analysis objective
        ``grad_norm``, ``distance``, ``distance_to_final``, ``step_length``, ``grad_cosine``,
        ``grad_dot_to_final``, ``overlap``, ``curvature``; scalar ``rerun_final_loss``.
    """
    from .. import _threads, models

    who = "analyze"
    settings = _check_settings(run_settings, who)
    if options is None or isinstance(options, Mapping):
        options = LandscapeOptions.from_dict(options)
    elif not isinstance(options, LandscapeOptions):
        raise TypeError(
            f"{who}: options must be LandscapeOptions or a mapping, got {_validate.given(options)}"
        )
    if progress is not None:
        progress = _validate.flag(progress, "progress", who)
    if settings["model"]["kind"] != "pixel":
        models.load_torch()  # before pinning, so torch's threads are pinned too
    with _threads.pinned(settings["threads"]):
        return _analyze(settings, options, progress)


def _analyze(settings: dict[str, Any], options: LandscapeOptions, progress: bool | None):
    import xarray as xr

    from .. import landscape, optim
    from .._progress import progress_bar
    from .runner import build_objective

    who = "analyze"
    kind = settings["model"]["kind"]
    preset = settings["optimizer"]["preset"]
    opt_options = {k: v for k, v in settings["optimizer"].items() if k != "preset"}
    opt = optim.get(preset, **opt_options)
    if opt.requires.explicit_volume:
        raise InvalidInputError(
            f"{who}: optimizer {preset!r} enforces the volume itself (densities as parameters); "
            "the landscape analysis covers optimizers on the volume-constrained objective"
        )
    with_memory = bool(opt.requires.curvature_memory)
    base = int(settings["seed"]) if settings["seed"] is not None else 0

    run_obj = build_objective(settings)
    if kind == "pixel":
        obj, analysis_dtype = run_obj, "float64"
    else:
        analysis_dtype = options.dtype
        if settings["model"].get("dtype", "float32") == options.dtype:
            obj = run_obj
        else:
            obj = build_objective(
                {**settings, "model": {**settings["model"], "dtype": options.dtype}}
            )

    bar = progress_bar(progress, 5 + len(options.steps), "landscape", "stage", leave=False)

    def advance(stage: str) -> None:
        if bar is not None:
            bar.set_postfix_str(stage)
            bar.update(1)

    try:
        # --- the rerun: every iterate
        traj = opt.run(
            run_obj,
            max_evals=settings["max_evals"],
            max_steps=settings["max_steps"],
            record_params=True,
            progress=False,
        )
        n_steps = traj.n_steps
        if n_steps < 1:
            raise InvalidInputError(
                f"{who}: the run made no step ({traj.reason}): there is no path to analyse"
            )
        thetas = traj.thetas
        final = thetas[-1]
        kept = [k for k in options.steps if k <= n_steps]
        # The curvature pairs (two vectors per step) only up to the last spectral step: a
        # second, shorter rerun, the same computation up to there (checked), so memory
        # holds 2 x max(steps) vectors besides the iterates, not 2 x the run's steps.
        memory_traj = None
        if with_memory and kept:
            memory_traj = opt.run(
                run_obj,
                max_evals=settings["max_evals"],
                max_steps=max(kept) + 1,  # B_k is the matrix that made step k + 1
                record_memory=True,
                progress=False,
            )
            prefix = np.asarray(traj.losses[: len(memory_traj.losses)])
            if not np.array_equal(np.asarray(memory_traj.losses), prefix):
                raise RuntimeError(
                    f"{who}: the rerun recording the L-BFGS pairs left the run's path "
                    "(the run is not deterministic under its settings)"
                )
        advance("rerun")

        # --- spectra
        if bar is not None:
            bar.total = 5 + len(kept)
            bar.refresh()
        spectra = _spectra(settings, options, obj, thetas, memory_traj, kept, base, advance)
        memory_traj = None

        # --- interpolations
        inits = _inits(settings, options, obj, base)
        n = options.interpolation_points
        interp_a = landscape.interpolate_between(obj, inits[:2], n=n, progress=False)
        b_steps = np.unique(
            np.round(np.linspace(0, n_steps - 1, options.interpolation_iterates)).astype(int)
        )
        interp_b = landscape.interpolate_to_final(obj, thetas, steps=b_steps, n=n, progress=False)
        interp_c = landscape.interpolate_from_inits(obj, inits, final, n=n, progress=False)
        d_steps = np.arange(min(options.successive_steps, n_steps))
        interp_d = landscape.interpolate_successive(obj, thetas, steps=d_steps, n=n, progress=False)
        advance("interpolations")

        # --- planes
        extent, points = options.plane_extent, options.plane_points
        d1, d2 = landscape.random_directions(
            obj, final, seed=_generator(base, _PLANE), normalize="filter"
        )
        A, _, plane_loss = landscape.plane(
            obj, final, d1, d2, extent=extent, n=points, progress=False
        )
        plane_path = landscape.project(thetas, final, d1, d2)
        advance("random plane")
        pca = _pca_plane(obj, thetas, final, extent, points)
        advance("PCA plane")

        # --- metrics
        metrics = landscape.trajectory_metrics(
            traj, obj, overlap=options.metrics_overlap, progress=False
        )
        advance("metrics")
    finally:
        if bar is not None:
            bar.close()

    grid_axis = A[0]
    steps = np.arange(n_steps + 1)
    data: dict[str, Any] = dict(spectra)
    data.update(
        interp_a=("alpha", interp_a.values[0]),
        interp_b=(("b_iterate", "alpha"), interp_b.values),
        interp_c=(("c_init", "alpha"), interp_c.values),
        interp_d=(("d_step", "alpha"), interp_d.values),
        plane_loss=(
            ("plane_b", "plane_a"),
            plane_loss,
            {"directions": "random, filter-normalised (biases held)", "center": "final iterate"},
        ),
        plane_path=(("step", "xy"), plane_path),
        pca_plane_loss=(
            ("plane_b", "plane_a"),
            pca["loss"],
            {
                "directions": "PCA of the path",
                "center": "final iterate",
                "scale_d1": pca["scale"][0],
                "scale_d2": pca["scale"][1],
            },
        ),
        pca_path=(("step", "xy"), pca["path"]),
        pca_explained=(("step", "component"), pca["evr"]),
        loss=("step", np.asarray(traj.losses, dtype=np.float64)),
        analysis_loss=("step", metrics["loss"].values),
        rerun_final_loss=((), float(traj.losses[-1])),
    )
    for name in metrics.data_vars:  # trajectory_metrics' variables (its loss is analysis_loss)
        if name != "loss":
            data[name] = ("step", metrics[name].values)
    model = settings["model"]
    memory = opt_options.get("memory") if with_memory else None
    attrs = {
        "problem": str(settings["problem"]),
        "model": kind,
        "upsampling": str(model.get("upsampling", "bilinear")) if kind == "cnn" else "",
        "penal": float(settings["penal"]),
        "seed": int(settings["seed"]) if settings["seed"] is not None else -1,
        "optimizer": str(preset),
        "memory": int(memory) if memory is not None else -1,
        "analysis_dtype": analysis_dtype,
        "n_steps": int(n_steps),
        "options": json.dumps(options.to_dict(), sort_keys=True),
    }
    return xr.Dataset(
        data,
        coords={
            "density_step": np.asarray(kept, dtype=np.int64),
            "alpha": interp_a["alpha"].values,
            "b_iterate": b_steps.astype(np.int64),
            "c_init": np.arange(1, options.inits + 1, dtype=np.int64),
            "d_step": d_steps.astype(np.int64),
            "plane_a": grid_axis,
            "plane_b": grid_axis.copy(),
            "step": steps,
            "xy": ["a", "b"],
            "component": np.arange(1, 3, dtype=np.int64),
        },
        attrs=attrs,
    )


def _spectra(settings, options, obj, thetas, memory_traj, kept, base, advance) -> dict[str, Any]:
    """The spectral variables over ``density_step`` (see :func:`analyze`); ``memory_traj``:
    the rerun with the L-BFGS pairs (None without an L-BFGS direction)."""
    from .. import PixelObjective, landscape

    m, G, S = len(kept), GRID_POINTS, options.slq_starts
    nodes_count = min(options.slq_steps, obj.size)

    def full(*shape):
        return np.full(shape, np.nan)

    out = {
        name: full(m, G) for name in ("hessian_grid", "hessian_density", "bk_grid", "bk_density")
    }
    for name in ("hessian_ritz", "hessian_ritz_weight", "bk_ritz", "bk_ritz_weight"):
        out[name] = full(m, S, nodes_count)
    for name in (
        "hessian_top",
        "hessian_trace",
        "hessian_frobenius",
        "hessian_negative_mass",
        "bk_top",
        "physics_negative_mass",
        "physics_min_ritz",
        "physics_max_ritz",
    ):
        out[name] = full(m)

    physics = None
    if settings["model"]["kind"] == "pixel" and float(settings["penal"]) == 1.0:
        physics = PixelObjective(
            obj.problem, penal=1.0, volume_constraint=False, solver=settings["solver"]
        )
    for i, k in enumerate(kept):
        theta = thetas[k]
        H = landscape.hessian(obj, theta)
        grid, density, nodes, weights = _slq(H, S, nodes_count, options.variance, (base, _SLQ, k))
        out["hessian_grid"][i], out["hessian_density"][i] = grid, density
        out["hessian_ritz"][i], out["hessian_ritz_weight"][i] = nodes, weights
        out["hessian_negative_mass"][i] = negative_mass(nodes, weights)
        out["hessian_trace"][i], out["hessian_frobenius"][i] = _hutchinson(
            H, options.hutchinson_seeds, options.hutchinson_samples, (base, _HUTCHINSON, k)
        )
        out["hessian_top"][i] = _top(H, (base, _TOP, k))
        if memory_traj is not None and k < len(memory_traj.memory):
            B = memory_traj.quasi_newton(k, "B")
            grid, density, nodes, weights = _slq(
                B, S, nodes_count, options.variance, (base, _SLQ, k)
            )
            out["bk_grid"][i], out["bk_density"][i] = grid, density
            out["bk_ritz"][i], out["bk_ritz_weight"][i] = nodes, weights
            out["bk_top"][i] = _top(B, (base, _TOP, k))
        if physics is not None:
            x = np.clip(obj.sigmoid.forward(theta.reshape(obj.shape)).x.ravel(), 0.0, 1.0)
            P = _projected_operator(physics, x)
            _, _, (pn, pw) = landscape.spectral_density(
                P,
                runs=S,
                steps=min(options.slq_steps, P.shape[0]),
                sigma2=options.variance,
                seed=_generator(base, _PHYSICS, k),
                n_grid=2,
                return_quadrature=True,
                progress=False,
            )
            out["physics_negative_mass"][i] = negative_mass(pn, pw)
            out["physics_min_ritz"][i] = float(np.nanmin(pn))
            out["physics_max_ritz"][i] = float(np.nanmax(pn))
        advance(f"spectra at step {k}")

    dims2 = ("density_step", "grid")
    dims3 = ("density_step", "slq_start", "slq_node")
    result: dict[str, Any] = {}
    for name, values in out.items():
        dims = {2: dims2, 3: dims3}.get(values.ndim, ("density_step",))
        result[name] = (dims, values)
    return result


def _inits(settings, options, obj, base) -> np.ndarray:
    """Random initialisations 1..inits (see :class:`LandscapeOptions`)."""
    from .runner import build_objective

    if settings["model"]["kind"] == "pixel":
        x0 = obj.x0
        return np.stack(
            [
                x0 + _generator(base, _INIT, i).standard_normal(x0.size)
                for i in range(1, options.inits + 1)
            ]
        )
    return np.stack(
        [build_objective({**settings, "seed": base + i}).x0 for i in range(1, options.inits + 1)]
    )


def _pca_plane(obj, thetas, final, extent, points) -> dict[str, Any]:
    """The PCA plane through the final point, scaled to cover the path (NaN when none)."""
    from .. import landscape

    K1 = thetas.shape[0]
    if K1 <= PCA_ALL_STEPS:
        evr_steps = None
    else:
        evr_steps = np.unique(
            np.concatenate(
                [
                    np.arange(PCA_ALL_STEPS),
                    np.geomspace(PCA_ALL_STEPS, K1 - 1, 300).astype(np.int64),
                ]
            )
        )
    nan = {
        "loss": np.full((points, points), np.nan),
        "path": np.full((K1, 2), np.nan),
        "evr": np.full((K1, 2), np.nan),
        "scale": (float("nan"), float("nan")),
    }
    try:
        p1, p2, evr = landscape.pca_directions(thetas, steps=evr_steps)
    except InvalidInputError:  # a straight path: no plane
        return nan
    coords = landscape.project(thetas, final, p1, p2)
    reach = np.max(np.abs(coords), axis=0)
    scale = np.where(reach > 0, 1.2 * reach / extent, 1.0)
    q1, q2 = p1 * scale[0], p2 * scale[1]
    _, _, loss = landscape.plane(obj, final, q1, q2, extent=extent, n=points, progress=False)
    return {
        "loss": loss,
        "path": landscape.project(thetas, final, q1, q2),
        "evr": evr.values,
        "scale": (float(scale[0]), float(scale[1])),
    }


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------
def landscape_figures(
    datasets: Sequence[xr.Dataset], out: str | Path, title: str
) -> dict[str, Path]:
    """The figures of one case from its datasets (one :func:`analyze` result per seed).

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Results of :func:`analyze` for the seeds of one case (the first one is drawn where a
        figure shows a single run).
    out : path
        Directory for the PNG files (created).
    title : str
        Figure title prefix (e.g. the case code ``"NN3A, L-BFGS_M1"``).

    Returns
    -------
    dict
        ``spectra`` (Hessian and ``B_k`` densities at each spectral step, first seed),
        ``interpolations`` ((a)-(d), first seed), ``planes`` (random and PCA planes with
        the path, and the PCA's explained variance along the run, first seed), ``metrics``
        (median over seeds with the interquartile band, and every seed thin, of loss,
        distance, gradient norm, gradient cosine, ``g . (theta_T - theta)`` and overlap):
        name -> path of the PNG file.
    """
    who = "landscape_figures"
    if isinstance(datasets, str | bytes | Mapping) or not isinstance(datasets, Sequence):
        raise TypeError(
            f"{who}: datasets must be a sequence of analyze() Datasets, got "
            f"{_validate.given(datasets)}"
        )
    datasets = list(datasets)
    if not datasets:
        raise InvalidInputError(f"{who}: datasets must hold at least one Dataset, got none")
    needed = ("hessian_density", "interp_a", "plane_loss", "grad_norm", "loss")
    for i, ds in enumerate(datasets):
        if not (hasattr(ds, "data_vars") and all(v in ds for v in needed)):
            raise TypeError(
                f"{who}: datasets[{i}] must be a Dataset from analyze(), got {_validate.given(ds)}"
            )
    if not isinstance(title, str):
        raise TypeError(f"{who}: title must be a string, got {_validate.given(title)}")
    if not isinstance(out, str | Path):
        raise TypeError(f"{who}: out must be a path, got {_validate.given(out)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawers = {
        "spectra": _figure_spectra,
        "interpolations": _figure_interpolations,
        "planes": _figure_planes,
        "metrics": _figure_metrics,
    }
    paths: dict[str, Path] = {}
    for name, draw in drawers.items():
        fig = draw(datasets, title)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=130)
        plt.close(fig)
        paths[name] = path
    return paths


def _run_label(ds: xr.Dataset) -> str:
    a = ds.attrs
    opt = a.get("optimizer", "")
    if a.get("memory", -1) not in (-1, None):
        opt += f" (m = {a['memory']})"
    seed = a.get("seed", -1)
    return f"{opt}, seed {seed}" if seed != -1 else opt


def _panel_density(ax, grid, density, color, label):
    """A density on a log axis, floored 10 decades below its peak (or a note if absent)."""
    finite = np.isfinite(density)
    if not finite.any():
        ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    peak = float(np.max(density[finite]))
    floor = peak * 1e-10 if peak > 0 else 1e-300
    ax.plot(grid[finite], np.maximum(density[finite], floor), color=color, lw=1.0, label=label)
    ax.set_yscale("log")
    ax.set_ylim(floor, peak * 3)


def _figure_spectra(datasets, title):
    import matplotlib.pyplot as plt

    ds = datasets[0]
    steps = ds["density_step"].values
    rows = max(1, steps.size)
    fig, axes = plt.subplots(
        rows, 2, figsize=(11, 2.8 * rows + 0.6), squeeze=False, constrained_layout=True
    )
    fig.suptitle(f"{title}: eigenvalue densities (SLQ), {_run_label(ds)}")
    if steps.size == 0:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no spectral step", ha="center", va="center", transform=ax.transAxes)
        return fig
    for r, k in enumerate(steps):
        row = ds.sel(density_step=k)
        ax = axes[r, 0]
        _panel_density(
            ax, row["hessian_grid"].values, row["hessian_density"].values, "C0", "Hessian"
        )
        text = (
            rf"Hessian, step {k}: $\lambda_{{max}}$ = {float(row['hessian_top']):.3g}, "
            f"tr = {float(row['hessian_trace']):.3g}, "
            rf"$\|H\|_F$ = {float(row['hessian_frobenius']):.3g}, "
            f"neg. mass = {float(row['hessian_negative_mass']):.2g}"
        )
        phys = float(row["physics_negative_mass"])
        if np.isfinite(phys):
            text += (
                f"\nphysics (P H P): neg. mass {phys:.2g}, min Ritz "
                f"{float(row['physics_min_ritz']):.3g}"
            )
        ax.set_title(text, fontsize="small")
        ax.set_ylabel("density")
        ax = axes[r, 1]
        _panel_density(ax, row["bk_grid"].values, row["bk_density"].values, "C1", "B_k")
        top = float(row["bk_top"])
        ax.set_title(
            f"L-BFGS $B_k$, step {k}"
            + (rf": $\lambda_{{max}}$ = {top:.3g}" if np.isfinite(top) else ""),
            fontsize="small",
        )
        for a in axes[r]:
            a.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            a.grid(alpha=0.3)
    for a in axes[-1]:
        a.set_xlabel("eigenvalue")
    return fig


def _positive_span(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 10)


def _figure_interpolations(datasets, title):
    import matplotlib.pyplot as plt

    from ..landscape import plot_interpolation

    ds = datasets[0]
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4), constrained_layout=True)
    fig.suptitle(f"{title}: linear interpolations, {_run_label(ds)}")
    panels = [
        ("(a) between initialisations 1 and 2", ds["interp_a"], None),
        (
            "(b) from iterates to the final point",
            ds["interp_b"],
            [f"step {int(s)}" for s in ds["b_iterate"].values],
        ),
        (
            "(c) from initialisations to the final point",
            ds["interp_c"],
            [f"init {int(s)}" for s in ds["c_init"].values],
        ),
        ("(d) between successive iterates", ds["interp_d"].rename(d_step="step j"), None),
    ]
    for ax, (name, da, labels) in zip(axes, panels, strict=True):
        logy = _positive_span(da.values)
        if da.ndim == 2 and labels is None:
            plot_interpolation(da, ax=ax, logy=logy, colorbar=True)
        elif da.ndim == 2:
            plot_interpolation(da["alpha"].values, da.values, ax=ax, labels=labels, logy=logy)
        else:
            plot_interpolation(da, ax=ax, logy=logy)
        ax.set_title(name, fontsize="medium")
        ax.set_ylabel("loss (compliance)")
        ax.grid(alpha=0.3, which="both" if logy else "major")
    return fig


def _figure_planes(datasets, title):
    import matplotlib.pyplot as plt

    from ..landscape import plot_plane

    ds = datasets[0]
    A, B_ = np.meshgrid(ds["plane_a"].values, ds["plane_b"].values)
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), constrained_layout=True)
    fig.suptitle(f"{title}: planes around the final point, {_run_label(ds)}")
    label = [f"path of {_run_label(ds)}"]
    plot_plane(
        A,
        B_,
        ds["plane_loss"].values,
        xy=[ds["plane_path"].values],
        ax=axes[0],
        log=True,
        labels=label,
    )
    axes[0].set_title("random directions, filter-normalised", fontsize="medium")
    axes[0].set_xlabel("$d_1$ (filter-normalised units)")
    axes[0].set_ylabel("$d_2$")
    pca = ds["pca_plane_loss"]
    if np.isfinite(pca.values).any():
        plot_plane(
            A, B_, pca.values, xy=[ds["pca_path"].values], ax=axes[1], log=True, labels=label
        )
        axes[1].set_xlabel(f"PC 1 (x {pca.attrs['scale_d1']:.3g})")
        axes[1].set_ylabel(f"PC 2 (x {pca.attrs['scale_d2']:.3g})")
    else:
        axes[1].text(
            0.5,
            0.5,
            "no PCA plane (straight path)",
            ha="center",
            va="center",
            transform=axes[1].transAxes,
        )
    axes[1].set_title("PCA directions of the path", fontsize="medium")
    evr = ds["pca_explained"]
    ax = axes[2]
    steps = evr["step"].values
    for c in evr["component"].values:
        ax.plot(steps, evr.sel(component=c).values, lw=1.2, label=f"PC {int(c)}")
    ax.plot(steps, evr.sum("component", skipna=False).values, "k--", lw=1.0, label="PC 1 + PC 2")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("iterate (end of the prefix)")
    ax.set_ylabel("explained variance ratio")
    ax.set_title("PCA of the path up to each iterate", fontsize="medium")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _figure_metrics(datasets, title):
    import matplotlib.pyplot as plt

    panels = [
        ("loss", "loss (compliance)", "log"),
        ("distance", r"$\|\theta_k - \theta_0\|$", "log"),
        ("grad_norm", r"$\|g_k\|$", "log"),
        ("grad_cosine", r"$\cos(g_{k-1}, g_k)$", "linear"),
        ("grad_dot_to_final", r"$g_k \cdot (\theta_T - \theta_k)$", "symlog"),
        ("overlap", r"overlap $g^T H g / (\|g\| \|H g\|)$", "linear"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(16, 8), constrained_layout=True)
    n = len(datasets)
    fig.suptitle(
        f"{title}: along the run, median over {n} seed{'s' if n != 1 else ''}"
        + (
            " (band: interquartile range, thin: single seeds; median while at least half "
            "of the runs go on)"
            if n > 1
            else ""
        )
    )
    for ax, (name, label, scale) in zip(axes.ravel(), panels, strict=True):
        series = [np.asarray(ds[name].values, dtype=np.float64) for ds in datasets]
        length = max(s.size for s in series)
        stack = np.full((n, length), np.nan)
        for i, s in enumerate(series):
            stack[i, : s.size] = s
        x = np.arange(length)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            med = np.nanmedian(stack, axis=0)
            lo, hi = np.nanpercentile(stack, [25, 75], axis=0)
        # Runs end at different steps: the median only where at least half of them go on.
        few = np.isfinite(stack).sum(axis=0) < max(1, n / 2)
        med[few], lo[few], hi[few] = np.nan, np.nan, np.nan
        if n > 1:
            for s in stack:
                ax.plot(x, s, color="C0", lw=0.5, alpha=0.35)
            ax.fill_between(x, lo, hi, color="C0", alpha=0.25, lw=0)
        ax.plot(x, med, color="C0", lw=1.8)
        if scale == "symlog":
            finite = np.abs(stack[np.isfinite(stack) & (stack != 0)])
            thresh = float(np.percentile(finite, 5)) if finite.size else 1.0
            ax.set_yscale("symlog", linthresh=max(thresh, 1e-300))
            ax.axhline(0.0, color="k", lw=0.6)
        elif scale == "log":
            ax.set_yscale("log")
        else:
            ax.axhline(0.0, color="k", lw=0.6)
        ax.set_xlabel("iterate k")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="major")
    return fig
