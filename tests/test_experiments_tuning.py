"""Step-size tuning (issue 12 item 4, studies.md section 1): [tune] parsing, TPE over a grid,
reproducible trials, resume after SIGKILL, tuned values fed to a later spec by reference."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optuna")

import toposcape as ts  # noqa: E402
from toposcape.errors import InvalidInputError  # noqa: E402
from toposcape.experiments import (  # noqa: E402
    Executor,
    RunResult,
    execute,
    load_spec,
    tuning,  # noqa: E402
)

# The smallest suite problem (B, 32x64); 10 evaluations of a pixel run take ~0.1 s.
SPEC = """
name = "steps"
problems = ["B"]
penal = [3.0]
seeds = [0, 1]
max_evals = 10

[[models]]
kind = "pixel"

[[optimizers]]
preset = "gd"

[[optimizers]]
preset = "lbfgs"

[tune]
option = "lr"
range = [-1, 1]
scale = "grad"
grid = 0.1
trials = {trials}
seed = {seed}
batch = 2
startup = 2
"""


def _spec(trials=5, seed=0):
    return SPEC.format(trials=trials, seed=seed)


class Serial(Executor):
    """Runs in this process, one at a time (no pool start-up): records what it was given."""

    name = "serial"

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self._queue: list[tuple[str, Mapping[str, Any]]] = []

    def submit(self, key: str, settings: Mapping[str, Any]) -> None:
        self.submitted.append(key)
        self._queue.append((key, settings))

    @property
    def outstanding(self) -> int:
        return len(self._queue)

    def outcomes(self) -> Iterator[RunResult]:
        while self._queue:
            key, settings = self._queue.pop(0)
            yield execute(key, settings)

    def close(self, cancel: bool = False) -> None:
        self._queue.clear()


def _trials(doc):
    (case,) = doc["cases"].values()
    return [(r["number"], r["log10_offset"], r["value"], r["objective"]) for r in case["trials"]]


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def test_tune_table_parsed_into_cases():
    plan = tuning.load_tuning(_spec(trials=7, seed=3))
    assert plan.tune == tuning.TuneSpec("lr", -1.0, 1.0, "grad", 0.1, 7, 3, 2, 2)
    # gd declares lr: one case; lbfgs has no lr: not tuned.
    assert [c.label for c in plan.cases] == ["pure_bending_moment_32x64_0.15 pixel p=3 gd"]
    assert plan.skipped == ["lbfgs"]
    assert plan.cases[0].optimizer.options == {}
    # The defaults are the protocol's: 30 trials on a 0.1 grid, absolute range.
    text = _spec().replace('scale = "grad"\n', "").split("grid")[0]
    default = tuning.load_tuning(text)
    assert (default.tune.trials, default.tune.grid, default.tune.scale) == (30, 0.1, "none")
    assert default.tune.batch == 4 and default.tune.startup == 10


def test_grids_make_one_case_each():
    text = _spec().replace('preset = "lbfgs"', 'preset = "hd"\nmemory = [1, 10]')
    labels = [c.label for c in tuning.load_tuning(text).cases]
    assert [label.split()[-1] for label in labels] == ["gd", "hd(memory=1)", "hd(memory=10)"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("range = [-1, 1]", "range = [1, -1]"), "low < high"),
        (("range = [-1, 1]", "range = [-1]"), "range must be [low, high]"),
        (("range = [-1, 1]", 'range = ["a", 1]'), "range must be [low, high]"),
        (("range = [-1, 1]", "range = [-1, 1.05]"), "whole number of grid steps"),
        (('scale = "grad"', 'scale = "hessian"'), "scale must be one of"),
        (('option = "lr"', 'option = "momentum"'), "no optimizer of the spec has the option"),
        (('option = "lr"', "option = 3"), "option must be an option name"),
        (('option = "lr"', 'optoin = "lr"'), "unknown key(s) ['optoin']"),
        (("range = [-1, 1]", ""), "missing 'range'"),
        (("trials = 5", "trials = 0"), "trials"),
        (("batch = 2", "batch = -1"), "batch"),
        (("grid = 0.1", "grid = -0.1"), "grid"),
        (('preset = "gd"', 'preset = "gd"\nlr = 0.1'), "gives 'lr', the option tuned"),
        (('preset = "gd"', 'preset = "gdd"'), "unknown optimizer 'gdd'"),
    ],
)
def test_bad_tune_tables_are_rejected(change, message):
    text = _spec().replace(*change)
    assert text != _spec()
    with pytest.raises(InvalidInputError) as info:
        tuning.load_tuning(text)
    assert message in str(info.value)


def test_spec_without_tune_table_is_rejected():
    with pytest.raises(InvalidInputError, match=r"no \[tune\] table"):
        tuning.load_tuning(_spec().split("[tune]")[0])


def test_tune_must_be_a_table():
    text = _spec().split("[tune]")[0].replace('name = "steps"', 'tune = 3\nname = "steps"')
    with pytest.raises(InvalidInputError, match=r"\[tune\]: must be a table"):
        tuning.load_tuning(text)


def test_continuous_grid_accepted():
    plan = tuning.load_tuning(_spec().replace("grid = 0.1", "grid = 0"))
    assert plan.tune.grid == 0.0


# ---------------------------------------------------------------------------------------------
# Tuning
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One tuning (5 trials of 1 case, in-process runs), shared by the tests below."""
    out = tmp_path_factory.mktemp("tuned")
    ex = Serial()
    doc = tuning.tune(_spec(), out, executor=ex)
    return out, doc, ex


