"""2D compliance problems on a structured grid, and the 116-problem benchmark suite.

The suite is the one of Hoyer, Sohl-Dickstein and Greydanus, "Neural reparameterization
improves structural optimization" (2019). Every instance is built by a parameterized
category function (so any size can be made), and :func:`get` / :func:`names` expose the
116 named instances.

Conventions
-----------
- The domain is ``W x H`` unit-square elements: ``W = width`` along x, ``H = height`` along y.
- Nodes are indexed ``(i, j)`` with ``i in [0, W]`` along x and ``j in [0, H]`` along y;
  ``j = 0`` is the **top** edge and ``j = H`` the **bottom** edge.
- Node arrays have shape ``(W+1, H+1, 2)``; the last axis is the displacement component
  (``0`` = x, ``1`` = y). Flattening is C order, so the degree of freedom (DOF) of
  ``(i, j, d)`` is ``2*(i*(H+1) + j) + d`` (the numbering of the classic 88-line MATLAB code).
- Element densities and the design mask have shape ``(H, W)``: row = y, column = x.
- Loads are nodal forces in units of the (unit) Young's modulus times the unit element
  edge length; they only matter up to scale for compliance comparisons.
- "round" is Python's built-in :func:`round` (ties go to even), and negative node indices
  wrap around as in Python, exactly as in the reference implementation.
- A problem's name is ``f"{category}_{W}x{H}_{density}"`` with Python's float repr; suite
  variants use their own category label (e.g. ``"l_shape_0.2"``, ``"causeway_bridge_top"``).
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidProblemError, UnderconstrainedProblemError

__all__ = [
    "Problem",
    "names",
    "get",
    "suite",
    "categories",
    "mbb_beam",
    "cantilever_beam_full",
    "cantilever_beam_two_point",
    "pure_bending_moment",
    "ground_structure",
    "michell_centered_both",
    "michell_centered_below",
    "l_shape",
    "crane",
    "tower",
    "center_support",
    "column",
    "roof",
    "causeway_bridge",
    "two_level_bridge",
    "suspended_bridge",
    "canyon_bridge",
    "thin_support_bridge",
    "drawbridge",
    "hoop",
    "dam",
    "ramp",
    "staircase",
    "staggered_points",
    "multistory_building",
]

_X, _Y = 0, 1


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------
def _check_size(value: Any, what: str) -> int:
    """A positive Python int from an integer-typed value, else InvalidProblemError."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidProblemError(f"{what} must be a positive integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise InvalidProblemError(
            f"{what} must be a positive integer, got {value!r} ({type(value).__name__})"
        ) from None
    if n <= 0:
        raise InvalidProblemError(f"{what} must be a positive integer, got {n}")
    return int(n)


