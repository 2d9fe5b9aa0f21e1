"""The optimizer lab (``studies.md`` sections 3 and 4): small networks with exactly known
critical points, and tools to study how optimizers travel a landscape.

Modules: :mod:`.networks` (benchmark networks whose critical points are computed exactly),
:mod:`.paths` (the Fourier path finder: low-barrier paths between minima).
"""
