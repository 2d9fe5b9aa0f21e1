"""Figures of the landscape tools: they draw under Agg and hold the expected axes and artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

import toposcape as ts  # noqa: E402
from toposcape.errors import InvalidInputError  # noqa: E402
from toposcape.landscape.plotting import (  # noqa: E402
    plot_interpolation,
    plot_interpolation_designs,
    plot_plane,
    plot_run_metrics,
    plot_spectral_densities,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


class Quadratic:
    def __init__(self, n=6):
        self.size = n
        self.A = np.diag(np.arange(1.0, n + 1))
        self.x0 = np.ones(n)

    def value_and_grad(self, x):
        return float(0.5 * x @ self.A @ x), self.A @ x


def _density(center):
    grid = np.linspace(-1.0, 10.0, 200)
    return grid, np.exp(-((grid - center) ** 2)) / np.sqrt(np.pi)


def test_spectral_densities_side_by_side():
    steps = [0, 10, 28]
    hess = {s: _density(s / 10) for s in steps}
    qn = [_density(1.0 + s / 20) for s in steps]
    fig = plot_spectral_densities(hess, qn)
    axes = fig.get_axes()
    assert len(axes) == 6
    assert all(len(a.get_lines()) == 1 for a in axes)
    assert axes[0].get_yscale() == "log"
    titles = [a.get_title() for a in axes]
    assert "Hessian, step 28" in titles and any("B_k" in t and "step 10" in t for t in titles)
    # Hessian only, into given axes; one (grid, dens) pair.
    fig2, ax = plt.subplots(1, 1)
    out = plot_spectral_densities(_density(0.0), axes=[ax], logy=False, steps=["x"])
    assert out is fig2 and len(ax.get_lines()) == 1 and ax.get_yscale() == "linear"
    with pytest.raises(InvalidInputError):
        plot_spectral_densities(hess, qn[:2])


def test_interpolation_curves():
    alphas = np.linspace(0, 1, 11)
    fig = plot_interpolation(alphas, alphas**2)
    (ax,) = fig.get_axes()
    assert len(ax.get_lines()) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), alphas**2)
    # Many curves from a labelled array: one line each, a colour bar.
    da = xr.DataArray(
        np.outer(np.arange(12.0), alphas),
        dims=("step", "alpha"),
        coords={"step": np.arange(12), "alpha": alphas},
    )
    fig = plot_interpolation(da, logy=False)
    axes = fig.get_axes()
    assert len(axes) == 2  # the plot and its colour bar
    assert len(axes[0].get_lines()) == 12
    # Labels -> legend.
    fig, ax = plt.subplots()
    plot_interpolation(alphas, np.vstack([alphas, 1 - alphas]), ax=ax, labels=["a", "b"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(InvalidInputError):
        plot_interpolation(alphas, np.ones(5))


def test_plane_with_trajectories():
    a = np.linspace(-1, 1, 9)
    A, B_ = np.meshgrid(a, a)
    L = A**2 + 3 * B_**2
    xy = np.column_stack([np.linspace(1, 0, 6), np.linspace(-1, 0, 6)])
    fig = plot_plane(A, B_, L, xy=[xy, 0.5 * xy], labels=["gd", "lbfgs"])
    axes = fig.get_axes()
    assert len(axes) == 2  # plane + colour bar
    ax = axes[0]
    # Each path: the line, a start marker, an end marker.
    assert len(ax.get_lines()) == 6
    np.testing.assert_allclose(ax.get_lines()[0].get_xydata(), xy)
    assert ax.get_legend() is not None
    fig = plot_plane(A, B_, L, xy=xy, log=True, filled=False, colorbar=False)
    assert len(fig.get_axes()) == 1 and len(fig.get_axes()[0].get_lines()) == 3
    with pytest.raises(InvalidInputError):
        plot_plane(A, B_, L[:-1])
    with pytest.raises(InvalidInputError):
        plot_plane(A, B_, L, xy=np.ones((3, 3)))


def test_run_metrics_overlay_and_median():
    q = Quadratic()
    runs = [ts.optim.get("gd", lr=0.1).run(q, q.x0 * (1 + s), max_steps=5 + s) for s in range(3)]
    fig = plot_run_metrics(runs, median=True)
    ax_d, ax_g = fig.get_axes()
    assert ax_g.get_yscale() == "log" and ax_d.get_yscale() == "linear"
    assert len(ax_d.get_lines()) == 4 and len(ax_g.get_lines()) == 4  # 3 runs + median
    med = ax_g.get_lines()[-1].get_ydata()
    stacked = np.full((3, 8), np.nan)
    for i, r in enumerate(runs):
        stacked[i, : r.grad_norms.size] = r.grad_norms
    np.testing.assert_allclose(med, np.nanmedian(stacked, axis=0))
    # Groups (e.g. optimizers), Datasets as runs, into given axes.
    fig2, axes = plt.subplots(1, 2)
    out = plot_run_metrics({"gd": runs[:2], "one": runs[2].to_xarray()}, axes=axes)
    assert out is fig2
    assert len(axes[0].get_lines()) == 3
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["gd", "one"]
    with pytest.raises(TypeError, match=r"runs\[0\] must be a Trajectory or a Dataset"):
        plot_run_metrics([object()])


@pytest.fixture(scope="module")
def lbfgs_run():
    obj = ts.PixelObjective(ts.problems.mbb_beam(width=24, height=8, density=0.5))
    return ts.optim.get("lbfgs").run(obj, max_evals=20)


def test_run_metrics_accepts_every_documented_run(lbfgs_run):
    """A Trajectory, its to_xarray() Dataset and trajectory_metrics() Dataset, alone, in a
    list or in a mapping, all draw the same curves. (A lone Dataset used to be read as a
    mapping of its variables and rejected.)"""
    traj = lbfgs_run
    ds = traj.to_xarray()
    metrics = ts.landscape.trajectory_metrics(traj)
    for run in (traj, ds, metrics, [ds], (traj, ds), {"lbfgs": ds}, {"lbfgs": [metrics, ds]}):
        fig = plot_run_metrics(run)
        ax_d, ax_g = fig.get_axes()
        for line in ax_d.get_lines():
            np.testing.assert_array_equal(line.get_ydata(), traj.distances)
        for line in ax_g.get_lines():
            np.testing.assert_array_equal(line.get_ydata(), traj.grad_norms)
        plt.close(fig)
    # The top-level package's name, as a new user would call it.
    assert ts.landscape.plot_run_metrics(ds).get_axes()[0].get_lines()


def test_run_metrics_rejects_what_it_cannot_draw(lbfgs_run):
    ds = lbfgs_run.to_xarray()
    with pytest.raises(InvalidInputError, match="'distance' and 'grad_norm'"):
        plot_run_metrics(ds.drop_vars("distance"))
    seeds = xr.concat([ds, ds], dim="seed")
    with pytest.raises(InvalidInputError, match="single dimension 'step'"):
        plot_run_metrics(seeds)
    with pytest.raises(InvalidInputError, match="at least one run"):
        plot_run_metrics({"gd": []})
    for bad in ("runs", None, 3.0, np.ones(5)):
        with pytest.raises(TypeError, match="runs must be a Trajectory, a Dataset"):
            plot_run_metrics(bad)
    with pytest.raises(TypeError, match=r"runs\['x'\]\[1\] must be a Trajectory"):
        plot_run_metrics({"x": [ds, "theta"]})


def test_designs_along_interpolation():
    obj = ts.PixelObjective(ts.problems.mbb_beam(width=8, height=4, density=0.5), penal=3.0)
    rng = np.random.default_rng(0)
    a, b = obj.x0, obj.x0 + rng.standard_normal(obj.size)
    fig = plot_interpolation_designs(obj, a, b, alphas=(0.0, 0.5, 1.0))
    axes = fig.get_axes()
    assert len(axes) == 3
    for ax, al in zip(axes, (0.0, 0.5, 1.0), strict=True):
        (im,) = ax.get_images()
        assert im.get_cmap().name == "gray_r"
        assert im.get_array().shape == (4, 8)
        assert f"{al:g}" in ax.get_title() and "loss" in ax.get_title()
    np.testing.assert_allclose(axes[2].get_images()[0].get_array(), obj.design(b))
    with pytest.raises(TypeError, match=r"obj must be an objective with a method design\(theta\)"):
        plot_interpolation_designs(Quadratic(), np.ones(6), np.zeros(6))
