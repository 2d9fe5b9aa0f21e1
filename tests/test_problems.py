"""Tests of toposcape.problems: the 116-problem suite against its oracle, the drawing
primitives against scikit-image, and validation of user-defined problems.

The suite oracle is ``tests/data/problems_116.npz`` (fixture ``suite_oracle``, tests/conftest.py):
an exact, packed copy of the project's ``shared/reference/problems_116.npz`` (the boundary
conditions of the reference implementation's 116 problems), made by ``tests/data/oracle.py``.
A missing data file fails these tests; when ``../shared`` is present the copy is also checked
against the original.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toposcape import problems
from toposcape.errors import (
    InvalidInputError,
    InvalidProblemError,
    UnderconstrainedProblemError,
    UnknownNameError,
)
from toposcape.problems import Problem
from toposcape.problems._raster import _circle_perimeter_aa, _line_aa

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "problems_116.npz"


@pytest.fixture(scope="module")
def oracle(suite_oracle):
    return suite_oracle


@pytest.mark.skipif(not SHARED.exists(), reason="no ../shared/reference to compare the copy with")
def test_packed_oracle_equals_shared_original(oracle):
    with np.load(SHARED) as data:
        original = {key: data[key] for key in data.files}
    assert sorted(oracle) == sorted(original)
    for key, value in original.items():
        assert oracle[key].dtype == value.dtype and np.array_equal(oracle[key], value), key


# --------------------------------------------------------------------------------------
# the suite equals the oracle exactly
# --------------------------------------------------------------------------------------
def test_names_match_oracle_order(oracle):
    assert problems.names() == [str(n) for n in oracle["names"]]
    assert len(problems.names()) == 116


def test_all_suite_problems_match_oracle_exactly(oracle):
    mismatches = []
    for name in problems.names():
        p = problems.get(name)
        assert p.name == name
        meta = oracle[f"{name}/meta"]
        force_index = np.flatnonzero(p.forces)
        checks = {
            "meta": np.array_equal(meta, [p.width, p.height, p.density]),
            "fixed_dofs": np.array_equal(oracle[f"{name}/fixed_dofs"], p.fixed_dofs),
            "force_index": np.array_equal(oracle[f"{name}/force_index"], force_index),
            "force_value": (
                p.forces[force_index].dtype == np.float64
                and np.array_equal(oracle[f"{name}/force_value"], p.forces[force_index])
            ),
            "mask": np.array_equal(oracle[f"{name}/mask"].astype(bool), p.mask),
        }
        assert p.mask.shape == (p.height, p.width)
        mismatches += [(name, key) for key, ok in checks.items() if not ok]
    assert mismatches == []


# --------------------------------------------------------------------------------------
# drawing primitives equal scikit-image's
# --------------------------------------------------------------------------------------
def _assert_same(ours, theirs):
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert np.array_equal(a, b)
    assert ours[2].dtype == np.float64


def test_line_aa_matches_skimage():
    draw = pytest.importorskip("skimage.draw")
    rng = np.random.default_rng(1234)
    cases = [tuple(int(v) for v in rng.integers(-50, 80, 4)) for _ in range(1500)]
    cases += [(0, 0, 0, 0), (3, 3, 3, 9), (3, 9, 3, 3), (0, 5, 7, 5), (7, 5, 0, 5)]
    cases += [(0, 0, 4, 4), (4, 4, 0, 0), (0, 0, 5, 3), (0, 17, 64, 42), (128, 512, 0, 0)]
    for r0, c0, r1, c1 in cases:
        _assert_same(_line_aa(r0, c0, r1, c1), draw.line_aa(r0, c0, r1, c1))


def test_circle_perimeter_aa_matches_skimage():
    draw = pytest.importorskip("skimage.draw")
    rng = np.random.default_rng(4321)
    for k in range(800):
        r0, c0 = (int(v) for v in rng.integers(-30, 100, 2))
        radius = int(rng.integers(0, 140))
        shape = None if k % 4 == 0 else tuple(int(v) for v in rng.integers(1, 200, 2))
        _assert_same(
            _circle_perimeter_aa(r0, c0, radius, shape),
            draw.circle_perimeter_aa(r0, c0, radius, shape=shape),
        )
    for w in (32, 64, 128, 256):  # the hoop instances and beyond
        shape = (w + 1, 2 * w + 1)
        _assert_same(
            _circle_perimeter_aa(w, w, w, shape), draw.circle_perimeter_aa(w, w, w, shape=shape)
        )


# --------------------------------------------------------------------------------------
# category functions at other sizes
# --------------------------------------------------------------------------------------
def test_mbb_beam_other_size():
    p = problems.mbb_beam(width=60, height=20, density=0.5)
    assert p.name == "mbb_beam_60x20_0.5"
    assert (p.width, p.height, p.density) == (60, 20, 0.5)
    assert p.n_dofs == 2 * 61 * 21 and p.n_elements == 1200
    assert p.forces.shape == (p.n_dofs,) and p.forces.dtype == np.float64
    assert p.mask.shape == (20, 60) and p.mask.dtype == bool and p.mask.all()
    assert p.fixed_dofs.dtype == np.int64
    # left edge in x, node (W, H) in y; load -1 in y at node (0, 0)
    expected = sorted([2 * j for j in range(21)] + [2 * (60 * 21 + 20) + 1])
    assert p.fixed_dofs.tolist() == expected
    assert np.flatnonzero(p.forces).tolist() == [1] and p.forces[1] == -1.0
    assert np.array_equal(np.union1d(p.fixed_dofs, p.free_dofs), np.arange(p.n_dofs))
    assert np.intersect1d(p.fixed_dofs, p.free_dofs).size == 0


@pytest.mark.parametrize(
    ("func", "width", "height", "extras"),
    [
        (problems.mbb_beam, 30, 10, {}),
        (problems.cantilever_beam_full, 30, 15, {"force_position": 0.5}),
        (problems.cantilever_beam_two_point, 20, 16, {}),
        (problems.pure_bending_moment, 12, 24, {}),
        (problems.ground_structure, 20, 20, {}),
        (problems.michell_centered_both, 16, 32, {}),
        (problems.michell_centered_below, 20, 20, {}),
        (problems.l_shape, 20, 20, {"aspect": 0.3}),
        (problems.l_shape, 30, 20, {}),
        (problems.crane, 20, 20, {}),
        (problems.crane, 24, 40, {}),
        (problems.tower, 10, 30, {}),
        (problems.center_support, 20, 20, {}),
        (problems.column, 8, 32, {}),
        (problems.roof, 20, 20, {}),
        (problems.causeway_bridge, 30, 20, {"deck_level": 0.5}),
        (problems.two_level_bridge, 20, 20, {}),
        (problems.two_level_bridge, 30, 20, {}),
        (problems.suspended_bridge, 20, 20, {"span_position": 0.3, "anchored": True}),
        (problems.canyon_bridge, 20, 20, {"deck_level": 0.5}),
        (problems.thin_support_bridge, 20, 20, {}),
        (problems.thin_support_bridge, 30, 20, {}),
        (problems.drawbridge, 20, 20, {}),
        (problems.hoop, 10, 20, {}),
        (problems.dam, 20, 20, {}),
        (problems.ramp, 20, 20, {}),
        (problems.staircase, 20, 40, {"num_stories": 4}),
        (problems.staggered_points, 32, 32, {"interval": 8, "break_symmetry": True}),
        (problems.multistory_building, 16, 64, {"interval": 8}),
    ],
)
def test_category_functions_at_other_sizes(func, width, height, extras):
    p = func(width=width, height=height, density=0.3, **extras)
    category = "ramp" if func is problems.ramp else func.__name__
    assert p.name == f"{category}_{width}x{height}_0.3"
    assert (p.width, p.height, p.density) == (width, height, 0.3)
    assert p.forces.shape == (2 * (width + 1) * (height + 1),)
    assert p.mask.shape == (height, width) and p.mask.any()
    assert p.fixed_dofs.size + p.free_dofs.size == p.n_dofs
    assert np.any(p.forces[p.free_dofs] != 0)
    named = func(width, height, 0.3, **extras, name="variant")
    assert named.name == "variant"
    assert np.array_equal(named.forces, p.forces)


def test_categories_lists_every_function():
    cats = problems.categories()
    expected = {
        "mbb_beam", "cantilever_beam_full", "cantilever_beam_two_point",
        "pure_bending_moment", "ground_structure", "michell_centered_both",
        "michell_centered_below", "l_shape", "crane", "tower", "center_support", "column",
        "roof", "causeway_bridge", "two_level_bridge", "suspended_bridge", "canyon_bridge",
        "thin_support_bridge", "drawbridge", "hoop", "dam", "ramp", "staircase",
        "staggered_points", "multistory_building",
    }  # fmt: skip
    assert set(cats) == expected
    assert all(getattr(problems, name) is func for name, func in cats.items())


def test_ramp_is_one_story_staircase():
    a = problems.ramp(40, 40, 0.3)
    b = problems.staircase(40, 40, 0.3, num_stories=1)
    assert a.name == "ramp_40x40_0.3" and b.name == "staircase_40x40_0.3"
    assert np.array_equal(a.forces, b.forces)
    assert np.array_equal(a.fixed_dofs, b.fixed_dofs)


def test_crane_load_index_wraps_like_python():
    p = problems.crane(64, 64, 0.3)
    # node (round(0.9*64), round(1 - 0.5*64)) = (58, -31) -> j = 65 - 31 = 34
    assert np.flatnonzero(p.forces).tolist() == [2 * (58 * 65 + 34) + 1]


def test_suite_iterator():
    subset = problems.names()[:3]
    assert [p.name for p in problems.suite(subset)] == subset


def test_category_parameter_errors():
    with pytest.raises(InvalidProblemError, match="hoop requires height == 2\\*width"):
        problems.hoop(10, 10, 0.3)
    with pytest.raises(InvalidProblemError, match="aspect"):
        problems.l_shape(20, 20, 0.3, aspect=1.5)
    with pytest.raises(InvalidProblemError, match="num_stories"):
        problems.staircase(20, 20, 0.3, num_stories=0)
    with pytest.raises(InvalidProblemError, match="ground_structure load x index"):
        problems.ground_structure(10, 40, 0.3)
    with pytest.raises(InvalidProblemError, match="mbb_beam: width must be an integer >= 1"):
        problems.mbb_beam(0, 10, 0.3)
    with pytest.raises(InvalidProblemError, match="mbb_beam: density must be .* in \\(0, 1\\)"):
        problems.mbb_beam(10, 10, 1.0)
    with pytest.raises(InvalidProblemError, match="crane: force_position must be .* in \\[0, 1\\]"):
        problems.crane(20, 20, 0.3, force_position=float("nan"))
    with pytest.raises(InvalidProblemError, match="interval must be an integer >= 1"):
        problems.multistory_building(16, 64, 0.3, interval=-8)


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "match"),
    [
        (problems.mbb_beam, ("96", 32, 0.5), {}, "mbb_beam: width must be an integer"),
        (problems.mbb_beam, (96.0, 32, 0.5), {}, "mbb_beam: width must be an integer"),
        (problems.mbb_beam, (96, True, 0.5), {}, "mbb_beam: height must be an integer"),
        (problems.mbb_beam, (96, 32, "0.5"), {}, "mbb_beam: density must be a finite real"),
        (problems.mbb_beam, (96, 32, 0.5 + 0j), {}, "mbb_beam: density must be a finite real"),
        (problems.l_shape, (20, 20, 0.3), {"aspect": "0.3"}, "l_shape: aspect must be"),
        (problems.crane, (20, 20, 0.3), {"force_position": None}, "crane: force_position"),
        (problems.staircase, (20, 20, 0.3), {"num_stories": 3.0}, "staircase: num_stories"),
        (problems.ramp, ("20", 20, 0.3), {}, "ramp: width must be an integer"),
        (problems.staggered_points, (32, 32, 0.3), {"interval": 8.0}, "interval"),
        (problems.staggered_points, (32, 32, 0.3), {"break_symmetry": 1}, "break_symmetry"),
        (problems.suspended_bridge, (20, 20, 0.3), {"anchored": "yes"}, "anchored"),
        (problems.multistory_building, (16, 64, 0.3), {"interval": "8"}, "interval"),
    ],
)
def test_category_type_errors(func, args, kwargs, match):
    """A wrong type is a TypeError (not a ValueError), as everywhere in toposcape."""
    with pytest.raises(TypeError, match=match) as info:
        func(*args, **kwargs)
    assert not isinstance(info.value, ValueError)


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------
def test_get_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match="did you mean 'mbb_beam_96x32_0.5'") as info:
        problems.get("mbb_beam_96x32_0.55")
    assert isinstance(info.value, UnknownNameError) and isinstance(info.value, ValueError)
    assert "toposcape.problems.names()" in str(info.value)
    with pytest.raises(UnknownNameError, match="unknown problem 'no such thing at all'"):
        problems.get("no such thing at all")
    with pytest.raises(TypeError, match="a problem name must be a string"):
        problems.get(3)


def test_get_returns_fresh_equal_problem():
    a = problems.get("mbb_beam_96x32_0.5")
    b = problems.mbb_beam(96, 32, 0.5)
    assert a.name == b.name
    assert np.array_equal(a.forces, b.forces) and np.array_equal(a.fixed_dofs, b.fixed_dofs)


# --------------------------------------------------------------------------------------
# a user's own Problem: well posed, immutable, validated
# --------------------------------------------------------------------------------------
W, H = 6, 4
N_DOFS = 2 * (W + 1) * (H + 1)


def _dof(i: int, j: int, d: int) -> int:
    return 2 * (i * (H + 1) + j) + d


def _cantilever_fixed() -> list[int]:
    return [_dof(0, j, d) for j in range(H + 1) for d in (0, 1)]


def _tip_load() -> np.ndarray:
    f = np.zeros(N_DOFS)
    f[_dof(W, H, 1)] = -1.0
    return f


def test_custom_problem_well_posed():
    fixed = _cantilever_fixed()[::-1] + [0, 0]  # unsorted with duplicates
    p = Problem(width=W, height=H, density=0.4, fixed_dofs=fixed, forces=_tip_load())
    assert p.name == "custom_6x4_0.4"
    assert p.fixed_dofs.tolist() == sorted(set(fixed))
    assert p.free_dofs.size == N_DOFS - 2 * (H + 1)
    assert p.mask.all() and p.mask.shape == (H, W)
    assert p.n_dofs == N_DOFS and p.n_elements == W * H
    assert "custom_6x4_0.4" in repr(p)
    # node-shaped loads, float-valued integral DOFs and 0/1 masks are accepted too
    q = Problem(
        W,
        H,
        0.4,
        np.array(_cantilever_fixed(), dtype=float),
        _tip_load().reshape(W + 1, H + 1, 2),
        mask=np.ones((H, W), dtype=np.uint8),
        name="mine",
    )
    assert q.name == "mine" and np.array_equal(q.forces, p.forces)


def test_from_node_arrays():
    fixed = np.zeros((W + 1, H + 1, 2), dtype=bool)
    fixed[0] = True
    p = Problem.from_node_arrays(fixed, _tip_load().reshape(W + 1, H + 1, 2), 0.4)
    assert (p.width, p.height) == (W, H)
    assert p.fixed_dofs.tolist() == sorted(_cantilever_fixed())


def test_problem_is_read_only():
    p = problems.get("l_shape_0.2_64x64_0.4")
    for arr in (p.mask, p.fixed_dofs, p.free_dofs, p.forces):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1
    with pytest.raises(AttributeError):
        p.density = 0.5
    with pytest.raises(AttributeError):
        p.forces = np.zeros(p.n_dofs)


def test_constructor_copies_inputs():
    forces = _tip_load()
    mask = np.ones((H, W), dtype=bool)
    p = Problem(W, H, 0.4, _cantilever_fixed(), forces, mask=mask)
    forces[:] = 7.0
    mask[:] = False
    assert p.forces[_dof(W, H, 1)] == -1.0 and p.mask.all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0}, "Problem: width must be an integer >= 1, got 0"),
        ({"width": -3}, "Problem: width must be an integer >= 1, got -3"),
        ({"height": np.int64(0)}, "Problem: height must be an integer >= 1"),
        ({"density": 0.0}, "density must be a finite real number in \\(0, 1\\), got 0.0"),
        ({"density": 1.0}, "density must be a finite real number in \\(0, 1\\), got 1.0"),
        ({"density": float("nan")}, "density must be a finite real number .*, got nan"),
        ({"density": float("inf")}, "density must be a finite real number .*, got inf"),
        ({"fixed_dofs": [0, 1.5]}, "integer-valued: fixed_dofs\\[1\\] = 1.5"),
        ({"fixed_dofs": [0, 1, N_DOFS]}, f"fixed_dofs\\[2\\] = {N_DOFS} is out of range"),
        ({"fixed_dofs": [-1, 0]}, "fixed_dofs\\[0\\] = -1 is out of range"),
        ({"fixed_dofs": [[0, 1]]}, "1-D"),
        ({"forces": np.zeros(N_DOFS - 1)}, f"forces must have length exactly .* = {N_DOFS}"),
        ({"forces": np.full(N_DOFS, np.inf)}, "forces must be finite: forces\\[0\\]"),
        ({"forces": np.zeros(N_DOFS)}, "no nonzero load acts on a free DOF"),
        ({"forces": np.eye(1, N_DOFS, 1)[0]}, "no nonzero load acts on a free DOF"),
        ({"mask": np.ones((W, H))}, "mask must have shape \\(H, W\\) = \\(4, 6\\)"),
        ({"mask": np.full((H, W), 2)}, "mask values must be 0/1 or bool"),
        ({"mask": np.zeros((H, W), dtype=bool)}, "mask has no designable cell"),
    ],
)
def test_invalid_problem(kwargs, match):
    args = {
        "width": W,
        "height": H,
        "density": 0.4,
        "fixed_dofs": _cantilever_fixed(),
        "forces": _tip_load(),
    }
    if "width" in kwargs or "height" in kwargs:
        args["fixed_dofs"], args["forces"] = [], []  # sizes are checked first
    args.update(kwargs)
    with pytest.raises(InvalidProblemError, match=match) as info:
        Problem(**args)
    assert not isinstance(info.value, UnderconstrainedProblemError)
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": "6"}, "Problem: width must be an integer >= 1, got '6' \\(str\\)"),
        ({"height": 4.0}, "Problem: height must be an integer >= 1, got 4.0 \\(float\\)"),
        ({"width": True}, "Problem: width must be an integer"),
        ({"density": "0.3"}, "Problem: density must be a finite real number"),
        ({"density": None}, "Problem: density must be a finite real number"),
        ({"fixed_dofs": np.ones(N_DOFS, dtype=bool)}, "boolean array .*numpy.flatnonzero"),
        ({"fixed_dofs": np.array([0, 1], dtype=complex)}, "fixed_dofs .* complex array"),
        ({"fixed_dofs": np.array([0, 1], dtype=object)}, "fixed_dofs .* object array"),
        ({"fixed_dofs": ["0", "1"]}, "fixed_dofs .* string array"),
        ({"fixed_dofs": "0 1"}, "fixed_dofs must be integer DOF indices, got '0 1'"),
        ({"fixed_dofs": None}, "fixed_dofs must be integer DOF indices, got None"),
        ({"forces": np.zeros(N_DOFS, dtype=complex)}, "forces .* complex array.*take .real"),
        ({"forces": np.zeros(N_DOFS, dtype=object)}, "forces .* object array"),
        ({"forces": [[0.0], [0.0, 1.0]]}, "forces must be an array of real numbers \\("),
        ({"mask": np.ones((H, W), dtype=complex)}, "mask .* complex array"),
        ({"mask": np.full((H, W), "1")}, "mask .* string array"),
        ({"name": 3}, "Problem: name must be a str, got 3 \\(int\\)"),
    ],
)
def test_problem_type_errors(kwargs, match):
    """Wrong types are TypeErrors (the layer's convention), not InvalidProblemErrors."""
    args = {
        "width": W,
        "height": H,
        "density": 0.4,
        "fixed_dofs": _cantilever_fixed(),
        "forces": _tip_load(),
    }
    args.update(kwargs)
    with pytest.raises(TypeError, match=match) as info:
        Problem(**args)
    assert not isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("fixed", "match"),
    [
        ([], "translation in x, translation in y, rotation"),
        ([_dof(2, 2, 0), _dof(2, 2, 1)], "rotation \\(about the point x=2, y=2\\)"),
        ([_dof(0, j, 0) for j in range(H + 1)], "free: translation in y \\("),
        ([_dof(i, H, 1) for i in range(W + 1)], "free: translation in x \\("),
        ([_dof(3, 1, 0)], "translation in y, rotation"),
        ([_dof(i, 2, 0) for i in range(W + 1)] + [_dof(4, 2, 1)], "rotation \\(about"),
        ([_dof(4, j, 1) for j in range(H + 1)] + [_dof(4, 0, 0)], "rotation \\(about"),
    ],
)
def test_underconstrained_supports(fixed, match):
    forces = np.ones(N_DOFS)
    with pytest.raises(UnderconstrainedProblemError, match="rigid-body motion free") as info:
        Problem(W, H, 0.4, fixed, forces)
    assert info.match(match)


@pytest.mark.parametrize(
    "fixed",
    [
        [_dof(0, 0, 0), _dof(0, 0, 1), _dof(W, 0, 1)],  # pin + roller
        [_dof(0, j, 0) for j in range(H + 1)] + [_dof(W, H, 1)],  # MBB-like
        [_dof(0, 0, 0), _dof(0, 1, 0), _dof(3, 3, 1)],  # two x on one line + one y
    ],
)
def test_minimal_supports_are_accepted(fixed):
    p = Problem(W, H, 0.4, fixed, np.ones(N_DOFS))
    assert p.fixed_dofs.size == len(fixed)
