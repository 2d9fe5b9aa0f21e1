"""The thesis study (``studies.md`` section 1) as shipped specs, in profiles.

Three stages, each a spec shipped as package data (``experiments/data/thesis/``):

* ``tune``: the constant step sizes of GD and HD per test case, by the thesis' protocol (TPE,
  log10(step) on a 0.1 grid, the median final loss over the seeds), in a range relative to
  1/|g0| at theta0 (absolute steps do not transfer between implementations);
* ``main``: the 16 test cases (NN/P x p = 1, 3 x problems) with L-BFGS (m = 10), L-BFGS_M1
  (300 evaluations), GD (700 and 2000 steps), GD_LS (700 iterations), HD_M1 and HD_M10 (700
  steps), GD and HD taking their steps from the tuning stage;
* ``landscape``: the L-BFGS_M1 runs of the main stage on problems A and D, analysed (spectra,
  convexity check, interpolations, planes, metrics: :mod:`toposcape.experiments.landscape`).

Profiles (:data:`PROFILES`): ``full`` (problems A, B, D, E; 10 seeds; 30 trials), ``quick``
(A and B; 3 seeds; 10 trials of 300 steps on one seed; the landscape stage on A, one seed) and
``miniature`` (problem A, tiny budgets: the end-to-end test of the whole pipeline, not a
study). The thesis' seeds are unknown: seeds 0, 1, ... are used; a profile's fields can be
overridden (``thesis_spec(..., seeds=[...])``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from .. import _validate

__all__ = ["PROFILES", "STAGES", "profile_settings", "thesis_spec"]

STAGES = ("tune", "main", "landscape")

#: Every field of a profile (see :func:`profile_settings`).
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "problems": ["A", "B", "D", "E"],
        "seeds": list(range(10)),
        "trials": 30,
        "startup": 10,
        # The thesis does not say over which seeds it tuned; three keep the tuning at about
        # the main stage's cost.
        "tune_seeds": [0, 1, 2],
        "tune_steps": 700,
        "lbfgs_evals": 300,
        "gd_steps": 700,
        "gd_long_steps": 2000,
        "landscape_problems": ["A", "D"],
        "landscape_seeds": [0, 1, 2],
        "landscape": {},
    },
    "quick": {
        "problems": ["A", "B"],
        "seeds": [0, 1, 2],
        "trials": 10,
        # 4 random trials, then 6 by TPE (with Optuna's default of 10 all 10 would be random)
        "startup": 4,
        "tune_seeds": [0],
        # trials of 300 steps (the runs take 700): the quick profile's budget of 30 minutes
        "tune_steps": 300,
        "lbfgs_evals": 300,
        "gd_steps": 700,
        "gd_long_steps": 2000,
        "landscape_problems": ["A"],
        "landscape_seeds": [0],
        "landscape": {"interpolation_points": 15, "plane_points": 15},
    },
    "miniature": {
        "problems": ["A"],
        "seeds": [0, 1],
        "trials": 3,
        "startup": 1,
        "tune_seeds": [0],
        "tune_steps": 8,
        "lbfgs_evals": 15,
        "gd_steps": 8,
        "gd_long_steps": 16,
        "landscape_problems": ["A"],
        "landscape_seeds": [0],
        "landscape": {
            "steps": [0, 2, 4],
            "slq_starts": 2,
            "slq_steps": 6,
            "hutchinson_seeds": 1,
            "hutchinson_samples": 4,
            "interpolation_points": 5,
            "interpolation_iterates": 3,
            "successive_steps": 3,
            "inits": 2,
            "plane_points": 5,
        },
    },
}


def profile_settings(profile: str = "full", **overrides: Any) -> dict[str, Any]:
    """A profile's fields with ``overrides`` applied (e.g. ``seeds=[0, 1]``).

    Fields: ``problems`` (study codes), ``seeds``, ``trials`` (TPE trials per tuned case),
    ``startup`` (of which random, before TPE proper),
    ``tune_seeds`` and ``tune_steps`` (the runs a trial makes), ``lbfgs_evals``, ``gd_steps``
    (GD, GD_LS and HD), ``gd_long_steps`` (the long GD), ``landscape_problems``,
    ``landscape_seeds``, ``landscape`` (options of the analysis, see
    :class:`~toposcape.experiments.landscape.LandscapeOptions`), ``upsampling`` (the CNN:
    ``"transpose"`` as the thesis, or the ``"bilinear"`` reference CNN).
    """
    name = _validate.option(profile, "profile", tuple(PROFILES), who="thesis")
    settings = json.loads(json.dumps(PROFILES[name]))
    settings["upsampling"] = "transpose"
    unknown = set(overrides) - set(settings)
    if unknown:
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"thesis: unknown profile field(s) {sorted(unknown)}; valid: {sorted(settings)}"
        )
    for key, value in overrides.items():
        if value is not None:
            settings[key] = value
    _validate.option(settings["upsampling"], "upsampling", ("transpose", "bilinear"), "thesis")
    settings["profile"] = name
    return settings


def _toml_table(options: Mapping[str, Any]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in sorted(options.items()))


def thesis_spec(
    stage: str, profile: str = "full", tuning: str | None = None, **overrides: Any
) -> str:
    """The TOML text of a stage of the thesis study in a profile.

    Parameters
    ----------
    stage : {"tune", "main", "landscape"}
    profile : {"full", "quick", "miniature"}
    tuning : str
        For ``main``: the tuning stage's study directory, whose tuned steps GD and HD use
        (``lr = "tuned:DIR"``).
    **overrides
        Profile fields to change (:func:`profile_settings`), e.g. ``seeds=[0, 1]`` or
        ``upsampling="bilinear"``.

    Returns
    -------
    str
        A spec for ``toposcape study tune`` (``tune``) or ``toposcape study run`` (``main``,
        ``landscape``).
    """
    stage = _validate.option(stage, "stage", STAGES, who="thesis_spec")
    settings = profile_settings(profile, **overrides)
    if stage == "main" and not isinstance(tuning, str):
        raise TypeError(
            "thesis_spec: the main stage needs tuning, the tuning stage's study directory "
            f"(a string), got {_validate.given(tuning)}"
        )
    template = resources.files(__package__).joinpath("data", "thesis", f"{stage}.toml")
    fields = {
        k: json.dumps(v) if isinstance(v, list) else v
        for k, v in settings.items()
        if k != "landscape"
    }
    fields["landscape_options"] = _toml_table(settings["landscape"])
    return template.read_text().format(tuning=tuning or "", **fields)
