"""The plain SciPy benchmark reference (benches/reference_scipy.py) against the oracles.

The oracles are the test data in ``tests/data`` (fixtures ``suite_oracle`` and
``physics_oracle``, tests/conftest.py): exact copies of the project's
``shared/reference/problems_116.npz`` and ``physics_reference.npz``, made by
``tests/data/oracle.py``. A missing data file fails these tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

ORACLE_PROBLEMS = [
    "mbb_beam_96x32_0.5",
    "michell_centered_both_32x64_0.12",
    "l_shape_0.2_64x64_0.4",
    "hoop_32x64_0.25",
]
SMALLEST = "michell_centered_both_32x64_0.12"


def _load_module():
    name = "reference_scipy"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benches" / "reference_scipy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def problems(suite_oracle):
    return suite_oracle


@pytest.fixture(scope="module")
def physics(physics_oracle):
    return physics_oracle


def _build(problems, name, penal, volume_constraint):
    width, height, density = problems[f"{name}/meta"]
    width, height = int(width), int(height)
    forces = np.zeros(2 * (width + 1) * (height + 1))
    forces[problems[f"{name}/force_index"]] = problems[f"{name}/force_value"]
    return _load_module().ScipyReference(
        width,
        height,
        float(density),
        problems[f"{name}/fixed_dofs"],
        forces,
        problems[f"{name}/mask"].astype(bool),
        penal=penal,
        volume_constraint=volume_constraint,
    )


def _rel_inf(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("penal", [1, 3])
@pytest.mark.parametrize("name", ORACLE_PROBLEMS)
def test_logits_against_oracle(problems, physics, name, penal):
    model = _build(problems, name, penal, volume_constraint=True)
    key = f"{name}/p{penal}"
    z = np.random.default_rng(0).normal(size=(model.nely, model.nelx))
    x_phys = model.design(z)
    assert np.max(np.abs(x_phys - physics[f"{key}/logits_density"])) <= 1e-10
    c, g = model.value_and_grad(z)
    assert g.shape == z.shape
    assert abs(c / physics[f"{key}/logits_compliance"] - 1) <= 1e-9
    assert _rel_inf(g, physics[f"{key}/logits_grad"]) <= 1e-7


@pytest.mark.parametrize("penal", [1, 3])
@pytest.mark.parametrize("name", ORACLE_PROBLEMS)
def test_uniform_against_oracle(problems, physics, name, penal):
    model = _build(problems, name, penal, volume_constraint=False)
    key = f"{name}/p{penal}"
    x = model.density * model.mask
    c, g = model.value_and_grad(x)
    assert abs(c / physics[f"{key}/uniform_compliance"] - 1) <= 1e-9
    assert _rel_inf(g, physics[f"{key}/uniform_grad"]) <= 1e-7


def test_volume_constraint_mean(problems):
    model = _build(problems, "l_shape_0.2_64x64_0.4", 3, volume_constraint=True)
    z = np.random.default_rng(3).normal(size=(model.nely, model.nelx)) * 3.0
    x_v, _ = model._xv(z)
    assert abs(x_v[model.mask].mean() - model.density) <= 1e-11
    assert np.all(x_v[~model.mask] == 0)


def _hvp_fd_error(model, z, v, step):
    hv = model.hvp(z, v)
    g_plus = model.value_and_grad(z + step * v)[1]
    g_minus = model.value_and_grad(z - step * v)[1]
    fd = (g_plus - g_minus) / (2 * step)
    return _rel_inf(fd, hv)


def test_hvp_central_differences(problems):
    # Central differences have O(step^2) truncation error (~1e-8 at step 1e-4 here, ~1e-6 at
    # 1e-3); the bisection tolerance of the volume offset (1e-12) bounds how small step may go.
    model = _build(problems, SMALLEST, 3, volume_constraint=True)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(model.nely, model.nelx))
    v = rng.normal(size=z.shape)
    assert _hvp_fd_error(model, z, v, 1e-4) <= 1e-6


def test_hvp_central_differences_densities(problems):
    model = _build(problems, "hoop_32x64_0.25", 3, volume_constraint=False)
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 0.8, size=(model.nely, model.nelx))
    v = rng.normal(size=x.shape)
    assert _hvp_fd_error(model, x, v, 1e-4) <= 1e-6


def test_hvp_symmetric(problems):
    model = _build(problems, SMALLEST, 3, volume_constraint=True)
    rng = np.random.default_rng(4)
    z = rng.normal(size=(model.nely, model.nelx))
    u = rng.normal(size=z.shape)
    v = rng.normal(size=z.shape)
    uhv = np.vdot(u, model.hvp(z, v))
    vhu = np.vdot(v, model.hvp(z, u))
    assert abs(uhv - vhu) <= 1e-8 * abs(uhv)
