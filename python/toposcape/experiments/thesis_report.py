"""The thesis study's report: its tables next to the published ones, and its six findings tested.

``toposcape reproduce thesis`` runs three stages (a tuning, the main study ``"thesis"``, the
landscape study ``"thesis-landscape"``) and then :func:`write_thesis_report`:

>>> from toposcape.experiments import thesis_report as tr
>>> cases = tr.case_table(ts.experiments.open("out/main", "thesis"))  # run x seed
>>> tr.table_3_3(cases)             # next to the thesis' Table 3.3
>>> [f.verdict for f in tr.findings(cases, landscape="out/landscape", tuning="out/tune")]
>>> tr.write_thesis_report("out/report", "out/main", "out/tune", "out/landscape", "quick")

Definitions (shared with the generic study report, :mod:`toposcape.experiments.report`):

* *final loss*: the loss at a run's last accepted step; *converged step* (the thesis'
  "approximate convergence step"): :func:`report.steps_to_within` of the run's loss curve, the
  first step within ``report.TOLERANCE`` (1%) of its own final loss;
* *median over seeds*: over the seeds whose run is done; a done run whose final loss is not
  finite counts as +inf; failed seeds are left out and counted (a case whose seeds all failed
  has no median: the findings that need it are inconclusive). A pixel run has no randomness:
  it is one run listed under every seed;
* *diverged*: a failed run, a done run with a non-finite final loss, or a done run whose final
  loss is above its initial loss (pending and running runs: unknown).

Each finding of ``studies.md`` section 1 is a list of *checks*, each evaluated on *units*
(the problems, or the cases, of the study: a profile that ran problems A and B tests A and B).
A check on a unit passes, fails, or is *missing* (the data it needs are not there: a case or an
optimizer not run, every seed failed, no landscape or tuning stage). The verdict:

* **does not hold**: some check fails on some unit (each claim is made for every problem or
  every case: one counter-example refutes it);
* **inconclusive**: no check fails, but a required check is missing on some unit (or no unit
  at all could be tested);
* **holds**: every required check passes on every unit.

An optional check (the p = 1 convexity check from the landscape stage) counts when its data
are there and is only noted when they are not. The thresholds are the module constants below;
the report lists them with the tests. Each finding is also tested, where the tables allow it,
on the thesis' own published medians (Tables 3.2 and 3.3, :func:`published_cases`): a test
that the thesis' numbers fail says something about the claim, not about the reproduction.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import report as _report
from .spec import STUDY_CODES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from .study import Study

__all__ = [
    "CONVEX_NEGATIVE_MASS",
    "DIFFER",
    "END_WINDOW",
    "FAR_TOO_SMALL",
    "FLATTER",
    "GD_FAR_WORSE",
    "GD_LS_MATCH",
    "GD_LS_STEPS_FACTOR",
    "GRAD_DROP_DECADES",
    "M1_MATCH",
    "P1_NN_MATCH",
    "P1_SPREAD",
    "THESIS_OPTIMIZERS",
    "Finding",
    "case_table",
    "findings",
    "published_cases",
    "table_3_2",
    "table_3_3",
    "table_markdown",
    "write_thesis_report",
]

# ---------------------------------------------------------------------------------------------
# Thresholds (every number a verdict depends on)
# ---------------------------------------------------------------------------------------------
#: Finding 1: largest relative spread (max - min) / min of the P1 median final losses over the
#: optimizers with a line search or a tuned quasi-Newton direction (all but the constant-step
#: GD runs, which are reported: the thesis' own P1D GD ends 12% above the others after 700
#: steps, i.e. it has not converged, which says nothing about convexity).
P1_SPREAD = 0.01
#: Finding 1: NN1 + L-BFGS's median final loss within this relative distance of P1 + L-BFGS's.
P1_NN_MATCH = 0.02
#: Finding 2: "far worse": GD's (and the long GD's) median final loss above
#: (1 + GD_FAR_WORSE) x L-BFGS's on the NN3 case (the thesis: 35% to 100% above).
GD_FAR_WORSE = 0.10
#: Finding 3: L-BFGS_M1's median final loss within this relative distance of L-BFGS's (either
#: side) on every NN case. 3%: the largest gap the thesis itself calls "like" is 2.5% (NN3D).
M1_MATCH = 0.03
#: Finding 4: GD_LS's median final loss at most (1 + GD_LS_MATCH) x L-BFGS's ("L-BFGS quality").
GD_LS_MATCH = 0.05
#: Finding 4: "many more iterations": GD_LS's median converged step at least this multiple of
#: L-BFGS's (the thesis: 6x to 19x on the NN3 cases).
GD_LS_STEPS_FACTOR = 2.0
#: Finding 6: L-BFGS's gradient norm falls by at least this many orders of magnitude from the
#: first to the last step (median over seeds of log10(|g_0| / |g_end|)).
GRAD_DROP_DECADES = 2.0
#: Finding 6: "flat": the Hessian's top eigenvalue at the last spectral step is below FLATTER x
#: its value at the first (median over seeds of the ratio).
FLATTER = 1.0
#: Finding 6: "far too small": the effective step of the L-BFGS_M1 runs at the end (median of
#: step_length[j] / grad_norm[j - 1] over their last END_WINDOW steps) at least
#: FAR_TOO_SMALL x the GD step tuned for the case.
FAR_TOO_SMALL = 10.0
#: Finding 6: how many of the last steps the effective step at the end is a median of.
END_WINDOW = 5
#: Finding 1 (landscape): largest negative mass of the physics Hessian's spectral density in
#: the volume-constrained pixel space at p = 1 (convex: ~0), at every analysed step.
CONVEX_NEGATIVE_MASS = 0.01
#: "Where numbers differ": a reproduced median that differs from the published one by more than
#: this relative amount is listed.
DIFFER = 0.10

#: The optimizers of the thesis' Table 3.3, in its column order.
THESIS_OPTIMIZERS = ("GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS")
#: The long GD run's label: ``GD_<steps>`` (2000 in the thesis).
LONG_GD = re.compile(r"^GD_(\d+)$")

_VERDICTS = ("holds", "does not hold", "inconclusive")
_PROBLEM_CODE = {name: code for code, name in STUDY_CODES.items()}
_CODE_ORDER = {code: i for i, code in enumerate(STUDY_CODES)}
_CASE_COLUMNS = [
    "case",
    "model",
    "penal",
    "problem",
    "optimizer",
    "seed",
    "status",
    "final_loss",
    "best_loss",
    "initial_loss",
    "n_steps",
    "n_evals",
    "converged_step",
    "initial_grad_norm",
    "final_grad_norm",
    "diverged",
    "wall_time",
    "key",
    "model_label",
    "problem_name",
    "error",
]


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
def _problem_code(name: Any) -> str:
    return _PROBLEM_CODE.get(str(name), str(name))


def _penal(value: Any) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


def _model_codes(labels: Iterable[str]) -> dict[str, str]:
    """``pixel`` -> P; the first CNN label -> NN; further CNN labels NN(<label>) (kept apart)."""
    out: dict[str, str] = {}
    cnn = 0
    for label in dict.fromkeys(str(x) for x in labels):
        if label == "pixel":
            out[label] = "P"
        elif label.startswith("cnn"):
            out[label] = "NN" if cnn == 0 else f"NN({label})"
            cnn += 1
        else:
            out[label] = label
    return out


def _case_name(model: str, penal: int | float, problem: str) -> str:
    return f"{model}{penal:g}{problem}"


def _long_gd(optimizers: Iterable[str]) -> str | None:
    """The long GD run's label (the largest ``GD_<n>``), or None."""
    found = [(int(m.group(1)), o) for o in set(optimizers) if (m := LONG_GD.match(str(o)))]
    return max(found)[1] if found else None


def _problem_sort(codes: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(codes), key=lambda c: (_CODE_ORDER.get(c, len(_CODE_ORDER)), c))


# ---------------------------------------------------------------------------------------------
# The case table
# ---------------------------------------------------------------------------------------------
@dataclass
class _Read:
    """The main study's runs: the case table and the curves of the done runs (read once)."""

    cases: pd.DataFrame
    loss: dict[str, _report._Curve] = field(default_factory=dict)
    grad: dict[str, np.ndarray] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    name: str = ""
    path: Path | None = None