def test_tuning_finds_a_value_in_the_range_and_writes_tuned_json(tuned):
    out, doc, ex = tuned
    assert json.loads((out / "tuned.json").read_text()) == doc
    assert doc["complete"] and doc["option"] == "lr"
    (label,) = doc["cases"]
    case = doc["cases"][label]
    assert case["trials_done"] == 5 and len(case["trials"]) == 5 and case["complete"]
    # scale = "grad": 1/|g0| at the initial point; the range is log10(scale) + [-1, 1].
    obj = ts.PixelObjective(ts.problems.get("pure_bending_moment_32x64_0.15"), penal=3.0)
    _, g = obj.value_and_grad(obj.x0)
    scale = 1 / float((g**2).sum() ** 0.5)
    assert case["scale"]["kind"] == "grad"
    assert case["scale"]["value"] == pytest.approx(scale, rel=1e-5)
    lo, hi = case["range"]
    assert (lo, hi) == pytest.approx((case["scale"]["log10"] - 1, case["scale"]["log10"] + 1))
    for r in case["trials"]:
        # Offsets on the 0.1 grid; values = scale * 10**offset inside the range.
        assert round(r["log10_offset"] * 10) == pytest.approx(r["log10_offset"] * 10, abs=1e-6)
        assert 10**lo * (1 - 1e-5) <= r["value"] <= 10**hi * (1 + 1e-5)
        assert len(r["losses"]) == 2 and len(r["keys"]) == 2
    best = case["best"]
    objectives = [r["objective"] for r in case["trials"] if r["objective"] is not None]
    assert best["objective"] == min(objectives)
    assert tuning.tuned_values(out) == {label: best["value"]}
    # The trials' runs are stored like any run, under the study "steps:tune"; pixel runs are
    # shared by the seeds, and a value tried twice is computed once.
    study = ts.experiments.open(out)
    assert study.name == "steps:tune"
    table = study.runs()
    assert set(table["status"]) == {"done"}
    assert len(set(ex.submitted)) == len(ex.submitted) == table["key"].nunique()
    assert {r["value"] for r in case["trials"]} == {
        float(lbl.split("lr=")[1].rstrip(")")) for lbl in table["optimizer"]
    }


def test_objective_is_the_median_final_loss_over_seeds(tuned):
    out, doc, _ = tuned
    (case,) = doc["cases"].values()
    study = ts.experiments.open(out)
    final = dict(zip(study.runs()["key"], study.runs()["final_loss"], strict=True))
    for r in case["trials"]:
        losses = [final[k] for k in r["keys"]]
        assert r["losses"] == pytest.approx(losses)
        assert r["objective"] == pytest.approx(sorted(losses)[0] / 2 + sorted(losses)[1] / 2)


