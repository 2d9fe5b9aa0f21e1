"""The compiled optimizer core (toposcape._core): L-BFGS memory and the line searches.

The L-BFGS memory is checked against dense BFGS matrices built from the same pairs; the
Moré-Thuente search against SciPy's Python port of MINPACK-2's dcsrch, trial by trial.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from toposcape import _core

Task = _core.Task
EPS = float(np.finfo(float).eps)


# ------------------------------------------------------------------------------------------
# L-BFGS memory
# ------------------------------------------------------------------------------------------


def _random_pairs(n: int, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (s, y) with s.y > 0: y = A s + noise for an SPD A (resampled if s.y <= 0)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.geomspace(0.1, 10.0, n)) @ Q.T
    pairs = []
    while len(pairs) < count:
        s = rng.standard_normal(n)
        y = A @ s + 0.2 * rng.standard_normal(n)
        if s @ y > 1e-3 * np.linalg.norm(s) * np.linalg.norm(y):
            pairs.append((s, y))
    return pairs


def _dense_h(pairs) -> np.ndarray:
    """BFGS inverse update H <- V^T H V + rho s s^T, V = I - rho y s^T, from H0 = gamma I."""
    s_new, y_new = pairs[-1]
    n = len(s_new)
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


def _dense_b(pairs) -> np.ndarray:
    """Direct BFGS update B <- B - B s s^T B / s^T B s + y y^T / y^T s, from B0 = I / gamma."""
    s_new, y_new = pairs[-1]
    n = len(s_new)
    B = (y_new @ y_new) / (s_new @ y_new) * np.eye(n)
    for s, y in pairs:
        Bs = B @ s
        B = B - np.outer(Bs, Bs) / (s @ Bs) + np.outer(y, y) / (y @ s)
    return B


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _filled(n: int, m: int, pairs) -> _core.LbfgsMemory:
    mem = _core.LbfgsMemory(n, m)
    for s, y in pairs:
        assert mem.push(s, y) is True
    return mem


@pytest.mark.parametrize("m, count", [(5, 5), (5, 3), (1, 1), (3, 3)])
def test_memory_products_match_dense_bfgs(m, count):
    n = 8
    pairs = _random_pairs(n, count, seed=m + 10 * count)
    mem = _filled(n, m, pairs)
    assert mem.size == count and mem.n == n and mem.memory == m
    s_new, y_new = pairs[-1]
    assert mem.gamma() == pytest.approx((s_new @ y_new) / (y_new @ y_new), rel=1e-14)

    H, B = _dense_h(pairs), _dense_b(pairs)
    # Sanity of the reference itself: B and H are inverses, and H satisfies the newest secant.
    assert np.allclose(B @ H, np.eye(n), atol=1e-9)
    assert np.allclose(H @ y_new, s_new, rtol=1e-10, atol=1e-12)

    rng = np.random.default_rng(99)
    for _ in range(5):
        v = rng.standard_normal(n)
        assert _rel(mem.two_loop(v), H @ v) < 1e-12
        assert _rel(mem.apply_h(v), H @ v) < 1e-12
        assert _rel(mem.apply_b(v), B @ v) < 1e-12
        assert _rel(mem.apply_b(mem.apply_h(v)), v) < 1e-10
        assert _rel(mem.apply_h(mem.apply_b(v)), v) < 1e-10
    # g is not modified, and out= writes into the given buffer.
    g = rng.standard_normal(n)
    g_copy = g.copy()
    out = np.empty(n)
    res = mem.two_loop(g, out=out)
    assert np.array_equal(g, g_copy)
    assert np.shares_memory(res, out) and _rel(out, H @ g) < 1e-12


def test_products_stay_exact_when_pairs_are_pushed_between_them():
    # The compact products cache the Gram matrices; a push or clear must refresh them.
    n, m = 8, 3
    pairs = _random_pairs(n, 5, seed=5)
    mem = _core.LbfgsMemory(n, m)
    v = np.random.default_rng(3).standard_normal(n)
    for count, (s, y) in enumerate(pairs, start=1):
        assert mem.push(s, y)
        held = pairs[max(0, count - m) : count]
        assert _rel(mem.apply_b(v), _dense_b(held) @ v) < 1e-12
        assert _rel(mem.apply_h(v), _dense_h(held) @ v) < 1e-12
    mem.clear()
    np.testing.assert_array_equal(mem.apply_b(v), v)


def _dot4(a: np.ndarray, b: np.ndarray) -> float:
    """The core's dot product, order included (level1.hpp): four accumulators over entries
    i mod 4, the tail into the first, added as (s0 + s1) + (s2 + s3)."""
    p = a.astype(np.float64) * b
    head = (p.size // 4) * 4
    acc = np.zeros(4)
    for row in p[:head].reshape(-1, 4):
        acc += row
    for value in p[head:]:
        acc[0] += value
    return float((acc[0] + acc[1]) + (acc[2] + acc[3]))


def _shares(n: int, threads: int) -> list[tuple[int, int]]:
    """The core's split of n entries over its threads (parallel.hpp ``chunk_of``)."""
    lines = (n + 7) // 8
    return [
        (min(n, lines * t // threads * 8), min(n, lines * (t + 1) // threads * 8))
        for t in range(threads)
    ]


def _dot_shares(a: np.ndarray, b: np.ndarray, shares) -> float:
    """The core's threaded dot product: the shares' ``_dot4`` added in share order."""
    total = 0.0
    for lo, hi in shares:
        total += _dot4(a[lo:hi], b[lo:hi])
    return total


def _two_loop_in_order(pairs, g: np.ndarray, gamma: float, shares) -> np.ndarray:
    """The textbook two-loop recursion, every dot product ``_dot_shares``, each update its
    own pass."""
    q = g.copy()
    alpha = [0.0] * len(pairs)
    for i in range(len(pairs) - 1, -1, -1):
        s, y, sy = pairs[i]
        alpha[i] = _dot_shares(s, q, shares) / sy
        q += -alpha[i] * y.astype(np.float64)
    q *= gamma
    for i, (s, y, sy) in enumerate(pairs):
        beta = _dot_shares(y, q, shares) / sy
        q += (alpha[i] - beta) * s.astype(np.float64)
    return q


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_two_loop_is_the_textbook_recursion_bit_for_bit(single, threads):
    # The fused kernels (each update of q shares its pass with the next dot product) and the
    # threaded push (s.y, y.y summed over the threads' shares) must give exactly the textbook
    # recursion with the documented summation order: stored results depend on it.
    n, m = 300_007, 3  # long enough to be threaded; odd: uneven shares and a tail
    shares = _shares(n, threads)  # n is above the core's parallel threshold
    rng = np.random.default_rng(11)
    dtype = np.float32 if single else np.float64
    try:
        _core.set_num_threads(threads)
        mem = _core.LbfgsMemory(n, m, single)
        stored = []
        for _ in range(m + 1):  # one more than fits: the ring buffer wraps
            s = rng.standard_normal(n)
            y = s * rng.uniform(0.5, 2.0, n)
            assert mem.push(s, y)
            s_kept, y_kept = s.astype(dtype), y.astype(dtype)
            stored.append((s_kept, y_kept, _dot_shares(s_kept, y_kept, shares)))
        stored = stored[-m:]
        s_new, y_new, sy_new = stored[-1]
        gamma = sy_new / _dot_shares(y_new, y_new, shares)
        assert mem.gamma() == gamma
        g = rng.standard_normal(n)
        expected = _two_loop_in_order(stored, g, gamma, shares)
        np.testing.assert_array_equal(mem.two_loop(g), expected)
        np.testing.assert_array_equal(mem.two_loop(g, negate=True), -expected)
    finally:
        _core.set_num_threads(0)


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_two_loop_matches_serial(threads):
    # Long vectors are split over the core's threads; the partial sums are added in thread
    # order, so results agree with the serial recursion to round-off and repeat bit for bit.
    n, m = 400_003, 4  # odd length: uneven shares
    rng = np.random.default_rng(7)
    mem = _core.LbfgsMemory(n, m)
    for _ in range(m):
        s = rng.standard_normal(n)
        assert mem.push(s, s + 0.5 * rng.standard_normal(n))
    g = rng.standard_normal(n)
    default = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        serial = mem.two_loop(g)
        _core.set_num_threads(threads)
        assert _core.get_num_threads() == threads
        threaded = mem.two_loop(g)
        again = mem.two_loop(g)
    finally:
        _core.set_num_threads(0)
    assert _core.get_num_threads() == default
    assert _rel(threaded, serial) < 1e-13
    np.testing.assert_array_equal(threaded, again)


# The compact direction (float32 pairs): LbfgsMemory.direction


def _lane_sum(p: np.ndarray) -> float:
    """A share's inner product in the compact passes' order (optim/compact.hpp): lane l
    takes entries l, l + 4, ... in sequence, the lanes added as (l0 + l1) + (l2 + l3)."""
    lanes = [np.add.accumulate(p[lane::4])[-1] if p[lane::4].size else 0.0 for lane in range(4)]
    return float((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))


def _compact_dot(a: np.ndarray, b: np.ndarray, shares) -> float:
    total = 0.0
    for lo, hi in shares:
        total += _lane_sum(a[lo:hi].astype(np.float64) * b[lo:hi].astype(np.float64))
    return total


def _compact_direction_in_order(pairs, g, gamma, shares) -> np.ndarray:
    """-H g by the compact representation, every operation in the core's documented order:
    t = R^{-1} a, u = (D + gamma Y^T Y) t - gamma b, q = R^{-T} u, d = -gamma g - S q +
    gamma Y t (pairs: (s, y, s.y, y.y) as stored, oldest first)."""
    k = len(pairs)
    a = [_compact_dot(s, g, shares) for s, _, _, _ in pairs]
    b = [_compact_dot(y, g, shares) for _, y, _, _ in pairs]
    sy = [p[2] for p in pairs]

    def R(i, j):
        return sy[i] if i == j else _compact_dot(pairs[i][0], pairs[j][1], shares)

    def YY(i, j):
        if i == j:
            return pairs[i][3]
        newer, older = (i, j) if i > j else (j, i)  # gathered with the newer pair's push
        return _compact_dot(pairs[older][1], pairs[newer][1], shares)

    t = [0.0] * k
    for i in range(k - 1, -1, -1):
        acc = a[i]
        for j in range(i + 1, k):
            acc -= R(i, j) * t[j]
        t[i] = acc / sy[i]
    u = []
    for i in range(k):
        acc = 0.0
        for j in range(k):
            acc += YY(i, j) * t[j]
        u.append(sy[i] * t[i] + gamma * acc - gamma * b[i])
    q = [0.0] * k
    for i in range(k):
        acc = u[i]
        for j in range(i):
            acc -= R(j, i) * q[j]
        q[i] = acc / sy[i]
    out = -gamma * g
    for i, (s, y, _, _) in enumerate(pairs):
        out = out + (-q[i]) * s.astype(np.float64)
        out = out + (gamma * t[i]) * y.astype(np.float64)
    return out


def _wide_settings() -> list[int]:
    available = _core._compact_wide_vectors(-1)
    return [0, 1] if available else [0]


@pytest.mark.parametrize("wide", _wide_settings())
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_compact_direction_is_its_documented_order_bit_for_bit(threads, wide):
    # Stored results depend on the order: lanes, shares, the k x k algebra and the final
    # combination, every operation rounded separately (no contraction), for 16- and 32-byte
    # vectors alike.
    n, m = 300_007, 3
    shares = _shares(n, threads)
    rng = np.random.default_rng(12)
    before = _core._compact_wide_vectors(wide)
    try:
        _core.set_num_threads(threads)
        mem = _core.LbfgsMemory(n, m, single=True)
        stored = []
        for step in range(m + 2):  # the ring wraps; one direction sees two pending pairs
            s = rng.standard_normal(n)
            y = s * rng.uniform(0.5, 2.0, n)
            assert mem.push(s, y)
            s32, y32 = s.astype(np.float32), y.astype(np.float32)
            stored.append((s32, y32, _dot_shares(s32, y32, shares), _dot_shares(y32, y32, shares)))
            stored = stored[-m:]
            if step == m:
                continue  # the next direction gathers two new pairs' Gram entries at once
            g = rng.standard_normal(n)
            gamma = stored[-1][2] / stored[-1][3]
            expected = _compact_direction_in_order(stored, g, gamma, shares)
            np.testing.assert_array_equal(mem.direction(g), expected)
            d, slope = mem.direction_and_slope(g)  # from the cache
            np.testing.assert_array_equal(d, expected)
            # the slope is summed in pass 2, in the lanes' order over the shares
            assert slope == _compact_dot(g, expected, shares)
    finally:
        _core.set_num_threads(0)
        _core._compact_wide_vectors(int(before))


@pytest.mark.parametrize("m, count", [(5, 5), (3, 7), (1, 2), (4, 2)])
def test_compact_direction_is_minus_the_bfgs_matrix_of_the_rounded_pairs(m, count):
    n = 9
    pairs = _random_pairs(n, count, seed=30 + m + count)
    mem = _core.LbfgsMemory(n, m, single=True)
    rng = np.random.default_rng(4)
    g = rng.standard_normal(n)
    np.testing.assert_array_equal(mem.direction(g), -g)  # empty: H_0 = I
    for pushed, (s, y) in enumerate(pairs, start=1):
        assert mem.push(s, y)
        H = _dense_h(_rounded(pairs[max(0, pushed - m) : pushed]))
        g = rng.standard_normal(n)
        assert _rel(mem.direction(g), -(H @ g)) < 1e-12
        assert _rel(mem.direction(g), -mem.two_loop(g)) < 1e-12
    mem.clear()
    np.testing.assert_array_equal(mem.direction(g), -g)
    # After a clear the Gram cache starts over.
    for s, y in pairs[:2]:
        assert mem.push(s, y)
    assert _rel(mem.direction(g), -(_dense_h(_rounded(pairs[:2][-m:])) @ g)) < 1e-12


def test_compact_direction_matches_the_two_loop_on_long_vectors():
    # The same matrix by two routes: agreement to rounding, many pushes (the ring wraps
    # twice), some pushes without a direction in between, a skipped pair.
    n, m = 200_003, 5
    rng = np.random.default_rng(8)
    mem = _core.LbfgsMemory(n, m, single=True)
    for step in range(2 * m + 3):
        s = 1e-2 * rng.standard_normal(n)
        y = s * rng.uniform(0.2, 5.0, n) + 1e-4 * rng.standard_normal(n)
        assert mem.push(s, y)
        if step == 4:
            assert not mem.push(s, -y)  # s.y < 0: skipped, nothing pending
        if step % 3 == 1:
            continue
        g = rng.standard_normal(n)
        d = mem.direction(g)
        assert _rel(d, -mem.two_loop(g)) < 1e-12
        assert g @ d < 0


def test_compact_direction_stays_a_descent_direction_for_near_dependent_pairs():
    # Pairs along nearly the same direction, rounded to float32: R = upper(S^T Y) is close to
    # singular in its off-diagonal structure; the direction must still be -H g of the stored
    # pairs (checked against the dense matrix) and a descent direction.
    n, m = 50, 6
    rng = np.random.default_rng(9)
    base = rng.standard_normal(n)
    A = np.diag(rng.uniform(0.5, 3.0, n))
    pairs = []
    for _ in range(m):
        s = base + 1e-6 * rng.standard_normal(n)
        pairs.append((s, A @ s))
    mem = _core.LbfgsMemory(n, m, single=True)
    for s, y in pairs:
        assert mem.push(s, y)
    H = _dense_h(_rounded(pairs))
    assert np.all(np.linalg.eigvalsh((H + H.T) / 2) > 0)
    for _ in range(5):
        g = rng.standard_normal(n)
        d = mem.direction(g)
        assert g @ d < 0
        assert _rel(d, -(H @ g)) < 1e-6
        assert _rel(d, -mem.two_loop(g)) < 1e-6


def test_float64_direction_is_the_negated_two_loop_bit_for_bit():
    n, m = 1_003, 3
    rng = np.random.default_rng(10)
    mem = _core.LbfgsMemory(n, m)
    for _ in range(m + 1):
        s = rng.standard_normal(n)
        assert mem.push(s, s * rng.uniform(0.5, 2.0, n))
    g = rng.standard_normal(n)
    np.testing.assert_array_equal(mem.direction(g), mem.two_loop(g, negate=True))
    out = np.empty(n)
    assert mem.direction(g, out=out) is not None and np.array_equal(out, -mem.two_loop(g))
    with pytest.raises(ValueError, match="alias"):
        mem.direction(g, out=g)
    with pytest.raises(ValueError):
        mem.direction(g[:-1])


def test_memory_ring_buffer_keeps_newest_pairs():
    n, m = 8, 5
    pairs = _random_pairs(n, 8, seed=3)
    mem = _core.LbfgsMemory(n, m)
    for k, (s, y) in enumerate(pairs, start=1):
        mem.push(s, y)
        S, Y = mem.pairs()
        held = pairs[max(0, k - m) : k]
        assert S.shape == (len(held), n) == Y.shape
        assert np.array_equal(S, np.array([p[0] for p in held]))
        assert np.array_equal(Y, np.array([p[1] for p in held]))
    assert mem.size == m and mem.n_pushed == 8 and mem.n_skipped == 0
    # Products after wrap-around use exactly the newest m pairs.
    newest = pairs[-m:]
    v = np.random.default_rng(5).standard_normal(n)
    assert _rel(mem.two_loop(v), _dense_h(newest) @ v) < 1e-12
    assert _rel(mem.apply_h(v), _dense_h(newest) @ v) < 1e-12
    assert _rel(mem.apply_b(v), _dense_b(newest) @ v) < 1e-12
    # The dense result with all 8 pairs differs: the oldest were really dropped.
    assert _rel(_dense_h(pairs) @ v, _dense_h(newest) @ v) > 1e-6


def test_memory_curvature_skip_rule():
    n = 8
    (s, y), (s2, y2) = _random_pairs(n, 2, seed=7)
    sy = float(s @ y)
    eps = 1e-3
    mem = _core.LbfgsMemory(n, 3)
    # Skipped exactly when s.y <= eps * skip_scale.
    assert mem.push(s, y, skip_scale=sy / eps * (1 + 1e-9), eps=eps) is False
    assert mem.push(s, y, skip_scale=sy / eps * (1 + 1e-3), eps=eps) is False
    assert mem.push(s, y, skip_scale=sy, eps=1.0) is False  # equality is skipped too
    assert mem.size == 0 and mem.n_skipped == 3 and mem.n_pushed == 0
    assert mem.push(s, y, skip_scale=sy / eps * (1 - 1e-9), eps=eps) is True
    assert mem.size == 1 and mem.n_skipped == 3 and mem.n_pushed == 1
    # Negative curvature is rejected with the default (L-BFGS-B) rule, positive accepted.
    assert mem.push(s2, -y2) is False
    assert mem.push(s2, y2, skip_scale=1.0) is True
    assert mem.n_skipped == 4 and mem.n_pushed == 2 and mem.size == 2
    # A NaN or inf pair is refused (ValueError): neither stored nor counted as skipped.
    with pytest.raises(ValueError, match="must be finite"):
        mem.push(s, np.full(n, np.nan))
    with pytest.raises(ValueError, match="must be finite"):
        mem.push(np.full(n, np.inf), y)
    assert mem.n_skipped == 4 and mem.size == 2
    # A finite pair whose s.y overflows is skipped like a failed curvature test.
    assert mem.push(np.full(n, 1e300), np.full(n, 1e300)) is False
    assert mem.n_skipped == 5 and mem.size == 2
    # sy= overrides the computed s.y in the test.
    assert mem.push(s, y, skip_scale=1.0, eps=1.0, sy=0.5) is False
    assert mem.push(-s, y, skip_scale=0.0, sy=2.0) is True


def _rounded(pairs):
    return [
        (s.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64))
        for s, y in pairs
    ]


@pytest.mark.parametrize("m, count", [(5, 5), (3, 7), (1, 2)])
def test_single_precision_memory_is_the_bfgs_matrix_of_the_rounded_pairs(m, count):
    # Float storage rounds each pair once; every product is then the exact BFGS product of the
    # rounded pairs (s.y and y.y included), so B_k and H_k stay inverses and positive definite.
    n = 9
    pairs = _random_pairs(n, count, seed=3 + m)
    mem = _core.LbfgsMemory(n, m, single=True)
    assert mem.single and not _core.LbfgsMemory(n, m).single
    for s, y in pairs:
        assert mem.push(s, y)
    held = _rounded(pairs[-m:])
    S, Y = mem.pairs()
    assert S.dtype == np.float64
    np.testing.assert_array_equal(S, np.array([p[0] for p in held]))
    np.testing.assert_array_equal(Y, np.array([p[1] for p in held]))
    s_new, y_new = held[-1]
    assert mem.gamma() == pytest.approx((s_new @ y_new) / (y_new @ y_new), rel=1e-14)
    H, B = _dense_h(held), _dense_b(held)
    rng = np.random.default_rng(1)
    for _ in range(4):
        v = rng.standard_normal(n)
        assert _rel(mem.two_loop(v), H @ v) < 1e-12
        assert _rel(mem.apply_h(v), H @ v) < 1e-12
        assert _rel(mem.apply_b(v), B @ v) < 1e-12
        assert _rel(mem.apply_b(mem.apply_h(v)), v) < 1e-10
    # ... and differs from the unrounded matrix by float32 rounding only.
    v = rng.standard_normal(n)
    diff = _rel(mem.two_loop(v), _dense_h(pairs[-m:]) @ v)
    assert 0 < diff < 1e-5


def test_single_precision_memory_threaded_and_long():
    n, m = 300_001, 3
    rng = np.random.default_rng(2)
    pairs = []
    for _ in range(m):
        s = rng.standard_normal(n)
        pairs.append((s, s + 0.3 * rng.standard_normal(n)))
    single = _core.LbfgsMemory(n, m, single=True)
    exact = _core.LbfgsMemory(n, m)  # float64 memory holding the rounded pairs
    for (s, y), (sr, yr) in zip(pairs, _rounded(pairs), strict=True):
        assert single.push(s, y) and exact.push(sr, yr)
    g = rng.standard_normal(n)
    try:
        for threads in (1, 2):
            _core.set_num_threads(threads)
            assert _rel(single.two_loop(g), exact.two_loop(g)) < 1e-13
    finally:
        _core.set_num_threads(0)


@pytest.mark.parametrize("single", [False, True])
def test_rejected_pair_keeps_a_full_memory_intact(single):
    # The new pair goes into a spare row while it is tested: a rejected pair leaves the
    # memory exactly as it was, and an accepted one then drops the oldest.
    n, m = 8, 2
    pairs = _random_pairs(n, 3, seed=4)
    mem = _core.LbfgsMemory(n, m, single=single)
    for s, y in pairs[:2]:
        assert mem.push(s, y)
    before = mem.pairs()
    s, y = pairs[0]
    assert mem.push(s, -y) is False
    assert mem.push_step(s, 1.0, -y, np.zeros(n)) is False
    assert mem.n_skipped == 2 and mem.size == 2
    after = mem.pairs()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    v = np.random.default_rng(0).standard_normal(n)
    held = _rounded(pairs[:2]) if single else pairs[:2]
    assert _rel(mem.two_loop(v), _dense_h(held) @ v) < 1e-12
    assert mem.push(*pairs[2])
    held = _rounded(pairs[1:]) if single else pairs[1:]
    assert _rel(mem.two_loop(v), _dense_h(held) @ v) < 1e-12
    assert _rel(mem.apply_b(v), _dense_b(held) @ v) < 1e-12


@pytest.mark.parametrize("single", [False, True])
def test_push_step_equals_push_of_formed_pair(single):
    # push_step(d, t, g_new, g_old) stores exactly push(t * d, g_new - g_old), full or not,
    # and applies the same curvature test.
    n, m = 11, 3
    rng = np.random.default_rng(8)
    a = _core.LbfgsMemory(n, m, single=single)
    b = _core.LbfgsMemory(n, m, single=single)
    for k in range(6):
        d = rng.standard_normal(n)
        t = float(rng.uniform(0.1, 2.0))
        g_old = rng.standard_normal(n)
        g_new = g_old + 1.5 * t * d + 0.1 * rng.standard_normal(n)
        if k == 4:
            g_new = g_old - t * d  # negative curvature: skipped by both
        gd = float(g_old @ d)
        assert a.push_step(d, t, g_new, g_old, skip_scale=-t * gd) == b.push(
            t * d, g_new - g_old, skip_scale=-t * gd
        )
    assert a.n_skipped == b.n_skipped == 1 and a.size == b.size == m
    for x, y in zip(a.pairs(), b.pairs(), strict=True):
        np.testing.assert_array_equal(x, y)
    g = rng.standard_normal(n)
    np.testing.assert_array_equal(a.two_loop(g), b.two_loop(g))
    with pytest.raises(ValueError, match="length 11"):
        a.push_step(np.ones(10), 1.0, np.ones(11), np.ones(11))
    with pytest.raises(ValueError, match="finite"):
        a.push_step(np.ones(11), np.nan, np.ones(11), np.ones(11))


@pytest.mark.parametrize("n", [5, 200_003])
def test_two_loop_negate(n):
    rng = np.random.default_rng(9)
    mem = _core.LbfgsMemory(n, 2)
    for _ in range(2):
        s = rng.standard_normal(n)
        mem.push(s, s + 0.2 * rng.standard_normal(n))
    g = rng.standard_normal(n)
    try:
        for threads in (1, 2):
            _core.set_num_threads(threads)
            np.testing.assert_array_equal(mem.two_loop(g, negate=True), -mem.two_loop(g))
    finally:
        _core.set_num_threads(0)


def test_step_point_and_distance():
    rng = np.random.default_rng(10)
    base, d = rng.standard_normal((2, 1001))
    np.testing.assert_allclose(_core.step_point(base, 0.37, d), base + 0.37 * d, rtol=1e-15)
    assert _core.distance(base, d) == pytest.approx(np.linalg.norm(base - d), rel=1e-14)
    assert _core.distance(base, base) == 0.0
    with pytest.raises(ValueError, match="equal length"):
        _core.step_point(base, 1.0, d[:-1])
    with pytest.raises(ValueError, match="equal length"):
        _core.distance(base[:-1], d)


def test_memory_clear():
    n = 8
    pairs = _random_pairs(n, 4, seed=11)
    mem = _filled(n, 5, pairs)
    mem.clear()
    assert mem.size == 0
    assert mem.gamma() == 1.0
    S, Y = mem.pairs()
    assert S.shape == (0, n) and Y.shape == (0, n)
    v = np.random.default_rng(0).standard_normal(n)
    assert np.array_equal(mem.two_loop(v), v)
    assert np.array_equal(mem.apply_h(v), v)
    assert np.array_equal(mem.apply_b(v), v)
    # Usable again after clearing: one new pair gives the one-pair BFGS matrices.
    mem.push(*pairs[0])
    assert mem.size == 1
    assert _rel(mem.two_loop(v), _dense_h(pairs[:1]) @ v) < 1e-12


def test_memory_bad_arguments():
    with pytest.raises(ValueError, match="memory"):
        _core.LbfgsMemory(8, 0)
    with pytest.raises(ValueError, match="memory"):
        _core.LbfgsMemory(8, -3)
    with pytest.raises(ValueError, match="n must"):
        _core.LbfgsMemory(0, 5)
    mem = _core.LbfgsMemory(8, 5)
    with pytest.raises(ValueError, match="length 8"):
        mem.push(np.ones(7), np.ones(8))
    with pytest.raises(ValueError, match="length 8"):
        mem.push(np.ones(8), np.ones(9))
    with pytest.raises(ValueError, match="length 8"):
        mem.two_loop(np.ones(9))
    with pytest.raises(ValueError, match="length 8"):
        mem.apply_b(np.ones((2, 4)))
    with pytest.raises(ValueError, match="length 8"):
        mem.apply_h(np.ones(3))
    with pytest.raises(ValueError, match="out"):
        mem.two_loop(np.ones(8), out=np.empty(7))
    assert mem.size == 0 and mem.n_pushed == 0


# ------------------------------------------------------------------------------------------
# Moré-Thuente against SciPy's port of MINPACK-2 dcsrch
# ------------------------------------------------------------------------------------------


def _mt1(t, beta=2.0):
    """Moré & Thuente (1994) function 1: -t / (t^2 + beta)."""
    return -t / (t * t + beta), (t * t - beta) / (t * t + beta) ** 2


def _mt2(t, beta=0.004):
    """Function 2: (t + beta)^5 - 2 (t + beta)^4."""
    u = t + beta
    return u**5 - 2 * u**4, 5 * u**4 - 8 * u**3


def _mt3(t, beta=0.01, ell=39):
    """Function 3: a piecewise convex function plus a wiggle with a narrow minimizer."""
    if t <= 1 - beta:
        f0, g0 = 1 - t, -1.0
    elif t >= 1 + beta:
        f0, g0 = t - 1, 1.0
    else:
        f0, g0 = (t - 1) ** 2 / (2 * beta) + beta / 2, (t - 1) / beta
    w = ell * math.pi / 2
    return f0 + 2 * (1 - beta) / (ell * math.pi) * math.sin(w * t), g0 + (1 - beta) * math.cos(
        w * t
    )


def _mt456(b1, b2):
    """Functions 4-6 of Moré & Thuente (1994)."""

    def gam(b):
        return math.sqrt(1 + b * b) - b

    def phi(t):
        r1 = math.sqrt((1 - t) ** 2 + b2 * b2)
        r2 = math.sqrt(t * t + b1 * b1)
        return gam(b1) * r1 + gam(b2) * r2, -gam(b1) * (1 - t) / r1 + gam(b2) * t / r2

    return phi


def _narrow(t, center=0.7, width=1e-3):
    """A narrow Lorentzian well inside a broad parabola (minimizer near 2)."""
    u = (t - center) / width
    f = 0.005 * (t - 2.0) ** 2 - 1.0 / (1.0 + u * u)
    g = 0.01 * (t - 2.0) + 2.0 * u / width / (1.0 + u * u) ** 2
    return f, g


def _parabola(t):
    return (t - 1.0) ** 2, 2.0 * (t - 1.0)


def _rosen_line(n=10, seed=0):
    x = -1.2 + 0.1 * np.random.default_rng(seed).standard_normal(n)
    d = -rosen_der(x)

    def phi(t):
        p = x + t * d
        return float(rosen(p)), float(rosen_der(p) @ d)

    return phi, 1.0 / float(np.linalg.norm(d))


def _linear(t):
    return -t, -1.0


_ROSEN, _ROSEN_STP = _rosen_line()

# (name, phi, first steps, ftol, gtol, xtol, stpmin, stpmax)
MT_CASES = [
    ("mt1", _mt1, (1e-3, 1e-1, 1e1, 1e3), 1e-3, 1e-1, 0.1, 0.0, 1e10),
    ("mt2", _mt2, (1e-3, 1e-1, 1e1, 1e3), 1e-1, 1e-1, 0.1, 0.0, 1e10),
    ("mt3", _mt3, (1e-3, 1e-1, 1e1, 1e3), 1e-1, 1e-1, 0.1, 0.0, 1e10),
    ("mt4", _mt456(1e-3, 1e-3), (1e-3, 1e-1, 1e1, 1e3), 1e-3, 1e-3, 0.1, 0.0, 1e10),
    ("mt5", _mt456(1e-2, 1e-3), (1e-3, 1e-1, 1e1, 1e3), 1e-3, 1e-3, 0.1, 0.0, 1e10),
    ("mt6", _mt456(1e-3, 1e-2), (1e-3, 1e-1, 1e1, 1e3), 1e-3, 1e-3, 0.1, 0.0, 1e10),
    ("mt3_tight", _mt3, (1e-3, 1.0, 1e3), 1e-3, 1e-3, 1e-10, 0.0, 1e10),
    ("narrow", _narrow, (1e-2, 1.0, 30.0), 1e-3, 1e-3, 1e-12, 0.0, 1e10),
    ("rosen", _ROSEN, (_ROSEN_STP, 1.0, 1e-3 * _ROSEN_STP), 1e-3, 0.9, 0.1, 0.0, 1e10),
    ("rosen_tight", _ROSEN, (_ROSEN_STP, 10 * _ROSEN_STP), 1e-3, 1e-2, 1e-8, 0.0, 1e10),
    ("stpmax", _linear, (1.0, 4.0, 5.0), 1e-3, 0.9, 0.1, 0.0, 5.0),
    ("stpmin", _parabola, (4.0, 10.0), 1e-3, 0.9, 0.1, 3.0, 1e10),
]


def _scipy_search(phi, stp, ftol, gtol, xtol, stpmin, stpmax, maxiter=200):
    from scipy.optimize._dcsrch import DCSRCH

    search = DCSRCH(None, None, ftol, gtol, xtol, stpmin, stpmax)
    f, g = phi(0.0)
    stp, f, g, task = search._iterate(stp, f, g, b"START")
    trials = []
    for _ in range(maxiter):
        if task[:2] != b"FG":
            break
        trials.append(stp)
        f, g = phi(stp)
        stp, f, g, task = search._iterate(stp, f, g, task)
    return trials, stp, task.decode()


def _core_search(phi, stp, ftol, gtol, xtol, stpmin, stpmax, maxiter=200):
    search = _core.MoreThuente(ftol, gtol, xtol, stpmin, stpmax)
    f, g = phi(0.0)
    task = search.start(f, g, stp)
    trials = []
    for _ in range(maxiter):
        if task != Task.EVALUATE:
            break
        trials.append(search.step)
        task = search.iterate(*phi(search.step))
    return trials, search.step, task, search.message


_TASK_PREFIX = {
    Task.CONVERGED: "CONVERGENCE",
    Task.WARNING: "WARNING",
    Task.ERROR: "ERROR",
}


@pytest.mark.parametrize("case", MT_CASES, ids=[c[0] for c in MT_CASES])
def test_more_thuente_matches_scipy_dcsrch(case):
    name, phi, first_steps, *tols = case
    lengths, outcomes = [], []
    for stp0 in first_steps:
        ref_trials, ref_stp, ref_task = _scipy_search(phi, stp0, *tols)
        trials, stp, task, message = _core_search(phi, stp0, *tols)
        assert ref_task[:2] != "FG", "reference did not finish"
        assert len(trials) == len(ref_trials), (stp0, trials, ref_trials)
        np.testing.assert_allclose(trials, ref_trials, rtol=1e-12, atol=0)
        assert stp == pytest.approx(ref_stp, rel=1e-12, abs=0)
        assert message == ref_task
        assert message.startswith(_TASK_PREFIX[task])
        lengths.append(len(trials))
        outcomes.append(message)
    if name == "stpmax":
        assert message == "WARNING: STP = STPMAX" and stp == 5.0
    elif name == "stpmin":
        assert message == "WARNING: STP = STPMIN" and stp == 3.0
    elif name in ("mt1", "mt4", "mt5", "rosen", "rosen_tight"):
        assert all(o == "CONVERGENCE" for o in outcomes)
    # The cases exercise real searches, not only first-trial acceptances.
    if name not in ("stpmax", "stpmin"):
        assert max(lengths) >= 4


def test_more_thuente_converged_step_satisfies_strong_wolfe():
    ftol, gtol = 1e-3, 0.1
    f0, g0 = _mt1(0.0)
    for stp0 in (1e-3, 1e-1, 1e1, 1e3):
        _, stp, task, _ = _core_search(_mt1, stp0, ftol, gtol, 0.1, 0.0, 1e10)
        assert task == Task.CONVERGED
        f, g = _mt1(stp)
        assert f <= f0 + ftol * stp * g0
        assert abs(g) <= gtol * abs(g0)


def test_more_thuente_input_errors_match_scipy():
    for f0, g0, stp, tols, expected in [
        (1.0, 0.5, 1.0, (1e-3, 0.9, 0.1, 0.0, 10.0), "ERROR: INITIAL G .GE. ZERO"),
        (1.0, -1.0, 20.0, (1e-3, 0.9, 0.1, 0.0, 10.0), "ERROR: STP .GT. STPMAX"),
        (1.0, -1.0, 0.5, (1e-3, 0.9, 0.1, 1.0, 10.0), "ERROR: STP .LT. STPMIN"),
        (1.0, -1.0, 1.0, (-1e-3, 0.9, 0.1, 0.0, 10.0), "ERROR: FTOL .LT. ZERO"),
    ]:
        search = _core.MoreThuente(*tols)
        assert search.start(f0, g0, stp) == Task.ERROR
        assert search.message == expected
        _, _, ref_task = _scipy_search(lambda t, f0=f0, g0=g0: (f0, g0), stp, *tols)
        assert ref_task == expected


def test_more_thuente_backs_off_from_nan():
    # phi finite only for t < 2; the first trial 10 is far outside.
    def phi(t):
        return ((t - 1.0) ** 2, 2.0 * (t - 1.0)) if t < 2.0 else (np.nan, np.nan)

    search = _core.MoreThuente(1e-3, 0.9, 0.1, 0.0, 1e10)
    task = search.start(*phi(0.0), 10.0)
    assert task == Task.EVALUATE and search.step == 10.0
    trials = []
    while task == Task.EVALUATE and len(trials) < 50:
        stp = search.step
        trials.append(stp)
        f, g = phi(stp)
        task = search.iterate(f, g)
        if not np.isfinite(f):
            assert task == Task.EVALUATE
            assert 0.0 < search.step < stp  # backed off, but not to zero
    assert any(t >= 2.0 for t in trials) and trials[-1] < 2.0
    assert task == Task.CONVERGED
    f, g = phi(search.step)
    assert f <= 1.0 + 1e-3 * search.step * (-2.0) and abs(g) <= 0.9 * 2.0
    # Never returns to the region that failed.
    assert all(t < 10.0 for t in trials[1:])


def test_more_thuente_inf_then_nan_gradient_backs_off():
    search = _core.MoreThuente()
    assert search.start(0.0, -1.0, 4.0) == Task.EVALUATE
    assert search.iterate(np.inf, -1.0) == Task.EVALUATE
    assert 0.0 < search.step < 4.0
    stp = search.step
    assert search.iterate(1.0, np.nan) == Task.EVALUATE
    assert 0.0 < search.step < stp


def test_more_thuente_all_nan_ends_with_warning_at_zero():
    search = _core.MoreThuente()
    task = search.start(0.0, -1.0, 1.0)
    n = 0
    while task == Task.EVALUATE and n < 5000:
        stp = search.step
        task = search.iterate(np.nan, np.nan)
        if task == Task.EVALUATE:
            assert 0.0 < search.step < stp
        n += 1
    assert task == Task.WARNING
    assert "NON-FINITE" in search.message
    assert search.step == 0.0


def test_more_thuente_iterate_without_start_is_an_error():
    search = _core.MoreThuente()
    assert search.iterate(1.0, -1.0) == Task.ERROR


# ------------------------------------------------------------------------------------------
# Armijo backtracking and golden section
# ------------------------------------------------------------------------------------------


def _armijo_run(phi, stp0, c1=1e-4, shrink=0.5):
    f0, g0 = phi(0.0)
    search = _core.Armijo(c1, shrink, 1e-20)
    task = search.start(f0, g0, stp0)
    trials, values = [], []
    while task == Task.EVALUATE and len(trials) < 200:
        trials.append(search.step)
        values.append(phi(search.step)[0])
        task = search.iterate(values[-1])
    return f0, g0, trials, values, task, search.step


@pytest.mark.parametrize(
    "phi, stp0, c1, shrink",
    [
        (lambda t: ((t - 1.0) ** 2, 2.0 * (t - 1.0)), 64.0, 1e-4, 0.5),
        (lambda t: ((t - 1.0) ** 2, 2.0 * (t - 1.0)), 64.0, 0.9, 0.3),
        (_mt1, 1e3, 1e-4, 0.5),
        (_mt3, 7.3, 0.5, 0.7),
        (_ROSEN, 50.0 * _ROSEN_STP, 1e-4, 0.5),
    ],
)
def test_armijo_accepts_first_sufficient_decrease(phi, stp0, c1, shrink):
    f0, g0, trials, values, task, stp = _armijo_run(phi, stp0, c1, shrink)
    assert task == Task.CONVERGED
    assert len(trials) >= 2
    np.testing.assert_allclose(trials, stp0 * shrink ** np.arange(len(trials)), rtol=1e-14)
    assert stp == trials[-1]
    assert values[-1] <= f0 + c1 * stp * g0
    for t, f in zip(trials[:-1], values[:-1], strict=True):
        assert not f <= f0 + c1 * t * g0


def test_armijo_treats_nan_as_failure_and_reports_stpmin():
    search = _core.Armijo(1e-4, 0.5, 1e-3)
    assert search.start(1.0, -1.0, 1.0) == Task.EVALUATE
    assert search.iterate(np.nan) == Task.EVALUATE and search.step == 0.5
    assert search.iterate(0.5) == Task.CONVERGED and search.step == 0.5
    search.start(1.0, -1.0, 1.0)
    task = Task.EVALUATE
    for _ in range(20):
        task = search.iterate(2.0)
        if task != Task.EVALUATE:
            break
    assert task == Task.WARNING and search.step < 1e-3
    assert _core.Armijo().start(1.0, 0.0, 1.0) == Task.ERROR


def _golden_run(fun, stp0, xtol):
    search = _core.GoldenSection(xtol, 50)
    task = search.start(fun(0.0), stp0)
    trials = []
    while task == Task.EVALUATE and len(trials) < 1000:
        trials.append(search.step)
        task = search.iterate(fun(search.step))
    return search, task, trials


@pytest.mark.parametrize(
    "tmin, stp0, xtol",
    [(0.37, 1.0, 1e-4), (0.37, 1.0, 1e-8), (5.0, 1.0, 1e-4), (5.0, 1e-3, 1e-6), (1e-3, 10.0, 1e-5)],
)
def test_golden_section_minimizes_to_xtol(tmin, stp0, xtol):
    def fun(t):
        return (t - tmin) ** 2  # no offset: values resolve the minimizer to ~1e-16

    search, task, trials = _golden_run(fun, stp0, xtol)
    assert task == Task.CONVERGED
    assert search.message == "CONVERGENCE"
    stp = search.step
    assert abs(stp - tmin) <= xtol * stp
    assert search.best_value == fun(stp) == min(fun(t) for t in trials)
    if tmin > stp0:
        assert max(trials) > tmin  # the bracket was expanded beyond the minimizer


def test_golden_section_non_unimodal_and_nan():
    # NaN beyond t = 0.8 behaves like a very high value; the minimizer 0.5 is still found.
    def fun(t):
        return (t - 0.5) ** 2 if t < 0.8 else np.nan

    search, task, _ = _golden_run(fun, 1.0, 1e-6)
    assert task == Task.CONVERGED and abs(search.step - 0.5) <= 1e-6 * 0.5
    # No decrease anywhere along the line: a warning, step 0.
    search, task, _ = _golden_run(lambda t: 1.0 + t, 1.0, 1e-3)
    assert task == Task.WARNING and search.step == 0.0
    assert _core.GoldenSection().start(0.0, -1.0) == Task.ERROR
    assert _core.GoldenSection().iterate(1.0) == Task.ERROR


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1_001, 300_007])  # serial, and above the parallel threshold
def test_level1_kernels_follow_the_documented_order(threads, n):
    # dot, distance and step_point of the optimizer loop: each thread's share in the serial
    # order, partial sums added in thread order (deterministic for a thread count); vectors
    # below the threshold stay serial, whatever the thread count.
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, n))
    shares = _shares(n, threads if n > 131_072 else 1)
    try:
        _core.set_num_threads(threads)
        assert _core.dot(a, b) == _dot_shares(a, b, shares)
        d = a - b
        assert _core.distance(a, b) == math.sqrt(_dot_shares(d, d, shares))
        np.testing.assert_array_equal(_core.step_point(a, 0.37, b), a + 0.37 * b)
        # the fused passes of the loop give exactly the separate calls' numbers
        assert _core.dot_and_norm(a, b) == (_core.dot(a, b), math.sqrt(_core.dot(a, a)))
        ref = rng.standard_normal(n)
        point, distance = _core.step_point_distance(a, 0.37, b, ref)
        np.testing.assert_array_equal(point, a + 0.37 * b)
        assert distance == _core.distance(point, ref)
    finally:
        _core.set_num_threads(0)


