"""The thesis study's report: the case table of a real (tiny) study, Tables 3.2 / 3.3 next to
the published values, the six findings' verdicts computed from the data (and changing with
it), and the report's sections, with stages or cases missing."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import toposcape as ts
from toposcape.experiments import STUDY_CODES, Store
from toposcape.experiments import thesis_report as tr
from toposcape.experiments.report import steps_to_within

# ---------------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------------
OPTIMIZERS = ("L-BFGS", "L-BFGS_M1", "GD", "GD_20", "GD_LS", "HD_M1", "HD_M10")
#: (model, penal) -> optimizer -> (median final loss, median converged step): every finding
#: holds on these numbers.
BASE = {
    ("NN", 3): {
        "L-BFGS": (50.0, 20),
        "L-BFGS_M1": (50.5, 21),
        "GD": (80.0, 500),
        "GD_20": (75.0, 900),
        "GD_LS": (51.0, 150),
        "HD_M1": (90.0, 200),
        "HD_M10": (60.0, 300),
    },
    ("P", 3): {
        "L-BFGS": (70.0, 30),
        "L-BFGS_M1": (71.0, 30),
        "GD": (85.0, 500),
        "GD_20": (80.0, 900),
        "GD_LS": (65.0, 100),
        "HD_M1": (66.0, 40),
        "HD_M10": (67.0, 45),
    },
    ("NN", 1): {
        "L-BFGS": (21.0, 5),
        "L-BFGS_M1": (21.05, 6),
        "GD": (21.2, 8),
        "GD_20": (21.1, 8),
        "GD_LS": (21.1, 8),
        "HD_M1": (21.05, 9),
        "HD_M10": (21.05, 9),
    },
    ("P", 1): {
        "L-BFGS": (21.0, 8),
        "L-BFGS_M1": (21.0, 8),
        "GD": (22.0, 300),
        "GD_20": (21.5, 600),
        "GD_LS": (21.02, 20),
        "HD_M1": (21.0, 7),
        "HD_M10": (21.0, 7),
    },
}
SCALE = {"A": 1.0, "B": 0.4, "D": 1.5, "E": 4.0}


def make_cases(problems=("A", "B"), seeds=(0, 1, 2)) -> pd.DataFrame:
    """A case table on which every finding holds (seeds jitter by 0.1% around the median)."""
    rows = []
    for (model, penal), table in BASE.items():
        for problem in problems:
            for optimizer, (loss, step) in table.items():
                for i, seed in enumerate(seeds):
                    jitter = 1.0 + 0.001 * (i - (len(seeds) - 1) / 2) * (model == "NN")
                    final = loss * SCALE[problem] * jitter
                    rows.append(
                        {
                            "case": f"{model}{penal}{problem}",
                            "model": model,
                            "penal": penal,
                            "problem": problem,
                            "optimizer": optimizer,
                            "seed": seed,
                            "status": "done",
                            "final_loss": final,
                            "best_loss": final,
                            "initial_loss": 1000.0 * SCALE[problem],
                            "n_steps": 2 * step,
                            "n_evals": 2 * step + 1,
                            "converged_step": step,
                            "initial_grad_norm": 1e4,
                            "final_grad_norm": 1.0 if optimizer.startswith("L-BFGS") else 100.0,
                            "diverged": False,
                            "wall_time": 1.0,
                            "key": f"{model}{penal}{problem}-{optimizer}-{seed}",
                            "model_label": "pixel" if model == "P" else "cnn",
                            "problem_name": STUDY_CODES[problem],
                            "error": None,
                        }
                    )
    table = pd.DataFrame(rows)
    table["converged_step"] = table["converged_step"].astype("Int64")
    table["diverged"] = table["diverged"].astype("boolean")
    return table


def scale(cases, case, optimizer, factor, column="final_loss"):
    out = cases.copy()
    rows = (out["case"] == case) & (out["optimizer"] == optimizer)
    out.loc[rows, column] = out.loc[rows, column] * factor
    return out


def landscape_dataset(
    problem="A",
    model="cnn(upsampling=transpose)",
    penal=3.0,
    seed=0,
    top=(100.0, 40.0, 10.0),
    negative_mass=None,
    effective=10.0,
) -> xr.Dataset:
    """A landscape result with every name of the landscape stage's contract."""
    steps, grid, alpha, n = [0, 10, 28], 40, np.linspace(-0.5, 1.5, 9), 30
    d = len(steps)
    rng = np.random.default_rng(seed)
    grad = np.logspace(3, -1, n)
    nan = np.full(d, np.nan)
    pixel1 = model == "pixel" and penal == 1.0
    mass = negative_mass if negative_mass is not None else (np.zeros(d) if pixel1 else nan)
    data = {
        "hessian_grid": (("density_step", "grid"), np.tile(np.linspace(-1, 10, grid), (d, 1))),
        "hessian_density": (("density_step", "grid"), rng.random((d, grid))),
        "bk_grid": (("density_step", "grid"), np.tile(np.linspace(0, 10, grid), (d, 1))),
        "bk_density": (("density_step", "grid"), rng.random((d, grid))),
        "hessian_top": ("density_step", np.asarray(top, dtype=float)),
        "hessian_trace": ("density_step", np.asarray(top, dtype=float) * 5),
        "hessian_frobenius": ("density_step", np.asarray(top, dtype=float) * 2),
        "hessian_negative_mass": ("density_step", np.full(d, 0.1)),
        "bk_top": ("density_step", np.asarray(top, dtype=float) / 2),
        "physics_negative_mass": ("density_step", np.asarray(mass, dtype=float)),
        "physics_min_ritz": ("density_step", np.zeros(d) if pixel1 else nan),
        "physics_max_ritz": ("density_step", np.full(d, 50.0) if pixel1 else nan),
        "interp_a": ("alpha", alpha**2),
        "interp_b": (("b_iterate", "alpha"), np.tile(alpha**2, (3, 1))),
        "interp_c": (("c_init", "alpha"), np.tile(alpha**2, (2, 1))),
        "interp_d": (("d_step", "alpha"), np.tile(alpha**2, (3, 1))),
        "plane_loss": (("plane_b", "plane_a"), rng.random((5, 5))),
        "plane_path": (("step", "xy"), rng.random((n, 2))),
        "pca_plane_loss": (("plane_b", "plane_a"), rng.random((5, 5))),
        "pca_path": (("step", "xy"), rng.random((n, 2))),
        "pca_explained": (("step", "component"), rng.random((n, 2))),
        "loss": ("step", np.logspace(3, 1, n)),
        "grad_norm": ("step", grad),
        "distance": ("step", np.linspace(0, 5, n)),
        "distance_to_final": ("step", np.linspace(5, 0, n)),
        "step_length": ("step", np.r_[np.nan, effective * grad[:-1]]),
        "grad_cosine": ("step", np.full(n, 0.5)),
        "grad_dot_to_final": ("step", np.full(n, -1.0)),
        "overlap": ("step", np.full(n, 0.3)),
        "curvature": ("step", np.full(n, 2.0)),
        "rerun_final_loss": ((), 10.0),
    }
    ds = xr.Dataset(
        data,
        coords={"density_step": steps, "alpha": alpha},
        attrs={
            "problem": STUDY_CODES[problem],
            "model": model,
            "penal": penal,
            "seed": seed,
            "n_steps": n - 1,
        },
    )
    ds["pca_plane_loss"].attrs.update(scale_d1=1.0, scale_d2=1.0)
    return ds


