"""The command-line interface."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from toposcape.cli import main


def test_run_writes_design_curve_and_trajectory(tmp_path, capsys):
    rc = main(
        [
            "run",
            "michell_centered_both_32x64_0.12",
            "--model",
            "pixel",
            "--max-evals",
            "12",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    stem = "michell_centered_both_32x64_0.12_pixel_lbfgs_seed0"
    for suffix in ("_design.png", "_loss.png", ".nc"):
        assert (tmp_path / f"{stem}{suffix}").stat().st_size > 0
    ds = xr.load_dataset(tmp_path / f"{stem}.nc", engine="scipy")
    assert ds.sizes["evaluation"] == 12
    assert ds["design"].shape == (64, 32)
    assert float(ds["loss"][-1]) < float(ds["loss"][0])
    assert np.isclose(float(ds["eval_loss"].min()), ds.attrs["best_loss"])
    assert "best compliance" in capsys.readouterr().out


def test_run_passes_optimizer_options(tmp_path):
    rc = main(
        [
            "run",
            "michell_centered_both_32x64_0.12",
            "--model",
            "pixel",
            "--optimizer",
            "gd",
            "-o",
            "lr=0.1",
            "--max-evals",
            "4",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    ds = xr.load_dataset(
        tmp_path / "michell_centered_both_32x64_0.12_pixel_gd_seed0.nc", engine="scipy"
    )
    assert ds.attrs["optimizer"] == "gd"
    np.testing.assert_allclose(ds["step_size"][1:], 0.1)


@pytest.mark.parametrize("extra, expected", [([], "float32"), (["-o", "pair_dtype=float64"], None)])
def test_run_keeps_cnn_pairs_in_the_cnn_precision(tmp_path, extra, expected):
    # The float32 CNN's L-BFGS keeps its pairs in float32 unless told otherwise.
    argv = ["run", "--max-evals", "3", "--out", str(tmp_path), "--quiet", *extra]
    assert main(argv) == 0
    ds = xr.load_dataset(
        tmp_path / "michell_centered_both_32x64_0.12_cnn_lbfgs_seed0.nc", engine="scipy"
    )
    config = ds.attrs["optimizer_config"]
    assert config.startswith("Optimizer('lbfgs'")
    if expected is None:
        assert "pair_dtype" not in config
    else:
        assert f"pair_dtype='{expected}'" in config


def test_evaluate_prints_timings(capsys):
    assert main(["evaluate", "michell_centered_both_32x64_0.12", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "compliance" in out and "hvp" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "no_such_problem", "--quiet"],
        ["run", "michell_centered_both_32x64_0.12", "--optimizer", "nope", "--quiet"],
        ["evaluate", "no_such_problem"],
    ],
)
def test_errors_exit_with_status_2(argv, tmp_path, capsys):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "run" else [])]) == 2
    assert "error" in capsys.readouterr().err


def test_problems_lists_the_suite(capsys):
    assert main(["problems", "hoop"]) == 0
    assert capsys.readouterr().out.split() == [
        "hoop_32x64_0.25",
        "hoop_64x128_0.2",
        "hoop_128x256_0.15",
    ]
