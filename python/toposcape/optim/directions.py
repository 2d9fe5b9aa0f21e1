"""Direction rules: how an optimizer turns the gradient into a search direction ``d``.

Every rule returns a *descent-oriented* direction whose scale the step rule multiplies: the
identity gives ``d = -g``, L-BFGS ``d = -H_k g``, Adam ``d = -m_hat / (sqrt(v_hat) + eps)``.
Rules are stateful within a run; :meth:`DirectionRule.reset` starts them afresh.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .. import _core, _validate
from ..errors import InvalidInputError
from . import _vec

__all__ = [
    "DirectionRule",
    "Identity",
    "LBFGS",
    "Momentum",
    "Adam",
    "RMSProp",
    "Adagrad",
]


class DirectionRule(ABC):
    """Base class: ``d = direction(g)``; ``update(s, y, gd)`` after every accepted step."""

    name = "direction"

    def bind(self, objective) -> None:
        """Adapt to the objective of a run (called on the run's own copy, before
        :meth:`reset`); most rules need nothing from it."""
        return

    def reset(self, n: int) -> None:
        """Forget all state; the next direction is that of a fresh start in ``n`` dimensions."""
        self.n = int(n)

    @abstractmethod
    def direction(self, g: np.ndarray) -> np.ndarray:
        """Search direction for the gradient ``g`` (n,)."""

    def direction_and_slope(self, g: np.ndarray) -> tuple[np.ndarray, float]:
        """``(d, g . d)``: :meth:`direction` and its slope. Rules that can take the slope
        from the direction's own pass over ``g`` override this (L-BFGS with float32 pairs)."""
        d = self.direction(g)
        return d, _vec.dot(g, d)

    def update(self, s: np.ndarray, y: np.ndarray, gd: float) -> None:
        """Record an accepted step ``s = theta_new - theta``, ``y = g_new - g``.

        ``gd`` is the directional derivative ``g . d`` of the step (negative). Rules without
        curvature memory ignore it.
        """
        return

    def update_step(
        self, d: np.ndarray, step: float, g_new: np.ndarray, g_old: np.ndarray, gd: float
    ) -> None:
        """:meth:`update` for the step ``s = step * d`` and ``y = g_new - g_old``.

        The optimizer calls this form; rules that keep no pairs skip forming ``s`` and ``y``
        (two passes over vectors of the parameter count), and L-BFGS forms them on the fly.
        """
        if type(self).update is DirectionRule.update:
            return
        self.update(step * d, g_new - g_old, gd)

    def restart(self) -> None:
        """Drop curvature information after a failed line search (no-op for most rules)."""
        return

    @property
    def has_curvature(self) -> bool:
        """Whether the direction is scaled by curvature information (else it is ~ -g)."""
        return False

    @property
    def restartable(self) -> bool:
        """Whether :meth:`restart` would change the next direction (then a failed step is
        retried from the same point after a restart, instead of ending the run)."""
        return self.has_curvature

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict:
        return {}


class Identity(DirectionRule):
    """Steepest descent: ``d = -g``."""

    name = "identity"

    def direction(self, g: np.ndarray) -> np.ndarray:
        return -g


