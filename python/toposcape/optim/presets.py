"""Named optimizers: presets of the direction x step x transform algebra, with declared options.

=============  ==========================================  =====================================
name           composition                                 options (defaults)
=============  ==========================================  =====================================
``lbfgs``      L-BFGS two-loop x strong-Wolfe line search  memory (10), pair_dtype ("auto"),
                                                           c1, c2, xtol, maxls
``gd``         identity x constant step                    lr (required)
``gd_ls``      identity x strong-Wolfe line search         c1, c2, xtol, maxls
``hd``         L-BFGS two-loop x constant step             lr (required), memory (10),
                                                           pair_dtype ("auto")
``momentum``   heavy ball x constant step                  lr (required), beta (0.9), nesterov
``adam``       Adam x constant step                        lr (1e-3), beta1, beta2, eps
``rmsprop``    RMSProp x constant step                     lr (1e-3), rho, eps
``adagrad``    Adagrad x constant step                     lr (1e-2), initial, eps
``*_lm``       any of the above x landscape modification   f ("linear"), lm_eps (1), c
``gd_energy``  identity x energy-decrease step             lr (required), shrink, grow, max_lr
``momentum_``  heavy ball x energy-decrease step with      lr (required), beta (0.9), shrink,
``energy``     kinetic term                                grow, max_lr
``euler_``     gradient descent, step by Richardson's      lr (required), tol (0.1), safety,
``richardson`` error estimate (own loop)                   max_growth, min_shrink
``lm``         Levenberg-Marquardt (least-squares form;    tau (1e-3), gtol, xtol
               not the ``*_lm`` suffix above)
``qn_golden``  L-BFGS two-loop x golden-section search     memory (10), xtol (1e-4), maxls (60)
``oc``         optimality criteria (explicit volume)       move (0.2), damping (0.5), ...
``mma``        nlopt's MMA (explicit volume)               initial_step, constraint_tol, ...
=============  ==========================================  =====================================

Every preset declares its options with defaults and a line of documentation
(:func:`preset`, ``toposcape optimizers``); :func:`get` rejects an unknown option name with
the valid ones listed, and a required option (a step size, which depends on the problem and
the model) with a message saying so. What a preset needs of the objective is declared by the
optimizer it builds (``opt.requires``).

``lbfgs`` stops like SciPy's ``fmin_l_bfgs_b`` with ``factr = 1`` and ``pgtol = 1e-14`` (the
settings of the study): the budget, not a tolerance, ends a run in practice.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError, UnknownNameError
from .adaptive import EnergyDecrease, EulerRichardson
from .directions import LBFGS, Adagrad, Adam, Identity, Momentum, RMSProp
from .least_squares import LevenbergMarquardt
from .optimizer import Optimizer
from .protocol import Runner
from .steps import Constant, GoldenSection, StrongWolfe
from .transforms import LandscapeModification

__all__ = ["REQUIRED", "Option", "Preset", "get", "names", "preset", "register", "describe"]

_EPS = float(np.finfo(float).eps)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that has no sensible default (a step size).
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Option:
    """One option of a preset: its name, default (or :data:`REQUIRED`) and documentation."""

    name: str
    default: Any
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def __str__(self) -> str:
        default = "required" if self.required else f"default {self.default!r}"
        return f"{self.name} ({default}){': ' + self.doc if self.doc else ''}"


@dataclass(frozen=True)
class Preset:
    """A registered optimizer: a factory with declared options.

    ``options`` is None for a factory registered without a declaration that takes
    ``**kwargs``: its options are then passed through unchecked.
    """

    name: str
    factory: Callable[..., Runner]
    summary: str
    options: tuple[Option, ...] | None

    def option_names(self) -> list[str]:
        return [o.name for o in self.options or ()]

    def resolve(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every declared option's value: the given ones, else the defaults (checked)."""
        if self.options is None:
            return dict(options)
        declared = {o.name: o for o in self.options}
        for key in options:
            if key not in declared:
                listing = ", ".join(
                    o.name if o.required else f"{o.name}={o.default!r}" for o in self.options
                )
                listing = (
                    f"options: {listing}; see toposcape.optim.describe({self.name!r})"
                    if listing
                    else "it takes no options"
                )
                close = difflib.get_close_matches(str(key), list(declared), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise UnknownNameError(
                    f"optimizer {self.name!r} has no option {key!r}{hint} ({listing})"
                )
        missing = [o for o in self.options if o.required and o.name not in options]
        if missing:
            needs = "; ".join(f"{o.name}: {o.doc}" if o.doc else o.name for o in missing)
            first = missing[0].name
            raise InvalidInputError(
                f"optimizer {self.name!r} needs a value for {', '.join(o.name for o in missing)} "
                f"({needs}): e.g. toposcape.optim.get({self.name!r}, {first}=...), or "
                f"-o {first}=... on the command line"
            )
        return {o.name: options.get(o.name, o.default) for o in self.options}

    def describe(self) -> str:
        """A few lines for ``toposcape optimizers``: summary, options, defaults."""
        lines = [f"{self.name}: {self.summary}" if self.summary else self.name]
        if self.options is None:
            lines.append("    options: not declared (passed to the factory unchecked)")
        elif not self.options:
            lines.append("    no options")
        for option in self.options or ():
            lines.append(f"    {option}")
        return "\n".join(lines)


_REGISTRY: dict[str, Preset] = {}


def _declared_options(factory: Callable, docs: dict[str, str]) -> tuple[Option, ...] | None:
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    out = []
    for p in params:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        out.append(Option(p.name, default, docs.get(p.name, "")))
    return tuple(out)


def register(
    name: str,
    factory: Callable[..., Runner],
    summary: str = "",
    docs: dict[str, str] | None = None,
) -> None:
    """Register ``factory(**options) -> optimizer`` under ``name`` (replacing any previous).

    The options are read from the factory's signature (parameters without a default are
    required); ``docs`` maps option names to a line of documentation. A factory taking
    ``**kwargs`` gets its options passed through unchecked.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {_validate.given(name)}")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {_validate.given(factory)}")
    _REGISTRY[name] = Preset(name, factory, summary, _declared_options(factory, docs or {}))


def names() -> list[str]:
    """Registered optimizer names, sorted."""
    return sorted(_REGISTRY)


def preset(name: str) -> Preset:
    """The declaration of the optimizer registered as ``name`` (options, defaults, summary)."""
    return _REGISTRY[_validate.lookup(name, names(), "optimizer")]


def get(name: str, **options) -> Runner:
    """The optimizer registered as ``name``, built with ``options``.

    Raises
    ------
    UnknownNameError
        Unknown optimizer or option name (a KeyError and a ValueError); the message suggests
        close matches and lists the valid names.
    InvalidInputError
        A required option is missing, or an option's value is out of range.
    TypeError
        An option's value has the wrong type.
    """
    entry = preset(name)
    return entry.factory(**entry.resolve(options))


def describe(name: str | None = None) -> str:
    """Every preset's (or one preset's) summary and options, as ``toposcape optimizers`` prints."""
    chosen = [preset(name)] if name is not None else [_REGISTRY[n] for n in names()]
    return "\n\n".join(p.describe() for p in chosen)


# ---------------------------------------------------------------------------------------------
# The built-in presets
# ---------------------------------------------------------------------------------------------
_LINE_SEARCH_DOCS = {
    "c1": "sufficient-decrease constant of the strong Wolfe conditions",
    "c2": "curvature constant of the strong Wolfe conditions",
    "xtol": "relative width below which the line search's interval counts as converged",
    "maxls": "evaluations allowed per line search",
}
_MEMORY_DOCS = {
    "memory": "number of curvature pairs kept (1: the thesis' L-BFGS_M1)",
    "pair_dtype": "storage of the pairs: 'auto' (float32 for a float32 CNN, else float64), "
    "'float64' (the two-loop, L-BFGS-B's arithmetic) or 'float32' (the compact-form "
    "direction, ~4x faster at 1.9M parameters)",
}
_LR_DOC = "the constant step size; no default: a good value depends on problem and model"


def _line_search(c1: float, c2: float, xtol: float, maxls: int) -> StrongWolfe:
    return StrongWolfe(ftol=c1, gtol=c2, xtol=xtol, max_evals=maxls)


def _lbfgs(
    memory: int = 10,
    pair_dtype: str = "auto",
    c1: float = 1e-3,
    c2: float = 0.9,
    xtol: float = 0.1,
    maxls: int = 20,
) -> Optimizer:
    return Optimizer(
        LBFGS(memory, pair_dtype),
        _line_search(c1, c2, xtol, maxls),
        name="lbfgs",
        gtol=1e-14,
        ftol=_EPS,
    )


def _gd(lr: float) -> Optimizer:
    return Optimizer(Identity(), Constant(lr), name="gd")


def _gd_ls(c1: float = 1e-3, c2: float = 0.9, xtol: float = 0.1, maxls: int = 20) -> Optimizer:
    return Optimizer(
        Identity(), _line_search(c1, c2, xtol, maxls), name="gd_ls", gtol=1e-14, ftol=_EPS
    )


def _hd(lr: float, memory: int = 10, pair_dtype: str = "auto") -> Optimizer:
    return Optimizer(LBFGS(memory, pair_dtype), Constant(lr), name="hd", restart_on_failure=False)


def _momentum(lr: float, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    # A diverging step ends the run, as for plain GD (no retry from a restarted velocity).
    return Optimizer(
        Momentum(beta, nesterov), Constant(lr), name="momentum", restart_on_failure=False
    )


def _adam(lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
    return Optimizer(Adam(beta1, beta2, eps), Constant(lr), name="adam")


def _rmsprop(lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7) -> Optimizer:
    return Optimizer(RMSProp(rho, eps), Constant(lr), name="rmsprop")


def _adagrad(lr: float = 1e-2, initial: float = 0.1, eps: float = 1e-7) -> Optimizer:
    return Optimizer(Adagrad(initial, eps), Constant(lr), name="adagrad")


def _gd_energy(
    lr: float, shrink: float = 0.5, grow: float = 2.0, max_lr: float | None = None, gtol=0.0
) -> Optimizer:
    return Optimizer(
        Identity(),
        EnergyDecrease(lr, shrink, grow, max_lr),
        name="gd_energy",
        gtol=gtol,
        restart_on_failure=False,
    )


def _momentum_energy(
    lr: float,
    beta: float = 0.9,
    shrink: float = 0.5,
    grow: float = 2.0,
    max_lr: float | None = None,
    gtol: float = 0.0,
) -> Optimizer:
    # A failed step (no decrease along a velocity that points uphill) restarts the velocity.
    return Optimizer(
        Momentum(beta),
        EnergyDecrease(lr, shrink, grow, max_lr, kinetic=True),
        name="momentum_energy",
        gtol=gtol,
    )


def _euler_richardson(
    lr: float,
    tol: float = 0.1,
    safety: float = 0.9,
    max_growth: float = 2.0,
    min_shrink: float = 0.2,
    gtol: float = 0.0,
) -> EulerRichardson:
    return EulerRichardson(lr, tol, safety, max_growth, min_shrink, gtol)


def _lm(tau: float = 1e-3, gtol: float = 0.0, xtol: float = 1e-15) -> LevenbergMarquardt:
    return LevenbergMarquardt(tau, gtol, xtol)


def _qn_golden(memory: int = 10, xtol: float = 1e-4, maxls: int = 60) -> Optimizer:
    return Optimizer(
        LBFGS(memory), GoldenSection(xtol, maxls), name="qn_golden", gtol=1e-14, ftol=_EPS
    )


def _oc(
    move: float = 0.2,
    damping: float = 0.5,
    tol: float = 1e-12,
    xtol: float = 0.0,
    feasibility_tol: float = 1e-6,
):
    from .baselines import OptimalityCriteria

    return OptimalityCriteria(move, damping, tol, xtol, feasibility_tol)


def _mma(initial_step: float | None = None, constraint_tol: float = 1e-8, feasibility_tol=1e-6):
    from .baselines import MMA

    return MMA(initial_step, constraint_tol, feasibility_tol)


_LM_DOCS = {
    "f": "flattening f(t): 'linear' (log-like) or 'quadratic' (arctan-like)",
    "lm_eps": "offset eps in g / (f((U - c)+) + eps)",
    "c": "level c: a number, or 'running_min' (the lowest loss so far)",
}


def _with_landscape_modification(name: str, base: Callable[..., Optimizer]):
    """``base`` x the landscape modification of studies.md section 2, with base's options."""

    def factory(**options) -> Optimizer:
        lm = {k: options.pop(k) for k in ("f", "lm_eps", "c")}
        opt = base(**options)
        return Optimizer(
            opt.direction,
            opt.step,
            (*opt.transforms, LandscapeModification(lm["f"], lm["lm_eps"], lm["c"])),
            name=f"{name}_lm",
            gtol=opt.gtol,
            ftol=opt.ftol,
            restart_on_failure=opt.restart_on_failure,
        )

    base_params = list(inspect.signature(base).parameters.values())
    extra = [
        inspect.Parameter("f", inspect.Parameter.KEYWORD_ONLY, default="linear"),
        inspect.Parameter("lm_eps", inspect.Parameter.KEYWORD_ONLY, default=1.0),
        inspect.Parameter("c", inspect.Parameter.KEYWORD_ONLY, default="running_min"),
    ]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in base_params] + extra
    factory.__signature__ = inspect.Signature(params)  # declared options for register()
    return factory


