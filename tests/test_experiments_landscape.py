"""The study's landscape stage (toposcape.experiments.landscape): the rerun is the engine's run
bit for bit, the analysis is a pure function of its inputs, the convexity check separates
p = 1 from p = 3, B_0 is the identity, slices and interpolations end where they should, and
bad options are refused. Tiny problems and options: the file runs in seconds."""

from __future__ import annotations

import io

import numpy as np
import pytest
import xarray as xr

import toposcape as ts
from toposcape.errors import InvalidInputError
from toposcape.experiments import execute
from toposcape.experiments.landscape import (
    GRID_POINTS,
    LandscapeOptions,
    _hutchinson,
    analyze,
    landscape_figures,
    negative_mass,
    physics_hessian,
)
from toposcape.experiments.spec import ModelSpec, OptimizerSpec, RecordSpec, RunSpec

PROBLEM = "michell_centered_both_32x64_0.12"  # the smallest suite problem (2048 cells)

TINY = LandscapeOptions(
    steps=(0, 3, 10, 500),  # 500: beyond the run, dropped
    slq_starts=2,
    slq_steps=12,
    hutchinson_seeds=2,
    hutchinson_samples=4,
    interpolation_points=5,
    interpolation_iterates=3,
    successive_steps=4,
    inits=3,
    plane_points=5,
)

TINY_CNN = {
    "upsampling": "transpose",
    "latent_size": 8,
    "dense_channels": 4,
    "conv_filters": [8, 4, 4, 2, 1],
    "kernel_size": 3,
}


def settings(kind="pixel", penal=1.0, preset="lbfgs", max_evals=30, seed=None, **optimizer):
    """A run's settings exactly as the engine builds them (RunSpec.settings())."""
    options = {"memory": 1} if preset == "lbfgs" else {}
    options.update(optimizer)
    model = ModelSpec("pixel") if kind == "pixel" else ModelSpec("cnn", TINY_CNN)
    return RunSpec(
        problem=PROBLEM,
        model=model,
        penal=penal,
        optimizer=OptimizerSpec(preset, options),
        seed=seed,
        max_evals=max_evals,
        max_steps=None,
        record=RecordSpec(),
        threads=1,
        solver="auto",
    ).settings()


def engine_losses(run_settings):
    """The engine's own run of these settings: its per-step losses and summary."""
    result = execute("test", run_settings)
    assert result.ok, result.traceback
    with xr.open_dataset(io.BytesIO(result.netcdf), engine="scipy") as ds:
        return ds["loss"].values.copy(), result.summary


@pytest.fixture(scope="module")
def p1():
    s = settings(penal=1.0)
    return s, analyze(s, TINY)


@pytest.fixture(scope="module")
def cnn():
    s = settings(kind="cnn", penal=3.0, max_evals=10, seed=0)
    return s, analyze(s, TINY.to_dict() | {"steps": [0, 2, 500]})


# ------------------------------------------------------------------------------------------------
# The rerun and purity
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["p1", "cnn"])
def test_rerun_is_the_engine_run(case, request):
    s, ds = request.getfixturevalue(case)
    losses, summary = engine_losses(s)
    np.testing.assert_array_equal(ds["loss"].values, losses)  # bit for bit
    assert float(ds["rerun_final_loss"]) == summary["final_loss"]
    assert ds.attrs["n_steps"] == summary["n_steps"] == ds.sizes["step"] - 1


def test_analysis_is_pure(p1):
    s, ds = p1
    again = analyze(s, TINY)
    assert again.identical(ds)
    # and it survives the engine's netCDF3 store unchanged
    back = xr.open_dataset(io.BytesIO(bytes(ds.to_netcdf(engine="scipy"))), engine="scipy")
    assert back.load().identical(ds)


