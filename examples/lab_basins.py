"""Study (a) of ``studies.md`` section 3: deterministic optimizers on the benchmark networks.

The five networks of ``ts.lab.networks`` (critical points known exactly) x {GD, momentum, Adam,
Levenberg-Marquardt, energy-adaptive GD (``gd_energy``), Euler-Richardson}:

1. Basin maps from a grid of starts over each network's box (``ts.lab.basins``; 400 x 400 for
   ``two_depths`` in the full variant, 200 x 200 for the others): which critical point each
   start reaches, which diverge, which do not converge within the budget.
2. Reach probabilities from uniformly random starts in the box, with binomial standard errors
   (``ts.lab.reach_probabilities``).
3. Divergence: GD against the energy-adaptive GD at the same (initial) step, over a range of
   steps (the energy rule must diverge from no start).
4. Sensitivity near each minimum of ``two_depths`` and ``exp_steep``: the share of starts
   within distance r of the minimum that end elsewhere, for Adam at several steps against GD
   and the energy rule (Adam can leave a minimum it starts next to).

Step sizes (``SETTINGS``): GD's step is ~1/lambda_max of the steepest minimum (stable at every
minimum, 2/lambda_max being the limit) and the same initial step is given to ``gd_energy`` and
``euler_richardson``; momentum (beta 0.9) gets ``(1 - beta)`` times it, the same effective
step; Adam 0.01 (so that 2000 steps can travel the box); LM its default damping. Budgets:
2000 steps for the first-order methods, 200 for LM.

Usage::

    python examples/lab_basins.py [--quick] [--out results/lab-basins]

Writes PNG figures and CSV tables to ``--out`` and prints the tables (Markdown). The full
variant takes ~10 minutes on 2 shared cores; ``--quick`` (61 x 61 grids, 300 random starts,
400 steps) ~1 minute.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import toposcape as ts
from toposcape.lab import networks

#: per network: GD step (also gd_energy's and euler_richardson's initial step), Adam step
SETTINGS = {
    "two_depths": {"lr": 0.01, "adam": 0.01},
    "symmetric_squares": {"lr": 0.01, "adam": 0.01},
    "degenerate_gate": {"lr": 0.02, "adam": 0.01},
    "exp_steep": {"lr": 0.01, "adam": 0.01},
    "tanh_infinity": {"lr": 0.05, "adam": 0.01},
}
BETA = 0.9
OPTIMIZERS = ["gd", "momentum", "adam", "lm", "gd_energy", "euler_richardson"]
LABELS = {
    "gd": "GD",
    "momentum": "momentum",
    "adam": "Adam",
    "lm": "LM",
    "gd_energy": "energy GD",
    "euler_richardson": "Euler-Richardson",
}

FULL = {
    "grid": {"two_depths": 400},
    "grid_default": 200,
    "steps": 2000,
    "lm_steps": 200,
    "random": 4000,
    "divergence_grid": 101,
    "divergence_steps": 1000,
    "divergence_factors": (0.5, 1.0, 2.0, 5.0, 20.0),
    "sensitivity_grid": 121,
    "sensitivity_steps": 1000,
}
QUICK = {
    "grid": {},
    "grid_default": 61,
    "steps": 400,
    "lm_steps": 100,
    "random": 300,
    "divergence_grid": 31,
    "divergence_steps": 300,
    "divergence_factors": (1.0, 5.0),
    "sensitivity_grid": 31,
    "sensitivity_steps": 300,
}
SENSITIVITY_NETWORKS = ("two_depths", "exp_steep")
ADAM_STEPS = (0.01, 0.05, 0.1, 0.2)
RADII = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def optimizer(name: str, network: str, lr: float | None = None):
    """The study's optimizer ``name`` with the step of ``SETTINGS[network]`` (or ``lr``)."""
    s = SETTINGS[network]
    step = s["lr"] if lr is None else lr
    if name == "gd":
        return ts.optim.get("gd", lr=step)
    if name == "momentum":
        return ts.optim.get("momentum", lr=(1 - BETA) * step, beta=BETA)
    if name == "adam":
        return ts.optim.get("adam", lr=s["adam"] if lr is None else lr)
    if name == "lm":
        return ts.optim.get("lm")
    if name == "gd_energy":
        return ts.optim.get("gd_energy", lr=step)
    if name == "euler_richardson":
        return ts.optim.get("euler_richardson", lr=step)
    raise KeyError(name)


