"""The optimizer lab (``studies.md`` sections 3 and 4): small networks with exactly known
critical points, and tools to study how optimizers travel a landscape.

>>> import toposcape as ts
>>> net = ts.lab.networks.get("two_depths")        # an Objective with exact critical points
>>> net.critical_points()                          # DataFrame: theta_0, theta_1, kind, loss, ...
>>> path = ts.lab.fourier_path(net, a, b)          # lowest-barrier path between two minima

Modules: :mod:`.networks` (benchmark networks whose critical points are computed exactly by
Groebner bases), :mod:`.paths` (the Fourier path finder).
"""

from . import networks
from .paths import FourierPath, SmoothMaxPath, fourier_path

__all__ = ["FourierPath", "SmoothMaxPath", "fourier_path", "networks"]
