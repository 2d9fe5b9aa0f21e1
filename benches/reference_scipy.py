"""Plain NumPy/SciPy reference implementation of the benchmark physics.

This module is *not* part of the ``toposcape`` library. It is the same-run baseline the fast
library is benchmarked against, so it is deliberately written the way the published research
code is written, not the way a fast implementation would be:

* the vectorized assembly of the 88-line MATLAB code (Andreassen et al. 2011, "Efficient
  topology optimization in MATLAB using 88 lines of code"): a precomputed ``edofMat`` and
  ``iK``/``jK`` index arrays, ``K = coo_matrix((sK, (iK, jK))).tocsc()`` rebuilt on every
  evaluation, then sliced to the free degrees of freedom;
* the physics of Hoyer, Sohl-Dickstein and Greydanus (2019), "Neural reparameterization
  improves structural optimization" (``neural_structural_optimization/topo_physics.py`` and
  ``autograd_lib.py``): the volume-constrained sigmoid whose offset is found by bisection, the
  cone filter as a ``scipy.sparse`` matrix with column-sum normalisation applied to the
  Fortran-order flattening, modified SIMP with ``E0 = 1``, ``Emin = 1e-9``, and SciPy SuperLU
  (``scipy.sparse.linalg.splu``) as the direct solver;
* element-wise quantities vectorized over elements with NumPy (no numba, no C++).

Every call to :meth:`ScipyReference.value_and_grad` and :meth:`ScipyReference.hvp` assembles
and factorizes ``K`` afresh; the only reuse is that the Hessian-vector product solves its extra
system with the factorization of the same call. Gradients and Hessian-vector products are the
hand-derived adjoints of the formulation in ``shared/specs/physics.md``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

E0 = 1.0
EMIN = 1e-9
NU = 0.3


def element_stiffness(nu: float = NU) -> np.ndarray:
    """The 8x8 bilinear plane-stress element matrix ``KE`` of the 88-line code (E = 1)."""
    k = np.array(
        [
            1 / 2 - nu / 6,
            1 / 8 + nu / 8,
            -1 / 4 - nu / 12,
            -1 / 8 + 3 * nu / 8,
            -1 / 4 + nu / 12,
            -1 / 8 - nu / 8,
            nu / 6,
            1 / 8 - 3 * nu / 8,
        ]
    )
    idx = np.array(
        [
            [0, 1, 2, 3, 4, 5, 6, 7],
            [1, 0, 7, 6, 5, 4, 3, 2],
            [2, 7, 0, 5, 6, 3, 4, 1],
            [3, 6, 5, 0, 7, 2, 1, 4],
            [4, 5, 6, 7, 0, 1, 2, 3],
            [5, 4, 3, 2, 1, 0, 7, 6],
            [6, 3, 4, 1, 2, 7, 0, 5],
            [7, 2, 1, 4, 3, 6, 5, 0],
        ]
    )
    return k[idx] / (1 - nu**2)


def sigmoid(t):
    return 0.5 * np.tanh(0.5 * t) + 0.5


def logit(p):
    p = np.clip(p, 0, 1)
    return np.log(p) - np.log1p(-p)


def cone_filter_matrix(width: int, height: int, radius: float, mask: np.ndarray):
    """Normalised cone filter ``F = diag(1/s) R`` on the Fortran-order flattening of (H, W).

    ``R[i, j] = max(0, r - d_ij)`` for designable output cells ``i`` and all in-grid cells ``j``;
    ``s_i`` is the *column* sum ``sum_k R[k, i]`` (as in the published code).
    """
    row, col = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    rows, cols, vals = [], [], []
    rb = int(np.ceil(radius))
    for dr in range(-rb, rb + 1):
        for dc in range(-rb, rb + 1):
            weight = max(0.0, radius - np.sqrt(dr**2 + dc**2))
            valid = (
                mask & (row + dr >= 0) & (row + dr < height) & (col + dc >= 0) & (col + dc < width)
            )
            rows.append((row + height * col)[valid])
            cols.append((row + dr + height * (col + dc))[valid])
            vals.append(np.full(int(valid.sum()), weight))
    n = width * height
    raw = scipy.sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    colsum = np.asarray(raw.sum(axis=0)).ravel()
    # A zero column sum only occurs for a non-designable cell whose row is empty anyway.
    weights = np.divide(1.0, colsum, out=np.zeros(n), where=colsum > 0)
    return (scipy.sparse.diags(weights) @ raw).tocsr()


class ScipyReference:
    """Compliance, gradient and Hessian-vector product of the benchmark, the plain way.

    Parameters are raw arrays: ``mask`` bool (H, W), ``fixed_dofs`` int, ``forces`` float64 of
    length ``2*(W+1)*(H+1)`` (DOF of node (i, j), component d: ``2*(i*(H+1) + j) + d``).
    With ``volume_constraint`` the design variables ``z`` are logits; without, densities.
    """

    def __init__(
        self,
        width,
        height,
        density,
        fixed_dofs,
        forces,
        mask,
        penal=3.0,
        volume_constraint=True,
        filter_radius=2.0,
    ):
        self.nelx = nelx = int(width)
        self.nely = nely = int(height)
        self.density = float(density)
        self.penal = float(penal)
        self.volume_constraint = bool(volume_constraint)
        self.mask = np.asarray(mask).astype(bool).reshape(nely, nelx)
        self.forces = np.asarray(forces, dtype=np.float64).ravel()
        ndof = 2 * (nelx + 1) * (nely + 1)
        assert self.forces.size == ndof
        self.ndof = ndof
        self.fixed = np.unique(np.asarray(fixed_dofs, dtype=np.int64))
        self.free = np.setdiff1d(np.arange(ndof), self.fixed)

        self.KE = element_stiffness(NU)
        # Element e = ey + ex*nely (column-major over (H, W), as in the 88-line code).
        ex, ey = np.meshgrid(np.arange(nelx), np.arange(nely))
        ex = ex.ravel(order="F")
        ey = ey.ravel(order="F")
        n1 = (nely + 1) * ex + ey
        n2 = (nely + 1) * (ex + 1) + ey
        n3, n4 = n2 + 1, n1 + 1
        self.edofMat = np.stack(
            [2 * n1, 2 * n1 + 1, 2 * n2, 2 * n2 + 1, 2 * n3, 2 * n3 + 1, 2 * n4, 2 * n4 + 1],
            axis=1,
        )
        self.iK = np.kron(self.edofMat, np.ones((8, 1), dtype=np.int64)).ravel()
        self.jK = np.kron(self.edofMat, np.ones((1, 8), dtype=np.int64)).ravel()
        self.F = cone_filter_matrix(nelx, nely, float(filter_radius), self.mask)
        self.FT = self.F.T.tocsr()

    # ------------------------------------------------------------------ design pipeline
    def _filter(self, x, transpose=False):
        m = self.FT if transpose else self.F
        return (m @ x.ravel(order="F")).reshape(x.shape, order="F")

    def _offset(self, zm):
        """Bisection for b with mean(sigmoid(zm + b)) = density (as Hoyer's find_root)."""
        lo = logit(self.density) - np.max(zm)
        hi = logit(self.density) - np.min(zm)
        for _ in range(64):
            b = 0.5 * (lo + hi)
            if hi - lo < 1e-12:
                break
            if sigmoid(zm + b).mean() - self.density > 0:
                hi = b
            else:
                lo = b
        return b

    def _xv(self, z):
        z = np.asarray(z, dtype=np.float64).reshape(self.nely, self.nelx)
        if not self.volume_constraint:
            return z * self.mask, None
        zm = z[self.mask]
        s = sigmoid(zm + self._offset(zm))
        xv = np.zeros((self.nely, self.nelx))
        xv[self.mask] = s
        return xv, s

    def design(self, z):
        """x_phys (H, W) for logits (volume constraint) or densities (no constraint)."""
        return self._filter(self._xv(z)[0])

    def _jac_t(self, s, g):
        """Transpose of d x_v / d z applied to g (H, W); J is symmetric."""
        if s is None:
            return g * self.mask
        ds = s * (1 - s)
        gm = g[self.mask]
        out = np.zeros_like(g)
        out[self.mask] = ds * gm - ds * np.dot(ds, gm) / ds.sum()
        return out

    # ------------------------------------------------------------------ finite elements
    def _young(self, x):
        p = self.penal
        E = EMIN + x**p * (E0 - EMIN)
        dE = p * x ** (p - 1) * (E0 - EMIN)
        d2E = p * (p - 1) * x ** (p - 2) * (E0 - EMIN) if p != 1 else np.zeros_like(x)
        return E, dE, d2E

    def _solve_state(self, xphys):
        xe = xphys.ravel(order="F")
        E, dE, d2E = self._young(xe)
        sK = (self.KE.ravel()[np.newaxis, :] * E[:, np.newaxis]).ravel()
        K = scipy.sparse.coo_matrix((sK, (self.iK, self.jK)), shape=(self.ndof,) * 2).tocsc()
        K = K[self.free, :][:, self.free]
        lu = scipy.sparse.linalg.splu(K)
        u = np.zeros(self.ndof)
        u[self.free] = lu.solve(self.forces[self.free])
        ue = u[self.edofMat]
        ce = np.einsum("ei,ij,ej->e", ue, self.KE, ue)
        return lu, u, ue, ce, E, dE, d2E

    def _forward(self, z):
        xv, s = self._xv(z)
        xphys = self._filter(xv)
        lu, u, ue, ce, E, dE, d2E = self._solve_state(xphys)
        c = float(np.sum(E * ce))
        gphys = (-dE * ce).reshape(self.nely, self.nelx, order="F")
        return s, xphys, lu, u, ue, ce, dE, d2E, c, gphys

    def value_and_grad(self, z):
        """Compliance and its gradient with respect to z, shape (H, W)."""
        s, _, _, _, _, _, _, _, c, gphys = self._forward(z)
        return c, self._jac_t(s, self._filter(gphys, transpose=True))

    def hvp(self, z, v):
        """Exact Hessian-vector product of the compliance with respect to z, shape (H, W)."""
        v = np.asarray(v, dtype=np.float64).reshape(self.nely, self.nelx)
        s, _, lu, _, ue, ce, dE, d2E, _, gphys = self._forward(z)
        # Tangent of x_v along v (J is symmetric, so J v = J^T v).
        vphys = self._filter(self._jac_t(s, v)).ravel(order="F")
        # Second-order adjoint in x_phys space: one extra solve with the same factorization.
        re = (vphys * dE)[:, np.newaxis] * (ue @ self.KE)
        r = np.zeros(self.ndof)
        np.add.at(r, self.edofMat, re)
        w = np.zeros(self.ndof)
        w[self.free] = lu.solve(r[self.free])
        we = w[self.edofMat]
        hx = 2 * dE * np.einsum("ei,ij,ej->e", ue, self.KE, we) - d2E * vphys * ce
        hx = hx.reshape(self.nely, self.nelx, order="F")
        out = self._jac_t(s, self._filter(hx, transpose=True))
        if s is None:
            return out
        # Second-derivative term of the volume-constrained sigmoid, with g = dc/dx_v fixed.
        g = self._filter(gphys, transpose=True)[self.mask]
        vm = v[self.mask]
        ds = s * (1 - s)
        d2s = ds * (1 - 2 * s)
        S1 = ds.sum()
        delta = vm - np.dot(ds, vm) / S1
        dds = d2s * delta
        sg = np.dot(ds, g)
        out[self.mask] += (
            dds * g - dds * sg / S1 - ds * np.dot(dds, g) / S1 + ds * sg * dds.sum() / S1**2
        )
        return out