def landscape_set(**changes) -> list[xr.Dataset]:
    out = []
    for model, penal in (("cnn(upsampling=transpose)", 3.0), ("cnn(upsampling=transpose)", 1.0)):
        for seed in (0, 1):
            out.append(landscape_dataset(model=model, penal=penal, seed=seed, **changes))
    out.append(landscape_dataset(model="pixel", penal=1.0, seed=0))
    out.append(landscape_dataset(model="pixel", penal=3.0, seed=0))
    return out


def tuned_doc(problems=("A", "B"), gd_step=1e-3, model=None) -> dict:
    """A tuned.json: GD, HD_M1, HD_M10 per case, with a gradient scale."""
    cases = {}
    for kind in ("cnn", "pixel"):
        spec = model or {"kind": "cnn", "upsampling": "transpose"}
        spec = spec if kind == "cnn" else {"kind": "pixel"}
        for penal in (1.0, 3.0):
            for problem in problems:
                for optimizer, value in (
                    ({"preset": "gd", "max_steps": 8}, gd_step),
                    ({"preset": "hd", "memory": 1, "max_steps": 8}, 2 * gd_step),
                    ({"preset": "hd", "memory": 10, "max_steps": 8}, 3 * gd_step),
                ):
                    label = f"{problem}/{kind}/p{penal:g}/{optimizer}"
                    cases[label] = {
                        "problem": STUDY_CODES[problem],
                        "model": spec,
                        "penal": penal,
                        "optimizer": optimizer,
                        "match": {},
                        "scale": {"kind": "grad", "value": 1e-4, "log10": -4.0, "seed": 0},
                        "range": [-7.0, -1.0],
                        "trials_done": 3,
                        "trials_target": 3,
                        "requeued": 0,
                        "complete": True,
                        "best": {"value": value, "log10_offset": 1.0, "objective": 5.0, "trial": 1},
                        "trials": [],
                    }
    return {
        "format": 1,
        "study": "thesis-tune",
        "option": "lr",
        "tune": {"option": "lr", "range": [-3.0, 3.0], "scale": "grad", "grid": 0.1},
        "seeds": [0],
        "max_evals": None,
        "max_steps": 8,
        "complete": True,
        "cases": cases,
    }


