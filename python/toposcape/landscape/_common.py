"""Helpers shared by the landscape modules (private).

Argument checks specific to the landscape tools, built on :mod:`toposcape._validate` (whose
conventions they follow: :class:`TypeError` for a wrong type or kind of object,
:class:`~toposcape.errors.InvalidInputError` for a bad value, messages of the form
``"<who>: <argument> must be <expected>, got <given>"``), access to runs (a
:class:`~toposcape.optim.Trajectory`, its ``to_xarray()`` Dataset, or an array of iterates),
random generators and progress bars.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError

__all__ = [
    "PROGRESS_THRESHOLD",
    "as_operator",
    "as_thetas",
    "check_real_result",
    "is_dataset",
    "is_trajectory",
    "loss_function",
    "method",
    "nonzero_vector",
    "objective_size",
    "optional_flag",
    "progress_bar",
    "rng",
    "step_indices",
    "step_series",
]

#: Slices and metrics with more objective evaluations than this show a progress bar
#: (``progress=None``).
PROGRESS_THRESHOLD = 200

#: The per-step variables of a run: Dataset variable -> Trajectory attribute.
_RUN_FIELDS = {"loss": "losses", "grad_norm": "grad_norms", "distance": "distances"}

_RUN_KINDS = (
    "a Trajectory, a Dataset from Trajectory.to_xarray() or trajectory_metrics(), "
    "or an array of iterates (n_iterates, size)"
)


# --------------------------------------------------------------------------------------------
# Flags and random generators
# --------------------------------------------------------------------------------------------
def optional_flag(value: Any, name: str, who: str | None = None) -> bool | None:
    """``value`` as a bool, or None (e.g. ``progress``: None means automatic)."""
    return None if value is None else _validate.flag(value, name, who)


def rng(seed: Any, who: str | None = None, name: str = "seed") -> np.random.Generator:
    """A NumPy Generator from ``seed``: an integer >= 0, None, a Generator (used as is), a
    SeedSequence or BitGenerator, or a sequence of integers >= 0."""
    expected = "an integer >= 0, a numpy Generator or None"
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence | np.random.BitGenerator):
        return np.random.default_rng(seed)
    if isinstance(seed, list | tuple) and seed:
        entropy = [
            _validate.integer(s, f"{name}[{i}]", minimum=0, who=who) for i, s in enumerate(seed)
        ]
        return np.random.default_rng(entropy)
    if isinstance(seed, bool | np.bool_):
        raise TypeError(f"{_prefix(who)}{name} must be {expected}, got {_validate.given(seed)}")
    try:
        value = operator.index(seed)
    except TypeError:
        raise TypeError(
            f"{_prefix(who)}{name} must be {expected}, got {_validate.given(seed)}"
        ) from None
    if value < 0:
        raise _validate.fail(name, expected, seed, who)
    return np.random.default_rng(value)


def _prefix(who: str | None) -> str:
    return f"{who}: " if who else ""


# --------------------------------------------------------------------------------------------
# Operators, vectors and objectives
# --------------------------------------------------------------------------------------------
def as_operator(H: Any, who: str | None = None, name: str = "H"):
    """``H`` as a real square :class:`~scipy.sparse.linalg.LinearOperator` of order >= 1.

    Accepts a LinearOperator, a dense real array, a sparse real matrix, or an object with
    ``shape`` and ``matvec``. TypeError for anything else and for complex, boolean, object or
    string entries; InvalidInputError for a non-square or empty shape and for NaN/inf entries
    of an array or sparse matrix (an operator's products are checked as they are made).
    """
    from scipy.sparse import issparse
    from scipy.sparse.linalg import LinearOperator, aslinearoperator

    expected = "a LinearOperator, a dense array or a sparse matrix of shape (n, n)"
    if isinstance(H, np.ndarray):
        checked = _validate.array(H, name, who=who)  # type, empty, NaN/inf
        _square(checked.shape, name, who)
        # Float arrays keep their dtype (as before); integer arrays become float64.
        op = aslinearoperator(H if H.dtype.kind == "f" else checked)
    elif issparse(H):
        if H.dtype.kind not in "iuf":
            raise TypeError(
                f"{_prefix(who)}{name} must be a real sparse matrix, got dtype {H.dtype}"
            )
        _square(H.shape, name, who)
        if H.nnz and not np.all(np.isfinite(H.data)):
            raise InvalidInputError(f"{_prefix(who)}{name} must be finite, got NaN or inf entries")
        op = aslinearoperator(H)
    elif isinstance(H, LinearOperator):
        op = H
    elif hasattr(H, "shape") and callable(getattr(H, "matvec", None)):
        op = aslinearoperator(H)
    else:
        raise TypeError(f"{_prefix(who)}{name} must be {expected}, got {_validate.given(H)}")
    if op.dtype is not None and np.dtype(op.dtype).kind not in "iuf":
        raise TypeError(
            f"{_prefix(who)}{name} must be a real operator, got dtype {np.dtype(op.dtype)}"
        )
    _square(op.shape, name, who)
    return _checked_products(op, name, who)


def _checked_products(op, name: str, who: str | None):
    """``op`` whose every product is checked: n real, finite numbers (a user's operator that
    returns the wrong shape, None, complex or non-finite values gets a clear error, not one
    from inside SciPy or the core, and never a silent NaN)."""
    from scipy.sparse.linalg import LinearOperator

    n = op.shape[0]
    raw = getattr(op, "_matvec", None) or op.matvec

    def matvec(v):
        out = raw(v)
        if out is None:
            raise TypeError(f"{_prefix(who)}{name}'s matvec returned None")
        arr = check_real_result(out, f"{name}'s matvec", who)
        if arr.size != n:
            raise InvalidInputError(
                f"{_prefix(who)}{name}'s matvec must return {n} entries, got shape {arr.shape}"
            )
        arr = arr.reshape(n)
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError(
                f"{_prefix(who)}{name}'s matvec returned NaN or inf (an overflowing or "
                "undefined matrix-vector product)"
            )
        return arr

    return LinearOperator(op.shape, matvec=matvec, dtype=np.float64)


def _square(shape: tuple, name: str, who: str | None) -> None:
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise InvalidInputError(
            f"{_prefix(who)}{name} must be square and non-empty, (n, n) with n >= 1, "
            f"got shape {tuple(shape)}"
        )


def check_real_result(y: Any, what: str, who: str | None = None) -> np.ndarray:
    """The result of a user's callable (a product, a Hessian-vector product) as a float64
    array; TypeError when it is complex or not numeric (never a silent cast)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{_prefix(who)}{what} must return real numbers, got {_validate.given(arr)}"
        )
    return arr.astype(np.float64, copy=False)


