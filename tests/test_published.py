"""The published results shipped as package data (the thesis' tables, with their citation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toposcape as ts

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "thesis_tables.json"
STUDIES = Path(__file__).resolve().parents[1].parent / "shared" / "specs" / "studies.md"


def test_thesis_tables_are_shipped_with_their_citation():
    tables = ts.experiments.thesis_tables()
    assert "thesis" in tables["citation"] and "Table 3.3" in tables["citation"]
    table = tables["table_3_3"]
    assert table["columns"] == ["GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS"]
    codes = {f"{m}{p}{c}" for m in ("NN", "P") for p in (1, 3) for c in "ABDE"}
    assert set(table["rows"]) == codes
    assert table["rows"]["NN3A"][-1] == {"loss": 54.61, "converged_step": 22}
    assert set(tables["table_3_2"]["rows"]) == {"A", "B", "D", "E"}


def test_thesis_tables_are_a_copy():
    ts.experiments.thesis_tables()["table_3_3"]["rows"].clear()
    assert ts.experiments.thesis_tables()["table_3_3"]["rows"]


def test_thesis_tables_equal_the_reference_where_it_exists():
    if not SHARED.exists():  # a clone without ../shared: the shipped copy stands alone
        return
    reference = json.loads(SHARED.read_text())
    shipped = ts.experiments.thesis_tables()
    for key in ("table_3_2", "table_3_3"):
        assert shipped[key] == reference[key]


def test_step_size_tables_are_shipped():
    steps = ts.experiments.thesis_tables()["tables_B1_B3"]
    assert steps["columns"] == ["GD", "HD_M1", "HD_M10"]
    assert steps["rows"]["NN3A"] == [2.5e-4, 0.004, 0.005]
    assert steps["rows"]["P1E"] == [10, 1.26, 0.79]
    if not STUDIES.exists():
        return
    import re

    published = {}
    for line in STUDIES.read_text().splitlines():
        m = re.match(r"\| ((?:NN|P)[13][ABDE]) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            published[m.group(1)] = [float(m.group(i)) for i in (2, 3, 4)]
    assert published == steps["rows"]


def test_thesis_specs_in_every_profile():
    import tomllib

    from toposcape.experiments.tuning import load_tuning

    for profile, problems, seeds, trials, steps in (
        ("quick", 2, 3, 10, 300),
        ("full", 4, 10, 30, 700),
    ):
        tuning = load_tuning(ts.experiments.thesis_spec("tune", profile))
        # GD, HD_M1, HD_M10 for each of the 2 x 2 x problems test cases
        assert len(tuning.cases) == 3 * 2 * 2 * problems
        assert tuning.tune.trials == trials and tuning.tune.scale == "grad"
        assert tuning.study.max_steps is None
        assert {o.budget for o in tuning.study.optimizers} == {(None, steps)}
        main = tomllib.loads(ts.experiments.thesis_spec("main", profile, "out/tune"))
        assert len(main["problems"]) == problems and len(main["seeds"]) == seeds
        assert {m["kind"] for m in main["models"]} == {"pixel", "cnn"}
        assert [m.get("upsampling") for m in main["models"]] == [None, "transpose"]
        budgets = {
            o["label"]: (o["preset"], o.get("memory"), o.get("max_evals"), o.get("max_steps"))
            for o in main["optimizers"]
        }
        assert budgets == {
            "L-BFGS": ("lbfgs", 10, 300, None),
            "L-BFGS_M1": ("lbfgs", 1, 300, None),
            "GD": ("gd", None, None, 700),
            "GD_2000": ("gd", None, None, 2000),
            "GD_LS": ("gd_ls", None, None, 700),
            "HD_M1": ("hd", 1, None, 700),
            "HD_M10": ("hd", 10, None, 700),
        }
        tuned = [o for o in main["optimizers"] if o["preset"] in ("gd", "hd")]
        assert all(o["lr"] == "tuned:out/tune" for o in tuned)
        landscape = tomllib.loads(ts.experiments.thesis_spec("landscape", profile))
        assert landscape["optimizers"] == [
            {"preset": "lbfgs", "memory": 1, "max_evals": 300, "label": "L-BFGS_M1"}
        ]
        assert set(landscape["problems"]) <= set(main["problems"])
    assert tomllib.loads(ts.experiments.thesis_spec("landscape", "full"))["problems"] == ["A", "D"]
    bilinear = tomllib.loads(
        ts.experiments.thesis_spec("main", "quick", "out/tune", upsampling="bilinear")
    )
    assert bilinear["models"][1] == {"kind": "cnn", "upsampling": "bilinear"}
    assert tomllib.loads(ts.experiments.thesis_spec("main", "quick", "t", seeds=[4, 5]))[
        "seeds"
    ] == [4, 5]
    with pytest.raises(ts.InvalidInputError, match="seed"):
        ts.experiments.thesis_spec("main", "quick", "t", sedes=[4])


def test_thesis_main_spec_needs_its_tuning(tmp_path):
    text = ts.experiments.thesis_spec("main", "quick", str(tmp_path / "nowhere"))
    with pytest.raises(ts.InvalidInputError, match="tuned"):
        ts.experiments.load_spec(text)
    with pytest.raises(TypeError, match="tuning"):
        ts.experiments.thesis_spec("main", "quick")
    with pytest.raises(ts.InvalidInputError, match="profile"):
        ts.experiments.thesis_spec("tune", "tiny")
