"""A study's report: summary tables, loss curves and designs, indexed by a ``report.md``.

>>> import toposcape as ts
>>> study = ts.experiments.open("out/demo")
>>> ts.experiments.report.summary_table(study)       # one row per case and optimizer
>>> ts.experiments.report.write_report(study)        # out/demo/report/report.md

or from the shell: ``toposcape study report out/demo [--out DIR] [--study NAME]``.

What the report holds (``DIR/report/`` by default):

* ``summary.csv`` / ``summary.md``: per case (problem, model, penal) and optimizer label, the
  seeds done / failed / pending, the median, quartiles, interquartile range and best of the
  final loss over the seeds that are done, and the median over those seeds of the steps (and
  evaluations) a run took to come within 1% of its own final loss;
* ``runs.csv``: one row per study entry (run x seed) with its status, losses, steps to 1%
  and error;
* ``figures/loss_*.png``: per case, the median loss over seeds with its interquartile band,
  one line per optimizer, against steps and against evaluations (log scale);
* ``figures/designs_*.png``: per case, the final designs of the best and of the median seed of
  each optimizer, titled with their losses;
* ``report.md``: the index: study name, counts, the per-case tables and figures, and the runs
  still missing (pending or failed, with their errors).

A partial study (runs pending, running or failed) gives a report of what is done; the missing
runs are listed. Only the result files of done runs are read, and only the variables needed
(``loss``, ``evals``, ``final_design``).

Definitions. The *final loss* of a run is the loss at its last accepted step (the table's
``final_loss``). *Steps to 1%* is the first step ``s`` (step 0 is the starting point) whose
loss is within 1% of it, ``|loss[s] - final| <= 0.01 * |final|``; *evaluations to 1%* is the
number of objective evaluations done by that step. A pixel run has no randomness: it is computed
once and counts for every seed, so its quartiles are equal. In the curves, a run that stopped
before others keeps its final loss.
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .study import Study

__all__ = [
    "CASE",
    "TOLERANCE",
    "register_command",
    "run_table",
    "steps_to_within",
    "summary_table",
    "write_report",
]

#: The columns that make a case; a summary row is a case and an optimizer label.
CASE = ("problem", "model", "penal")
#: Relative distance to a run's own final loss for "steps to 1%".
TOLERANCE = 0.01

_GROUP = [*CASE, "optimizer"]
_PENDING = ("pending", "running")
_MISSING_LISTED = 50


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------
def steps_to_within(losses: Iterable[float], tolerance: float = TOLERANCE) -> int | None:
    """First step whose loss is within ``tolerance`` (relative) of the run's last loss.

    The first ``s`` with ``|losses[s] - final| <= tolerance * |final|``, ``final = losses[-1]``
    (step 0 is the starting point; the last step always qualifies). None for an empty curve or
    a non-finite final loss.
    """
    values = np.asarray(losses, dtype=np.float64).ravel()
    if values.size == 0 or not np.isfinite(values[-1]):
        return None
    final = values[-1]
    reached = np.flatnonzero(np.abs(values - final) <= tolerance * abs(final))
    return int(reached[0])


@dataclass
class _Curve:
    loss: np.ndarray
    evals: np.ndarray
    design: np.ndarray | None


def _study(study_or_dir: Any, name: str | None = None) -> Study:
    from .study import Study

    if isinstance(study_or_dir, Study):
        if name is not None and name != study_or_dir.name:
            return Study(study_or_dir.path, name)
        return study_or_dir
    if isinstance(study_or_dir, (str, Path)):
        return Study(study_or_dir, name)
    from .. import _validate

    raise TypeError(f"a study is a Study or its directory, got {_validate.given(study_or_dir)}")


def _read_run(study: Study, key: str, design: bool) -> _Curve:
    """The per-step loss and evaluation count (and the final design) of one done run."""
    import xarray as xr

    path = study.path / "runs" / f"{key}.nc"
    with xr.open_dataset(path, engine="scipy") as ds:
        loss = np.asarray(ds["loss"].values, dtype=np.float64)
        evals = (
            np.asarray(ds["evals"].values, dtype=np.float64)
            if "evals" in ds
            else np.arange(1, loss.size + 1, dtype=np.float64)
        )
        image = None
        if design and "final_design" in ds:
            image = np.asarray(ds["final_design"].values, dtype=np.float64)
    return _Curve(loss, evals, image)


class _Runs:
    """The study's entries with the curves of the done runs, each file read once."""

    def __init__(self, study: Study, designs: bool = False) -> None:
        self.study = study
        self.table = study.runs()
        self.curves: dict[str, _Curve] = {}
        self.unreadable: dict[str, str] = {}
        done = self.table.loc[self.table["status"] == "done", "key"]
        for key in dict.fromkeys(done):
            try:
                self.curves[key] = _read_run(study, key, designs)
            except Exception as exc:  # a file lost after the run: reported, not fatal
                self.unreadable[key] = f"{type(exc).__name__}: {exc}"

    def with_steps(self) -> pd.DataFrame:
        """The entries, plus steps / evaluations to 1% of the final loss (done runs)."""
        import pandas as pd

        table = self.table.copy()
        steps, evals = [], []
        for key, status in zip(table["key"], table["status"], strict=True):
            curve = self.curves.get(key) if status == "done" else None
            s = steps_to_within(curve.loss) if curve is not None else None
            steps.append(np.nan if s is None else s)
            evals.append(np.nan if s is None else float(curve.evals[s]))
        table["steps_to_1pct"] = pd.array(steps, dtype="Float64").astype("Int64")
        table["evals_to_1pct"] = pd.array(evals, dtype="Float64").astype("Int64")
        # an entry counts as done only if its result could be read
        lost = table["status"].eq("done") & table["key"].isin(list(self.unreadable))
        table.loc[lost, "status"] = "unreadable"
        return table


