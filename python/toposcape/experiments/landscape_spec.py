"""A landscape stage as a spec: the runs of a study spec, each rerun and analysed.

A study spec with a ``[landscape]`` table (the options of
:class:`~toposcape.experiments.landscape.LandscapeOptions`) is a landscape stage: every run it
expands to becomes one *analysis task*, which reruns that run with its iterates and L-BFGS
pairs recorded (the same computation, so the same numbers as the run stored by a main stage)
and analyses its landscape (:func:`~toposcape.experiments.landscape.analyze`). Tasks go
through the same engine as runs: content keys (the run's settings and the options), the
store, the local pool or Dask, resumption.

.. code-block:: toml

    name = "landscape-A"
    problems = ["A"]
    penal = [3.0]
    seeds = [0]

    [[models]]
    kind = "cnn"
    upsampling = "transpose"

    [[optimizers]]
    preset = "lbfgs"
    memory = 1
    max_evals = 300

    [landscape]
    steps = [0, 10, 28]
    plane_points = 21
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _validate
from ..errors import InvalidInputError
from .spec import RunSpec, StudySpec, _canonical

__all__ = ["LandscapeSpec", "LandscapeTask", "is_landscape_settings"]


def is_landscape_settings(settings: Mapping[str, Any]) -> bool:
    """Whether engine settings describe an analysis task rather than a run."""
    return settings.get("analysis") == "landscape"


@dataclass(frozen=True)
class LandscapeTask:
    """One analysis: a run (rerun with everything recorded) and the analysis options."""

    run: RunSpec
    options: Mapping[str, Any]

    @property
    def problem(self) -> str:
        return self.run.problem

    @property
    def model(self):
        return self.run.model

    @property
    def penal(self) -> float:
        return self.run.penal

    @property
    def optimizer(self):
        return self.run.optimizer

    @property
    def seed(self) -> int | None:
        return self.run.seed

    def settings(self) -> dict[str, Any]:
        """The run's settings and the analysis options (JSON-ready): the task's content."""
        return _canonical(
            {"analysis": "landscape", "run": self.run.settings(), "landscape": self.options}
        )

    @property
    def key(self) -> str:
        text = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LandscapeSpec:
    """A study spec's runs, each analysed with the same options (see the module docstring)."""

    study: StudySpec
    options: Mapping[str, Any]
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.study.name

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LandscapeSpec:
        from .landscape import LandscapeOptions

        if not isinstance(data, Mapping):
            raise TypeError(f"a study spec must be a mapping, got {_validate.given(data)}")
        runs = {k: v for k, v in data.items() if k != "landscape"}
        table = data.get("landscape")
        if not isinstance(table, Mapping):
            raise InvalidInputError(
                f"study spec, [landscape]: must be a table of analysis options, got {table!r}"
            )
        if "record" in runs:
            raise InvalidInputError(
                "study spec, [record]: a landscape stage records what its analyses need "
                "itself; remove the [record] table"
            )
        try:
            options = LandscapeOptions.from_dict(table)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"study spec, [landscape]: {exc}") from None
        study = StudySpec.from_dict(runs)
        return cls(study, _canonical(options.to_dict()), dict(data))

    def expand(self) -> list[tuple[LandscapeTask, int]]:
        """``(task, seed)`` for every run of the study spec (pixel runs: one for all seeds)."""
        return [(LandscapeTask(run, self.options), seed) for run, seed in self.study.expand()]

    def unique_runs(self) -> list[LandscapeTask]:
        seen: dict[str, LandscapeTask] = {}
        for task, _ in self.expand():
            seen.setdefault(task.key, task)
        return list(seen.values())