class LBFGS(DirectionRule):
    """The L-BFGS direction ``d = -H_k g`` with memory ``m``.

    ``H_0 = gamma I`` with ``gamma = s.y / y.y`` of the newest pair; a pair is skipped when
    ``s.y <= eps * (-g.s)`` (L-BFGS-B's curvature rule). The memory lives in the C++ core.

    Parameters
    ----------
    memory : int
        Number of stored pairs ``m >= 1`` (1 gives the thesis' L-BFGS_M1).
    pair_dtype : {"auto", "float64", "float32"}
        Storage of the pairs, and with it the arithmetic of ``-H_k g``:

        - ``"float64"``: the two-loop recursion, L-BFGS-B's arithmetic (runs on float64
          objectives equal SciPy's ``fmin_l_bfgs_b`` iterate by iterate).
        - ``"float32"``: pairs rounded to float32 once (products accumulate in float64) and
          the compact representation of Byrd, Nocedal and Schnabel (1994): one pass over the
          pairs for ``[S Y]^T g`` (and the Gram entries of a newly stored pair), one for
          ``d``, and no pass over a work vector; ~2x faster than the float32 two-loop, ~4x
          than the float64 one at 1.9M parameters (``BENCHMARKS.md``). s.y and y.y come from
          the rounded pairs, so the direction is exactly ``-H_k g`` of the stored pairs (to
          rounding): positive definite, and ``B_k``, ``H_k`` stay inverses. It suits float32
          objectives (a float32 CNN), whose gradients carry float32 rounding anyway.
        - ``"auto"`` (the default) chooses per run: float32 when the objective declares
          ``gradient_dtype == "float32"`` (a float32 :class:`~toposcape.CNNObjective`),
          float64 otherwise (pixel models, float64 CNNs, objectives that declare nothing).

        Either way a run is reproducible bit for bit for fixed thread counts.
    """

    name = "lbfgs"

    def __init__(self, memory: int = 10, pair_dtype: str = "auto") -> None:
        memory = _validate.integer(memory, "memory", minimum=1, who="LBFGS")
        if isinstance(pair_dtype, str) and pair_dtype == "auto":
            name = "auto"
        else:
            try:
                name = np.dtype(pair_dtype).name if pair_dtype is not None else None
            except TypeError:
                name = None
        if name not in ("auto", "float64", "float32"):
            raise InvalidInputError(
                f"LBFGS: pair_dtype must be 'auto', 'float64' or 'float32', got {pair_dtype!r}"
            )
        self.memory = memory
        self.pair_dtype = name
        #: The storage of this run's pairs ("float64" or "float32"): ``pair_dtype`` with "auto"
        #: resolved by :meth:`bind` (float64 until then).
        self.storage = "float64" if name == "auto" else name
        self._mem = None
        #: Set by the optimizer with record_memory=True: every stored pair and, per step, the
        #: indices of the pairs in memory.
        self.record = False
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self._held: list[int] = []

    def _params(self) -> dict:
        if self.pair_dtype == "auto":
            return {"memory": self.memory}
        return {"memory": self.memory, "pair_dtype": self.pair_dtype}

    def storage_for(self, objective) -> str:
        """The pair storage ("float64" or "float32") of a run on ``objective``."""
        if self.pair_dtype != "auto":
            return self.pair_dtype
        declared = getattr(objective, "gradient_dtype", "float64")
        return "float32" if declared == "float32" else "float64"

    def bind(self, objective) -> None:
        self.storage = self.storage_for(objective)

    def reset(self, n: int) -> None:
        super().reset(n)
        self._mem = _core.LbfgsMemory(self.n, self.memory, single=self.storage == "float32")
        self.pairs = []
        self._held = []

    @property
    def core(self):
        """The core :class:`toposcape._core.LbfgsMemory` (two-loop, B_k v, H_k v)."""
        return self._mem

    @property
    def has_curvature(self) -> bool:
        return self._mem is not None and self._mem.size > 0

    @property
    def held_pairs(self) -> tuple[int, ...]:
        """Indices into :attr:`pairs` of the pairs now in memory (recording only)."""
        return tuple(self._held)

    def direction(self, g: np.ndarray) -> np.ndarray:
        return self.direction_and_slope(g)[0]

    def direction_and_slope(self, g: np.ndarray) -> tuple[np.ndarray, float]:
        # Float32 pairs: the slope is summed in the compact direction's second pass, which
        # reads g and writes d anyway (one pass over both vectors fewer per step).
        if self._mem.single:
            return self._mem.direction_and_slope(g)
        d = self._mem.direction(g)
        return d, _vec.dot(g, d)

    def update(self, s: np.ndarray, y: np.ndarray, gd: float) -> None:
        # A pair that overflowed (s = t d or y = g_new - g_old) carries no curvature: skip it,
        # as the core's push_step does.
        if not (np.isfinite(_vec.dot(s, s)) and np.isfinite(_vec.dot(y, y))):
            return
        # L-BFGS-B: skip when s.y <= eps * (-g.s), with g.s = stp * (g.d).
        stored = self._mem.push(s, y, skip_scale=-gd)
        if stored and self.record:
            if self._mem.single:  # record the rounded pair the memory holds
                self.pairs.append(
                    (
                        s.astype(np.float32).astype(np.float64),
                        y.astype(np.float32).astype(np.float64),
                    )
                )
            else:
                self.pairs.append((s.copy(), y.copy()))
            self._held.append(len(self.pairs) - 1)
            del self._held[: max(0, len(self._held) - self.memory)]

    def update_step(
        self, d: np.ndarray, step: float, g_new: np.ndarray, g_old: np.ndarray, gd: float
    ) -> None:
        # Recording keeps copies of s and y, and a subclass's own update() must see them.
        if self.record or type(self).update is not LBFGS.update:
            super().update_step(d, step, g_new, g_old, gd)
            return
        self._mem.push_step(d, step, g_new, g_old, skip_scale=-gd)

    def restart(self) -> None:
        self._mem.clear()
        self._held = []