def run_table(study: Study | str | Path, study_name: str | None = None) -> pd.DataFrame:
    """:meth:`Study.runs` plus ``steps_to_1pct`` and ``evals_to_1pct`` for every done entry.

    A done run whose result file cannot be read gets the status ``"unreadable"``.
    """
    return _Runs(_study(study, study_name)).with_steps()


def _summarize(entries: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for group, part in entries.groupby(_GROUP, sort=False, dropna=False):
        status = part["status"]
        done = part[status == "done"]
        final = done["final_loss"].to_numpy(dtype=np.float64)
        row = dict(zip(_GROUP, group, strict=True))
        row.update(
            seeds=len(part),
            done=int((status == "done").sum()),
            failed=int(status.isin(("failed", "unreadable")).sum()),
            pending=int(status.isin(_PENDING).sum()),
        )
        if final.size:
            q25, median, q75 = np.percentile(final, [25, 50, 75])
            best = int(np.argmin(final))
            row.update(
                final_loss_median=median,
                final_loss_q25=q25,
                final_loss_q75=q75,
                final_loss_iqr=q75 - q25,
                final_loss_best=final[best],
                best_seed=int(done["seed"].iloc[best]),
                steps_to_1pct_median=float(np.nanmedian(done["steps_to_1pct"])),
                evals_to_1pct_median=float(np.nanmedian(done["evals_to_1pct"])),
                n_steps_median=float(np.median(done["n_steps"].astype(float))),
                n_evals_median=float(np.median(done["n_evals"].astype(float))),
                wall_time_median=float(np.median(done["wall_time"].astype(float))),
            )
        rows.append(row)
    columns = [
        *_GROUP,
        "seeds",
        "done",
        "failed",
        "pending",
        "final_loss_median",
        "final_loss_q25",
        "final_loss_q75",
        "final_loss_iqr",
        "final_loss_best",
        "best_seed",
        "steps_to_1pct_median",
        "evals_to_1pct_median",
        "n_steps_median",
        "n_evals_median",
        "wall_time_median",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"best_seed": "Int64"})


def summary_table(study: Study | str | Path, study_name: str | None = None) -> pd.DataFrame:
    """One row per case (problem, model, penal) and optimizer label, in the study's order.

    Columns: problem, model, penal, optimizer; seeds (entries), done, failed (failed or
    unreadable), pending (pending or running); over the done seeds: final_loss_median,
    final_loss_q25, final_loss_q75, final_loss_iqr (q75 - q25, linear interpolation as in
    :func:`numpy.percentile`), final_loss_best, best_seed, steps_to_1pct_median,
    evals_to_1pct_median (see :func:`steps_to_within`), n_steps_median, n_evals_median,
    wall_time_median. Rows without a done seed have NaN statistics.
    """
    return _summarize(_Runs(_study(study, study_name)).with_steps())


