"""Neural reparameterization: compliance as a function of a CNN's weights.

The physics (volume-constrained sigmoid, cone filter, SIMP compliance) enters torch as an
autograd Function in float64 whose backward is itself differentiable: its derivative is the
physics' own exact Hessian-vector product (second-order adjoint, one extra sparse solve), so
``torch.autograd`` never differentiates through a solver and double backward gives the exact
Hessian-vector product of the whole graph

    H_theta v = J^T H_z (J v) + sum_i g_i (d^2 z_i / d theta^2) v,

with ``z`` the CNN's logits, ``J = dz/dtheta`` and ``g = dc/dz``.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import torch

from .. import _core, _validate
from ..errors import InvalidInputError
from .cnn import CNNModel
from .pixel import PixelObjective

__all__ = ["CNNObjective", "compliance_of_logits"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _synchronized(method):
    """Run ``method`` under the objective's lock: the CNN's parameters are overwritten by
    every call, so one objective evaluates one ``theta`` at a time; separate objectives run
    in parallel freely."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def _finite_logits(z: np.ndarray) -> np.ndarray:
    """``z`` (the CNN's output as float64), refused with a message about the CNN when an
    entry overflowed: the physics would otherwise name its own input ``theta``."""
    with np.errstate(over="ignore", invalid="ignore"):  # inf + -inf: the test's NaN
        total = float(z.sum())
    if not math.isfinite(total):
        bad = int(np.count_nonzero(~np.isfinite(z)))
        if bad:
            raise InvalidInputError(
                f"the CNN's output (the logits) has {bad} NaN or inf entr"
                f"{'y' if bad == 1 else 'ies'} of {z.size}: theta overflows the network "
                "(finite, but too large in magnitude for its precision)"
            )
    return z


class _ComplianceGradient(torch.autograd.Function):
    """``g = dc/dz``; its backward is the exact Hessian-vector product ``H_z w``."""

    @staticmethod
    def forward(ctx, z, pixel, gradient):
        ctx.pixel = pixel
        ctx.save_for_backward(z)
        return gradient

    @staticmethod
    def backward(ctx, w):
        (z,) = ctx.saved_tensors
        pixel = ctx.pixel
        theta = z.detach().to(torch.float64).cpu().numpy().ravel()
        direction = w.detach().to(torch.float64).cpu().numpy().ravel()
        hv = pixel.hvp(theta, direction).reshape(z.shape)
        return torch.from_numpy(hv).to(dtype=z.dtype), None, None


class _Compliance(torch.autograd.Function):
    """``c(z)``: compliance of the design with logits ``z`` (H, W), differentiable twice."""

    @staticmethod
    def forward(ctx, z, pixel):
        theta = _finite_logits(z.detach().to(torch.float64).cpu().numpy().ravel())
        c, g = pixel.value_and_grad(theta)
        ctx.pixel = pixel
        ctx.save_for_backward(z, torch.from_numpy(g.reshape(z.shape)).to(dtype=z.dtype))
        # The value stays float64 whatever the CNN's precision, as in the reference (its loss
        # is float64; only the CNN and its gradient are float32): a float32-rounded value
        # makes the line search and L-BFGS's factr test see ties and stop runs early.
        return torch.tensor(c, dtype=torch.float64)

    @staticmethod
    def backward(ctx, grad_output):
        z, gradient = ctx.saved_tensors
        g = _ComplianceGradient.apply(z, ctx.pixel, gradient)
        return (grad_output.to(z.dtype) * g), None


def compliance_of_logits(z: torch.Tensor, pixel: PixelObjective) -> torch.Tensor:
    """Compliance of logits ``z`` (H, W) through ``pixel``'s design pipeline, as a torch scalar.

    Differentiable twice: ``torch.autograd.grad(..., create_graph=True)`` followed by another
    ``grad`` gives exact Hessian-vector products (the second derivative comes from the
    physics' second-order adjoint).
    """
    if z.shape != pixel.shape:
        raise InvalidInputError(f"logits must have shape {pixel.shape}, got {tuple(z.shape)}")
    return _Compliance.apply(z, pixel)