def box(net) -> tuple[np.ndarray, np.ndarray]:
    return np.array([b[0] for b in net.box]), np.array([b[1] for b in net.box])


def settings_table(cfg: dict) -> pd.DataFrame:
    rows = []
    for name, s in SETTINGS.items():
        net = networks.get(name)
        cps = net.critical_points()
        lam = (
            max(max(e) for e in cps.loc[cps["nature"] == "minimum", "hessian_eigenvalues"])
            if (cps["nature"] == "minimum").any()
            else np.nan
        )
        rows.append(
            {
                "network": name,
                "box": net.box,
                "critical points": len(cps),
                "minima": int((cps["nature"] == "minimum").sum()),
                "max Hessian eigenvalue at a minimum": lam,
                "GD / gd_energy / Euler-Richardson step": s["lr"],
                "momentum step (beta 0.9)": round((1 - BETA) * s["lr"], 12),
                "Adam step": s["adam"],
                "LM": "tau 1e-3",
                "grid": cfg["grid"].get(name, cfg["grid_default"]),
                "steps (LM)": f"{cfg['steps']} ({cfg['lm_steps']})",
            }
        )
    return pd.DataFrame(rows)


def outside_box(finals: np.ndarray, net) -> np.ndarray:
    lo, hi = box(net)
    return np.any((finals < lo) | (finals > hi), axis=-1)


def grid_maps(cfg: dict) -> tuple[dict, pd.DataFrame]:
    results, rows = {}, []
    for name in SETTINGS:
        net = networks.get(name)
        lo, hi = box(net)
        n = cfg["grid"].get(name, cfg["grid_default"])
        for opt_name in OPTIMIZERS:
            steps = cfg["lm_steps"] if opt_name == "lm" else cfg["steps"]
            r = ts.lab.basins(net, optimizer(opt_name, name), lo, hi, n, steps, progress=False)
            results[name, opt_name] = r
            fr = r.fractions
            nc = r.labels == -2
            outside = nc & outside_box(r.finals, net)

            def median_loss(mask, r=r):
                return float(np.median(r.losses[mask])) if mask.any() else np.nan

            for label, row in fr.iterrows():
                rows.append(
                    {
                        "network": name,
                        "optimizer": opt_name,
                        "grid": n,
                        "steps": steps,
                        "label": label,
                        "point": row["point"],
                        "loss": row["loss"],
                        "count": row["count"],
                        "fraction": row["fraction"],
                        "median_final_loss": median_loss(r.labels == label),
                        "tol": r.tol,
                        "seconds": r.seconds,
                    }
                )
            rows.append(
                {
                    "network": name,
                    "optimizer": opt_name,
                    "grid": n,
                    "steps": steps,
                    "label": -3,
                    "point": "not converged, ending outside the box",
                    "loss": np.nan,
                    "count": int(np.sum(outside)),
                    "fraction": float(np.mean(outside)),
                    "median_final_loss": median_loss(outside),
                    "tol": r.tol,
                    "seconds": r.seconds,
                }
            )
            print(f"  {name} {opt_name}: {n}x{n}, {steps} steps, {r.seconds:.1f} s", flush=True)
    return results, pd.DataFrame(rows)


