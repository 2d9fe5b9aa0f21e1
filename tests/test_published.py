"""The published results shipped as package data (the thesis' tables, with their citation)."""

from __future__ import annotations

import json
from pathlib import Path

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