def nonzero_vector(x: Any, name: str, size: int | None = None, who: str | None = None):
    """:func:`toposcape._validate.vector` that is also not all zeros."""
    v = _validate.vector(x, name, size, who=who)
    if not np.any(v):
        raise InvalidInputError(f"{_prefix(who)}{name} must be a nonzero vector, got all zeros")
    return v


def objective_size(obj: Any, who: str | None = None, name: str = "obj") -> int:
    """``obj.size``, the length of its parameter vector (TypeError when ``obj`` has none)."""
    size = getattr(obj, "size", None)
    if size is None or isinstance(obj, np.ndarray | str | bytes):
        raise TypeError(
            f"{_prefix(who)}{name} must be an objective with a 'size' attribute (see "
            f"toposcape.Objective), got {_validate.given(obj)}"
        )
    return _validate.integer(size, f"{name}.size", minimum=1, who=who)


def loss_function(obj: Any, who: str | None = None) -> Callable[[np.ndarray], float]:
    """``theta -> float`` loss of an objective (its cheaper ``value`` when it has one)."""
    value = getattr(obj, "value", None)
    if callable(value):
        return lambda theta: float(value(theta))
    vg = method(obj, "value_and_grad", "value_and_grad(theta)", who)
    return lambda theta: float(vg(theta)[0])


def method(obj: Any, attribute: str, call: str, who: str | None = None) -> Callable:
    """``obj``'s method ``attribute`` (TypeError naming ``call`` when ``obj`` has none)."""
    found = getattr(obj, attribute, None)
    if not callable(found):
        raise TypeError(
            f"{_prefix(who)}obj must be an objective with a method {call} (see "
            f"toposcape.Objective), got {_validate.given(obj)}"
        )
    return found


# --------------------------------------------------------------------------------------------
# Runs: Trajectory, Dataset, array of iterates
# --------------------------------------------------------------------------------------------
def is_trajectory(x: Any) -> bool:
    """A :class:`~toposcape.optim.Trajectory` (or an object with its per-step fields)."""
    return hasattr(x, "losses") and hasattr(x, "grad_norms")


def is_dataset(x: Any) -> bool:
    """An :class:`xarray.Dataset` (e.g. ``Trajectory.to_xarray()``)."""
    return hasattr(x, "data_vars") and hasattr(x, "sizes")


