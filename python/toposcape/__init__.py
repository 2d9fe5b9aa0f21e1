"""toposcape: optimization landscapes of neurally reparameterized topology optimization."""

__version__ = "0.1.0"