def test_same_seed_same_trials_other_seed_other_trials(tuned, tmp_path):
    _, doc, _ = tuned
    again = tuning.tune(_spec(), tmp_path / "again", executor=Serial())
    assert _trials(again) == _trials(doc)
    other = tuning.tune(_spec(seed=1), tmp_path / "other", executor=Serial())
    assert [t[1] for t in _trials(other)] != [t[1] for t in _trials(doc)]


def test_rerun_is_a_no_op_and_more_trials_extend(tuned, tmp_path):
    out, doc, _ = tuned
    ex = Serial()
    assert tuning.tune(_spec(), out, executor=ex) == doc
    assert ex.submitted == []
    # --trials 6 extends the tuning by one trial; it equals a fresh tuning of 6 trials.
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    extended = tuning.tune(_spec(), copy, executor=Serial(), trials=6)
    fresh = tuning.tune(_spec(trials=6), tmp_path / "fresh", executor=Serial())
    assert len(_trials(extended)) == 6
    assert _trials(extended) == _trials(fresh)


def test_changed_settings_refuse_to_resume(tuned):
    out, _, _ = tuned
    with pytest.raises(InvalidInputError, match="other settings"):
        tuning.tune(_spec().replace("[-1, 1]", "[-2, 1]"), out, executor=Serial())


def test_diverged_and_failed_runs_count_as_inf(tmp_path):
    # lr = 10**[3, 4] * 1/|g0|: the pixel GD run's loss blows up (or fails); no finite trial.
    text = _spec(trials=2).replace("range = [-1, 1]", "range = [30, 31]")
    doc = tuning.tune(text, tmp_path, executor=Serial())
    (case,) = doc["cases"].values()
    assert case["trials_done"] == 2
    assert all(r["objective"] is None for r in case["trials"])
    assert case["best"] is None
    with pytest.raises(InvalidInputError, match="diverged"):
        load_spec(_reference_spec(tmp_path))


# ---------------------------------------------------------------------------------------------
# Resume after SIGKILL
# ---------------------------------------------------------------------------------------------
_CHILD = """
import sys
from toposcape.experiments import tuning
tuning.tune(open(sys.argv[1]).read(), sys.argv[2], workers=2)
"""


def _progress(out: Path) -> tuple[int, int]:
    """(trials told, runs in flight), read as the coordinator writes them."""
    try:
        doc = json.loads((out / "tuned.json").read_text())
        with sqlite3.connect(f"file:{out / 'index.sqlite'}?mode=ro", uri=True, timeout=1) as db:
            (running,) = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()
    except (OSError, ValueError, sqlite3.Error):
        return 0, 0
    return sum(c["trials_done"] for c in doc["cases"].values()), running


def test_resume_after_sigkill_completes_exactly_the_target(tmp_path):
    # The local pool with 2 workers; an absolute range (no scale measured: a faster start).
    text = _spec(trials=6).replace('scale = "grad"', 'scale = "none"')
    text = text.replace("range = [-1, 1]", "range = [-3.8, -1.8]")
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(spec), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            told, running = _progress(out)
            if told >= 2 and running:  # killed with trials done and a batch in flight
                break
            assert child.poll() is None, child.stdout.read().decode()
            time.sleep(0.02)
        else:
            pytest.fail("the tuning did not get going within a minute")
        os.killpg(child.pid, signal.SIGKILL)  # the coordinator and its worker pool
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    before = json.loads((out / "tuned.json").read_text())
    (label,) = before["cases"]
    done = before["cases"][label]["trials"]
    assert 2 <= len(done) < 6

    ex = Serial()
    after = tuning.tune(spec.read_text(), out, executor=ex)
    case = after["cases"][label]
    assert case["trials_done"] == 6 and case["complete"]
    assert case["requeued"] >= 1  # the trials left RUNNING: FAIL, their values queued again
    assert len(case["trials"]) == 6
    # The completed trials were kept, not redone: same numbers, values and losses, and none of
    # their runs was computed again.
    assert all(r in case["trials"] for r in done)
    redone = {k for r in done for k in r["keys"]} & set(ex.submitted)
    assert not redone
    # The sequence of trials is that of an uninterrupted tuning with the same seed (a trial
    # redone takes the place of the one lost).
    fresh = tuning.tune(text, tmp_path / "fresh", executor=Serial())
    assert [t[1:] for t in _trials(after)] == [t[1:] for t in _trials(fresh)]