def _read_result(study: Study, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wanted = ["loss", "grad_norm", "evals"]
    try:
        ds = study.result(key, wanted)
    except KeyError:  # a result without some per-step variable
        full = study.result(key)
        ds = full[[v for v in wanted if v in full]]
    loss = np.asarray(ds["loss"].values, dtype=np.float64).ravel()
    grad = (
        np.asarray(ds["grad_norm"].values, dtype=np.float64).ravel()
        if "grad_norm" in ds
        else np.full(loss.size, np.nan)
    )
    evals = (
        np.asarray(ds["evals"].values, dtype=np.float64).ravel()
        if "evals" in ds
        else np.arange(1, loss.size + 1, dtype=np.float64)
    )
    return loss, grad, evals


def _first(values: np.ndarray) -> float:
    return float(values[0]) if values.size else math.nan


def _last(values: np.ndarray) -> float:
    return float(values[-1]) if values.size else math.nan


def _float(value: Any) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def _diverged(status: str, final: float, initial: float) -> Any:
    import pandas as pd

    if status == "failed":
        return True
    if status in ("done", "unreadable"):
        if not math.isfinite(final):
            return True
        return bool(math.isfinite(initial) and final > initial)
    return pd.NA


def _collect(main: Study | str | Path) -> _Read:
    import pandas as pd

    study = _report._study(main)
    runs = study.runs()
    read = _Read(pd.DataFrame(columns=_CASE_COLUMNS), name=study.name, path=study.path)
    done = runs.loc[runs["status"] == "done", "key"]
    for key in dict.fromkeys(done):
        try:
            loss, grad, evals = _read_result(study, key)
        except Exception as exc:  # a file lost after the run: reported, not fatal
            read.unreadable[key] = f"{type(exc).__name__}: {exc}"
            continue
        read.loss[key] = _report._Curve(loss, evals, None)
        read.grad[key] = grad
    models = _model_codes(runs["model"])
    rows = []
    for r in runs.itertuples(index=False):
        status = str(r.status)
        if status == "done" and r.key in read.unreadable:
            status = "unreadable"
        curve = read.loss.get(r.key) if status == "done" else None
        grad = read.grad.get(r.key) if status == "done" else None
        loss = curve.loss if curve is not None else np.empty(0)
        final = _float(r.final_loss)
        if math.isnan(final) and loss.size:  # not in the index: the curve's last loss
            final = float(loss[-1])
        initial = _first(loss)
        step = _report.steps_to_within(loss) if loss.size else None
        model, penal, problem = models[str(r.model)], _penal(r.penal), _problem_code(r.problem)
        rows.append(
            {
                "case": _case_name(model, penal, problem),
                "model": model,
                "penal": penal,
                "problem": problem,
                "optimizer": str(r.optimizer),
                "seed": r.seed,
                "status": status,
                "final_loss": final if status in ("done", "unreadable") else math.nan,
                "best_loss": _float(r.best_loss),
                "initial_loss": initial,
                "n_steps": r.n_steps,
                "n_evals": r.n_evals,
                "converged_step": step,
                "initial_grad_norm": _first(grad) if grad is not None else math.nan,
                "final_grad_norm": _last(grad) if grad is not None else math.nan,
                "diverged": _diverged(status, final, initial),
                "wall_time": _float(r.wall_time),
                "key": r.key,
                "model_label": str(r.model),
                "problem_name": str(r.problem),
                "error": r.error if isinstance(r.error, str) else read.unreadable.get(r.key),
            }
        )
    table = pd.DataFrame(rows, columns=_CASE_COLUMNS)
    for column in ("n_steps", "n_evals", "converged_step", "seed"):
        table[column] = pd.array(pd.to_numeric(table[column], errors="coerce"), dtype="Float64")
        table[column] = table[column].astype("Int64")
    table["diverged"] = table["diverged"].astype("boolean")
    for column in ("final_loss", "best_loss", "initial_loss", "wall_time"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    read.cases = table
    return read


def case_table(main_study: Study | str | Path) -> pd.DataFrame:
    """The main study as a tidy table: one row per (case, optimizer, seed).

    Parameters
    ----------
    main_study : Study or path
        The main stage's study (``ts.experiments.open(dir, "thesis")``) or its directory.

    Returns
    -------
    pandas.DataFrame
        Columns: ``case`` (``NN3A``: NN for the CNN / P for pixels, the penalty, the problem's
        study code), ``model`` (NN / P), ``penal`` (int), ``problem`` (code A, B, D, E; another
        problem keeps its suite name), ``optimizer`` (the study's labels, the thesis' names,
        the long GD as ``GD_<steps>``), ``seed``, ``status`` (done / failed / pending /
        running, or ``unreadable`` for a done run whose result file cannot be read),
        ``final_loss``, ``best_loss``, ``initial_loss`` (loss at step 0), ``n_steps``,
        ``n_evals``, ``converged_step`` (:func:`report.steps_to_within` of the loss curve),
        ``initial_grad_norm``, ``final_grad_norm`` (first and last recorded gradient norm),
        ``diverged`` (a failed run, a non-finite final loss, or a final loss above the initial
        loss; NA for runs not finished), and ``wall_time``, ``key``, ``model_label``,
        ``problem_name``, ``error``. A second CNN model of the same study gets the model code
        ``NN(<its label>)``.
    """
    return _collect(main_study).cases


def published_cases() -> pd.DataFrame:
    """The thesis' published medians as a case table (one row, seed 0, per case and optimizer).

    ``final_loss`` and ``converged_step`` from Table 3.3, the long GD (``GD_2000``, p = 3 only)
    from Table 3.2; the initial losses and gradient norms are not published (NaN). Fed to
    :func:`findings`, it tests each finding on the thesis' own numbers.
    """
    import pandas as pd

    from .published import thesis_tables

    tables = thesis_tables()
    rows = []

    def add(case: str, optimizer: str, loss: float, step: Any) -> None:
        model = "NN" if case.startswith("NN") else "P"
        penal, problem = int(case[len(model)]), case[len(model) + 1 :]
        rows.append(
            {
                "case": case,
                "model": model,
                "penal": penal,
                "problem": problem,
                "optimizer": optimizer,
                "seed": 0,
                "status": "done",
                "final_loss": float(loss),
                "best_loss": float(loss),
                "converged_step": step,
                "diverged": False,
                "problem_name": STUDY_CODES.get(problem, problem),
            }
        )

    t33 = tables["table_3_3"]
    for case, cells in t33["rows"].items():
        for optimizer, cell in zip(t33["columns"], cells, strict=True):
            add(case, optimizer, cell["loss"], cell["converged_step"])
    for problem, models in tables["table_3_2"]["rows"].items():
        for model, code in (("cnn", "NN"), ("pixel", "P")):
            if "gd_2000" in models.get(model, {}):
                add(f"{code}3{problem}", "GD_2000", models[model]["gd_2000"], None)
    table = pd.DataFrame(rows, columns=_CASE_COLUMNS)
    table["converged_step"] = pd.array(
        pd.to_numeric(table["converged_step"], errors="coerce"), dtype="Float64"
    ).astype("Int64")
    table["diverged"] = table["diverged"].astype("boolean")
    return table


# ---------------------------------------------------------------------------------------------
# Medians over seeds
# ---------------------------------------------------------------------------------------------
@dataclass
class _Stat:
    seeds: int
    done: int
    failed: int
    pending: int
    diverged: int
    final: float  # median final loss over the done seeds (non-finite = +inf); NaN if none
    step: float  # median converged step over the done seeds (NaN if none)
    grad_drop: float  # median log10(|g_0| / |g_end|) over the done seeds (NaN if none)


def _median(values: Iterable[float]) -> float:
    array = np.asarray(list(values), dtype=np.float64)
    return float(np.median(array)) if array.size else math.nan


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64 (NA -> NaN; all NaN if the table has no such column)."""
    import pandas as pd

    if name not in table:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table[name], errors="coerce").astype("Float64")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _stats(cases: pd.DataFrame) -> dict[tuple[str, str], _Stat]:
    import pandas as pd

    out = {}
    for (case, optimizer), part in cases.groupby(["case", "optimizer"], sort=False):
        status = part["status"].astype(str)
        done = part[status.isin(["done", "unreadable"])]
        final = _column(done, "final_loss")
        final = np.where(np.isfinite(final), final, np.inf)
        steps = _column(done, "converged_step")
        steps = steps[np.isfinite(steps)]
        g0, g1 = _column(done, "initial_grad_norm"), _column(done, "final_grad_norm")
        ok = np.isfinite(g0) & np.isfinite(g1) & (g0 > 0) & (g1 > 0)
        drops = np.log10(g0[ok] / g1[ok])
        diverged = (
            part["diverged"].astype("boolean").fillna(False)
            if "diverged" in part
            else pd.Series(False, index=part.index)
        )
        out[(str(case), str(optimizer))] = _Stat(
            seeds=len(part),
            done=len(done),
            failed=int((status == "failed").sum()),
            pending=int(status.isin(["pending", "running"]).sum()),
            diverged=int(diverged.sum()),
            final=_median(final),
            step=_median(steps),
            grad_drop=_median(drops),
        )
    return out


class _Medians:
    def __init__(self, cases: pd.DataFrame) -> None:
        self.cases = cases
        self.stats = _stats(cases) if len(cases) else {}
        self.problems = _problem_sort(cases["problem"].astype(str)) if len(cases) else []
        self.optimizers = set(cases["optimizer"].astype(str)) if len(cases) else set()
        self.long_gd = _long_gd(self.optimizers)

    def get(self, case: str, optimizer: str | None) -> _Stat | None:
        return self.stats.get((case, optimizer)) if optimizer else None

    def need(self, wanted: Sequence[tuple[str, str | None]]) -> tuple[list[_Stat], str | None]:
        """The stats of ``(case, optimizer)`` pairs, or why some cannot be used."""
        found, why = [], []
        for case, optimizer in wanted:
            s = self.get(case, optimizer)
            if optimizer is None:
                why.append(f"{case}: no long GD run in the study")
            elif s is None:
                why.append(f"{case} {optimizer}: not run")
            elif s.done == 0:
                what = f"{s.failed} failed" if s.failed else "none done"
                if s.pending:
                    what += f", {s.pending} pending"
                why.append(f"{case} {optimizer}: no seed done ({what})")
            else:
                found.append(s)
        return found, ("; ".join(why) or None)


# ---------------------------------------------------------------------------------------------
# Tables 3.2 and 3.3
# ---------------------------------------------------------------------------------------------
def _status(s: _Stat | None) -> str:
    if s is None:
        return "not run"
    if s.done == 0:
        return "all seeds failed" if s.failed == s.seeds else "no seed done"
    if s.done < s.seeds:
        return f"{s.done} of {s.seeds} seeds done"
    return "done"


def _ratio(reproduced: float, published: float) -> float:
    if not (math.isfinite(published) and published != 0 and not math.isnan(reproduced)):
        return math.nan
    return reproduced / published


def table_3_3(cases: pd.DataFrame) -> pd.DataFrame:
    """The thesis' Table 3.3 reproduced: per case and optimizer, the median final loss and the
    median converged step over the seeds, next to the published values.

    One row per (case, optimizer) of the published table (16 cases x 6 optimizers, in its
    order) and per further case of ``cases``. Columns: case, optimizer, status (``done``,
    ``k of n seeds done``, ``all seeds failed``, ``no seed done``, ``not run``), seeds, done,
    diverged, published_loss, reproduced_loss, loss_ratio (reproduced / published),
    published_step, reproduced_step. Markdown: :func:`table_markdown`.
    """
    import pandas as pd

    from .published import thesis_tables

    published = thesis_tables()["table_3_3"]
    m = _Medians(cases)
    order = list(published["rows"])
    extra = [c for c in dict.fromkeys(cases["case"].astype(str)) if c not in published["rows"]]
    rows = []
    for case in order + extra:
        cells = dict(zip(published["columns"], published["rows"].get(case, []), strict=False))
        for optimizer in THESIS_OPTIMIZERS:
            s = m.get(case, optimizer)
            cell = cells.get(optimizer) or {}
            loss = float(cell.get("loss", math.nan))
            reproduced = s.final if s is not None and s.done else math.nan
            rows.append(
                {
                    "case": case,
                    "optimizer": optimizer,
                    "status": _status(s),
                    "seeds": s.seeds if s else 0,
                    "done": s.done if s else 0,
                    "diverged": s.diverged if s else 0,
                    "published_loss": loss,
                    "reproduced_loss": reproduced,
                    "loss_ratio": _ratio(reproduced, loss),
                    "published_step": float(cell.get("converged_step", math.nan)),
                    "reproduced_step": s.step if s is not None and s.done else math.nan,
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["thesis_table"] = "3.3"
    return table


_T32_COLUMNS = (("L-BFGS", "lbfgs_300", "L-BFGS 300"), ("GD", "gd_700", "GD 700"))


def table_3_2(cases: pd.DataFrame) -> pd.DataFrame:
    """The thesis' Table 3.2 reproduced: at p = 3, the median final loss of L-BFGS, GD and the
    long GD, for the CNN (NN) and the pixel model (P) per problem, next to the published values.

    One row per (problem, model, column): problems A, B, D, E (the published ones) and any
    other problem of ``cases``. Columns: problem, model, column (the thesis' name: ``L-BFGS
    300``, ``GD 700``, ``GD 2000``), optimizer (the reproduction's label; the long GD is the
    study's ``GD_<steps>``), status, seeds, done, diverged, published, reproduced, ratio
    (reproduced / published). Markdown: :func:`table_markdown`.
    """
    import pandas as pd

    from .published import thesis_tables

    published = thesis_tables()["table_3_2"]["rows"]
    m = _Medians(cases)
    columns = [*_T32_COLUMNS, (m.long_gd or "GD_2000", "gd_2000", "GD 2000")]
    problems = _problem_sort([*published, *(cases["problem"].astype(str) if len(cases) else [])])
    rows = []
    for problem in problems:
        for model, key in (("NN", "cnn"), ("P", "pixel")):
            for optimizer, pkey, name in columns:
                s = m.get(_case_name(model, 3, problem), optimizer)
                value = published.get(problem, {}).get(key, {}).get(pkey, math.nan)
                reproduced = s.final if s is not None and s.done else math.nan
                rows.append(
                    {
                        "problem": problem,
                        "model": model,
                        "column": name,
                        "optimizer": optimizer,
                        "status": _status(s),
                        "seeds": s.seeds if s else 0,
                        "done": s.done if s else 0,
                        "diverged": s.diverged if s else 0,
                        "published": float(value),
                        "reproduced": reproduced,
                        "ratio": _ratio(reproduced, float(value)),
                    }
                )
    table = pd.DataFrame(rows)
    table.attrs["thesis_table"] = "3.2"
    return table


def _num(value: float, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf"
    return format(float(value), spec)


def _step(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:g}"


def _reproduced_cell(status: str, loss: float, step: float | None, done: int, seeds: int) -> str:
    if status in ("not run", "all seeds failed", "no seed done"):
        return status
    text = _num(loss) + (f" ({_step(step)})" if step is not None else "")
    return text + (f" [{done}/{seeds}]" if done < seeds else "")


def table_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`table_3_2` or :func:`table_3_3`: two rows per case (reproduced, then
    thesis), cells ``median final loss (median converged step)``; ``[k/n]``: k of the n seeds
    done; ``not run`` / ``all seeds failed`` where there is nothing to show."""
    which = table.attrs.get("thesis_table")
    if which == "3.3":
        header = ["case", "source", *THESIS_OPTIMIZERS]
        rows = []
        for case, part in table.groupby("case", sort=False):
            part = part.set_index("optimizer")
            rows.append(
                [f"**{case}**", "reproduced"]
                + [
                    _reproduced_cell(
                        r["status"],
                        r["reproduced_loss"],
                        r["reproduced_step"],
                        r["done"],
                        r["seeds"],
                    )
                    for _, r in part.loc[list(THESIS_OPTIMIZERS)].iterrows()
                ]
            )
            rows.append(
                ["", "thesis"]
                + [
                    f"{_num(r['published_loss'])} ({_step(r['published_step'])})"
                    if math.isfinite(r["published_loss"])
                    else "–"
                    for _, r in part.loc[list(THESIS_OPTIMIZERS)].iterrows()
                ]
            )
        return _report._markdown(header, rows, "ll" + "r" * len(THESIS_OPTIMIZERS))
    if which == "3.2":
        names = list(dict.fromkeys(table["column"]))
        header = ["problem", "model", "source"] + [
            f"`{o}` (thesis: {n})"
            for n, o in dict.fromkeys(zip(table["column"], table["optimizer"], strict=True))
        ]
        rows = []
        for (problem, model), part in table.groupby(["problem", "model"], sort=False):
            part = part.set_index("column").loc[names]
            rows.append(
                [f"**{problem}**", model, "reproduced"]
                + [
                    _reproduced_cell(r["status"], r["reproduced"], None, r["done"], r["seeds"])
                    for _, r in part.iterrows()
                ]
            )
            rows.append(["", "", "thesis"] + [_num(v) for v in part["published"]])
        return _report._markdown(header, rows, "lll" + "r" * len(names))
    raise ValueError("table_markdown: not a table of table_3_2 or table_3_3 (attrs lost?)")


# ---------------------------------------------------------------------------------------------
# Stages other than the main one: the tuning and the landscape study
# ---------------------------------------------------------------------------------------------
def _tuning_doc(tuning: Any) -> dict | None:
    """``tuned.json`` as a dict: from a dict, a tuning directory or the file itself."""
    if tuning is None:
        return None
    if isinstance(tuning, Mapping):
        return dict(tuning)
    path = Path(tuning)
    if path.is_dir():
        path = path / "tuned.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _tuned_cases(doc: dict | None) -> dict[tuple[str, str], dict]:
    """``{(case, optimizer label): record}`` of a tuning (GD, HD_M1, HD_M10 in thesis names)."""
    out: dict[tuple[str, str], dict] = {}
    if not doc:
        return out
    models: dict[str, str] = {}
    for record in doc.get("cases", {}).values():
        model = record.get("model") or {}
        kind = model.get("kind", "?")
        label = "pixel" if kind == "pixel" else json.dumps(model, sort_keys=True)
        if kind != "pixel" and label not in models:
            models[label] = "NN" if "NN" not in models.values() else f"NN({label})"
        code = "P" if kind == "pixel" else models[label] if kind == "cnn" else kind
        optimizer = record.get("optimizer") or {}
        preset = optimizer.get("preset", "?")
        if preset == "gd":
            name = "GD"
        elif preset == "hd":
            name = f"HD_M{optimizer.get('memory', 10)}"
        else:
            name = preset
        case = _case_name(
            code, _penal(record.get("penal", math.nan)), _problem_code(record.get("problem"))
        )
        out[(case, name)] = record
    return out


def _tuned_lr(record: dict | None) -> float:
    best = (record or {}).get("best")
    return float(best["value"]) if best and best.get("value") is not None else math.nan


def _landscape_datasets(landscape: Any) -> tuple[list[xr.Dataset], list[str]]:
    """The landscape stage's datasets (with attrs problem, model, penal, seed), and notes."""
    if landscape is None:
        return [], []
    if isinstance(landscape, (list, tuple)):
        return list(landscape), []
    notes = []
    try:
        study = _report._study(landscape)
        runs = study.runs()
    except Exception as exc:
        return [], [f"the landscape study could not be opened ({type(exc).__name__}: {exc})"]
    out = []
    # a pixel run is one run listed under every seed: analysed once
    for r in runs[runs["status"] == "done"].drop_duplicates("key").itertuples():
        try:
            ds = study.result(r.key)
        except Exception as exc:
            notes.append(f"landscape result {r.key} unreadable ({type(exc).__name__}: {exc})")
            continue
        attrs = {"problem": r.problem, "model": r.model, "penal": r.penal, "seed": r.seed}
        for name, value in attrs.items():
            ds.attrs.setdefault(name, value)
        out.append(ds)
    bad = runs[runs["status"] != "done"]
    if len(bad):
        notes.append(
            f"{bad['key'].nunique()} landscape run(s) not done "
            f"({', '.join(sorted(set(bad['status'].astype(str))))})"
        )
    return out, notes


def _landscape_case(ds: xr.Dataset, models: dict[str, str]) -> str:
    label = str(ds.attrs.get("model", "?"))
    if label not in models:
        models.update(_model_codes([*models, label]))
    code = models[label]
    return _case_name(
        code, _penal(ds.attrs.get("penal", math.nan)), _problem_code(ds.attrs.get("problem"))
    )


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds:
        return np.empty(0)
    return np.asarray(ds[name].values, dtype=np.float64).ravel()


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------
@dataclass
class Finding:
    """One finding of ``studies.md`` section 1, tested on a reproduction's data.

    ``verdict`` is ``"holds"``, ``"does not hold"`` or ``"inconclusive"`` (see the module
    docstring for the rule); ``evidence`` is Markdown with the numbers (the checks, per unit);
    ``numbers`` holds the same numbers as data (``checks``: one dict per check and unit, plus
    what is reported without being tested). ``test`` states the test; ``thesis_verdict`` is the
    same test on the thesis' published medians (None where the tables cannot say).
    """

    number: int
    claim: str
    verdict: str
    evidence: str
    numbers: dict
    test: str = ""
    thesis_verdict: str | None = None
    title: str = ""


@dataclass
class _Check:
    name: str
    unit: str
    passed: bool | None  # None: missing
    detail: str
    required: bool = True
    values: dict = field(default_factory=dict)


_TITLES = {
    1: "p = 1: one minimum, reached in fewer steps by the CNN",
    2: "p = 3: the CNN beats pixels with L-BFGS; GD is far worse",
    3: "L-BFGS_M1 performs like L-BFGS",
    4: "GD_LS reaches L-BFGS quality in more steps; HD is worse",
    5: "pixels at p = 3: GD_LS and HD beat L-BFGS",
    6: "the gradient norm falls; minima are flat; the tuned start step is too small",
}
_CLAIMS = {
    1: "p = 1: in pixel space every optimizer and seed reaches the same loss (convex); the CNN "
    "reaches the same values, in fewer iterations than the pixel model.",
    2: "p = 3: CNN + L-BFGS reaches lower compliance than pixel + L-BFGS on all four problems. "
    "GD is far worse on the CNN, even at 2000 steps, and diverges for some seeds.",
    3: "L-BFGS_M1 performs like L-BFGS: the quality of the Hessian approximation barely matters.",
    4: "GD_LS reaches L-BFGS-quality minima on the CNN but needs many more iterations; HD is "
    "worse than GD_LS on the CNN, and worse still with m = 1.",
    5: "In pixel space at p = 3, GD_LS and HD reach lower loss than L-BFGS itself.",
    6: "The gradient norm falls by orders of magnitude along the run; good minima lie in flat "
    "regions, where a step size tuned for the start is far too small.",
}


def _tests() -> dict[int, str]:
    return {
        1: (
            "Per problem: (a) the relative spread (max − min) / min of the P1 median final "
            "losses over L-BFGS, L-BFGS_M1, GD_LS, HD_M1 and HD_M10 (those the study ran) is at "
            f"most {P1_SPREAD:.0%} (the constant-step GD runs are reported, not tested: a "
            "budget-bound GD that has not converged says nothing about convexity); (b) NN1 + "
            f"L-BFGS's median is within {P1_NN_MATCH:.0%} of P1 + L-BFGS's; (c) NN1 + L-BFGS's "
            "median converged step is strictly below P1 + L-BFGS's. Optional, from the landscape "
            "stage: (d) on every pixel p = 1 landscape run, the negative mass of the physics "
            "Hessian's spectral density in the volume-constrained pixel space is at most "
            f"{CONVEX_NEGATIVE_MASS:g} at every analysed step."
        ),
        2: (
            "Per problem: (a) NN3 + L-BFGS's median final loss is strictly below P3 + L-BFGS's; "
            "(b) NN3 + GD's median is above "
            f"(1 + {GD_FAR_WORSE:g}) × NN3 + L-BFGS's; (c) the same for the long GD "
            "(`GD_<steps>`). The GD seeds that diverged (failed, non-finite, or ending above "
            "their start) on the NN3 cases are counted and reported, not tested."
        ),
        3: (
            "On every NN case (NN1, NN3 per problem): |L-BFGS_M1 − L-BFGS| / L-BFGS of the "
            f"median final losses is at most {M1_MATCH:.0%}."
        ),
        4: (
            "On every NN3 case (the CNN at p = 3; at p = 1 every optimizer converges within "
            "tens of steps and the thesis' own steps do not separate them): (a) GD_LS's median "
            f"final loss is at most (1 + {GD_LS_MATCH:g}) × L-BFGS's; (b) GD_LS's median "
            f"converged step is at least {GD_LS_STEPS_FACTOR:g} × L-BFGS's; (c) HD_M10's median "
            "is strictly above GD_LS's; (d) HD_M1's median is strictly above HD_M10's. The "
            "explanations (line search the key component, rescaling speeds it up) are not tested."
        ),
        5: (
            "Per problem, P3: GD_LS's, HD_M1's and HD_M10's median final losses are each "
            "strictly below L-BFGS's."
        ),
        6: (
            "(a) On every NN case, L-BFGS's gradient norm falls by at least "
            f"{GRAD_DROP_DECADES:g} orders of magnitude: median over seeds of "
            "log10(|g_0| / |g_end|). From the landscape stage (its L-BFGS_M1 runs), per NN case: "
            "(b) the Hessian's top eigenvalue at the last analysed step is below "
            f"{FLATTER:g} × its value at the first (median over seeds of the ratio; the trace "
            "ratio is reported); (c) the effective step at the end, the median of step_length[j] / "
            f"grad_norm[j − 1] over the last {END_WINDOW} steps (median over seeds), is at least "
            f"{FAR_TOO_SMALL:g} × the GD step the tuning stage found for the case. (b) and (c) "
            "need the landscape stage, (c) also the tuning stage."
        ),
    }


def _verdict(checks: list[_Check]) -> str:
    if any(c.passed is False for c in checks):
        return "does not hold"
    required = [c for c in checks if c.required]
    if not any(c.passed for c in required) or any(c.passed is None for c in required):
        return "inconclusive"
    return "holds"


def _missing(name: str, unit: str, why: str, required: bool = True) -> _Check:
    return _Check(name, unit, None, why, required)


def _pct(x: float) -> str:
    """A relative difference: +12.3%, or x1.6e+06 (the ratio) when it is ten-fold or more."""
    if not math.isfinite(x):
        return "–" if math.isnan(x) else "×inf"
    return f"×{1 + x:.3g}" if abs(x) >= 9 else f"{x:+.1%}"


def _rel(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b):
        return 0.0 if a == b else math.inf
    if b == 0 or not math.isfinite(b):
        return math.nan if not math.isinf(a) else math.inf
    return (a - b) / abs(b)


def _vs(a_name: str, a: float, b_name: str, b: float) -> str:
    return f"{a_name} {_num(a)} vs {b_name} {_num(b)} ({_pct(_rel(a, b))})"


def _no_units(name: str) -> _Check:
    return _missing(name, "–", "no case of the study to test")


def _finding_1(m: _Medians, land: list[tuple[str, xr.Dataset]] | None) -> tuple[list, dict]:
    checks: list[_Check] = []
    extra: dict[str, Any] = {}
    tested = [o for o in ("L-BFGS", "L-BFGS_M1", "GD_LS", "HD_M1", "HD_M10") if o in m.optimizers]
    gd_labels = [o for o in ("GD", m.long_gd) if o]
    if not m.problems:
        checks.append(_no_units("(a) P1 spread"))
    for p in m.problems:
        pc, nc = f"P1{p}", f"NN1{p}"
        stats, why = m.need([(pc, o) for o in tested])
        name = "(a) P1: same loss for every optimizer"
        if why:
            checks.append(_missing(name, p, why))
        elif len(stats) < 2:
            checks.append(_missing(name, p, "fewer than two optimizers to compare"))
        else:
            finals = {o: s.final for o, s in zip(tested, stats, strict=True)}
            low, high = min(finals, key=finals.get), max(finals, key=finals.get)
            spread = _rel(finals[high], finals[low])
            gd = {o: m.get(pc, o).final for o in gd_labels if m.get(pc, o) and m.get(pc, o).done}
            gaps = ", ".join(f"{o} {_pct(_rel(v, finals[low]))}" for o, v in gd.items())
            checks.append(
                _Check(
                    name,
                    p,
                    bool(spread <= P1_SPREAD),
                    f"spread {spread:.2%} (min {_num(finals[low])} {low}, max "
                    f"{_num(finals[high])} {high})"
                    + (f"; constant-step GD vs the min (not tested): {gaps}" if gaps else ""),
                    values={"spread": spread, "finals": finals, "gd": gd},
                )
            )
        name = "(b) NN1 L-BFGS ≈ P1 L-BFGS"
        (stats, why) = m.need([(nc, "L-BFGS"), (pc, "L-BFGS")])
        if why:
            checks.append(_missing(name, p, why))
        else:
            nn, px = stats
            gap = _rel(nn.final, px.final)
            checks.append(
                _Check(
                    name,
                    p,
                    bool(abs(gap) <= P1_NN_MATCH),
                    f"NN1 {_num(nn.final)} vs P1 {_num(px.final)} ({_pct(gap)})",
                    values={"nn": nn.final, "pixel": px.final, "gap": gap},
                )
            )
            name = "(c) NN1 L-BFGS converges in fewer steps"
            if math.isfinite(nn.step) and math.isfinite(px.step):
                checks.append(
                    _Check(
                        name,
                        p,
                        bool(nn.step < px.step),
                        f"converged step NN1 {_step(nn.step)} vs P1 {_step(px.step)}",
                        values={"nn": nn.step, "pixel": px.step},
                    )
                )
            else:
                checks.append(_missing(name, p, "no converged step (curves not read)"))
    name = "(d) physics Hessian PSD at p = 1 (landscape)"
    if land is None:
        checks.append(_missing(name, "–", "no landscape stage", required=False))
    else:
        pixel1 = [(c, ds) for c, ds in land if c.startswith("P1")]
        if not pixel1:
            checks.append(_missing(name, "–", "no pixel p = 1 landscape run", required=False))
        for case, ds in pixel1:
            mass = _values(ds, "physics_negative_mass")
            low, high = _values(ds, "physics_min_ritz"), _values(ds, "physics_max_ritz")
            seed = ds.attrs.get("seed")
            unit = case if seed is None or int(seed) < 0 else f"{case} seed {int(seed)}"
            finite = mass[np.isfinite(mass)]
            if not finite.size:
                checks.append(_missing(name, unit, "no physics spectrum stored", required=False))
                continue
            worst = float(finite.max())
            ritz = ""
            if low.size and high.size and np.isfinite(low).any() and np.isfinite(high).any():
                ritz = f"; Ritz values in [{_num(np.nanmin(low))}, {_num(np.nanmax(high))}]"
            checks.append(
                _Check(
                    name,
                    unit,
                    bool(worst <= CONVEX_NEGATIVE_MASS),
                    f"largest negative mass {worst:.3g} over {finite.size} step(s){ritz}",
                    required=False,
                    values={"negative_mass": worst},
                )
            )
    return checks, extra


def _finding_2(m: _Medians) -> tuple[list, dict]:
    checks: list[_Check] = []
    diverged: dict[str, str] = {}
    if not m.problems:
        checks.append(_no_units("(a) NN3 L-BFGS < P3 L-BFGS"))
    for p in m.problems:
        nc, pc = f"NN3{p}", f"P3{p}"
        name = "(a) NN3 L-BFGS < P3 L-BFGS"
        stats, why = m.need([(nc, "L-BFGS"), (pc, "L-BFGS")])
        if why:
            checks.append(_missing(name, p, why))
        else:
            nn, px = stats
            checks.append(
                _Check(
                    name,
                    p,
                    bool(nn.final < px.final),
                    _vs("NN3", nn.final, "P3", px.final),
                    values={"nn": nn.final, "pixel": px.final},
                )
            )
        for label, gd in (
            ("(b) NN3 GD far worse than L-BFGS", "GD"),
            ("(c) NN3 long GD far worse than L-BFGS", m.long_gd),
        ):
            stats, why = m.need([(nc, gd), (nc, "L-BFGS")])
            if why:
                checks.append(_missing(label, p, why))
                continue
            g, lb = stats
            checks.append(
                _Check(
                    label,
                    p,
                    bool(g.final > (1 + GD_FAR_WORSE) * lb.final),
                    _vs(gd, g.final, "L-BFGS", lb.final),
                    values={"gd": g.final, "lbfgs": lb.final},
                )
            )
        for gd in ("GD", m.long_gd):
            s = m.get(nc, gd)
            if s is not None:
                diverged[f"{nc} {gd}"] = f"{s.diverged} of {s.seeds}"
    return checks, {"diverged_gd_seeds": diverged}


def _nn_cases(m: _Medians, penals: Sequence[int]) -> list[str]:
    return [f"NN{q}{p}" for q in penals for p in m.problems]


def _finding_3(m: _Medians) -> tuple[list, dict]:
    checks = []
    units = _nn_cases(m, (1, 3))
    if not units:
        checks.append(_no_units("L-BFGS_M1 ≈ L-BFGS"))
    for case in units:
        stats, why = m.need([(case, "L-BFGS_M1"), (case, "L-BFGS")])
        if why:
            checks.append(_missing("L-BFGS_M1 ≈ L-BFGS", case, why))
            continue
        m1, lb = stats
        gap = _rel(m1.final, lb.final)
        checks.append(
            _Check(
                "L-BFGS_M1 ≈ L-BFGS",
                case,
                bool(abs(gap) <= M1_MATCH),
                f"L-BFGS_M1 {_num(m1.final)} vs L-BFGS {_num(lb.final)} ({_pct(gap)})",
                values={"m1": m1.final, "lbfgs": lb.final, "gap": gap},
            )
        )
    return checks, {}


def _finding_4(m: _Medians) -> tuple[list, dict]:
    checks = []
    units = _nn_cases(m, (3,))
    if not units:
        checks.append(_no_units("(a) GD_LS ≈ L-BFGS"))
    for case in units:
        stats, why = m.need([(case, "GD_LS"), (case, "L-BFGS")])
        if why:
            checks.append(_missing("(a) GD_LS reaches L-BFGS quality", case, why))
            checks.append(_missing("(b) GD_LS needs many more steps", case, why))
        else:
            ls, lb = stats
            checks.append(
                _Check(
                    "(a) GD_LS reaches L-BFGS quality",
                    case,
                    bool(ls.final <= (1 + GD_LS_MATCH) * lb.final),
                    _vs("GD_LS", ls.final, "L-BFGS", lb.final),
                    values={"gd_ls": ls.final, "lbfgs": lb.final},
                )
            )
            if math.isfinite(ls.step) and math.isfinite(lb.step):
                checks.append(
                    _Check(
                        "(b) GD_LS needs many more steps",
                        case,
                        bool(ls.step >= GD_LS_STEPS_FACTOR * lb.step),
                        f"converged step GD_LS {_step(ls.step)} vs L-BFGS {_step(lb.step)}",
                        values={"gd_ls": ls.step, "lbfgs": lb.step},
                    )
                )
            else:
                checks.append(
                    _missing("(b) GD_LS needs many more steps", case, "no converged step")
                )
        for name, worse, better in (
            ("(c) HD_M10 worse than GD_LS", "HD_M10", "GD_LS"),
            ("(d) HD_M1 worse than HD_M10", "HD_M1", "HD_M10"),
        ):
            stats, why = m.need([(case, worse), (case, better)])
            if why:
                checks.append(_missing(name, case, why))
                continue
            a, b = stats
            checks.append(
                _Check(
                    name,
                    case,
                    bool(a.final > b.final),
                    _vs(worse, a.final, better, b.final),
                    values={worse: a.final, better: b.final},
                )
            )
    return checks, {}


def _finding_5(m: _Medians) -> tuple[list, dict]:
    checks = []
    if not m.problems:
        checks.append(_no_units("GD_LS below L-BFGS"))
    for p in m.problems:
        case = f"P3{p}"
        for optimizer in ("GD_LS", "HD_M1", "HD_M10"):
            name = f"{optimizer} below L-BFGS"
            stats, why = m.need([(case, optimizer), (case, "L-BFGS")])
            if why:
                checks.append(_missing(name, case, why))
                continue
            a, lb = stats
            checks.append(
                _Check(
                    name,
                    case,
                    bool(a.final < lb.final),
                    _vs(optimizer, a.final, "L-BFGS", lb.final),
                    values={optimizer: a.final, "lbfgs": lb.final},
                )
            )
    return checks, {}


def _effective_end(ds: xr.Dataset) -> float:
    """Median over the last END_WINDOW steps of |theta_j - theta_{j-1}| / |g_{j-1}|: the
    constant step GD would need to make the same move (``step_length[j]`` is the step that
    arrives at iterate j, taken from iterate j - 1)."""
    length, grad = _values(ds, "step_length"), _values(ds, "grad_norm")
    n = min(length.size, grad.size)
    if n < 2:
        return math.nan
    length, grad = length[1:n], grad[: n - 1]
    ok = np.isfinite(length) & np.isfinite(grad) & (grad > 0)
    ratio = length[ok] / grad[ok]
    return float(np.median(ratio[-END_WINDOW:])) if ratio.size else math.nan


def _finding_6(
    m: _Medians, land: list[tuple[str, xr.Dataset]] | None, tuned: dict | None
) -> tuple[list, dict]:
    checks = []
    units = _nn_cases(m, (1, 3))
    name = "(a) L-BFGS gradient norm falls"
    if not units:
        checks.append(_no_units(name))
    for case in units:
        stats, why = m.need([(case, "L-BFGS")])
        if why:
            checks.append(_missing(name, case, why))
            continue
        (s,) = stats
        if not math.isfinite(s.grad_drop):
            checks.append(_missing(name, case, "no gradient norms recorded"))
            continue
        checks.append(
            _Check(
                name,
                case,
                bool(s.grad_drop >= GRAD_DROP_DECADES),
                f"|g| falls by 10^{s.grad_drop:.2f} (median over seeds)",
                values={"decades": s.grad_drop},
            )
        )
    flat, small = (
        "(b) flat at the end: Hessian top eigenvalue falls",
        "(c) tuned GD step far too small at the end",
    )
    extra: dict[str, Any] = {}
    if land is None:
        checks.append(_missing(flat, "–", "no landscape stage"))
        checks.append(_missing(small, "–", "no landscape stage"))
        return checks, extra
    groups: dict[str, list[xr.Dataset]] = {}
    for case, ds in land:
        if case.startswith("NN"):
            groups.setdefault(case, []).append(ds)
    if not groups:
        checks.append(_missing(flat, "–", "no CNN run in the landscape stage"))
        checks.append(_missing(small, "–", "no CNN run in the landscape stage"))
    tuned_cases = _tuned_cases(tuned)
    for case, datasets in groups.items():
        tops, traces = [], []
        for ds in datasets:
            top, trace = _values(ds, "hessian_top"), _values(ds, "hessian_trace")
            if top.size >= 2 and np.isfinite(top[[0, -1]]).all() and top[0] != 0:
                tops.append(top[-1] / top[0])
            if trace.size >= 2 and np.isfinite(trace[[0, -1]]).all() and trace[0] != 0:
                traces.append(trace[-1] / trace[0])
        if tops:
            ratio, trace_ratio = _median(tops), _median(traces)
            steps = _values(datasets[0], "density_step")
            where = f"steps {_step(steps[0])} → {_step(steps[-1])}" if steps.size else ""
            checks.append(
                _Check(
                    flat,
                    case,
                    bool(ratio < FLATTER),
                    f"top eigenvalue ratio last/first {ratio:.3g}, trace ratio "
                    f"{_num(trace_ratio, '.3g')} ({where}, {len(tops)} seed(s))",
                    values={"top_ratio": ratio, "trace_ratio": trace_ratio},
                )
            )
        else:
            checks.append(_missing(flat, case, "no Hessian top eigenvalue at two steps"))
        effective = _median(e for ds in datasets if math.isfinite(e := _effective_end(ds)))
        lr = _tuned_lr(tuned_cases.get((case, "GD")))
        if not math.isfinite(effective):
            checks.append(_missing(small, case, "no step lengths stored"))
        elif tuned is None:
            checks.append(
                _missing(small, case, f"effective step {_num(effective, '.3g')}; no tuning stage")
            )
        elif not math.isfinite(lr):
            checks.append(
                _missing(
                    small,
                    case,
                    f"effective step {_num(effective, '.3g')}; no tuned GD step for the case",
                )
            )
        else:
            checks.append(
                _Check(
                    small,
                    case,
                    bool(effective >= FAR_TOO_SMALL * lr),
                    f"L-BFGS_M1 effective step at the end {_num(effective, '.3g')} = "
                    f"{effective / lr:.3g} × the tuned GD step {_num(lr, '.3g')}",
                    values={"effective": effective, "tuned_gd": lr},
                )
            )
    return checks, extra


def _evidence(test: str, checks: list[_Check], extra: dict) -> str:
    rows = []
    for c in checks:
        mark = {True: "pass", False: "**fail**", None: "missing"}[c.passed]
        if c.passed is None and not c.required:
            mark = "missing (optional)"
        rows.append([c.name, c.unit, c.detail, mark])
    lines = [_report._markdown(["check", "unit", "numbers", "result"], rows)]
    tested = [c for c in checks if c.passed is not None]
    if tested:
        lines.append(
            f"{sum(c.passed for c in tested)} of {len(tested)} evaluated checks pass"
            + (f"; {len(checks) - len(tested)} missing." if len(tested) < len(checks) else ".")
        )
    diverged = extra.get("diverged_gd_seeds")
    if diverged:
        lines.append(
            "\nGD seeds that diverged on the NN3 cases (failed, non-finite, or ending above their "
            "start; reported, not tested): "
            + ", ".join(f"{k}: {v}" for k, v in diverged.items())
            + "."
        )
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _evaluate(m: _Medians, land, tuned) -> list[Finding]:
    tests = _tests()
    parts = {
        1: _finding_1(m, land),
        2: _finding_2(m),
        3: _finding_3(m),
        4: _finding_4(m),
        5: _finding_5(m),
        6: _finding_6(m, land, tuned),
    }
    out = []
    for number, (checks, extra) in parts.items():
        numbers = {
            "checks": [
                {
                    "check": c.name,
                    "unit": c.unit,
                    "passed": c.passed,
                    "required": c.required,
                    "detail": c.detail,
                    **c.values,
                }
                for c in checks
            ],
            **extra,
        }
        out.append(
            Finding(
                number,
                _CLAIMS[number],
                _verdict(checks),
                _evidence(tests[number], checks, extra),
                _jsonable(numbers),
                tests[number],
                title=_TITLES[number],
            )
        )
    return out


def findings(
    cases: pd.DataFrame,
    landscape: Any = None,
    tuning: Any = None,
) -> list[Finding]:
    """The six findings of ``studies.md`` section 1, each tested on the reproduction's data.

    Parameters
    ----------
    cases : pandas.DataFrame
        :func:`case_table` of the main study (or a table with its columns).
    landscape : list of xarray.Dataset, Study or path, optional
        The landscape stage: its datasets (attrs problem, model, penal, seed), or its study /
        directory. None: the checks that need it are missing.
    tuning : dict or path, optional
        The tuning stage: ``tuned.json`` as a dict, the file, or its directory.

    Returns
    -------
    list of Finding
        Numbers 1 to 6. The tests (thresholds: the module constants):

        1. Per problem: (a) the relative spread (max − min)/min of the P1 median final losses
           over L-BFGS, L-BFGS_M1, GD_LS, HD_M1, HD_M10 is at most :data:`P1_SPREAD` (the
           constant-step GD runs are reported, not tested); (b) NN1 + L-BFGS's median within
           :data:`P1_NN_MATCH` of P1 + L-BFGS's; (c) NN1 + L-BFGS's median converged step
           strictly below P1's; (d, optional, landscape) the physics Hessian's negative mass at
           p = 1 at most :data:`CONVEX_NEGATIVE_MASS`.
        2. Per problem: (a) NN3 + L-BFGS's median strictly below P3 + L-BFGS's; (b) NN3 GD's
           median above (1 + :data:`GD_FAR_WORSE`) × NN3 L-BFGS's; (c) the same for the long GD.
           Diverged GD seeds are counted (``numbers["diverged_gd_seeds"]``).
        3. Every NN case: |L-BFGS_M1 − L-BFGS| / L-BFGS at most :data:`M1_MATCH`.
        4. Every NN3 case: (a) GD_LS at most (1 + :data:`GD_LS_MATCH`) × L-BFGS; (b) GD_LS's
           converged step at least :data:`GD_LS_STEPS_FACTOR` × L-BFGS's; (c) HD_M10 above
           GD_LS; (d) HD_M1 above HD_M10.
        5. Every P3 case: GD_LS, HD_M1 and HD_M10 each strictly below L-BFGS.
        6. (a) Every NN case: L-BFGS's median log10(|g_0|/|g_end|) at least
           :data:`GRAD_DROP_DECADES`; per NN landscape case: (b) the Hessian's top eigenvalue
           ratio last/first analysed step below :data:`FLATTER`; (c) the effective step at the
           end (median of step_length[j]/grad_norm[j-1] over the last :data:`END_WINDOW` steps) at
           least :data:`FAR_TOO_SMALL` × the tuned GD step.

        Verdict: "does not hold" if any check fails; else "inconclusive" if a required check
        is missing somewhere (or nothing could be tested); else "holds". ``thesis_verdict``:
        the same tests on :func:`published_cases` (findings 1-5; 6 needs gradient norms the
        tables do not give).
    """
    datasets, _ = _landscape_datasets(landscape)
    land = None
    if landscape is not None:
        models: dict[str, str] = {}
        land = [(_landscape_case(ds, models), ds) for ds in datasets]
    tuned = _tuning_doc(tuning)
    result = _evaluate(_Medians(cases), land, tuned)
    thesis = _evaluate(_Medians(published_cases()), None, None)
    for mine, theirs in zip(result, thesis, strict=True):
        mine.thesis_verdict = theirs.verdict if mine.number != 6 else None
    return result


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def _case_order(cases: pd.DataFrame) -> list[str]:
    def key(case: str) -> tuple:
        part = cases[cases["case"] == case].iloc[0]
        model = 0 if part["model"] == "NN" else 1 if part["model"] == "P" else 2
        return (-float(part["penal"]), model, _CODE_ORDER.get(part["problem"], 99), case)

    return sorted(dict.fromkeys(cases["case"].astype(str)), key=key)


def _case_title(cases: pd.DataFrame, case: str) -> str:
    part = cases[cases["case"] == case].iloc[0]
    return f"{case} · {part['problem_name']} · {part['model_label']} · p = {part['penal']:g}"


def _grad_figure(title: str, series: list[tuple[str, list[np.ndarray]]], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    colors = _report._colors(len(series))
    for i, (label, curves) in enumerate(series):
        curves = [c for c in curves if c.size and np.isfinite(c).any()]
        if not curves:
            ax.plot([], [], color="0.6", label=f"{label} (no seed done)")
            continue
        rows = _report._held(curves)
        rows = np.where(rows > 0, rows, np.nan)
        median, q25, q75 = _report._bands(rows)
        steps = np.arange(rows.shape[1])
        style = _report._STYLES[i % len(_report._STYLES)]
        ax.plot(
            steps,
            median,
            color=colors[i],
            lw=1.8,
            ls=style,
            label=f"{label} ({len(curves)} seed{'s' if len(curves) != 1 else ''})",
        )
        ax.fill_between(steps, q25, q75, color=colors[i], alpha=0.18, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient norm |g|, log scale")
    ax.set_xlim(left=0)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(fontsize=9, frameon=False)
    fig.suptitle(
        f"{title}\ngradient norm: median over seeds, band: interquartile range", fontsize=11
    )
    fig.savefig(path, dpi=110)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:80]


def _figures(read: _Read, figures: Path) -> tuple[list[str], list[str]]:
    """Loss curves per case, gradient norms per NN case: Markdown sections, per kind."""
    cases = read.cases
    loss_md, grad_md = [], []
    for case in _case_order(cases):
        part = cases[cases["case"] == case]
        title = _case_title(cases, case)
        series = []
        for label in dict.fromkeys(part["optimizer"]):
            done = part[(part["optimizer"] == label) & (part["status"] == "done")]
            keys = [k for k in done["key"] if k in read.loss]
            series.append((label, [read.loss[k] for k in keys], len(set(keys))))
        if not any(curves for _, curves, _ in series):
            loss_md.append(f"- {case}: *no run done: no figure*")
            continue
        png = figures / f"loss_{_slug(case)}.png"
        _report._loss_figure(title, series, png)
        loss_md.append(f"#### {case}\n\n![loss curves, {case}](figures/{png.name})\n")
        if str(part["model"].iloc[0]).startswith("NN"):
            gseries = []
            for label in ("L-BFGS", "GD", _long_gd(part["optimizer"])):
                if label is None or label not in set(part["optimizer"]):
                    continue
                done = part[(part["optimizer"] == label) & (part["status"] == "done")]
                gseries.append((label, [read.grad[k] for k in done["key"] if k in read.grad]))
            if gseries:
                png = figures / f"grad_{_slug(case)}.png"
                _grad_figure(title, gseries, png)
                grad_md.append(f"#### {case}\n\n![gradient norms, {case}](figures/{png.name})\n")
    return loss_md, grad_md


def _landscape_figures(datasets: list, figures: Path) -> list[str]:
    if not datasets:
        return ["*Not run: no landscape stage, or none of its runs is done.*\n"]
    try:
        from . import landscape as module

        make = getattr(module, "landscape_figures", None)
    except Exception as exc:  # not there yet, or failing to import
        make, why = None, f"{type(exc).__name__}: {exc}"
    else:
        why = "toposcape.experiments.landscape has no landscape_figures"
    if make is None:
        return [f"*Landscape figures skipped: {why}.*\n"]
    groups: dict[str, list] = {}
    models: dict[str, str] = {}
    for ds in datasets:
        groups.setdefault(_landscape_case(ds, models), []).append(ds)
    lines = []
    for case, group in groups.items():
        a = group[0].attrs
        title = f"{case} · {a.get('problem')} · {a.get('model')} · L-BFGS_M1"
        where = figures / "landscape" / _slug(case)
        where.mkdir(parents=True, exist_ok=True)
        try:
            made = make(group, where, title)
        except Exception as exc:  # a figure must not stop the report
            lines.append(
                f"#### {case}\n\n*Landscape figures failed: {type(exc).__name__}: {exc}*\n"
            )
            continue
        lines.append(f"#### {case} ({len(group)} seed{'s' if len(group) != 1 else ''})\n")
        for name, path in dict(made or {}).items():
            try:
                link = Path(path).resolve().relative_to(figures.parent.resolve()).as_posix()
            except ValueError:  # written elsewhere
                link = Path(path).resolve().as_posix()
            lines.append(f"![{name}, {case}]({link})\n")
    return lines


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
def _profile(profile: Any) -> tuple[str | None, dict | None]:
    if profile is None:
        return None, None
    if isinstance(profile, str):
        from .thesis import PROFILES

        return profile, PROFILES.get(profile)
    if isinstance(profile, Mapping):
        settings = dict(profile)
        name = settings.pop("name", None) or settings.pop("profile", None)
        return (str(name) if name is not None else None), settings
    if isinstance(profile, (tuple, list)) and len(profile) == 2:
        return str(profile[0]), dict(profile[1] or {})
    return str(profile), None


def _describe(stage: Any) -> str:
    """A stage as given: its directory, or what kind of data."""
    if isinstance(stage, Mapping):
        return "tuned.json given as data"
    if isinstance(stage, (list, tuple)):
        return f"{len(stage)} dataset(s) given as data"
    path = getattr(stage, "path", stage)
    return f"`{path}`"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _stage_cost(study_or_dir: Any, what: str) -> tuple[list[str], float]:
    """One table row: a stage's runs and the wall time they took (distinct runs, summed)."""
    if study_or_dir is None:
        return [what, "not run", "–", "–", "–"], 0.0
    if isinstance(study_or_dir, (Mapping, list, tuple)):
        return [what, _describe(study_or_dir), "–", "–", "–"], 0.0
    if isinstance(study_or_dir, (str, Path)) and Path(study_or_dir).is_file():
        study_or_dir = Path(study_or_dir).parent  # tuned.json: its tuning directory
    try:
        study = _report._study(study_or_dir)
        runs = study.runs().drop_duplicates("key")
    except Exception as exc:
        message = str(exc) if len(str(exc)) <= 90 else str(exc)[:87] + "..."
        return [what, f"no runs readable ({type(exc).__name__}: {message})", "–", "–", "–"], 0.0
    status = runs["status"].astype(str)
    seconds = float(np.nansum(runs["wall_time"].to_numpy(dtype=np.float64, na_value=np.nan)))
    return [
        what,
        f"`{study.name}`",
        f"{int((status == 'done').sum())} / {len(runs)}",
        str(int((status == "failed").sum())),
        _duration(seconds),
    ], seconds


def _cost_table(tuning: Any, read: _Read | None, landscape: Any) -> str:
    rows, total = [], 0.0
    for stage, what in (
        (tuning, "tuning"),
        (read.path if read is not None else None, "main"),
        (landscape, "landscape"),
    ):
        row, seconds = _stage_cost(stage, what)
        rows.append(row)
        total += seconds
    rows.append(["**total**", "", "", "", f"**{_duration(total)}**"])
    return _report._markdown(
        ["stage", "study", "runs done / all", "failed", "wall time"], rows, "llrrr"
    )


def _tuning_section(doc: dict | None, tuning: Any) -> str:
    if doc is None:
        where = f" (`{tuning}` holds no tuned.json)" if tuning is not None else ""
        return f"*Not run: no tuning stage{where}.*\n"
    from .published import thesis_tables

    published = thesis_tables().get("tables_B1_B3")
    columns, prows = [], {}
    if isinstance(published, Mapping):
        columns, prows = published.get("columns", []), published.get("rows", {})
    tuned = _tuned_cases(doc)
    rows = []
    for (case, optimizer), r in tuned.items():
        scale = r.get("scale") or {}
        value = scale.get("value")
        g0 = 1.0 / value if scale.get("kind") == "grad" and value else math.nan
        low, high = (r.get("range") or [math.nan, math.nan])[:2]
        thesis = math.nan
        if optimizer in columns and case in prows:
            thesis = prows[case][columns.index(optimizer)]
        best = r.get("best") or {}
        rows.append(
            [
                case,
                optimizer,
                _num(_tuned_lr(r), ".3g") if best else "none (all diverged)",
                _num(g0, ".3g"),
                f"[{_num(10.0**low, '.2g')}, {_num(10.0**high, '.2g')}]",
                _num(best.get("log10_offset", math.nan), ".1f"),
                f"{r.get('trials_done', '?')} / {r.get('trials_target', '?')}",
                _num(thesis, ".3g"),
            ]
        )
    table = _report._markdown(
        [
            "case",
            "optimizer",
            "tuned step",
            "|g0|",
            "range searched",
            "log10(step·|g0|)",
            "trials",
            "thesis (B.1-B.3)",
        ],
        rows,
        "llrrrrrr",
    )
    complete = "complete" if doc.get("complete") else "**incomplete**"
    tune = doc.get("tune") or {}
    return (
        f"Tuning `{doc.get('study', '?')}` ({complete}): option `{doc.get('option', '?')}`, "
        f"scale `{tune.get('scale', '?')}`, log10 range {tune.get('range', '?')} relative to "
        f"the scale, grid {tune.get('grid', '?')}, seeds {doc.get('seeds', '?')}, "
        f"{_trial_budget(doc)}. |g0|: the gradient norm at the initial point (first "
        "seed); the thesis' steps (Tables B.1-B.3) do not transfer to another implementation "
        "and are shown for reference only.\n\n" + table
    )


def _sessions_table(sessions: Sequence[Mapping[str, Any]] | None) -> str:
    """The sessions that computed the study: elapsed time against the estimate."""
    if not sessions:
        return ""
    rows = []
    for entry in sessions:
        computed = entry.get("computed") or {}
        rows.append(
            [
                str(entry.get("started", "?")),
                str(entry.get("workers", "?")),
                _duration(float(entry.get("estimated_seconds", float("nan")))),
                _duration(float(entry.get("elapsed_seconds", float("nan")))),
                ", ".join(f"{stage} {n}" for stage, n in computed.items()) or "-",
            ]
        )
    table = _report._markdown(
        ["session started", "workers", "estimated", "elapsed", "runs computed"],
        rows,
        "lrrrl",
    )
    return (
        "\nSessions of `toposcape reproduce thesis` in this directory: the estimate it printed "
        "first and the elapsed time of its three stages (the report not included; a rerun of "
        "a finished study computes nothing):\n\n" + table
    )


def _trial_budget(doc: Mapping[str, Any]) -> str:
    """What one trial's run was given: the study's budget or the optimizers' own."""
    budgets = set()
    for label in doc.get("cases") or {}:  # an entry's own budget is part of its case label
        for key, value in re.findall(r"(max_evals|max_steps)=(\d+)", label):
            budgets.add(f"{key} {value}")
    for key in ("max_evals", "max_steps"):
        if doc.get(key) is not None:
            budgets.add(f"{key} {doc[key]}")
    return "trial runs of " + ", ".join(sorted(budgets)) if budgets else "budget unknown"


def _differences(t33: pd.DataFrame, t32: pd.DataFrame, notes: Any) -> str:
    lines = []
    if notes:
        items = [notes] if isinstance(notes, str) else list(notes)
        lines.append("Known differences (from the run):\n")
        lines += [f"- {n}" for n in items]
        lines.append("")
    both = t33[np.isfinite(t33["loss_ratio"])]
    far = both[np.abs(both["loss_ratio"] - 1) > DIFFER]
    lines.append(
        f"Computed: of the {len(both)} (case, optimizer) cells of Table 3.3 with a reproduced "
        f"median, {len(far)} differ from the thesis by more than {DIFFER:.0%}"
        + (":" if len(far) else ".")
    )
    for direction, sign in (("higher (worse)", 1), ("lower (better)", -1)):
        part = far[np.sign(far["loss_ratio"] - 1) == sign]
        if len(part):
            cells = ", ".join(
                f"{r.case} {r.optimizer} ({_pct(r.loss_ratio - 1)})" for r in part.itertuples()
            )
            lines.append(f"- {direction} than the thesis: {cells}")
    both32 = t32[np.isfinite(t32["ratio"]) & (t32["column"] == "GD 2000")]
    far32 = both32[np.abs(both32["ratio"] - 1) > DIFFER]
    if len(far32):
        cells = ", ".join(
            f"{r.model}3{r.problem} {r.optimizer} ({_pct(r.ratio - 1)})" for r in far32.itertuples()
        )
        lines.append(f"- the long GD (Table 3.2): {cells}")
    steps = both[np.isfinite(both["reproduced_step"]) & np.isfinite(both["published_step"])]
    if len(steps):
        slower = int((steps["reproduced_step"] > steps["published_step"]).sum())
        lines.append(
            f"\nConverged steps: {slower} of {len(steps)} cells converge later than in the thesis, "
            f"{int((steps['reproduced_step'] < steps['published_step']).sum())} earlier."
        )
    not_run = t33[t33["status"] == "not run"]["case"].unique()
    if len(not_run):
        lines.append(f"\nNot run in this profile: {', '.join(not_run)}.")
    return "\n".join(lines) + "\n"


def _thresholds() -> str:
    rows = [
        ["`P1_SPREAD`", f"{P1_SPREAD:g}", "1a: max relative spread of the P1 medians"],
        ["`P1_NN_MATCH`", f"{P1_NN_MATCH:g}", "1b: NN1 vs P1 L-BFGS, relative"],
        ["`CONVEX_NEGATIVE_MASS`", f"{CONVEX_NEGATIVE_MASS:g}", "1d: physics Hessian at p = 1"],
        ["`GD_FAR_WORSE`", f"{GD_FAR_WORSE:g}", "2b, 2c: GD above (1 + x) × L-BFGS"],
        ["`M1_MATCH`", f"{M1_MATCH:g}", "3: L-BFGS_M1 vs L-BFGS, relative, either side"],
        ["`GD_LS_MATCH`", f"{GD_LS_MATCH:g}", "4a: GD_LS at most (1 + x) × L-BFGS"],
        ["`GD_LS_STEPS_FACTOR`", f"{GD_LS_STEPS_FACTOR:g}", "4b: converged steps GD_LS / L-BFGS"],
        ["`GRAD_DROP_DECADES`", f"{GRAD_DROP_DECADES:g}", "6a: log10(|g_0| / |g_end|)"],
        ["`FLATTER`", f"{FLATTER:g}", "6b: top Hessian eigenvalue, last / first"],
        ["`FAR_TOO_SMALL`", f"{FAR_TOO_SMALL:g}", "6c: effective step at the end / tuned GD step"],
        ["`END_WINDOW`", f"{END_WINDOW}", "6c: last steps the effective step is a median of"],
        ["`DIFFER`", f"{DIFFER:g}", "differences listed against the thesis"],
        ["`report.TOLERANCE`", f"{_report.TOLERANCE:g}", "converged step: within x of final"],
    ]
    return _report._markdown(["constant", "value", "used in"], rows, "lrl")


def write_thesis_report(
    out: str | Path,
    main: Study | str | Path | None,
    tuning: str | Path | Mapping | None = None,
    landscape: Study | str | Path | None = None,
    profile: str | Mapping | tuple | None = None,
    notes: str | Sequence[str] | None = None,
    sessions: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``out/report.md`` (with ``out/figures/`` and the tables as CSV): the thesis study
    reproduced, next to the published results, with its six findings tested.

    Parameters
    ----------
    out : path
        The report folder (created; figures of an earlier report there are replaced).
    main : Study or path
        The main stage's study (``"thesis"``) or its directory (None: not run).
    tuning : path or dict, optional
        The tuning stage's directory (its ``tuned.json``), or that document.
    landscape : Study or path, optional
        The landscape stage's study (``"thesis-landscape"``) or its directory.
    profile : str, mapping or (name, settings), optional
        The profile: a name (its settings from :data:`thesis.PROFILES`), a mapping with
        ``name`` and the settings, or a pair. ``quick`` and ``miniature`` get a banner.
    notes : str or list of str, optional
        Known differences to the thesis, listed under "Where and why numbers differ".
    sessions : list of dict, optional
        The sessions that computed the study (``started``, ``workers``, ``estimated_seconds``,
        ``elapsed_seconds``, ``computed``: runs per stage), listed under "Cost".

    Returns
    -------
    Path
        ``out/report.md``. Missing stages and cases give a visible "not run" line.

    Sections: header (profile, settings, date, version, citation, stages), Cost, Tuned steps,
    Table 3.2, Table 3.3, Where and why numbers differ, Findings (verdict, test, evidence, the
    same test on the thesis' numbers), Figures (loss curves per case; gradient norms per NN
    case; landscape figures per landscape case), Runs not done, Definitions and thresholds.
    Also written: ``cases.csv`` (:func:`case_table`), ``table_3_2.csv``, ``table_3_3.csv``,
    ``findings.json``.
    """
    import pandas as pd

    from .. import __version__
    from .published import thesis_tables

    out = Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        if old.name.startswith(("loss_", "grad_")):
            old.unlink()

    name, settings = _profile(profile)
    citation = thesis_tables()["citation"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    read: _Read | None = None
    main_note = None
    if main is not None:
        try:
            read = _collect(main)
        except Exception as exc:
            main_note = f"{type(exc).__name__}: {exc}"
    cases = read.cases if read is not None else pd.DataFrame(columns=_CASE_COLUMNS)
    doc = None
    try:
        doc = _tuning_doc(tuning)
    except Exception as exc:  # unreadable tuned.json
        main_note = (main_note or "") + f" tuning: {type(exc).__name__}: {exc}"
    datasets, land_notes = _landscape_datasets(landscape)
    t32, t33 = table_3_2(cases), table_3_3(cases)
    found = findings(cases, datasets if landscape is not None else None, doc)

    cases.to_csv(out / "cases.csv", index=False)
    t32.to_csv(out / "table_3_2.csv", index=False)
    t33.to_csv(out / "table_3_3.csv", index=False)
    (out / "findings.json").write_text(
        json.dumps(
            [
                {
                    "number": f.number,
                    "claim": f.claim,
                    "verdict": f.verdict,
                    "thesis_verdict": f.thesis_verdict,
                    "test": f.test,
                    "numbers": f.numbers,
                }
                for f in found
            ],
            indent=1,
        )
    )

    L: list[str] = ["# Reproduction of the thesis study (studies.md section 1)\n"]
    if name in ("quick", "miniature"):
        what = (
            "problems A and B, 3 seeds, a shorter tuning"
            if name == "quick"
            else "tiny budgets: an end-to-end test of the pipeline, not a study; its numbers "
            "say nothing about the thesis"
        )
        L.append(
            f"> **{name.upper()} PROFILE** ({what}). The verdicts below are about this "
            "profile's runs only.\n"
        )
    L += [
        f"- profile: `{name or 'not given'}`"
        + (f", settings: `{json.dumps(settings, sort_keys=True)}`" if settings else ""),
        f"- generated {now} by toposcape {__version__}",
        f"- thesis: {citation}",
        f"- main study: `{read.path}` (`{read.name}`)"
        if read is not None
        else "- main study: **not run**" + (f" ({main_note})" if main_note else ""),
        f"- tuning: {_describe(tuning)}" if doc is not None else "- tuning: **not run**",
        f"- landscape: {_describe(landscape)} ({len(datasets)} analysed run(s))"
        if landscape is not None
        else "- landscape: **not run**",
        "",
        "## Contents\n",
        "- [Cost](#cost)\n- [Tuned steps](#tuned-steps)\n- [Table 3.2](#table-32)\n"
        "- [Table 3.3](#table-33)\n- [Where and why numbers differ](#where-and-why-numbers-differ)"
        "\n- [Findings](#findings)\n- [Figures](#figures)\n- [Runs not done](#runs-not-done)\n"
        "- [Definitions and thresholds](#definitions-and-thresholds)\n",
        "## Cost\n",
        "Wall time actually spent: the sum over the distinct runs of each stage (a pixel run "
        "counts once, not once per seed), as recorded by the runs (worker time, not elapsed "
        "time when runs go in parallel).\n",
        _cost_table(tuning if doc is not None else None, read, landscape),
        _sessions_table(sessions),
        "## Tuned steps\n",
        _tuning_section(doc, tuning),
        "## Table 3.2\n",
        "Median final loss (compliance) at p = 3 over the seeds; reproduced above the thesis' "
        "value. `[k/n]`: only k of the n seeds done.\n",
        table_markdown(t32),
        "## Table 3.3\n",
        "Per case and optimizer: median final loss (median converged step) over the seeds; "
        "reproduced above the thesis' value.\n",
        table_markdown(t33),
        "## Where and why numbers differ\n",
        _differences(t33, t32, notes),
        "## Findings\n",
        "Verdict rule: **does not hold** if any check fails on any unit (each claim is made "
        "for every problem or case); **inconclusive** if none fails but a required check could "
        "not be evaluated (a case not run, all its seeds failed, a stage missing); **holds** if "
        "every required check passes on every unit. Units are the problems / cases this study "
        "ran. Each finding is also tested on the thesis' own published medians.\n",
    ]
    counts = {v: sum(f.verdict == v for f in found) for v in _VERDICTS}
    L.append(", ".join(f"{n} {v}" for v, n in counts.items()) + ".\n")
    L.append(
        _report._markdown(
            ["finding", "", "verdict", "same test on the thesis' numbers"],
            [
                [
                    f"[{f.number}](#finding-{f.number})",
                    f.title,
                    f"**{f.verdict}**",
                    f.thesis_verdict or "not testable",
                ]
                for f in found
            ],
        )
    )
    for f in found:
        thesis = (
            f"Same test on the thesis' published medians: **{f.thesis_verdict}**."
            if f.thesis_verdict
            else "Same test on the thesis' published medians: not possible (the tables give "
            "no gradient norms or landscape)."
        )
        L += [
            f"### Finding {f.number}\n",
            f"*{f.title}*\n",
            f"> {f.claim}\n",
            f"**Verdict: {f.verdict}**\n",
            f"Test: {f.test}\n",
            f.evidence,
            thesis + "\n",
        ]
    L += ["## Figures\n", "### Loss curves\n"]
    grad_md: list[str] = []
    if read is not None and len(cases):
        loss_md, grad_md = _figures(read, figures)
        L.append(
            "Per case, one line per optimizer: median loss over the seeds with its "
            "interquartile band, against steps and against objective evaluations (log scale).\n"
        )
        L += loss_md
    else:
        L.append("*Not run: no main study.*\n")
    L.append("### Gradient norms\n")
    L += grad_md or ["*Not run: no CNN case done.*\n"]
    L.append("### Landscape\n")
    L += [f"*{n}*\n" for n in land_notes]
    L += (
        _landscape_figures(datasets, figures)
        if landscape is not None
        else ["*Not run: no landscape stage.*\n"]
    )
    L.append("## Runs not done\n")
    if read is None:
        L.append("*Not run: no main study.*\n")
    else:
        missing = cases[cases["status"] != "done"]
        if missing.empty:
            L.append("Every run of the main study is done.\n")
        else:
            rows = []
            for (case, optimizer, status), part in missing.groupby(
                ["case", "optimizer", "status"], sort=False
            ):
                errors = {e for e in part["error"] if isinstance(e, str)}
                error = next(iter(errors), "")
                rows.append(
                    [
                        case,
                        optimizer,
                        status,
                        ", ".join(map(str, part["seed"])),
                        error[:157] + "..." if len(error) > 160 else error,
                    ]
                )
            L.append(_report._markdown(["case", "optimizer", "status", "seeds", "error"], rows))
    L += [
        "## Definitions and thresholds\n",
        "- *final loss*: the loss at a run's last accepted step (compliance).",
        f"- *converged step* (the thesis' approximate convergence step): the first step s with "
        f"|loss[s] − final| ≤ {_report.TOLERANCE:g}·|final| (step 0 = the start).",
        "- *median over seeds*: over the seeds whose run is done; a non-finite final loss "
        "counts as +inf; failed seeds are left out (and counted).",
        "- *diverged*: a failed run, a non-finite final loss, or a final loss above the "
        "initial loss.",
        "- a pixel run has no randomness: one run, listed under every seed.",
        "- *effective step* (finding 6): |θ_j − θ_{j−1}| / |g_{j−1}| along the landscape "
        "stage's L-BFGS_M1 runs (step_length[j] / grad_norm[j − 1]): the constant step GD "
        "would need to make the same move.",
        "",
        _thresholds(),
    ]
    path = out / "report.md"
    path.write_text("\n".join(L))
    return path