def verdicts(found) -> dict[int, str]:
    return {f.number: f.verdict for f in found}


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------
def test_every_finding_holds_on_a_clean_reproduction():
    found = tr.findings(make_cases(), landscape=landscape_set(), tuning=tuned_doc())
    assert [f.number for f in found] == [1, 2, 3, 4, 5, 6]
    assert verdicts(found) == dict.fromkeys(range(1, 7), "holds")
    for f in found:
        assert f.verdict in ("holds", "does not hold", "inconclusive")
        assert f.claim and f.test and f.title
        assert "| check | unit | numbers | result |" in f.evidence
        assert all(c["passed"] is not False for c in f.numbers["checks"])
    f6 = found[5].numbers["checks"]
    effective = [c for c in f6 if c["check"].startswith("(c)")]
    assert {c["unit"] for c in effective} == {"NN3A", "NN1A"}
    assert all(c["effective"] == pytest.approx(10.0) for c in effective)
    assert all(c["tuned_gd"] == pytest.approx(1e-3) for c in effective)


def test_l_bfgs_m1_five_percent_worse_on_one_nn_case_refutes_finding_3():
    cases = scale(make_cases(), "NN3B", "L-BFGS_M1", 1.05 * 50 / 50.5)
    found = verdicts(tr.findings(cases, landscape_set(), tuned_doc()))
    assert found[3] == "does not hold"
    assert found[2] == found[5] == found[6] == "holds"
    # 2.5% (the thesis' own NN3D gap) is still "like"
    cases = scale(make_cases(), "NN3B", "L-BFGS_M1", 1.025 * 50 / 50.5)
    assert verdicts(tr.findings(cases, landscape_set(), tuned_doc()))[3] == "holds"


def test_without_the_nn_cases_the_nn_findings_are_inconclusive():
    cases = make_cases()
    cases = cases[cases["model"] != "NN"]
    found = verdicts(tr.findings(cases, landscape_set(), tuned_doc()))
    assert found[1] == found[2] == found[3] == found[4] == found[6] == "inconclusive"
    assert found[5] == "holds"  # pixels only
    empty = verdicts(tr.findings(make_cases().iloc[:0]))
    assert set(empty.values()) == {"inconclusive"}


def test_all_seeds_failed_is_inconclusive_but_a_failure_elsewhere_refutes():
    cases = make_cases()
    rows = (cases["case"] == "NN3B") & (cases["optimizer"] == "GD_LS")
    cases.loc[rows, ["status", "final_loss", "converged_step"]] = ["failed", np.nan, pd.NA]
    cases.loc[rows, "diverged"] = True
    found = tr.findings(cases, landscape_set(), tuned_doc())
    assert verdicts(found)[4] == "inconclusive"
    missing = [c for c in found[3].numbers["checks"] if c["passed"] is None]
    assert missing and all(c["unit"] == "NN3B" for c in missing)
    assert "no seed done (3 failed)" in found[3].evidence
    # HD_M1 better than HD_M10 on NN3A: one counter-example, whatever is missing elsewhere
    cases = scale(cases, "NN3A", "HD_M1", 0.5)
    assert verdicts(tr.findings(cases, landscape_set(), tuned_doc()))[4] == "does not hold"