_BUILTIN: list[tuple[str, Callable[..., Runner], str, dict[str, str]]] = [
    (
        "lbfgs",
        _lbfgs,
        "L-BFGS: two-loop direction x strong-Wolfe line search (SciPy's fmin_l_bfgs_b)",
        {**_MEMORY_DOCS, **_LINE_SEARCH_DOCS},
    ),
    ("gd", _gd, "gradient descent with a constant step", {"lr": _LR_DOC}),
    (
        "gd_ls",
        _gd_ls,
        "steepest descent x the L-BFGS line search (first trial 1/|g|)",
        _LINE_SEARCH_DOCS,
    ),
    (
        "hd",
        _hd,
        "'Hessian descent': L-BFGS two-loop direction x constant step, no line search",
        {"lr": _LR_DOC, **_MEMORY_DOCS},
    ),
    (
        "momentum",
        _momentum,
        "heavy-ball momentum x constant step (Keras SGD with momentum)",
        {"lr": _LR_DOC, "beta": "momentum in [0, 1)", "nesterov": "Nesterov's variant"},
    ),
    (
        "adam",
        _adam,
        "Adam x constant step",
        {
            "lr": "step size",
            "beta1": "first-moment decay",
            "beta2": "second-moment decay",
            "eps": "denominator offset",
        },
    ),
    (
        "rmsprop",
        _rmsprop,
        "RMSProp x constant step",
        {
            "lr": "step size",
            "rho": "decay of the squared-gradient average",
            "eps": "denominator offset",
        },
    ),
    (
        "adagrad",
        _adagrad,
        "Adagrad x constant step",
        {"lr": "step size", "initial": "initial accumulator", "eps": "denominator offset"},
    ),
]

