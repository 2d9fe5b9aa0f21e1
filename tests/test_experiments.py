"""The experiment engine: specs and keys, the store, resume after SIGKILL, failing runs, dying
workers, the Dask backend against the local pool."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import xarray as xr

import toposcape as ts
from toposcape.experiments import RunSpec, Store, load_spec

SMALL = "mbb_beam_96x32_0.5"

BASE = """
name = "{name}"
problems = {problems}
penal = [3.0]
seeds = [0, 1]
max_evals = {evals}

[[models]]
kind = "pixel"

[[optimizers]]
preset = "lbfgs"
memory = [1, 10]

[[optimizers]]
preset = "gd"
lr = 0.05
"""

CNN = """
[[models]]
kind = "cnn"
latent_size = 8
conv_filters = [16, 8, 4, 2, 1]
"""


def _spec_text(name="t", problems=(SMALL,), evals=12, cnn=False):
    text = BASE.format(name=name, problems=list(problems), evals=evals).replace("'", '"')
    return text + (CNN if cnn else "")


def _write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _losses(out):
    """Every done run's per-evaluation losses, by key."""
    study = ts.experiments.open(out)
    table = study.runs().drop_duplicates("key")
    assert set(table["status"]) == {"done"}
    return {k: study.result(k)["eval_loss"].values for k in table["key"]}


# ---------------------------------------------------------------------------------------------
# Specs and keys
# ---------------------------------------------------------------------------------------------
def test_contract_example_expands():
    spec = load_spec(
        textwrap.dedent(
            """
            name = "demo"
            problems = ["mbb_beam_96x32_0.5", "A"]
            penal = [1.0, 3.0]
            seeds = [0, 1, 2]
            max_evals = 50

            [[models]]
            kind = "pixel"

            [[models]]
            kind = "cnn"
            upsampling = "transpose"

            [[optimizers]]
            preset = "lbfgs"
            memory = [1, 10]

            [[optimizers]]
            preset = "gd"
            lr = [1e-3, 1e-2]
            """
        )
    )
    assert spec.problems == ("mbb_beam_96x32_0.5", "michell_centered_both_32x64_0.12")
    assert len(spec.expand()) == 2 * 2 * 2 * 4 * 3
    # the pixel model ignores the seed: its 16 runs are computed once each
    assert len(spec.unique_runs()) == 2 * 2 * 4 * (1 + 3)
    labels = {run.optimizer.label() for run in spec.unique_runs()}
    assert labels == {"lbfgs(memory=1)", "lbfgs(memory=10)", "gd(lr=0.001)", "gd(lr=0.01)"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (('"mbb_beam_96x32_0.5"', '"mbb_beam_96x32_0.6"'), r"problems\[0\].*did you mean"),
        (('preset = "gd"', 'preset = "gdd"'), r"optimizers\[1\].*unknown optimizer 'gdd'"),
        (("lr = 0.05", "lrr = 0.05"), r"optimizers\[1\] \(gd\).*no option 'lrr'"),
        (("lr = 0.05", "lr = -1.0"), r"optimizers\[1\] \(gd\).*lr must be"),
        (("memory = [1, 10]", 'memory = [1, "x"]'), r"optimizers\[0\] \(lbfgs\).*memory"),
        (("max_evals = 12", "max_evals = 0"), "max_evals must be"),
        (("max_evals = 12", ""), "give a budget"),
        (('kind = "pixel"', 'kind = "mlp"'), r"models\[0\].*kind must be"),
        (("penal = [3.0]", "penal = [0.5]"), r"penal\[0\].*penal must be"),
        (("seeds = [0, 1]", "seeds = [0, 0]"), "repeated seeds"),
        (("[[models]]", "[[model]]"), "unknown key"),
        (('preset = "gd"\nlr = 0.05', 'preset = "oc"'), "pixel model's densities only"),
        (("seeds = [0, 1]", "seeds = [0, 1"), "not valid TOML"),
    ],
)
def test_invalid_specs_are_rejected_naming_the_entry(change, match):
    text = _spec_text(cnn=change[1] == 'preset = "oc"').replace(*change)
    with pytest.raises(ts.InvalidInputError, match=match):
        load_spec(text)


