"""The lab's MLP objective (toposcape.lab.mlp) and lab specs through the experiment engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

import toposcape as ts
from toposcape.errors import InvalidInputError, UnknownNameError
from toposcape.experiments.lab_spec import LabSpec, LabTask, run_lab_task
from toposcape.lab.mlp import MinibatchMLPObjective, MLPObjective


def _point(obj, scale=0.5, seed=7):
    return obj.x0 + scale * np.random.default_rng(seed).standard_normal(obj.size)


def _fd_grad(obj, theta, eps=1e-6):
    out = np.empty(obj.size)
    for i in range(obj.size):
        e = np.zeros(obj.size)
        e[i] = eps
        out[i] = (obj.value_and_grad(theta + e)[0] - obj.value_and_grad(theta - e)[0]) / (2 * eps)
    return out


# ------------------------------------------------------------------------ derivatives
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_gradient_and_hvp_match_finite_differences(activation):
    obj = MLPObjective("iris", hidden=3, activation=activation, weight_decay=0.05, seed=2)
    theta = _point(obj)
    loss, grad = obj.value_and_grad(theta)
    assert obj.size == 4 * 3 + 3 + 3 * 3 + 3 == grad.size
    assert grad.dtype == np.float64
    fd = _fd_grad(obj, theta)
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-8 * max(1.0, np.abs(fd).max()))
    assert np.abs(grad).max() > 1e-3  # not a trivial point
    v = np.random.default_rng(3).standard_normal(obj.size)
    hv = obj.hvp(theta, v)
    eps = 1e-6
    fd_hv = (obj.value_and_grad(theta + eps * v)[1] - obj.value_and_grad(theta - eps * v)[1]) / (
        2 * eps
    )
    np.testing.assert_allclose(hv, fd_hv, rtol=0, atol=1e-7 * np.abs(fd_hv).max())
    # The Hessian is symmetric: u.Hv == v.Hu.
    u = np.random.default_rng(4).standard_normal(obj.size)
    assert u @ hv == pytest.approx(v @ obj.hvp(theta, u), rel=1e-12)


def test_loss_is_the_cross_entropy_of_softmax():
    obj = MLPObjective("wine", hidden=2, seed=0)
    theta = _point(obj, 0.3)
    W1, b1, W2, b2 = obj.unpack(theta)
    logits = np.tanh(obj.X_train @ W1 + b1) @ W2 + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(obj.n_train), obj.y_train]))
    assert obj.value_and_grad(theta)[0] == pytest.approx(expected, rel=1e-12)
    assert obj.train_loss(theta) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(obj.pack(W1, b1, W2, b2), theta)
    # Weight decay adds lambda/2 |W|^2 to the objective, not to train_loss.
    dec = MLPObjective("wine", hidden=2, seed=0, weight_decay=0.1)
    extra = 0.05 * (np.sum(W1**2) + np.sum(W2**2))
    assert dec.value_and_grad(theta)[0] == pytest.approx(expected + extra, rel=1e-12)
    assert dec.train_loss(theta) == pytest.approx(expected, rel=1e-12)


def test_split_standardization_and_init():
    obj = MLPObjective("digits", hidden=5, test_fraction=0.2, split_seed=3, seed=1)
    assert obj.n_train + obj.n_test == 1797 and obj.n_test == 360
    assert (obj.n_features, obj.n_classes) == (64, 10)
    # stratified: class shares equal within one sample
    train_counts = np.bincount(obj.y_train, minlength=10)
    test_counts = np.bincount(obj.y_test, minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * (train_counts + test_counts)) <= 1)
    # standardized with training statistics (constant pixels only centred)
    np.testing.assert_allclose(obj.X_train.mean(0), 0, atol=1e-12)
    std = obj.X_train.std(0)
    assert np.all(np.isclose(std, 1) | np.isclose(std, 0))
    # Glorot-uniform weights, zero biases, a pure function of the seed
    W1, b1, W2, b2 = obj.unpack(obj.x0)
    assert np.abs(W1).max() <= np.sqrt(6 / (64 + 5)) and np.abs(W1).max() > 0.5 * np.sqrt(6 / 69)
    assert not b1.any() and not b2.any()
    np.testing.assert_array_equal(obj.x0, MLPObjective("digits", hidden=5, seed=1).x0)
    assert not np.array_equal(obj.x0, MLPObjective("digits", hidden=5, seed=2).x0)
    other = MLPObjective("digits", hidden=5, test_fraction=0.2, split_seed=4)
    assert not np.array_equal(other.y_test, obj.y_test)


def test_accuracy_after_training():
    obj = MLPObjective("iris", hidden=4, seed=0)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=200)
    assert obj.train_loss(traj.theta) < 0.1 < obj.train_loss(obj.x0)
    assert obj.accuracy(traj.theta, "train") > 0.95
    assert obj.accuracy(traj.theta) >= 0.85
    assert obj.test_loss(traj.theta) > 0
    pred = obj.predict(traj.theta, "train")
    assert pred.shape == (obj.n_train,) and set(np.unique(pred)) <= {0, 1, 2}


# ------------------------------------------------------------------------ bad input
def test_bad_input_raises_clear_errors():
    with pytest.raises(UnknownNameError, match="digits, iris, wine, breast_cancer"):
        MLPObjective("mnist")
    with pytest.raises(InvalidInputError, match="hidden"):
        MLPObjective("iris", hidden=0)
    for fraction in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(InvalidInputError, match="test_fraction"):
            MLPObjective("iris", test_fraction=fraction)
    with pytest.raises(InvalidInputError, match="at least one per class"):
        MLPObjective("iris", test_fraction=0.01)
    with pytest.raises(InvalidInputError, match="batch_size must be at most .* 112"):
        MLPObjective("iris", batch_size=113)
    with pytest.raises(InvalidInputError, match="batch_size"):
        MLPObjective("iris", batch_size=0)
    with pytest.raises(InvalidInputError, match="activation"):
        MLPObjective("iris", activation="gelu")
    with pytest.raises(InvalidInputError, match="weight_decay"):
        MLPObjective("iris", weight_decay=-1.0)
    obj = MLPObjective("iris", hidden=2)
    with pytest.raises(InvalidInputError, match=f"length {obj.size}"):
        obj.value_and_grad(np.zeros(obj.size + 1))
    bad = obj.x0.copy()
    bad[3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN|finite"):
        obj.value_and_grad(bad)
    with pytest.raises(InvalidInputError):
        obj.hvp(obj.x0, np.ones(3))
    with pytest.raises(InvalidInputError, match="split"):
        obj.accuracy(obj.x0, split="validation")


# ------------------------------------------------------------------------ minibatches
def test_full_batch_objective_is_deterministic():
    obj = MLPObjective("iris")
    assert not hasattr(obj, "select_batch")
    assert type(obj) is MLPObjective and obj.full_batch() is obj
    batched = MLPObjective("iris", batch_size=16)
    assert isinstance(batched, MinibatchMLPObjective) and isinstance(batched, MLPObjective)
    assert hasattr(batched, "select_batch")
    full = batched.full_batch()
    assert not hasattr(full, "select_batch")
    np.testing.assert_array_equal(full.x0, batched.x0)


def test_minibatches_are_seeded_and_cover_each_epoch_once():
    a = MLPObjective("iris", batch_size=16, seed=5)
    b = MLPObjective("iris", batch_size=16, seed=5)
    c = MLPObjective("iris", batch_size=16, seed=6)
    assert a.batches_per_epoch == 7  # 112 training samples
    # same k -> same batch, in any order of requests and in fresh objects
    for k in (20, 0, 7, 13, 3):
        np.testing.assert_array_equal(a.batch_indices(k), b.batch_indices(k))
    np.testing.assert_array_equal(
        a.batch_indices(9), MLPObjective("iris", batch_size=16, seed=5).batch_indices(9)
    )
    assert not np.array_equal(a.batch_indices(0), c.batch_indices(0))
    for epoch in range(3):
        seen = np.concatenate([a.batch_indices(epoch * 7 + i) for i in range(7)])
        np.testing.assert_array_equal(np.sort(seen), np.arange(112))
    assert not np.array_equal(a.batch_indices(0), a.batch_indices(7))  # epochs reshuffle
    # 100 samples in batches of 32: 32, 32, 32, 4
    w = MLPObjective("wine", batch_size=32, test_fraction=0.4)
    sizes = [w.batch_indices(k).size for k in range(w.batches_per_epoch)]
    assert sum(sizes) == w.n_train and sizes[:-1] == [32] * (len(sizes) - 1)
    # the selected batch is what value_and_grad sees
    a.select_batch(11)
    idx = a.batch_indices(11)
    ref = MLPObjective("iris", seed=5)
    theta = _point(ref, 0.2)
    W1, b1, W2, b2 = ref.unpack(theta)
    logits = np.tanh(ref.X_train[idx] @ W1 + b1) @ W2 + b2
    logits -= logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -np.mean(logp[np.arange(idx.size), ref.y_train[idx]])
    assert a.value_and_grad(theta)[0] == pytest.approx(expected, rel=1e-12)


def test_sgd_runs_are_reproducible_and_depend_on_the_seed():
    def run(seed):
        obj = MLPObjective("iris", hidden=3, batch_size=10, seed=seed)
        traj = ts.optim.get("gd", lr=0.3).run(obj, max_steps=60)
        return traj, obj

    t1, o1 = run(0)
    t2, _ = run(0)
    t3, _ = run(1)
    np.testing.assert_array_equal(t1.losses, t2.losses)
    np.testing.assert_array_equal(t1.theta, t2.theta)
    assert not np.array_equal(t1.losses, t3.losses)
    assert t1.n_steps == 60
    # the optimizer asked for batches 0..60 in turn
    assert o1.batch_index == 60
    # minibatch losses fluctuate, the full training loss went down
    assert o1.train_loss(t1.theta) < o1.train_loss(o1.x0) - 0.2


# ------------------------------------------------------------------------ symmetries
def _scramble(obj, theta, seed=0, flip=True):
    rng = np.random.default_rng(seed)
    W1, b1, W2, b2 = obj.unpack(theta)
    perm = rng.permutation(obj.hidden)
    signs = np.where(rng.random(obj.hidden) < 0.5, -1.0, 1.0) if flip else np.ones(obj.hidden)
    return obj.pack(W1[:, perm] * signs, b1[perm] * signs, W2[perm] * signs[:, None], b2)


@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_canonical_and_align_preserve_the_loss_and_undo_symmetries(activation):
    obj = MLPObjective("wine", hidden=6, activation=activation, seed=1)
    theta = _point(obj, 0.8, seed=11)
    flip = activation == "tanh"
    scrambled = _scramble(obj, theta, seed=3, flip=flip)
    assert not np.array_equal(scrambled, theta)
    loss = obj.value_and_grad(theta)[0]
    for other in (scrambled, obj.canonical(theta), obj.align(theta, obj.x0)):
        assert obj.value_and_grad(other)[0] == pytest.approx(loss, rel=1e-13, abs=0)
        assert obj.test_loss(other) == pytest.approx(obj.test_loss(theta), rel=1e-13)
    # the canonical form is the same for every member of the class, exactly
    np.testing.assert_array_equal(obj.canonical(scrambled), obj.canonical(theta))
    np.testing.assert_array_equal(obj.canonical(obj.canonical(theta)), obj.canonical(theta))
    # align recovers the original exactly
    np.testing.assert_array_equal(obj.align(scrambled, theta), theta)
    # a noisy copy is matched to its own units
    noisy = scrambled + 1e-3 * np.random.default_rng(5).standard_normal(obj.size)
    np.testing.assert_allclose(obj.align(noisy, theta), theta, atol=1e-2)
    if flip:
        W2 = obj.unpack(obj.canonical(theta))[2]
        sums = W2.sum(axis=1)
        assert np.all(sums >= 0) and np.all(np.diff(sums) <= 0)


def test_sign_flips_are_not_a_symmetry_without_an_odd_activation():
    obj = MLPObjective("iris", hidden=4, activation="softplus", seed=0)
    theta = _point(obj, 0.5)
    flipped = _scramble(obj, theta, seed=1, flip=True)
    assert obj.value_and_grad(flipped)[0] != pytest.approx(obj.value_and_grad(theta)[0])
    assert not obj.sign_symmetric and MLPObjective("iris").sign_symmetric


# ------------------------------------------------------------------------ engine
SPEC = """
name = "lab-tiny"
seeds = [3]

