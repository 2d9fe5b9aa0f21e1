"""The one run protocol: every optimizer, baselines included, is run the same way; callbacks
stop runs; requirements are declared; runs are thread-safe and reproducible bit for bit."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

import toposcape as ts
from toposcape.optim import Requirements, Runner, RunState

PROBLEM = "mbb_beam_96x32_0.5"
#: Options for the presets whose step size has no default.
STEP = {
    "gd": {"lr": 0.05},
    "hd": {"lr": 0.05},
    "momentum": {"lr": 0.01},
    "gd_energy": {"lr": 0.05},
    "momentum_energy": {"lr": 0.05},
    "euler_richardson": {"lr": 0.05},
}


def _objective_for(opt):
    if opt.requires.least_squares:  # Levenberg-Marquardt: a network in least-squares form
        return ts.lab.networks.get("two_depths")
    return ts.PixelObjective(PROBLEM, volume_constraint=not opt.requires.explicit_volume)


def _build(name):
    base = name[: -len("_lm")] if name.endswith("_lm") else name
    return ts.optim.get(name, **STEP.get(base, {}))


@pytest.mark.parametrize("name", ts.optim.names())
def test_every_preset_runs_through_one_signature(name):
    opt = _build(name)
    assert isinstance(opt, Runner)
    obj = _objective_for(opt)
    seen: list[RunState] = []
    traj = opt.run(
        obj,
        theta0=None,
        max_evals=8,
        max_steps=None,
        record_params=True,
        progress=False,
        callback=seen.append,
    )
    assert isinstance(traj, ts.optim.Trajectory)
    assert 1 <= traj.n_evals <= 8
    assert traj.thetas.shape == (traj.n_steps + 1, obj.size)
    # one callback per accepted iterate, theta0 included, in order
    assert [s.step for s in seen] == list(range(traj.n_steps + 1))
    assert [s.loss for s in seen] == list(traj.losses)
    assert seen[-1].n_evals == traj.evals[-1]
    assert traj.threads and traj.threads["core"] >= 1


@pytest.mark.parametrize("name", ["lbfgs", "gd", "gd_ls", "hd", "adam", "oc", "mma"])
def test_callback_stops_the_run(name):
    opt = _build(name)
    obj = _objective_for(opt)

    def stop_after_three(state: RunState) -> bool:
        assert not state.theta.flags.writeable
        return state.step >= 3

    traj = opt.run(obj, max_evals=100, callback=stop_after_three)
    assert traj.reason == "callback"
    assert traj.n_steps == 3
    full = opt.run(obj, max_evals=100, max_steps=3)
    np.testing.assert_array_equal(traj.losses, full.losses)


def test_callback_errors_propagate():
    class Cancelled(Exception):
        pass

    def cancel(state):
        if state.step == 2:
            raise Cancelled

    for name in ("lbfgs", "oc", "mma"):
        opt = _build(name)
        with pytest.raises(Cancelled):
            opt.run(_objective_for(opt), max_evals=50, callback=cancel)


@pytest.mark.parametrize("name", ["oc", "mma"])
def test_requirements_are_declared_and_checked(name):
    opt = _build(name)
    assert opt.requires == Requirements(explicit_volume=True)
    with pytest.raises(ts.InvalidInputError, match="volume_constraint=False"):
        opt.run(ts.PixelObjective(PROBLEM), max_evals=3)  # logits, not densities

    class Plain:  # any objective without the volume API
        size = 4
        x0 = np.zeros(4)

        def value_and_grad(self, theta):
            return float(theta @ theta), 2 * theta

    with pytest.raises(ts.InvalidInputError, match="enforces the volume constraint"):
        opt.run(Plain(), max_evals=3)


def test_memory_requirement():
    assert ts.optim.get("lbfgs").requires.curvature_memory
    assert not ts.optim.get("gd", lr=0.1).requires.curvature_memory
    with pytest.raises(ts.InvalidInputError, match="record_memory"):
        ts.optim.get("gd", lr=0.1).run(ts.PixelObjective(PROBLEM), max_evals=3, record_memory=True)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"callback": 3}, TypeError),
        ({"progress": "yes"}, TypeError),
        ({"record_params": 1}, TypeError),
        ({"max_evals": 3.0}, TypeError),
        ({"max_evals": 0}, ts.InvalidInputError),
        ({"theta0": np.zeros(5)}, ts.InvalidInputError),
        ({"theta0": np.zeros(3072, dtype=complex)}, TypeError),
    ],
)
def test_run_arguments_are_validated_alike(kwargs, error):
    for name in ("lbfgs", "oc"):
        opt = _build(name)
        with pytest.raises(error):
            opt.run(_objective_for(opt), **kwargs)


def test_objective_without_value_and_grad():
    with pytest.raises(TypeError, match="value_and_grad"):
        ts.optim.get("lbfgs").run("mbb_beam_96x32_0.5", max_evals=3)


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------
def _in_threads(jobs):
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(i, job):
        try:
            results[i] = job()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [results[i] for i in range(len(jobs))]


@pytest.mark.parametrize("name", ["lbfgs", "adam", "oc"])
def test_one_optimizer_runs_in_several_threads(name):
    opt = _build(name)
    starts = [None, *[np.random.default_rng(s).uniform(0.2, 0.8, 3072) for s in (1, 2, 3)]]
    if not opt.requires.explicit_volume:
        starts = [None, *[np.random.default_rng(s).normal(size=3072) for s in (1, 2, 3)]]

    def job(theta0):
        return lambda: opt.run(_objective_for(opt), theta0=theta0, max_evals=25)

    serial = [job(t)() for t in starts]
    concurrent = _in_threads([job(t) for t in starts])
    for a, b in zip(serial, concurrent, strict=True):
        np.testing.assert_array_equal(a.eval_losses, b.eval_losses)
        np.testing.assert_array_equal(a.theta, b.theta)


def test_threads_sharing_one_objective():
    obj = ts.PixelObjective(PROBLEM)
    rng = np.random.default_rng(0)
    points = [rng.normal(size=obj.size) for _ in range(6)]
    serial = [obj.value_and_grad(p) for p in points] + [obj.hvp(p, p) for p in points]
    jobs = [lambda p=p: obj.value_and_grad(p) for p in points]
    jobs += [lambda p=p: obj.hvp(p, p) for p in points]
    for _ in range(3):
        concurrent = _in_threads(jobs)
        for a, b in zip(serial[:6], concurrent[:6], strict=True):
            assert a[0] == b[0] and np.array_equal(a[1], b[1])
        for a, b in zip(serial[6:], concurrent[6:], strict=True):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Determinism: a run is a function of its settings (and thread counts)
# ---------------------------------------------------------------------------------------------
_CNN_RUN = """
import sys, numpy as np, toposcape as ts
problem = ts.problems.mbb_beam(width=32, height=16, density=0.5)
def run():
    # Objectives built under the pinned counts: PARDISO keeps the count of its analysis.
    with ts.threads(2):
        obj = ts.CNNObjective(problem, penal=3.0, seed=1, latent_size=8,
                              conv_filters=(16, 8, 4, 2, 1))
        return ts.optim.get("lbfgs").run(obj, max_evals=25, progress=False)