def test_finding_4_steps_and_quality():
    cases = scale(make_cases(), "NN3A", "GD_LS", 0.1, "converged_step")  # as fast as L-BFGS
    assert verdicts(tr.findings(cases))[4] == "does not hold"
    cases = scale(make_cases(), "NN3B", "GD_LS", 1.1)  # 12% above L-BFGS
    assert verdicts(tr.findings(cases))[4] == "does not hold"


def test_finding_2_counts_diverged_gd_seeds_and_needs_the_long_gd():
    cases = make_cases()
    rows = (cases["case"] == "NN3A") & (cases["optimizer"] == "GD") & (cases["seed"] == 1)
    cases.loc[rows, ["final_loss", "diverged"]] = [np.inf, True]
    found = tr.findings(cases)
    assert found[1].verdict == "holds"
    assert found[1].numbers["diverged_gd_seeds"]["NN3A GD"] == "1 of 3"
    assert "NN3A GD: 1 of 3" in found[1].evidence
    # no long GD: (c) cannot be tested
    found = tr.findings(cases[cases["optimizer"] != "GD_20"])
    assert found[1].verdict == "inconclusive"
    # the pixel model better than the CNN on B
    cases = scale(make_cases(), "P3B", "L-BFGS", 0.5)
    assert verdicts(tr.findings(cases))[2] == "does not hold"


def test_finding_1_spread_gd_is_reported_not_tested_and_convexity_check():
    cases = scale(make_cases(), "P1A", "GD", 1.5)  # constant-step GD far off: not tested
    found = tr.findings(cases, landscape_set(), tuned_doc())
    assert found[0].verdict == "holds"
    assert "GD +" in found[0].evidence
    cases = scale(make_cases(), "P1A", "HD_M10", 1.05)
    assert verdicts(tr.findings(cases))[1] == "does not hold"
    cases = scale(make_cases(), "NN1B", "L-BFGS", 20, "converged_step")
    assert verdicts(tr.findings(cases))[1] == "does not hold"
    # the convexity check: optional when absent, refuting when it fails
    assert verdicts(tr.findings(make_cases()))[1] == "holds"
    bad = [
        *landscape_set()[:-2],
        landscape_dataset(model="pixel", penal=1.0, negative_mass=[0.0, 0.2, 0.0]),
    ]
    found = tr.findings(make_cases(), bad, tuned_doc())
    assert found[0].verdict == "does not hold"
    convex = [c for c in found[0].numbers["checks"] if c["check"].startswith("(d)")]
    assert convex[0]["negative_mass"] == pytest.approx(0.2)


def test_finding_6_needs_landscape_and_tuning_and_tests_them():
    assert verdicts(tr.findings(make_cases()))[6] == "inconclusive"
    assert verdicts(tr.findings(make_cases(), landscape_set()))[6] == "inconclusive"
    sharper = landscape_set(top=(10.0, 40.0, 100.0))
    assert verdicts(tr.findings(make_cases(), sharper, tuned_doc()))[6] == "does not hold"
    # the tuned GD step is as large as L-BFGS_M1's effective step at the end
    assert verdicts(tr.findings(make_cases(), landscape_set(), tuned_doc(gd_step=5.0)))[6] == (
        "does not hold"
    )
    cases = make_cases()
    rows = (cases["model"] == "NN") & (cases["optimizer"] == "L-BFGS")
    cases.loc[rows, "final_grad_norm"] = 1e3  # only one order of magnitude
    assert verdicts(tr.findings(cases, landscape_set(), tuned_doc()))[6] == "does not hold"


def test_findings_accept_stage_directories(tmp_path):
    (tmp_path / "tune").mkdir()
    import json

    (tmp_path / "tune" / "tuned.json").write_text(json.dumps(tuned_doc()))
    found = tr.findings(make_cases(), landscape_set(), tmp_path / "tune")
    assert verdicts(found)[6] == "holds"
    assert verdicts(tr.findings(make_cases(), landscape_set(), tmp_path / "nothing"))[6] == (
        "inconclusive"
    )


