"""The thesis study (``studies.md`` section 1) as shipped specs, in profiles.

Two stages, each a spec shipped as package data (``experiments/data/thesis/``):

* ``tune``: the constant step sizes of GD and HD per test case, by the thesis' protocol (TPE,
  log10(step) on a 0.1 grid, the median final loss over the seeds), in a range relative to
  1/|g0| at theta0 (absolute steps do not transfer between implementations);
* ``main``: the 16 test cases (NN/P x p = 1, 3 x problems) with L-BFGS (m = 10), L-BFGS_M1
  (300 evaluations), GD (700 and 2000 steps), GD_LS (700 iterations), HD_M1 and HD_M10 (700
  steps), GD and HD taking their steps from the tuning stage.

Profiles: ``full`` (problems A, B, D, E; 10 seeds; 30 trials) and ``quick`` (A and B; 3 seeds;
10 trials). The thesis' seeds are unknown: seeds 0, 1, ... are used.
"""

from __future__ import annotations

import json
from importlib import resources

from .. import _validate

__all__ = ["PROFILES", "thesis_spec"]

#: Problems (study codes), seeds and tuning trials of each profile.
PROFILES = {
    "full": {"problems": ["A", "B", "D", "E"], "seeds": list(range(10)), "trials": 30},
    "quick": {"problems": ["A", "B"], "seeds": [0, 1, 2], "trials": 10},
}


def thesis_spec(stage: str, profile: str = "full", tuning: str | None = None) -> str:
    """The TOML text of a stage of the thesis study in a profile.

    Parameters
    ----------
    stage : {"tune", "main"}
    profile : {"full", "quick"}
    tuning : str
        For ``main``: the tuning stage's study directory, whose tuned steps GD and HD use
        (``lr = "tuned:DIR"``).

    Returns
    -------
    str
        A spec for ``toposcape study tune`` (``tune``) or ``toposcape study run`` (``main``).
    """
    stage = _validate.option(stage, "stage", ("tune", "main"), who="thesis_spec")
    chosen = PROFILES[_validate.option(profile, "profile", tuple(PROFILES), who="thesis_spec")]
    if stage == "main" and not isinstance(tuning, str):
        raise TypeError(
            "thesis_spec: the main stage needs tuning, the tuning stage's study directory "
            f"(a string), got {_validate.given(tuning)}"
        )
    template = resources.files(__package__).joinpath("data", "thesis", f"{stage}.toml")
    return template.read_text().format(
        problems=json.dumps(chosen["problems"]),
        seeds=json.dumps(chosen["seeds"]),
        trials=chosen["trials"],
        tuning=tuning or "",
    )