if sys.argv[1] == "long":
    import torch
    torch.set_num_threads(1)
    ts._core.set_num_threads(1)
    for seed in (2, 3):
        obj = ts.CNNObjective(problem, penal=1.0, seed=seed, latent_size=8,
                              conv_filters=(16, 8, 4, 2, 1), dtype="float64")
        ts.optim.get("gd_ls").run(obj, max_evals=15, progress=False)
        ts.optim.get("oc").run(ts.PixelObjective(problem, volume_constraint=False), max_evals=5)
traj = run()
np.save(sys.argv[2], np.concatenate([traj.eval_losses, traj.theta]))
assert traj.threads["solver"] == 2 and traj.threads["torch"] == 2, traj.threads
"""


def test_cnn_run_same_in_a_fresh_process_and_after_other_runs(tmp_path):
    outputs = []
    for mode in ("fresh", "long"):
        path = tmp_path / f"{mode}.npy"
        subprocess.run(
            [sys.executable, "-c", _CNN_RUN, mode, str(path)], check=True, capture_output=True
        )
        outputs.append(np.load(path))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_solver_threads_are_part_of_the_recorded_settings():
    import torch

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # also MKL's global count, which PARDISO reads when built
        obj = ts.PixelObjective(PROBLEM)
    finally:
        torch.set_num_threads(previous)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=3)
    if obj.physics.solver_name == "pardiso":
        assert traj.threads["solver"] == 1


def test_thread_counts_are_recorded_and_restored():
    before = ts.thread_settings()
    with ts.threads(1) as pinned:
        assert pinned["core"] == 1
        traj = ts.optim.get("lbfgs").run(ts.PixelObjective(PROBLEM), max_evals=3)
    assert traj.threads["core"] == 1
    assert ts.thread_settings() == before


def test_default_evaluation_budget_yields_to_a_step_budget():
    """run(obj, max_steps=N) takes N steps (the default max_evals of 300 applies only when
    no step budget is given)."""
    obj = ts.lab.networks.get("symmetric_squares")
    gd = ts.optim.get("gd", lr=1e-3)
    assert gd.run(obj, max_steps=500).n_steps == 500
    assert gd.run(obj).n_evals == 300
    assert gd.run(obj, max_steps=500, max_evals=100).n_evals == 100
    with pytest.raises(TypeError):
        gd.run(obj, max_evals="lots")