def test_the_same_tests_on_the_thesis_published_medians():
    """Facts of the thesis' own Tables 3.2 / 3.3 under this module's tests (they are in the
    report): its P1/NN1 L-BFGS converged steps (B: 14 vs 9, E: 23 vs 6), NN3D's GD_LS (17.8%
    above L-BFGS) and P3B's HD_M10 (9.20 vs 9.16) fail findings 1, 4 and 5."""
    published = tr.published_cases()
    assert len(published) == 16 * 6 + 8
    found = tr.findings(published)
    assert verdicts(found) == {
        1: "does not hold",
        2: "holds",
        3: "holds",
        4: "does not hold",
        5: "does not hold",
        6: "inconclusive",
    }
    assert [f.thesis_verdict for f in tr.findings(make_cases())][:5] == [
        "does not hold",
        "holds",
        "holds",
        "does not hold",
        "does not hold",
    ]
    assert tr.findings(make_cases())[5].thesis_verdict is None


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def test_table_3_3_places_the_published_values_next_to_the_reproduced():
    cases = make_cases()
    table = tr.table_3_3(cases)
    assert len(table) == 16 * 6
    row = table[(table["case"] == "NN3A") & (table["optimizer"] == "L-BFGS")].iloc[0]
    assert (row["published_loss"], row["published_step"]) == (54.61, 22)
    assert row["reproduced_loss"] == pytest.approx(50.0)
    assert row["reproduced_step"] == 20
    assert row["loss_ratio"] == pytest.approx(50.0 / 54.61)
    assert row["status"] == "done" and (row["seeds"], row["done"]) == (3, 3)
    d = table[table["case"] == "NN3D"]
    assert set(d["status"]) == {"not run"} and d["reproduced_loss"].isna().all()
    text = tr.table_markdown(table)
    assert "| **NN3A** | reproduced | 80 (500) |" in text
    assert "54.61 (22)" in text and "not run" in text


def test_table_3_3_marks_partial_and_failed_cases():
    cases = make_cases()
    rows = (cases["case"] == "NN3A") & (cases["optimizer"] == "GD")
    cases.loc[rows & (cases["seed"] == 0), ["status", "final_loss"]] = ["failed", np.nan]
    cases.loc[(cases["case"] == "NN3A") & (cases["optimizer"] == "HD_M1"), "status"] = "failed"
    table = tr.table_3_3(cases).set_index(["case", "optimizer"])
    assert table.loc[("NN3A", "GD"), "status"] == "2 of 3 seeds done"
    assert table.loc[("NN3A", "HD_M1"), "status"] == "all seeds failed"
    text = tr.table_markdown(tr.table_3_3(cases))
    assert "[2/3]" in text and "all seeds failed" in text


def test_table_3_2_uses_the_long_gd_label_and_lists_problems_not_run():
    table = tr.table_3_2(make_cases())
    assert list(dict.fromkeys(table["column"])) == ["L-BFGS 300", "GD 700", "GD 2000"]
    long = table[(table["column"] == "GD 2000") & (table["problem"] == "A")]
    assert set(long["optimizer"]) == {"GD_20"}
    nn = long[long["model"] == "NN"].iloc[0]
    assert (nn["published"], nn["reproduced"]) == (73.9, pytest.approx(75.0))
    cnn = table[(table["problem"] == "A") & (table["model"] == "NN")].set_index("column")
    assert cnn.loc["L-BFGS 300", "published"] == 54.61
    assert set(table[table["problem"] == "E"]["status"]) == {"not run"}
    text = tr.table_markdown(table)
    assert "`GD_20` (thesis: GD 2000)" in text and "| **E** | NN | reproduced | not run" in text
    with pytest.raises(ValueError):
        tr.table_markdown(pd.DataFrame())


# ---------------------------------------------------------------------------------------------
# A real study: the case table and the report
# ---------------------------------------------------------------------------------------------
SPEC = """
name = "thesis"
problems = ["A"]
penal = [1.0, 3.0]
seeds = [0, 1]
max_evals = 6

[[models]]
kind = "pixel"

[[models]]
kind = "cnn"
upsampling = "transpose"
latent_size = 8
conv_filters = [16, 8, 4, 2, 1]

[[optimizers]]
preset = "lbfgs"
memory = 10
label = "L-BFGS"

[[optimizers]]
preset = "lbfgs"
memory = 1
label = "L-BFGS_M1"

[[optimizers]]
preset = "gd"
lr = 1e-3
max_steps = 5
label = "GD"

[[optimizers]]
preset = "gd"
lr = 1e-3
max_steps = 8
label = "GD_8"

[[optimizers]]
preset = "gd_ls"
max_steps = 5
label = "GD_LS"

[[optimizers]]
preset = "hd"
memory = 1
lr = 1e-3
max_steps = 5
label = "HD_M1"

[[optimizers]]
preset = "hd"
memory = 10
lr = 1e-3
max_steps = 5
label = "HD_M10"
"""


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """Problem A, pixel and a tiny transposed CNN, p = 1 and 3, seven optimizers, 2 seeds."""
    out = tmp_path_factory.mktemp("thesis") / "main"
    report = ts.experiments.run(SPEC, out, workers=1, progress=False)
    assert report.ok
    return out


