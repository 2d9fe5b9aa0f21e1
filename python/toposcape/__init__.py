"""toposcape: optimization landscapes of neurally reparameterized topology optimization.

>>> import toposcape as ts
>>> obj = ts.PixelObjective(ts.problems.get("mbb_beam_96x32_0.5"), penal=3.0)
>>> f, g = obj.value_and_grad(obj.x0)
"""

from . import _threads

_threads.configure()  # before torch or MKL start their thread pools

from . import landscape, optim, physics, problems  # noqa: E402
from .errors import (  # noqa: E402
    InvalidInputError,
    InvalidProblemError,
    UnderconstrainedProblemError,
    UnknownNameError,
)
from .models.pixel import PixelObjective  # noqa: E402
from .objective import Objective, SecondOrderObjective  # noqa: E402

__version__ = "0.3.1"

#: ``with ts.threads(1): ...`` fixes the core's, torch's and MKL's thread counts for a block.
threads = _threads.pinned
#: The thread settings in force (recorded with every run as ``Trajectory.threads``).
thread_settings = _threads.settings


def __getattr__(name: str):
    # The CNN needs torch: load it only when asked for.
    if name == "CNNObjective":
        from .models.neural import CNNObjective

        return CNNObjective
    if name in ("experiments", "lab"):  # pandas, SQLite, SymPy load only when used
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'toposcape' has no attribute {name!r}")


__all__ = [
    "CNNObjective",
    "InvalidInputError",
    "InvalidProblemError",
    "Objective",
    "PixelObjective",
    "SecondOrderObjective",
    "UnderconstrainedProblemError",
    "UnknownNameError",
    "experiments",
    "landscape",
    "optim",
    "physics",
    "problems",
    "thread_settings",
    "threads",
]
