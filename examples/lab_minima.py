"""Quasi-Newton versus first-order minima (studies.md, section 4).

A one-hidden-layer tanh MLP (64-16-10, 1210 parameters) classifies scikit-learn's digits
(1797 8x8 images, no download; a stratified 75/25 train/test split, features standardized on
the training part), with a small weight decay (1e-4; without it the training data are
separable and the cross-entropy has no minimizer). Two optimizers, many seeds each (a seed
sets the initial weights and, for SGD, the minibatch order), through the experiment engine
(the built-in spec ``toposcape/experiments/data/lab/minima.toml``):

* SGD: plain gradient descent with a constant step 0.1 on minibatches of 32 (43 per epoch),
  100 epochs;
* QN-golden: L-BFGS (memory 10) with an exact golden-section line search, full batch, 10000
  evaluations.

Then the minima are compared (:class:`toposcape.lab.MinimaSet`): training loss reached and test
accuracy, the top Hessian eigenvalue (sharpness, by Lanczos on exact Hessian-vector products),
a kernel-PCA map of the minima after removing the hidden units' permutation and sign
symmetries, and the barriers between pairs of minima within each set along an optimized
Fourier path and along the straight line. The study's claim, "quasi-Newton finds deeper, more
isolated minima", is checked: deeper = lower training loss; more isolated = higher barriers
between its minima, farther apart, more spread in the kernel-PCA map.

Usage::

    python examples/lab_minima.py [--out results/lab-minima] [--seeds 20] [--quick]
                                  [--weight-decay 1e-4] [--max-pairs 25] [--workers N]

Writes to ``--out``: ``study/`` (the engine's resumable store), ``minima.csv`` (one row per
minimum), ``barriers.csv`` (one row per pair), ``summary.csv`` (per optimizer), ``claims.json``
(the claim's checks with the numbers), ``minima.png`` (kernel-PCA map and barrier
distributions), ``depth_accuracy.png`` (training loss against test accuracy and sharpness).
``--quick`` shrinks every budget (4 seeds, 20 epochs, ~1 minute).
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import toposcape as ts
from toposcape.lab.minima import MinimaSet

SPEC = resources.files("toposcape.experiments") / "data" / "lab" / "minima.toml"


def build_spec(seeds: int, quick: bool, weight_decay: float) -> dict:
    """The built-in spec with ``seeds`` seeds (and the quick budgets with ``quick``)."""
    import tomllib

    spec = tomllib.loads(SPEC.read_text())
    spec["seeds"] = list(range(seeds))
    spec["lab"]["weight_decay"] = weight_decay
    if weight_decay != 1e-4:
        spec["name"] = f"{spec['name']}-wd{weight_decay:g}"
    if quick:
        spec["name"] += "-quick"
        for entry in spec["optimizers"]:
            if entry["label"] == "SGD":
                entry["max_steps"] = 43 * 20
            else:
                entry["max_evals"] = 1500
    return spec


def sharpness(objective, theta: np.ndarray) -> float:
    """The Hessian's largest eigenvalue at ``theta`` (Lanczos on exact HVPs)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator(
        (objective.size, objective.size), matvec=lambda v: objective.hvp(theta, v.ravel())
    )
    v0 = np.random.default_rng(0).standard_normal(objective.size)
    return float(eigsh(op, k=1, which="LA", tol=1e-6, v0=v0, return_eigenvectors=False)[0])


def _mannwhitney(a, b) -> float:
    """Two-sided Mann-Whitney U p-value of ``a`` vs ``b`` (NaN when a side is empty)."""
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def claims(minima: MinimaSet, table, summary) -> dict:
    """The claim "QN finds deeper, more isolated minima", checked with numbers."""
    sgd, qn = "SGD", "QN-golden"
    t = minima.barrier_table
    within = {g: t[(t["group_i"] == g) & (t["group_j"] == g)] for g in (sgd, qn)}
    loss = {g: table.loc[table["group"] == g, "train_loss"].to_numpy() for g in (sgd, qn)}
    obj = {g: table.loc[table["group"] == g, "objective_loss"].to_numpy() for g in (sgd, qn)}
    out = {
        "deeper": {
            "train_loss_median": {g: float(np.median(loss[g])) for g in loss},
            "objective_loss_median": {g: float(np.median(obj[g])) for g in obj},
            "qn_below_best_sgd": float(np.mean(loss[qn] < loss[sgd].min())),
            "p_value": _mannwhitney(loss[qn], loss[sgd]),
            "holds": bool(np.median(loss[qn]) < np.median(loss[sgd])),
        },
        "test_accuracy_mean": {
            g: float(table.loc[table["group"] == g, "test_accuracy"].mean()) for g in (sgd, qn)
        },
        "test_loss_median": {
            g: float(table.loc[table["group"] == g, "test_loss"].median()) for g in (sgd, qn)
        },
        "sharpness_median": {
            g: float(table.loc[table["group"] == g, "sharpness"].median()) for g in (sgd, qn)
        },
        "grad_norm_median": {
            g: float(table.loc[table["group"] == g, "grad_norm"].median()) for g in (sgd, qn)
        },
    }
    iso = {}
    for column in ("barrier", "straight_barrier", "distance"):
        med = {g: float(within[g][column].median()) for g in (sgd, qn)}
        iso[column] = {
            "median": med,
            "p_value": _mannwhitney(within[qn][column], within[sgd][column]),
            "qn_higher": bool(med[qn] > med[sgd]),
        }
    iso["kpca_spread"] = {
        "value": {g: float(summary.loc[g, "kpca_spread"]) for g in (sgd, qn)},
        "qn_higher": bool(summary.loc[qn, "kpca_spread"] > summary.loc[sgd, "kpca_spread"]),
    }
    iso["holds"] = bool(iso["barrier"]["qn_higher"] and iso["straight_barrier"]["qn_higher"])
    out["isolated"] = iso
    return out


