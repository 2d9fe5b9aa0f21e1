"""The solvers' memory guard (InsufficientMemoryError before a factorization that cannot fit)
and their thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import toposcape as ts
from toposcape.errors import InsufficientMemoryError, InvalidInputError
from toposcape.physics import Compliance
from toposcape.physics import solvers as S

SOLVERS = S.available_solvers()
DIRECT = [s for s in SOLVERS if s != "amg"]
needs_pardiso = pytest.mark.skipif("pardiso" not in SOLVERS, reason="PARDISO not available")


@pytest.fixture(autouse=True)
def _generous_limit(monkeypatch):
    """Every test starts with a limit far above its needs, so that its outcome does not depend
    on what else runs on the machine (tests of the automatic reading set None), and ends with
    the automatic limit."""
    monkeypatch.delenv(S.MEMORY_LIMIT_ENV, raising=False)
    S.set_memory_limit("1T")
    yield
    S.set_memory_limit(None)


def _design(problem, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 1.0, size=(problem.height, problem.width))


# --------------------------------------------------------------------------------------------
# the available memory and its overrides
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("1048576", 1 << 20),
        ("512M", 512 << 20),
        ("512MiB", 512 << 20),
        ("2gb", 2 << 30),
        ("1.5G", 3 << 29),
        (" 64 k ", 64 << 10),
        ("1T", 1 << 40),
    ],
)
def test_memory_limit_accepts_units(text, expected, monkeypatch):
    S.set_memory_limit(text)
    assert S.available_memory() == expected
    S.set_memory_limit(None)
    monkeypatch.setenv(S.MEMORY_LIMIT_ENV, text)
    assert S.available_memory() == expected
    S.set_memory_limit(12345)  # the function takes precedence over the variable
    assert S.available_memory() == 12345


@pytest.mark.parametrize("bad", ["", "lots", "-1G", "1X", "1e999", -5, float("nan"), True, [1]])
def test_memory_limit_rejects_bad_values(bad, monkeypatch):
    with pytest.raises(InvalidInputError):
        S.set_memory_limit(bad)
    if isinstance(bad, str) and bad:
        S.set_memory_limit(None)
        monkeypatch.setenv(S.MEMORY_LIMIT_ENV, bad)
        with pytest.raises(InvalidInputError, match=S.MEMORY_LIMIT_ENV):
            S.available_memory()


def test_available_memory_is_the_smaller_of_meminfo_and_cgroup(tmp_path, monkeypatch):
    S.set_memory_limit(None)
    auto = S.available_memory()
    assert auto is None or auto > 0
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("max\n")
    (v2 / "memory.current").write_text("123\n")
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text(f"{1 << 30}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{1 << 28}\n")
    dirs = [
        (str(v2), "memory.max", "memory.current"),
        (str(v1), "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ]
    monkeypatch.setattr(S, "_cgroup_dirs", lambda: dirs)
    monkeypatch.setattr(S, "_cgroup_files", None)  # looked up once per process: again here
    monkeypatch.setattr(S, "_read_meminfo_available", lambda: 8 << 30)
    assert S.available_memory() == (1 << 30) - (1 << 28)  # "max" means no limit
    monkeypatch.setattr(S, "_read_meminfo_available", lambda: 1 << 20)
    assert S.available_memory() == 1 << 20
    monkeypatch.setattr(S, "_cgroup_dirs", lambda: [])
    monkeypatch.setattr(S, "_cgroup_files", None)
    monkeypatch.setattr(S, "_read_meminfo_available", lambda: None)
    assert S.available_memory() is None  # unknown: no guard


def test_cgroup_dirs_of_this_process_exist_or_are_skipped():
    for directory, limit_file, usage_file in S._cgroup_dirs():
        assert limit_file in ("memory.max", "memory.limit_in_bytes")
        assert usage_file in ("memory.current", "memory.usage_in_bytes")
        assert directory.startswith("/sys/fs/cgroup")


# --------------------------------------------------------------------------------------------
# the guard
# --------------------------------------------------------------------------------------------
def _check_message(err, solver, problem):
    message = str(err.value)
    assert isinstance(err.value, MemoryError) and not isinstance(err.value, ValueError)
    assert err.value.estimate > err.value.available
    assert S._format_bytes(err.value.estimate) in message
    assert S._format_bytes(err.value.available) in message
    assert f"{problem.width}x{problem.height} grid" in message
    assert "set_memory_limit" in message or S.MEMORY_LIMIT_ENV in message
    if solver != "amg":
        assert 'solver="amg"' in message and "O(nnz)" in message


@pytest.mark.parametrize("solver", SOLVERS)
def test_low_limit_raises_at_construction(solver):
    problem = ts.problems.mbb_beam(width=48, height=24, density=0.5)
    S.set_memory_limit("256K")
    with pytest.raises(InsufficientMemoryError) as err:
        ts.PixelObjective(problem, solver=solver)
    _check_message(err, solver, problem)
    S.set_memory_limit(None)
    ts.PixelObjective(problem, solver=solver)  # fits again, with the automatic limit


@pytest.mark.parametrize("solver", SOLVERS)
def test_low_limit_raises_before_the_first_factorization(solver, monkeypatch):
    problem = ts.problems.mbb_beam(width=48, height=24, density=0.5)
    S.set_memory_limit(None)  # the environment variable decides
    obj = ts.PixelObjective(problem, solver=solver)
    physics = obj.physics
    monkeypatch.setenv(S.MEMORY_LIMIT_ENV, "256K")
    with pytest.raises(InsufficientMemoryError) as err:
        obj.value_and_grad(obj.x0)
    _check_message(err, solver, problem)
    assert S.MEMORY_LIMIT_ENV + "=256K" in str(err.value)
    x = _design(problem, 0)
    with pytest.raises(InsufficientMemoryError):
        physics.value_and_grad(x)
    assert physics.n_factorizations == 0 and not physics.solver._factorized
    monkeypatch.delenv(S.MEMORY_LIMIT_ENV)
    c, _ = physics.value_and_grad(x)
    ref = Compliance(problem, solver="superlu").value(x)
    assert c == pytest.approx(ref, rel=1e-7 if solver == "amg" else 1e-10)
    obj.value_and_grad(obj.x0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_normal_limit_changes_nothing(solver):
    problem = ts.problems.mbb_beam(width=24, height=12, density=0.5)
    x, v = _design(problem, 1), _design(problem, 2)
    S.set_memory_limit(None)
    default = Compliance(problem, solver=solver)
    c0, g0 = default.value_and_grad(x)
    h0 = default.hvp(x, v)
    S.set_memory_limit("1T")
    limited = Compliance(problem, solver=solver)
    c1, g1 = limited.value_and_grad(x)
    np.testing.assert_array_equal(g1, g0)
    np.testing.assert_array_equal(limited.hvp(x, v), h0)
    assert c1 == c0


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_is_read_once_per_solver_not_per_design(solver, monkeypatch):
    S.set_memory_limit(None)
    calls = []
    read = S._read_meminfo_available
    monkeypatch.setattr(S, "_read_meminfo_available", lambda: calls.append(1) or read())
    problem = ts.problems.mbb_beam(width=24, height=12, density=0.5)
    comp = Compliance(problem, solver=solver)
    at_construction = len(calls)
    assert 1 <= at_construction <= 3  # PARDISO: before and after its analysis
    comp.value_and_grad(_design(problem, 0))
    assert len(calls) == at_construction + 1  # and before the first factorization
    for seed in range(1, 5):
        comp.value_and_grad(_design(problem, seed))
    assert comp.n_factorizations == 5
    assert len(calls) == at_construction + 1  # not per design


@needs_pardiso
def test_pardiso_estimate_tracks_its_factor_size():
    # The estimate is PARDISO's own report of its numeric memory (iparm[16]) x 1.1 + 16 MiB.
    # Against the factor size it reports (factor_nnz * 8 bytes), from 64x64 up: the report is
    # 1.0-1.15x, the estimate less its fixed 16 MiB 1.1-1.3x (the fixed part dominates on small
    # grids: 5.4x in all at 64x64, 1.3x at 256x256).
    extra = S.PardisoSolver.NUMERIC_MEMORY_EXTRA
    estimates = []
    for width, height in [(64, 64), (128, 64), (128, 128), (192, 128), (256, 256)]:
        problem = ts.problems.mbb_beam(width=width, height=height, density=0.5)
        solver = Compliance(problem, solver="pardiso").solver
        factor_bytes = solver.factor_nnz * 8
        report = solver.memory_report
        assert 1.0 <= report["numeric"] / factor_bytes <= 1.15
        assert report["analysis_peak"] >= report["permanent"] > 0
        assert report["analysis_peak"] <= S.PardisoSolver.ANALYSIS_BYTES_PER_ENTRY * solver.nnz
        estimate = solver.memory_estimate()
        assert 1.1 <= (estimate - extra) / factor_bytes <= 1.3
        estimates.append(estimate)
    assert estimates[-1] <= 1.5 * factor_bytes  # 256x256
    assert estimates == sorted(estimates) and len(set(estimates)) == len(estimates)


@needs_pardiso
def test_pardiso_checks_before_its_analysis(monkeypatch):
    problem = ts.problems.mbb_beam(width=64, height=64, density=0.5)
    solver = Compliance(problem, solver="pardiso").solver
    analysis = S.PardisoSolver.ANALYSIS_BYTES_PER_ENTRY * solver.nnz
    assert solver.memory_report["analysis_peak"] <= analysis
    S.set_memory_limit(analysis - 1)
    with pytest.raises(InsufficientMemoryError, match="PARDISO analysis"):
        Compliance(problem, solver="pardiso")
    # the lower estimate of the numeric phase from the pattern, checked before the analysis
    # too (it only exceeds the analysis' estimate from ~1300x1300 grids on)
    lower = S.PardisoSolver.PRE_ANALYSIS_BYTES_PER_FILL_ENTRY * solver._pattern_fill()
    assert lower < solver.memory_report["numeric"] < solver.memory_estimate()
    monkeypatch.setattr(S.PardisoSolver, "ANALYSIS_BYTES_PER_ENTRY", 0)
    S.set_memory_limit(lower - 1)
    with pytest.raises(InsufficientMemoryError, match="needs at least an estimated") as err:
        Compliance(problem, solver="pardiso")
    assert "numeric factorization" in str(err.value)
    S.set_memory_limit(solver.memory_estimate() - 1)
    with pytest.raises(InsufficientMemoryError, match="needs an estimated"):
        Compliance(problem, solver="pardiso")
    S.set_memory_limit(solver.memory_estimate())
    Compliance(problem, solver="pardiso").value(_design(problem, 0))


def test_rcm_envelope_of_an_upper_triangle_pattern():
    problem = ts.problems.mbb_beam(width=40, height=10, density=0.5)
    index = np.full(problem.n_dofs, -1, dtype=np.int64)
    index[problem.free_dofs] = np.arange(problem.free_dofs.size)
    from toposcape import _core

    full = _core.build_stiffness_pattern(problem.width, problem.height, index, False)
    upper = _core.build_stiffness_pattern(problem.width, problem.height, index, True)
    n = full.n_free
    expected = S._rcm_envelope(full.indptr, full.indices, n)
    assert S._rcm_envelope(upper.indptr, upper.indices, n, upper=True) == expected


@pytest.mark.parametrize("solver", [s for s in SOLVERS if s != "pardiso"])
def test_pattern_estimates_grow_with_the_grid(solver):
    estimates = []
    for width, height in [(16, 8), (32, 16), (64, 32), (64, 64), (128, 128)]:
        problem = ts.problems.mbb_beam(width=width, height=height, density=0.5)
        estimates.append(Compliance(problem, solver=solver).solver.memory_estimate())
    assert all(a < b for a, b in zip(estimates, estimates[1:], strict=False))


def test_superlu_estimate_against_its_factors():
    problem = ts.problems.mbb_beam(width=64, height=64, density=0.5)
    comp = Compliance(problem, solver="superlu")
    comp.value(_design(problem, 3))
    lu = comp.solver._lu
    # L and U values and row indices (12 bytes an entry): the estimate covers them
    stored = 12 * (lu.L.nnz + lu.U.nnz)
    assert 1.0 <= comp.solver.memory_estimate() / stored <= 5.0


@needs_pardiso
def test_envelope_rescues_long_thin_grids_before_the_pardiso_analysis(monkeypatch):
    problem = ts.problems.mbb_beam(width=1024, height=4, density=0.5)
    s = Compliance(problem, solver="pardiso").solver
    per_entry = S.PardisoSolver.PRE_ANALYSIS_BYTES_PER_FILL_ENTRY
    coarse = per_entry * S._nested_dissection_fill(s.n)
    refined = per_entry * S._rcm_envelope(s.indptr, s.indices, s.n, upper=True)
    assert refined < coarse
    monkeypatch.setattr(S.PardisoSolver, "ANALYSIS_BYTES_PER_ENTRY", 0)
    monkeypatch.setattr(S.PardisoSolver, "NUMERIC_MEMORY_EXTRA", 0)
    assert s.memory_estimate() < coarse  # the numeric phase really fits below the coarse one
    S.set_memory_limit(max(refined, s.memory_estimate()) + 1)
    Compliance(problem, solver="pardiso").value(_design(problem, 4))


@pytest.mark.parametrize("solver", ["cholmod", "superlu"])
def test_envelope_rescues_long_thin_grids(solver):
    if solver not in SOLVERS:
        pytest.skip(f"{solver} not available")
    # On a 1024x4 strip the reverse Cuthill-McKee envelope is far below the nested-dissection
    # estimate of a square grid: the guard computes it before refusing.
    problem = ts.problems.mbb_beam(width=1024, height=4, density=0.5)
    comp = Compliance(problem, solver=solver)
    s = comp.solver
    coarse = s.memory_estimate()
    envelope = S._rcm_envelope(s.indptr, s.indices, s.n)
    assert envelope < S._nested_dissection_fill(s.n)
    refined = s._refined_memory_estimate()
    assert refined < coarse
    S.set_memory_limit(refined + 1)
    Compliance(problem, solver=solver).value(_design(problem, 4))
    S.set_memory_limit(refined - 1)
    with pytest.raises(InsufficientMemoryError):
        Compliance(problem, solver=solver)


def test_rcm_envelope_bounds_the_factor_under_that_ordering():
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    problem = ts.problems.mbb_beam(width=12, height=6, density=0.5)
    comp = Compliance(problem, solver="superlu")
    s = comp.solver
    k = comp.stiffness_matrix(_design(problem, 5))
    perm = reverse_cuthill_mckee(k.tocsr(), symmetric_mode=True)
    dense = k.toarray()[np.ix_(perm, perm)]
    chol = np.linalg.cholesky(dense)
    fill = int(np.count_nonzero(np.abs(chol) > 0))
    envelope = S._rcm_envelope(s.indptr, s.indices, s.n)
    assert fill <= envelope <= 1.2 * fill
    assert sp.csr_matrix(k).nnz == s.nnz


# --------------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------------
def _run_threads(target, args_list):
    errors = []

    def wrapped(*args):
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_threads_with_their_own_objectives_match_serial(solver):
    problem = ts.problems.mbb_beam(width=32, height=16, density=0.5)
    designs = [_design(problem, seed) for seed in range(6)]
    v = _design(problem, 99)

    def evaluate(comp, out):
        for x in designs:
            c, g = comp.value_and_grad(x)
            out.append((c, g, comp.hvp(x, v)))

    serial = []
    evaluate(Compliance(problem, solver=solver), serial)
    results = [[], []]
    comps = [Compliance(problem, solver=solver) for _ in range(2)]
    _run_threads(evaluate, [(comps[0], results[0]), (comps[1], results[1])])
    rtol = 1e-7 if solver == "amg" else 1e-12
    for out in results:
        assert len(out) == len(designs)
        for (c, g, h), (c0, g0, h0) in zip(out, serial, strict=True):
            assert c == pytest.approx(c0, rel=rtol)
            np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol * np.abs(g0).max())
            np.testing.assert_allclose(h, h0, rtol=rtol, atol=rtol * np.abs(h0).max())


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_threads_sharing_one_solver(solver):
    problem = ts.problems.mbb_beam(width=32, height=16, density=0.5)
    comp = Compliance(problem, solver=solver)
    s = comp.solver
    x = _design(problem, 7)
    data = comp.stiffness_values(x)
    k = comp.stiffness_matrix(x)
    s.factorize(data)
    rng = np.random.default_rng(8)
    rhs = rng.normal(size=(2, 12, s.n))
    expected = np.array([[s.solve(b) for b in block] for block in rhs])
    got = np.zeros_like(expected)

    def solve_all(i):
        for j, b in enumerate(rhs[i]):
            got[i, j] = s.solve(b)
            if j % 4 == 3:
                s.factorize(data)  # same matrix, refactorized under the other thread

    _run_threads(solve_all, [(0,), (1,)])
    tol = 1e-8 if solver == "amg" else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())
    for block_b, block_x in zip(rhs, got, strict=True):
        for b, xs in zip(block_b, block_x, strict=True):
            assert np.linalg.norm(k @ xs - b) <= 1e-9 * np.linalg.norm(b)