class CNNObjective:
    """Compliance of a problem as a function of the weights of the reference CNN (models.md).

    ``theta`` (flat float64, :attr:`size`) -> CNN -> logits (H, W) -> volume-constrained
    sigmoid -> cone filter -> SIMP compliance.

    Parameters
    ----------
    problem : toposcape.problems.Problem or str
        The problem or a suite problem's name; ``H`` and ``W`` must be divisible by the
        product of the resizes (8 by default).
    penal : float
        SIMP penalty.
    seed : int
        Fixes every initial value (latent, dense, convolutions): same seed, same ``x0``.
    upsampling : {"bilinear", "transpose"}
        Bilinear upsampling + convolution (the reference), or transposed convolutions (the
        thesis' variant).
    dtype : {"float32", "float64"}
        The CNN's precision (the physics always runs in float64). Use float64 for
        second-order studies.
    solver : str
        Sparse solver backend of the physics.
    **model_options
        Passed to :class:`~toposcape.models.cnn.CNNModel` (latent_size, conv_filters, ...).

    Attributes
    ----------
    size : int
        Number of parameters.
    x0 : ndarray (size,)
        The initial parameters (a copy).
    model : CNNModel
        The torch module (its parameters are overwritten by every call).
    pixel : PixelObjective
        The design pipeline and physics on the logits.
    """

    def __init__(
        self,
        problem,
        penal: float = 3.0,
        seed: int = 0,
        upsampling: str = "bilinear",
        dtype: str = "float32",
        solver: str = "auto",
        **model_options,
    ) -> None:
        who = "CNNObjective"
        problem = _validate.problem(problem, who=who)
        dtype = _validate.option(dtype, "dtype", tuple(_DTYPES), who=who)
        upsampling = _validate.option(upsampling, "upsampling", ("bilinear", "transpose"), who=who)
        seed = _validate.integer(seed, "seed", minimum=0, who=who)
        self._lock = threading.RLock()
        self.problem = problem
        self.dtype = dtype
        self.pixel = PixelObjective(problem, penal=penal, volume_constraint=True, solver=solver)
        self.penal = self.pixel.penal
        self.shape = self.pixel.shape
        self.model = CNNModel(
            self.shape[0],
            self.shape[1],
            upsampling=upsampling,
            seed=seed,
            dtype=_DTYPES[dtype],
            **model_options,
        )
        self.seed = seed
        self.upsampling = upsampling
        self._params = [p for p in self.model.parameters()]
        self._x0 = self.model.flatten().detach().to(torch.float64).numpy().copy()
        self.size = int(self._x0.size)

    @property
    def x0(self) -> np.ndarray:
        return self._x0.copy()

    @property
    def gradient_dtype(self) -> str:
        """Precision of the gradient's computation (the CNN's ``dtype``): L-BFGS with
        ``pair_dtype="auto"`` stores float32 pairs for a float32 CNN
        (:mod:`toposcape.optim.protocol`, "Gradient precision")."""
        return self.dtype

    @property
    def solver_threads(self) -> int | None:
        """Threads of the physics' sparse solver, fixed when it was built."""
        return self.pixel.solver_threads

    def parameter_groups(self):
        """The model's parameter groups (name, shape, kind, offset, size), in ``theta`` order."""
        return self.model.parameter_groups()

    # ----------------------------------------------------------------------------------------
    def _vector(self, theta: np.ndarray, name: str) -> np.ndarray:
        return _validate.vector(theta, name, self.size)

    def _load(self, theta: np.ndarray) -> None:
        theta = _validate.vector(theta, "theta", self.size, finite=False)
        if not theta.flags.writeable:  # torch.from_numpy warns on read-only arrays
            theta = theta.copy()
        # One casting copy into the packed parameters (no float32 temporary).
        self.model.assign(torch.from_numpy(theta))
        # NaN or inf is refused before anything runs on the parameters. The check reads the
        # float32 copy (torch, threaded, half the bytes) instead of theta: its sum is finite
        # whenever theta is, and only a non-finite sum needs theta's own test, which also
        # tells float64 values beyond float32's range (finite, accepted) from NaN and inf.
        buffer = getattr(self.model, "_flat_buffer", None)
        if buffer is None or not math.isfinite(float(buffer.sum())):
            self._vector(theta, "theta")

    def _flat(self, tensors) -> tuple[np.ndarray, bool]:
        """The tensors concatenated into a fresh float64 vector, and whether it is finite: one
        threaded pass of the core (each tensor converted straight into its slice, no
        temporary in the model's dtype), the finiteness test folded into it."""
        out = np.empty(self.size)
        finite = _core.gather_finite([t.detach().reshape(-1).numpy() for t in tensors], out)
        return out, finite

    @_synchronized
    def logits(self, theta: np.ndarray) -> np.ndarray:
        """The CNN's output ``z`` (H, W) at ``theta``, float64."""
        self._load(theta)
        with torch.no_grad():
            return _finite_logits(self.model().to(torch.float64).numpy().copy())

    @_synchronized
    def design(self, theta: np.ndarray) -> np.ndarray:
        """Physical densities ``x_phys`` (H, W) at ``theta``."""
        return self.pixel.design(self.logits(theta).ravel())

    @_synchronized
    def value(self, theta: np.ndarray) -> float:
        """Compliance at ``theta`` (no gradient: one forward pass)."""
        self._load(theta)
        with torch.no_grad():
            z = _finite_logits(self.model().to(torch.float64).numpy().ravel())
        return float(self.pixel.value(z))

    @_synchronized
    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Compliance and its gradient with respect to ``theta`` ((size,) float64)."""
        self._load(theta)
        loss = compliance_of_logits(self.model(), self.pixel)
        grads = torch.autograd.grad(loss, self._params)
        gradient, finite = self._flat(grads)
        if not finite:
            bad = int(np.count_nonzero(~np.isfinite(gradient)))
            raise InvalidInputError(
                f"the CNN's gradient has {bad} NaN or inf entr{'y' if bad == 1 else 'ies'} of "
                f"{gradient.size} at a finite loss: theta overflows the network's backward "
                f"pass (finite, but too large in magnitude for its precision: max |theta| = "
                f"{float(np.max(np.abs(theta))):.3g})"
            )
        return float(loss.item()), gradient

    @_synchronized
    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Hessian-vector product of the whole graph, (size,) float64."""
        self._load(theta)
        v = self._vector(v, "v")
        loss = compliance_of_logits(self.model(), self.pixel)
        grads = torch.autograd.grad(loss, self._params, create_graph=True)
        dtype = _DTYPES[self.dtype]
        pieces = []
        offset = 0
        for p in self._params:
            n = p.numel()
            pieces.append(torch.from_numpy(v[offset : offset + n]).to(dtype).reshape(p.shape))
            offset += n
        gv = sum((g * piece).sum() for g, piece in zip(grads, pieces, strict=True))
        hv = torch.autograd.grad(gv, self._params)
        return self._flat(hv)[0]

    @_synchronized
    def hvp_at(self, theta: np.ndarray):
        """Hessian-vector products at a fixed ``theta``, reusing one graph for every product.

        Builds the CNN, the compliance and its gradient once (with ``create_graph``); each
        product is then one backward pass through that graph, about half the cost of
        :meth:`hvp` (which rebuilds it). Independent of the module's parameters, so other
        calls on this objective in between are safe. :func:`toposcape.landscape.hessian` uses
        it.

        Parameters
        ----------
        theta : ndarray (size,)

        Returns
        -------
        callable
            ``v (size,) float64 -> H v (size,) float64``.
        """
        theta = self._vector(theta, "theta")
        dtype = _DTYPES[self.dtype]
        flat = torch.from_numpy(theta.copy()).to(dtype).requires_grad_(True)
        loss = compliance_of_logits(self.model.forward_from_flat(flat), self.pixel)
        (gradient,) = torch.autograd.grad(loss, flat, create_graph=True)

        def product(v: np.ndarray) -> np.ndarray:
            v = torch.from_numpy(self._vector(v, "v")).to(dtype)
            with self._lock:
                (hv,) = torch.autograd.grad(gradient, flat, grad_outputs=v, retain_graph=True)
            return hv.to(torch.float64).numpy()

        return product
