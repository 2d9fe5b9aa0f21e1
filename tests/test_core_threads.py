"""The compiled core's stateful objects under concurrent Python threads.

Dask workers run tasks in threads, and ``LbfgsMemory`` releases the GIL around its passes, so
two threads can be inside one memory at once. These tests check that concurrent work gives the
same bits as the same work done serially, and that a memory shared between threads is never
seen half-updated.
"""

import threading

import numpy as np
import pytest

from toposcape import _core

# 150_001 takes the threaded (OpenMP) two-loop, 1_001 the serial one (common/parallel.hpp).
SIZES = [1_001, 150_001]


def _pairs(n, count, seed):
    """Curvature pairs with s.y > 0 (y = D s + small noise, D positive)."""
    rng = np.random.default_rng(seed)
    diag = rng.uniform(0.5, 2.0, n)
    out = []
    for _ in range(count):
        s = rng.standard_normal(n)
        out.append((s, diag * s + 0.01 * rng.standard_normal(n)))
    return out


def _run_in_threads(targets):
    """Start every target at once (a barrier) and re-raise the first exception."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        def run():
            try:
                barrier.wait()
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _workload(n, single, seed):
    """Pushes and products on a fresh memory; returns every product's result."""
    mem = _core.LbfgsMemory(n, 4, single=single)
    pairs = _pairs(n, 7, seed)
    rng = np.random.default_rng(seed + 1000)
    results = []
    for s, y in pairs:
        mem.push(s, y)
        g = rng.standard_normal(n)
        results.append(mem.two_loop(g, negate=True))
        results.append(mem.direction(g))
        results.append(mem.apply_b(g))
        results.append(mem.apply_h(g))
    d, g_new, g_old = rng.standard_normal((3, n))
    mem.push_step(d, 0.25, g_old + d, g_old)
    results.append(mem.two_loop(g_new))
    results.append(np.array([mem.gamma(), mem.size, mem.n_pushed]))
    return results


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_threads_on_their_own_memories_match_serial_bit_for_bit(n, single):
    seeds = [11, 12, 13, 14]
    serial = [_workload(n, single, seed) for seed in seeds]
    concurrent = [None] * len(seeds)

    def task(i):
        def run():
            concurrent[i] = _workload(n, single, seeds[i])

        return run

    _run_in_threads([task(i) for i in range(len(seeds))])
    for expected, got in zip(serial, concurrent, strict=True):
        assert len(expected) == len(got)
        for a, b in zip(expected, got, strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_products_during_pushes_see_a_whole_state(n, single):
    """One thread pushes a known sequence while others apply: every product must equal,
    bit for bit, the product of the memory after some number of those pushes (with float32
    pairs the direction is the compact form, whose Gram entries the readers gather)."""
    m, count = 3, 10
    ops = ("two_loop", "direction", "apply_b", "apply_h")
    pairs = _pairs(n, count, seed=21)
    rng = np.random.default_rng(22)
    vectors = rng.standard_normal((2, n))

    # Serial results for every state the memory passes through (after 0..count pushes).
    ref = _core.LbfgsMemory(n, m, single=single)
    states = []
    for j in range(count + 1):
        if j:
            ref.push(*pairs[j - 1])
        states.append(
            {(op, v): getattr(ref, op)(vectors[v]) for op in ops for v in range(len(vectors))}
        )

    shared = _core.LbfgsMemory(n, m, single=single)
    seen = []
    done = threading.Event()

    def writer():
        try:
            for s, y in pairs:
                assert shared.push(s, y)
        finally:
            done.set()

    def reader(k):
        def run():
            i = k

            def product():
                nonlocal i
                op, v = ops[i % len(ops)], i % len(vectors)
                seen.append((op, v, getattr(shared, op)(vectors[v])))
                i += 1

            while not done.is_set():
                product()
            for _ in range(3):  # after the last push: the final state
                product()

        return run

    _run_in_threads([writer, reader(0), reader(1)])
    assert shared.n_pushed == count and shared.size == m
    assert len(seen) >= 6
    matched_states = set()
    for op, v, got in seen:
        hits = [j for j, st in enumerate(states) if np.array_equal(st[(op, v)], got)]
        assert hits, f"{op} result matches no state the memory passed through"
        matched_states.update(hits)
    # The final state is reached and seen by the readers' last products.
    assert count in matched_states


@pytest.mark.parametrize("with_clears", [False, True])
@pytest.mark.parametrize("single", [False, True])
def test_concurrent_pushes_leave_a_consistent_memory(single, with_clears):
    """Several writers (and clears) on one memory: afterwards it holds whole pushed pairs, and
    its products are those of a fresh memory holding the same pairs. Without clears the memory
    is large enough to keep every pair, so none may be lost or mixed with another."""
    n, per_writer = 150_001, 6
    writers = [_pairs(n, per_writer, seed=30 + w) for w in range(3)]
    m = 4 if with_clears else 3 * per_writer
    shared = _core.LbfgsMemory(n, m, single=single)
    g = np.random.default_rng(33).standard_normal(n)

    def writer(w):
        def run():
            for s, y in writers[w]:
                assert shared.push(s, y)
                shared.two_loop(g)

        return run

    def clearer():
        for _ in range(3):
            shared.clear()
            shared.apply_h(g)

    _run_in_threads([writer(w) for w in range(3)] + ([clearer] if with_clears else []))
    assert shared.n_pushed == 3 * per_writer
    S, Y = shared.pairs()
    assert S.shape == Y.shape == (shared.size, n)
    if not with_clears:
        assert shared.size == m
    dtype = np.float32 if single else np.float64
    pushed = {s[:4].astype(dtype).tobytes(): (s, y) for pairs in writers for s, y in pairs}
    fresh = _core.LbfgsMemory(n, m, single=single)
    held = set()
    for s_row, y_row in zip(S, Y, strict=True):
        key = s_row[:4].astype(dtype).tobytes()
        assert key in pushed and key not in held
        held.add(key)
        s, y = pushed[key]
        # A held row is one pushed pair, whole (both vectors, every entry).
        assert np.array_equal(s_row, s.astype(dtype)) and np.array_equal(y_row, y.astype(dtype))
        fresh.push(s, y)
    assert np.array_equal(shared.two_loop(g), fresh.two_loop(g))
    assert np.array_equal(shared.apply_b(g), fresh.apply_b(g))
    assert shared.gamma() == fresh.gamma()


def _line_search_trace(seed):
    """A Moré-Thuente, an Armijo and a golden-section search on phi(t) = (t - c)^2 - c^2."""
    c = 0.5 + 0.1 * seed

    def phi(t):
        return (t - c) ** 2 - c**2, 2 * (t - c)

    trace = []
    mt = _core.MoreThuente()
    task = mt.start(*phi(0.0), 0.1)
    while task == _core.Task.EVALUATE:
        task = mt.iterate(*phi(mt.step))
        trace.append(mt.step)
    arm = _core.Armijo()
    task = arm.start(*phi(0.0), 4.0 * c)
    while task == _core.Task.EVALUATE:
        task = arm.iterate(phi(arm.step)[0])
        trace.append(arm.step)
    gs = _core.GoldenSection(xtol=1e-8)
    task = gs.start(phi(0.0)[0], 0.1)
    while task == _core.Task.EVALUATE:
        task = gs.iterate(phi(gs.step)[0])
        trace.append(gs.step)
    assert gs.step == pytest.approx(c, rel=1e-6)
    return trace


def test_line_searches_in_threads_match_serial():
    seeds = list(range(6))
    serial = [_line_search_trace(s) for s in seeds]
    got = [None] * len(seeds)

    def task(i):
        def run():
            for _ in range(50):
                got[i] = _line_search_trace(seeds[i])

        return run

    _run_in_threads([task(i) for i in range(len(seeds))])
    assert got == serial


def test_shared_line_search_hammered_by_threads_stays_usable():
    """Interleaved calls on one search make no sense as a search, but must neither crash nor
    leave it unusable: the GIL serializes its methods."""
    mt = _core.MoreThuente()

    def hammer():
        for k in range(2000):
            if mt.start(1.0, -1.0, 1.0) == _core.Task.EVALUATE:
                mt.iterate(1.0 - 0.5 * (k % 3), -0.1)
            _ = mt.message, mt.step

    _run_in_threads([hammer] * 4)
    assert mt.start(0.0, -1.0, 1.0) == _core.Task.EVALUATE
    assert mt.iterate(-0.5, 0.0) == _core.Task.CONVERGED


@pytest.mark.parametrize(
    ("n", "memory"),
    # Far beyond any machine's memory (the smallest asks for ~150 TB).
    [(10**7, 10**6), (10**9, 2**31 - 1), (2**40, 10**9)],
)
def test_absurd_memory_size_raises_memory_error_naming_the_size(n, memory):
    with pytest.raises(MemoryError, match=rf"LbfgsMemory\(n={n}, memory={memory}\) needs"):
        _core.LbfgsMemory(n, memory)


@pytest.mark.parametrize(
    "env, expected", [({}, "False"), ({"NUMPY_MADVISE_HUGEPAGE": "1"}, "True")]
)
def test_import_turns_numpy_huge_pages_off_unless_the_user_chose(env, expected):
    # Huge-page requests made page faults in fresh per-evaluation arrays compact memory on the
    # spot (stalls of tens of milliseconds); a user's explicit NUMPY_MADVISE_HUGEPAGE is kept.
    import os
    import subprocess
    import sys

    code = "import numpy._core.multiarray as m, toposcape; print(m._get_madvise_hugepage())"
    clean = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