def not_converged(results: dict) -> pd.DataFrame:
    """Where the not-converged starts are: inside or outside the box, how far from a
    critical point, with what gradient at the start and at the end."""
    rows = []
    for (name, opt_name), r in results.items():
        net = networks.get(name)
        nc = r.labels == -2
        inside = nc & ~outside_box(r.finals, net)
        pts = r.critical_points[["theta_0", "theta_1"]].to_numpy(dtype=float)
        row = {
            "network": name,
            "optimizer": opt_name,
            "not_converged": float(nc.mean()),
            "outside_box": float((nc & ~inside).mean()),
            "inside_box": float(inside.mean()),
        }
        if inside.any():
            finals, starts = r.finals[inside], r.starts[inside]
            g_end = np.linalg.norm(net.value_and_grad_batch(finals)[1], axis=1)
            g_start = np.linalg.norm(net.value_and_grad_batch(starts)[1], axis=1)
            near = np.min(np.linalg.norm(finals[:, None, :] - pts[None], axis=2), axis=1)
            row.update(
                {
                    "inside: median distance moved": float(
                        np.median(np.linalg.norm(finals - starts, axis=1))
                    ),
                    "inside: median distance to a critical point": float(np.median(near)),
                    "inside: median grad norm at the start": float(np.median(g_start)),
                    "inside: median grad norm at the end": float(np.median(g_end)),
                    "inside: median final loss": float(np.median(r.losses[inside])),
                }
            )
        if (nc & ~inside).any():
            row["outside: median final loss"] = float(np.median(r.losses[nc & ~inside]))
        rows.append(row)
    return pd.DataFrame(rows)


def legend_handles(result) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = result.colours()
    markers = {"minimum": "o", "saddle": "X", "maximum": "^", "degenerate": "D"}
    handles = []
    for i, row in result.critical_points.iterrows():
        kind = row["nature"] if row["kind"] == row["nature"] else f"{row['nature']} (degenerate)"
        handles.append(
            Line2D(
                [],
                [],
                marker=markers.get(row["nature"], "s"),
                markersize=9,
                markerfacecolor=colours[i],
                markeredgecolor="black",
                linestyle="none",
                label=(
                    f"{kind} ({row['theta_0']:.3f}, {row['theta_1']:.3f}), loss {row['loss']:.4g}"
                ),
            )
        )
    handles.append(Patch(facecolor=colours[-1], edgecolor="black", label="diverged"))
    handles.append(Patch(facecolor=colours[-2], edgecolor="black", label="not converged"))
    return handles


def overview_figure(results: dict, name: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14.5, 9.6), layout="constrained")
    for ax, opt_name in zip(axes.ravel(), OPTIMIZERS, strict=True):
        r = results[name, opt_name]
        fr = r.fractions["fraction"]
        minima = r.critical_points.index[r.critical_points["nature"] == "minimum"]
        shares = ", ".join(f"#{i} {fr[i]:.0%}" for i in minima)
        title = (
            f"{LABELS[opt_name]} ({r.optimizer})\n"
            + (f"minima: {shares}; " if shares else "")
            + f"div {fr[-1]:.0%}, n.c. {fr[-2]:.0%}"
        )
        r.plot(ax=ax, legend=False, title=title)
        ax.title.set_fontsize("medium")
    handles = legend_handles(results[name, OPTIMIZERS[0]])
    for i, h in enumerate(handles[:-2]):
        h.set_label(f"#{i} {h.get_label()}")
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(3, len(handles)),
        fontsize="medium",
        frameon=False,
    )
    r0 = results[name, OPTIMIZERS[0]]
    fig.suptitle(
        f"{name}: basins of attraction, {r0.n}x{r0.n} starts, end point within "
        f"{r0.tol:.3g} of a critical point",
        fontsize="large",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)


