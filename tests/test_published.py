"""The published results shipped as package data (the thesis' tables, with their citation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toposcape as ts

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "thesis_tables.json"


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
    for key in ("table_3_2", "table_3_3", "tables_B1_B3"):
        assert shipped[key] == reference[key]


def test_thesis_specs_in_both_profiles():
    import tomllib

    from toposcape.experiments.tuning import load_tuning

    for profile, problems, seeds, trials in (("quick", 2, 3, 10), ("full", 4, 10, 30)):
        tuning = load_tuning(ts.experiments.thesis_spec("tune", profile))
        # GD, HD_M1, HD_M10 for each of the 2 x 2 x problems test cases
        assert len(tuning.cases) == 3 * 2 * 2 * problems
        assert tuning.tune.trials == trials and tuning.tune.scale == "grad"
        assert len(tuning.study.seeds) == seeds
        main = tomllib.loads(ts.experiments.thesis_spec("main", profile, "out/tune"))
        assert len(main["problems"]) == problems and len(main["seeds"]) == seeds
        assert {m["kind"] for m in main["models"]} == {"pixel", "cnn"}
        assert [m.get("upsampling") for m in main["models"]] == [None, "transpose"]
        budgets = {
            (o["preset"], str(o.get("memory"))): (o.get("max_evals"), o.get("max_steps"))
            for o in main["optimizers"]
        }
        assert budgets[("lbfgs", "[10, 1]")] == (300, None)  # L-BFGS and L-BFGS_M1
        assert budgets[("gd_ls", "None")] == (None, 700)
        assert budgets[("hd", "[1, 10]")] == (None, 700)
        gd = [o for o in main["optimizers"] if o["preset"] == "gd"]
        assert sorted(o["max_steps"] for o in gd) == [700, 2000]
        assert all(o["lr"] == "tuned:out/tune" for o in gd)


def test_thesis_main_spec_needs_its_tuning(tmp_path):
    text = ts.experiments.thesis_spec("main", "quick", str(tmp_path / "nowhere"))
    with pytest.raises(ts.InvalidInputError, match="tuned"):
        ts.experiments.load_spec(text)
    with pytest.raises(TypeError, match="tuning"):
        ts.experiments.thesis_spec("main", "quick")
    with pytest.raises(ts.InvalidInputError, match="profile"):
        ts.experiments.thesis_spec("tune", "tiny")