def test_keys_follow_the_settings():
    spec = load_spec(_spec_text(cnn=True))
    runs = spec.unique_runs()
    assert len({r.key for r in runs}) == len(runs)
    again = load_spec(_spec_text(cnn=True)).unique_runs()
    assert [r.key for r in runs] == [r.key for r in again]
    run = runs[0]
    assert RunSpec.from_settings(run.settings()).key == run.key
    # a default written out is the same run; any real change is a new one
    explicit = load_spec(_spec_text().replace("memory = [1, 10]", "memory = [1, 10]\nc1 = 1e-3"))
    assert {r.key for r in explicit.unique_runs()} == {
        r.key for r in load_spec(_spec_text()).unique_runs()
    }
    for change in (
        ("max_evals = 12", "max_evals = 13"),
        ("penal = [3.0]", "penal = [3.5]"),
        ("lr = 0.05", "lr = 0.051"),
        ("max_evals = 12", "max_evals = 12\nthreads = 2"),
        ("max_evals = 12", 'max_evals = 12\nsolver = "superlu"'),
    ):
        changed = load_spec(_spec_text().replace(*change)).unique_runs()
        assert {r.key for r in changed} != {r.key for r in load_spec(_spec_text()).unique_runs()}


def test_two_specs_share_their_common_runs(tmp_path):
    out = tmp_path / "study"
    first = ts.experiments.run(_spec_text("first"), out, workers=1, progress=False)
    assert first.computed == 3 and first.ok
    # the second spec adds a seed-free change (one more optimizer); the shared runs are reused
    text = _spec_text("second").replace("lr = 0.05", "lr = [0.05, 0.1]")
    second = ts.experiments.run(text, out, workers=1, progress=False)
    assert second.computed == 1 and second.skipped == 3


# ---------------------------------------------------------------------------------------------
# Running, the store, resuming
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference_study(tmp_path_factory):
    """An uninterrupted study with the pixel model and a tiny CNN (10 distinct runs)."""
    out = tmp_path_factory.mktemp("reference") / "study"
    report = ts.experiments.run(_spec_text(cnn=True), out, workers=2, progress=False)
    assert report.ok and report.computed == 9
    return out


def test_study_tables_and_cube(reference_study):
    study = ts.experiments.open(reference_study)
    table = study.runs()
    needed = {
        "key",
        "status",
        "problem",
        "penal",
        "model",
        "optimizer",
        "seed",
        "best_loss",
        "final_loss",
        "n_evals",
        "n_steps",
        "wall_time",
    }
    assert needed <= set(table.columns)
    assert len(table) == 12  # 2 models x 3 optimizer settings x 2 seeds
    pixel = table[table["model"] == "pixel"]
    # one pixel run reported under both seeds
    assert pixel.groupby("optimizer")["key"].nunique().eq(1).all()
    assert (table["n_evals"] <= 12).all()
    cube = study.dataset()
    assert cube["loss"].dims == ("problem", "model", "penal", "optimizer", "seed", "step")
    row = table.iloc[-1]
    traj = study.trajectory(row["key"])
    np.testing.assert_array_equal(
        cube["loss"]
        .sel(model=row["model"], optimizer=row["optimizer"], seed=row["seed"])
        .squeeze()
        .values[: traj.losses.size],
        traj.losses,
    )
    assert traj.best_loss == row["best_loss"]
    result = study.result(row["key"])
    assert result["best_design"].shape == (32, 96)
    assert result.attrs["thread_core"] == 1 and result.attrs["version"] == ts.__version__