def test_layout_and_attributes(p1, cnn):
    _, ds = p1
    assert list(ds["density_step"].values) == [0, 3, 10]  # 500 > n_steps dropped
    assert ds["hessian_density"].dims == ("density_step", "grid")
    assert ds.sizes["grid"] == GRID_POINTS
    assert ds["plane_loss"].dims == ("plane_b", "plane_a")
    assert ds["plane_path"].dims == ("step", "xy") and ds["pca_explained"].dims[1] == "component"
    expected = {
        "problem": PROBLEM,
        "model": "pixel",
        "upsampling": "",
        "penal": 1.0,
        "seed": -1,
        "optimizer": "lbfgs",
        "memory": 1,
        "analysis_dtype": "float64",
    }
    assert {k: ds.attrs[k] for k in expected} == expected
    _, dc = cnn
    assert list(dc["density_step"].values) == [0, 2]
    assert dc.attrs["model"] == "cnn" and dc.attrs["upsampling"] == "transpose"
    assert dc.attrs["seed"] == 0 and dc.attrs["analysis_dtype"] == "float64"
    # The CNN ran in float32 and is analysed in float64: close, not equal.
    np.testing.assert_allclose(dc["analysis_loss"], dc["loss"], rtol=1e-4)
    assert not np.array_equal(dc["analysis_loss"].values, dc["loss"].values)
    for name in ("physics_negative_mass", "physics_min_ritz", "physics_max_ritz"):
        assert np.isnan(dc[name].values).all()  # only for the pixel model at p = 1


# ------------------------------------------------------------------------------------------------
# Spectra
# ------------------------------------------------------------------------------------------------
def test_convexity_check_p1(p1):
    _, ds = p1
    assert (ds["physics_negative_mass"].values < 1e-6).all()
    tol = 1e-6 * ds["physics_max_ritz"].values
    assert (ds["physics_min_ritz"].values > -tol).all()
    # The logit parameterisation itself is not convex, even at p = 1.
    assert (ds["hessian_negative_mass"].values > 0.01).all()


def test_physics_hessian_p3_is_indefinite():
    obj = ts.PixelObjective(PROBLEM, penal=3.0)
    x = obj.sigmoid.forward(obj.x0.reshape(obj.shape)).x
    masses = {}
    for penal in (1.0, 3.0):
        P = physics_hessian(PROBLEM, x, penal=penal)
        assert P.shape[0] == int(obj.mask.sum())
        _, _, (nodes, weights) = ts.landscape.spectral_density(
            P, runs=2, steps=15, seed=0, n_grid=2, return_quadrature=True
        )
        masses[penal] = negative_mass(nodes, weights)
    assert masses[1.0] < 1e-6
    assert masses[3.0] > 0.05
    # The projection: P 1 = 0 and P H P is symmetric.
    n = P.shape[0]
    assert np.abs(P @ np.ones(n)).max() < 1e-9 * np.abs(P @ np.linspace(-1, 1, n)).max()
    u, v = np.random.default_rng(1).standard_normal((2, n))
    assert u @ (P @ v) == pytest.approx(v @ (P @ u), rel=1e-10)


def test_p3_pixel_has_no_physics_check():
    s = settings(penal=3.0, max_evals=8)
    ds = analyze(s, TINY.to_dict() | {"steps": [0], "successive_steps": 1}, progress=True)
    assert np.isnan(ds["physics_negative_mass"].values).all()


def test_b0_is_the_identity(p1, cnn):
    for _, ds in (p1, cnn):
        row = ds.sel(density_step=0)
        nodes = row["bk_ritz"].values
        assert np.allclose(nodes[np.isfinite(nodes)], 1.0, rtol=0, atol=1e-12)
        assert float(row["bk_top"]) == pytest.approx(1.0, abs=1e-10)
        grid, density = row["bk_grid"].values, row["bk_density"].values
        assert abs(grid[np.argmax(density)] - 1.0) <= np.diff(grid).max()
        assert density.sum() * np.diff(grid).mean() == pytest.approx(1.0, abs=1e-3)


def test_densities_and_estimates(p1):
    _, ds = p1
    for k in ds["density_step"].values:
        row = ds.sel(density_step=k)
        grid, density = row["hessian_grid"].values, row["hessian_density"].values
        assert density.min() >= 0
        assert density.sum() * np.diff(grid).mean() == pytest.approx(1.0, abs=1e-3)
        weights = row["hessian_ritz_weight"].values
        np.testing.assert_allclose(np.nansum(weights, axis=1), 1.0, rtol=1e-10)
        top = float(row["hessian_top"])
        assert top >= np.nanmax(row["hessian_ritz"].values) * (1 - 1e-6)
        assert float(row["hessian_frobenius"]) >= top * 0.3  # ||H||_F >= lambda_max, noisy
    assert np.isfinite(ds["bk_top"].sel(density_step=[3, 10]).values).all()


