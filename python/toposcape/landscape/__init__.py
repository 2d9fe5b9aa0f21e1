"""Landscape analysis: Hessian and quasi-Newton spectra, slices, projections, trajectory metrics."""
