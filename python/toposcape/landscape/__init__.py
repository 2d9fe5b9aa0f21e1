"""Landscape analysis: Hessian and quasi-Newton spectra, slices, projections, trajectory metrics.

>>> import toposcape as ts
>>> obj = ts.PixelObjective(ts.problems.mbb_beam(width=16, height=8, density=0.5))
>>> H = ts.landscape.hessian(obj, obj.x0)
>>> w, V = ts.landscape.eigsh(H, k=3, which="LA")

Spectra (:mod:`.spectral`) run Lanczos in the compiled core; slices, projections
(:mod:`.slices`, :mod:`.directions`) and metrics (:mod:`.metrics`) need only the objective
protocol; figures are in :mod:`.plotting`.
"""

from .directions import eigen_directions, normalize_direction, pca_directions, random_directions
from .metrics import trajectory_metrics
from .plotting import (
    plot_interpolation,
    plot_interpolation_designs,
    plot_plane,
    plot_run_metrics,
    plot_spectral_densities,
)
from .slices import (
    interpolate,
    interpolate_between,
    interpolate_from_inits,
    interpolate_pairs,
    interpolate_successive,
    interpolate_to_final,
    plane,
    project,
)
from .spectral import (
    broadened_density,
    curvature,
    eigsh,
    frobenius_norm,
    hessian,
    lanczos,
    overlap,
    spectral_density,
    trace,
)

__all__ = [
    "broadened_density",
    "curvature",
    "eigen_directions",
    "eigsh",
    "frobenius_norm",
    "hessian",
    "interpolate",
    "interpolate_between",
    "interpolate_from_inits",
    "interpolate_pairs",
    "interpolate_successive",
    "interpolate_to_final",
    "lanczos",
    "normalize_direction",
    "overlap",
    "pca_directions",
    "plane",
    "plot_interpolation",
    "plot_interpolation_designs",
    "plot_plane",
    "plot_run_metrics",
    "plot_spectral_densities",
    "project",
    "random_directions",
    "spectral_density",
    "trace",
    "trajectory_metrics",
]