def test_bk_is_the_matrix_of_the_full_run(p1):
    """B_k comes from a shorter rerun that records the pairs: the same matrices as those of
    the whole run recorded at once (its top eigenvalue, on the same Lanczos start)."""
    s, ds = p1
    obj = ts.PixelObjective(PROBLEM, penal=1.0)
    full = ts.optim.get("lbfgs", memory=1).run(
        obj, max_evals=s["max_evals"], record_memory=True, progress=False
    )
    for k in (3, 10):
        B = full.quasi_newton(k, "B")
        v = np.random.default_rng(k).standard_normal(obj.size)
        top, _ = ts.landscape.eigsh(B, k=1, which="LA", tol=1e-12, v0=v)
        assert float(ds["bk_top"].sel(density_step=k)) == pytest.approx(top[0], rel=1e-8)


def test_hutchinson_matches_the_library():
    A = np.random.default_rng(3).standard_normal((40, 40))
    A = A + A.T
    from scipy.sparse.linalg import aslinearoperator

    tr, fro = _hutchinson(aslinearoperator(A), 2, 7, (5, 1))
    lib_tr = [ts.landscape.trace(A, 7, seed=np.random.default_rng([5, 1, s])) for s in range(2)]
    lib_fro = [
        ts.landscape.frobenius_norm(A, 7, seed=np.random.default_rng([5, 1, s])) for s in range(2)
    ]
    assert tr == np.mean(lib_tr)
    assert fro == np.mean(lib_fro)


def test_negative_mass_threshold():
    nodes = np.array([[-1e-9, 0.0, 1.0, 2.0], [-0.5, 1.0, np.nan, np.nan]])
    weights = np.array([[0.25, 0.25, 0.25, 0.25], [0.4, 0.6, np.nan, np.nan]])
    # -1e-9 is rounding (below 1e-6 * 2); -0.5 is not
    assert negative_mass(nodes, weights) == pytest.approx(0.2)
    assert np.isnan(negative_mass([np.nan], [np.nan]))


# ------------------------------------------------------------------------------------------------
# Slices and metrics
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["p1", "cnn"])
def test_slices_end_where_they_should(case, request):
    _, ds = request.getfixturevalue(case)
    f = ds["analysis_loss"].values
    final = f[-1]
    centre = ds["plane_loss"].sel(plane_a=0.0, plane_b=0.0)
    assert float(centre) == pytest.approx(final, rel=1e-12)
    assert float(ds["pca_plane_loss"].sel(plane_a=0.0, plane_b=0.0)) == pytest.approx(
        final, rel=1e-12
    )
    b = ds["interp_b"]
    np.testing.assert_allclose(b.isel(alpha=0), f[b["b_iterate"].values], rtol=1e-12)
    np.testing.assert_allclose(b.isel(alpha=-1), final, rtol=1e-12)
    d = ds["interp_d"]
    np.testing.assert_allclose(d.isel(alpha=0), f[d["d_step"].values], rtol=1e-12)
    np.testing.assert_allclose(d.isel(alpha=-1), f[d["d_step"].values + 1], rtol=1e-12)
    c = ds["interp_c"]
    np.testing.assert_allclose(c.isel(alpha=-1), final, rtol=1e-12)
    # (a) runs from initialisation 1 to initialisation 2
    assert float(ds["interp_a"][0]) == float(c.sel(c_init=1).isel(alpha=0))
    assert float(ds["interp_a"][-1]) == float(c.sel(c_init=2).isel(alpha=0))
    # the paths end at the centre of their planes; the PCA plane covers its path
    np.testing.assert_allclose(ds["plane_path"][-1], 0.0, atol=1e-9)
    np.testing.assert_allclose(ds["pca_path"][-1], 0.0, atol=1e-9)
    reach = np.abs(ds["pca_path"].values).max(axis=0)
    np.testing.assert_allclose(reach, 1.0 / 1.2, rtol=1e-9)
    evr = ds["pca_explained"].values
    assert np.nanmax(evr.sum(axis=1)) <= 1 + 1e-12