def as_thetas(traj: Any, who: str | None = None, name: str = "traj") -> np.ndarray:
    """The iterates of ``traj`` as a finite ``(n_iterates, size)`` float64 array.

    ``traj`` may be a :class:`~toposcape.optim.Trajectory` run with ``record_params=True``, an
    xarray Dataset with a ``theta`` (step, parameter) variable (``Trajectory.to_xarray()``), or
    an array of shape ``(n_iterates, size)``.
    """
    if is_trajectory(traj):
        thetas = getattr(traj, "thetas", None)
        if thetas is None:
            raise InvalidInputError(
                f"{_prefix(who)}{name} has no recorded iterates: run the optimizer with "
                "record_params=True"
            )
    elif is_dataset(traj):
        if "theta" not in traj:
            raise InvalidInputError(
                f"{_prefix(who)}{name} has no 'theta' variable: run the optimizer with "
                "record_params=True"
            )
        thetas = traj["theta"].values
    elif isinstance(traj, np.ndarray | list | tuple) or hasattr(traj, "__array__"):
        thetas = traj
    else:
        raise TypeError(f"{_prefix(who)}{name} must be {_RUN_KINDS}, got {_validate.given(traj)}")
    arr = _validate.array(thetas, name, who=who)
    if arr.ndim != 2:
        raise _validate.fail(name, "iterates as an array (n_iterates, size)", arr, who)
    return arr


def step_series(run: Any, variable: str, who: str | None = None, name: str = "run"):
    """A per-step variable (``loss``, ``grad_norm``, ``distance``) of a Trajectory or Dataset
    as a 1-D float64 array; None when a Dataset does not hold it.

    Values may be NaN (e.g. metrics that were not computed). TypeError when ``run`` is
    neither a Trajectory nor a Dataset.
    """
    if is_trajectory(run):
        values = getattr(run, _RUN_FIELDS[variable], None)
        if values is None:
            return None
    elif is_dataset(run):
        if variable not in run:
            return None
        da = run[variable]
        if da.dims != ("step",):
            raise InvalidInputError(
                f"{_prefix(who)}{name}[{variable!r}] must have the single dimension 'step' "
                f"(one run), got dims {da.dims}; select one run (e.g. ds.isel(seed=0)) or "
                "pass a list of runs"
            )
        values = da.values
    else:
        raise TypeError(
            f"{_prefix(who)}{name} must be a Trajectory or a Dataset (Trajectory.to_xarray() or "
            f"trajectory_metrics()), got {_validate.given(run)}"
        )
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise InvalidInputError(
            f"{_prefix(who)}{name}: {variable} must be one real value per step, got "
            f"{_validate.given(arr)}"
        )
    return arr.astype(np.float64, copy=False)


def step_indices(
    steps: Any,
    count: int,
    name: str = "steps",
    who: str | None = None,
    allow_empty: bool = False,
) -> np.ndarray:
    """``steps`` (integers in ``[-count, count)``, negative from the end) as indices in
    ``[0, count)``; all of ``range(count)`` when None."""
    if steps is None:
        return np.arange(count)
    expected = "a sequence of integers" if allow_empty else "a non-empty sequence of integers"
    if isinstance(steps, str | bytes):
        raise TypeError(f"{_prefix(who)}{name} must be {expected}, got {_validate.given(steps)}")
    try:
        arr = np.atleast_1d(np.asarray(steps))
    except (TypeError, ValueError):
        raise TypeError(
            f"{_prefix(who)}{name} must be {expected}, got {_validate.given(steps)}"
        ) from None
    if arr.size == 0 and allow_empty:
        return np.empty(0, dtype=np.int64)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{_prefix(who)}{name} must be {expected}, got {_validate.given(steps)}")
    if arr.ndim != 1 or arr.size == 0:
        raise _validate.fail(name, expected, steps, who)
    arr = arr.astype(np.int64)
    if arr.min() < -count or arr.max() >= count:
        raise _validate.fail(name, f"integers in [{-count}, {count})", steps, who)
    return np.where(arr < 0, arr + count, arr)


# --------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------
def progress_bar(total: int, progress: bool | None, desc: str):
    """A tqdm bar over ``total`` evaluations, or None when no bar is wanted (``progress``
    None: only for more than :data:`PROGRESS_THRESHOLD` evaluations)."""
    show = total > PROGRESS_THRESHOLD if progress is None else bool(progress)
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def check_allocation(nbytes: float, what: str, who: str | None = None) -> None:
    """Refuse an allocation of ``nbytes`` that cannot fit in the available memory, with an
    :class:`~toposcape.errors.InsufficientMemoryError`, before NumPy asks for it (a request far
    beyond the machine ends in the kernel's OOM killer, not in an exception)."""
    from ..errors import InsufficientMemoryError
    from ..physics.solvers import available_memory

    available = available_memory()
    if available is not None and nbytes > available:
        raise InsufficientMemoryError(
            f"{_prefix(who)}{what} needs {nbytes / 2**30:.3g} GiB, more than the "
            f"{available / 2**30:.3g} GiB available",
            estimate=int(nbytes),
            available=int(available),
        )
