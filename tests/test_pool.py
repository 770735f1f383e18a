"""maskprep.ops.max_pool2d against torch.nn.functional.max_pool2d (the anchor) and a numpy
reference.

Tolerance: none. Values are compared bit for bit (as integers), including the sign of zeros and
the payload and sign of NaNs: the kernel folds each window in ATen's order with ATen's update
rule. Without torch, the numpy reference (finite values) still checks the pooling geometry.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import torch_or_skip
from maskprep import ops

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan]


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.int32 if a.dtype == np.float32 else np.int64)


def special_values(rng, shape, dtype):
    """Ties (+-0, repeated values), infinities and NaNs of both signs and several payloads."""
    x = rng.choice(np.array(SPECIAL, dtype), shape)
    ints = bits(x)
    sign = np.array(-(2**31) if dtype == np.float32 else -(2**63), ints.dtype)
    ints[rng.random(shape) < 0.2] ^= sign
    nan = np.isnan(x)
    ints[nan] |= rng.integers(1, 1 << 20, nan.sum()).astype(ints.dtype)  # payloads
    return x


def reference(x, k, s, p):
    """Plain loops over each window's in-image pixels (finite inputs)."""
    kh, kw = k
    sh, sw = s
    ph, pw = p
    h, w = x.shape[-2:]
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty(x.shape[:-2] + (oh, ow), x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * sh - ph, ox * sw - pw
            win = x[..., max(y0, 0) : y0 + kh, max(x0, 0) : x0 + kw]
            out[..., oy, ox] = win.max(axis=(-2, -1))
    return out


def random_geometry(rng):
    while True:
        k = tuple(int(v) for v in rng.integers(1, 6, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
        h, w = (int(v) for v in rng.integers(1, 24, 2))
        if h + 2 * p[0] >= k[0] and w + 2 * p[1] >= k[1]:
            return (h, w), k, s, p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_reference(dtype):
    rng = np.random.default_rng(1)
    for _ in range(60):
        (h, w), k, s, p = random_geometry(rng)
        x = rng.standard_normal((2, 3, h, w)).astype(dtype)
        np.testing.assert_array_equal(ops.max_pool2d(x, k, s, p), reference(x, k, s, p))


@pytest.mark.needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_to_torch_on_special_values(dtype):
    torch = torch_or_skip()
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    for _ in range(200):
        (h, w), k, s, p = random_geometry(rng)
        x = special_values(rng, (2, 3, h, w), dtype)
        expected = F.max_pool2d(torch.from_numpy(x), k, s, p).numpy()
        np.testing.assert_array_equal(
            bits(ops.max_pool2d(x, k, s, p, num_threads=1)), bits(expected)
        )


@pytest.mark.needs_torch
def test_resnet_stem_pooling_tensor_in_tensor_out():
    torch = torch_or_skip()
    x = torch.randn(2, 64, 101, 153, generator=torch.Generator().manual_seed(3)).relu()
    expected = torch.nn.functional.max_pool2d(x, 3, 2, 1)
    for nt in (1, 2, -1):
        got = ops.max_pool2d(x, 3, 2, 1, num_threads=nt)  # serial == parallel, bitwise
        assert isinstance(got, torch.Tensor) and got.dtype == x.dtype
        assert torch.equal(got.view(torch.int32), expected.view(torch.int32))
    # (C, H, W), a channels-last tensor and a non-contiguous view give torch's values too
    assert torch.equal(ops.max_pool2d(x[0], 3, 2, 1), expected[0])
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(ops.max_pool2d(cl, 3, 2, 1), expected)
    view = x[:, :, ::2, 1:]
    assert torch.equal(ops.max_pool2d(view, 2), torch.nn.functional.max_pool2d(view, 2))


@pytest.mark.needs_torch
def test_gradients_go_through_torch():
    torch = torch_or_skip()
    x = torch.randn(1, 2, 9, 9, requires_grad=True)
    out = ops.max_pool2d(x, 3, 2, 1)
    out.sum().backward()
    assert out.grad_fn is not None and x.grad is not None and x.grad.sum() == out.numel()
    # other devices (meta stands in for CUDA here) go to torch as well
    meta = ops.max_pool2d(torch.empty(1, 2, 9, 9, device="meta"), 3, 2, 1)
    assert meta.device.type == "meta" and meta.shape == (1, 2, 5, 5)


def test_default_stride_is_the_kernel():
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    np.testing.assert_array_equal(ops.max_pool2d(x, 2), [[[7, 9, 11], [19, 21, 23], [31, 33, 35]]])
    assert ops.max_pool2d(np.zeros((0, 3, 4, 4), np.float64), 2).shape == (0, 3, 2, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=0), r"kernel_size must be positive, got 0"),
        (dict(kernel_size=(2, 2, 2)), r"kernel_size must be an int or a pair of ints"),
        (dict(kernel_size=2, stride=0), r"stride must be positive, got 0"),
        (dict(kernel_size=2, padding=-1), r"padding must be >= 0, got -1"),
        (
            dict(kernel_size=3, padding=2),
            r"padding must be in \[0, kernel_size / 2\], got \(2, 2\)",
        ),
        (dict(kernel_size=9), r"input of 5 x 5 is too small for kernel_size \(9, 9\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.max_pool2d(np.zeros((1, 5, 5), np.float32), **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=2.5), r"kernel_size must be an int or a pair of ints, got 2.5"),
        (dict(kernel_size=(2, True)), r"kernel_size must be an int or a pair of ints"),
        (dict(kernel_size=2, stride=1.0), r"stride must be an int or a pair of ints, got 1.0"),
    ],
)
def test_non_integer_sizes_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        ops.max_pool2d(np.zeros((1, 5, 5), np.float32), **kwargs)


def test_bad_inputs():
    with pytest.raises(
        TypeError,
        match=r"input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 array, got uint8",
    ):
        ops.max_pool2d(np.zeros((1, 5, 5), np.uint8), 2)
    with pytest.raises(
        ValueError,
        match=r"input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 array, got float32 with shape \(5, 5\)",
    ):
        ops.max_pool2d(np.zeros((5, 5), np.float32), 2)
    with pytest.raises(ValueError, match=r"num_threads"):
        ops.max_pool2d(np.zeros((1, 5, 5), np.float32), 2, num_threads=0)


@pytest.mark.needs_torch
def test_bad_tensor_dtype():
    torch = torch_or_skip()
    with pytest.raises(
        TypeError,
        match=r"input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 array, got int64",
    ):
        ops.max_pool2d(torch.zeros(1, 4, 4, dtype=torch.int64), 2)
