"""The :class:`Problem` class: an immutable, validated 2D compliance problem."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _validate
from ..errors import InvalidProblemError, UnderconstrainedProblemError

__all__ = ["Problem"]

_X = 0
_WHO = "Problem"  # the entry point named in error messages


# validation through the shared layer (toposcape._validate): a wrong type is a TypeError, a
# bad value an InvalidProblemError
def _size(value: Any, name: str, who: str) -> int:
    """A positive Python int (a grid size or a count)."""
    return _validate.integer(value, name, minimum=1, who=who, error=InvalidProblemError)


def _density(value: Any, who: str) -> float:
    """The target volume fraction as a float strictly inside (0, 1)."""
    return _validate.real(
        value,
        "density",
        minimum=0.0,
        maximum=1.0,
        lower_open=True,
        upper_open=True,
        who=who,
        error=InvalidProblemError,
    )


def _asarray(value: Any, name: str, kinds: str, expected: str) -> np.ndarray:
    """``value`` as an array whose dtype kind is one of ``kinds``, else TypeError.

    The same type rules and message form as :mod:`toposcape._validate`'s arrays; the values
    (shape, range, finiteness) are the caller's to check.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{_WHO}: {name} must be {expected}, got {_validate.given(value)}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting, objects numpy cannot hold
        raise TypeError(f"{_WHO}: {name} must be {expected} ({exc})") from None
    if arr.dtype.kind not in kinds:
        kind = {"c": "complex", "b": "boolean", "O": "object", "U": "string", "S": "bytes"}
        what = kind.get(arr.dtype.kind, str(arr.dtype))
        hint = "; take .real to drop the imaginary part" if what == "complex" else ""
        raise TypeError(
            f"{_WHO}: {name} must be {expected}, got a {what} array (dtype {arr.dtype}){hint}"
        )
    return arr


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
    TypeError
        An argument has the wrong type: a size that is not an integer (a str, a float such as
        3.0, a bool), a density that is not a real number, complex, object, string or (for
        ``fixed_dofs``) boolean arrays, a name that is not a str.
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
        w = _size(width, "width", _WHO)
        h = _size(height, "height", _WHO)
        d = _density(density, _WHO)
        n_dofs = 2 * (w + 1) * (h + 1)
        grid = f"{w}x{h} grid (n_dofs = 2*(W+1)*(H+1) = {n_dofs})"

        # fixed DOFs
        fd = np.atleast_1d(_asarray(fixed_dofs, "fixed_dofs", "iufb", "integer DOF indices"))
        if fd.ndim != 1:
            raise InvalidProblemError(
                f"fixed_dofs must be a 1-D sequence of DOF indices, got shape {fd.shape}"
            )
        if fd.size == 0:
            fd = np.zeros(0, dtype=np.int64)
        elif fd.dtype.kind == "b":
            raise TypeError(
                f"{_WHO}: fixed_dofs must be integer DOF indices, got a boolean array "
                "(use numpy.flatnonzero to convert a boolean support mask)"
            )
        elif fd.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(fd) | (fd != np.round(fd)))
            if bad.size:
                k = int(bad[0])
                raise InvalidProblemError(
                    f"fixed_dofs must be integer-valued: fixed_dofs[{k}] = {fd[k].item()!r}"
                )
        if fd.size:
            out = np.flatnonzero((fd < 0) | (fd >= n_dofs))
            if out.size:
                k = int(out[0])
                raise InvalidProblemError(
                    f"fixed_dofs[{k}] = {fd[k].item()!r} is out of range [0, {n_dofs}) for a {grid}"
                )
        fixed = np.unique(fd.astype(np.int64))

        # forces
        f = _asarray(forces, "forces", "iuf", "an array of real numbers")
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
            m = _asarray(mask, "mask", "biuf", "an array of booleans or 0/1 values")
            if m.shape != (h, w):
                raise InvalidProblemError(f"mask must have shape (H, W) = {(h, w)}, got {m.shape}")
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
            raise TypeError(f"{_WHO}: name must be a str, got {_validate.given(name)}")

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
