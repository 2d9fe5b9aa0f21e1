"""The CNN reparameterization (models.md) and the torch pixel model: architecture, shapes,
parameter layout, seeding, initial statistics, the functional pieces (global normalisation,
half-pixel bilinear upsampling, TensorFlow-'same' transposed convolution), dtypes and the
flat-vector API."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from toposcape.models.cnn import (  # noqa: E402
    TRUNCATED_NORMAL_STD_FACTOR,
    CNNModel,
    PixelModel,
    global_normalization,
    upsample_bilinear,
)

VARIANTS = ("bilinear", "transpose")


@functools.cache
def _cached(args, kwargs):
    return CNNModel(*args, **dict(kwargs))


def _model(*args, **kwargs):
    """A fresh copy of a cached model (building the full-size CNN takes a fraction of a second)."""
    return copy.deepcopy(_cached(args, tuple(sorted(kwargs.items()))))


def _small(**kw):
    """A cheap model (8x16, narrow) for tests that do not need the default widths."""
    opts = dict(latent_size=6, dense_channels=3, conv_filters=(4, 3, 2, 2, 1), kernel_size=3)
    opts.update(kw)
    return CNNModel(8, 16, **opts)


# ------------------------------------------------------------------------------------------------
# Shapes and parameter counts
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("upsampling", VARIANTS)
@pytest.mark.parametrize("hw", [(32, 64), (64, 32)])
def test_output_and_block_shapes(upsampling, hw):
    h, w = hw
    m = _model(h, w, upsampling=upsampling)
    z = m()
    assert z.shape == (h, w)
    assert z.dtype == torch.float32
    assert (m.h0, m.w0) == (h // 8, w // 8)
    assert m.features().shape == (1, 32, h // 8, w // 8)
    expected = [(128, h // 8, w // 8), (64, h // 4, w // 4), (32, h // 2, w // 2)]
    expected += [(16, h, w), (1, h, w)]
    assert m.block_shapes == expected
    # every block really produces that shape
    x = m.features()
    for block, shape in zip(m.blocks, expected, strict=True):
        x = block(x)
        assert tuple(x.shape) == (1, *shape)
        assert tuple(block.offset.shape) == shape
    assert torch.isfinite(z).all()


@pytest.mark.parametrize("upsampling", VARIANTS)
def test_parameter_count_32x64_by_hand(upsampling):
    h0, w0, c, k = 4, 8, 32, 25
    latent = 128
    dense = 128 * (h0 * w0 * c) + h0 * w0 * c
    chans = (32, 128, 64, 32, 16, 1)
    sizes = ((4, 8), (8, 16), (16, 32), (32, 64), (32, 64))
    convs = sum(k * chans[i] * chans[i + 1] + chans[i + 1] for i in range(5))
    offsets = sum(chans[i + 1] * hh * ww for i, (hh, ww) in enumerate(sizes))
    total = latent + dense + convs + offsets
    assert total == 567553
    m = _model(32, 64, upsampling=upsampling)
    assert m.num_parameters() == total
    assert sum(p.numel() for p in m.parameters()) == total
    assert m.flatten().shape == (total,)


@pytest.mark.parametrize("upsampling", VARIANTS)
def test_parameter_groups_layout(upsampling):
    m = _model(32, 64, upsampling=upsampling)
    groups = m.parameter_groups()
    params = list(m.named_parameters())
    assert len(groups) == len(params) == 3 + 3 * 5
    kinds = ["latent", "dense", "dense_bias"] + ["conv_filter", "conv_bias", "offset"] * 5
    assert [g.kind for g in groups] == kinds
    offset = 0
    for g, (name, p) in zip(groups, params, strict=True):
        assert g.name == name
        assert g.shape == tuple(p.shape)
        assert g.offset == offset
        assert g.size == p.numel()
        offset += g.size
    assert offset == m.num_parameters()
    # output filters: axis 0 for Conv2d (out, in, kh, kw), axis 1 for ConvTranspose2d
    # (in, out, kh, kw); either way that axis has `filters` entries
    axis = 0 if upsampling == "bilinear" else 1
    for i, filters in enumerate(m.conv_filters):
        g = groups[3 + 3 * i]
        assert g.filter_axis == axis
        assert g.shape[axis] == filters
    assert groups[0].filter_axis is None
    assert groups[1].filter_axis == 0 and groups[1].shape == (1024, 128)
    # flat slices are the parameters
    flat = m.flatten()
    for g, p in zip(groups, m.parameters(), strict=True):
        assert torch.equal(flat[g.offset : g.offset + g.size].reshape(g.shape), p.detach())


# ------------------------------------------------------------------------------------------------
# Seeding
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("upsampling", VARIANTS)
def test_same_seed_bitwise_equal_and_independent_of_global_rng(upsampling):
    torch.manual_seed(1)
    a = _model(32, 64, seed=3, upsampling=upsampling)
    torch.manual_seed(12345)
    torch.rand(17)
    state = torch.random.get_rng_state()
    b = CNNModel(32, 64, seed=3, upsampling=upsampling)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert torch.equal(a.flatten(), b.flatten())
    with torch.no_grad():
        assert torch.equal(a(), b())
    c = _model(32, 64, seed=4, upsampling=upsampling)
    for pa, pc, g in zip(a.parameters(), c.parameters(), a.parameter_groups(), strict=True):
        if g.kind in ("latent", "dense", "conv_filter"):
            assert not torch.equal(pa, pc), g.name
        else:
            assert torch.equal(pa, pc), g.name  # zeros
    with torch.no_grad():
        assert not torch.equal(a(), c())


def test_reset_parameters_restores_initial_values():
    m = _small(seed=5)
    x0 = m.flatten().clone()
    m.assign(torch.randn(m.num_parameters(), generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(m.flatten(), x0)
    m.reset_parameters()
    assert torch.equal(m.flatten(), x0)


# ------------------------------------------------------------------------------------------------
# Initial statistics
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("upsampling", VARIANTS)
def test_conv_weight_init_statistics(upsampling):
    m = _model(32, 64, upsampling=upsampling, dtype=torch.float64)
    chans = (32, 128, 64, 32, 16, 1)
    for i, block in enumerate(m.blocks):
        w = block.weight.detach()
        cin, cout = chans[i], chans[i + 1]
        # Keras VarianceScaling fans: Conv2D kernel (kh, kw, in, out) -> 25*in;
        # Conv2DTranspose kernel (kh, kw, out, in) -> 25*out
        fan_in = 25 * (cin if upsampling == "bilinear" else cout)
        assert block.fan_in == fan_in
        std_param = math.sqrt(1.0 / fan_in) / TRUNCATED_NORMAL_STD_FACTOR
        # truncated at two (parameter) std
        assert float(w.abs().max()) <= 2 * std_param * (1 + 1e-6)
        n = w.numel()
        if n >= 10_000:  # enough samples for a tight statistical check
            target = math.sqrt(1.0 / fan_in)  # truncated std = std_param * 0.8796...
            assert abs(float(w.std()) / target - 1) < 0.03
            assert abs(float(w.mean())) < 4 * target / math.sqrt(n)
            # the tails reach close to the truncation point
            assert float(w.abs().max()) > 1.9 * std_param
        assert torch.count_nonzero(block.bias) == 0
        assert torch.count_nonzero(block.offset) == 0
    assert torch.count_nonzero(m.dense_bias) == 0


@pytest.mark.parametrize("hw", [(32, 64), (8, 8)])
def test_dense_weight_orthogonal_with_gain(hw):
    m = CNNModel(*hw, dtype=torch.float64, dense_init_scale=1.5)
    w = m.dense_weight.detach()  # torch layout (out, in) = Keras kernel transposed
    out, latent = w.shape
    gain = 1.5 * math.sqrt(max(out / latent, 1.0))
    if out >= latent:  # 32x64: (1024, 128): orthonormal columns
        gram = w.T @ w
        eye = torch.eye(latent, dtype=torch.float64)
    else:  # 8x8: (32, 128): orthonormal rows
        gram = w @ w.T
        eye = torch.eye(out, dtype=torch.float64)
    # values are rounded through float32 at init
    assert torch.allclose(gram, gain**2 * eye, atol=2e-6 * gain**2)
    if hw == (32, 64):
        assert gain == pytest.approx(1.5 * math.sqrt(8.0))


def test_latent_init_distribution():
    scale = 0.5
    m = CNNModel(8, 8, latent_size=20_000, latent_scale=scale, dtype=torch.float64)
    z = m.latent.detach()
    assert z.shape == (20_000,)
    assert abs(float(z.mean())) < 4 * scale / math.sqrt(z.numel())
    assert abs(float(z.std()) / scale - 1) < 0.03
    # Gaussian tails (not truncated): some draws beyond 3 sigma
    assert float(z.abs().max()) > 3 * scale
    # the default scale is 1
    d = _model(32, 64, dtype=torch.float64).latent.detach()
    assert 0.7 < float(d.std()) < 1.3


def test_offsets_zero_at_init_and_scaled_by_offset_scale():
    m = _small(dtype=torch.float64, offset_scale=10.0)
    with torch.no_grad():
        z0 = m().clone()
        delta = torch.randn(m.blocks[-1].offset.shape, dtype=torch.float64)
        m.blocks[-1].offset.add_(delta)
        z1 = m()
    assert torch.allclose(z1 - z0, 10.0 * delta[0], atol=1e-12)


def test_offset_scale_zero_drops_offsets():
    m = _small(offset_scale=0.0)
    assert all(g.kind != "offset" for g in m.parameter_groups())
    assert m().shape == (8, 16)


# ------------------------------------------------------------------------------------------------
# Functional pieces
# ------------------------------------------------------------------------------------------------
def test_global_normalization():
    g = torch.Generator().manual_seed(0)
    x = 3.0 + 5.0 * torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=g)
    y = global_normalization(x)
    assert y.shape == x.shape
    assert abs(float(y.mean())) < 1e-12
    var = float(((y - y.mean()) ** 2).mean())  # population variance over the whole tensor
    assert var == pytest.approx(float(x.var(correction=0)) / (float(x.var(correction=0)) + 1e-6))
    assert var == pytest.approx(1.0, abs=1e-7)
    expected = (x - x.mean()) / torch.sqrt(x.var(correction=0) + 1e-6)
    assert torch.allclose(y, expected, rtol=1e-14, atol=1e-14)
    # epsilon matters for a constant tensor: no division by zero
    c = global_normalization(torch.full((1, 1, 2, 2), 7.0, dtype=torch.float64))
    assert torch.equal(c, torch.zeros_like(c))


def _half_pixel_matrix(n: int, factor: int) -> np.ndarray:
    """1-D linear interpolation matrix (n*factor, n) with half-pixel centres, clamped."""
    m = np.zeros((n * factor, n))
    for o in range(n * factor):
        src = max((o + 0.5) / factor - 0.5, 0.0)
        lo = min(int(np.floor(src)), n - 1)
        hi = min(lo + 1, n - 1)
        t = src - lo
        m[o, lo] += 1 - t
        m[o, hi] += t
    return m


def test_bilinear_upsampling_half_pixel_centres():
    # 1-D by hand for [a, b, c], factor 2: sample points -0.25, 0.25, 0.75, 1.25, 1.75, 2.25
    a, b, c = 1.0, 4.0, -2.0
    row = torch.tensor([[[[a, b, c]]]], dtype=torch.float64)
    up = upsample_bilinear(row, 2)[0, 0]
    # vertical direction: a single row is repeated
    assert up.shape == (2, 6)
    hand = [a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, 0.75 * b + 0.25 * c]
    hand += [0.25 * b + 0.75 * c, c]
    assert torch.allclose(up, torch.tensor([hand, hand], dtype=torch.float64), atol=1e-15)
    # 2-D, separable: U = Mh X Mw^T
    x = np.arange(6.0).reshape(2, 3) ** 2
    expected = _half_pixel_matrix(2, 2) @ x @ _half_pixel_matrix(3, 2).T
    got = upsample_bilinear(torch.from_numpy(x)[None, None], 2)[0, 0].numpy()
    assert np.allclose(got, expected, atol=1e-14)
    # not align_corners=True
    corners = F.interpolate(
        torch.from_numpy(x)[None, None], scale_factor=2, mode="bilinear", align_corners=True
    )[0, 0].numpy()
    assert not np.allclose(got, corners)
    # factor 1 is the identity
    t = torch.randn(1, 2, 3, 4)
    assert upsample_bilinear(t, 1) is t


def test_bilinear_block_uses_upsample_normalise_conv():
    m = _small(dtype=torch.float64)
    block = m.blocks[1]  # resize 2
    x = torch.randn(1, 4, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        block.offset.normal_(generator=torch.Generator().manual_seed(2))
        block.bias.normal_(generator=torch.Generator().manual_seed(3))
        y = block(x)
        u = global_normalization(upsample_bilinear(torch.tanh(x), 2))
        expected = F.conv2d(u, block.weight, block.bias, padding=1) + 10.0 * block.offset
    assert torch.allclose(y, expected, atol=1e-13)


@pytest.mark.parametrize("stride", [1, 2])
def test_transposed_conv_is_adjoint_of_tf_same_conv(stride):
    """TensorFlow's 'same' conv2d_transpose is the adjoint of a strided 'same' conv2d, whose
    padding is pad_total = k - s split as (pad_total // 2, rest)."""
    m = CNNModel(
        8,
        8,
        upsampling="transpose",
        dtype=torch.float64,
        kernel_size=5,
        resizes=(1, 1, 2, 2, 2),
        latent_size=4,
        dense_channels=2,
        conv_filters=(3, 2, 3, 2, 1),
    )
    block = m.blocks[0] if stride == 1 else m.blocks[2]
    assert block.resize == stride
    gen = torch.Generator().manual_seed(4)
    cin, cout = block.weight.shape[:2]
    n = 3
    x = torch.randn(1, cin, n, n + 1, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        block.weight.normal_(generator=gen)
        block.bias.zero_()
        block.offset = None  # pure convolution (module attribute, not parameter)
        # the layer itself: tanh and normalisation come first
        xin = global_normalization(torch.tanh(x))
        y = block(x)
    assert y.shape == (1, cout, stride * n, stride * (n + 1))
    r = torch.randn(y.shape, dtype=torch.float64, generator=gen)
    pad_total = 5 - stride
    before, after = pad_total // 2, pad_total - pad_total // 2
    with torch.no_grad():
        conv = F.conv2d(F.pad(r, (before, after, before, after)), block.weight, stride=stride)
    assert conv.shape == xin.shape
    lhs = float((y * r).sum())
    rhs = float((xin * conv).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("hw", [(32, 64), (64, 32), (8, 24)])
def test_transposed_variant_output_size_is_input_times_stride(hw):
    m = CNNModel(*hw, upsampling="transpose", latent_size=8, conv_filters=(8, 4, 4, 2, 1))
    x = m.features()
    for block, resize in zip(m.blocks, m.resizes, strict=True):
        y = block(x)
        assert y.shape[-2:] == (x.shape[-2] * resize, x.shape[-1] * resize)
        x = y
    assert m().shape == hw


# ------------------------------------------------------------------------------------------------
# Dense reshape convention
# ------------------------------------------------------------------------------------------------
def test_dense_reshape_channels_last_index_convention():
    m = CNNModel(16, 24, dtype=torch.float64)  # h0, w0 = 2, 3
    h0, w0, c = m.h0, m.w0, m.dense_channels
    assert (h0, w0) == (2, 3)

    def value(y, x, ch):
        return 1000.0 * y + 100.0 * x + ch

    pattern = torch.zeros(h0 * w0 * c, dtype=torch.float64)
    for y in range(h0):
        for x in range(w0):
            for ch in range(c):
                pattern[(y * w0 + x) * c + ch] = value(y, x, ch)
    expected = torch.tensor(
        [[[value(y, x, ch) for x in range(w0)] for y in range(h0)] for ch in range(c)],
        dtype=torch.float64,
    )
    # through the bias
    with torch.no_grad():
        m.dense_weight.zero_()
        m.dense_bias.copy_(pattern)
        assert torch.equal(m.features()[0], expected)
        # through the weights: latent = e_0 picks column 0
        m.dense_bias.zero_()
        m.latent.zero_()
        m.latent[0] = 1.0
        m.dense_weight[:, 0] = pattern
        assert torch.equal(m.features()[0], expected)


@pytest.mark.parametrize("upsampling", VARIANTS)
def test_activations_and_weight_gradients_stay_channels_first(upsampling):
    # The dense reshape is a permuted (channels-last) view; if it leaked into the blocks, every
    # convolution would convert its weights to channels-last and its weight gradients back on
    # each call, ~15% of an evaluation at 32x64.
    m = _model(32, 64, upsampling=upsampling)
    x = m.features()
    assert x.is_contiguous()
    for block in m.blocks:
        x = block(x)
        assert x.is_contiguous(), type(block).__name__
    grads = torch.autograd.grad(m().square().sum(), list(m.parameters()))
    for (name, p), g in zip(m.named_parameters(), grads, strict=True):
        assert g.is_contiguous(), name
        assert g.stride() == p.stride(), name


# ------------------------------------------------------------------------------------------------
# dtype, flat-vector API, differentiability
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("upsampling", VARIANTS)
def test_float64_option(upsampling):
    m64 = _model(32, 64, upsampling=upsampling, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in m64.parameters())
    with torch.no_grad():
        z = m64()
    assert z.dtype == torch.float64
    assert m64.flatten().dtype == torch.float64
    # the string form works too, and the float64 model starts from the float32 model's values
    m32 = _model(32, 64, upsampling=upsampling, dtype="float32")
    assert m32.flatten().dtype == torch.float32
    assert torch.equal(m64.flatten(), m32.flatten().to(torch.float64))
    with torch.no_grad():
        diff = (m64() - m32().to(torch.float64)).abs().max()
    assert float(diff) < 1e-3 * float(z.abs().max())


def test_flatten_assign_round_trip():
    m = _model(32, 64)
    x0 = m.flatten().clone()
    theta = torch.randn(m.num_parameters(), generator=torch.Generator().manual_seed(7))
    m.assign(theta)
    assert torch.equal(m.flatten(), theta)
    for g, p in zip(m.parameter_groups(), m.parameters(), strict=True):
        assert torch.equal(p.detach(), theta[g.offset : g.offset + g.size].reshape(g.shape))
    # numpy input, float64 input cast to the model dtype
    m.assign(x0.to(torch.float64).numpy())
    assert torch.equal(m.flatten(), x0)
    assert m.flatten().dtype == torch.float32
    # flatten is a detached copy
    f = m.flatten()
    f += 1
    assert torch.equal(m.flatten(), x0)


def test_assign_into_packed_and_unpacked_parameters():
    # Parameters are views of one buffer, so assign is a single copy; a dtype change or a deep
    # copy replaces the storage and assign packs the parameters again.
    m = CNNModel(32, 64, seed=0)
    assert m._is_packed()
    params = list(m.parameters())
    theta = torch.randn(m.num_parameters(), dtype=torch.float64)
    m.assign(theta)
    assert torch.equal(m.flatten(), theta.to(torch.float32))
    m = copy.deepcopy(m)
    assert not m._is_packed()
    m.assign(-theta)
    assert m._is_packed() and torch.equal(m.flatten(), -theta.to(torch.float32))
    params = list(m.parameters())
    # Gradients are per parameter as usual.
    z = m()
    z.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.double()
    assert not m._is_packed()
    m.assign(theta)
    assert m._is_packed() and torch.equal(m.flatten(), theta)
    assert all(p is q for p, q in zip(m.parameters(), params, strict=True))
    for g, p in zip(m.parameter_groups(), m.parameters(), strict=True):
        assert torch.equal(p.detach(), theta[g.offset : g.offset + g.size].reshape(g.shape))


def test_assign_validates_length():
    m = _small()
    n = m.num_parameters()
    with pytest.raises(ValueError, match=str(n)):
        m.assign(torch.zeros(n - 1))
    with pytest.raises(ValueError):
        m.assign(torch.zeros(1, n))


def test_forward_from_flat_and_gradients_match_module_parameters():
    m = _small(dtype=torch.float64, seed=2)
    theta = m.flatten().requires_grad_(True)
    z = m.forward_from_flat(theta)
    with torch.no_grad():
        assert torch.equal(z, m())
    weights = torch.randn(z.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (gflat,) = torch.autograd.grad((z * weights).sum(), theta)
    m.zero_grad()
    (m() * weights).sum().backward()
    assert torch.allclose(gflat, m.flatten_grad(), rtol=1e-13, atol=1e-15)
    # parameters untouched by forward_from_flat
    assert torch.equal(m.flatten(), theta.detach())


@pytest.mark.parametrize("upsampling", VARIANTS)
def test_twice_differentiable_hvp_matches_finite_differences(upsampling):
    m = _small(dtype=torch.float64, upsampling=upsampling, seed=1)
    gen = torch.Generator().manual_seed(3)
    theta0 = m.flatten()
    theta0 = theta0 + 0.1 * torch.randn(theta0.shape, dtype=torch.float64, generator=gen)
    weights = torch.randn((8, 16), dtype=torch.float64, generator=gen)
    v = torch.randn(theta0.shape, dtype=torch.float64, generator=gen)

    def loss(t):
        z = m.forward_from_flat(t)
        return (weights * torch.sin(z)).sum()  # nonlinear in z: curvature of the model matters

    def grad(t):
        t = t.detach().requires_grad_(True)
        return torch.autograd.grad(loss(t), t)[0]

    t = theta0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
    (hv,) = torch.autograd.grad((g * v).sum(), t)
    eps = 1e-5
    fd = (grad(theta0 + eps * v) - grad(theta0 - eps * v)) / (2 * eps)
    assert torch.allclose(hv, fd, rtol=1e-6, atol=1e-6 * float(fd.abs().max()))


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((30, 64), {}, "divisible"),
        ((32, 60), {}, "divisible"),
        ((32, 64), {"upsampling": "nearest"}, "upsampling"),
        ((32, 64), {"resizes": (1, 2, 2, 2)}, "same length"),
        ((32, 64), {"conv_filters": (128, 64, 32, 16, 2)}, "1 filter"),
        ((0, 64), {}, "height"),
        ((32, 64), {"latent_size": 0}, "latent_size"),
        ((32, 64), {"resizes": (1, 2, 0, 2, 1)}, "resize"),
        ((32, 64), {"dtype": torch.float16}, "dtype"),
        ((32, 64), {"dtype": "float16"}, "dtype"),
        ((32, 64), {"seed": -1}, "seed"),
        ((32, 64), {"latent_scale": float("nan")}, "latent_scale"),
        ((32, 64), {"upsampling": "transpose", "kernel_size": 1}, "kernel_size"),
    ],
)
def test_invalid_arguments_raise_value_error(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CNNModel(*args, **kwargs)


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2.5}, {"latent_size": "8"}, {"seed": 1.0}])
def test_wrongly_typed_arguments_raise_type_error(kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        CNNModel(32, 64, **kwargs)


def test_other_sizes_with_other_resizes():
    # the divisibility rule follows prod(resizes)
    m = CNNModel(12, 18, resizes=(1, 3, 1), conv_filters=(4, 2, 1), latent_size=5)
    assert m().shape == (12, 18)
    with pytest.raises(ValueError, match="3"):
        CNNModel(12, 16, resizes=(1, 3, 1), conv_filters=(4, 2, 1))


# ------------------------------------------------------------------------------------------------
# PixelModel
# ------------------------------------------------------------------------------------------------
def test_pixel_model():
    mask = np.ones((4, 6), dtype=bool)
    mask[1:3, 2:4] = False
    m = PixelModel(4, 6, density=0.3, mask=mask)
    z = m()
    assert z.shape == (4, 6) and z.dtype == torch.float64
    assert np.array_equal(z.detach().numpy(), 0.3 * mask)
    (g,) = m.parameter_groups()
    assert (g.name, g.shape, g.kind, g.offset, g.size, g.filter_axis) == (
        "z",
        (4, 6),
        "pixel",
        0,
        24,
        None,
    )
    assert m.num_parameters() == 24
    theta = torch.arange(24, dtype=torch.float64)
    m.assign(theta)
    assert torch.equal(m.flatten(), theta)
    assert torch.equal(m(), theta.reshape(4, 6))  # C order of (H, W)
    assert torch.equal(m.forward_from_flat(theta + 1), theta.reshape(4, 6) + 1)
    with pytest.raises(ValueError):
        m.assign(torch.zeros(23))
    with pytest.raises(ValueError, match="mask"):
        PixelModel(4, 6, mask=np.ones((6, 4), dtype=bool))
    assert PixelModel(2, 2, dtype="float32")().dtype == torch.float32


def test_pixel_model_from_problem():
    import toposcape as ts

    p = ts.problems.mbb_beam(width=16, height=8, density=0.4)
    m = PixelModel.from_problem(p)
    assert m().shape == (8, 16)
    assert np.array_equal(m().detach().numpy(), 0.4 * p.mask)
