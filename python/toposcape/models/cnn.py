"""The CNN reparameterization of Hoyer et al. (2019) and the pixel model, as torch modules.

Both modules map their trainable parameters (flattened: ``theta``) to logits ``z`` of shape
``(H, W)``; the design pipeline (volume-constrained sigmoid, cone filter, SIMP) follows
elsewhere. :meth:`forward` takes no input: the CNN's latent vector is itself a parameter.

Architecture (``models.md``; the reference is ``CNNModel`` in
``neural_structural_optimization/models.py``, TensorFlow/Keras)::

    beta (latent,)                                      trainable, N(0, latent_scale^2)
    -> dense: latent -> h0*w0*C (C = dense_channels = 32, h0 = H/8, w0 = W/8)
       orthogonal weights, gain dense_init_scale*sqrt(max(h0*w0*C/latent, 1)), zero bias
    -> reshape to (h0, w0, C) channels-last, i.e. output index (y*w0 + x)*C + c
       -> channel c at (y, x); held channels-first as (1, C, h0, w0)
    -> for (resize, filters) in zip(resizes, conv_filters):          five blocks
         tanh -> bilinear upsampling by resize (half-pixel centres, align_corners=False)
              -> global normalisation (x - mean) / sqrt(var + 1e-6) over the whole tensor
              -> 5x5 convolution, 'same' zero padding, truncated-normal variance scaling
              -> + offset_scale * O, O trainable with the block's full output shape
    -> squeeze the last block's single channel: z (H, W)

Correspondence with the Keras reference (channels-last there, channels-first here):

=====================  ==============================  ===================================
reference (Keras)      shape there                     here (torch), shape
=====================  ==============================  ===================================
``z`` (latent)         ``(1, latent)``                 ``latent`` ``(latent,)``
Dense kernel           ``(latent, h0*w0*C)``           ``dense_weight`` ``(h0*w0*C, latent)``
                                                       (transposed, as ``torch.nn.Linear``)
Dense bias             ``(h0*w0*C,)``                  ``dense_bias`` ``(h0*w0*C,)``
Conv2D kernel          ``(kh, kw, in, out)``           ``blocks.i.weight`` ``(out, in, kh, kw)``
Conv2DTranspose kernel ``(kh, kw, out, in)``           ``blocks.i.weight`` ``(in, out, kh, kw)``
Conv bias              ``(out,)``                      ``blocks.i.bias`` ``(out,)``
AddOffset ``bias``     ``(h, w, filters)``             ``blocks.i.offset`` ``(filters, h, w)``
=====================  ==============================  ===================================

``O_torch[c, y, x] == O_keras[y, x, c]``. The flat vector ``theta`` concatenates the
parameters in ``model.parameters()`` order (latent, dense weight, dense bias, then per block
weight, bias, offset), each flattened in C order of its torch shape; :meth:`parameter_groups`
describes the layout, and states which axis of each weight indexes output filters (for the
filter-normalised directions of the landscape tools).

Thesis variant (``upsampling="transpose"``): every "upsample + conv" pair is replaced by one
transposed convolution with stride ``resize`` (all five blocks, stride 1 where resize is 1),
kernel 5x5, 'same' padding, keeping tanh before and the global normalisation before it:
``tanh -> normalise -> conv_transpose -> + offset``. 'same' follows TensorFlow exactly: the
transposed convolution is the adjoint of a strided 'same' convolution, whose padding is
``pad_total = kernel - stride``, ``pad_before = pad_total // 2`` (for stride 2, kernel 5: one
row/column before, two after). torch's ``padding``/``output_padding`` cannot express that
asymmetric crop, so the layer computes the full transposed convolution (``padding=0``) and
crops ``[pad_before, pad_before + stride * n)`` (see :class:`_TransposeBlock`).

Initialisation: a ``torch.Generator`` seeded with ``seed`` draws every random value, in the
order latent, dense, block 0 ... block 4 weights; biases and offsets are zero. Values are drawn
in float64 and rounded through float32 before being stored in the model's dtype, so a float64
model starts from exactly the parameters of the float32 model with the same seed. The global
RNG is neither used nor advanced.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate
from ..errors import InsufficientMemoryError, InvalidInputError
from ..physics.filter import design_mask

__all__ = [
    "CNNModel",
    "PixelModel",
    "ParamGroup",
    "global_normalization",
    "upsample_bilinear",
    "TRUNCATED_NORMAL_STD_FACTOR",
]

#: Standard deviation of a unit normal truncated to [-2, 2] (Keras' VarianceScaling divides the
#: target standard deviation by it, so the truncated draws have exactly the target std).
TRUNCATED_NORMAL_STD_FACTOR = 0.8796256610342398

_KINDS = ("latent", "dense", "dense_bias", "conv_filter", "conv_bias", "offset", "pixel")


class ParamGroup(NamedTuple):
    """One parameter tensor's place in the flat vector ``theta``.

    Attributes
    ----------
    name : str
        The parameter's name in ``module.named_parameters()``.
    shape : tuple of int
        Its torch shape; its ``size`` values are ``theta[offset:offset + size]`` in C order of
        this shape.
    kind : str
        One of ``"latent"``, ``"dense"``, ``"dense_bias"``, ``"conv_filter"``, ``"conv_bias"``,
        ``"offset"``, ``"pixel"``.
    offset : int
        Start index in ``theta``.
    size : int
        Number of values.
    filter_axis : int or None
        The axis of ``shape`` that indexes output filters / units (Li et al.'s "filters"):
        0 for a dense weight ``(out, in)``, 0 for a Conv2d weight ``(out, in, kh, kw)``,
        **1** for a ConvTranspose2d weight ``(in, out, kh, kw)``, 0 for biases ``(out,)`` and
        offsets ``(filters, h, w)``; None for the latent vector and the pixel logits.
    """

    name: str
    shape: tuple[int, ...]
    kind: str
    offset: int
    size: int
    filter_axis: int | None


# ------------------------------------------------------------------------------------------------
# Functional pieces
# ------------------------------------------------------------------------------------------------
def global_normalization(x: torch.Tensor, epsilon: float = 1e-6) -> torch.Tensor:
    """Normalise a whole tensor: ``(x - mean(x)) / sqrt(var(x) + epsilon)``.

    Mean and population variance (divide by ``x.numel()``) are taken over every element, batch
    and channels included, as ``tf.nn.moments`` over all axes in the reference. Unlike the
    reference (which stops the gradient through the mean inside the variance), the variance is
    differentiated exactly, so second derivatives are exact too (first derivatives agree).

    Parameters
    ----------
    x : Tensor, any shape
    epsilon : float

    Returns
    -------
    Tensor, the shape of ``x``
    """
    # One fused kernel (forward, backward and double backward) instead of seven elementwise
    # operations and their autograd nodes: torch's layer normalisation over every element is
    # exactly this moment normalisation.
    return F.layer_norm(x.reshape(1, -1), (x.numel(),), eps=epsilon).reshape(x.shape)


def upsample_bilinear(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling by an integer factor with half-pixel centres.

    Output pixel ``n`` samples the input at ``(n + 0.5) / factor - 0.5``, clamped to the
    border (``align_corners=False``; Keras ``UpSampling2D(interpolation="bilinear")``, i.e.
    ``tf.image.resize`` with ``half_pixel_centers=True``).

    Parameters
    ----------
    x : Tensor (N, C, h, w)
    factor : int

    Returns
    -------
    Tensor (N, C, h*factor, w*factor)
    """
    if factor == 1:
        return x
    n, c, h, w = x.shape
    return F.interpolate(x, size=(h * factor, w * factor), mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------------------
# Initialisation helpers (all draws in float64 from an explicit generator)
# ------------------------------------------------------------------------------------------------
def _store(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Round float64 draws through float32, then cast to the model's dtype."""
    return values.to(torch.float32).to(dtype)


def _truncated_normal(shape, fan_in: int, generator: torch.Generator) -> torch.Tensor:
    """Keras ``VarianceScaling(scale=1, mode="fan_in", distribution="truncated_normal")``."""
    std = math.sqrt(1.0 / fan_in) / TRUNCATED_NORMAL_STD_FACTOR
    out = torch.empty(shape, dtype=torch.float64)
    nn.init.trunc_normal_(out, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std, generator=generator)
    return out


def _orthogonal(rows: int, cols: int, gain: float, generator: torch.Generator) -> torch.Tensor:
    """A (semi-)orthogonal ``(rows, cols)`` matrix times ``gain`` (as ``nn.init.orthogonal_``).

    QR of a Gaussian matrix with the taller orientation, columns' signs fixed by ``diag(R)``
    (uniform on the orthogonal group); transposed back when ``rows < cols``. The result has
    orthonormal columns (``W^T W = gain^2 I``) when ``rows >= cols``, orthonormal rows
    (``W W^T = gain^2 I``) otherwise.
    """
    tall = (rows, cols) if rows >= cols else (cols, rows)
    a = torch.randn(tall, dtype=torch.float64, generator=generator)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if rows < cols:
        q = q.T
    return gain * q.contiguous()


def _resolve_dtype(dtype) -> torch.dtype:
    table = {
        "float32": torch.float32,
        "float64": torch.float64,
        torch.float32: torch.float32,
        torch.float64: torch.float64,
    }
    if isinstance(dtype, np.dtype) or dtype in (np.float32, np.float64):
        dtype = np.dtype(dtype).name
    try:
        return table[dtype]
    except (KeyError, TypeError):
        raise InvalidInputError(
            f"dtype must be float32 or float64 (torch dtype or string), got {dtype!r}"
        ) from None


def _positive_int(value, name: str, who: str = "CNNModel") -> int:
    """A Python int >= 1: TypeError for other types (2.5, 3.0, "3", True), else
    InvalidInputError below 1."""
    return _validate.integer(value, name, minimum=1, who=who)


def _finite_float(value, name: str, nonnegative: bool = False, who: str = "CNNModel") -> float:
    """A finite float (>= 0 with ``nonnegative``): TypeError for non-numbers such as "3"."""
    return _validate.real(value, name, minimum=0.0 if nonnegative else None, who=who)


def _int_sequence(values, name: str, who: str = "CNNModel") -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(
            f"{who}: {name} must be a sequence of integers, got {_validate.given(values)}"
        )
    return tuple(_positive_int(v, f"each of {name}", who) for v in values)


#: Bytes per parameter a model and one differentiated evaluation hold, roughly: the
#: parameters, their gradient, the flat buffer, float64 copies in the objective, and autograd's
#: saved tensors; activations count the same.
_BYTES_PER_VALUE = 64


def _check_model_memory(n_values: int, who: str) -> None:
    """Refuse (InsufficientMemoryError) a model whose tensors cannot fit, before allocating:
    absurd sizes would otherwise end the process in the OOM killer or a torch RuntimeError."""
    from ..physics.solvers import available_memory

    estimate = n_values * _BYTES_PER_VALUE
    available = available_memory()
    if available is not None and estimate > available:
        raise InsufficientMemoryError(
            f"{who}: a model of {n_values:,} parameters and activations needs about "
            f"{estimate / 2**30:.3g} GiB, more than the {available / 2**30:.3g} GiB available; "
            "choose smaller sizes (latent_size, dense_channels, conv_filters, kernel_size)",
            estimate=estimate,
            available=available,
        )


# ------------------------------------------------------------------------------------------------
# Flat-vector API shared by both models
# ------------------------------------------------------------------------------------------------
class _FlatParameters(nn.Module, metaclass=abc.ABCMeta):
    """``flatten`` / ``assign`` / ``parameter_groups`` over ``self.parameters()`` order."""

    @abc.abstractmethod
    def _kind_of(self, name: str) -> tuple[str, int | None]:
        """(kind, output-filter axis) of the parameter called ``name``."""

    def parameter_groups(self) -> list[ParamGroup]:
        """Layout of the flat vector: one :class:`ParamGroup` per parameter, in flat order.

        Returns
        -------
        list of ParamGroup
            ``(name, shape, kind, offset, size, filter_axis)``; the order is that of
            ``self.parameters()``, :meth:`flatten` and :meth:`assign`.
        """
        groups = []
        offset = 0
        for name, p in self.named_parameters():
            kind, axis = self._kind_of(name)
            groups.append(ParamGroup(name, tuple(p.shape), kind, offset, p.numel(), axis))
            offset += p.numel()
        return groups

    def num_parameters(self) -> int:
        """Length of the flat vector ``theta``."""
        return sum(p.numel() for p in self.parameters())

    def flatten(self) -> torch.Tensor:
        """All parameters as one detached 1-D tensor (model dtype), in :meth:`parameter_groups`
        order.

        Returns
        -------
        Tensor (num_parameters,)
        """
        return torch.cat([p.detach().reshape(-1) for p in self.parameters()])

    def flatten_grad(self) -> torch.Tensor:
        """The parameters' ``.grad`` (zeros where None) as one 1-D tensor, in flat order."""
        return torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
                for p in self.parameters()
            ]
        )

    def _pack_parameters(self) -> None:
        """Make every parameter a view of one contiguous buffer, in flat order.

        :meth:`assign` is then one (casting) copy into the buffer instead of one small copy
        per parameter, which matters at hundreds of evaluations per second. Anything that
        replaces a parameter's storage (``.to()``, ``.double()``, ``copy.deepcopy``) unpacks
        the model; :meth:`assign` notices and packs it again (the Parameter objects stay the
        same, only their storage moves).
        """
        params = list(self.parameters())
        with torch.no_grad():
            buffer = torch.cat([p.detach().reshape(-1) for p in params])
        offset = 0
        for p in params:
            n = p.numel()
            p.data = buffer[offset : offset + n].view(p.shape)
            offset += n
        self._flat_buffer = buffer

    def _is_packed(self) -> bool:
        buffer = getattr(self, "_flat_buffer", None)
        if buffer is None:
            return False
        address, item = buffer.data_ptr(), buffer.element_size()
        offset = 0
        for p in self.parameters():
            if p.dtype != buffer.dtype or p.data_ptr() != address + offset * item:
                return False
            offset += p.numel()
        return offset == buffer.numel()

    def _check_flat(self, flat) -> torch.Tensor:
        name = "flat parameter vector"
        if not isinstance(flat, torch.Tensor):
            # NumPy arrays and sequences: the layer's type rules (complex, boolean, object and
            # string arrays are TypeErrors), without copying a float array
            arr = flat if isinstance(flat, np.ndarray) else None
            if arr is None or arr.dtype.kind not in "iuf":
                arr = _validate.array(flat, name, finite=False, who=type(self).__name__)
            flat = torch.as_tensor(arr)
        elif flat.is_complex() or flat.dtype == torch.bool:
            raise TypeError(
                f"{type(self).__name__}: {name} must be real, got a tensor of dtype {flat.dtype}"
            )
        n = self.num_parameters()
        if flat.dim() != 1 or flat.numel() != n:
            raise InvalidInputError(
                f"{name} must be 1-D of length {n}, got shape {tuple(flat.shape)}"
            )
        return flat

    def assign(self, flat) -> None:
        """Copy a flat vector into the parameters (cast to the model's dtype and device).

        Parameters
        ----------
        flat : Tensor or array-like (num_parameters,)

        Raises
        ------
        ValueError
            (:class:`~toposcape.errors.InvalidInputError`) if ``flat`` is not 1-D of length
            :meth:`num_parameters`.
        """
        flat = self._check_flat(flat)
        with torch.no_grad():
            if not self._is_packed() and len({p.dtype for p in self.parameters()}) == 1:
                self._pack_parameters()
            if self._is_packed():
                self._flat_buffer.copy_(flat)
                return
            offset = 0
            for p in self.parameters():
                n = p.numel()
                p.copy_(flat[offset : offset + n].reshape(p.shape))
                offset += n

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``flat`` shaped like each parameter, keyed by parameter name.

        Differentiable with respect to ``flat`` (no copy, no cast: ``flat`` should already have
        the model's dtype).
        """
        flat = self._check_flat(flat)
        out = {}
        offset = 0
        for name, p in self.named_parameters():
            n = p.numel()
            out[name] = flat[offset : offset + n].reshape(p.shape)
            offset += n
        return out

    def forward_from_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """``forward()`` with the parameters taken from ``flat`` (differentiable in ``flat``).

        The module's own parameters are left untouched; gradients and Hessian-vector products
        with respect to ``flat`` follow from ``torch.autograd`` or ``torch.func``.

        Parameters
        ----------
        flat : Tensor (num_parameters,), model dtype

        Returns
        -------
        Tensor (H, W)
        """
        return torch.func.functional_call(self, self.unflatten(flat), ())


# ------------------------------------------------------------------------------------------------
# CNN blocks
# ------------------------------------------------------------------------------------------------
class _Block(nn.Module):
    """Parameters shared by both block kinds: a 5x5 (k x k) kernel, a bias per output filter
    and, with a nonzero ``offset_scale``, a trainable offset of the block's output shape.

    The kernel's layout is the subclass's torch convolution's (:meth:`weight_shape`).
    """

    filter_axis = 0

    def __init__(
        self,
        in_channels: int,
        filters: int,
        resize: int,
        kernel_size: int,
        out_hw: tuple[int, int],
        offset_scale: float,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.resize = resize
        self.offset_scale = offset_scale
        weight_shape = self.weight_shape(in_channels, filters, kernel_size)
        self.weight = nn.Parameter(torch.zeros(*weight_shape, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(filters, dtype=dtype))
        if offset_scale != 0:
            self.offset = nn.Parameter(torch.zeros(filters, *out_hw, dtype=dtype))
        else:
            self.offset = None

    @staticmethod
    def weight_shape(in_channels: int, filters: int, k: int) -> tuple[int, int, int, int]:
        """Kernel shape ``(filters, in_channels, k, k)`` (Conv2d's layout)."""
        return (filters, in_channels, k, k)

    def _add_offset(self, x: torch.Tensor) -> torch.Tensor:
        if self.offset is not None:
            x = torch.add(x, self.offset, alpha=self.offset_scale)  # one node, not two
        return x


class _UpsampleConvBlock(_Block):
    """Reference block: tanh -> bilinear upsample -> normalise -> conv 'same' -> + offset.

    ``weight`` is ``(filters, in_channels, k, k)``: output filters along axis 0.
    """

    filter_axis = 0

    @property
    def fan_in(self) -> int:
        # Keras Conv2D kernel (kh, kw, in, out): fan_in = kh * kw * in
        out, cin, kh, kw = self.weight.shape
        return cin * kh * kw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(x)
        x = upsample_bilinear(x, self.resize)
        x = global_normalization(x)
        x = F.conv2d(x, self.weight, self.bias, padding="same")
        return self._add_offset(x)


class _TransposeBlock(_Block):
    """Thesis block: tanh -> normalise -> transposed conv (stride resize, 'same') -> + offset.

    ``weight`` is ``(in_channels, filters, k, k)`` (torch's ConvTranspose2d layout): output
    filters along axis **1**.

    'same' as TensorFlow's ``conv2d_transpose``: the adjoint of a stride-``s`` convolution with
    'same' padding on an ``s*n`` input, i.e. input pixel ``j`` feeds output ``s*j - p0 + t``
    (tap ``t`` in ``0..k-1``) with ``p0 = (k - s) // 2``; output size ``s*n``. Computed as the
    full transposed convolution (size ``(n-1)*s + k``) cropped to ``[p0, p0 + s*n)``. For
    ``s = 1`` this is plain symmetric padding ``(k-1)//2``. torch's ``padding=2,
    output_padding=s-1`` would give the same size but a crop shifted by one pixel for ``s = 2``.
    """

    filter_axis = 1

    def __init__(
        self,
        in_channels: int,
        filters: int,
        resize: int,
        kernel_size: int,
        out_hw: tuple[int, int],
        offset_scale: float,
        dtype: torch.dtype,
    ) -> None:
        super().__init__(in_channels, filters, resize, kernel_size, out_hw, offset_scale, dtype)
        self.crop = max(kernel_size - resize, 0) // 2

    @staticmethod
    def weight_shape(in_channels: int, filters: int, k: int) -> tuple[int, int, int, int]:
        """Kernel shape ``(in_channels, filters, k, k)`` (ConvTranspose2d's layout)."""
        return (in_channels, filters, k, k)

    @property
    def fan_in(self) -> int:
        # Keras' VarianceScaling computes fans from the kernel shape alone, taking the
        # second-to-last axis as "input depth". Conv2DTranspose's kernel is (kh, kw, filters,
        # in_channels), so its fan_in is kh * kw * filters (the *output* channels). torch's own
        # ConvTranspose2d init does the same (weight.size(1) * kh * kw). We follow that
        # convention, as the thesis' Keras model did; the true number of inputs feeding one
        # output pixel is about kh * kw * in_channels / stride^2, so the transposed variant
        # starts with larger activations than the bilinear one (notably the last block,
        # in=16, out=1: std sqrt(1/25) instead of sqrt(1/400)).
        cin, out, kh, kw = self.weight.shape
        return out * kh * kw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(x)
        x = global_normalization(x)
        h, w = x.shape[-2:]
        s = self.resize
        x = F.conv_transpose2d(x, self.weight, self.bias, stride=s)
        c = self.crop
        x = x[..., c : c + s * h, c : c + s * w]
        return self._add_offset(x)


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
class CNNModel(_FlatParameters):
    """The reference CNN reparameterization (Hoyer et al. 2019), see the module docstring.

    Parameters
    ----------
    height, width : int
        Output size ``(H, W)``; both divisible by ``prod(resizes)`` (8 by default).
    latent_size : int
        Length of the trainable latent vector (128).
    dense_channels : int
        Channels ``C`` of the dense layer's reshaped output ``(C, H/8, W/8)`` (32).
    resizes : sequence of int
        Upsampling factor of each block ((1, 2, 2, 2, 1)).
    conv_filters : sequence of int
        Output channels of each block ((128, 64, 32, 16, 1)); the last must be 1.
    kernel_size : int
        Convolution kernel size (5).
    offset_scale : float
        Scale of the per-block offsets (10). 0 drops the offsets altogether, as the reference.
    latent_scale : float
        Standard deviation of the latent's initial values (1).
    dense_init_scale : float
        Factor on the dense layer's orthogonal gain (1).
    upsampling : {"bilinear", "transpose"}
        Bilinear upsampling + convolution (reference) or transposed convolutions (thesis).
    seed : int
        Seeds the ``torch.Generator`` behind every initial value.
    dtype : torch.float32 or torch.float64 (or "float32" / "float64")
        Dtype of every parameter and of the whole computation.

    Attributes
    ----------
    height, width, h0, w0 : int
        Output size and the dense grid size ``(H/8, W/8)``.
    block_shapes : list of (filters, h, w)
        Output shape of each block (channels-first).
    latent : Parameter (latent_size,)
    dense_weight : Parameter (h0*w0*C, latent_size)
        Row ``(y*w0 + x)*C + c`` feeds channel ``c`` at ``(y, x)``.
    dense_bias : Parameter (h0*w0*C,)
    blocks : ModuleList
        Each with ``weight``, ``bias`` and (unless ``offset_scale == 0``) ``offset``
        ``(filters, h, w)``.

    Raises
    ------
    ValueError
        (:class:`~toposcape.errors.InvalidInputError`) on invalid sizes or options.
    """

    def __init__(
        self,
        height: int,
        width: int,
        latent_size: int = 128,
        dense_channels: int = 32,
        resizes: Sequence[int] = (1, 2, 2, 2, 1),
        conv_filters: Sequence[int] = (128, 64, 32, 16, 1),
        kernel_size: int = 5,
        offset_scale: float = 10.0,
        latent_scale: float = 1.0,
        dense_init_scale: float = 1.0,
        upsampling: str = "bilinear",
        seed: int = 0,
        dtype: torch.dtype | str = torch.float32,
    ) -> None:
        super().__init__()
        height = _positive_int(height, "height")
        width = _positive_int(width, "width")
        latent_size = _positive_int(latent_size, "latent_size")
        dense_channels = _positive_int(dense_channels, "dense_channels")
        kernel_size = _positive_int(kernel_size, "kernel_size")
        resizes = _int_sequence(resizes, "resizes")
        conv_filters = _int_sequence(conv_filters, "conv_filters")
        if len(resizes) != len(conv_filters):
            raise InvalidInputError(
                f"resizes and conv_filters must have the same length, got {len(resizes)} and "
                f"{len(conv_filters)}"
            )
        if not resizes:
            raise InvalidInputError("the CNN needs at least one block (resizes is empty)")
        if conv_filters[-1] != 1:
            raise InvalidInputError(
                f"the last block must have 1 filter (its output is the logits), got "
                f"{conv_filters[-1]}"
            )
        if upsampling not in ("bilinear", "transpose"):
            raise InvalidInputError(
                f"upsampling must be 'bilinear' or 'transpose', got {upsampling!r}"
            )
        if upsampling == "transpose" and kernel_size < max(resizes):
            raise InvalidInputError(
                f"transposed convolutions need kernel_size >= every resize, got kernel_size="
                f"{kernel_size} and resizes {resizes}"
            )
        total = math.prod(resizes)
        if height % total or width % total:
            raise InvalidInputError(
                f"height and width must be divisible by the product of the resizes ({total}): "
                f"the CNN upsamples a (H/{total}, W/{total}) grid; got H={height}, W={width}"
            )
        offset_scale = _finite_float(offset_scale, "offset_scale")
        latent_scale = _finite_float(latent_scale, "latent_scale", nonnegative=True)
        dense_init_scale = _finite_float(dense_init_scale, "dense_init_scale", nonnegative=True)
        seed = _validate.integer(seed, "seed", minimum=0, maximum=2**63 - 1, who="CNNModel")
        dtype = _resolve_dtype(dtype)
        # parameters and block outputs, counted before anything is allocated
        n_values = latent_size * (1 + height // total * (width // total) * dense_channels)
        channels, h, w = dense_channels, height // total, width // total
        for resize, filters in zip(resizes, conv_filters, strict=True):
            h, w = h * resize, w * resize
            n_values += filters * channels * kernel_size**2 + filters + 2 * filters * h * w
            channels = filters
        _check_model_memory(n_values, "CNNModel")

        self.height, self.width = height, width
        self.h0, self.w0 = height // total, width // total
        self.latent_size = latent_size
        self.dense_channels = dense_channels
        self.resizes = resizes
        self.conv_filters = conv_filters
        self.kernel_size = kernel_size
        self.offset_scale = offset_scale
        self.latent_scale = latent_scale
        self.dense_init_scale = dense_init_scale
        self.upsampling = upsampling
        self.seed = int(seed)
        self.dtype = dtype

        n_dense = self.h0 * self.w0 * dense_channels
        # Registration order = parameters() order = flat order.
        self.latent = nn.Parameter(torch.zeros(latent_size, dtype=dtype))
        self.dense_weight = nn.Parameter(torch.zeros(n_dense, latent_size, dtype=dtype))
        self.dense_bias = nn.Parameter(torch.zeros(n_dense, dtype=dtype))
        block_cls = _UpsampleConvBlock if upsampling == "bilinear" else _TransposeBlock
        blocks = []
        self.block_shapes: list[tuple[int, int, int]] = []
        channels, h, w = dense_channels, self.h0, self.w0
        for resize, filters in zip(resizes, conv_filters, strict=True):
            h, w = h * resize, w * resize
            blocks.append(
                block_cls(channels, filters, resize, kernel_size, (h, w), offset_scale, dtype)
            )
            self.block_shapes.append((filters, h, w))
            channels = filters
        self.blocks = nn.ModuleList(blocks)
        self.reset_parameters(self.seed)
        self._pack_parameters()

    def reset_parameters(self, seed: int | None = None) -> None:
        """(Re)draw the initial values from ``seed`` (default: the constructor's seed).

        Draw order: latent ``N(0, latent_scale^2)``; dense weight orthogonal with gain
        ``dense_init_scale * sqrt(max(h0*w0*C / latent_size, 1))``; each block's weight from a
        normal with std ``sqrt(1/fan_in) / 0.8796...`` truncated at two std. Biases and offsets
        are zero.
        """
        seed = self.seed if seed is None else int(seed)
        g = torch.Generator(device="cpu").manual_seed(seed)
        dtype = self.dtype
        n_dense = self.dense_weight.shape[0]
        latent = torch.randn(self.latent_size, dtype=torch.float64, generator=g)
        gain = self.dense_init_scale * math.sqrt(max(n_dense / self.latent_size, 1.0))
        dense = _orthogonal(n_dense, self.latent_size, gain, g)
        with torch.no_grad():
            self.latent.copy_(_store(self.latent_scale * latent, dtype))
            self.dense_weight.copy_(_store(dense, dtype))
            self.dense_bias.zero_()
            for block in self.blocks:
                w = _truncated_normal(tuple(block.weight.shape), block.fan_in, g)
                block.weight.copy_(_store(w, dtype))
                block.bias.zero_()
                if block.offset is not None:
                    block.offset.zero_()

    def _kind_of(self, name: str) -> tuple[str, int | None]:
        if name == "latent":
            return "latent", None
        if name == "dense_weight":
            return "dense", 0
        if name == "dense_bias":
            return "dense_bias", 0
        _, index, attr = name.split(".")
        if attr == "weight":
            return "conv_filter", self.blocks[int(index)].filter_axis
        if attr == "bias":
            return "conv_bias", 0
        return "offset", 0

    def features(self) -> torch.Tensor:
        """The dense layer's output reshaped channels-first: the first block's input.

        Output index ``(y*w0 + x)*C + c`` lands at ``[0, c, y, x]`` (Keras' ``Reshape((h0, w0,
        C))`` of a channels-last tensor, permuted to channels-first).

        Returns
        -------
        Tensor (1, C, h0, w0)
        """
        x = F.linear(self.latent, self.dense_weight, self.dense_bias)
        x = x.reshape(self.h0, self.w0, self.dense_channels).permute(2, 0, 1)
        # Contiguous (channels-first): the permuted view has channels-last strides, which every
        # later layer would inherit; the convolutions would then convert their weights to
        # channels-last and their weight gradients back on every call.
        return x.unsqueeze(0).contiguous()

    def forward(self) -> torch.Tensor:
        """The logits.

        Returns
        -------
        Tensor (H, W), model dtype
        """
        x = self.features()
        for block in self.blocks:
            x = block(x)
        return x[0, 0]

    def extra_repr(self) -> str:
        return (
            f"height={self.height}, width={self.width}, upsampling={self.upsampling!r}, "
            f"seed={self.seed}, dtype={self.dtype}, num_parameters={self.num_parameters()}"
        )


class PixelModel(_FlatParameters):
    """The pixel model in torch: the parameters are the logits ``z`` themselves.

    Parameters
    ----------
    height, width : int
    density : float
        Initial value ``z = density * mask`` (the first design is uniform at the target).
    mask : bool array-like (H, W) or None
        Designable cells; None means all.
    dtype : torch.float32 or torch.float64 (or strings)
        float64 by default, as the reference (its pixel variable is built from a float64
        NumPy array).

    Attributes
    ----------
    z : Parameter (H, W)
        The only parameter (group kind ``"pixel"``); ``theta = z.ravel()`` in C order.
    """

    def __init__(
        self,
        height: int,
        width: int,
        density: float = 0.5,
        mask=None,
        dtype: torch.dtype | str = torch.float64,
    ) -> None:
        super().__init__()
        height = _positive_int(height, "height", "PixelModel")
        width = _positive_int(width, "width", "PixelModel")
        density = _finite_float(density, "density", who="PixelModel")
        dtype = _resolve_dtype(dtype)
        _check_model_memory(height * width, "PixelModel")
        if mask is None:
            mask_arr = np.ones((height, width), dtype=bool)
        else:
            mask_arr = design_mask(mask, "PixelModel")
            if mask_arr.shape != (height, width):
                raise InvalidInputError(
                    f"mask must have shape {(height, width)}, got {mask_arr.shape}"
                )
        self.height, self.width = height, width
        self.density = density
        self.dtype = dtype
        self.register_buffer("mask", torch.from_numpy(mask_arr.copy()), persistent=False)
        self.z = nn.Parameter(torch.from_numpy(density * mask_arr.astype(np.float64)).to(dtype))

    @classmethod
    def from_problem(cls, problem, dtype: torch.dtype | str = torch.float64) -> PixelModel:
        """Pixel model of a :class:`~toposcape.problems.Problem` (its size, density, mask)."""
        return cls(
            int(problem.height), int(problem.width), problem.density, problem.mask, dtype=dtype
        )

    def _kind_of(self, name: str) -> tuple[str, int | None]:
        return "pixel", None

    def forward(self) -> torch.Tensor:
        """The logits ``z``, Tensor (H, W)."""
        return self.z
