"""The command-line interface."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import toposcape as ts
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
    stem = "michell_centered_both_32x64_0.12_pixel_p3_lbfgs_evals12"
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
        tmp_path / "michell_centered_both_32x64_0.12_pixel_p3_gd-lr=0.1_evals4.nc", engine="scipy"
    )
    assert ds.attrs["optimizer"] == "gd"
    np.testing.assert_allclose(ds["step_size"][1:], 0.1)


@pytest.mark.parametrize(
    "extra, expected",
    [
        ([], "float32"),
        (["-o", "pair_dtype=float64"], "float64"),
        (["--dtype", "float64"], "float64"),
        (["--model", "pixel"], "float64"),
    ],
)
def test_run_keeps_cnn_pairs_in_the_cnn_precision(tmp_path, extra, expected):
    # L-BFGS's default pair_dtype="auto" keeps a float32 CNN's pairs in float32, others in
    # float64, unless told otherwise; the file records what was used.
    argv = ["run", "--max-evals", "3", "--out", str(tmp_path), "--quiet", *extra]
    assert main(argv) == 0
    (path,) = tmp_path.glob("*.nc")
    ds = xr.load_dataset(path, engine="scipy")
    config = ds.attrs["optimizer_config"]
    assert config.startswith("Optimizer('lbfgs'")
    assert ds.attrs["pair_dtype"] == expected
    assert ("pair_dtype" in config) == ("pair_dtype" in " ".join(extra))


def test_run_equals_the_python_api_default(tmp_path):
    # `toposcape run` and the Python API's defaults are one configuration: same numbers.
    argv = ["run", "--max-evals", "6", "--seed", "2", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    (path,) = tmp_path.glob("*.nc")
    ds = xr.load_dataset(path, engine="scipy")
    obj = ts.CNNObjective(ts.problems.get(ds.attrs["problem"]), seed=2)
    traj = ts.optim.get("lbfgs").run(obj, max_evals=6, progress=False)
    np.testing.assert_array_equal(ds["loss"].values, traj.losses)


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


# ---------------------------------------------------------------------------------------------
# What a new user typed (each failed before the hardening issue)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["oc", "mma"])
def test_run_baselines_on_the_pixel_model(tmp_path, optimizer):
    # Ended in a TypeError traceback: the CLI passed progress= and the baselines had no such
    # parameter.
    argv = ["run", "mbb_beam_96x32_0.5", "--model", "pixel", "--optimizer", optimizer]
    assert main([*argv, "--max-evals", "6", "--out", str(tmp_path), "--quiet"]) == 0
    (path,) = tmp_path.glob("*.nc")
    ds = xr.load_dataset(path, engine="scipy")
    assert ds.attrs["optimizer"] == optimizer and ds.sizes["evaluation"] == 6
    # the baselines enforce the target volume on the design they report
    assert abs(float(ds["design"].mean()) - 0.5) < 1e-3


def test_run_baseline_on_the_cnn_says_to_use_pixels(tmp_path, capsys):
    assert main(["run", "--optimizer", "oc", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--model pixel" in capsys.readouterr().err


def test_misspelt_option_lists_the_valid_ones(tmp_path, capsys):
    argv = ["run", "--model", "pixel", "-o", "memroy=3", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no option 'memroy'" in err and "did you mean 'memory'" in err
    assert "pair_dtype=" in err and "StrongWolfe" not in err


def test_required_option_says_so(tmp_path, capsys):
    argv = ["run", "--model", "pixel", "--optimizer", "gd", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs a value for lr" in err and "-o lr=" in err


@pytest.mark.parametrize("value", ["abc", "-1", "nan"])
def test_bad_option_value_is_an_error_not_a_traceback(tmp_path, capsys, value):
    argv = ["run", "--model", "pixel", "--optimizer", "gd", "-o", f"lr={value}"]
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == 2
    assert "lr must be" in capsys.readouterr().err


def test_unwritable_output_folder(capsys):
    argv = ["run", "--model", "pixel", "--max-evals", "2", "--out", "/proc/x", "--quiet"]
    assert main(argv) == 2
    assert "cannot write to the output folder '/proc/x'" in capsys.readouterr().err


def test_problems_without_a_match_says_so(capsys):
    assert main(["problems", "nothing"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no suite problem name contains 'nothing'" in captured.err


def test_evaluate_needs_a_problem(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate"])
    assert exc.value.code == 2
    assert "required: problem" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--max-evals", "-5"], "argument --max-evals: must be at least 1, got -5"),
        (["run", "--max-evals", "0"], "argument --max-evals: must be at least 1, got 0"),
        (["run", "--max-steps", "x"], "argument --max-steps: expected an integer, got 'x'"),
        (["run", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
        (["evaluate", "mbb_beam_96x32_0.5", "--repeat", "0"], "argument --repeat: must be at"),
    ],
)
def test_bad_counts_are_refused_before_anything_runs(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, *(["--out", str(tmp_path)] if argv[0] == "run" else [])])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""  # no run header: nothing was built
    assert not any(tmp_path.iterdir())


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"toposcape {ts.__version__}"


def test_optimizers_lists_presets_with_options(capsys):
    assert main(["optimizers"]) == 0
    out = capsys.readouterr().out
    for name in ("lbfgs", "gd", "gd_ls", "hd", "oc", "mma", "adam"):
        assert f"\n{name}: " in f"\n{out}"
    assert "memory (default 10)" in out and "lr (required)" in out
    assert main(["optimizers", "gd"]) == 0
    assert capsys.readouterr().out.startswith("gd: ")
    assert main(["optimizers", "lbgfs"]) == 2
    assert "did you mean 'lbfgs'" in capsys.readouterr().err


def test_different_runs_write_different_files(tmp_path):
    base = ["run", "mbb_beam_96x32_0.5", "--model", "pixel", "--out", str(tmp_path), "--quiet"]
    variants = [
        ["--max-evals", "3"],
        ["--max-evals", "4"],
        ["--max-evals", "3", "--penal", "1"],
        ["--max-evals", "3", "-o", "memory=1"],
        ["--max-evals", "3", "--max-steps", "2"],
    ]
    for extra in variants:
        assert main([*base, *extra]) == 0
    assert len(list(tmp_path.glob("*.nc"))) == len(variants)


def test_cnn_file_name_holds_variant_dtype_and_seed(tmp_path):
    argv = ["run", "--max-evals", "2", "--out", str(tmp_path), "--quiet"]
    assert main([*argv, "--upsampling", "transpose", "--dtype", "float64", "--seed", "3"]) == 0
    (path,) = tmp_path.glob("*.nc")
    assert "_cnn_transpose_float64_" in path.name and path.name.endswith("_seed3.nc")
    ds = xr.load_dataset(path, engine="scipy")
    assert ds.attrs["upsampling"] == "transpose" and ds.attrs["seed"] == 3
    assert ds.attrs["thread_core"] >= 1 and "thread_torch" in ds.attrs


def test_saved_run_reads_back_into_a_trajectory(tmp_path):
    import toposcape as ts

    argv = ["run", "mbb_beam_96x32_0.5", "--model", "pixel", "--max-evals", "5"]
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == 0
    (path,) = tmp_path.glob("*.nc")
    traj = ts.optim.Trajectory.load(path)
    again = ts.optim.get("lbfgs").run(ts.PixelObjective("mbb_beam_96x32_0.5"), max_evals=5)
    np.testing.assert_array_equal(traj.eval_losses, again.eval_losses)
    np.testing.assert_array_equal(traj.best_theta, again.best_theta)
    assert traj.reason == again.reason


def test_run_with_only_a_step_budget_takes_that_many_steps(tmp_path):
    argv = "run mbb_beam_96x32_0.5 --model pixel --optimizer gd -o lr=0.1 --max-steps 320"
    assert main([*argv.split(), "--out", str(tmp_path), "--quiet"]) == 0
    ds = xr.load_dataset(tmp_path / "mbb_beam_96x32_0.5_pixel_p3_gd-lr=0.1_steps320.nc")
    assert ds.sizes["step"] == 321  # not cut at the default 300 evaluations
