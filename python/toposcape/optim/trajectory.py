"""The record of one optimizer run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _validate
from ..errors import InvalidInputError
from . import _vec

__all__ = ["Trajectory", "TrajectoryRecorder"]


@dataclass
class Trajectory:
    """What an optimizer did, iterate by iterate and evaluation by evaluation.

    Per accepted iterate ``k = 0 .. K`` (index 0 is ``theta0``):

    Attributes
    ----------
    losses : ndarray (K+1,)
        Loss at every accepted iterate.
    grad_norms : ndarray (K+1,)
        Euclidean norm of the (untransformed) gradient there.
    step_sizes : ndarray (K+1,)
        Step length ``t_k`` that produced iterate ``k`` (``theta_k = theta_{k-1} + t_k d_k``;
        NaN at ``k = 0``).
    evals : ndarray of int (K+1,)
        Cumulative number of objective evaluations when iterate ``k`` was accepted.
    evals_per_step : ndarray of int (K+1,)
        Evaluations spent on the step that produced iterate ``k`` (1 at ``k = 0``).
    distances : ndarray (K+1,)
        ``||theta_k - theta_0||``.
    directional_derivatives : ndarray (K+1,)
        ``g_{k-1} . d_k`` at the start of the step (NaN at ``k = 0``).
    wall_times : ndarray (K+1,)
        Seconds since the start of the run.
    eval_losses : ndarray (n_evals,)
        Loss at every objective evaluation, in order (line-search trials included).
    theta : ndarray (size,)
        Final iterate.
    best_theta : ndarray (size,)
        Parameters of the lowest loss evaluated (an accepted iterate or a trial point).
    best_loss : float
    thetas : ndarray (K+1, size) or None
        Every iterate, with ``record_params=True``.
    reason : str
        Why the run stopped: ``"max_evals"``, ``"max_steps"``, ``"converged"``,
        ``"line_search_failed"``, ``"nonfinite_loss"``, ...
    message : str
        Details (e.g. the line search's last message).
    optimizer : str
        Name of the optimizer (preset name or a description of the composition).
    memory : list or None
        With ``record_memory=True`` (L-BFGS directions): ``memory[k]`` is a tuple of indices
        into :attr:`pairs` of the curvature pairs held when the direction of step ``k+1`` was
        computed (oldest first), so the quasi-Newton matrix of any step can be rebuilt.
    pairs : list of (s, y) or None
        Every curvature pair stored during the run, with ``record_memory=True``.
    extras : dict
        Optimizer-specific records (e.g. the baselines' volumes).
    threads : dict
        The thread settings in force during the run (:func:`toposcape.thread_settings`): the
        numbers are reproducible bit for bit under the same settings.
    """

    losses: np.ndarray
    grad_norms: np.ndarray
    step_sizes: np.ndarray
    evals: np.ndarray
    evals_per_step: np.ndarray
    distances: np.ndarray
    directional_derivatives: np.ndarray
    wall_times: np.ndarray
    eval_losses: np.ndarray
    theta: np.ndarray | None
    best_theta: np.ndarray | None
    best_loss: float
    reason: str
    message: str = ""
    optimizer: str = ""
    thetas: np.ndarray | None = None
    memory: list | None = None
    pairs: list | None = None
    extras: dict = field(default_factory=dict)
    threads: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        """Number of accepted steps (iterates after ``theta0``)."""
        return len(self.losses) - 1

    @property
    def n_evals(self) -> int:
        """Number of objective evaluations."""
        return len(self.eval_losses)

    def __repr__(self) -> str:
        return (
            f"Trajectory({self.optimizer or 'optimizer'}: {self.n_steps} steps, "
            f"{self.n_evals} evals, loss {self.losses[0]:.6g} -> {self.losses[-1]:.6g}, "
            f"reason={self.reason!r})"
        )

    def quasi_newton(self, step: int, kind: str = "B"):
        """L-BFGS's own matrix at a step, as a :class:`scipy.sparse.linalg.LinearOperator`.

        Parameters
        ----------
        step : int
            ``k``: the matrix with which the direction of step ``k+1`` was computed (from the
            pairs held at that moment, ``k = 0`` being the start: an empty memory).
        kind : {"B", "H"}
            ``"B"``: the Hessian approximation ``B_k``; ``"H"``: its inverse ``H_k``. Both from
            the compact representation of Byrd, Nocedal and Schnabel (1994), with
            ``B_0 = (y.y / s.y) I`` of the newest pair.

        Requires a run with ``record_memory=True`` and an L-BFGS direction rule.
        """
        from scipy.sparse.linalg import LinearOperator

        from .. import _core

        if self.memory is None or self.pairs is None:
            raise InvalidInputError(
                "quasi_newton needs a run with record_memory=True (L-BFGS direction)"
            )
        _validate.option(kind, "kind", ("B", "H"), who="quasi_newton")
        step = _validate.integer(
            step, "step", minimum=0, maximum=len(self.memory) - 1, who="quasi_newton"
        )
        held = self.memory[step]
        n = self.theta.size
        memory = _core.LbfgsMemory(n, max(1, len(held)))
        for index in held:
            s, y = self.pairs[index]
            memory.push(s, y, skip_scale=-np.inf)
        apply = memory.apply_b if kind == "B" else memory.apply_h
        return LinearOperator((n, n), matvec=lambda v: apply(np.ravel(v)), dtype=np.float64)

    def to_xarray(self, parameters: bool = True):
        """The run as an :class:`xarray.Dataset` with dimensions ``step`` and ``evaluation``.

        Per-step variables (``loss``, ``grad_norm``, ``step_size``, ``evals``,
        ``evals_per_step``, ``distance``, ``directional_derivative``, ``wall_time``, and
        ``theta`` (step, parameter) when recorded), ``eval_loss`` per evaluation; with
        ``parameters``, ``final_theta`` and ``best_theta`` (parameter); the L-BFGS record
        (``pair_s``, ``pair_y`` (pair, parameter) and ``memory`` (memory_step, slot), -1
        padded) when kept; ``extra_<name>`` for array extras (scalar extras are attributes
        ``extra_<name>``); attributes ``optimizer``, ``reason``, ``message``, ``best_loss``.
        :meth:`from_xarray` reads it back.
        """
        import xarray as xr

        steps = np.arange(len(self.losses))
        data = {
            "loss": ("step", self.losses),
            "grad_norm": ("step", self.grad_norms),
            "step_size": ("step", self.step_sizes),
            "evals": ("step", self.evals),
            "evals_per_step": ("step", self.evals_per_step),
            "distance": ("step", self.distances),
            "directional_derivative": ("step", self.directional_derivatives),
            "wall_time": ("step", self.wall_times),
            "eval_loss": ("evaluation", self.eval_losses),
        }
        if self.thetas is not None:
            data["theta"] = (("step", "parameter"), self.thetas)
        if parameters and self.theta is not None:
            data["final_theta"] = ("parameter", self.theta)
            if self.best_theta is not None:
                data["best_theta"] = ("parameter", self.best_theta)
        if self.pairs is not None and self.memory is not None:
            n = self.theta.size
            s_rows = [s for s, _ in self.pairs] or [np.empty(0)]
            y_rows = [y for _, y in self.pairs] or [np.empty(0)]
            data["pair_s"] = (("pair", "parameter"), np.reshape(s_rows, (len(self.pairs), n)))
            data["pair_y"] = (("pair", "parameter"), np.reshape(y_rows, (len(self.pairs), n)))
            width = max((len(m) for m in self.memory), default=0)
            held = np.full((len(self.memory), width), -1, dtype=np.int32)
            for row, indices in enumerate(self.memory):
                held[row, : len(indices)] = indices
            data["memory"] = (("memory_step", "slot"), held)
        attrs = {
            "optimizer": self.optimizer,
            "reason": self.reason,
            "message": self.message,
            "best_loss": float(self.best_loss),
        }
        for key, value in self.threads.items():
            attrs[f"thread_{key}"] = value
        for key, value in self.extras.items():
            if np.ndim(value) == 0:
                attrs[f"extra_{key}"] = value.item() if hasattr(value, "item") else value
                if isinstance(attrs[f"extra_{key}"], bool):  # netCDF has no bool attributes
                    attrs[f"extra_{key}"] = int(attrs[f"extra_{key}"])
                    attrs.setdefault("extra_bool_keys", "")
                    attrs["extra_bool_keys"] += f"{key} "
            else:
                data[f"extra_{key}"] = (f"extra_{key}_index", np.asarray(value))
        return xr.Dataset(
            data,
            coords={"step": steps, "evaluation": np.arange(len(self.eval_losses))},
            attrs=attrs,
        )

    @classmethod
    def from_xarray(cls, ds) -> Trajectory:
        """The :class:`Trajectory` a :meth:`to_xarray` Dataset (or its netCDF file) holds.

        ``theta`` and ``best_theta`` are None when the Dataset was written without parameters.
        """

        def get(name, dtype=np.float64):
            return np.asarray(ds[name].values, dtype=dtype) if name in ds else None

        for name in ("loss", "eval_loss"):
            if name not in ds:
                raise InvalidInputError(
                    f"from_xarray: the Dataset has no {name!r} variable; it must come from "
                    "Trajectory.to_xarray()"
                )
        memory = pairs = None
        if "memory" in ds:
            memory = [tuple(int(i) for i in row if i >= 0) for row in ds["memory"].values]
            pairs = list(zip(get("pair_s"), get("pair_y"), strict=True))
        bool_keys = set(str(ds.attrs.get("extra_bool_keys", "")).split())
        extras: dict = {}
        for key, value in ds.attrs.items():
            if key.startswith("extra_") and key != "extra_bool_keys":
                name = key[len("extra_") :]
                extras[name] = bool(value) if name in bool_keys else value
        for key in ds.data_vars:
            if str(key).startswith("extra_"):
                extras[str(key)[len("extra_") :]] = np.asarray(ds[key].values)
        threads = {
            key[len("thread_") :]: (value.item() if hasattr(value, "item") else value)
            for key, value in ds.attrs.items()
            if key.startswith("thread_")
        }
        n_steps = ds.sizes["step"]
        return cls(
            losses=get("loss"),
            grad_norms=get("grad_norm"),
            step_sizes=get("step_size"),
            evals=get("evals", np.int64),
            evals_per_step=get("evals_per_step", np.int64),
            distances=get("distance"),
            directional_derivatives=get("directional_derivative"),
            wall_times=get("wall_time") if "wall_time" in ds else np.full(n_steps, np.nan),
            eval_losses=get("eval_loss"),
            theta=get("final_theta"),
            best_theta=get("best_theta"),
            best_loss=float(ds.attrs.get("best_loss", np.nan)),
            reason=str(ds.attrs.get("reason", "")),
            message=str(ds.attrs.get("message", "")),
            optimizer=str(ds.attrs.get("optimizer", "")),
            thetas=get("theta"),
            memory=memory,
            pairs=pairs,
            extras=extras,
            threads=threads,
        )

    def save(self, path, parameters: bool = True, **attrs) -> None:
        """Write the run to a netCDF file (atomically: a temporary file, then a rename).

        ``attrs`` are added as global attributes (e.g. the problem and model settings).
        """
        ds = self.to_xarray(parameters=parameters)
        ds.attrs.update({k: v for k, v in attrs.items() if v is not None})
        write_netcdf(ds, path)

    @classmethod
    def load(cls, path) -> Trajectory:
        """Read a run written by :meth:`save` (or ``toposcape run``) back into a Trajectory."""
        import xarray as xr

        with xr.open_dataset(path, engine="scipy") as ds:
            return cls.from_xarray(ds.load())


def write_netcdf(ds, path) -> None:
    """Write ``ds`` to ``path`` atomically: a temporary file in the same folder, then a rename,
    so a reader (or a resumed study) never sees a half-written file."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="scipy")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class TrajectoryRecorder:
    """Accumulates a run's records; :meth:`finish` returns the :class:`Trajectory`.

    Optimizers call :meth:`evaluation` after every objective evaluation and :meth:`accept` for
    every accepted iterate (including ``theta0`` first).
    """

    def __init__(
        self,
        theta0: np.ndarray,
        record_params: bool = False,
        bar=None,
        callback=None,
        optimizer: str = "",
    ) -> None:
        import time

        self._clock = time.perf_counter
        self._start = self._clock()
        self.theta0 = np.array(theta0, dtype=np.float64, copy=True)
        self.record_params = record_params
        self.losses: list[float] = []
        self.grad_norms: list[float] = []
        self.step_sizes: list[float] = []
        self.evals: list[int] = []
        self.evals_per_step: list[int] = []
        self.distances: list[float] = []
        self.directional: list[float] = []
        self.wall: list[float] = []
        self.eval_losses: list[float] = []
        self.thetas: list[np.ndarray] = []
        self.best_loss = np.inf
        self.best_theta = self.theta0.copy()
        self._evals_at_last_accept = 0
        self._bar = bar
        self._bar_per_eval = bar is not None and getattr(bar, "unit", "eval") == "eval"
        self._callback = callback
        self.optimizer = optimizer
        #: Set when the callback asked the run to stop; optimizers end with reason "callback".
        self.stop_requested = False

    @property
    def n_evals(self) -> int:
        return len(self.eval_losses)

    def stop_reason(
        self, steps: int, max_steps: int | None, max_evals: int | None
    ) -> tuple[str, str] | None:
        """``(reason, message)`` when the run must end before its next step (the callback
        asked, or a budget is spent; checked in that order), else None."""
        if self.stop_requested:
            return "callback", "stopped by the callback"
        if max_steps is not None and steps >= max_steps:
            return "max_steps", ""
        if max_evals is not None and self.n_evals >= max_evals:
            return "max_evals", ""
        return None

    def evaluation(self, theta: np.ndarray, loss: float) -> None:
        self.eval_losses.append(float(loss))
        if self._bar_per_eval:
            self._bar.update(1)
            self._bar.set_postfix_str(f"loss={loss:.6g}", refresh=False)
        if np.isfinite(loss) and loss < self.best_loss:
            self.best_loss = float(loss)
            # A reference, not a copy: optimizers hand over a fresh array per evaluation and
            # never modify it afterwards, and a copy per improving evaluation would cost O(n).
            self.best_theta = theta

    def accept(
        self,
        theta: np.ndarray,
        loss: float,
        grad: np.ndarray,
        step_size: float = np.nan,
        directional_derivative: float = np.nan,
        grad_norm: float = np.nan,
        distance: float = np.nan,
    ) -> None:
        """Record an accepted iterate. ``grad_norm`` (``||grad||``) and ``distance``
        (``||theta - theta0||``) may be given when the caller's own passes produced them (the
        same numbers: :func:`toposcape._core.dot_and_norm`, ``step_point_distance``); NaN
        means compute them here."""
        self.losses.append(float(loss))
        self.grad_norms.append(_vec.norm(grad) if math.isnan(grad_norm) else float(grad_norm))
        self.step_sizes.append(float(step_size))
        self.evals.append(self.n_evals)
        self.evals_per_step.append(self.n_evals - self._evals_at_last_accept)
        self._evals_at_last_accept = self.n_evals
        self.distances.append(
            _vec.distance(theta, self.theta0) if math.isnan(distance) else float(distance)
        )
        self.directional.append(float(directional_derivative))
        self.wall.append(self._clock() - self._start)
        if self.record_params:
            self.thetas.append(np.array(theta, dtype=np.float64, copy=True))
        if self._bar is not None and not self._bar_per_eval:
            self._bar.update(1)
            self._bar.set_postfix_str(f"loss={loss:.6g}", refresh=False)
        if self._callback is not None:
            from .protocol import RunState

            view = np.asarray(theta).view()
            view.flags.writeable = False
            state = RunState(
                optimizer=self.optimizer,
                step=len(self.losses) - 1,
                n_evals=self.n_evals,
                loss=self.losses[-1],
                best_loss=self.best_loss,
                grad_norm=self.grad_norms[-1],
                theta=view,
                elapsed=self.wall[-1],
            )
            if self._callback(state):
                self.stop_requested = True

    def finish(
        self,
        theta: np.ndarray,
        reason: str,
        message: str = "",
        optimizer: str = "",
        memory: list | None = None,
        pairs: list | None = None,
    ) -> Trajectory:
        return Trajectory(
            losses=np.asarray(self.losses, dtype=np.float64),
            grad_norms=np.asarray(self.grad_norms, dtype=np.float64),
            step_sizes=np.asarray(self.step_sizes, dtype=np.float64),
            evals=np.asarray(self.evals, dtype=np.int64),
            evals_per_step=np.asarray(self.evals_per_step, dtype=np.int64),
            distances=np.asarray(self.distances, dtype=np.float64),
            directional_derivatives=np.asarray(self.directional, dtype=np.float64),
            wall_times=np.asarray(self.wall, dtype=np.float64),
            eval_losses=np.asarray(self.eval_losses, dtype=np.float64),
            theta=np.array(theta, dtype=np.float64, copy=True),
            best_theta=self.best_theta,
            best_loss=self.best_loss,
            reason=reason,
            message=message,
            optimizer=optimizer,
            thetas=np.stack(self.thetas) if self.record_params and self.thetas else None,
            memory=memory,
            pairs=pairs,
        )