def depth_figure(table, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (group, part) in enumerate(table.groupby("group", sort=False)):
        axes[0].scatter(
            part["train_loss"], part["test_accuracy"], color=colors[k], label=group, alpha=0.8
        )
        axes[1].scatter(
            part["train_loss"], part["sharpness"], color=colors[k], label=group, alpha=0.8
        )
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training loss (cross-entropy, nats)")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("test accuracy")
    axes[1].set_ylabel("largest Hessian eigenvalue (objective)")
    axes[1].set_yscale("log")
    axes[0].set_title("depth vs generalization", fontsize="small")
    axes[1].set_title("depth vs sharpness", fontsize="small")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def run(
    out,
    *,
    seeds: int | None = None,
    quick: bool = False,
    weight_decay: float = 1e-4,
    max_pairs: int | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> dict:
    """The whole study into ``out``; returns the claims' numbers (as ``claims.json``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = seeds if seeds is not None else (4 if quick else 20)
    max_pairs = max_pairs if max_pairs is not None else (3 if quick else 25)
    path_options = (
        {"modes": 2, "points": 16, "max_evals": 60}
        if quick
        else {"modes": 4, "points": 32, "max_evals": 300}
    )
    spec = build_spec(seeds, quick, weight_decay)
    started = time.perf_counter()
    report = ts.experiments.run(spec, out / "study", workers=workers, progress=progress)
    runs_time = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"some runs failed: see 'toposcape study status {out / 'study'}'")

    # One BLAS thread: the MLP's matrices are small, and more threads only contend.
    with threadpool_limits(1):
        minima = MinimaSet.from_study(out / "study")
        objective = minima.objective
        minima.kernel_pca()
        started = time.perf_counter()
        minima.barriers(max_pairs=max_pairs, seed=0, progress=progress, **path_options)
        barrier_time = time.perf_counter() - started
        table = minima.table()
        table["sharpness"] = [sharpness(objective, t) for t in minima.thetas]
        # Is an end point a minimum? The full-batch gradient there (SGD stops on a batch).
        table["grad_norm"] = [
            float(np.linalg.norm(objective.value_and_grad(t)[1])) for t in minima.thetas
        ]
    table["n_evals"] = [
        int(ts.experiments.open(out / "study").result(k, ["loss"]).attrs["n_evals"])
        for k in minima.keys
    ]
    summary = minima.summary()
    for column in ("sharpness", "grad_norm"):
        summary[f"{column}_median"] = table.groupby("group", sort=False)[column].median()
    table.to_csv(out / "minima.csv", index=False)
    minima.barrier_table.to_csv(out / "barriers.csv", index=False)
    summary.to_csv(out / "summary.csv")

    fig = minima.plot(
        title=f"digits, MLP 64-16-10 tanh, weight decay {weight_decay:g}: SGD (batch 32) vs "
        "quasi-Newton + golden section"
    )
    fig.savefig(out / "minima.png", dpi=130)
    plt.close(fig)
    depth_figure(table, out / "depth_accuracy.png")

    result = claims(minima, table, summary)
    result.update(
        seeds=seeds,
        weight_decay=weight_decay,
        quick=quick,
        pairs_per_optimizer=max_pairs,
        path_options=path_options,
        runs_wall_time=runs_time,
        barriers_wall_time=barrier_time,
        kpca_gamma=minima.kpca_gamma,
        spec=spec,
    )
    (out / "claims.json").write_text(json.dumps(result, indent=2))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/lab-minima", help="output folder")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per optimizer (20; 4)")
    parser.add_argument("--quick", action="store_true", help="small budgets (~1 minute)")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="weight decay (1e-4)")
    parser.add_argument(
        "--max-pairs", type=int, default=None, help="barrier pairs per optimizer (25; 3)"
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (all)")
    args = parser.parse_args(argv)
    result = run(
        args.out,
        seeds=args.seeds,
        quick=args.quick,
        weight_decay=args.weight_decay,
        max_pairs=args.max_pairs,
        workers=args.workers,
    )
    d, iso = result["deeper"], result["isolated"]
    print(f"runs {result['runs_wall_time']:.0f} s, barriers {result['barriers_wall_time']:.0f} s")
    print("training loss, median:", d["train_loss_median"], f"(p = {d['p_value']:.2g})")
    print("test accuracy, mean:", result["test_accuracy_mean"])
    print("sharpness, median:", result["sharpness_median"])
    print("full-batch gradient norm at the end points, median:", result["grad_norm_median"])
    for column in ("barrier", "straight_barrier", "distance"):
        print(f"{column}, median within each set:", iso[column]["median"])
    print("kernel-PCA spread:", iso["kpca_spread"]["value"])
    print(f"deeper: {d['holds']}; more isolated (both barriers higher): {iso['holds']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
