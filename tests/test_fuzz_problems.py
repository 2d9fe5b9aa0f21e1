"""Property-based tests (Hypothesis) of problem construction: ``ts.problems.Problem(...)`` with
bad sizes, densities, supports, forces, masks and names, the category functions with bad sizes,
densities and positions, and ``ts.problems.get`` with unknown names.

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toposcape as ts
from test_fuzz_strategies import (
    Case,
    bad_arrays,
    bad_integers,
    bad_names,
    bad_reals,
    expect_name,
    outcome,
)

W, H = 6, 4
N_DOFS = 2 * (W + 1) * (H + 1)
FIXED = np.arange(2 * (H + 1))  # left edge clamped
FORCES = np.zeros(N_DOFS)
FORCES[-1] = -1.0
CATEGORIES = ts.problems.categories()
#: Sizes a test may build (larger valid sizes allocate 2 (W+1) (H+1) floats and more).
MAX_SIDE = 64
#: A valid (width, height) per category (the hoop needs height == 2 width).
BASE = {name: ((16, 32) if name == "hoop" else (32, 16)) for name in CATEGORIES}


def _problem(**overrides):
    args = dict(width=W, height=H, density=0.4, fixed_dofs=FIXED, forces=FORCES)
    args.update(overrides)
    return ts.problems.Problem(**args)


def _check_problem(p):
    assert isinstance(p, ts.problems.Problem)
    assert p.mask.shape == (p.height, p.width) and p.mask.dtype == bool
    assert p.forces.shape == (2 * (p.width + 1) * (p.height + 1),)
    assert np.all(np.isfinite(p.forces))
    assert np.all(np.diff(p.fixed_dofs) > 0)


# ------------------------------------------------------------------------------------------
# Problem(...)
# ------------------------------------------------------------------------------------------
@given(size=bad_integers(1, None), which=st.sampled_from(["width", "height"]))
def test_problem_bad_sizes(size, which):
    """A size other than W or H no longer matches the forces: a value error, whatever the
    size's type is right."""
    expect = size.expect
    if expect == "ok":
        if int(size.value) > MAX_SIDE:
            return
        expect = "ok" if int(size.value) == {"width": W, "height": H}[which] else "value"
    outcome(lambda: _problem(**{which: size.value}), expect, check=_check_problem)


@given(bad_reals(0.0, 1.0, open_low=True, open_high=True))
def test_problem_bad_density(density):
    outcome(lambda: _problem(density=density.value), density.expect, check=_check_problem)


@given(bad_arrays((N_DOFS,)))
def test_problem_bad_forces(case):
    expect = case.expect
    if case.what in ("zeros",):
        expect = "value"  # no load: nothing to optimize
    outcome(lambda: _problem(forces=case.value), expect if expect != "any" else "any")


@given(
    st.one_of(
        bad_arrays((10,), extreme=False),
        st.sampled_from(
            [
                ("negative", np.array([-1, 0, 1])),
                ("too_large", np.array([0, 1, N_DOFS])),
                ("huge", np.array([0, 1, 2**62])),
                ("floats", np.arange(10.0)),
                ("float_fraction", np.arange(10) + 0.5),
                ("duplicates", np.concatenate([FIXED, FIXED])),
                ("unsorted", FIXED[::-1].copy()),
                ("empty", np.array([], dtype=int)),
                ("one_dof", np.array([0])),
                ("list", FIXED.tolist()),
                ("uint8", FIXED.astype(np.uint8)),
            ]
        ).map(lambda t: Case(t[1], "any", t[0])),
    )
)
def test_problem_bad_fixed_dofs(case):
    outcome(lambda: _problem(fixed_dofs=case.value), case.expect, check=_check_problem)


@given(
    st.sampled_from(
        [
            ("ok_bool", np.ones((H, W), dtype=bool), "ok"),
            ("transposed", np.ones((W, H), dtype=bool), "value"),
            ("flat", np.ones(H * W, dtype=bool), "value"),
            ("empty_mask", np.zeros((H, W), dtype=bool), "value"),
            ("float_half", np.full((H, W), 0.5), "any"),
            ("int01", np.ones((H, W), dtype=int), "any"),
            ("nan", np.full((H, W), np.nan), "any"),
            ("complex", np.ones((H, W), dtype=complex), "type"),
            ("string", np.full((H, W), "1"), "type"),
            ("object", np.full((H, W), None, dtype=object), "type"),
            ("str", "mask", "type"),
        ]
    )
)
def test_problem_bad_mask(item):
    what, mask, expect = item
    outcome(lambda: _problem(mask=mask), expect, check=_check_problem)


@given(st.one_of(st.text(max_size=30), st.sampled_from([3, 1.5, b"name", ["a"], object()])))
def test_problem_names(name):
    expect = "ok" if isinstance(name, str) else "type"
    outcome(lambda: _problem(name=name), expect, check=_check_problem)


# ------------------------------------------------------------------------------------------
# Category functions and the suite
# ------------------------------------------------------------------------------------------
@given(
    category=st.sampled_from(sorted(CATEGORIES)),
    width=bad_integers(1, None),
    height=bad_integers(1, None),
    density=bad_reals(0.0, 1.0, open_low=True, open_high=True),
    which=st.sampled_from(["width", "height", "density"]),
)
def test_category_functions_bad_arguments(category, width, height, density, which):
    make = CATEGORIES[category]
    width0, height0 = BASE[category]
    args = {"width": width0, "height": height0, "density": 0.4}
    case = {"width": width, "height": height, "density": density}[which]
    args[which] = case.value
    expect = case.expect
    if expect == "ok" and which != "density":
        if int(case.value) > MAX_SIDE:
            return
        expect = "any"  # a category may need a minimum size for its features
    outcome(lambda: make(**args), expect, check=_check_problem)


@given(
    category=st.sampled_from(
        [
            name
            for name, fn in sorted(CATEGORIES.items())
            if len(inspect.signature(fn).parameters) > 4
        ]
    ),
    value=bad_reals(),
)
def test_category_functions_bad_extra_parameters(category, value):
    make = CATEGORIES[category]
    params = [
        p
        for p in inspect.signature(make).parameters
        if p not in ("width", "height", "density", "name")
    ]
    kwargs = {params[0]: value.value}
    if isinstance(value.value, (int, np.integer)) and abs(int(value.value)) > 10**4:
        return  # staircase(num_stories=2**31) runs for hours (test_staircase_huge_story_count)
    expect = "type" if value.expect == "type" else "any"
    if expect == "any" and isinstance(value.value, float) and not np.isfinite(value.value):
        expect = "error"  # InvalidInputError, or TypeError where the parameter is an integer
    outcome(lambda: make(32, 16, 0.4, **kwargs), expect, check=_check_problem)


def test_staircase_huge_story_count():
    code = "import toposcape as ts; ts.problems.staircase(32, 16, 0.4, num_stories=2**31)"
    try:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=8.0)
    except subprocess.TimeoutExpired:
        pytest.fail("staircase(num_stories=2**31) hangs")
    assert run.returncode == 0 or b"InvalidProblemError" in run.stderr


@given(bad_names(ts.problems.names()[:20]))
def test_get_bad_names(case):
    expect_name(case, lambda: ts.problems.get(case.value), check=_check_problem)