for _name, _factory, _summary, _docs in _BUILTIN:
    register(_name, _factory, _summary, _docs)
    register(
        f"{_name}_lm",
        _with_landscape_modification(_name, _factory),
        f"{_summary}, with landscape modification",
        {**_docs, **_LM_DOCS},
    )
_ENERGY_DOCS = {
    "lr": "first trial step; too large a step is shrunk until the energy decreases",
    "shrink": "factor in (0, 1) applied to a rejected step",
    "grow": "factor (>= 1) applied to an accepted step for the next first trial",
    "max_lr": "cap of the step (None: lr)",
    "gtol": "stop when max |g| <= gtol (0: never)",
}
register(
    "gd_energy",
    _gd_energy,
    "gradient descent, a step accepted only if the loss decreases (else shrunk; grows back)",
    _ENERGY_DOCS,
)
register(
    "momentum_energy",
    _momentum_energy,
    "heavy-ball momentum, a step accepted only if loss + kinetic energy decreases",
    {**_ENERGY_DOCS, "beta": "momentum in [0, 1)"},
)
register(
    "euler_richardson",
    _euler_richardson,
    "gradient descent with the step set by Richardson's error estimate (one vs two half steps)",
    {
        "lr": "first step",
        "tol": "bound on the local error estimate relative to the step length, in (0, 1)",
        "safety": "safety factor of the step controller, in (0, 1]",
        "max_growth": "largest growth of the step per accepted step (>= 1)",
        "min_shrink": "smallest factor applied to a rejected step, in (0, 1)",
        "gtol": "stop when max |g| <= gtol (0: never)",
    },
)
register(
    "lm",
    _lm,
    "Levenberg-Marquardt (gain-ratio damping); needs residuals() and jacobian(), small problems",
    {
        "tau": "initial damping relative to max diag(J^T J)",
        "gtol": "stop when max |g| <= gtol (0: never)",
        "xtol": "stop when ||delta|| <= xtol (||theta|| + xtol)",
    },
)
register(
    "qn_golden",
    _qn_golden,
    "quasi-Newton (L-BFGS two-loop) x exact golden-section line search (studies.md sec. 4)",
    {
        **_MEMORY_DOCS,
        "xtol": "relative width of the golden-section bracket at convergence",
        "maxls": "evaluations allowed per line search",
    },
)
register(
    "oc",
    _oc,
    "optimality criteria of the 88-line code; needs PixelObjective(..., volume_constraint=False)",
    {
        "move": "move limit per update, in (0, 1]",
        "damping": "exponent eta of the OC update",
        "tol": "relative tolerance of the bisection on the multiplier",
        "xtol": "stop when no density changes by more than this (0: never)",
        "feasibility_tol": "relative volume tolerance when picking the best feasible point",
    },
)
register(
    "mma",
    _mma,
    "nlopt's MMA (Svanberg); needs PixelObjective(..., volume_constraint=False)",
    {
        "initial_step": "nlopt's initial step in (0, 1] (None: nlopt's default)",
        "constraint_tol": "tolerance of the volume inequality",
        "feasibility_tol": "relative volume tolerance when picking the best feasible point",
    },
)