def test_case_table_of_a_real_study(tiny_study):
    study = ts.experiments.open(tiny_study, "thesis")
    cases = tr.case_table(study)
    runs = study.runs()
    assert len(cases) == len(runs) == 4 * 7 * 2
    assert set(cases["case"]) == {"NN1A", "NN3A", "P1A", "P3A"}
    assert set(cases["optimizer"]) == {
        "L-BFGS",
        "L-BFGS_M1",
        "GD",
        "GD_8",
        "GD_LS",
        "HD_M1",
        "HD_M10",
    }
    assert set(cases["model"]) == {"NN", "P"} and set(cases["penal"]) == {1, 3}
    assert set(cases["problem"]) == {"A"}
    assert np.allclose(cases["final_loss"], runs["final_loss"].astype(float))
    assert (cases["key"] == runs["key"]).all() and (cases["status"] == runs["status"]).all()
    for row in cases.sample(8, random_state=0).itertuples():
        losses = study.trajectory(row.key).losses
        assert row.initial_loss == pytest.approx(losses[0])
        assert row.converged_step == steps_to_within(losses)
        grad = study.result(row.key, ["grad_norm"])["grad_norm"].values
        assert (row.initial_grad_norm, row.final_grad_norm) == (grad[0], grad[-1])
        diverged = (not math.isfinite(row.final_loss)) or row.final_loss > row.initial_loss
        assert bool(row.diverged) == diverged
    pixel = cases[cases["model"] == "P"]
    assert (pixel.groupby(["case", "optimizer"])["final_loss"].nunique() == 1).all()
    # the same through the directory
    assert tr.case_table(tiny_study).equals(cases)


def test_case_table_failed_pending_and_lost_runs(tiny_study, tmp_path):
    out = tmp_path / "partial"
    shutil.copytree(tiny_study, out)
    runs = ts.experiments.open(out).runs()
    cnn = runs[runs["model"] != "pixel"]
    failed, pending, lost = cnn["key"].iloc[0], cnn["key"].iloc[2], cnn["key"].iloc[4]
    with Store(out) as store:
        store.fail(failed, "RuntimeError: made to fail by the test")
        store.mark_pending(pending)
    (out / "runs" / f"{lost}.nc").unlink()
    cases = tr.case_table(out).set_index("key")
    assert cases.loc[failed, "status"] == "failed" and bool(cases.loc[failed, "diverged"])
    assert cases.loc[pending, "status"] == "pending" and pd.isna(cases.loc[pending, "diverged"])
    assert cases.loc[lost, "status"] == "unreadable" and pd.isna(cases.loc[lost, "initial_loss"])
    path = tr.write_thesis_report(tmp_path / "report", out)
    text = path.read_text()
    assert "## Runs not done" in text and "made to fail by the test" in text
    assert "pending" in text and "unreadable" in text


SECTIONS = (
    "# Reproduction of the thesis study",
    "## Cost",
    "## Tuned steps",
    "## Table 3.2",
    "## Table 3.3",
    "## Where and why numbers differ",
    "## Findings",
    "## Figures",
    "### Loss curves",
    "### Gradient norms",
    "### Landscape",
    "## Runs not done",
    "## Definitions and thresholds",
)