def test_cnn_inits_are_other_seeds(cnn):
    s, ds = cnn
    from toposcape.models.neural import CNNObjective

    obj = CNNObjective(PROBLEM, penal=3.0, seed=1, dtype="float64", **TINY_CNN)
    assert float(ds["interp_a"][0]) == pytest.approx(obj.value(obj.x0), rel=1e-12)


def test_metrics(p1):
    _, ds = p1
    assert ds["distance"][0] == 0 and ds["distance_to_final"][-1] == 0
    assert np.isnan(ds["grad_cosine"][0]) and np.isnan(ds["step_length"][0])
    overlap = ds["overlap"].values
    assert np.all((overlap >= -1) & (overlap <= 1))
    assert (ds["grad_norm"].values > 0).all()
    np.testing.assert_allclose(ds["analysis_loss"], ds["loss"], rtol=1e-12)  # pixels: float64


def test_gd_run_has_no_memory():
    s = settings(preset="gd", max_evals=None, lr=1.0)
    s["max_steps"] = 6
    ds = analyze(s, TINY.to_dict() | {"steps": [0, 6], "metrics_overlap": False})
    assert ds.attrs["memory"] == -1
    assert np.isnan(ds["bk_density"].values).all() and np.isnan(ds["bk_top"].values).all()
    assert np.isfinite(ds["hessian_top"].values).all()
    assert np.isnan(ds["overlap"].values).all()


# ------------------------------------------------------------------------------------------------
# Options and bad input
# ------------------------------------------------------------------------------------------------
def test_options_round_trip():
    default = LandscapeOptions()
    assert default.steps == (0, 10, 28) and default.variance == 1e-4
    assert LandscapeOptions.from_dict(default.to_dict()) == default
    assert LandscapeOptions.from_dict({"steps": [5, 0, 5]}).steps == (0, 5)
    assert LandscapeOptions.from_dict(None) == default


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"slq_start": 3}, InvalidInputError, "slq_start.*valid: steps"),
        ({"slq_starts": 0}, InvalidInputError, "slq_starts"),
        ({"slq_starts": 1.5}, TypeError, "slq_starts"),
        ({"plane_points": 20}, InvalidInputError, "odd"),
        ({"variance": 0.0}, InvalidInputError, "variance"),
        ({"variance": "1e-4"}, TypeError, "variance"),
        ({"metrics_overlap": 1}, TypeError, "metrics_overlap"),
        ({"dtype": "float16"}, InvalidInputError, "dtype"),
        ({"steps": "0, 10"}, TypeError, "steps"),
        ({"steps": [0, -1]}, InvalidInputError, "steps"),
        ({"inits": 1}, InvalidInputError, "inits"),
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        LandscapeOptions.from_dict(options)


def test_bad_analyze_input():
    good = settings(max_evals=5)
    with pytest.raises(TypeError, match="options"):
        analyze(good, options=5)
    with pytest.raises(TypeError, match="run_settings"):
        analyze("michell")
    with pytest.raises(TypeError, match="mapping"):
        LandscapeOptions.from_dict([("steps", [0])])
    incomplete = {k: v for k, v in good.items() if k not in ("penal", "optimizer")}
    with pytest.raises(InvalidInputError, match="'penal', 'optimizer'"):
        analyze(incomplete)
    with pytest.raises(InvalidInputError, match="kind"):
        analyze(good | {"model": {"kind": "mlp"}})
    with pytest.raises(InvalidInputError, match="enforces the volume"):
        analyze(good | {"optimizer": {"preset": "oc"}})
    with pytest.raises(TypeError, match="progress"):
        analyze(good, TINY, progress="yes")


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------
def test_figures(p1, cnn, tmp_path):
    paths = landscape_figures([p1[1], p1[1]], tmp_path / "p1", "P1A")
    assert set(paths) == {"spectra", "interpolations", "planes", "metrics"}
    for path in paths.values():
        assert path.exists() and path.stat().st_size > 10_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert landscape_figures([cnn[1]], tmp_path / "cnn", "NN3A")["spectra"].exists()
    with pytest.raises(InvalidInputError, match="at least one"):
        landscape_figures([], tmp_path, "x")
    with pytest.raises(TypeError, match="datasets"):
        landscape_figures([xr.Dataset()], tmp_path, "x")
    with pytest.raises(TypeError, match="title"):
        landscape_figures([p1[1]], tmp_path, 3)