def test_result_equals_a_direct_run(reference_study):
    study = ts.experiments.open(reference_study)
    row = study.runs().query("model == 'pixel' and optimizer == 'lbfgs(memory=10)'").iloc[0]
    with ts.threads(1):
        direct = ts.optim.get("lbfgs", memory=10).run(ts.PixelObjective(SMALL), max_evals=12)
    np.testing.assert_array_equal(study.trajectory(row["key"]).eval_losses, direct.eval_losses)


_COORDINATOR = """
import sys, toposcape as ts
ts.experiments.run(sys.argv[1], sys.argv[2], workers=2, progress=False)
"""


def test_resume_after_sigkill_at_random_moments(tmp_path, reference_study):
    spec = _write(tmp_path, _spec_text(cnn=True))
    out = tmp_path / "killed"
    rng = random.Random(0)
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _COORDINATOR, str(spec), str(out)], start_new_session=True
        )
        time.sleep(rng.uniform(2.0, 6.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers
        proc.wait()
    # a half-written or lost result file is found and redone
    if (out / "runs").exists():
        files = sorted((out / "runs").glob("*.nc"))
        if files:
            files[0].write_bytes(b"garbage")
    report = ts.experiments.run(spec, out, workers=2, progress=False)
    assert report.ok
    with Store(out) as store:
        counts = store.counts()
    assert counts == {"pending": 0, "running": 0, "done": 9, "failed": 0}
    assert _losses(out).keys() == _losses(reference_study).keys()
    for key, losses in _losses(reference_study).items():
        np.testing.assert_array_equal(_losses(out)[key], losses)
    assert not list((out / "runs").glob(".*tmp"))


def test_one_coordinator_at_a_time(tmp_path):
    from toposcape.errors import StudyInUseError

    out = tmp_path / "study"
    first = Store(out)
    try:
        with pytest.raises(StudyInUseError, match=f"process {os.getpid()} on "):
            Store(out)
        # readers are not coordinators: status and reports open while a study runs
        with Store(out, readonly=True) as reader:
            assert reader.counts() == {"pending": 0, "running": 0, "done": 0, "failed": 0}
        # another process is refused too, and the CLI says so without a traceback
        spec = _write(tmp_path, _spec_text(evals=3))
        done = subprocess.run(
            [sys.executable, "-m", "toposcape", "study", "run", str(spec), "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "is being written by process" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        first.close()
    # closing releases the directory; the study then runs there
    report = ts.experiments.run(_spec_text(evals=3), out, workers=1, progress=False)
    assert report.ok and report.computed == 3


_HOLDER = """
import sys, time
from toposcape.experiments import Store
store = Store(sys.argv[1])
print("holding", flush=True)
time.sleep(600)
"""


def test_a_killed_coordinator_releases_the_directory(tmp_path):
    from toposcape.errors import StudyInUseError

    out = tmp_path / "study"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "holding"
        with pytest.raises(StudyInUseError, match=f"process {proc.pid} on "):
            Store(out)
    finally:
        proc.kill()
        proc.wait()
    with Store(out) as store:  # the lock died with its holder
        assert store.recover() == {"in_flight": 0, "unreadable": 0}


def test_failing_run_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    # The memory guard makes the larger problem fail inside its worker.
    monkeypatch.setenv("TOPOSCAPE_MEMORY_LIMIT", "30000000")
    text = _spec_text(problems=(SMALL, "causeway_bridge_middle_128x128_0.1"), evals=3)
    out = tmp_path / "study"
    report = ts.experiments.run(text, out, workers=2, progress=False)
    assert not report.ok and report.failed == 3 and report.computed == 3
    table = ts.experiments.open(out).runs().drop_duplicates("key")
    failed = table[table["status"] == "failed"]
    assert set(failed["problem"]) == {"causeway_bridge_middle_128x128_0.1"}
    assert failed["error"].str.contains("InsufficientMemoryError").all()
    with Store(out) as store:
        tb = store.rows()[-1]["traceback"]
    assert "Traceback" in tb
    # the CLI's exit status says so
    from toposcape.cli import main

    assert main(["study", "run", str(_write(tmp_path, text)), "--out", str(out), "--quiet"]) == 1


def test_a_worker_killed_mid_run_is_retried(tmp_path):
    import psutil

    text = _spec_text(evals=400).replace("seeds = [0, 1]", "seeds = [0]")
    out = tmp_path / "study"
    killed = []

    def kill_a_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            children = psutil.Process().children(recursive=True)
            busy = [c for c in children if c.cpu_percent(interval=0.2) > 20]
            if busy:
                busy[0].kill()
                killed.append(busy[0].pid)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    report = ts.experiments.run(text, out, workers=1, progress=False)
    killer.join()
    assert killed, "no worker was killed"
    assert report.lost >= 1
    assert report.ok  # retried once, then done
    table = ts.experiments.open(out).runs()
    assert table["attempts"].max() == 2


def test_dask_gives_the_same_results_as_the_local_pool(tmp_path, reference_study):
    out = tmp_path / "dask"
    report = ts.experiments.run(
        _spec_text(cnn=True), out, executor="dask", workers=2, progress=False
    )
    assert report.ok and report.computed == 9
    reference = _losses(reference_study)
    for key, losses in _losses(out).items():
        np.testing.assert_array_equal(losses, reference[key])


def test_status_command(reference_study, capsys):
    from toposcape.cli import main

    assert main(["study", "status", str(reference_study)]) == 0
    out = capsys.readouterr().out
    assert "done          9" in out and "pending       0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["study", "run", "spec.toml", "--workers", "0"], "--workers: must be at least 1, got 0"),
        (["study", "status", "dir", "--errors", "-1"], "--errors: must be at least 0, got -1"),
        (["study", "status", "dir", "--workers", "x"], "--workers: expected an integer, got 'x'"),
        (["study", "tune", "spec.toml", "--trials", "0"], "--trials: must be at least 1, got 0"),
        (["study", "tune", "spec.toml", "--seed", "-3"], "--seed: must be at least 0, got -3"),
    ],
)
def test_study_commands_refuse_bad_counts(argv, message, capsys):
    from toposcape.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_result_files_are_netcdf_trajectories(reference_study):
    for path in (reference_study / "runs").glob("*.nc"):
        with xr.open_dataset(path, engine="scipy") as ds:
            assert {"loss", "eval_loss", "best_design", "final_design"} <= set(ds.variables)


def test_recorded_extras(tmp_path):
    text = _spec_text(evals=15).replace(
        "lr = 0.05\n",
        "lr = 0.05\n\n[record]\nparams_every = 4\nmemory_at = [0, 3, 6]\ndesigns_at = [0, 5]\n",
    )
    out = tmp_path / "study"
    assert ts.experiments.run(text, out, workers=1, progress=False).ok
    study = ts.experiments.open(out)
    table = study.runs().drop_duplicates("key")
    lbfgs = table[table["optimizer"] == "lbfgs(memory=10)"].iloc[0]
    ds = study.result(lbfgs["key"])
    n_steps = int(lbfgs["n_steps"])
    np.testing.assert_array_equal(ds["param_step"].values, np.arange(0, n_steps + 1, 4))
    assert ds["theta"].shape == (len(ds["param_step"]), 96 * 32)
    np.testing.assert_array_equal(ds["memory_step"].values, [0, 3, 6])
    # step 0 holds no pair; step 6 at most 6 pairs, each a stored (s, y)
    held = ds["memory"].values
    assert (held[0] < 0).all() and 1 <= (held[2] >= 0).sum() <= 6
    assert ds["pair_s"].shape[1] == 96 * 32
    np.testing.assert_array_equal(ds["design_step"].values, [0, 5])
    # the design at step 0 is the uniform start, and the recorded theta matches the design
    np.testing.assert_allclose(ds["design"].values[0].mean(), 0.5, atol=1e-6)
    # the design at step 5 is that of the run's iterate 5 (same run, same threads)
    with ts.threads(1):
        obj = ts.PixelObjective(SMALL)
        traj = ts.optim.get("lbfgs", memory=10).run(obj, max_evals=15, record_params=True)
        np.testing.assert_array_equal(ds["design"].values[1], obj.design(traj.thetas[5]))
    np.testing.assert_array_equal(ds["theta"].values, traj.thetas[::4])
    gd = table[table["optimizer"] == "gd(lr=0.05)"].iloc[0]
    assert "memory" not in study.result(gd["key"])  # no curvature pairs to keep


_INTERRUPTED = """
import sys
from toposcape.cli import main
sys.exit(main(["study", "run", sys.argv[1], "--out", sys.argv[2], "--workers", "1", "--quiet"]))
"""


def test_ctrl_c_stops_cleanly_and_the_study_resumes(tmp_path):
    spec = _write(tmp_path, _spec_text(evals=60, cnn=True))
    out = tmp_path / "study"
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED, str(spec), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list((out / "runs").glob("*.nc")):
        time.sleep(0.1)  # interrupt once the study is under way
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "rerun the same command to continue" in err
    with Store(out) as store:
        before = store.counts()
    assert before["running"] in (0, 1)  # at most the abandoned run, redone on resume
    report = ts.experiments.run(spec, out, workers=2, progress=False)
    assert report.ok and report.counts["done"] == 9


def test_joining_a_running_scheduler(tmp_path, reference_study):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        spec = _write(tmp_path, _spec_text(cnn=True))
        from toposcape.cli import main

        argv = ["study", "run", str(spec), "--out", str(tmp_path / "s"), "--quiet"]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    reference = _losses(reference_study)
    for key, losses in _losses(tmp_path / "s").items():
        np.testing.assert_array_equal(losses, reference[key])


def test_dask_leaves_the_environment_alone(tmp_path):
    import os

    before = dict(os.environ)
    executor = ts.experiments.make_executor("dask", workers=1)
    try:
        assert dict(os.environ) == before  # the nannies set MKL_NUM_THREADS=1 etc. here
    finally:
        executor.close()


def test_an_index_without_entry_labels_is_read_and_upgraded(tmp_path, reference_study):
    import shutil
    import sqlite3

    out = tmp_path / "old"
    shutil.copytree(reference_study, out)
    db = sqlite3.connect(out / "index.sqlite")
    with db:  # the members table as the first version wrote it
        db.execute("CREATE TABLE m2 AS SELECT study, key, seed, position FROM members")
        db.execute("DROP TABLE members")
        db.execute("ALTER TABLE m2 RENAME TO members")
    db.close()
    before = ts.experiments.open(out).runs()  # read-only: the runs' own labels
    assert set(before["optimizer"]) == {"lbfgs(memory=1)", "lbfgs(memory=10)", "gd(lr=0.05)"}
    report = ts.experiments.run(_spec_text(cnn=True), out, workers=1, progress=False)
    assert report.skipped == 9 and report.computed == 0
    after = ts.experiments.open(out).runs()
    assert list(after["optimizer"]) == list(before["optimizer"])


def test_optimizer_entries_with_their_own_budgets():
    # without a study budget every entry needs its own
    with pytest.raises(ts.InvalidInputError, match="give a budget.*lbfgs"):
        load_spec(_spec_text().replace("max_evals = 12\n", ""))
    text = _spec_text() + '\n[[optimizers]]\npreset = "gd"\nlr = 0.05\nmax_steps = 20\n'
    runs = {r.optimizer.label(): r for r in load_spec(text).unique_runs()}
    assert runs["gd(lr=0.05)"].max_evals == 12 and runs["gd(lr=0.05)"].max_steps is None
    own = runs["gd(lr=0.05, max_steps=20)"]
    assert own.max_evals is None and own.max_steps == 20
    assert own.key != runs["gd(lr=0.05)"].key