class Momentum(DirectionRule):
    """Heavy-ball momentum: ``v <- beta v + g``, ``d = -v`` (``nesterov``: ``d = -(g + beta v)``).

    With a constant step ``lr`` this is Keras' SGD with momentum.
    """

    name = "momentum"

    def __init__(self, beta: float = 0.9, nesterov: bool = False) -> None:
        self.beta = _validate.real(
            beta, "beta", minimum=0.0, maximum=1.0, upper_open=True, who="Momentum"
        )
        self.nesterov = _validate.flag(nesterov, "nesterov", who="Momentum")

    def _params(self) -> dict:
        return {"beta": self.beta, "nesterov": self.nesterov}

    def reset(self, n: int) -> None:
        super().reset(n)
        self._v = np.zeros(self.n)

    def restart(self) -> None:
        """Forget the velocity (the next direction is ``-g``)."""
        self._v[:] = 0.0

    @property
    def restartable(self) -> bool:
        return bool(np.any(self._v))

    def direction(self, g: np.ndarray) -> np.ndarray:
        self._v *= self.beta
        self._v += g
        if self.nesterov:
            return -(g + self.beta * self._v)
        return -self._v.copy()


class Adam(DirectionRule):
    """Adam (Kingma & Ba 2015): ``d = -m_hat / (sqrt(v_hat) + eps)`` with bias corrections."""

    name = "adam"

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7) -> None:
        unit = {"minimum": 0.0, "maximum": 1.0, "upper_open": True, "who": "Adam"}
        self.beta1 = _validate.real(beta1, "beta1", **unit)
        self.beta2 = _validate.real(beta2, "beta2", **unit)
        self.eps = _validate.real(eps, "eps", minimum=0.0, lower_open=True, who="Adam")

    def _params(self) -> dict:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def reset(self, n: int) -> None:
        super().reset(n)
        self._m = np.zeros(self.n)
        self._v = np.zeros(self.n)
        self._t = 0

    def direction(self, g: np.ndarray) -> np.ndarray:
        self._t += 1
        self._m *= self.beta1
        self._m += (1 - self.beta1) * g
        self._v *= self.beta2
        self._v += (1 - self.beta2) * g * g
        m_hat = self._m / (1 - self.beta1**self._t)
        v_hat = self._v / (1 - self.beta2**self._t)
        return -m_hat / (np.sqrt(v_hat) + self.eps)


class RMSProp(DirectionRule):
    """RMSProp: ``v <- rho v + (1 - rho) g^2``, ``d = -g / (sqrt(v) + eps)``."""

    name = "rmsprop"

    def __init__(self, rho: float = 0.9, eps: float = 1e-7) -> None:
        self.rho = _validate.real(
            rho, "rho", minimum=0.0, maximum=1.0, upper_open=True, who="RMSProp"
        )
        self.eps = _validate.real(eps, "eps", minimum=0.0, lower_open=True, who="RMSProp")

    def _params(self) -> dict:
        return {"rho": self.rho, "eps": self.eps}

    def reset(self, n: int) -> None:
        super().reset(n)
        self._v = np.zeros(self.n)

    def direction(self, g: np.ndarray) -> np.ndarray:
        self._v *= self.rho
        self._v += (1 - self.rho) * g * g
        return -g / (np.sqrt(self._v) + self.eps)


class Adagrad(DirectionRule):
    """Adagrad: ``a <- a + g^2``, ``d = -g / (sqrt(a) + eps)``, ``a`` starting at ``initial``."""

    name = "adagrad"

    def __init__(self, initial: float = 0.1, eps: float = 1e-7) -> None:
        self.initial = _validate.real(initial, "initial", minimum=0.0, who="Adagrad")
        self.eps = _validate.real(eps, "eps", minimum=0.0, lower_open=True, who="Adagrad")

    def _params(self) -> dict:
        return {"initial": self.initial, "eps": self.eps}

    def reset(self, n: int) -> None:
        super().reset(n)
        self._a = np.full(self.n, self.initial)

    def direction(self, g: np.ndarray) -> np.ndarray:
        self._a += g * g
        return -g / (np.sqrt(self._a) + self.eps)
