"""Sets of minima (``studies.md`` section 4): many runs compared by kernel PCA and barriers.

A :class:`MinimaSet` holds the parameters an optimizer (or several) reached from many seeds on
one objective, with the loss and accuracy of each, and compares them:

* the hidden-unit symmetries are removed first: every network is aligned to a common
  reference by :meth:`~toposcape.lab.mlp.MLPObjective.align` (a permutation of its hidden
  units and, for tanh, sign flips; the loss is unchanged), so that coordinates compare;
* :meth:`MinimaSet.kernel_pca` maps the aligned parameters to a few coordinates
  (scikit-learn's ``KernelPCA``, an RBF kernel with the median heuristic by default);
* :meth:`MinimaSet.barriers` computes, for pairs of minima, the lowest barrier along a
  Fourier path (:func:`~toposcape.lab.paths.fourier_path`) and along the straight line;
* :meth:`MinimaSet.plot` draws the map and the barrier distributions.

>>> import toposcape as ts
>>> ts.experiments.run("lab-minima.toml", "out/minima")        # a [lab] spec
>>> minima = ts.lab.MinimaSet.from_study("out/minima")
>>> xy = minima.kernel_pca()                                    # (n, 2)
>>> table = minima.barriers(max_pairs=20)                       # DataFrame, one row per pair
>>> minima.plot().savefig("minima.png")
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError

__all__ = ["MinimaSet"]

_WHO = "MinimaSet"

#: Per-minimum scalars a MinimaSet keeps (when known), as stored by a lab task.
METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "objective_loss")


class MinimaSet:
    """Parameters reached by optimizers from many seeds, aligned and compared.

    Parameters
    ----------
    thetas : array_like (n, size)
        The minima's parameters (n >= 2), one row each.
    labels : sequence of str (n,)
        Which optimizer (set) each minimum belongs to.
    objective : MLPObjective, optional
        The (full-batch) objective: needed to align networks and for :meth:`barriers`. Any
        object with ``value_and_grad`` and ``size`` works for barriers; alignment needs its
        ``align`` and ``canonical`` methods.
    seeds : sequence of int (n,), optional
        The seed of each run (default ``0..n-1``).
    align : bool
        Align every network to a common reference (see :attr:`reference`); needs an objective
        with ``align``. The raw parameters stay in :attr:`raw_thetas`.
    align_iterations : int >= 1
        The reference is the canonical form of the lowest-loss minimum, then the mean of the
        aligned networks, re-aligned this many times in all (a Procrustes-style average).
    **metrics : array_like (n,)
        Per-minimum scalars: ``train_loss``, ``test_loss``, ``train_accuracy``,
        ``test_accuracy``, ``objective_loss`` (losses in nats, accuracies as fractions).
        Missing losses are computed from the objective when it has ``train_loss`` etc.

    Attributes
    ----------
    thetas : ndarray (n, size)
        The aligned parameters (the raw ones when ``align`` is off).
    raw_thetas : ndarray (n, size)
    labels : ndarray (n,) of str
    groups : list of str
        The distinct labels, in order of first appearance.
    seeds : ndarray (n,) int
    keys : list of str or None
        The store keys of the runs (from :meth:`from_study`).
    coordinates : ndarray (n, k) or None
        The last :meth:`kernel_pca` result.
    barrier_table : pandas.DataFrame or None
        The last :meth:`barriers` result.
    """

    def __init__(
        self,
        thetas: Any,
        labels: Sequence[str],
        objective: Any = None,
        *,
        seeds: Sequence[int] | None = None,
        align: bool = True,
        align_iterations: int = 3,
        **metrics: Any,
    ) -> None:
        thetas = _validate.array(thetas, "thetas", (None, None), copy=True, who=_WHO)
        n = thetas.shape[0]
        if n < 2:
            raise InvalidInputError(f"{_WHO}: thetas must hold at least 2 minima, got {n}")
        if isinstance(labels, str) or len(labels) != n:
            raise InvalidInputError(
                f"{_WHO}: labels must be a sequence of {n} strings (one per row of thetas), "
                f"got {_validate.given(labels)}"
            )
        self.labels = np.asarray([str(lab) for lab in labels], dtype=object)
        self.groups = list(dict.fromkeys(self.labels))
        if seeds is None:
            seeds = np.arange(n)
        self.seeds = np.asarray(
            [_validate.integer(s, "seeds", minimum=0, who=_WHO) for s in seeds], dtype=np.int64
        )
        if self.seeds.shape != (n,):
            raise InvalidInputError(f"{_WHO}: seeds must have {n} entries, got {self.seeds.size}")
        if objective is not None:
            size = getattr(objective, "size", None)
            if size != thetas.shape[1]:
                raise InvalidInputError(
                    f"{_WHO}: thetas have {thetas.shape[1]} parameters but objective.size is {size}"
                )
        self.objective = objective
        self.raw_thetas = thetas
        self.raw_thetas.setflags(write=False)
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise InvalidInputError(
                f"{_WHO}: unknown metric(s) {unknown}; valid: {', '.join(METRICS)}"
            )
        self.metrics: dict[str, np.ndarray] = {}
        for name, values in metrics.items():
            if values is None:
                continue
            arr = _validate.vector(values, name, n, finite=False, copy=True, who=_WHO)
            self.metrics[name] = arr
        if objective is not None:
            for name, method in (("train_loss", "train_loss"), ("test_loss", "test_loss")):
                if name not in self.metrics and callable(getattr(objective, method, None)):
                    self.metrics[name] = np.array([getattr(objective, method)(t) for t in thetas])
            if "test_accuracy" not in self.metrics and callable(
                getattr(objective, "accuracy", None)
            ):
                self.metrics["test_accuracy"] = np.array([objective.accuracy(t) for t in thetas])
        self.keys: list[str] | None = None
        self.coordinates: np.ndarray | None = None
        self.kpca_gamma: float | None = None
        self.barrier_table = None
        align = _validate.flag(align, "align", who=_WHO)
        iterations = _validate.integer(align_iterations, "align_iterations", minimum=1, who=_WHO)
        self.reference: np.ndarray | None = None
        if align:
            if objective is None or not callable(getattr(objective, "align", None)):
                raise InvalidInputError(
                    f"{_WHO}: align=True needs an objective with an align method (an "
                    "MLPObjective); pass objective=..., or align=False"
                )
            self.thetas = self._align(iterations)
        else:
            self.thetas = thetas.copy()
        self.thetas.setflags(write=False)

    def __len__(self) -> int:
        return self.thetas.shape[0]

    def __repr__(self) -> str:
        counts = ", ".join(f"{g}: {int(np.sum(self.labels == g))}" for g in self.groups)
        return f"MinimaSet({len(self)} minima of {self.thetas.shape[1]} parameters; {counts})"

    def _align(self, iterations: int) -> np.ndarray:
        obj = self.objective
        depth = self.metrics.get("objective_loss", self.metrics.get("train_loss"))
        first = int(np.nanargmin(depth)) if depth is not None else 0
        reference = obj.canonical(self.raw_thetas[first])
        aligned = self.raw_thetas
        for _ in range(iterations):
            aligned = np.array([obj.align(t, reference) for t in self.raw_thetas])
            reference = aligned.mean(axis=0)
        self.reference = reference
        return aligned

    # ------------------------------------------------------------------------ loading
    @classmethod
    def from_study(
        cls,
        path: Any,
        study: str | None = None,
        *,
        which: str = "final",
        align: bool = True,
        align_iterations: int = 3,
    ) -> MinimaSet:
        """The minima of a stored ``[lab]`` study (:mod:`toposcape.experiments.lab_spec`).

        Parameters
        ----------
        path : str or Path
            The study directory.
        study : str, optional
            Which study of the directory (default: the latest).
        which : "final" or "best"
            The run's last iterate (default; for minibatch runs the best iterate is only the
            best on its own batch) or its lowest-loss iterate.
        align, align_iterations
            As for the constructor.

        The objective is the study's, full batch (:meth:`LabSpec.build_objective`); labels are
        the optimizer labels of the spec; the metrics are those stored with each run (for
        ``which="best"`` the losses and accuracies are recomputed at the best iterates).
        Runs not done are left out.
        """
        from ..experiments.lab_spec import LabSpec
        from ..experiments.study import Study

        which = _validate.option(which, "which", ("final", "best"), who="MinimaSet.from_study")
        s = Study(path, study)
        spec = s.spec
        if not isinstance(spec, LabSpec):
            raise InvalidInputError(
                f"MinimaSet.from_study: {str(path)!r} holds study {s.name!r}, not a [lab] study"
            )
        objective = spec.build_objective()
        table = s.runs()
        done = table[table["status"] == "done"]
        if len(done) < 2:
            raise InvalidInputError(
                f"MinimaSet.from_study: study {s.name!r} has {len(done)} done runs; need >= 2"
            )
        variable = f"{which}_theta"
        names = (variable, *METRICS) if which == "final" else (variable,)
        thetas, metrics = [], {m: [] for m in METRICS}
        for key in done["key"]:
            ds = s.result(key, list(names))
            thetas.append(np.asarray(ds[variable].values, dtype=np.float64))
            if which == "final":
                for m in METRICS:
                    metrics[m].append(float(ds[m]))
        if which == "best":
            metrics = {
                "train_loss": [objective.train_loss(t) for t in thetas],
                "test_loss": [objective.test_loss(t) for t in thetas],
                "train_accuracy": [objective.accuracy(t, "train") for t in thetas],
                "test_accuracy": [objective.accuracy(t) for t in thetas],
                "objective_loss": [objective.value_and_grad(t)[0] for t in thetas],
            }
        out = cls(
            np.array(thetas),
            list(done["optimizer"]),
            objective,
            seeds=list(done["seed"]),
            align=align,
            align_iterations=align_iterations,
            **metrics,
        )
        out.keys = list(done["key"])
        return out

    # ------------------------------------------------------------------------ comparisons
    def members(self, group: str) -> np.ndarray:
        """Indices (into the set) of the minima labelled ``group``."""
        group = _validate.lookup(group, self.groups, "group of minima")
        return np.flatnonzero(self.labels == group)

    def distances(self) -> np.ndarray:
        """Euclidean distances between the aligned parameters, (n, n)."""
        sq = np.sum(self.thetas**2, axis=1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * self.thetas @ self.thetas.T
        np.fill_diagonal(d2, 0.0)
        return np.sqrt(np.maximum(d2, 0.0))

    def median_gamma(self) -> float:
        """The RBF kernel's median heuristic: ``1 / median_{i<j} |theta_i - theta_j|^2``."""
        d = self.distances()
        iu = np.triu_indices(len(self), 1)
        med = float(np.median(d[iu] ** 2))
        return 1.0 / med if med > 0 else 1.0

    def kernel_pca(
        self, n_components: int = 2, kernel: str = "rbf", gamma: float | None = None
    ) -> np.ndarray:
        """Kernel-PCA coordinates of the aligned minima, (n, n_components).

        Parameters
        ----------
        n_components : int >= 1
            Number of coordinates (at most n).
        kernel : str
            ``sklearn.decomposition.KernelPCA``'s kernel (``"rbf"``, ``"linear"``, ``"poly"``,
            ``"cosine"``, ...).
        gamma : float or None
            Kernel coefficient (in 1 / parameter units^2 for rbf); None: the median heuristic
            :meth:`median_gamma` for rbf, scikit-learn's default otherwise.

        Returns
        -------
        ndarray (n, n_components)
            Also kept in :attr:`coordinates` (and the gamma used in :attr:`kpca_gamma`).
        """
        from sklearn.decomposition import KernelPCA

        who = "MinimaSet.kernel_pca"
        n_components = _validate.integer(
            n_components, "n_components", minimum=1, maximum=len(self), who=who
        )
        if not isinstance(kernel, str):
            raise TypeError(f"{who}: kernel must be a string, got {_validate.given(kernel)}")
        if gamma is None and kernel == "rbf":
            gamma = self.median_gamma()
        elif gamma is not None:
            gamma = _validate.real(gamma, "gamma", minimum=0.0, lower_open=True, who=who)
        try:
            kpca = KernelPCA(n_components=n_components, kernel=kernel, gamma=gamma)
            coords = kpca.fit_transform(self.thetas)
        except ValueError as exc:
            raise InvalidInputError(f"{who}: {exc}") from None
        # A fixed sign per component (the eigenvectors' sign is arbitrary): the member with the
        # largest |coordinate| is positive.
        for k in range(coords.shape[1]):
            if coords[np.argmax(np.abs(coords[:, k])), k] < 0:
                coords[:, k] *= -1.0
        self.coordinates = coords
        self.kpca_gamma = gamma
        return coords

    def pairs(
        self, pairs: str = "within", max_pairs: int | None = None, seed: int = 0
    ) -> list[tuple[int, int]]:
        """The pairs ``(i, j)``, ``i < j``, that :meth:`barriers` computes.

        ``pairs="within"``: the pairs inside each group (at most ``max_pairs`` per group, a
        seeded uniform sample without replacement); ``"between"``: pairs from different groups
        (at most ``max_pairs`` per pair of groups); ``"all"``: both.
        """
        who = "MinimaSet.pairs"
        _validate.option(pairs, "pairs", ("within", "between", "all"), who=who)
        max_pairs = _validate.integer(max_pairs, "max_pairs", minimum=1, allow_none=True, who=who)
        seed = _validate.integer(seed, "seed", minimum=0, who=who)
        blocks: list[list[tuple[int, int]]] = []
        for a, ga in enumerate(self.groups):
            for gb in self.groups[a:]:
                same = ga == gb
                if (same and pairs == "between") or (not same and pairs == "within"):
                    continue
                ia, ib = self.members(ga), self.members(gb)
                block = [(int(i), int(j)) for i in ia for j in ib if (i < j if same else True)]
                block = [(min(p), max(p)) for p in block]
                blocks.append(block)
        rng = np.random.default_rng(seed)
        out: list[tuple[int, int]] = []
        for block in blocks:
            if max_pairs is not None and len(block) > max_pairs:
                chosen = np.sort(rng.choice(len(block), size=max_pairs, replace=False))
                block = [block[c] for c in chosen]
            out.extend(block)
        return out

    def barriers(
        self,
        objective: Any = None,
        pairs: str = "within",
        *,
        max_pairs: int | None = None,
        seed: int = 0,
        modes: int = 4,
        points: int = 32,
        max_evals: int = 300,
        align_pairs: bool = True,
        progress: bool | None = False,
    ):
        """Lowest barriers between pairs of minima: Fourier path and straight line.

        Parameters
        ----------
        objective : optional
            The loss to climb (default: the set's objective, full batch). Any object with
            ``value_and_grad`` and ``size``.
        pairs, max_pairs, seed
            Which pairs (see :meth:`pairs`): within each optimizer's set by default; at most
            ``max_pairs`` per group (or pair of groups), sampled with ``seed``.
        modes, points, max_evals
            :func:`~toposcape.lab.paths.fourier_path`'s options (sine modes, path nodes, and
            smooth-maximum evaluations, each ``points - 2`` objective evaluations).
        align_pairs : bool
            Align the second minimum of each pair to the first
            (:meth:`~toposcape.lab.mlp.MLPObjective.align`) before finding the path, when the
            objective can align (else both are taken as aligned to the common reference).
        progress : bool or None
            A progress bar over pairs (None: on a terminal).

        Returns
        -------
        pandas.DataFrame
            One row per pair: ``group_i``, ``group_j``, ``i``, ``j`` (indices into the set),
            ``seed_i``, ``seed_j``, ``loss_i``, ``loss_j`` (the objective at the end points),
            ``distance`` (between the end points as paired), ``barrier`` (Fourier path: the
            highest loss on its nodes minus the higher end point, >= 0), ``straight_barrier``
            (the same on the straight line), ``n_objective_evals``, ``wall_time`` (s). Kept in
            :attr:`barrier_table`.
        """
        import pandas as pd

        from .._progress import progress_bar
        from .paths import fourier_path

        who = "MinimaSet.barriers"
        if objective is None:
            objective = self.objective
            if objective is not None and callable(getattr(objective, "full_batch", None)):
                objective = objective.full_batch()
        if objective is None:
            raise InvalidInputError(f"{who}: give an objective (the set has none)")
        align_pairs = _validate.flag(align_pairs, "align_pairs", who=who)
        chosen = self.pairs(pairs, max_pairs, seed)
        can_align = align_pairs and callable(getattr(objective, "align", None))
        bar = progress_bar(progress, len(chosen), "barriers", "pair")
        rows = []
        try:
            for i, j in chosen:
                a = self.thetas[i]
                b = objective.align(self.thetas[j], a) if can_align else self.thetas[j]
                start = time.perf_counter()
                path = fourier_path(
                    objective, a, b, modes=modes, points=points, max_evals=max_evals
                )
                rows.append(
                    {
                        "group_i": self.labels[i],
                        "group_j": self.labels[j],
                        "i": i,
                        "j": j,
                        "seed_i": int(self.seeds[i]),
                        "seed_j": int(self.seeds[j]),
                        "loss_i": float(path.losses[0]),
                        "loss_j": float(path.losses[-1]),
                        "distance": float(np.linalg.norm(b - a)),
                        "barrier": float(path.barrier),
                        "straight_barrier": float(path.straight_barrier),
                        "n_objective_evals": int(path.n_objective_evals),
                        "wall_time": time.perf_counter() - start,
                    }
                )
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        columns = [
            "group_i",
            "group_j",
            "i",
            "j",
            "seed_i",
            "seed_j",
            "loss_i",
            "loss_j",
            "distance",
            "barrier",
            "straight_barrier",
            "n_objective_evals",
            "wall_time",
        ]
        self.barrier_table = pd.DataFrame(rows, columns=columns)
        return self.barrier_table

    # ------------------------------------------------------------------------ tables
    def table(self):
        """One row per minimum: group, seed, the metrics, and the kernel-PCA coordinates
        (``kpca_0``, ...) when computed; a pandas DataFrame."""
        import pandas as pd

        data: dict[str, Any] = {"group": self.labels, "seed": self.seeds}
        if self.keys is not None:
            data["key"] = self.keys
        data.update(self.metrics)
        data["norm"] = np.linalg.norm(self.thetas, axis=1)
        if self.coordinates is not None:
            for k in range(self.coordinates.shape[1]):
                data[f"kpca_{k}"] = self.coordinates[:, k]
        return pd.DataFrame(data)

    def summary(self):
        """Per group: count, the metrics' median (and min for losses), the mean pairwise
        distance inside the group, the spread of its kernel-PCA coordinates (root mean squared
        distance to the group's centroid) and, when computed, the median barriers of its pairs.
        A pandas DataFrame indexed by group."""
        import pandas as pd

        d = self.distances()
        rows = []
        for g in self.groups:
            idx = self.members(g)
            row: dict[str, Any] = {"group": g, "n": idx.size}
            for name, values in self.metrics.items():
                row[f"{name}_median"] = float(np.median(values[idx]))
                if name.endswith("loss"):
                    row[f"{name}_min"] = float(np.min(values[idx]))
            sub = d[np.ix_(idx, idx)][np.triu_indices(idx.size, 1)]
            row["distance_mean"] = float(sub.mean()) if sub.size else np.nan
            row["norm_median"] = float(np.median(np.linalg.norm(self.thetas[idx], axis=1)))
            if self.coordinates is not None:
                c = self.coordinates[idx]
                row["kpca_spread"] = float(np.sqrt(np.mean(np.sum((c - c.mean(0)) ** 2, 1))))
            t = self.barrier_table
            if t is not None and len(t):
                part = t[(t["group_i"] == g) & (t["group_j"] == g)]
                if len(part):
                    row["pairs"] = len(part)
                    row["barrier_median"] = float(part["barrier"].median())
                    row["straight_barrier_median"] = float(part["straight_barrier"].median())
            rows.append(row)
        return pd.DataFrame(rows).set_index("group")

    # ------------------------------------------------------------------------ figure
    def plot(self, size_by: str | None = "train_loss", title: str | None = None):
        """The kernel-PCA map and, when :meth:`barriers` ran, the barrier distributions.

        Left: the minima in the first two kernel-PCA coordinates (computed with the defaults
        if not yet), coloured by group; with ``size_by`` (a metric, e.g. ``"train_loss"``),
        deeper minima (lower values) are drawn larger. Right (after :meth:`barriers`): per
        group, the barriers of its pairs along the Fourier path and the straight line (box
        plots over the pairs, points on top; log scale when all are positive).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if size_by is not None and size_by not in self.metrics:
            raise InvalidInputError(
                f"MinimaSet.plot: size_by must be one of {sorted(self.metrics)} or None, "
                f"got {size_by!r}"
            )
        if self.coordinates is None or self.coordinates.shape[1] < 2:
            self.kernel_pca(n_components=min(2, len(self)))
        t = self.barrier_table
        has_barriers = t is not None and len(t) > 0
        ncols = 2 if has_barriers else 1
        fig, axes = plt.subplots(
            1, ncols, figsize=(5.2 * ncols + 0.8, 4.4), layout="constrained", squeeze=False
        )
        ax = axes[0, 0]
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        sizes = np.full(len(self), 36.0)
        if size_by is not None:
            values = np.log10(np.maximum(self.metrics[size_by], 1e-300))
            lo, hi = np.nanmin(values), np.nanmax(values)
            scaled = (hi - values) / (hi - lo) if hi > lo else np.full(len(self), 0.5)
            sizes = 16.0 + 110.0 * np.nan_to_num(scaled, nan=0.0)
        xy = self.coordinates
        y = xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(self))
        for k, g in enumerate(self.groups):
            idx = self.members(g)
            ax.scatter(
                xy[idx, 0],
                y[idx],
                s=sizes[idx],
                color=colors[k % len(colors)],
                alpha=0.75,
                edgecolors="k",
                linewidths=0.4,
                label=f"{g} ({idx.size})",
            )
        ax.set_xlabel("kernel PCA 1")
        ax.set_ylabel("kernel PCA 2")
        what = f"; larger = lower {size_by}" if size_by is not None else ""
        gamma = f", gamma = {self.kpca_gamma:.3g}" if self.kpca_gamma is not None else ""
        ax.set_title(f"minima (aligned), RBF kernel PCA{gamma}{what}", fontsize="small")
        legend = ax.legend(fontsize="x-small", loc="best")
        for handle in legend.legend_handles:
            handle.set_sizes([36.0])
        if has_barriers:
            ax = axes[0, 1]
            data, positions, ticks, labels, box_colors = [], [], [], [], []
            for k, g in enumerate(self.groups):
                part = t[(t["group_i"] == g) & (t["group_j"] == g)]
                if not len(part):
                    continue
                base = 3.0 * (len(ticks) // 2)
                for offset, column, name in (
                    (0.0, "barrier", "Fourier"),
                    (1.0, "straight_barrier", "straight"),
                ):
                    data.append(part[column].to_numpy())
                    positions.append(base + offset)
                    box_colors.append(colors[k % len(colors)])
                    ticks.append(base + offset)
                    labels.append(f"{name}\n{g}\n({len(part)} pairs)")
            if data:
                boxes = ax.boxplot(
                    data, positions=positions, widths=0.8, patch_artist=True, showfliers=False
                )
                for n, (patch, color) in enumerate(zip(boxes["boxes"], box_colors, strict=True)):
                    patch.set_facecolor(color)
                    patch.set_alpha(0.35 if n % 2 else 0.75)
                rng = np.random.default_rng(0)
                for values, pos in zip(data, positions, strict=True):
                    jitter = rng.uniform(-0.25, 0.25, values.size)
                    ax.plot(pos + jitter, values, ".", color="k", markersize=3, alpha=0.6)
                ax.set_xticks(ticks, labels, fontsize="x-small")
                every = np.concatenate(data)
                positive = every[every > 0]
                if every.size and positive.size == every.size:
                    ax.set_yscale("log")
                elif positive.size and np.all(every >= 0):
                    # zero barriers (monotone paths) next to positive ones
                    ax.set_yscale("symlog", linthresh=float(positive.min()))
                    ax.set_ylim(bottom=0.0)
                ax.set_ylabel("barrier (loss above the higher end point)")
                ax.set_title(
                    "barriers within each set: Fourier path vs straight line", fontsize="small"
                )
        if title:
            fig.suptitle(title, fontsize="medium")
        return fig