def _check_density(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidProblemError(f"density must be a real number in (0, 1), got {value!r}")
    d = float(value)
    if not math.isfinite(d):
        raise InvalidProblemError(f"density must be finite, got {d!r}")
    if not 0.0 < d < 1.0:
        raise InvalidProblemError(f"density must be strictly inside (0, 1), got {d!r}")
    return d


def _check_fraction(value: Any, what: str) -> float:
    """A real number in [0, 1] (a relative position along an edge)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidProblemError(f"{what} must be a real number in [0, 1], got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise InvalidProblemError(f"{what} must be in [0, 1], got {v!r}")
    return value


def _check_flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidProblemError(f"{what} must be a bool, got {value!r}")
    return bool(value)


def _node_index(k: int, n: int, what: str) -> int:
    """Python-style index ``k`` into an axis of length ``n`` (negative wraps around)."""
    if not -n <= k < n:
        raise InvalidProblemError(
            f"{what} = {k} is outside the node axis of length {n} for these parameters"
        )
    return k % n


def _rigid_body_modes(width: int, height: int, fixed_dofs: NDArray[np.int64]) -> NDArray:
    """The ``(n_fixed, 3)`` restriction of the rigid-body modes to the fixed DOFs.

    Columns: translation x ``u=(1,0)``, translation y ``u=(0,1)`` and rotation
    ``u=(-y, x)``, with node coordinates ``(x, y) = (i, j)`` centred on the domain.
    """
    node, comp = np.divmod(fixed_dofs, 2)
    i, j = np.divmod(node, height + 1)
    x = i - width / 2.0
    y = j - height / 2.0
    is_x = comp == _X
    modes = np.zeros((fixed_dofs.size, 3))
    modes[:, 0] = is_x
    modes[:, 1] = ~is_x
    modes[:, 2] = np.where(is_x, -y, x)
    return modes


def _free_rigid_motions(width: int, height: int, fixed_dofs: NDArray[np.int64]) -> list[str]:
    """Human-readable rigid-body motions the supports leave free (empty when well posed)."""
    if fixed_dofs.size == 0:
        return ["translation in x", "translation in y", "rotation"]
    modes = _rigid_body_modes(width, height, fixed_dofs)
    rank = int(np.linalg.matrix_rank(modes))
    if rank == 3:
        return []
    free = []
    if not modes[:, 0].any():
        free.append("translation in x")
    if not modes[:, 1].any():
        free.append("translation in y")
    if len(free) < 3 - rank:
        if rank == 2 and not free:
            # Both translations are blocked: the null vector is a rotation about a point.
            _, _, vt = np.linalg.svd(modes)
            a, b, c = vt[-1]
            x0 = round(-b / c + width / 2.0, 6) + 0.0
            y0 = round(a / c + height / 2.0, 6) + 0.0
            free.append(f"rotation (about the point x={x0:g}, y={y0:g})")
        else:
            free.append("rotation")
    return free


def _freeze(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# --------------------------------------------------------------------------------------
# Problem
# --------------------------------------------------------------------------------------
class Problem:
    """An immutable 2D compliance-minimization problem on a ``W x H`` element grid.

    Parameters
    ----------
    width, height : int
        Number of elements along x (``W``) and y (``H``); positive.
    density : float
        Target volume fraction, strictly inside ``(0, 1)``.
    fixed_dofs : array_like of int, shape (n_fixed,)
        Flat indices of fixed (supported) degrees of freedom, each in ``[0, n_dofs)``
        with ``n_dofs = 2*(W+1)*(H+1)``; the DOF of node ``(i, j)``, component ``d`` is
        ``2*(i*(H+1) + j) + d``. Duplicates are removed and the result sorted.
    forces : array_like of float, shape (n_dofs,) or (W+1, H+1, 2)
        Nodal loads (force per unit thickness, unit-modulus units). A node-shaped array is
        flattened in C order. At least one nonzero load must act on a free DOF; loads on
        fixed DOFs are kept but are reactions and do no work.
    mask : array_like of bool, shape (H, W), optional
        Design mask, ``True`` (or 1) where material may be placed. ``None``: all designable.
    name : str, optional
        Defaults to ``f"custom_{W}x{H}_{density}"``.

    Attributes
    ----------
    name : str
    width, height : int
    density : float
    mask : ndarray of bool, shape (H, W), read-only
    fixed_dofs : ndarray of int64, shape (n_fixed,), sorted, unique, read-only
    free_dofs : ndarray of int64, shape (n_dofs - n_fixed,), sorted, read-only
    forces : ndarray of float64, shape (n_dofs,), read-only

    Raises
    ------
    InvalidProblemError
        A size, the density, a DOF index, the loads or the mask is invalid.
    UnderconstrainedProblemError
        The supports leave a rigid-body motion (translation in x or y, or a rotation)
        free, so the stiffness matrix would be singular.
    """

    __slots__ = ("_name", "_width", "_height", "_density", "_mask", "_fixed", "_free", "_forces")

    def __init__(
        self,
        width: int,
        height: int,
        density: float,
        fixed_dofs: ArrayLike,
        forces: ArrayLike,
        mask: ArrayLike | None = None,
        name: str | None = None,
    ) -> None:
        w = _check_size(width, "width")
        h = _check_size(height, "height")
        d = _check_density(density)
        n_dofs = 2 * (w + 1) * (h + 1)
        grid = f"{w}x{h} grid (n_dofs = 2*(W+1)*(H+1) = {n_dofs})"

        # fixed DOFs
        fd = np.atleast_1d(np.asarray(fixed_dofs))
        if fd.ndim != 1:
            raise InvalidProblemError(
                f"fixed_dofs must be a 1-D sequence of DOF indices, got shape {fd.shape}"
            )
        if fd.size == 0:
            fd = np.zeros(0, dtype=np.int64)
        elif fd.dtype.kind == "b":
            raise InvalidProblemError(
                "fixed_dofs must be integer DOF indices, got a boolean array "
                "(use numpy.flatnonzero to convert a boolean support mask)"
            )
        elif fd.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(fd) | (fd != np.round(fd)))
            if bad.size:
                k = int(bad[0])
                raise InvalidProblemError(
                    f"fixed_dofs must be integer-valued: fixed_dofs[{k}] = {fd[k].item()!r}"
                )
        elif fd.dtype.kind not in "iu":
            raise InvalidProblemError(f"fixed_dofs must be integers, got dtype {fd.dtype}")
        if fd.size:
            out = np.flatnonzero((fd < 0) | (fd >= n_dofs))
            if out.size:
                k = int(out[0])
                raise InvalidProblemError(
                    f"fixed_dofs[{k}] = {fd[k].item()!r} is out of range [0, {n_dofs}) for a {grid}"
                )
        fixed = np.unique(fd.astype(np.int64))

        # forces
        f = np.asarray(forces)
        if f.dtype.kind not in "iuf":
            raise InvalidProblemError(f"forces must be real numbers, got dtype {f.dtype}")
        if f.shape == (w + 1, h + 1, 2):
            f = f.reshape(-1)
        if f.ndim != 1 or f.size != n_dofs:
            raise InvalidProblemError(
                f"forces must have length exactly 2*(W+1)*(H+1) = {n_dofs} for a {grid}, "
                f"got shape {f.shape}"
            )
        f = np.array(f, dtype=np.float64)
        nonfinite = np.flatnonzero(~np.isfinite(f))
        if nonfinite.size:
            k = int(nonfinite[0])
            raise InvalidProblemError(f"forces must be finite: forces[{k}] = {f[k].item()!r}")

        # mask
        if mask is None:
            m = np.ones((h, w), dtype=bool)
        else:
            m = np.asarray(mask)
            if m.shape != (h, w):
                raise InvalidProblemError(f"mask must have shape (H, W) = {(h, w)}, got {m.shape}")
            if m.dtype.kind not in "biuf":
                raise InvalidProblemError(f"mask must be boolean or 0/1, got dtype {m.dtype}")
            if m.dtype.kind != "b" and not np.all((m == 0) | (m == 1)):
                raise InvalidProblemError("mask values must be 0/1 or bool")
            m = np.array(m, dtype=bool)
            if not m.any():
                raise InvalidProblemError("mask has no designable cell (all values are 0)")

        # well-posedness
        free_motions = _free_rigid_motions(w, h, fixed)
        if free_motions:
            raise UnderconstrainedProblemError(
                "supports leave rigid-body motion free: "
                + ", ".join(free_motions)
                + " (the stiffness matrix would be singular)"
            )
        is_free = np.ones(n_dofs, dtype=bool)
        is_free[fixed] = False
        if not np.any(f[is_free] != 0.0):
            raise InvalidProblemError(
                "no nonzero load acts on a free DOF: the problem is trivial "
                "(zero displacement and zero compliance)"
            )

        if name is None:
            name = f"custom_{w}x{h}_{d}"
        elif not isinstance(name, str):
            raise InvalidProblemError(f"name must be a str, got {name!r}")

        setattr_ = object.__setattr__
        setattr_(self, "_name", name)
        setattr_(self, "_width", w)
        setattr_(self, "_height", h)
        setattr_(self, "_density", d)
        setattr_(self, "_mask", _freeze(m))
        setattr_(self, "_fixed", _freeze(fixed))
        setattr_(self, "_free", _freeze(np.flatnonzero(is_free).astype(np.int64)))
        setattr_(self, "_forces", _freeze(f))

    @classmethod
    def from_node_arrays(
        cls,
        fixed: ArrayLike,
        forces: ArrayLike,
        density: float,
        mask: ArrayLike | None = None,
        name: str | None = None,
    ) -> Problem:
        """Build a problem from node-shaped support and load arrays.

        Parameters
        ----------
        fixed : array_like, shape (W+1, H+1, 2)
            Nonzero where a degree of freedom is fixed.
        forces : array_like of float, shape (W+1, H+1, 2)
            Nodal loads.
        density : float
            Target volume fraction in ``(0, 1)``.
        mask : array_like of bool, shape (H, W), optional
            Design mask; ``None``: all designable.
        name : str, optional
            Problem name; defaults to ``f"custom_{W}x{H}_{density}"``.

        Returns
        -------
        Problem
        """
        fixed = np.asarray(fixed)
        if fixed.ndim != 3 or fixed.shape[2] != 2 or min(fixed.shape[:2]) < 2:
            raise InvalidProblemError(
                f"fixed must have shape (W+1, H+1, 2) with W, H >= 1, got {fixed.shape}"
            )
        forces = np.asarray(forces)
        if forces.shape != fixed.shape:
            raise InvalidProblemError(
                f"forces must have the shape of fixed {fixed.shape}, got {forces.shape}"
            )
        width, height = fixed.shape[0] - 1, fixed.shape[1] - 1
        return cls(
            width,
            height,
            density,
            np.flatnonzero(fixed.reshape(-1)),
            forces.reshape(-1),
            mask=mask,
            name=name,
        )

    # read-only attributes ------------------------------------------------------------
    @property
    def name(self) -> str:
        """Problem name, ``f"{category}_{W}x{H}_{density}"`` for library problems."""
        return self._name

    @property
    def width(self) -> int:
        """Number of elements along x, ``W``."""
        return self._width

    @property
    def height(self) -> int:
        """Number of elements along y, ``H``."""
        return self._height

    @property
    def density(self) -> float:
        """Target volume fraction in ``(0, 1)``."""
        return self._density

    @property
    def mask(self) -> NDArray[np.bool_]:
        """Design mask, bool, shape ``(H, W)``, ``True`` = designable (read-only)."""
        return self._mask

    @property
    def fixed_dofs(self) -> NDArray[np.int64]:
        """Sorted unique flat indices of the fixed DOFs, int64 (read-only)."""
        return self._fixed

    @property
    def free_dofs(self) -> NDArray[np.int64]:
        """Sorted flat indices of the free DOFs (complement of ``fixed_dofs``), int64."""
        return self._free

    @property
    def forces(self) -> NDArray[np.float64]:
        """Nodal loads, float64, shape ``(n_dofs,)`` (read-only)."""
        return self._forces

    @property
    def n_dofs(self) -> int:
        """Number of degrees of freedom, ``2*(W+1)*(H+1)``."""
        return 2 * (self._width + 1) * (self._height + 1)

    @property
    def n_elements(self) -> int:
        """Number of elements, ``W*H``."""
        return self._width * self._height

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Problem is immutable: cannot set {key!r}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Problem is immutable: cannot delete {key!r}")

    def __repr__(self) -> str:
        return (
            f"Problem(name={self._name!r}, width={self._width}, height={self._height}, "
            f"density={self._density!r}, n_fixed={self._fixed.size}, "
            f"n_loaded={int(np.count_nonzero(self._forces))}, "
            f"designable={int(self._mask.sum())}/{self.n_elements})"
        )


# --------------------------------------------------------------------------------------
# drawing primitives (exact ports of scikit-image's line_aa and circle_perimeter_aa)
# --------------------------------------------------------------------------------------
def _line_aa(r0: int, c0: int, r1: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased line from ``(r0, c0)`` to ``(r1, c1)`` (Zingl's algorithm).

    Same pixels, order and float64 values as ``skimage.draw.line_aa``.

    Returns
    -------
    rr, cc : ndarray of intp, shape (n,)
    val : ndarray of float64, shape (n,), intensities in [0, 1]
    """
    rr: list[int] = []
    cc: list[int] = []
    val: list[float] = []
    dc = abs(c0 - c1)
    dr = abs(r0 - r1)
    err = dc - dr
    sign_c = 1 if c0 < c1 else -1
    sign_r = 1 if r0 < r1 else -1
    ed = 1.0 if dc + dr == 0 else math.sqrt(dc * dc + dr * dr)
    c, r = c0, r0
    while True:
        cc.append(c)
        rr.append(r)
        val.append(abs(err - dc + dr) / ed)
        err_prev, c_prev = err, c
        if 2 * err_prev >= -dc:
            if c == c1:
                break
            if err_prev + dr < ed:
                cc.append(c)
                rr.append(r + sign_r)
                val.append(abs(err_prev + dr) / ed)
            err -= dr
            c += sign_c
        if 2 * err_prev <= dr:
            if r == r1:
                break
            if dc - err_prev < ed:
                cc.append(c_prev + sign_c)
                rr.append(r)
                val.append(abs(dc - err_prev) / ed)
            err += dc
            r += sign_r
    return (
        np.array(rr, dtype=np.intp),
        np.array(cc, dtype=np.intp),
        1.0 - np.array(val, dtype=np.float64),
    )


def _circle_perimeter_aa(
    r_o: int, c_o: int, radius: int, shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased circle perimeter of centre ``(r_o, c_o)`` (Xiaolin Wu's algorithm).

    Same pixels, order and float64 values as ``skimage.draw.circle_perimeter_aa``;
    with ``shape`` given, pixels outside ``[0, shape[0]) x [0, shape[1])`` are dropped.

    Returns
    -------
    rr, cc : ndarray of intp, shape (n,)
    val : ndarray of float64, shape (n,), intensities in [0, 1]
    """
    x, y = 0, radius
    dceil_prev = 0.0
    rr = [y, x, y, x, -y, -x, -y, -x]
    cc = [x, y, -x, -y, x, y, -x, -y]
    val = [1.0] * 8
    while y > x + 1:
        x += 1
        dceil = math.sqrt(radius * radius - x * x)
        dceil = math.ceil(dceil) - dceil
        if dceil < dceil_prev:
            y -= 1
        rr.extend([y, y - 1, x, x, y, y - 1, x, x])
        cc.extend([x, x, y, y - 1, -x, -x, -y, 1 - y])
        rr.extend([-y, 1 - y, -x, -x, -y, 1 - y, -x, -x])
        cc.extend([x, x, y, y - 1, -x, -x, -y, 1 - y])
        val.extend([1 - dceil, dceil] * 8)
        dceil_prev = dceil
    rows = np.array(rr, dtype=np.intp) + r_o
    cols = np.array(cc, dtype=np.intp) + c_o
    vals = np.array(val, dtype=np.float64)
    if shape is not None:
        keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    return rows, cols, vals


def _last_occurrence(i: np.ndarray, j: np.ndarray, n_j: int) -> np.ndarray:
    """Positions of the last occurrence of each distinct ``(i, j)`` pair.

    Mirrors numpy's fancy assignment ``a[i, j] = v`` with repeated indices (last wins).
    """
    flat = i * n_j + j
    _, first_in_reversed = np.unique(flat[::-1], return_index=True)
    return flat.size - 1 - first_in_reversed


# --------------------------------------------------------------------------------------
# category functions
# --------------------------------------------------------------------------------------
def _node_arrays(width: Any, height: Any, density: Any) -> tuple[int, int, float, Any, Any]:
    w = _check_size(width, "width")
    h = _check_size(height, "height")
    d = _check_density(density)
    shape = (w + 1, h + 1, 2)
    return w, h, d, np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.float64)


def _make(category: str, w: int, h: int, d: float, fixed, forces, mask, name) -> Problem:
    if name is None:
        name = f"{category}_{w}x{h}_{d}"
    return Problem(
        w, h, d, np.flatnonzero(fixed.reshape(-1)), forces.reshape(-1), mask=mask, name=name
    )


_COMMON_PARAMS = """width, height : int
        Number of elements along x and y.
    density : float
        Target volume fraction in (0, 1)."""

_RETURNS = """Returns
    -------
    Problem
        Named ``f"{category}_{W}x{H}_{density}"`` unless ``name`` is given."""


def _doc(func: Callable) -> Callable:
    if func.__doc__:  # None under python -OO
        doc = func.__doc__.replace("{common}", _COMMON_PARAMS)
        func.__doc__ = doc.replace("{returns}", _RETURNS)
    return func


@_doc
def mbb_beam(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """MBB beam (half model): roller on the left edge, loaded at the top-left corner.

    Left edge ``i=0`` fixed in x; node ``(W, H)`` fixed in y; force -1 in y at ``(0, 0)``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[-1, -1, _Y] = True
    fixed[0, :, _X] = True
    forces[0, 0, _Y] = -1
    return _make("mbb_beam", w, h, d, fixed, forces, None, name)


@_doc
def cantilever_beam_full(
    width: int,
    height: int,
    density: float,
    force_position: float = 0,
    *,
    name: str | None = None,
) -> Problem:
    """Cantilever clamped on the whole left edge, point load on the right edge.

    Left edge fixed in x and y; force -1 in y at ``(W, round((1-force_position)*H))``.

    Parameters
    ----------
    {common}
    force_position : float, default 0
        Height of the load, 0 = bottom, 1 = top, as a fraction of ``H``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(force_position, "force_position")
    fixed[0, :, :] = True
    forces[-1, round((1 - force_position) * h), _Y] = -1
    return _make("cantilever_beam_full", w, h, d, fixed, forces, None, name)


@_doc
def cantilever_beam_two_point(
    width: int,
    height: int,
    density: float,
    support_position: float = 0.25,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """Cantilever pinned at two points of the left edge, point load on the right edge.

    Nodes ``(0, round(H*(1-s)))`` and ``(0, round(H*s))`` fixed in x and y
    (``s = support_position``); force -1 in y at ``(W, round((1-force_position)*H))``.

    Parameters
    ----------
    {common}
    support_position : float, default 0.25
        Fraction of ``H`` locating the two supports symmetrically.
    force_position : float, default 0.5
        Height of the load as a fraction of ``H`` (0 = bottom).
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(support_position, "support_position")
    _check_fraction(force_position, "force_position")
    fixed[0, round(h * (1 - support_position)), :] = True
    fixed[0, round(h * support_position), :] = True
    forces[-1, round((1 - force_position) * h), _Y] = -1
    return _make("cantilever_beam_two_point", w, h, d, fixed, forces, None, name)


@_doc
def pure_bending_moment(
    width: int,
    height: int,
    density: float,
    support_position: float = 0.45,
    *,
    name: str | None = None,
) -> Problem:
    """A couple of horizontal forces on the left edge, right edge on rollers.

    Right edge fixed in x; ``(0, round(H*(1-s)))`` and ``(0, round(H*s))`` fixed in y;
    force +1 in x at the first and -1 in x at the second (``s = support_position``).

    Parameters
    ----------
    {common}
    support_position : float, default 0.45
        Fraction of ``H`` locating the two loaded supports symmetrically.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(support_position, "support_position")
    fixed[-1, :, _X] = True
    fixed[0, round(h * (1 - support_position)), _Y] = True
    fixed[0, round(h * support_position), _Y] = True
    forces[0, round(h * (1 - support_position)), _X] = 1
    forces[0, round(h * support_position), _X] = -1
    return _make("pure_bending_moment", w, h, d, fixed, forces, None, name)


@_doc
def ground_structure(
    width: int,
    height: int,
    density: float,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """Point load on the bottom edge, bottom-left corner pinned, right edge on rollers.

    Right edge fixed in x; ``(0, H)`` fixed in x and y; force -1 in y at
    ``(round(force_position*H), H)``. As in the reference implementation the load's x
    index scales with ``H``, not ``W`` (the suite's instances are square).

    Parameters
    ----------
    {common}
    force_position : float, default 0.5
        Load position; ``round(force_position*H)`` must be a valid x node index.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(force_position, "force_position")
    fixed[-1, :, _X] = True
    fixed[0, -1, :] = True
    i = _node_index(round(force_position * h), w + 1, "ground_structure load x index")
    forces[i, -1, _Y] = -1
    return _make("ground_structure", w, h, d, fixed, forces, None, name)


@_doc
def michell_centered_both(
    width: int,
    height: int,
    density: float,
    position: float = 0.05,
    *,
    name: str | None = None,
) -> Problem:
    """Michell-type structure: point support and point load both at mid-height.

    ``(round(position*W), round(H/2))`` fixed in y; right edge fixed in x (symmetry
    plane); force -1 in y at ``(W, round(H/2))``.

    Parameters
    ----------
    {common}
    position : float, default 0.05
        x position of the support as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(position, "position")
    fixed[round(position * w), round(h / 2), _Y] = True
    fixed[-1, :, _X] = True
    forces[-1, round(h / 2), _Y] = -1
    return _make("michell_centered_both", w, h, d, fixed, forces, None, name)


@_doc
def michell_centered_below(
    width: int,
    height: int,
    density: float,
    position: float = 0.25,
    *,
    name: str | None = None,
) -> Problem:
    """Michell-type structure: support and load on the top edge.

    ``(round(position*W), 0)`` fixed in y; right edge fixed in x; force -1 in y at
    ``(W, 0)``.

    Parameters
    ----------
    {common}
    position : float, default 0.25
        x position of the support as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(position, "position")
    fixed[round(position * w), 0, _Y] = True
    fixed[-1, :, _X] = True
    forces[-1, 0, _Y] = -1
    return _make("michell_centered_below", w, h, d, fixed, forces, None, name)


@_doc
def l_shape(
    width: int,
    height: int,
    density: float,
    aspect: float = 0.4,
    force_position: float = 0.5,
    *,
    name: str | None = None,
) -> Problem:
    """L-shaped design domain hanging from the top edge, loaded at the arm's tip.

    Nodes ``i < round(aspect*W)`` on ``j=0`` fixed in x and y; force -1 in y at
    ``(W, round((1-aspect*force_position)*H))``. The mask is built as ``m`` of shape
    ``(W, H)`` with ``m[round(H*aspect):, :round(W*(1-aspect))] = 0`` and transposed.

    Parameters
    ----------
    {common}
    aspect : float, default 0.4
        Relative thickness of the L's arms.
    force_position : float, default 0.5
        Position of the load across the horizontal arm.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(aspect, "aspect")
    _check_fraction(force_position, "force_position")
    fixed[: round(aspect * w), 0, :] = True
    forces[-1, round((1 - aspect * force_position) * h), _Y] = -1
    m = np.ones((w, h), dtype=bool)
    m[round(h * aspect) :, : round(w * (1 - aspect))] = False
    return _make("l_shape", w, h, d, fixed, forces, m.T, name)


@_doc
def crane(
    width: int,
    height: int,
    density: float,
    aspect: float = 0.5,
    force_position: float = 0.9,
    *,
    name: str | None = None,
) -> Problem:
    """Crane: a column clamped on the bottom edge carrying a jib, load under the jib.

    Bottom edge ``j=H`` fixed in x and y; force -1 in y at node
    ``(round(force_position*W), round(1-aspect*H))`` where the (negative) second index
    wraps around as in Python; mask ``m`` of shape ``(W, H)`` with
    ``m[round(aspect*W):, round(H*aspect)+2:] = 0``, transposed.

    Parameters
    ----------
    {common}
    aspect : float, default 0.5
        Relative size of the jib.
    force_position : float, default 0.9
        x position of the load as a fraction of ``W``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(aspect, "aspect")
    _check_fraction(force_position, "force_position")
    fixed[:, -1, :] = True
    j = _node_index(round(1 - aspect * h), h + 1, "crane load y index")
    forces[round(force_position * w), j, _Y] = -1
    m = np.ones((w, h), dtype=bool)
    m[round(aspect * w) :, round(h * aspect) + 2 :] = False
    return _make("crane", w, h, d, fixed, forces, m.T, name)


@_doc
def tower(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Tower (half model): bottom edge on rollers, load at the top-left corner.

    Bottom edge fixed in y; left edge fixed in x; force -1 in y at ``(0, 0)``.
    Not part of the 116-problem suite.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    forces[0, 0, _Y] = -1
    return _make("tower", w, h, d, fixed, forces, None, name)


@_doc
def center_support(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Distributed load on the top edge carried by a single central support (half model).

    ``(W, H)`` fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[-1, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    return _make("center_support", w, h, d, fixed, forces, None, name)


@_doc
def column(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Column under a distributed top load, on rollers at the bottom (half model).

    Bottom edge fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[:, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    return _make("column", w, h, d, fixed, forces, None, name)


@_doc
def roof(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Roof: distributed top load, walls on both sides and rollers at the bottom.

    Left and right edges fixed in x; bottom edge fixed in y; force ``-1/W`` in y along
    ``j=0``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    fixed[:, -1, _Y] = True
    forces[:, 0, _Y] = -1 / w
    return _make("roof", w, h, d, fixed, forces, None, name)


@_doc
def causeway_bridge(
    width: int,
    height: int,
    density: float,
    deck_level: float = 1,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge deck at a given level, one pier at the bottom-right corner.

    ``(W, H)`` fixed in y; left and right edges fixed in x; force ``-1/W`` in y on every
    node of row ``j = round(H*(1-deck_level))``.

    Parameters
    ----------
    {common}
    deck_level : float, default 1
        Deck height as a fraction of ``H`` (1 = top edge).
    name : str, optional
        Override of the problem name (the suite uses ``causeway_bridge_top``,
        ``_middle`` and ``_low``).

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(deck_level, "deck_level")
    fixed[-1, -1, _Y] = True
    fixed[-1, :, _X] = True
    fixed[0, :, _X] = True
    forces[:, round(h * (1 - deck_level)), _Y] = -1 / w
    return _make("causeway_bridge", w, h, d, fixed, forces, None, name)


@_doc
def two_level_bridge(
    width: int,
    height: int,
    density: float,
    deck_height: float = 0.2,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge with two loaded decks, pinned at the bottom-left corner.

    ``(0, H)`` fixed in x and y; left and right edges fixed in x; force ``-1/(2W)`` in
    **both** x and y on rows ``round(H*(1-deck_height)/2)`` and
    ``round(H*(1+deck_height)/2)``.

    The reference implementation builds its node arrays with ``W`` for both axes (its
    instances are square); here they are ``(W+1, H+1, 2)``, which is identical for
    square grids and well defined for the others.

    Parameters
    ----------
    {common}
    deck_height : float, default 0.2
        Vertical distance between the decks as a fraction of ``H``.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(deck_height, "deck_height")
    fixed[0, -1, :] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    forces[:, round(h * (1 - deck_height) / 2), :] = -1 / (2 * w)
    forces[:, round(h * (1 + deck_height) / 2), :] = -1 / (2 * w)
    return _make("two_level_bridge", w, h, d, fixed, forces, None, name)


@_doc
def suspended_bridge(
    width: int,
    height: int,
    density: float,
    span_position: float = 0.2,
    anchored: bool = False,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge loaded along the bottom edge, supported on its left part (half model).

    Right edge fixed in x; nodes ``i < round(span_position*W)`` on ``j=H`` fixed in y
    (and in x when ``anchored``); force ``-1/W`` in y along ``j=H``.

    Parameters
    ----------
    {common}
    span_position : float, default 0.2
        Width of the supported part as a fraction of ``W``.
    anchored : bool, default False
        Also fix the supported nodes in x.
    name : str, optional
        Override of the problem name (the suite uses ``free_suspended_bridge`` and
        ``anchored_suspended_bridge``).

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(span_position, "span_position")
    anchored = _check_flag(anchored, "anchored")
    fixed[: round(span_position * w), -1, _Y] = True
    if anchored:
        fixed[: round(span_position * w), -1, _X] = True
    fixed[-1, :, _X] = True
    forces[:, -1, _Y] = -1 / w
    return _make("suspended_bridge", w, h, d, fixed, forces, None, name)


@_doc
def canyon_bridge(
    width: int,
    height: int,
    density: float,
    deck_level: float = 1,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge spanning a canyon whose right wall is clamped below the deck.

    With ``dk = round(H*(1-deck_level))``: right-edge nodes ``j >= dk`` fixed in x and y;
    left edge fixed in x; force ``-1/W`` in y along row ``j=dk``.

    Parameters
    ----------
    {common}
    deck_level : float, default 1
        Deck height as a fraction of ``H`` (1 = top edge).
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(deck_level, "deck_level")
    deck = round(h * (1 - deck_level))
    fixed[-1, deck:, :] = True
    fixed[0, :, _X] = True
    forces[:, deck, _Y] = -1 / w
    return _make("canyon_bridge", w, h, d, fixed, forces, None, name)


@_doc
def thin_support_bridge(
    width: int,
    height: int,
    density: float,
    design_width: float = 0.25,
    *,
    name: str | None = None,
) -> Problem:
    """Bridge deck on top with a thin designable support region.

    Bottom edge fixed in y; left and right edges fixed in x; force ``-1/W`` in y along
    ``j=0``; mask ``m`` of shape ``(H, W)`` with
    ``m[-round(W*(1-dw)):, :round(H*(1-dw))] = 0`` (``dw = design_width``).

    The reference implementation builds ``m`` with shape ``(W, H)`` and uses it without
    transposing (its instances are square); here the same slices are applied to an
    ``(H, W)`` array, identical for square grids.

    Parameters
    ----------
    {common}
    design_width : float, default 0.25
        Relative width of the designable support region.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    _check_fraction(design_width, "design_width")
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    forces[:, 0, _Y] = -1 / w
    m = np.ones((h, w), dtype=bool)
    m[-round(w * (1 - design_width)) :, : round(h * (1 - design_width))] = False
    return _make("thin_support_bridge", w, h, d, fixed, forces, m, name)


@_doc
def drawbridge(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Drawbridge: clamped on the left edge, loaded along the bottom edge.

    Left edge fixed in x and y; force ``-1/W`` in y along ``j=H``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[0, :, :] = True
    forces[:, -1, _Y] = -1 / w
    return _make("drawbridge", w, h, d, fixed, forces, None, name)


@_doc
def hoop(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Downward loads on a circular hoop resting on the ground (half model).

    Requires ``2*W == H``. Right edge fixed in x; bottom edge fixed in y; loads in y of
    ``-value/(2*pi*W)`` on the anti-aliased circle perimeter of centre ``(W, W)`` and
    radius ``W`` (Xiaolin Wu's algorithm, as ``skimage.draw.circle_perimeter_aa``), clipped
    to the node array; where the perimeter repeats a node the last value drawn wins.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    if 2 * w != h:
        raise InvalidProblemError(f"hoop requires height == 2*width, got {w}x{h}")
    fixed[-1, :, _X] = True
    fixed[:, -1, _Y] = True
    i, j, value = _circle_perimeter_aa(w, w, w, forces.shape[:2])
    last = _last_occurrence(i, j, h + 1)
    forces[i[last], j[last], _Y] = -value[last] / (2 * np.pi * w)
    return _make("hoop", w, h, d, fixed, forces, None, name)


@_doc
def dam(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """Dam: hydrostatic-like load on the left edge, clamped on the bottom edge.

    Bottom edge fixed in x and y; on the left edge ``i=0`` the x force at node
    ``j = k-1`` is ``2*k/H**2`` for ``k = 1..H+1``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    fixed[:, -1, :] = True
    forces[0, :, _X] = 2 * np.arange(1, h + 2) / h**2
    return _make("dam", w, h, d, fixed, forces, None, name)


@_doc
def staircase(
    width: int,
    height: int,
    density: float,
    num_stories: int = 2,
    *,
    name: str | None = None,
) -> Problem:
    """Zig-zag ramps loaded along anti-aliased lines, clamped on the bottom edge.

    Bottom edge fixed in x and y. With ``n = num_stories``, for each story ``s`` with
    parity ``q = s % 2`` an anti-aliased line (as ``skimage.draw.line_aa``) is drawn from
    node ``(0, (s+q)*H//n)`` to ``(W, (s+1-q)*H//n)``, and each drawn node gets the y
    force ``min(current, -value/(W*n))`` (within one line the last value drawn wins).

    Parameters
    ----------
    {common}
    num_stories : int, default 2
        Number of ramps.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    return _staircase("staircase", width, height, density, num_stories, name)


@_doc
def ramp(width: int, height: int, density: float, *, name: str | None = None) -> Problem:
    """A single ramp: ``staircase(width, height, density, num_stories=1)``, named ``ramp``.

    Parameters
    ----------
    {common}
    name : str, optional
        Override of the problem name.

    {returns}
    """
    return _staircase("ramp", width, height, density, 1, name)


def _staircase(category, width, height, density, num_stories, name) -> Problem:
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    n = _check_size(num_stories, "num_stories")
    fixed[:, -1, :] = True
    for story in range(n):
        parity = story % 2
        i, j, value = _line_aa(0, (story + parity) * h // n, w, (story + 1 - parity) * h // n)
        inside = (i >= 0) & (i <= w) & (j >= 0) & (j <= h)
        i, j, value = i[inside], j[inside], value[inside]
        new = np.minimum(forces[i, j, _Y], -value / (w * n))
        last = _last_occurrence(i, j, h + 1)
        forces[i[last], j[last], _Y] = new[last]
    return _make(category, w, h, d, fixed, forces, None, name)


@_doc
def staggered_points(
    width: int,
    height: int,
    density: float,
    interval: int = 16,
    break_symmetry: bool = False,
    *,
    name: str | None = None,
) -> Problem:
    """Point loads on a staggered lattice of nodes, rollers on three sides.

    Bottom edge fixed in y; left and right edges fixed in x. With
    ``f = interval**2/(W*H)`` and ``b = int(break_symmetry)``: y force ``-f`` on the
    node slices ``[interval//2+b :: interval, ::interval]`` and
    ``[b :: interval, interval//2 :: interval]`` (first index i, second j).

    Parameters
    ----------
    {common}
    interval : int, default 16
        Lattice spacing in elements.
    break_symmetry : bool, default False
        Shift the lattice by one node along x.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    interval = _check_size(interval, "interval")
    b = int(_check_flag(break_symmetry, "break_symmetry"))
    fixed[:, -1, _Y] = True
    fixed[0, :, _X] = True
    fixed[-1, :, _X] = True
    f = interval**2 / (w * h)
    forces[interval // 2 + b :: interval, ::interval, _Y] = -f
    forces[b::interval, interval // 2 :: interval, _Y] = -f
    return _make("staggered_points", w, h, d, fixed, forces, None, name)


@_doc
def multistory_building(
    width: int,
    height: int,
    density: float,
    interval: int = 16,
    *,
    name: str | None = None,
) -> Problem:
    """Floors loaded every ``interval`` rows, rollers at the bottom (half model).

    Bottom edge fixed in y; right edge fixed in x; force ``-1/W`` in y on every node of
    the rows ``j = 0, interval, 2*interval, ...``.

    Parameters
    ----------
    {common}
    interval : int, default 16
        Floor spacing in elements.
    name : str, optional
        Override of the problem name.

    {returns}
    """
    w, h, d, fixed, forces = _node_arrays(width, height, density)
    interval = _check_size(interval, "interval")
    fixed[:, -1, _Y] = True
    fixed[-1, :, _X] = True
    forces[:, ::interval, _Y] = -1 / w
    return _make("multistory_building", w, h, d, fixed, forces, None, name)


# --------------------------------------------------------------------------------------
# the 116-problem suite
# --------------------------------------------------------------------------------------
_CATEGORIES: dict[str, Callable[..., Problem]] = {
    f.__name__: f
    for f in (
        mbb_beam,
        cantilever_beam_full,
        cantilever_beam_two_point,
        pure_bending_moment,
        ground_structure,
        michell_centered_both,
        michell_centered_below,
        l_shape,
        crane,
        tower,
        center_support,
        column,
        roof,
        causeway_bridge,
        two_level_bridge,
        suspended_bridge,
        canyon_bridge,
        thin_support_bridge,
        drawbridge,
        hoop,
        dam,
        ramp,
        staircase,
        staggered_points,
        multistory_building,
    )
}

_Instance = tuple[Any, ...]  # (W, H, density) or (W, H, density, extra kwargs)

# (suite label, category function, shared extra kwargs, instances)
_SUITE_SPEC: list[tuple[str, Callable[..., Problem], dict[str, Any], list[_Instance]]] = [
    (
        "mbb_beam",
        mbb_beam,
        {},
        [(96, 32, 0.5), (192, 64, 0.4), (384, 128, 0.3), (192, 32, 0.5), (384, 64, 0.4)],
    ),
    (
        "cantilever_beam_full",
        cantilever_beam_full,
        {},
        [(96, 32, 0.4), (192, 64, 0.3), (384, 128, 0.2), (384, 128, 0.15)],
    ),
    (
        "cantilever_beam_two_point",
        cantilever_beam_two_point,
        {},
        [(64, 48, 0.4), (128, 96, 0.3), (256, 192, 0.2), (256, 192, 0.15)],
    ),
    (
        "pure_bending_moment",
        pure_bending_moment,
        {},
        [(32, 64, 0.15), (64, 128, 0.125), (128, 256, 0.1)],
    ),
    (
        "ground_structure",
        ground_structure,
        {},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.07), (256, 256, 0.05)],
    ),
    (
        "michell_centered_both",
        michell_centered_both,
        {},
        [(32, 64, 0.12), (64, 128, 0.12), (128, 256, 0.12), (128, 256, 0.06)],
    ),
    (
        "michell_centered_below",
        michell_centered_below,
        {},
        [(64, 64, 0.12), (128, 128, 0.12), (256, 256, 0.12), (256, 256, 0.06)],
    ),
    ("l_shape_0.2", l_shape, {"aspect": 0.2}, [(64, 64, 0.4), (128, 128, 0.3), (256, 256, 0.2)]),
    ("l_shape_0.4", l_shape, {"aspect": 0.4}, [(64, 64, 0.4), (128, 128, 0.3), (256, 256, 0.2)]),
    ("crane", crane, {}, [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (256, 256, 0.1)]),
    (
        "center_support",
        center_support,
        {},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.1), (256, 256, 0.05)],
    ),
    (
        "column",
        column,
        {},
        [(32, 128, 0.3), (64, 256, 0.3), (128, 512, 0.1), (128, 512, 0.3), (128, 512, 0.5)],
    ),
    (
        "roof",
        roof,
        {},
        [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.4), (256, 256, 0.2), (256, 256, 0.1)],
    ),
    (
        "causeway_bridge_top",
        causeway_bridge,
        {"deck_level": 1},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.1), (128, 64, 0.3), (256, 128, 0.2)],
    ),
    (
        "causeway_bridge_middle",
        causeway_bridge,
        {"deck_level": 0.5},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.08)],
    ),
    (
        "causeway_bridge_low",
        causeway_bridge,
        {"deck_level": 0.3},
        [(64, 64, 0.12), (128, 128, 0.1), (256, 256, 0.08)],
    ),
    ("two_level_bridge", two_level_bridge, {}, [(64, 64, 0.2), (128, 128, 0.16), (256, 256, 0.12)]),
    (
        "free_suspended_bridge",
        suspended_bridge,
        {"anchored": False},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.075), (256, 256, 0.05)],
    ),
    (
        "anchored_suspended_bridge",
        suspended_bridge,
        {"span_position": 0.1, "anchored": True},
        [(64, 64, 0.15), (128, 128, 0.1), (256, 256, 0.075), (256, 256, 0.05)],
    ),
    (
        "canyon_bridge",
        canyon_bridge,
        {},
        [(64, 64, 0.16), (128, 128, 0.12), (256, 256, 0.1), (256, 256, 0.05)],
    ),
    (
        "thin_support_bridge",
        thin_support_bridge,
        {},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (256, 256, 0.1)],
    ),
    ("drawbridge", drawbridge, {}, [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.1)]),
    ("hoop", hoop, {}, [(32, 64, 0.25), (64, 128, 0.2), (128, 256, 0.15)]),
    (
        "dam",
        dam,
        {},
        [(64, 64, 0.2), (128, 128, 0.15), (256, 256, 0.05), (256, 256, 0.1), (256, 256, 0.2)],
    ),
    ("ramp", ramp, {}, [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.2), (256, 256, 0.1)]),
    (
        "staircase",
        staircase,
        {"num_stories": 3},
        [(64, 64, 0.3), (128, 128, 0.2), (256, 256, 0.15), (128, 512, 0.15, {"num_stories": 6})],
    ),
    (
        "staggered_points",
        staggered_points,
        {},
        [
            (64, 64, 0.3),
            (128, 128, 0.3),
            (256, 256, 0.3),
            (256, 256, 0.5),
            (64, 128, 0.3),
            (128, 256, 0.3),
            (32, 128, 0.3),
            (64, 256, 0.3),
            (128, 512, 0.3),
            (128, 512, 0.15, {"interval": 32}),
        ],
    ),
    (
        "multistory_building",
        multistory_building,
        {},
        [
            (32, 64, 0.5),
            (64, 128, 0.4, {"interval": 32}),
            (128, 256, 0.3, {"interval": 64}),
            (128, 512, 0.25, {"interval": 64}),
            (128, 512, 0.2, {"interval": 128}),
        ],
    ),
]


def _build_registry() -> dict[str, tuple[Callable[..., Problem], dict[str, Any]]]:
    registry: dict[str, tuple[Callable[..., Problem], dict[str, Any]]] = {}
    for label, func, shared, sizes in _SUITE_SPEC:
        for size in sizes:
            w, h, d = size[:3]
            kwargs = {**shared, **(size[3] if len(size) > 3 else {})}
            name = f"{label}_{w}x{h}_{float(d)}"
            registry[name] = (
                func,
                {"width": w, "height": h, "density": d, **kwargs, "name": name},
            )
    return registry


_REGISTRY = _build_registry()


def names() -> list[str]:
    """Names of the 116 suite problems, in suite order.

    Returns
    -------
    list of str
        ``f"{label}_{W}x{H}_{density}"``, e.g. ``"mbb_beam_96x32_0.5"``.
    """
    return list(_REGISTRY)


def get(name: str) -> Problem:
    """Build the suite problem called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    Problem

    Raises
    ------
    KeyError
        Unknown name; the message lists the closest suite names.
    """
    try:
        func, kwargs = _REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown problem {name!r}{hint} (see toposcape.problems.names())") from None
    return func(**kwargs)


def suite(selected: Sequence[str] | None = None) -> Iterator[Problem]:
    """Iterate over suite problems, built lazily in suite order.

    Parameters
    ----------
    selected : sequence of str, optional
        Subset of :func:`names` to build (in the given order); ``None``: all 116.

    Yields
    ------
    Problem
    """
    for name in names() if selected is None else selected:
        yield get(name)


def categories() -> dict[str, Callable[..., Problem]]:
    """The category functions by name (``"mbb_beam"``, ..., ``"tower"``).

    Returns
    -------
    dict of str to callable
        Each takes ``(width, height, density, *extras, name=None)`` and returns a
        :class:`Problem`.
    """
    return dict(_CATEGORIES)