[lab]
dataset = "iris"
hidden = 3

[[optimizers]]
preset = "gd"
lr = 0.3
batch_size = 16
max_steps = 40

[[optimizers]]
preset = "lbfgs"
memory = 5
max_evals = 60
"""


def test_lab_spec_parses_and_labels():
    spec = ts.experiments.load_spec(SPEC)
    assert isinstance(spec, LabSpec)
    tasks = spec.tasks()
    assert [t.optimizer.label() for t in tasks] == [
        "gd(lr=0.3, max_steps=40, batch_size=16)",
        "lbfgs(memory=5, max_evals=60)",
    ]
    assert [t.batch_size for t in tasks] == [16, None]
    assert tasks[0].settings()["objective"] == {
        "activation": "tanh",
        "batch_size": 16,
        "dataset": "iris",
        "hidden": 3,
        "kind": "mlp",
        "split_seed": 0,
        "test_fraction": 0.25,
        "weight_decay": 0,
    }
    assert len({t.key for t in tasks}) == 2
    assert (tasks[0].problem, tasks[0].model.label()) == ("iris", "mlp(activation=tanh, hidden=3)")
    # a different library version or option changes the key; the label does not
    relabeled = ts.experiments.load_spec(
        SPEC.replace('preset = "lbfgs"', 'preset = "lbfgs"\nlabel = "QN"')
    )
    assert relabeled.tasks()[1].key == tasks[1].key
    assert relabeled.tasks()[1].optimizer.label() == "QN"
    full = ts.experiments.load_spec(SPEC.replace("batch_size = 16", 'batch_size = "full"'))
    assert full.tasks()[0].batch_size is None
    assert full.tasks()[0].optimizer.label() == "gd(lr=0.3, max_steps=40)"
    other = ts.experiments.load_spec(SPEC.replace("hidden = 3", "hidden = 4"))
    assert other.tasks()[1].key != tasks[1].key


@pytest.mark.parametrize(
    "edit, message",
    [
        (("[lab]", 'problems = ["A"]\n[lab]'), r"\[lab\] table; remove \['problems'\]"),
        (('dataset = "iris"', 'dataset = "mnist"'), r"\[lab\].*unknown data set 'mnist'"),
        (("hidden = 3", "hidden = [3, 4]"), r"\[lab\]: hidden must be a single value"),
        (("hidden = 3", "depth = 3"), r"\[lab\]: unknown key\(s\) \['depth'\]"),
        (("hidden = 3", "hidden = 0"), r"\[lab\].*hidden"),
        (("hidden = 3", "seed = 1"), r"the seed comes from 'seeds'"),
        (("batch_size = 16", "batch_size = 500"), r"batch_size must be at most"),
        (("batch_size = 16", 'batch_size = "half"'), r"optimizers\[0\] \(gd\): batch_size must"),
        (("max_steps = 40", ""), r"optimizers\[0\] \(gd\(lr=0.3, batch_size=16\)\): give a budget"),
        (("lr = 0.3", ""), r"optimizers\[0\] \(gd\): needs lr"),
        (('preset = "lbfgs"', 'preset = "lbgfs"'), r"optimizers\[1\].*lbfgs"),
        (("seeds = [3]", "seeds = [3, 3]"), r"repeated seeds"),
        (("[lab]", '[lab]\nobjective = "cnn"'), r"\[lab\]: objective must be one of 'mlp'"),
        (('preset = "lbfgs"\nmemory = 5', 'preset = "lm"'), r"optimizers\[1\] \(lm.*least-sq"),
        (('preset = "lbfgs"\nmemory = 5', 'preset = "oc"'), r"optimizers\[1\] \(oc.*density"),
    ],
)
def test_lab_spec_errors_name_the_entry(edit, message):
    text = SPEC.replace(*edit)
    assert text != SPEC
    with pytest.raises(InvalidInputError, match=message):
        ts.experiments.load_spec(text)


def test_engine_run_equals_direct_run_bitwise(tmp_path):
    from toposcape.cli import main

    path = tmp_path / "lab.toml"
    path.write_text(SPEC)
    out = tmp_path / "out"
    argv = ["study", "run", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    study = ts.experiments.open(out)
    table = study.runs()
    assert list(table["status"]) == ["done", "done"]
    spec = study.spec
    for task, (_, row) in zip(spec.tasks(), table.iterrows(), strict=True):
        assert row["key"] == task.key
        ds = study.result(task.key)
        # directly: the objective and the optimizer by hand
        obj = MLPObjective("iris", hidden=3, batch_size=task.batch_size, seed=3)
        options = dict(task.optimizer.options)
        traj = ts.optim.get(task.optimizer.preset, **options).run(
            obj, max_evals=task.max_evals, max_steps=task.max_steps
        )
        np.testing.assert_array_equal(ds["loss"].values, traj.losses)
        np.testing.assert_array_equal(ds["final_theta"].values, traj.theta)
        np.testing.assert_array_equal(ds["best_theta"].values, traj.best_theta)
        full = obj.full_batch()
        assert float(ds["train_loss"]) == full.train_loss(traj.theta)
        assert float(ds["test_accuracy"]) == full.accuracy(traj.theta)
        assert float(ds["train_accuracy"]) == full.accuracy(traj.theta, "train")
        assert float(ds["test_loss"]) == full.test_loss(traj.theta)
        assert row["final_loss"] == full.value_and_grad(traj.theta)[0]
        # and the task's own function, in this process
        direct, summary = run_lab_task(task.settings())
        np.testing.assert_array_equal(direct["final_theta"].values, traj.theta)
        assert summary["final_loss"] == row["final_loss"]
        assert summary["best_loss"] == row["best_loss"]
    # a full-batch run's store losses are the trajectory's own
    qn = study.result(table["key"].iloc[1])
    assert table["best_loss"].iloc[1] == float(qn["loss"].min())
    assert table["final_loss"].iloc[1] == float(qn["loss"].values[-1])
    # resumable: a second run computes nothing
    assert main(argv) == 0
    assert ts.experiments.open(out).counts()["done"] == 2
    settings = json.loads(
        ts.experiments.Store(out, readonly=True).run(table["key"].iloc[0])["settings"]
    )
    assert settings["analysis"] == "lab" and settings["objective"]["batch_size"] == 16
    # the report speaks of the lab's loss, not of compliance and penalties
    assert main(["study", "report", str(out)]) == 0
    text = (out / "report" / "report.md").read_text()
    assert "Loss = full-batch training objective" in text
    assert "compliance" not in text and "penal" not in text


def test_lab_task_is_a_store_entry():
    task = ts.experiments.load_spec(SPEC).tasks()[0]
    assert isinstance(task, LabTask)
    assert task.penal == 0.0 and task.seed == 3
    assert task.build_objective().batch_size == 16
    assert task.build_objective(batch_size=None).batch_size is None
