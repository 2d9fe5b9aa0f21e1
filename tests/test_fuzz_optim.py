"""Property-based tests (Hypothesis) of the optimizers: ``ts.optim.get(name, **options)`` with
bad names and option values, ``opt.run(...)`` with bad arguments, and objectives that return
bad values (NaN, wrong shapes, wrong types).

Examples per test: the ``default`` Hypothesis profile of ``tests/conftest.py``; set
``HYPOTHESIS_PROFILE=nightly`` for about 1000 (see ``tests/test_fuzz_strategies.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toposcape as ts
from test_fuzz_strategies import (
    PUBLIC_ERRORS,
    Case,
    bad_arrays,
    bad_flags,
    bad_integers,
    bad_names,
    bad_reals,
    expect_name,
    outcome,
)

N = 6
NAMES = ts.optim.names()
#: Options that take a real number (the step sizes and constants of every preset).
REAL_OPTIONS = {
    "lr",
    "c1",
    "c2",
    "xtol",
    "beta",
    "beta1",
    "beta2",
    "eps",
    "rho",
    "initial",
    "lm_eps",
    "move",
    "eta",
    "constraint_tol",
    "feasibility_tol",
    "initial_step",
}
INT_OPTIONS = {"memory", "maxls"}


class Quadratic:
    """A small strictly convex objective: 0.5 x^T A x - b^T x, also in least-squares form
    (``0.5 ||L^T x - L^-1 b||^2`` minus a constant, ``A = L L^T``) for Levenberg-Marquardt."""

    size = N

    def __init__(self):
        rng = np.random.default_rng(0)
        m = rng.normal(size=(N, N))
        self.A = m @ m.T + N * np.eye(N)
        self.b = rng.normal(size=N)
        self.x0 = np.zeros(N)
        self._L = np.linalg.cholesky(self.A)
        self._c = np.linalg.solve(self._L, self.b)

    def value_and_grad(self, theta):
        g = self.A @ theta - self.b
        return float(0.5 * theta @ self.A @ theta - self.b @ theta), g

    def hvp(self, theta, v):
        return self.A @ v

    def residuals(self, theta):
        return self._L.T @ theta - self._c

    def jacobian(self, theta):
        return self._L.T.copy()


class Broken(Quadratic):
    """Returns one kind of bad value from ``value_and_grad`` after ``after`` good calls."""

    def __init__(self, kind, after=0):
        super().__init__()
        self.kind, self.after, self.calls = kind, after, 0

    def value_and_grad(self, theta):
        f, g = super().value_and_grad(theta)
        self.calls += 1
        if self.calls <= self.after:
            return f, g
        return {
            "nan_value": (float("nan"), g),
            "inf_value": (float("inf"), g),
            "nan_grad": (f, np.full(N, np.nan)),
            "short_grad": (f, g[:-1]),
            "2d_grad": (f, g.reshape(2, 3)),
            "complex_grad": (f, g + 1j),
            "list_grad": (f, g.tolist()),
            "str_value": ("1.0", g),
            "none_value": (None, g),
            "array_value": (np.array([f, f]), g),
            "complex_value": (complex(f, 1.0), g),
            "not_a_pair": f,
            "triple": (f, g, g),
            "none": None,
            "huge_grad": (f, np.full(N, 1e300)),
            "huge_value": (1e300, g),
        }[self.kind]


BROKEN_KINDS = [
    "nan_value",
    "inf_value",
    "nan_grad",
    "short_grad",
    "2d_grad",
    "complex_grad",
    "list_grad",
    "str_value",
    "none_value",
    "array_value",
    "complex_value",
    "not_a_pair",
    "triple",
    "none",
    "huge_grad",
    "huge_value",
]

#: Presets that need only value_and_grad and a step size (runs on the quadratic).
FIRST_ORDER = [n for n in NAMES if n not in ("mma", "oc")]


def _make(name, **options):
    opts = {"lr": 1e-2} if "lr" in ts.optim.preset(name).option_names() else {}
    opts.update(options)
    return ts.optim.get(name, **opts)


def _check_trajectory(size):
    def check(traj):
        assert isinstance(traj, ts.optim.Trajectory)
        assert isinstance(traj.reason, str) and traj.reason
        assert traj.theta.shape == (size,) and traj.theta.dtype == np.float64
        assert np.all(np.isfinite(traj.theta)), traj.reason
        assert traj.losses.size >= 1
        # a non-finite loss (the objective's own overflow or NaN) ends the run and says so
        assert np.isfinite(traj.losses[0]) or traj.reason == "nonfinite_loss", traj.reason

    return check


# ------------------------------------------------------------------------------------------
# get(name, **options)
# ------------------------------------------------------------------------------------------
@given(bad_names(NAMES))
def test_get_bad_names(case):
    def call():
        name = case.value
        if case.expect == "ok" and "lr" in ts.optim.preset(name).option_names():
            return ts.optim.get(name, lr=1e-3)
        return ts.optim.get(name)

    expect_name(case, call, check=lambda opt: isinstance(opt, ts.optim.Runner))


@given(name=st.sampled_from(NAMES), option=st.text(min_size=1, max_size=10))
def test_get_unknown_option(name, option):
    declared = ts.optim.preset(name).option_names()
    if option in declared:
        return
    with pytest.raises(ts.UnknownNameError):
        _make(name, **{option: 1.0})


@given(
    name=st.sampled_from(NAMES),
    data=st.data(),
)
def test_get_bad_option_values(name, data):
    declared = ts.optim.preset(name).option_names()
    option = data.draw(st.sampled_from(declared or ["<none>"]))
    if option == "<none>":
        return
    if option in INT_OPTIONS:
        case = data.draw(bad_integers(1, None))
    elif option in REAL_OPTIONS:
        case = data.draw(bad_reals())
    else:
        case = data.draw(
            st.sampled_from([None, "xyz", 3, 1.5, object(), "linear", "float32", True]).map(
                lambda v: Case(v, "any", repr(v))
            )
        )
    # ranges differ per option (lr > 0, 0 < c1 < c2 < 1, ...): a runner or a clear error
    expect = "type" if case.expect == "type" else "any"
    default = next(o.default for o in ts.optim.preset(name).options if o.name == option)
    if case.value is None and default is None:
        expect = "any"  # None is this option's default
    if case.expect == "value" and option in INT_OPTIONS:
        expect = "value"
    if option in INT_OPTIONS and case.expect == "ok" and int(case.value) > 10**6:
        expect = "any"
    if option == "lm_eps" and case.expect == "ok" and 0 < abs(float(case.value)) < 1e-200:
        return  # lm_eps of 5e-324: a NaN run (test_landscape_modification_tiny_eps)
    runner = outcome(lambda: _make(name, **{option: case.value}), expect)
    if runner is not None and name in FIRST_ORDER:
        # whatever it accepted must run: a trajectory or a clear error, never a crash
        outcome(
            lambda: runner.run(Quadratic(), max_evals=8, progress=False),
            "any",
            check=_check_trajectory(N),
        )


# ------------------------------------------------------------------------------------------
# run(...)
# ------------------------------------------------------------------------------------------
@given(name=st.sampled_from(FIRST_ORDER), case=bad_arrays((N,)))
def test_run_bad_theta0(name, case):
    opt = _make(name)
    outcome(
        lambda: opt.run(Quadratic(), theta0=case.value, max_evals=6, progress=False),
        "ok" if case.value is None else case.expect,  # None: start at objective.x0
        check=_check_trajectory(N),
    )


@given(
    name=st.sampled_from(FIRST_ORDER),
    max_evals=bad_integers(1, None),
    max_steps=bad_integers(0, None),
    which=st.sampled_from(["max_evals", "max_steps"]),
)
def test_run_bad_budgets(name, max_evals, max_steps, which):
    opt = _make(name)
    case = max_evals if which == "max_evals" else max_steps
    expect = "ok" if case.value is None else case.expect  # None: no limit of that kind
    budget = {which: case.value}
    if which == "max_evals":
        budget["max_steps"] = 3  # huge evaluation budgets end at the step budget
    else:
        budget["max_evals"] = 8
    outcome(
        lambda: opt.run(Quadratic(), progress=False, **budget), expect, check=_check_trajectory(N)
    )


@given(
    name=st.sampled_from(FIRST_ORDER),
    flag=bad_flags(),
    which=st.sampled_from(["record_params", "progress", "record_memory"]),
)
def test_run_bad_flags(name, flag, which):
    opt = _make(name)
    expect = flag.expect
    if which == "progress" and flag.value is None:
        expect = "ok"  # None: a progress bar only on a terminal
    if which == "record_memory" and flag.expect == "ok" and bool(flag.value):
        expect = "ok" if opt.requires.curvature_memory else "value"
    kwargs = {"progress": False, which: flag.value}
    outcome(lambda: opt.run(Quadratic(), max_evals=5, **kwargs), expect)


@given(
    name=st.sampled_from(FIRST_ORDER),
    objective=st.sampled_from([None, 3, "quadratic", object(), np.zeros(N)]),
)
def test_run_bad_objective(name, objective):
    opt = _make(name)
    outcome(lambda: opt.run(objective, max_evals=5, progress=False), "type")


@pytest.mark.parametrize("name", ["lbfgs_lm"])
def test_landscape_modification_tiny_eps(name):
    outcome(
        lambda: _make(name, lm_eps=5e-324).run(Quadratic(), max_evals=12, progress=False),
        "any",
        check=_check_trajectory(N),
    )


class NoStart:
    """An objective without ``x0`` (the protocol's x0 is only needed without theta0)."""

    size = N

    def __init__(self):
        self._q = Quadratic()

    def value_and_grad(self, theta):
        return self._q.value_and_grad(theta)


@pytest.mark.parametrize("objective", [NoStart(), Quadratic], ids=["no_x0", "the_class"])
def test_run_objective_without_x0(objective):
    outcome(lambda: _make("gd").run(objective, max_evals=5, progress=False), "error")


@given(name=st.sampled_from(FIRST_ORDER), callback=st.sampled_from([3, "stop", object()]))
def test_run_bad_callback(name, callback):
    opt = _make(name)
    outcome(lambda: opt.run(Quadratic(), max_evals=5, progress=False, callback=callback), "type")


#: Bad returns the optimizers do not check (known failures, below).
UNCHECKED_RETURNS = ["short_grad", "2d_grad", "triple", "complex_grad"]


@given(
    name=st.sampled_from(FIRST_ORDER),
    kind=st.sampled_from([k for k in BROKEN_KINDS if k not in UNCHECKED_RETURNS]),
    after=st.integers(0, 3),
)
def test_run_objective_returning_bad_values(name, kind, after):
    """An objective that misbehaves: a clear error or a trajectory that says why it stopped,
    never an AttributeError/IndexError from inside, never a NaN theta."""
    opt = _make(name)
    outcome(
        lambda: opt.run(Broken(kind, after), max_evals=12, progress=False),
        "any",
        errors=PUBLIC_ERRORS + (FloatingPointError,),
        check=_check_trajectory(N),
    )


@pytest.mark.parametrize("kind", UNCHECKED_RETURNS)
@pytest.mark.parametrize("name", ["gd", "lbfgs", "adam"])
def test_run_objective_returning_unchecked_values(name, kind):
    outcome(lambda: _make(name).run(Broken(kind), max_evals=12, progress=False), "error")


@given(
    name=st.sampled_from(FIRST_ORDER),
    size=st.sampled_from([0, -1, 2.0, "6", None, True]),
)
def test_run_objective_with_bad_size(name, size):
    obj = Quadratic()
    obj.size = size
    outcome(lambda: _make(name).run(obj, max_evals=5, progress=False), "error")


# ------------------------------------------------------------------------------------------
# MMA and OC: on a pixel objective in density space
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def density_objective():
    return ts.PixelObjective(
        ts.problems.mbb_beam(width=16, height=8, density=0.5), volume_constraint=False
    )


@given(name=st.sampled_from(["mma", "oc"]), case=bad_arrays((128,)))
def test_baselines_bad_theta0(density_objective, name, case):
    opt = ts.optim.get(name)
    expect = "ok" if case.value is None else case.expect  # None: start at objective.x0
    if expect == "any":
        theta = np.asarray(case.value, dtype=np.float64)
        if theta.min() < 0 or theta.max() > 1:
            expect = "value"
    outcome(
        lambda: opt.run(density_objective, theta0=case.value, max_evals=3, progress=False),
        expect,
        check=_check_trajectory(128),
    )


@given(name=st.sampled_from(["mma", "oc"]))
def test_baselines_need_explicit_volume(name):
    obj = ts.PixelObjective(ts.problems.mbb_beam(width=16, height=8, density=0.5))
    outcome(lambda: ts.optim.get(name).run(obj, max_evals=3, progress=False), "error")
    outcome(lambda: ts.optim.get(name).run(Quadratic(), max_evals=3, progress=False), "error")
