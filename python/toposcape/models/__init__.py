"""Models that reparameterize a design: pixel logits, and the CNN (torch, imported lazily).

``PixelObjective`` needs only NumPy/SciPy. ``CNNObjective`` and the torch modules load torch on
first use, so the rest of the package runs without it.
"""

from .pixel import PixelObjective

__all__ = ["PixelObjective", "CNNObjective", "CNNModel", "PixelModel", "load_torch"]


def load_torch():
    """Import torch and return it, or None when it is not installed.

    The package's one door to torch outside this subpackage: thread pinning
    (:func:`toposcape.threads`) loads it before fixing thread counts, so that torch's own
    threads are pinned too.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        return torch
    try:
        import torch
    except ImportError:  # the CNN is an optional extra
        return None
    return torch


def __getattr__(name: str):
    if name == "CNNObjective":
        from .neural import CNNObjective

        return CNNObjective
    if name in ("CNNModel", "PixelModel"):
        from . import cnn

        return getattr(cnn, name)
    raise AttributeError(f"module 'toposcape.models' has no attribute {name!r}")