# ---------------------------------------------------------------------------------------------
# Markdown and names
# ---------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str = ".5g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    try:
        import pandas as pd

        if pd.isna(value):
            return "–"
    except (TypeError, ValueError):
        pass
    if isinstance(value, (float, np.floating)):
        if spec == "steps":
            return f"{value:.1f}" if value != int(value) else f"{int(value)}"
        return format(float(value), spec)
    return str(value)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" * len(header)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


#: The loss of a lab study (``[lab]`` spec) as stored: the full-batch training objective.
_LAB_LOSS = "full-batch training objective"


def _is_lab(models) -> bool:
    """Whether a study's models are the optimizer lab's (no compliance, no penalty)."""
    models = list(models)
    return bool(models) and all(str(m).startswith("mlp") for m in models)


def _loss_noun(models) -> str:
    return _LAB_LOSS if _is_lab(models) else "compliance"


def _case_title(problem: str, model: str, penal: float) -> str:
    if _is_lab([model]):
        return f"{problem} · {model}"
    return f"{problem} · {model} · penal {penal:g}"


def _slug(index: int, problem: str, model: str, penal: float) -> str:
    model = re.sub(r"[^A-Za-z0-9.]+", "-", model).strip("-")
    return f"{index:02d}_{problem}_{model}_p{penal:g}"[:120]


_CASE_HEADER = [
    "optimizer",
    "done / seeds",
    "failed",
    "pending",
    "median final",
    "IQR",
    "best final (seed)",
    "steps to 1%",
    "evals to 1%",
]


def _case_rows(part: pd.DataFrame) -> list[list[str]]:
    medians = part["final_loss_median"].to_numpy(dtype=np.float64)
    winner = np.nanargmin(medians) if np.isfinite(medians).any() else -1
    rows = []
    for i, (_, r) in enumerate(part.iterrows()):
        median = _fmt(r["final_loss_median"])
        if i == winner and len(part) > 1:
            median = f"**{median}**"
        best = _fmt(r["final_loss_best"])
        if not _isna(r["best_seed"]):
            best = f"{best} ({r['best_seed']})"
        rows.append(
            [
                f"`{r['optimizer']}`",
                f"{r['done']} / {r['seeds']}",
                str(r["failed"]),
                str(r["pending"]),
                median,
                _fmt(r["final_loss_iqr"], ".3g"),
                best,
                _fmt(r["steps_to_1pct_median"], "steps"),
                _fmt(r["evals_to_1pct_median"], "steps"),
            ]
        )
    return rows


