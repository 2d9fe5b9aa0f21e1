"""pytest-benchmark suite for the physics: toposcape against the plain SciPy reference.

Run (pyproject's addopts disable benchmarks and deselect ``slow``; re-enable the former)::

    python -m pytest benches/bench_physics.py --benchmark-enable -p no:cacheprovider
    python -m pytest benches/bench_physics.py --benchmark-enable -p no:cacheprovider -m slow

The default selection takes 1-2 minutes on 2 cores; ``-m slow`` adds 1024x512 (1.05M DOFs).
All objectives are the benchmark formulation: MBB beam, density 0.5, volume-constrained
sigmoid, cone filter r = 2, SIMP p = 3, default solver. ``value_and_grad`` is always timed at a
*fresh* design (``setup`` perturbs the logits, so no factorization is reused); ``hvp`` is timed
at the design evaluated in ``setup`` (it reuses that factorization: one extra solve).
``benches/compare.py`` prints the same comparison as ratios, plus the scaling study.
"""

from __future__ import annotations

import numpy as np
import pytest

import toposcape as ts
from reference_scipy import ScipyReference
from toposcape.physics.compliance import Compliance


def _sizes(*sizes, slow=()):
    params = [pytest.param(w, h, id=f"{w}x{h}") for w, h in sizes]
    params += [pytest.param(w, h, id=f"{w}x{h}", marks=pytest.mark.slow) for w, h in slow]
    return params


SIZES = _sizes((64, 32), (128, 128), (384, 128), (256, 256), slow=[(1024, 512)])
BACKEND_SIZES = _sizes((64, 64), (128, 128), (256, 128))


def _rounds(width: int, height: int) -> int:
    cells = width * height
    return 10 if cells <= 20_000 else 5 if cells <= 100_000 else 2


_OBJECTIVES: dict[tuple[int, int], ts.PixelObjective] = {}


def _objective(width: int, height: int) -> ts.PixelObjective:
    key = (width, height)
    if key not in _OBJECTIVES:
        problem = ts.problems.mbb_beam(width=width, height=height, density=0.5)
        _OBJECTIVES[key] = ts.PixelObjective(problem, penal=3.0)
    return _OBJECTIVES[key]


class _FreshDesigns:
    """Logits ``theta0 + 1e-3 * noise``, different at every call (defeats the design cache)."""

    def __init__(self, size: int) -> None:
        self.theta0 = np.random.default_rng(0).normal(size=size)
        self.rng = np.random.default_rng(1)

    def __call__(self) -> np.ndarray:
        return self.theta0 + 1e-3 * self.rng.normal(size=self.theta0.size)


def _size_id(width: int, height: int) -> str:
    return f"{width}x{height}"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_toposcape_value_and_grad(benchmark, width, height):
    obj = _objective(width, height)
    fresh = _FreshDesigns(obj.size)
    obj.value_and_grad(fresh())  # warm-up: numba, MKL
    benchmark.group = f"value_and_grad {_size_id(width, height)}"
    benchmark.extra_info["dofs"] = obj.physics.n_dofs
    n0 = obj.physics.n_factorizations
    rounds = _rounds(width, height)
    c, g = benchmark.pedantic(
        obj.value_and_grad, setup=lambda: ((fresh(),), {}), rounds=rounds, iterations=1
    )
    assert obj.physics.n_factorizations - n0 == rounds  # every round was a fresh design
    assert np.isfinite(c) and g.shape == (obj.size,)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_toposcape_hvp(benchmark, width, height):
    obj = _objective(width, height)
    fresh = _FreshDesigns(obj.size)
    rng = np.random.default_rng(2)
    obj.hvp(np.zeros(obj.size), rng.normal(size=obj.size))  # warm-up

    def setup():
        theta = fresh()
        obj.value_and_grad(theta)  # untimed: the HVP is timed at an evaluated design
        return (theta, rng.normal(size=obj.size)), {}

    benchmark.group = f"hvp {_size_id(width, height)}"
    benchmark.extra_info["dofs"] = obj.physics.n_dofs
    rounds = _rounds(width, height)
    n0 = obj.physics.n_factorizations
    hv = benchmark.pedantic(obj.hvp, setup=setup, rounds=rounds, iterations=1)
    assert obj.physics.n_factorizations - n0 == rounds  # only the setup factorized
    assert hv.shape == (obj.size,)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_reference_value_and_grad(benchmark, width, height):
    problem = ts.problems.mbb_beam(width=width, height=height, density=0.5)
    ref = ScipyReference(
        width, height, 0.5, problem.fixed_dofs, problem.forces, problem.mask, penal=3.0
    )
    fresh = _FreshDesigns(width * height)
    benchmark.group = f"value_and_grad {_size_id(width, height)}"
    benchmark.extra_info["dofs"] = problem.n_dofs
    rounds = max(1, _rounds(width, height) // 2)
    c, g = benchmark.pedantic(
        ref.value_and_grad,
        setup=lambda: ((fresh().reshape(height, width),), {}),
        rounds=rounds,
        iterations=1,
        warmup_rounds=1 if width * height <= 100_000 else 0,
    )
    assert np.isfinite(c) and g.shape == (height, width)


@pytest.mark.parametrize("backend", ["pardiso", "cholmod", "superlu", "amg"])
@pytest.mark.parametrize(("width", "height"), BACKEND_SIZES)
def test_backend_factorize_solve(benchmark, width, height, backend):
    """Numeric factorization (AMG: hierarchy) + one solve at a fixed non-uniform design."""
    problem = ts.problems.mbb_beam(width=width, height=height, density=0.5)
    try:
        physics = Compliance(problem, penal=3.0, solver=backend)
    except RuntimeError as exc:  # backend not installed here
        pytest.skip(str(exc))
    obj = _objective(width, height)
    x = obj.design(np.random.default_rng(0).normal(size=obj.size))
    data = physics.stiffness_values(x)
    f = physics._forces_free

    def factor_solve():
        physics.solver.factorize(data)
        return physics.solver.solve(f)

    benchmark.group = f"backends {_size_id(width, height)}"
    benchmark.extra_info["n_free"] = int(physics.free_dofs.size)
    u = benchmark.pedantic(factor_solve, rounds=3, iterations=1, warmup_rounds=1)
    assert np.isfinite(f @ u)
