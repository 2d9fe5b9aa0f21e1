"""Shared test setup.

toposcape is imported before any test module imports torch: the package sets the OpenMP wait
policy for torch's thread pool at import (``toposcape._threads``) and warns when torch came
first, which would otherwise happen whenever a torch-based test file runs on its own.

The oracle data the tests compare against ships with them in ``tests/data``: compact, exact
copies of the project's ``shared/reference`` oracles (packed and rebuilt by
``tests/data/oracle.py``). The fixtures ``suite_oracle`` and ``physics_oracle`` expand them to
the originals' layout, and fail (never skip) when a file is missing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

import toposcape  # noqa: F401

try:  # the fuzz tests' profiles (tests/test_fuzz_*.py); Hypothesis is a test dependency
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover
    pass
else:
    # HYPOTHESIS_PROFILE=nightly for the long, random run; the default keeps the suite fast and
    # derandomized (the same examples every run: CI cannot fail by drawing a new example). No
    # example database: nothing is written into the checkout (falsifying examples are printed).
    _FUZZ_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "default",
        max_examples=30,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=_FUZZ_CHECKS,
    )
    settings.register_profile(
        "nightly",
        max_examples=1000,
        deadline=None,
        database=None,
        suppress_health_check=_FUZZ_CHECKS,
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _oracle_module():
    # tests/data is no package: load its helper by path, under a name that cannot clash
    spec = importlib.util.spec_from_file_location(
        "toposcape_tests_oracle", Path(__file__).resolve().parent / "data" / "oracle.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oracle = _oracle_module()


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        pytest.fail(
            f"test data {path} is missing: it is part of the repository "
            "(python tests/data/oracle.py rebuilds it from shared/reference)",
            pytrace=False,
        )
    return oracle.load(path)


@pytest.fixture(scope="session")
def suite_oracle() -> dict[str, np.ndarray]:
    """Boundary conditions of the 116 suite problems (as shared/reference/problems_116.npz)."""
    return oracle.expand_suite_oracle(_load(oracle.SUITE_FILE))


@pytest.fixture(scope="session")
def physics_oracle() -> dict[str, np.ndarray]:
    """Compliance, gradients, designs on 4 problems (as shared/reference/physics_reference.npz)."""
    return oracle.expand_physics_oracle(_load(oracle.PHYSICS_FILE))