def _isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _cases(summary: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    return list(summary.groupby(list(CASE), sort=False, dropna=False))


def _summary_markdown(summary: pd.DataFrame, name: str) -> str:
    parts = [
        f"# Summary of study `{name}`\n",
        f"Final loss ({_loss_noun(summary['model'])}) over the seeds that are done: median, "
        "interquartile range (q75 - q25) and best, with the seed of the best; steps and "
        "evaluations to come within "
        f"{TOLERANCE:.0%} of a run's own final loss (median over seeds). Bold: the lowest "
        "median of the case.\n",
    ]
    for (problem, model, penal), part in _cases(summary):
        parts.append(f"## {_case_title(problem, model, penal)}\n")
        parts.append(_markdown(_CASE_HEADER, _case_rows(part), "llrrrrrrr"))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def _colors(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _held(curves: list[np.ndarray]) -> np.ndarray:
    """Curves as rows of one array, each padded with its last value."""
    longest = max(c.size for c in curves)
    return np.stack([np.concatenate([c, np.full(longest - c.size, c[-1])]) for c in curves])


def _by_evaluation(curve: _Curve, grid: np.ndarray) -> np.ndarray:
    """The loss after ``grid`` evaluations: that of the last step done by then (held)."""
    index = np.searchsorted(curve.evals, grid, side="right") - 1
    out = curve.loss[np.clip(index, 0, None)].copy()
    out[index < 0] = np.nan
    return out


def _bands(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        q25, median, q75 = np.nanpercentile(rows, [25, 50, 75], axis=0)
    return median, q25, q75


_STYLES = ("-", "--", "-.", ":")
#: The y axis of the loss curves stops at this multiple of the largest starting loss, so that a
#: diverging run does not squash the others (the clipping is written on the figure).
_CLIP = 10.0


def _loss_figure(
    title: str,
    series: list[tuple[str, list[_Curve], int]],
    path: Path,
    noun: str = "compliance",
) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogFormatter, MaxNLocator

    class Plain(LogFormatter):  # 0.5, 200, 3000 rather than 5e-01, 2x10^2
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:.6g}"

    fig = Figure(figsize=(11, 4.8), layout="constrained")
    ax_step, ax_eval = fig.subplots(1, 2, sharey=True)
    positive = all(
        (c.loss[np.isfinite(c.loss)] > 0).all() for _, curves, _ in series for c in curves
    )
    handles = []
    low, high, start = np.inf, -np.inf, -np.inf
    # colours and line styles follow the optimizer's place in the case, so that they match
    # across the figures of a study even where some optimizer has no run done
    for i, (color, (label, curves, distinct)) in enumerate(
        zip(_colors(len(series)), series, strict=True)
    ):
        style = _STYLES[i % len(_STYLES)]
        if not curves:
            (line,) = ax_step.plot([], [], color="0.6", lw=1.8, ls=style)
            line.set_label(f"{label}  (no seed done)")
            handles.append(line)
            continue
        by_step = _held([c.loss for c in curves])
        steps = np.arange(by_step.shape[1])
        median, q25, q75 = _bands(by_step)
        start = max(start, float(median[0]))
        low, high = min(low, np.nanmin(q25)), max(high, np.nanmax(q75))
        (line,) = ax_step.plot(steps, median, color=color, lw=1.8, ls=style)
        ax_step.fill_between(steps, q25, q75, color=color, alpha=0.18, lw=0)
        grid = np.arange(1, int(max(c.evals[-1] for c in curves)) + 1, dtype=np.float64)
        by_eval = np.stack([_by_evaluation(c, grid) for c in curves])
        median, q25, q75 = _bands(by_eval)
        ax_eval.plot(grid, median, color=color, lw=1.8, ls=style, drawstyle="steps-post")
        ax_eval.fill_between(grid, q25, q75, color=color, alpha=0.18, lw=0, step="post")
        seeds = len(curves)
        count = f"{seeds} seed{'s' if seeds != 1 else ''}"
        if distinct == 1 and seeds > 1:
            count += ", one run"
        line.set_label(f"{label}  ({count})")
        handles.append(line)
    clipped = positive and high > _CLIP * start > low
    for ax, xlabel in ((ax_step, "step"), (ax_eval, "objective evaluations")):
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        ax.set_xlim(left=0)
    if positive:
        top = _CLIP * start if clipped else high
        ax_step.set_ylim(low / 1.15, top * 1.15)
        if math.log10(top / low) < 3:  # plain numbers on the minor ticks too
            ax_step.yaxis.set_major_formatter(Plain(labelOnlyBase=False))
            ax_step.yaxis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(3, 1)))
    ax_step.set_ylabel(f"{noun} (loss)" + (", log scale" if positive else ""))
    ax_step.set_title("against steps")
    ax_eval.set_title("against objective evaluations")
    note = "median over seeds, band: interquartile range"
    if clipped:
        note += f"; y axis cut at {_CLIP:g}x the starting loss (curves above reach {high:.3g})"
    fig.suptitle(f"{title}\n{note}", fontsize=11)
    widest = max(len(h.get_label()) for h in handles)
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=max(1, min(len(handles), 4, 150 // (widest + 10))),
        frameon=False,
        fontsize=9,
        handlelength=3,
    )
    fig.savefig(path, dpi=110)


@dataclass
class _Pick:
    label: str
    which: str
    seed: int
    loss: float
    key: str
    design: np.ndarray | None
    one_run: bool = False  # every done seed is this one run (the pixel model)


def _designs_figure(title: str, picks: list[tuple[_Pick, _Pick]], path: Path) -> None:
    """Best and median seed per optimizer; one panel per optimizer when they are one run."""
    from matplotlib.figure import Figure

    h, w = next(p.design.shape for pair in picks for p in pair if p.design is not None)
    wide = w >= h
    n = len(picks)
    single = all(a.key == b.key for a, b in picks)
    panels: dict[tuple[int, int], tuple[_Pick, str]] = {}
    if single:
        ncols = min(n, 2) if wide else min(n, 4)
        nrows = math.ceil(n / ncols)
        for i, (a, _) in enumerate(picks):
            note = "every seed (one run)" if a.one_run else f"seed {a.seed}, the only one done"
            panels[divmod(i, ncols)] = (a, f"{a.label}\n{note}: {a.loss:.5g}")
        what = "final designs"
    else:
        nrows, ncols = (n, 2) if wide else (2, n)
        for i, pair in enumerate(picks):
            for j, p in enumerate(pair):
                which = p.which if pair[0].key != pair[1].key else f"{p.which} (= best)"
                head = p.label if (j == 0 or not wide) else ""
                text = f"{head}\n{which}, seed {p.seed}: {p.loss:.5g}"
                panels[(i, j) if wide else (j, i)] = (p, text)
        what = "final designs of the best and the median seed"
    panel_w = 3.6 if wide else 2.2
    panel_h = (panel_w - 0.15) * h / w + 0.5
    fig = Figure(figsize=(ncols * panel_w + 1.0, nrows * panel_h + 0.7), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    image = None
    for (i, j), ax in np.ndenumerate(axes):
        if (i, j) not in panels:
            ax.set_axis_off()
            continue
        pick, text = panels[(i, j)]
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(0.5)
        ax.set_title(text, fontsize=9)
        if pick.design is None:
            ax.text(0.5, 0.5, "design not stored", ha="center", va="center")
            continue
        image = ax.imshow(pick.design, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.5 if nrows > 2 else 0.8, label="density", pad=0.01)
    fig.suptitle(f"{title}\n{what} (final compliance)", fontsize=11)
    fig.savefig(path, dpi=110)


def _picks(label: str, done: pd.DataFrame, curves: dict[str, _Curve]) -> tuple[_Pick, _Pick] | None:
    done = done[done["key"].isin(list(curves))]
    if done.empty:
        return None
    order = done.sort_values(["final_loss", "seed"], kind="stable")
    best, median = order.iloc[0], order.iloc[len(order) // 2]

    def pick(row, which):
        return _Pick(
            label,
            which,
            int(row["seed"]),
            float(row["final_loss"]),
            row["key"],
            curves[row["key"]].design,
        )

    a, b = pick(best, "best"), pick(median, "median")
    a.one_run = b.one_run = done["key"].nunique() == 1 and len(done) > 1
    return a, b


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
def _clean(figures: Path) -> None:
    """Figures of an earlier report (its cases may have changed); only ours are removed."""
    for old in figures.glob("*.png"):
        if old.name.startswith(("loss_", "designs_")):
            old.unlink()


def write_report(
    study_or_dir: Study | str | Path,
    out: str | Path | None = None,
    study: str | None = None,
) -> Path:
    """Write the study's report (tables, figures, ``report.md``) and return ``report.md``.

    Parameters
    ----------
    study_or_dir : Study or path
        The study, or its directory.
    out : path, optional
        The report folder (default: ``<study directory>/report``); created if missing.
        Figures of an earlier report there (``figures/loss_*.png``, ``designs_*.png``) are
        replaced.
    study : str, optional
        Which study of the directory (default: its latest).

    Returns
    -------
    Path
        The ``report.md`` written; the tables and ``figures/`` are next to it.
    """
    from .. import __version__

    s = _study(study_or_dir, study)
    out = Path(out) if out is not None else s.path / "report"
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    _clean(figures)

    runs = _Runs(s, designs=True)
    entries = runs.with_steps()
    summary = _summarize(entries)

    entries.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(_summary_markdown(summary, s.name))

    sections = []
    for index, ((problem, model, penal), part) in enumerate(_cases(summary), start=1):
        title = _case_title(problem, model, penal)
        slug = _slug(index, problem, model, penal)
        case = entries[
            (entries["problem"] == problem)
            & (entries["model"] == model)
            & (entries["penal"] == penal)
        ]
        series, picks = [], []
        for label in part["optimizer"]:
            done = case[(case["optimizer"] == label) & (case["status"] == "done")]
            keys = [k for k in done["key"] if k in runs.curves]
            series.append((label, [runs.curves[k] for k in keys], len(set(keys))))
            pair = _picks(label, done, runs.curves)
            if pair is not None:
                picks.append(pair)
        lines = [f"### {index}. {title}\n", _markdown(_CASE_HEADER, _case_rows(part), "llrrrrrrr")]
        links, images = [], []
        if any(curves for _, curves, _ in series):
            loss_png = figures / f"loss_{slug}.png"
            _loss_figure(title, series, loss_png, _loss_noun([model]))
            links.append(f"[loss curves](figures/{loss_png.name})")
            images.append(f"![loss curves, {title}](figures/{loss_png.name})\n")
        if picks and any(p.design is not None for pair in picks for p in pair):
            designs_png = figures / f"designs_{slug}.png"
            _designs_figure(title, picks, designs_png)
            links.append(f"[designs](figures/{designs_png.name})")
            images.append(f"![designs, {title}](figures/{designs_png.name})\n")
        if links:
            lines.append("Figures: " + " · ".join(links) + "\n")
            lines.extend(images)
        else:
            lines.append("No run of this case is done yet: no figures.\n")
        sections.append("\n".join(lines))

    text = _index(s, entries, summary, sections, runs.unreadable, __version__)
    path = out / "report.md"
    path.write_text(text)
    return path


def _counts_table(entries: pd.DataFrame) -> str:
    distinct = entries.drop_duplicates("key")
    rows = []
    for status in ("done", "running", "pending", "failed", "unreadable"):
        n_runs = int((distinct["status"] == status).sum())
        n_entries = int((entries["status"] == status).sum())
        if n_runs or status in ("done", "pending", "failed"):
            rows.append([status, str(n_runs), str(n_entries)])
    rows.append(["total", str(len(distinct)), str(len(entries))])
    return _markdown(["status", "distinct runs", "entries (run x seed)"], rows, "lrr")


def _missing(entries: pd.DataFrame, unreadable: dict[str, str], where: Path) -> str:
    missing = entries[entries["status"] != "done"]
    if missing.empty:
        return "Nothing: every run of the study is done.\n"
    runs = missing.groupby("key", sort=False)
    rows = []
    for key, part in list(runs)[:_MISSING_LISTED]:
        r = part.iloc[0]
        seeds = ", ".join(str(x) for x in part["seed"])
        error = r["error"] if isinstance(r["error"], str) else unreadable.get(key, "")
        if len(error) > 160:
            error = error[:157] + "..."
        rows.append(
            [
                r["status"],
                f"`{key}`",
                r["problem"],
                r["model"],
                f"{r['penal']:g}",
                f"`{r['optimizer']}`",
                seeds,
                error,
            ]
        )
    header = ["status", "run", "problem", "model", "penal", "optimizer", "seeds", "error"]
    text = (
        f"{runs.ngroups} run(s) ({len(missing)} entries) not done. The statistics and figures "
        "above use the done seeds only.\n\n" + _markdown(header, rows)
    )
    if runs.ngroups > _MISSING_LISTED:
        text += f"\n... and {runs.ngroups - _MISSING_LISTED} more: see [runs.csv](runs.csv).\n"
    if (missing["status"] == "failed").any():
        text += (
            f"\nFull errors: `toposcape study status {where}`; rerun failed runs with "
            f"`toposcape study run SPEC --out {where} --retry-failed`.\n"
        )
    if missing["status"].isin(_PENDING).any():
        text += (
            f"\nPending runs: rerun `toposcape study run SPEC --out {where}` to continue, "
            "then this report.\n"
        )
    return text


def _index(s, entries, summary, sections, unreadable, version) -> str:
    spec = s.spec_source
    distinct = entries.drop_duplicates("key")
    n_done = int((distinct["status"] == "done").sum())
    complete = n_done == len(distinct)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    budget = ", ".join(
        f"{k} = {spec[k]}" for k in ("max_evals", "max_steps") if spec.get(k) is not None
    )
    versions = sorted({str(v) for v in distinct["version"].dropna()})
    lab = _is_lab(entries["model"])
    noun = _loss_noun(entries["model"])
    lines = [
        f"# Study report: `{s.name}`\n",
        f"- study directory: `{s.path}`",
        f"- generated {now} by toposcape {version}"
        + (f" (runs computed with {', '.join(versions)})" if versions else ""),
        f"- {len(entries)} entries (run x seed), {len(distinct)} distinct runs: "
        f"{n_done} done" + ("" if complete else " — **partial study**, see [Missing](#missing)"),
        f"- problems: {', '.join(f'`{p}`' for p in dict.fromkeys(entries['problem']))}",
        f"- models: {', '.join(f'`{m}`' for m in dict.fromkeys(entries['model']))}",
        *(
            []
            if lab
            else [f"- penal: {', '.join(f'{p:g}' for p in dict.fromkeys(entries['penal']))}"]
        ),
        f"- optimizers: {', '.join(f'`{o}`' for o in dict.fromkeys(entries['optimizer']))}",
        f"- seeds: {', '.join(str(x) for x in dict.fromkeys(entries['seed']))}"
        + (f"; budget: {budget}" if budget else ""),
        "",
        "## Contents\n",
        "- [Counts](#counts)",
        "- [Tables](#tables)",
        "- [Cases](#cases): per case, its table, loss curves and designs",
        "- [Missing](#missing): runs not done",
        "- [Definitions](#definitions)",
        "",
        "## Counts\n",
        _counts_table(entries),
        "## Tables\n",
        "- [summary.md](summary.md), [summary.csv](summary.csv): per case and optimizer, "
        "final loss median / IQR / best over seeds, steps to 1% (median), seeds done / failed / "
        "pending",
        "- [runs.csv](runs.csv): every entry (run x seed) with its status, losses, steps to 1% "
        "and error",
        "",
        "## Cases\n",
        f"{len(sections)} case(s) (problem · model{'' if lab else ' · penal'}). "
        f"Loss = {noun}. Bold: the "
        "lowest median final loss of the case.\n",
        *sections,
        "## Missing\n",
        _missing(entries, unreadable, s.path),
        "## Definitions\n",
        (
            f"- *final loss*: the {noun} at a run's final parameters (curves of minibatch runs "
            "show batch losses)."
            if lab
            else "- *final loss*: the loss at a run's last accepted step (compliance)."
        ),
        "- *IQR*: q75 − q25 of the final losses of the done seeds (linear interpolation).",
        "- *best final (seed)*: the lowest final loss over the done seeds, and its seed.",
        f"- *steps to 1%*: the first step s (step 0 = the start) with |loss[s] − final| ≤ "
        f"{TOLERANCE:g}·|final|, median over the done seeds; *evals to 1%*: the objective "
        "evaluations done by that step.",
        "- curves: median over the done seeds at each step (left) and after each number of "
        "objective evaluations (right); band: q25–q75; a run that stopped earlier keeps its "
        "final loss.",
        "- designs: the final design of the seed with the lowest final loss and of the median "
        "seed (the upper one for an even number of seeds).",
        "- the pixel model has no randomness: its run is computed once and counts for every "
        "seed, so its band and IQR are zero.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def _cmd_report(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    try:
        path = write_report(args.dir, args.out, args.study)
    except (InvalidInputError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"toposcape: error: {message}", file=sys.stderr)
        return 2
    summary = path.parent
    n_png = len(list((summary / "figures").glob("*.png")))
    print(f"wrote {path} (tables summary.md, summary.csv, runs.csv; {n_png} figures)")
    return 0


def register_command(subparsers) -> argparse.ArgumentParser:
    """Add ``report`` to the subcommands of ``toposcape study``; returns its parser."""
    p = subparsers.add_parser(
        "report",
        help="tables, loss curves and designs of a study, indexed by a report.md",
        description=(
            "Write a study's report: summary tables (Markdown and CSV) of the final loss "
            "(median, IQR, best over seeds) and of the steps to 1% of the final loss, per "
            "case and optimizer; loss curves and designs per case (PNG); and report.md, the "
            "index, which also lists the runs not done. Works on partial studies."
        ),
    )
    p.add_argument("dir", help="study directory")
    p.add_argument("--out", default=None, help="report folder (DIR/report)")
    p.add_argument("--study", default=None, help="which study of the directory (latest)")
    p.set_defaults(func=_cmd_report)
    return p
