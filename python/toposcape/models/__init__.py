"""Models that reparameterize a design: pixel logits, and the CNN (torch, imported lazily).

``PixelObjective`` needs only NumPy/SciPy. ``CNNObjective`` and the torch modules load torch on
first use, so the rest of the package runs without it.
"""

from .pixel import PixelObjective

__all__ = ["PixelObjective", "CNNObjective", "CNNModel", "PixelModel"]


def __getattr__(name: str):
    if name == "CNNObjective":
        from .neural import CNNObjective

        return CNNObjective
    if name in ("CNNModel", "PixelModel"):
        from . import cnn

        return getattr(cnn, name)
    raise AttributeError(f"module 'toposcape.models' has no attribute {name!r}")