def test_a_second_coordinator_is_refused(tmp_path):
    import fcntl

    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / "tuning.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(InvalidInputError, match="another tuning coordinator"):
            tuning.tune(_spec(), tmp_path, executor=Serial())


# ---------------------------------------------------------------------------------------------
# Feeding the tuned values to a later spec
# ---------------------------------------------------------------------------------------------
def _reference_spec(directory, problems='["B"]'):
    return textwrap.dedent(
        f"""
        name = "later"
        problems = {problems}
        penal = [3.0]
        seeds = [0, 1]
        max_evals = 10

        [[models]]
        kind = "pixel"

        [[optimizers]]
        preset = "gd"
        lr = "tuned:{directory}"
        """
    )


def test_tuned_value_feeds_a_later_spec(tuned, tmp_path):
    out, doc, _ = tuned
    (case,) = doc["cases"].values()
    spec = load_spec(_reference_spec(out))
    (run,) = spec.unique_runs()
    assert run.optimizer.options["lr"] == case["best"]["value"]
    assert run.optimizer.label() == f"gd(lr='tuned:{out}')"
    # The same settings as the best trial: the later study's run is the trial's run.
    assert (
        run.key
        in case["trials"][[r["number"] for r in case["trials"]].index(case["best"]["trial"])][
            "keys"
        ]
    )
    report = ts.experiments.run(spec, tmp_path / "later", executor=Serial())
    assert report.ok
    table = ts.experiments.open(tmp_path / "later").runs()
    assert set(table["optimizer"]) == {f"gd(lr='tuned:{out}')"}


def test_bad_references_fail_at_load_time(tuned, tmp_path):
    out, _, _ = tuned
    with pytest.raises(InvalidInputError, match="no tuning"):
        load_spec(_reference_spec(tmp_path / "nowhere"))
    with pytest.raises(InvalidInputError, match="has no tuned lr for"):
        load_spec(_reference_spec(out, problems='["A"]'))
    with pytest.raises(InvalidInputError, match="optimizers"):
        load_spec(_reference_spec(out).replace("penal = [3.0]", "penal = [1.0]"))
    # Incomplete: a tuning extended on paper only.
    partial = json.loads((out / "tuned.json").read_text())
    for c in partial["cases"].values():
        c["complete"] = False
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "tuned.json").write_text(json.dumps(partial))
    with pytest.raises(InvalidInputError, match="incomplete"):
        load_spec(_reference_spec(tmp_path / "partial"))
    with pytest.raises(InvalidInputError, match="incomplete"):
        tuning.tuned_values(tmp_path / "partial")
    assert list(tuning.tuned_values(tmp_path / "partial", partial=True).values())[0] > 0


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def test_register_command_parses_and_runs(tmp_path, capsys, monkeypatch):
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    tuning.register_command(sub)
    spec = tmp_path / "spec.toml"
    spec.write_text(_spec(trials=2))
    args = parser.parse_args(
        ["tune", str(spec), "--out", str(tmp_path / "o"), "--workers", "1", "--trials", "3"]
    )
    assert (args.workers, args.trials, args.seed, args.executor) == (1, 3, None, "local")
    monkeypatch.setattr(tuning, "make_executor", lambda *a, **k: Serial())
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "not tuned (no option 'lr'): lbfgs" in text and "lr = " in text
    doc = json.loads((tmp_path / "o" / "tuned.json").read_text())
    assert next(iter(doc["cases"].values()))["trials_done"] == 3


def test_a_torn_journal_tail_is_cut_on_resume(tuned, tmp_path):
    """A kill in the middle of an append leaves a partial last line: it is dropped, the rest
    of the journal is read, and the tuning goes on."""
    import shutil

    out, doc, _ = tuned
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "tuning.journal", "ab") as f:
        f.write(b'{"op_code": 4, "worker_id": "x", "trial_id": 0, "st')
    ex = Serial()
    assert tuning.tune(_spec(), copy, executor=ex) == json.loads(
        json.dumps(doc).replace(str(out), str(copy))
    )
    assert ex.submitted == []
    assert (copy / "tuning.journal").read_bytes().endswith(b"}\n")