def test_report_of_a_real_study(tiny_study, tmp_path, monkeypatch):
    tune = tmp_path / "tune"
    tune.mkdir()
    import json

    model = {
        "kind": "cnn",
        "upsampling": "transpose",
        "latent_size": 8,
        "conv_filters": [16, 8, 4, 2, 1],
    }
    (tune / "tuned.json").write_text(json.dumps(tuned_doc(("A",), 2e-3, model)))

    made = []

    def landscape_figures(datasets, out, title):  # stands in for the landscape module's
        made.append((len(datasets), title))
        path = Path(out) / "spectra.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n")
        return {"spectra": path}

    fake = type(sys)("toposcape.experiments.landscape")
    fake.landscape_figures = landscape_figures
    monkeypatch.setitem(sys.modules, "toposcape.experiments.landscape", fake)
    monkeypatch.setattr(ts.experiments, "landscape", fake, raising=False)
    monkeypatch.setattr(tr, "_landscape_datasets", lambda land: (landscape_set(), []))

    path = tr.write_thesis_report(
        tmp_path / "report",
        ts.experiments.open(tiny_study, "thesis"),
        tuning=tune,
        landscape="somewhere",
        profile="quick",
        notes=["the CNN of this test is tiny", "5 steps, not 700"],
    )
    text = path.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    for n in range(1, 7):
        assert f"### Finding {n}\n" in text
    assert text.count("**Verdict: ") == 6
    for line in [x for x in text.splitlines() if x.startswith("**Verdict: ")]:
        assert line[len("**Verdict: ") : -2] in ("holds", "does not hold", "inconclusive")
    assert "QUICK PROFILE" in text and '"problems": ["A", "B"]' in text
    assert "Master's thesis" in text and ts.__version__ in text
    assert "- the CNN of this test is tiny" in text
    assert "| NN3A | GD | 0.002 | 1e+04 |" in text and "0.00025" in text  # tuned vs Table B.1
    assert "| main | `thesis` | 42 / 42 | 0 |" in text
    assert "54.61 (22)" in text
    assert "Not run in this profile: NN3B" in text
    figures = tmp_path / "report" / "figures"
    for case in ("NN1A", "NN3A", "P1A", "P3A"):
        assert (figures / f"loss_{case}.png").stat().st_size > 10_000
        assert f"](figures/loss_{case}.png)" in text
    for case in ("NN1A", "NN3A"):
        assert (figures / f"grad_{case}.png").is_file()
    assert not (figures / "grad_P3A.png").exists()
    assert sorted(made) == [
        (1, "P1A · michell_centered_both_32x64_0.12 · pixel · L-BFGS_M1"),
        (1, "P3A · michell_centered_both_32x64_0.12 · pixel · L-BFGS_M1"),
        (2, "NN1A · michell_centered_both_32x64_0.12 · cnn(upsampling=transpose) · L-BFGS_M1"),
        (2, "NN3A · michell_centered_both_32x64_0.12 · cnn(upsampling=transpose) · L-BFGS_M1"),
    ]
    assert "](figures/landscape/NN3A/spectra.png)" in text
    for name in ("cases.csv", "table_3_2.csv", "table_3_3.csv", "findings.json"):
        assert (tmp_path / "report" / name).is_file()


def test_report_with_stages_missing_says_not_run(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "toposcape.experiments.landscape", None)  # import fails
    monkeypatch.delattr(ts.experiments, "landscape", raising=False)
    path = tr.write_thesis_report(tmp_path / "r", None, profile="miniature")
    text = path.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    assert "MINIATURE PROFILE" in text
    assert "- main study: **not run**" in text and "- tuning: **not run**" in text
    assert "*Not run: no tuning stage.*" in text and "*Not run: no landscape stage.*" in text
    assert text.count("**Verdict: inconclusive**") == 6
    # a landscape stage given, its module not importable: the figures are skipped, with a note
    path = tr.write_thesis_report(
        tmp_path / "r2", None, landscape=landscape_set(), profile={"name": "full", "seeds": [0]}
    )
    text = path.read_text()
    assert "Landscape figures skipped" in text and '`{"seeds": [0]}`' in text
    assert "QUICK" not in text and "MINIATURE" not in text


def test_findings_on_a_table_with_only_the_essential_columns():
    columns = ["case", "model", "penal", "problem", "optimizer", "seed", "status", "final_loss"]
    found = tr.findings(make_cases()[columns])
    # 1c and 4b need converged steps, 6a gradient norms
    assert verdicts(found) == {
        1: "inconclusive",
        2: "holds",
        3: "holds",
        4: "inconclusive",
        5: "holds",
        6: "inconclusive",
    }
    assert "no converged step" in found[3].evidence
