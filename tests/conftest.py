"""Shared test setup.

toposcape is imported before any test module imports torch: the package sets the OpenMP wait
policy for torch's thread pool at import (``toposcape._threads``) and warns when torch came
first, which would otherwise happen whenever a torch-based test file runs on its own.
"""

import toposcape  # noqa: F401
