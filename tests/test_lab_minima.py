"""Sets of minima (toposcape.lab.minima): alignment, kernel PCA, pairs, barriers, study input."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import numpy as np
import pytest

import toposcape as ts
from test_lab_paths import Banana  # minima (+-1, 0), lowest barrier 1, straight line 5
from toposcape.errors import InvalidInputError
from toposcape.experiments.executors import Executor
from toposcape.experiments.runner import execute
from toposcape.lab.minima import MinimaSet
from toposcape.lab.mlp import MLPObjective

matplotlib.use("Agg")


def _scramble(obj, theta, rng):
    W1, b1, W2, b2 = obj.unpack(theta)
    perm = rng.permutation(obj.hidden)
    s = np.where(rng.random(obj.hidden) < 0.5, -1.0, 1.0)
    return obj.pack(W1[:, perm] * s, b1[perm] * s, W2[perm] * s[:, None], b2)


def test_kernel_pca_separates_two_clusters():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(40)
    b = a + 3.0 * rng.standard_normal(40)
    thetas = np.vstack(
        [a + 0.05 * rng.standard_normal((6, 40)), b + 0.05 * rng.standard_normal((5, 40))]
    )
    labels = ["p"] * 3 + ["q"] * 3 + ["p"] * 2 + ["q"] * 3  # labels mix the clusters
    m = MinimaSet(thetas, labels, align=False)
    xy = m.kernel_pca()
    assert xy.shape == (11, 2) and m.coordinates is xy
    first = xy[:, 0]
    assert max(first[:6]) < min(first[6:]) or max(first[6:]) < min(first[:6])
    gap = abs(np.mean(first[:6]) - np.mean(first[6:]))
    assert gap > 10 * max(np.std(first[:6]), np.std(first[6:]))
    # the median heuristic
    d = np.linalg.norm(thetas[:, None] - thetas[None], axis=2)
    expected = 1.0 / np.median(d[np.triu_indices(11, 1)] ** 2)
    assert m.median_gamma() == pytest.approx(expected, rel=1e-10)
    assert m.kpca_gamma == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(m.distances(), d, atol=1e-9)
    linear = m.kernel_pca(n_components=1, kernel="linear")
    assert linear.shape == (11, 1)
    assert max(linear[:6, 0]) < min(linear[6:, 0]) or max(linear[6:, 0]) < min(linear[:6, 0])


def test_alignment_undoes_the_symmetries_before_comparing():
    obj = MLPObjective("iris", hidden=5, seed=0)
    rng = np.random.default_rng(1)
    bases = [obj.x0 + rng.standard_normal(obj.size) for _ in range(2)]
    thetas, truth = [], []
    for k in range(8):
        base = bases[k % 2]
        close = base + 1e-3 * rng.standard_normal(obj.size)
        thetas.append(_scramble(obj, close, rng))
        truth.append(k % 2)
    m = MinimaSet(np.array(thetas), [f"g{t}" for t in truth], obj)
    truth = np.array(truth)
    # every aligned network computes the same function as its raw one
    for raw, aligned in zip(m.raw_thetas, m.thetas, strict=True):
        assert obj.value_and_grad(aligned)[0] == pytest.approx(
            obj.value_and_grad(raw)[0], rel=1e-12
        )
    # aligned: copies of one base sit together, far from the other base's
    d = m.distances()
    same = d[np.equal.outer(truth, truth) & ~np.eye(8, dtype=bool)]
    other = d[~np.equal.outer(truth, truth)]
    assert same.max() < 0.05 < 1.0 < other.min()
    raw = MinimaSet(np.array(thetas), [f"g{t}" for t in truth], obj, align=False)
    raw_same = raw.distances()[np.equal.outer(truth, truth) & ~np.eye(8, dtype=bool)]
    assert raw_same.max() > 1.0  # without alignment the copies look far apart
    xy = m.kernel_pca()
    assert max(xy[truth == 0, 0]) < min(xy[truth == 1, 0]) or max(xy[truth == 1, 0]) < min(
        xy[truth == 0, 0]
    )
    # the metrics come from the objective when not given
    assert m.metrics["train_loss"][0] == pytest.approx(obj.train_loss(thetas[0]), rel=1e-12)
    summary = m.summary()
    assert list(summary.index) == ["g0", "g1"] and list(summary["n"]) == [4, 4]
    assert summary.loc["g0", "distance_mean"] < 0.05


def test_pairs_within_between_and_sampled():
    thetas = np.arange(14.0).reshape(7, 2)
    m = MinimaSet(thetas, ["a", "a", "a", "a", "b", "b", "b"], align=False)
    within = m.pairs("within")
    assert within == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6)]
    assert len(m.pairs("between")) == 12 and len(m.pairs("all")) == 21
    sample = m.pairs("within", max_pairs=2, seed=3)
    assert len(sample) == 4 and sample == m.pairs("within", max_pairs=2, seed=3)
    assert set(sample) <= set(within)
    assert {p for p in sample if p[0] >= 4} <= {(4, 5), (4, 6), (5, 6)}
    assert any(m.pairs("within", max_pairs=2, seed=s) != sample for s in range(4, 10))
    with pytest.raises(InvalidInputError, match="pairs"):
        m.pairs("across")


def test_barriers_on_a_function_with_a_known_saddle():
    thetas = np.array([[-1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    m = MinimaSet(thetas, ["x", "x", "y"], Banana(), align=False)
    table = m.barriers(points=33, modes=4, max_evals=300)
    assert len(table) == 1 and (table["i"][0], table["j"][0]) == (0, 1)
    row = table.iloc[0]
    assert row["straight_barrier"] == pytest.approx(5.0, abs=1e-12)  # node t = 1/2 at (0, 0)
    assert row["barrier"] == pytest.approx(1.0, abs=0.05)  # the saddle (0, 2)
    assert row["distance"] == pytest.approx(2.0) and row["loss_i"] == 0.0
    assert m.barrier_table is table
    summary = m.summary()
    assert summary.loc["x", "barrier_median"] == row["barrier"]
    fig = m.plot(size_by=None)
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="at least 2"):
        MinimaSet(np.zeros((1, 3)), ["a"], align=False)
    with pytest.raises(InvalidInputError, match="labels"):
        MinimaSet(np.zeros((3, 3)), ["a", "b"], align=False)
    with pytest.raises(InvalidInputError, match="align"):
        MinimaSet(np.zeros((3, 3)), ["a"] * 3)
    with pytest.raises(InvalidInputError, match="objective.size"):
        MinimaSet(np.zeros((3, 3)), ["a"] * 3, MLPObjective("iris", hidden=2))
    with pytest.raises(InvalidInputError, match="unknown metric"):
        MinimaSet(np.zeros((3, 3)), ["a"] * 3, align=False, accuracy=[1, 2, 3])
    m = MinimaSet(np.eye(3), ["a"] * 3, align=False)
    with pytest.raises(InvalidInputError, match="objective"):
        m.barriers()
    with pytest.raises(InvalidInputError, match="n_components"):
        m.kernel_pca(n_components=4)
    with pytest.raises(InvalidInputError, match="size_by"):
        m.plot(size_by="train_loss")


class _Inline(Executor):
    """Runs each task in this process when its outcome is asked for (no worker start-up)."""

    name = "inline"

    def __init__(self):
        self._queue = []

    def submit(self, key, settings):
        self._queue.append((key, settings))

    @property
    def outstanding(self):
        return len(self._queue)

    def outcomes(self) -> Iterator:
        while self._queue:
            yield execute(*self._queue.pop(0))

    def close(self, cancel=False):
        self._queue.clear()


SPEC = """
name = "minima-tiny"
seeds = [0, 1, 2]