def final_loss_figure(results: dict, name: str, path: Path) -> None:
    """Final loss over the grid (log scale), for a network whose infimum is at infinity."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    net = networks.get(name)
    losses = [results[name, o].losses for o in OPTIMIZERS]
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in losses])
    norm = LogNorm(vmin=float(finite.min()), vmax=float(finite.max()))
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.6), layout="constrained")
    for ax, opt_name in zip(axes.ravel(), OPTIMIZERS, strict=True):
        r = results[name, opt_name]
        lo, hi = box(net)
        image = ax.imshow(
            r.losses,
            origin="lower",
            extent=(lo[0], hi[0], lo[1], hi[1]),
            norm=norm,
            cmap="viridis",
            interpolation="nearest",
        )
        left = np.mean(outside_box(r.finals, net))
        ax.set_title(
            f"{LABELS[opt_name]}\nmedian final loss {np.median(r.losses):.3g}, "
            f"{left:.0%} left the box",
            fontsize="medium",
        )
        ax.set_xlabel(r"$\theta_0$")
        ax.set_ylabel(r"$\theta_1$")
    fig.colorbar(image, ax=axes, shrink=0.8, label="loss at the end of the run")
    fig.suptitle(
        f"{name}: no finite minimum ({net.infimum_at_infinity}); final loss from each start "
        f"({r.max_steps} steps, LM {results[name, 'lm'].max_steps})",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)


def reach(cfg: dict) -> pd.DataFrame:
    frames = []
    for name in SETTINGS:
        net = networks.get(name)
        lo, hi = box(net)
        for opt_name in OPTIMIZERS:
            steps = cfg["lm_steps"] if opt_name == "lm" else cfg["steps"]
            t = ts.lab.reach_probabilities(
                net,
                optimizer(opt_name, name),
                lo,
                hi,
                cfg["random"],
                steps,
                seed=0,
                progress=False,
            )
            t = t.reset_index()
            t.insert(0, "optimizer", opt_name)
            t.insert(0, "network", name)
            frames.append(t)
    out = pd.concat(frames, ignore_index=True)
    cols = ["network", "optimizer", "label", "point", "loss", "count", "probability", "stderr"]
    return out[[*cols, "ci_low", "ci_high"]]


def divergence(cfg: dict) -> pd.DataFrame:
    rows = []
    for name in SETTINGS:
        net = networks.get(name)
        lo, hi = box(net)
        base = SETTINGS[name]["lr"]
        for factor in cfg["divergence_factors"]:
            lr = base * factor
            for opt_name in ("gd", "gd_energy", "momentum", "euler_richardson"):
                opt = optimizer(opt_name, name, lr=lr)
                r = ts.lab.basins(
                    net,
                    opt,
                    lo,
                    hi,
                    cfg["divergence_grid"],
                    cfg["divergence_steps"],
                    progress=False,
                )
                fr = r.fractions["fraction"]
                rows.append(
                    {
                        "network": name,
                        "step": lr,
                        "factor": factor,
                        "optimizer": opt_name,
                        "diverged": fr[-1],
                        "not_converged": fr[-2],
                        "reached_minimum": float(
                            fr[
                                r.critical_points.index[r.critical_points["nature"] == "minimum"]
                            ].sum()
                        ),
                        "grid": cfg["divergence_grid"],
                        "steps": cfg["divergence_steps"],
                    }
                )
    return pd.DataFrame(rows)


def sensitivity(cfg: dict) -> pd.DataFrame:
    frames = []
    for name in SENSITIVITY_NETWORKS:
        net = networks.get(name)
        table = net.critical_points()
        configs = [(f"adam lr={lr:g}", ts.optim.get("adam", lr=lr)) for lr in ADAM_STEPS]
        configs += [
            (f"gd lr={SETTINGS[name]['lr']:g}", optimizer("gd", name)),
            (f"gd_energy lr={SETTINGS[name]['lr']:g}", optimizer("gd_energy", name)),
        ]
        for label in table.index[table["nature"] == "minimum"]:
            centre = table.loc[label, ["theta_0", "theta_1"]].to_numpy(dtype=float)
            r_max = max(RADII)
            for opt_label, opt in configs:
                r = ts.lab.basins(
                    net,
                    opt,
                    centre - r_max,
                    centre + r_max,
                    cfg["sensitivity_grid"],
                    cfg["sensitivity_steps"],
                    progress=False,
                )
                s = r.sensitivity(RADII, points=[label])
                s.insert(0, "optimizer", opt_label)
                s.insert(0, "network", name)
                frames.append(s)
    return pd.concat(frames, ignore_index=True)


def reach_figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    names = list(SETTINGS)
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 3.0 * len(names)), layout="constrained")
    for ax, name in zip(axes, names, strict=True):
        t = table[table["network"] == name]
        labels = [
            lab for lab in t["label"].unique() if (t.loc[t["label"] == lab, "count"] > 0).any()
        ]
        width = 0.8 / len(OPTIMIZERS)
        for k, opt_name in enumerate(OPTIMIZERS):
            sub = t[t["optimizer"] == opt_name].set_index("label").loc[labels]
            x = np.arange(len(labels)) + (k - (len(OPTIMIZERS) - 1) / 2) * width
            ax.bar(
                x,
                sub["probability"],
                width,
                yerr=1.96 * sub["stderr"],
                capsize=2,
                label=LABELS[opt_name],
            )
        names_ = t[t["optimizer"] == OPTIMIZERS[0]].set_index("label").loc[labels, "point"]
        ax.set_xticks(
            np.arange(len(labels)), [f"{lab}: {p}" for lab, p in names_.items()], fontsize="small"
        )
        ax.set_ylabel("probability")
        ax.set_title(f"{name}: where a uniformly random start in the box ends (95% intervals)")
        ax.set_ylim(0, 1)
    axes[0].legend(ncol=len(OPTIMIZERS), fontsize="small", loc="upper right")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def sensitivity_figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    keys = list(table.groupby(["network", "label"], sort=False).groups)
    fig, axes = plt.subplots(
        1, len(keys), figsize=(4.2 * len(keys), 4.2), layout="constrained", squeeze=False
    )
    for ax, (name, label) in zip(axes[0], keys, strict=True):
        t = table[(table["network"] == name) & (table["label"] == label)]
        for opt_label, sub in t.groupby("optimizer", sort=False):
            style = "-o" if opt_label.startswith("adam") else "--s"
            ax.plot(sub["radius"], sub["elsewhere"], style, label=opt_label, markersize=4)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("distance r of the start from the minimum")
        ax.set_title(f"{name}\n{t['point'].iloc[0]}", fontsize="medium")
    axes[0, 0].set_ylabel("share of starts within r that end elsewhere")
    axes[0, -1].legend(fontsize="small")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def divergence_figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    names = list(SETTINGS)
    fig, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 3.8), layout="constrained")
    for ax, name in zip(axes, names, strict=True):
        t = table[table["network"] == name]
        styles = {
            "gd": ("-o", 1.5),
            "momentum": ("-s", 1.5),
            "gd_energy": ("--D", 3.0),
            "euler_richardson": (":^", 1.5),
        }
        for opt_name, sub in t.groupby("optimizer", sort=False):
            style, width = styles[opt_name]
            ax.plot(
                sub["step"], sub["diverged"], style, lw=width, label=LABELS[opt_name], markersize=5
            )
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("(initial) step")
        ax.set_title(name)
    axes[0].set_ylabel("share of grid starts that diverge")
    axes[0].legend(fontsize="small")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(frame: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A Markdown table (no tabulate dependency)."""

    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)

    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def run(out: Path, quick: bool = False) -> dict:
    """Run the study, write figures and tables to ``out``; return the tables."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    cfg = QUICK if quick else FULL
    clock = time.perf_counter()
    timings = {}

    settings = settings_table(cfg)
    settings.to_csv(out / "settings.csv", index=False)

    print("1. basin maps", flush=True)
    t0 = time.perf_counter()
    results, fractions = grid_maps(cfg)
    timings["grid_maps"] = time.perf_counter() - t0
    fractions.to_csv(out / "fractions.csv", index=False)
    stuck = not_converged(results)
    stuck.to_csv(out / "not_converged.csv", index=False)
    for name in SETTINGS:
        overview_figure(results, name, out / f"basins_{name}.png")
        if networks.get(name).infimum_at_infinity:
            final_loss_figure(results, name, out / f"final_loss_{name}.png")
    for opt_name in ("gd", "adam", "gd_energy"):
        import matplotlib.pyplot as plt

        fig, _ = results["two_depths", opt_name].plot()
        fig.savefig(out / f"basin_two_depths_{opt_name}.png", dpi=100)
        plt.close(fig)

    stages = [
        ("2. reach probabilities", "reach", reach, "reach_probabilities", reach_figure),
        ("3. divergence", "divergence", divergence, "divergence", divergence_figure),
        ("4. sensitivity", "sensitivity", sensitivity, "sensitivity", sensitivity_figure),
    ]
    tables = {}
    for title, key, compute, stem, figure in stages:
        print(title, flush=True)
        t0 = time.perf_counter()
        table = compute(cfg)
        timings[key] = time.perf_counter() - t0
        table.to_csv(out / f"{stem}.csv", index=False)
        figure(table, out / f"{stem}.png")
        tables[key] = table
    probabilities, div, sens = tables["reach"], tables["divergence"], tables["sensitivity"]

    timings["total"] = time.perf_counter() - clock
    map_seconds = {f"{k[0]}/{k[1]}": r.seconds for k, r in results.items()}
    (out / "timings.json").write_text(
        json.dumps(
            {"variant": "quick" if quick else "full", **timings, "maps": map_seconds}, indent=1
        )
    )

    # the tables, printed
    wide = fractions[fractions["label"].isin([-1, -2, -3])].pivot_table(
        index=["network", "optimizer"], columns="point", values="fraction", sort=False
    )
    minima = fractions.merge(
        pd.concat(
            [networks.get(n).critical_points().reset_index().assign(network=n) for n in SETTINGS]
        )[["network", "index", "nature"]].rename(columns={"index": "label"}),
        on=["network", "label"],
    )
    reached = (
        minima[minima["nature"] == "minimum"]
        .groupby(["network", "optimizer"], sort=False)["fraction"]
        .sum()
        .rename("reached a minimum")
    )
    wide = wide.join(reached).reset_index()
    print("\nGrid: shares of starts\n")
    print(markdown(wide))
    print("\nGrid: where the not-converged starts are\n")
    print(markdown(stuck))
    print("\nRandom starts: probabilities (stderr)\n")
    p = probabilities.copy()
    p["value"] = [f"{a:.3f} ({b:.3f})" for a, b in zip(p["probability"], p["stderr"], strict=True)]
    print(
        markdown(
            p.pivot_table(
                index=["network", "label", "point"],
                columns="optimizer",
                values="value",
                aggfunc="first",
                sort=False,
            )[OPTIMIZERS].reset_index()
        )
    )
    print("\nDivergence: share of grid starts that diverge\n")
    print(
        markdown(
            div.pivot_table(
                index=["network", "step"], columns="optimizer", values="diverged", sort=False
            ).reset_index()
        )
    )
    print("\nSensitivity: share of starts within r of a minimum that end elsewhere\n")
    print(
        markdown(
            sens.pivot_table(
                index=["network", "point", "optimizer"],
                columns="radius",
                values="elsewhere",
                sort=False,
            ).reset_index()
        )
    )
    print(
        f"\ntotal {timings['total']:.0f} s: {json.dumps({k: round(v) for k, v in timings.items()})}"
    )
    return {
        "settings": settings,
        "fractions": fractions,
        "not_converged": stuck,
        "reach": probabilities,
        "divergence": div,
        "sensitivity": sens,
        "timings": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grids, short runs (~1 min)")
    parser.add_argument("--out", type=Path, default=Path("results/lab-basins"))
    args = parser.parse_args()
    run(args.out, quick=args.quick)


if __name__ == "__main__":
    main()
