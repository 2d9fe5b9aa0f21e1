"""Study specs: problems x models x penalties x optimizers x option grids x seeds, as TOML.

A spec expands to runs; each run is identified by a content hash of its fully resolved
settings and the library version (:attr:`RunSpec.key`), so a run is never computed twice and
two specs that share runs share results.

.. code-block:: toml

    name = "demo"
    problems = ["mbb_beam_96x32_0.5", "A"]      # suite names or study codes A, B, D, E
    penal = [1.0, 3.0]
    seeds = [0, 1, 2]
    max_evals = 50

    [[models]]
    kind = "pixel"

    [[models]]
    kind = "cnn"
    upsampling = "transpose"

    [[optimizers]]
    preset = "lbfgs"
    memory = [1, 10]          # a list is a grid: one optimizer setting per value

    [[optimizers]]
    preset = "gd"
    lr = [1e-3, 1e-2]

An optimizer entry may carry its own ``max_evals`` / ``max_steps`` (GD for 2000 steps next to
L-BFGS for 300 evaluations); its label then shows them. ``label = "GD_2000"`` names an entry
(of one setting) in tables and figures instead of its options; labels do not enter run keys.
Optional keys: ``max_steps``; ``threads`` (per run, default 1: runs are pinned to it and it is
part of the settings, since the numbers depend on it); ``solver``; ``[record]`` with
``params_every`` (keep theta every k steps), ``memory_at`` (L-BFGS pairs held at these steps),
``designs_at`` (designs at these steps). Model options for ``cnn``: ``upsampling``, ``dtype``
and the :class:`~toposcape.models.cnn.CNNModel` options (``latent_size``, ``conv_filters``,
...). The pixel model has no randomness: its runs ignore the seed (computed once, reported
for every seed).

An optimizer option given as ``"tuned:DIR"`` (e.g. ``lr = "tuned:out/steps"``) takes, for each
(problem, model, penal) case, the value tuned into the directory DIR by ``toposcape study tune``
(see :mod:`toposcape.experiments.tuning`); a case DIR did not tune is an error at load time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _validate
from ..errors import InvalidInputError

__all__ = [
    "STUDY_CODES",
    "ModelSpec",
    "OptimizerSpec",
    "RecordSpec",
    "RunSpec",
    "StudySpec",
    "load_spec",
]

#: The problems of studies.md section 1.
STUDY_CODES = {
    "A": "michell_centered_both_32x64_0.12",
    "B": "pure_bending_moment_32x64_0.15",
    "D": "causeway_bridge_middle_128x128_0.1",
    "E": "crane_128x128_0.2",
}

_MODEL_KINDS = ("pixel", "cnn")
_CNN_OPTIONS = {
    "upsampling",
    "dtype",
    "latent_size",
    "dense_channels",
    "resizes",
    "conv_filters",
    "kernel_size",
    "offset_scale",
    "latent_scale",
    "dense_init_scale",
}
_TOP_KEYS = {
    "name",
    "problems",
    "penal",
    "seeds",
    "max_evals",
    "max_steps",
    "models",
    "optimizers",
    "record",
    "threads",
    "solver",
    "description",
}


def _where(entry: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"study spec, {entry}: {message}")


def _canonical(value: Any) -> Any:
    """JSON-ready and order-independent: tuples as lists, floats normalised (1 == 1.0)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if hasattr(value, "item"):  # numpy scalars
        return _canonical(value.item())
    return str(value)


