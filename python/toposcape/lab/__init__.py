"""The optimizer lab (``studies.md`` sections 3 and 4): small networks with exactly known
critical points, and tools to study how optimizers travel a landscape.

>>> import toposcape as ts
>>> net = ts.lab.networks.get("two_depths")          # an Objective with exact critical points
>>> net.critical_points()                            # DataFrame: theta_0, theta_1, kind, loss, ...
>>> opt = ts.optim.get("gd_energy", lr=1.0)          # energy-decreasing adaptive GD
>>> maps = ts.lab.basins(net, opt, lo=-3, hi=3, n=400, max_steps=500)   # doctest: +SKIP
>>> maps.fractions, maps.plot()                      # doctest: +SKIP
>>> a, b = net.minima()[["theta_0", "theta_1"]].to_numpy()
>>> path = ts.lab.fourier_path(net, a, b)            # lowest-barrier path  # doctest: +SKIP
>>> mlp = ts.lab.MLPObjective("digits", hidden=16, batch_size=32)  # minibatch SGD objective

Modules: :mod:`.networks` (benchmark networks, critical points by Groebner bases),
:mod:`.basin_maps` (vectorized runs from grids of starts: basin maps, reach probabilities,
sensitivity), :mod:`.paths` (the Fourier path finder), :mod:`.mlp` (a one-hidden-layer
classifier on scikit-learn's data sets, full batch or minibatches, with its hidden-unit
symmetries), :mod:`.minima` (sets of minima from many seeds: kernel PCA, pairwise barriers).
The optimizers of the studies are presets of :mod:`toposcape.optim` (``gd_energy``,
``momentum_energy``, ``euler_richardson``, ``lm``, ``qn_golden``); many runs from seeds go
through the experiment engine with a ``[lab]`` spec (:mod:`toposcape.experiments.lab_spec`).
"""

try:  # the lab's own dependencies: the 'lab' extra
    import sklearn  # noqa: F401
    import sympy  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        f"toposcape.lab needs SymPy and scikit-learn ({exc.name} is missing): "
        "pip install 'toposcape[lab]'"
    ) from exc

from . import networks
from .basin_maps import BasinResult, BatchRuns, basins, reach_probabilities, run_starts
from .minima import MinimaSet
from .mlp import DATASETS, MinibatchMLPObjective, MLPObjective, load_dataset
from .paths import FourierPath, SmoothMaxPath, fourier_path

__all__ = [
    "DATASETS",
    "BasinResult",
    "BatchRuns",
    "FourierPath",
    "MLPObjective",
    "MinibatchMLPObjective",
    "MinimaSet",
    "SmoothMaxPath",
    "basins",
    "fourier_path",
    "load_dataset",
    "networks",
    "reach_probabilities",
    "run_starts",
]
