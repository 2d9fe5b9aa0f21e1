"""Models that reparameterize a design: pixel logits (here) and the CNN (torch, imported lazily)."""

from .pixel import PixelObjective

__all__ = ["PixelObjective"]