[lab]
dataset = "iris"
hidden = 3
weight_decay = 1e-3

[[optimizers]]
preset = "gd"
lr = 0.3
batch_size = 28
max_steps = 120
label = "SGD"

[[optimizers]]
preset = "qn_golden"
max_evals = 150
label = "QN"
"""


def test_from_study(tmp_path):
    report = ts.experiments.run(SPEC, tmp_path, executor=_Inline(), progress=False)
    assert report.ok and report.computed == 6
    m = MinimaSet.from_study(tmp_path)
    assert m.groups == ["SGD", "QN"] and list(m.seeds) == [0, 1, 2, 0, 1, 2]
    obj = MLPObjective("iris", hidden=3, weight_decay=1e-3)
    study = ts.experiments.open(tmp_path)
    for k, key in enumerate(m.keys):
        ds = study.result(key)
        raw = ds["final_theta"].values
        np.testing.assert_array_equal(m.raw_thetas[k], raw)
        assert m.metrics["train_loss"][k] == obj.train_loss(raw)
        assert m.metrics["test_accuracy"][k] == obj.accuracy(raw)
        assert obj.value_and_grad(m.thetas[k])[0] == pytest.approx(
            obj.value_and_grad(raw)[0], rel=1e-12
        )
    table = m.table()
    assert list(table.columns[:3]) == ["group", "seed", "key"]
    best = MinimaSet.from_study(tmp_path, which="best")
    qn = best.members("QN")
    np.testing.assert_array_equal(best.raw_thetas[qn], m.raw_thetas[qn])  # full batch: best = final
    bar = m.barriers(max_pairs=1, max_evals=20, points=9, modes=2)
    assert list(bar["group_i"]) == ["SGD", "QN"] and np.all(bar["barrier"] >= 0)
    assert np.all(bar["barrier"] <= bar["straight_barrier"] + 1e-15)
    fig = m.plot()
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)


@pytest.mark.slow
def test_lab_minima_example_quick(tmp_path):
    """examples/lab_minima.py --quick: every output written, the numbers consistent."""
    import importlib.util
    import json
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "examples" / "lab_minima.py"
    spec = importlib.util.spec_from_file_location("lab_minima", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(tmp_path, quick=True, seeds=3, max_pairs=2, workers=1, progress=False)
    for name in ("minima.csv", "barriers.csv", "summary.csv", "minima.png", "depth_accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    table = pd.read_csv(tmp_path / "minima.csv")
    assert len(table) == 6 and set(table["group"]) == {"SGD", "QN-golden"}
    assert np.all((table["test_accuracy"] > 0.8) & (table["test_accuracy"] <= 1.0))
    assert np.all(table["sharpness"] > 0)
    barriers = pd.read_csv(tmp_path / "barriers.csv")
    assert len(barriers) == 4  # 2 of the 3 pairs of each optimizer
    assert np.all(barriers["barrier"] <= barriers["straight_barrier"])
    assert json.loads((tmp_path / "claims.json").read_text())["seeds"] == 3
    med = table.groupby("group")["train_loss"].median()
    assert result["deeper"]["train_loss_median"]["SGD"] == pytest.approx(med["SGD"])