@dataclass(frozen=True)
class RecordSpec:
    """What a run records besides losses: parameters, L-BFGS memory, designs."""

    params_every: int | None = None
    memory_at: tuple[int, ...] = ()
    designs_at: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RecordSpec:
        data = dict(data or {})
        unknown = set(data) - {"params_every", "memory_at", "designs_at"}
        if unknown:
            raise _where(
                "[record]",
                f"unknown key(s) {sorted(unknown)}; valid: params_every, memory_at, designs_at",
            )
        every = data.get("params_every")
        try:
            every = _validate.integer(every, "params_every", minimum=1, allow_none=True)
            memory = tuple(
                _validate.integer(s, "memory_at", minimum=0) for s in data.get("memory_at", ())
            )
            designs = tuple(
                _validate.integer(s, "designs_at", minimum=0) for s in data.get("designs_at", ())
            )
        except (TypeError, ValueError) as exc:
            raise _where("[record]", str(exc)) from None
        return cls(every, tuple(sorted(set(memory))), tuple(sorted(set(designs))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "params_every": self.params_every,
            "memory_at": list(self.memory_at),
            "designs_at": list(self.designs_at),
        }


@dataclass(frozen=True)
class ModelSpec:
    """A model and its options (``kind`` = "pixel" or "cnn")."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def random(self) -> bool:
        """Whether the seed matters (the pixel model has no randomness)."""
        return self.kind != "pixel"

    def label(self) -> str:
        """``pixel``, or ``cnn(...)`` with the options that differ from the defaults."""
        shown = {
            k: v
            for k, v in sorted(self.options.items())
            if (k, v) not in (("upsampling", "bilinear"), ("dtype", "float32"))
        }
        if not shown:
            return self.kind
        inner = ", ".join(
            f"{k}={'x'.join(map(str, v))}" if isinstance(v, (list, tuple)) else f"{k}={v}"
            for k, v in shown.items()
        )
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer setting: a preset and the options given for it (grids expanded)."""

    preset: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Label shown instead of the options' (a run whose ``"tuned:DIR"`` value was resolved
    #: keeps the label of its spec entry).
    display: str | None = field(default=None, compare=False)
    #: This entry's own budget ``(max_evals, max_steps)`` (e.g. GD for 2000 steps next to
    #: L-BFGS for 300 evaluations); None: the study's.
    budget: tuple[int | None, int | None] | None = None

    def label(self) -> str:
        """Readable label with the options given, e.g. ``lbfgs(memory=10)``; an entry with
        its own budget shows it (``gd(lr=0.01, max_steps=2000)``)."""
        if self.display is not None:
            return self.display
        shown = dict(self.options)
        if self.budget is not None:
            for key, value in zip(("max_evals", "max_steps"), self.budget, strict=True):
                if value is not None:
                    shown[key] = value
        if not shown:
            return self.preset
        inner = ", ".join(
            f"{k}={v!r}"
            if isinstance(v, str)
            else f"{k}={v:g}"
            if isinstance(v, float)
            else f"{k}={v}"
            for k, v in sorted(shown.items(), key=lambda kv: (kv[0].startswith("max_"), kv[0]))
        )
        return f"{self.preset}({inner})"

    def resolved(self) -> dict[str, Any]:
        """Every option of the preset, defaults filled in (what the key is computed from)."""
        from .. import optim

        return optim.preset(self.preset).resolve(dict(self.options))


@dataclass(frozen=True)
class RunSpec:
    """One fully resolved run: everything its numbers depend on, and its content key."""

    problem: str
    model: ModelSpec
    penal: float
    optimizer: OptimizerSpec
    seed: int | None
    max_evals: int | None
    max_steps: int | None
    record: RecordSpec
    threads: int
    solver: str

    def settings(self) -> dict[str, Any]:
        """The fully resolved settings (JSON-ready), library version included."""
        from .. import __version__

        return _canonical(
            {
                "problem": self.problem,
                "model": {"kind": self.model.kind, **self.model.options},
                "penal": self.penal,
                "optimizer": {"preset": self.optimizer.preset, **self.optimizer.resolved()},
                "seed": self.seed,
                "max_evals": self.max_evals,
                "max_steps": self.max_steps,
                "record": self.record.to_dict(),
                "threads": self.threads,
                "solver": self.solver,
                "version": __version__,
            }
        )

    @property
    def key(self) -> str:
        """Content hash of :meth:`settings` (16 hex digits of SHA-256)."""
        text = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RunSpec:
        model = dict(settings["model"])
        optimizer = dict(settings["optimizer"])
        return cls(
            problem=settings["problem"],
            model=ModelSpec(model.pop("kind"), model),
            penal=float(settings["penal"]),
            optimizer=OptimizerSpec(optimizer.pop("preset"), optimizer),
            seed=settings["seed"],
            max_evals=settings["max_evals"],
            max_steps=settings["max_steps"],
            record=RecordSpec.from_dict(settings["record"]),
            threads=int(settings["threads"]),
            solver=settings["solver"],
        )


@dataclass(frozen=True)
class StudySpec:
    """A study: the grid of settings and the seeds. :meth:`expand` lists its runs."""

    name: str
    problems: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    penal: tuple[float, ...]
    optimizers: tuple[OptimizerSpec, ...]
    seeds: tuple[int, ...]
    max_evals: int | None = None
    max_steps: int | None = None
    record: RecordSpec = RecordSpec()
    threads: int = 1
    solver: str = "auto"
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        """Parse and check a spec (as read from TOML); every error names the offending entry."""
        from .. import optim, problems

        if not isinstance(data, Mapping):
            raise TypeError(f"a study spec must be a mapping, got {_validate.given(data)}")
        if "tune" in data:
            raise _where(
                "[tune]",
                "this is a tuning spec: run it with 'toposcape study tune SPEC' "
                "(toposcape.experiments.tune); feed the tuned values to a study spec with "
                "e.g. lr = 'tuned:DIR'",
            )
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise _where(
                "top level",
                f"unknown key(s) {sorted(unknown)}; valid: {', '.join(sorted(_TOP_KEYS))}",
            )
        for required in ("problems", "models", "optimizers"):
            if required not in data:
                raise _where("top level", f"missing {required!r}")
        name = data.get("name", "study")
        if not isinstance(name, str) or not name:
            raise _where("name", f"must be a non-empty string, got {name!r}")

        names = set(problems.names())
        resolved_problems = []
        for i, entry in enumerate(_as_list(data["problems"], "problems")):
            if not isinstance(entry, str):
                raise _where(f"problems[{i}]", f"must be a string, got {entry!r}")
            full = STUDY_CODES.get(entry, entry)
            if full not in names:
                try:
                    _validate.lookup(
                        entry,
                        [*STUDY_CODES, *sorted(names)],
                        "problem",
                        hint="suite names or the study codes A, B, D, E",
                    )
                except KeyError as exc:
                    raise _where(f"problems[{i}]", str(exc)) from None
            resolved_problems.append(full)

        penal = _validated_list(
            data, "penal", [3.0], lambda p: _validate.real(p, "penal", minimum=1.0)
        )

        seeds = _parse_seeds(data)

        max_evals, max_steps, threads = _parse_budget(data)
        solver = data.get("solver", "auto")
        if not isinstance(solver, str):
            raise _where("solver", f"must be a string, got {solver!r}")

        models = []
        for i, entry in enumerate(_as_list(data["models"], "models")):
            models.extend(_parse_model(entry, f"models[{i}]", resolved_problems))
        optimizers = []
        for i, entry in enumerate(_as_list(data["optimizers"], "optimizers")):
            optimizers.extend(_parse_optimizer(entry, f"optimizers[{i}]", optim))
        if max_evals is None and max_steps is None:
            unbudgeted = [o.label() for o in optimizers if o.budget is None]
            if unbudgeted:
                raise _where(
                    "top level",
                    "give a budget: max_evals or max_steps (or both), for the study or in "
                    f"every optimizer entry (none for {', '.join(unbudgeted)})",
                )
        for o in optimizers:
            if optim.get(o.preset, **_checkable(o.preset, o.options)).requires.explicit_volume:
                for m in models:
                    if m.kind != "pixel":
                        raise _where(
                            f"optimizers ({o.label()})",
                            f"{o.preset!r} enforces the volume itself and runs on the pixel "
                            f"model's densities only, but the study has the model {m.label()}; "
                            "put it in a study of its own with kind = 'pixel'",
                        )
        record = RecordSpec.from_dict(data.get("record"))
        spec = cls(
            name=name,
            problems=tuple(resolved_problems),
            models=tuple(models),
            penal=tuple(penal),
            optimizers=tuple(optimizers),
            seeds=tuple(seeds),
            max_evals=max_evals,
            max_steps=max_steps,
            record=record,
            threads=threads,
            solver=solver,
            source=dict(data),
        )
        if any(_has_reference(o.options) for o in optimizers):
            from .tuning import check_references

            check_references(spec)  # every case must have a tuned value: errors at load time
        return spec

    def cases(self):
        """Every (problem, model, penal, optimizer, seed) of the study, in a fixed order."""
        return itertools.product(
            self.problems, self.models, self.penal, self.optimizers, self.seeds
        )

    def run_for(self, problem, model, penal, optimizer, seed) -> RunSpec:
        if _has_reference(optimizer.options):
            from .tuning import resolve_references

            optimizer = resolve_references(optimizer, problem, model, penal)
        return RunSpec(
            problem=problem,
            model=model,
            penal=penal,
            optimizer=optimizer,
            seed=seed if model.random else None,
            max_evals=self.max_evals if optimizer.budget is None else optimizer.budget[0],
            max_steps=self.max_steps if optimizer.budget is None else optimizer.budget[1],
            record=self.record,
            threads=self.threads,
            solver=self.solver,
        )

    def expand(self) -> list[tuple[RunSpec, int]]:
        """``(run, seed)`` for every case; pixel runs repeat the same run for every seed."""
        return [(self.run_for(*case), case[-1]) for case in self.cases()]

    def unique_runs(self) -> list[RunSpec]:
        """The distinct runs to compute (each once), in expansion order."""
        seen: dict[str, RunSpec] = {}
        for run, _ in self.expand():
            seen.setdefault(run.key, run)
        return list(seen.values())


#: An option value ``"tuned:DIR"`` stands for the value tuned into the study directory DIR
#: (``toposcape study tune``), resolved per (problem, model, penal) case: see ``.tuning``.
TUNED_PREFIX = "tuned:"


def _has_reference(options: Mapping[str, Any]) -> bool:
    return any(isinstance(v, str) and v.startswith(TUNED_PREFIX) for v in options.values())


def _checkable(preset: str, options: Mapping[str, Any]) -> Mapping[str, Any]:
    """``options`` with ``"tuned:DIR"`` references replaced by a valid stand-in (for checks)."""
    if not _has_reference(options):
        return options
    from .tuning import stand_in

    return stand_in(preset, options)


def _validated_list(data: Mapping[str, Any], key: str, default: list, convert) -> list:
    """``data[key]`` (default ``default``) as a list, each entry passed through ``convert``;
    a rejected entry's error names it as ``key[i]``."""
    out = []
    for i, value in enumerate(_as_list(data.get(key, default), key)):
        try:
            out.append(convert(value))
        except (TypeError, ValueError) as exc:
            raise _where(f"{key}[{i}]", str(exc)) from None
    return out


def _parse_seeds(data: Mapping[str, Any]) -> list[int]:
    """A spec's ``seeds`` (default ``[0]``): distinct non-negative integers."""
    seeds = _validated_list(data, "seeds", [0], lambda s: _validate.integer(s, "seed", minimum=0))
    if len(set(seeds)) != len(seeds):
        raise _where("seeds", f"repeated seeds in {seeds}")
    return seeds


def _parse_budget(data: Mapping[str, Any]) -> tuple[int | None, int | None, int]:
    """A spec's top-level ``max_evals``, ``max_steps`` (None: not given) and ``threads``."""
    try:
        max_evals = _validate.integer(
            data.get("max_evals"), "max_evals", minimum=1, allow_none=True
        )
        max_steps = _validate.integer(
            data.get("max_steps"), "max_steps", minimum=0, allow_none=True
        )
        threads = _validate.integer(data.get("threads", 1), "threads", minimum=1)
    except (TypeError, ValueError) as exc:
        raise _where("top level", str(exc)) from None
    return max_evals, max_steps, threads


def _as_list(value: Any, entry: str) -> list:
    if isinstance(value, (list, tuple)):
        if not value:
            raise _where(entry, "must not be empty")
        return list(value)
    return [value]


#: Options whose single value is itself a list: for these a list of lists is a grid axis.
_SEQUENCE_OPTIONS = {"resizes", "conv_filters"}


def _grid(options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A list value is a grid axis; the product of the axes gives one setting each.

    For options whose value is a sequence (``conv_filters``, ``resizes``) a flat list is one
    value and a list of lists is the axis.
    """
    keys = sorted(options)

    def axis(key, value):
        if key in _SEQUENCE_OPTIONS:
            nested = isinstance(value, list) and value and isinstance(value[0], list)
            return value if nested else [value]
        return value if isinstance(value, list) else [value]

    axes = [axis(k, options[k]) for k in keys]
    for key, axis in zip(keys, axes, strict=True):
        if not axis:
            raise InvalidInputError(f"option {key!r} has an empty list of values")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]


def _parse_model(entry: Any, where: str, problem_names: Sequence[str]) -> list[ModelSpec]:
    if not isinstance(entry, Mapping):
        raise _where(where, f"must be a table with 'kind', got {entry!r}")
    options = dict(entry)
    kind = options.pop("kind", None)
    if kind not in _MODEL_KINDS:
        raise _where(
            where, f"kind must be one of {', '.join(map(repr, _MODEL_KINDS))}, got {kind!r}"
        )
    if kind == "pixel" and options:
        raise _where(where, f"the pixel model takes no options, got {sorted(options)}")
    unknown = set(options) - _CNN_OPTIONS
    if unknown:
        raise _where(
            where,
            f"unknown cnn option(s) {sorted(unknown)}; valid: {', '.join(sorted(_CNN_OPTIONS))}",
        )
    out = []
    for setting in _grid({k: v for k, v in options.items()}):
        if kind == "cnn":
            setting = {"upsampling": "bilinear", "dtype": "float32", **setting}
            for key, choices in (
                ("upsampling", ("bilinear", "transpose")),
                ("dtype", ("float32", "float64")),
            ):
                if setting[key] not in choices:
                    raise _where(where, f"{key} must be one of {choices}, got {setting[key]!r}")
            _check_cnn_builds(setting, where, problem_names)
        out.append(ModelSpec(kind, setting))
    return out


def _check_cnn_builds(setting: dict, where: str, problem_names: Sequence[str]) -> None:
    """The CNN's sizes must divide the problems' (checked without building weights)."""
    from .. import problems

    resizes = setting.get("resizes", (1, 2, 2, 2, 1))
    factor = math.prod(resizes) if isinstance(resizes, (list, tuple)) else None
    if not factor:
        raise _where(where, f"resizes must be a list of integers, got {resizes!r}")
    for name in problem_names:
        p = problems.get(name)
        if p.width % factor or p.height % factor:
            raise _where(
                where,
                f"the CNN needs sizes divisible by {factor}; problem {name} "
                f"is {p.width}x{p.height}",
            )


def _parse_optimizer(entry: Any, where: str, optim) -> list[OptimizerSpec]:
    if not isinstance(entry, Mapping):
        raise _where(where, f"must be a table with 'preset', got {entry!r}")
    options = dict(entry)
    name = options.pop("preset", None)
    if name is None:
        raise _where(where, "missing 'preset' (see 'toposcape optimizers')")
    label = options.pop("label", None)
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise _where(f"{where} ({name})", f"label must be a non-empty string, got {label!r}")
    budget = None
    if "max_evals" in options or "max_steps" in options:
        try:
            budget = (
                _validate.integer(
                    options.pop("max_evals", None), "max_evals", minimum=1, allow_none=True
                ),
                _validate.integer(
                    options.pop("max_steps", None), "max_steps", minimum=0, allow_none=True
                ),
            )
        except (TypeError, ValueError) as exc:
            raise _where(f"{where} ({name})", str(exc)) from None
        if budget == (None, None):
            raise _where(f"{where} ({name})", "max_evals and max_steps cannot both be None")
    try:
        preset = optim.preset(name)
    except (KeyError, TypeError) as exc:
        raise _where(where, str(exc)) from None
    declared = preset.option_names()
    unknown = [k for k in options if preset.options is not None and k not in declared]
    if unknown:  # the preset's own message, with suggestions and the valid options
        filled = {o.name: 1 for o in preset.options if o.required}
        try:
            preset.resolve({**filled, unknown[0]: options[unknown[0]]})
        except (KeyError, ValueError) as exc:
            raise _where(f"{where} ({name})", str(exc)) from None
    missing = [o for o in preset.options or () if o.required and o.name not in options]
    if missing:
        first = missing[0]
        raise _where(
            f"{where} ({name})",
            f"needs {first.name} ({first.doc}): add {first.name} = <value or list of values> "
            f'to the entry, a tuned value ({first.name} = "tuned:DIR"), or tune it with '
            "'toposcape study tune'",
        )
    settings = _grid(options)
    if label is not None and len(settings) > 1:
        raise _where(
            f"{where} ({name})",
            f"label {label!r} names one setting, but the entry is a grid of {len(settings)}: "
            "split it into one entry per value, each with its own label",
        )
    out = []
    for setting in settings:
        try:
            preset.resolve(_checkable(name, setting))
            optim.get(name, **_checkable(name, setting))  # values checked by the components
        except (KeyError, TypeError, ValueError) as exc:
            raise _where(f"{where} ({name})", str(exc)) from None
        out.append(OptimizerSpec(name, setting, display=label, budget=budget))
    return out


def load_spec(source: str | Path | Mapping[str, Any]) -> StudySpec:
    """A :class:`StudySpec` from a TOML file, TOML text or a mapping.

    A spec with a ``[landscape]`` table gives a
    :class:`~toposcape.experiments.landscape_spec.LandscapeSpec` (its runs, each analysed); one
    with a ``[lab]`` table a :class:`~toposcape.experiments.lab_spec.LabSpec` (optimizers x
    seeds on a lab objective).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if isinstance(source, Mapping):
        return _from_dict(source)
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith(".toml")
    ):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"study spec {str(path)!r}: no such file")
        text = path.read_text()
        origin = str(path)
    elif isinstance(source, str):
        text, origin = source, "<string>"
    else:
        raise TypeError(
            f"a study spec is a TOML path, TOML text or a mapping, got {_validate.given(source)}"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"study spec {origin}: not valid TOML: {exc}") from None
    return _from_dict(data)


def _from_dict(data: Mapping[str, Any]):
    if isinstance(data, Mapping) and "lab" in data:
        from .lab_spec import LabSpec

        return LabSpec.from_dict(data)
    if isinstance(data, Mapping) and "landscape" in data:
        from .landscape_spec import LandscapeSpec

        return LandscapeSpec.from_dict(data)
    return StudySpec.from_dict(data)
