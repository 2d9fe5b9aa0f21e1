"""Thread settings shared by torch, numba and MKL PARDISO on small machines.

toposcape alternates between three threaded runtimes within every evaluation: torch's
(bundled GNU OpenMP) for the CNN, Intel OpenMP under MKL PARDISO for the sparse solve, and
numba's for the element kernels. By default both OpenMP runtimes keep their threads spinning
after each parallel region (GNU: ~300k spins, Intel: 200 ms), and a spinning team steals the
cores the next runtime needs: on 2 cores a CNN value-and-gradient took 600 ms instead of 26 ms
(BENCHMARKS.md). Letting idle threads sleep at once removes that; the runtimes read these
variables when they start, so this module must run before torch or MKL load (importing
toposcape does it). Values set by the user are kept.
"""

from __future__ import annotations

import os

#: Environment defaults applied at import (only where the user has not set them).
DEFAULTS = {
    "OMP_WAIT_POLICY": "PASSIVE",  # GNU and Intel OpenMP: idle threads sleep
    "KMP_BLOCKTIME": "0",  # Intel OpenMP (MKL PARDISO): no spin time after a region
}


def configure() -> dict[str, str]:
    """Apply :data:`DEFAULTS` where unset; returns the values in force."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in DEFAULTS}
