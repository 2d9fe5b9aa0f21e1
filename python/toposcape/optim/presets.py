"""Named optimizers: presets of the direction x step x transform algebra.

=============  ==========================================  =====================================
name           composition                                 parameters (defaults)
=============  ==========================================  =====================================
``lbfgs``      L-BFGS two-loop x strong-Wolfe line search  memory (10), pair_dtype ("float64");
                                                           L-BFGS-B's settings
``gd``         identity x constant step                    lr (required)
``gd_ls``      identity x strong-Wolfe line search         first trial 1/||g|| every iteration
``hd``         L-BFGS two-loop x constant step             memory (10), lr (required),
                                                           pair_dtype ("float64")
``momentum``   heavy ball x constant step                  lr (required), beta (0.9)
``adam``       Adam x constant step                        lr (1e-3), beta1, beta2, eps
``rmsprop``    RMSProp x constant step                     lr (1e-3), rho, eps
``adagrad``    Adagrad x constant step                     lr (1e-2), initial, eps
``*_lm``       any of the above x landscape modification   f ("linear"), eps (1), c
``oc``         optimality criteria (explicit volume)       move (0.2), damping (0.5)
``mma``        nlopt's MMA (explicit volume)               see :class:`~.baselines.MMA`
=============  ==========================================  =====================================

``lbfgs`` stops like SciPy's ``fmin_l_bfgs_b`` with ``factr = 1`` and ``pgtol = 1e-14`` (the
settings of the study): the budget, not a tolerance, ends a run in practice.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np

from .directions import LBFGS, Adagrad, Adam, Identity, Momentum, RMSProp
from .optimizer import Optimizer
from .steps import Constant, StrongWolfe
from .transforms import LandscapeModification

__all__ = ["get", "names", "register"]

_EPS = float(np.finfo(float).eps)
_REGISTRY: dict[str, Callable[..., object]] = {}


def register(name: str, factory: Callable[..., object]) -> None:
    """Register ``factory(**kwargs) -> optimizer`` under ``name`` (replacing any previous)."""
    if not callable(factory):
        raise ValueError("factory must be callable")
    _REGISTRY[name] = factory


def names() -> list[str]:
    """Registered optimizer names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs):
    """The optimizer registered as ``name``, built with ``kwargs``.

    Raises
    ------
    ValueError
        Unknown name (the message lists close matches) or invalid parameters.
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown optimizer {name!r}{hint} (available: {', '.join(names())})")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as exc:  # unexpected keyword
        raise ValueError(f"optimizer {name!r}: {exc}") from None


def _lbfgs(memory: int = 10, pair_dtype: str = "float64", **line_search) -> Optimizer:
    return Optimizer(
        LBFGS(memory, pair_dtype),
        StrongWolfe(**line_search),
        name="lbfgs",
        gtol=1e-14,
        ftol=_EPS,
    )


def _gd(lr: float) -> Optimizer:
    return Optimizer(Identity(), Constant(lr), name="gd")


def _gd_ls(**line_search) -> Optimizer:
    return Optimizer(Identity(), StrongWolfe(**line_search), name="gd_ls", gtol=1e-14, ftol=_EPS)


def _hd(lr: float, memory: int = 10, pair_dtype: str = "float64") -> Optimizer:
    return Optimizer(LBFGS(memory, pair_dtype), Constant(lr), name="hd", restart_on_failure=False)


def _momentum(lr: float, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    return Optimizer(Momentum(beta, nesterov), Constant(lr), name="momentum")


def _adam(lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
    return Optimizer(Adam(beta1, beta2, eps), Constant(lr), name="adam")


def _rmsprop(lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7) -> Optimizer:
    return Optimizer(RMSProp(rho, eps), Constant(lr), name="rmsprop")


def _adagrad(lr: float = 1e-2, initial: float = 0.1, eps: float = 1e-7) -> Optimizer:
    return Optimizer(Adagrad(initial, eps), Constant(lr), name="adagrad")


def _with_landscape_modification(base_name: str, base: Callable[..., Optimizer]):
    def factory(f: str = "linear", lm_eps: float = 1.0, c="running_min", **kwargs) -> Optimizer:
        opt = base(**kwargs)
        return Optimizer(
            opt.direction,
            opt.step,
            (*opt.transforms, LandscapeModification(f, lm_eps, c)),
            name=f"{base_name}_lm",
            gtol=opt.gtol,
            ftol=opt.ftol,
            restart_on_failure=opt.restart_on_failure,
        )

    return factory


def _oc(**kwargs):
    from .baselines import OptimalityCriteria

    return OptimalityCriteria(**kwargs)


def _mma(**kwargs):
    from .baselines import MMA

    return MMA(**kwargs)


for _name, _factory in {
    "lbfgs": _lbfgs,
    "gd": _gd,
    "gd_ls": _gd_ls,
    "hd": _hd,
    "momentum": _momentum,
    "adam": _adam,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}.items():
    register(_name, _factory)
    register(f"{_name}_lm", _with_landscape_modification(_name, _factory))
register("oc", _oc)
register("mma", _mma)