def test_fused_level1_kernels_reject_bad_arguments():
    a = np.ones(5)
    with pytest.raises(ValueError, match="equal length"):
        _core.dot_and_norm(a, np.ones(4))
    with pytest.raises(ValueError, match="equal length"):
        _core.step_point_distance(a, 1.0, a, np.ones(6))
    with pytest.raises(ValueError, match="equal length"):
        _core.step_point_distance(a, 1.0, np.ones((5, 1)), a)
    with pytest.raises((ValueError, TypeError)):
        _core.dot_and_norm(a, "x")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("sizes", [(5, 3, 0, 7), (200_003, 1, 150_001, 8)])
def test_gather_finite_concatenates_exactly_and_tests_finiteness(threads, sizes):
    # The CNN's gradient flattening: float32 and float64 pieces (thread shares cross piece
    # boundaries in the long case) into one float64 vector, floats converted exactly.
    rng = np.random.default_rng(5)
    pieces = [
        rng.standard_normal(n).astype(np.float32 if k % 2 == 0 else np.float64)
        for k, n in enumerate(sizes)
    ]
    expected = np.concatenate([p.astype(np.float64) for p in pieces])
    out = np.full(expected.size, 7.0)
    try:
        _core.set_num_threads(threads)
        assert _core.gather_finite(pieces, out) is True
        np.testing.assert_array_equal(out, expected)
        for bad in (np.inf, -np.inf, np.nan):  # one entry anywhere: the last, the first
            for k in (len(pieces) - 1, 0):
                piece = pieces[k]
                index = piece.size - 1 if k else 0
                keep = piece[index]
                piece[index] = bad
                assert _core.gather_finite(pieces, out) is False
                piece[index] = keep
        # finite extremes stay finite (max_float - max_float = 0)
        pieces[1][0] = np.finfo(np.float64).max
        pieces[0][-1] = np.finfo(np.float32).max
        assert _core.gather_finite(pieces, out) is True
    finally:
        _core.set_num_threads(0)


def test_gather_finite_rejects_bad_arguments():
    a = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="hold 3 entries, out has 4"):
        _core.gather_finite([a], np.empty(4))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.gather_finite([np.ones(6, np.float32)[::2]], np.empty(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.gather_finite([np.ones(3, np.int64)], np.empty(3))
    with pytest.raises(TypeError, match="NumPy arrays"):
        _core.gather_finite([[1.0, 2.0, 3.0]], np.empty(3))
    with pytest.raises(TypeError, match="float64 array"):
        _core.gather_finite([a], np.empty(3, np.float32))
    with pytest.raises(ValueError, match="writable"):
        out = np.empty(3)
        out.flags.writeable = False
        _core.gather_finite([a], out)
