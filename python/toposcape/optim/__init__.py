"""Optimizers as compositions: a direction rule x a step rule x optional gradient transforms.

>>> import toposcape as ts
>>> opt = ts.optim.get("lbfgs", memory=10)
>>> opt = ts.optim.Optimizer(ts.optim.Adam(), ts.optim.Constant(1e-3),
...                          [ts.optim.LandscapeModification("linear")])

See :mod:`toposcape.optim.presets` for the named optimizers.
"""

from .directions import LBFGS, Adagrad, Adam, DirectionRule, Identity, Momentum, RMSProp
from .optimizer import Optimizer
from .presets import REQUIRED, Option, Preset, describe, get, names, preset, register
from .protocol import Requirements, Runner, RunState
from .steps import Armijo, Constant, GoldenSection, Schedule, StepRule, StrongWolfe
from .trajectory import Trajectory
from .transforms import GradientTransform, LandscapeModification

__all__ = [
    "LBFGS",
    "Adagrad",
    "Adam",
    "Armijo",
    "Constant",
    "DirectionRule",
    "GoldenSection",
    "GradientTransform",
    "Identity",
    "LandscapeModification",
    "Momentum",
    "Optimizer",
    "Option",
    "Preset",
    "REQUIRED",
    "Requirements",
    "RunState",
    "Runner",
    "RMSProp",
    "Schedule",
    "StepRule",
    "StrongWolfe",
    "Trajectory",
    "describe",
    "get",
    "names",
    "preset",
    "register",
]
