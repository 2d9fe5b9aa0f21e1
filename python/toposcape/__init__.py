"""toposcape: optimization landscapes of neurally reparameterized topology optimization.

>>> import toposcape as ts
>>> obj = ts.PixelObjective(ts.problems.get("mbb_beam_96x32_0.5"), penal=3.0)
>>> f, g = obj.value_and_grad(obj.x0)
"""

from . import optim, physics, problems
from .errors import InvalidInputError, InvalidProblemError, UnderconstrainedProblemError
from .models.pixel import PixelObjective
from .objective import Objective, SecondOrderObjective

__version__ = "0.1.0"

__all__ = [
    "InvalidInputError",
    "InvalidProblemError",
    "Objective",
    "PixelObjective",
    "SecondOrderObjective",
    "UnderconstrainedProblemError",
    "optim",
    "physics",
    "problems",
]
