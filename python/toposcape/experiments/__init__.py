"""Studies as specs, run on a local process pool or on Dask, into a resumable store.

>>> import toposcape as ts
>>> report = ts.experiments.run("demo.toml", "out/demo", workers=2)   # rerun to resume
>>> study = ts.experiments.open("out/demo")
>>> study.runs()          # DataFrame: key, status, problem, penal, model, optimizer, seed, ...
>>> study.dataset()       # xarray cube over problem, model, penal, optimizer, seed, step
>>> study.trajectory(key) # one run read back as a Trajectory

See :mod:`toposcape.experiments.spec` for the TOML format, ``toposcape study --help`` for the
commands.
"""

from .executors import DaskExecutor, Executor, LocalExecutor, Lost, make_executor
from .published import thesis_tables
from .report import summary_table, write_report
from .runner import RunResult, build_objective, execute
from .spec import STUDY_CODES, ModelSpec, OptimizerSpec, RecordSpec, RunSpec, StudySpec, load_spec
from .store import Store
from .study import Study, StudyReport, open, run
from .thesis import thesis_spec
from .tuning import load_tuning, tune, tuned_values

__all__ = [
    "STUDY_CODES",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Lost",
    "ModelSpec",
    "OptimizerSpec",
    "RecordSpec",
    "RunResult",
    "RunSpec",
    "Store",
    "Study",
    "StudyReport",
    "StudySpec",
    "build_objective",
    "execute",
    "load_spec",
    "make_executor",
    "open",
    "run",
    "load_tuning",
    "summary_table",
    "thesis_spec",
    "thesis_tables",
    "tune",
    "tuned_values",
    "write_report",
]
