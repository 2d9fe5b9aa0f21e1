"""Slow runs of the examples (``python -m pytest -m slow``), checked against what they must show."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_landscape_analysis_example_quick(tmp_path):
    summary = _example("landscape_analysis").run(tmp_path, seeds=2, quick=True)
    for name in (
        "densities.png",
        "interpolations.png",
        "interpolation_designs.png",
        "plane.png",
        "run_metrics.png",
        "summary.nc",
    ):
        assert (tmp_path / name).stat().st_size > 0
    # B_0 is the identity: its density is one peak at 1.
    density = summary["bk_density_step0"]
    assert float(density["grid_b0"][int(np.argmax(density.values))]) == pytest.approx(1.0, abs=1e-3)
    # Every interpolation (c) ends at the final point; (b) and (d) start at iterates.
    c = summary["interpolation_c"].values
    np.testing.assert_allclose(c[:, -1], float(summary["final_loss"]), rtol=1e-9)
    b = summary["interpolation_b"].values
    np.testing.assert_allclose(b[:, -1], float(summary["final_loss"]), rtol=1e-9)
    # The plane is centred on the initial point.
    plane = summary["plane_loss"]
    centre = plane.sel(a=0.0, b=0.0, method="nearest")
    assert float(centre) == pytest.approx(float(summary["initial_loss"]), rel=1e-9)
    assert np.all(np.isfinite(plane.values))
