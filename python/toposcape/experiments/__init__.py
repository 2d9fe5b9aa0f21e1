"""Studies as specs, run on a local process pool or on Dask, into a resumable store.

>>> import toposcape as ts
>>> report = ts.experiments.run("demo.toml", "out/demo", workers=2)   # rerun to resume
>>> study = ts.experiments.open("out/demo")
>>> study.runs()          # DataFrame: key, status, problem, penal, model, optimizer, seed, ...
>>> study.dataset()       # xarray cube over problem, model, penal, optimizer, seed, step
>>> study.trajectory(key) # one run read back as a Trajectory

See :mod:`toposcape.experiments.spec` for the TOML format, ``toposcape study --help`` for the
commands. The thesis study (``studies.md`` section 1) in one call: :func:`reproduce_thesis`
(``toposcape reproduce thesis``); its stages are specs (:func:`thesis_spec`), its landscape
stage a spec with a ``[landscape]`` table (:mod:`.landscape_spec`, :mod:`.landscape`), its
report :func:`write_thesis_report`.
"""

from .executors import DaskExecutor, Executor, LocalExecutor, Lost, make_executor
from .lab_spec import LabSpec, LabTask
from .landscape import LandscapeOptions, analyze, landscape_figures
from .landscape_spec import LandscapeSpec, LandscapeTask
from .published import thesis_tables
from .report import summary_table, write_report
from .reproduce import estimate_cost, reproduce_thesis
from .runner import RunResult, build_objective, execute
from .spec import STUDY_CODES, ModelSpec, OptimizerSpec, RecordSpec, RunSpec, StudySpec, load_spec
from .store import Store
from .study import Study, StudyReport, open, run
from .thesis import PROFILES, profile_settings, thesis_spec
from .thesis_report import case_table, findings, table_3_2, table_3_3, write_thesis_report
from .tuning import load_tuning, tune, tuned_values

__all__ = [
    "PROFILES",
    "STUDY_CODES",
    "DaskExecutor",
    "Executor",
    "LabSpec",
    "LabTask",
    "LandscapeOptions",
    "LandscapeSpec",
    "LandscapeTask",
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
    "analyze",
    "build_objective",
    "case_table",
    "estimate_cost",
    "execute",
    "findings",
    "landscape_figures",
    "load_spec",
    "make_executor",
    "open",
    "profile_settings",
    "reproduce_thesis",
    "run",
    "load_tuning",
    "summary_table",
    "table_3_2",
    "table_3_3",
    "thesis_spec",
    "thesis_tables",
    "tune",
    "tuned_values",
    "write_report",
    "write_thesis_report",
]
