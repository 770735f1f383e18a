"""maskprep.paste_masks against torchvision's paste_masks_in_image (the anchor).

Tolerance: none. The thresholded masks must equal torchvision's ``>= threshold`` masks pixel for
pixel, on seeded random masks and boxes that are tiny, huge, at and beyond the image borders.
Boxes entirely outside the image make torchvision raise (its slices go negative); there we
check the documented answer, an empty mask. The fused RLE must equal rle.encode of the dense
output byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import torch_or_skip
from maskprep import ops, rle

H, W = 96, 128


def random_case(rng, n, m, height=H, width=W, dtype=np.float32):
    """n masks of m x m probabilities and boxes from sub-pixel to twice the image, centred
    anywhere from 40 px outside the image to 40 px beyond its far edge."""
    masks = rng.random((n, m, m)).astype(dtype)
    centre = rng.uniform(-40, [width + 40, height + 40], size=(n, 2))
    size = np.exp(rng.uniform(np.log(0.3), np.log(2 * max(height, width)), size=(n, 2)))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(dtype)
    return masks, boxes


def border_boxes(m_boxes):
    """Boxes touching or crossing each border and corner exactly at integer coordinates."""
    b = [
        [0, 0, 30, 20],
        [W - 31, H - 21, W - 1, H - 1],
        [-10, -5, 20, 15],
        [W - 20, H - 15, W + 10, H + 5],
        [-50, 10, W + 50, 40],
        [10, -50, 40, H + 50],
        [-1, -1, W, H],
        [0.5, 0.5, 0.5, 0.5],
        [W - 1, H - 1, W - 1, H - 1],
    ]
    return np.asarray(b[:m_boxes], dtype=np.float32)


def torchvision_paste(torch, masks, boxes, size, threshold=0.5):
    """torchvision's paste per instance; None where torchvision raises (box entirely outside)."""
    from torchvision.models.detection.roi_heads import paste_masks_in_image

    out = []
    for i in range(len(masks)):
        try:
            p = paste_masks_in_image(
                torch.from_numpy(masks[i : i + 1, None]),
                torch.from_numpy(boxes[i : i + 1]),
                size,
                padding=1,
            )
        except RuntimeError:
            out.append(None)
            continue
        out.append((p[0, 0] >= threshold).numpy())
    return out


def entirely_outside(boxes, m, height, width):
    """Rows whose expanded integer box misses the image (torchvision's rule, in float32)."""
    scale = np.float32((m + 2) / m)
    b = boxes.astype(np.float32)
    wh = (b[:, 2] - b[:, 0]) * np.float32(0.5) * scale
    hh = (b[:, 3] - b[:, 1]) * np.float32(0.5) * scale
    xc = (b[:, 2] + b[:, 0]) * np.float32(0.5)
    yc = (b[:, 3] + b[:, 1]) * np.float32(0.5)
    x0, x1 = np.trunc(xc - wh), np.trunc(xc + wh)
    y0, y1 = np.trunc(yc - hh), np.trunc(yc + hh)
    return (x1 < 0) | (y1 < 0) | (x0 >= width) | (y0 >= height) | (x1 < x0) | (y1 < y0)


@pytest.mark.parametrize("m", [28, 14, 7, 1])
def test_dense_equals_torchvision(rng, m):
    torch = torch_or_skip()
    masks, boxes = random_case(rng, 150, m)
    boxes[:9] = border_boxes(9)
    ours = ops.paste_masks(masks, boxes, (H, W))
    assert ours.dtype == np.bool_ and ours.shape == (150, H, W)
    ref = torchvision_paste(torch, masks, boxes, (H, W))
    outside = entirely_outside(boxes, m, H, W)
    compared = 0
    for i, r in enumerate(ref):
        if r is None:
            assert outside[i], f"torchvision failed on a visible box {boxes[i]}"
            assert not ours[i].any()
            continue
        np.testing.assert_array_equal(ours[i], r, err_msg=f"instance {i}, box {boxes[i]}")
        compared += 1
    assert compared >= 100
    assert outside.any(), "the random boxes should include some entirely outside the image"
    assert not ours[outside].any()


NEAR_THRESHOLD_SCRIPT = """
import sys
import numpy as np
import torch
from torchvision.models.detection.roi_heads import paste_masks_in_image
from maskprep import ops

capability, arithmetic = sys.argv[1:]
if torch.backends.cpu.get_cpu_capability() != capability:
    print("skip", torch.backends.cpu.get_cpu_capability())
    sys.exit(0)
rng = np.random.default_rng(3)
n, m = 60, 28
# Probabilities within a few ulps of 0.5: most pasted values then sit on the threshold, so the
# comparison sees every rounding of the interpolation.
masks = (0.5 + rng.integers(-3, 4, (n, m, m)) * np.float32(2**-24)).astype(np.float32)
sizes = np.linspace(20, 220, n, dtype=np.float32)  # h + w from 33 to 333: both ATen kernels
boxes = np.stack([np.full(n, 3.3), np.full(n, 2.7), 3.3 + sizes, 2.7 + sizes / 2], 1)
boxes = boxes.astype(np.float32)
ours = ops.paste_masks(masks, boxes, (240, 240), arithmetic=arithmetic)
ref = paste_masks_in_image(torch.from_numpy(masks[:, None]), torch.from_numpy(boxes), (240, 240))
bad = int((ref[:, 0].numpy() >= 0.5).__ne__(ours).sum())
near = int((np.abs(ref.numpy() - 0.5) < 1e-6).sum())
print(bad, near)
"""


@pytest.mark.parametrize(
    "capability, arithmetic",
    [("default", "portable"), ("default", "auto"), ("avx2", "fma"), ("avx2", "auto")],
)
def test_bit_exact_at_the_threshold(capability, arithmetic):
    """Values on the threshold, in a fresh process under one of ATen's CPU kernels: ATen's
    portable kernels and its AVX2 (FMA-contracted) ones round differently in the last bit, and
    each must be matched by the corresponding arithmetic ("auto" must pick it). Boxes below and
    above h + w = 128 exercise both of ATen's summation orders."""
    torch_or_skip()
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    res = subprocess.run(
        [sys.executable, "-c", NEAR_THRESHOLD_SCRIPT, capability.upper(), arithmetic],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    if res.stdout.startswith("skip"):
        pytest.skip(f"this CPU runs ATen's {res.stdout.split()[1]} kernels, not {capability}")
    bad, near = map(int, res.stdout.split())
    assert near > 10_000, "the case should put many values on the threshold"
    assert bad == 0


def test_the_two_arithmetics_differ_on_the_threshold(rng):
    """The arithmetic switch is not a no-op: on values at 0.5 the two roundings disagree."""
    masks = (0.5 + rng.integers(-3, 4, (30, 28, 28)) * np.float32(2**-24)).astype(np.float32)
    sizes = np.linspace(20, 220, 30, dtype=np.float32)
    boxes = np.stack([np.full(30, 3.3), np.full(30, 2.7), 3.3 + sizes, 2.7 + sizes / 2], 1)
    boxes = boxes.astype(np.float32)
    a = ops.paste_masks(masks, boxes, (240, 240), arithmetic="portable")
    b = ops.paste_masks(masks, boxes, (240, 240), arithmetic="fma")
    assert (a != b).sum() > 100


@pytest.mark.parametrize("threshold", [1e-6, 0.25, 0.7, 1.0])
def test_threshold_matches_torchvision(rng, threshold):
    torch = torch_or_skip()
    masks, boxes = random_case(rng, 40, 28)
    ours = ops.paste_masks(masks, boxes, (H, W), threshold=threshold)
    for i, r in enumerate(torchvision_paste(torch, masks, boxes, (H, W), threshold)):
        if r is not None:
            np.testing.assert_array_equal(ours[i], r)


def test_float64_masks_and_boxes_match_torchvision(rng):
    torch = torch_or_skip()
    masks, boxes = random_case(rng, 60, 28, dtype=np.float64)
    ours = ops.paste_masks(masks, boxes, (H, W))
    for i, r in enumerate(torchvision_paste(torch, masks, boxes, (H, W))):
        if r is not None:
            np.testing.assert_array_equal(ours[i], r)


def test_tensor_inputs_give_a_bool_tensor(rng):
    torch = torch_or_skip()
    masks, boxes = random_case(rng, 10, 28)
    out = ops.paste_masks(torch.from_numpy(masks[:, None]), torch.from_numpy(boxes), (H, W))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bool
    np.testing.assert_array_equal(out.numpy(), ops.paste_masks(masks, boxes, (H, W)))


def test_logits_flag(rng):
    torch = torch_or_skip()
    logits = torch.from_numpy(rng.standard_normal((20, 28, 28)).astype(np.float32) * 4)
    _, boxes = random_case(rng, 20, 28)
    expected = ops.paste_masks(torch.sigmoid(logits), boxes, (H, W))
    assert torch.equal(ops.paste_masks(logits, boxes, (H, W), logits=True), expected)
    from_numpy = ops.paste_masks(logits.numpy(), boxes, (H, W), logits=True)
    assert (from_numpy != expected.numpy()).sum() <= 2  # numpy's exp is not torch's, bitwise
    assert expected.any()


@pytest.mark.parametrize("compressed", [True, False])
def test_fused_rle_equals_encode_of_dense(rng, compressed):
    masks, boxes = random_case(rng, 120, 28)
    boxes[:9] = border_boxes(9)
    dense = ops.paste_masks(masks, boxes, (H, W))
    fused = ops.paste_masks(masks, boxes, (H, W), output="rle", compressed=compressed)
    assert fused == rle.encode(dense, layout="nhw", compressed=compressed)


def test_integer_and_float64_boxes(rng):
    masks, boxes = random_case(rng, 30, 28)
    int_boxes = np.round(boxes).astype(np.int64)
    np.testing.assert_array_equal(
        ops.paste_masks(masks, int_boxes, (H, W)),
        ops.paste_masks(masks, int_boxes.astype(np.float32), (H, W)),
    )


@pytest.mark.parametrize("output", ["dense", "rle"])
def test_serial_equals_parallel(rng, output):
    masks, boxes = random_case(rng, 200, 28)
    one = ops.paste_masks(masks, boxes, (H, W), output=output, num_threads=1)
    for nt in (2, 3, -1):
        many = ops.paste_masks(masks, boxes, (H, W), output=output, num_threads=nt)
        if output == "dense":
            assert np.array_equal(one, many)
        else:
            assert one == many


def test_empty_inputs():
    masks = np.zeros((0, 28, 28), np.float32)
    boxes = np.zeros((0, 4), np.float32)
    assert ops.paste_masks(masks, boxes, (H, W)).shape == (0, H, W)
    assert ops.paste_masks(masks, boxes, (H, W), output="rle") == []
    # A zero-area image: every mask is one empty run, as rle.encode gives.
    m1, b1 = np.ones((1, 28, 28), np.float32), np.array([[0, 0, 5, 5]], np.float32)
    assert ops.paste_masks(m1, b1, (0, 7)).shape == (1, 0, 7)
    assert ops.paste_masks(m1, b1, (0, 7), output="rle", compressed=False) == [
        {"size": [0, 7], "counts": [0]}
    ]


def test_full_mask_and_huge_box():
    """A certain mask on a box far larger than the image fills it; the work stays bounded by
    the image (a 1e9 px box would need gigabytes in torchvision)."""
    m = np.ones((1, 28, 28), np.float32)
    b = np.array([[-1e9, -1e9, 1e9, 1e9]], np.float32)
    r = ops.paste_masks(m, b, (H, W), output="rle", compressed=False)
    assert r == [{"size": [H, W], "counts": [0, H * W]}]


# ---- errors: one per path ----------------------------------------------------------------------

M = np.zeros((2, 28, 28), np.float32)
B = np.zeros((2, 4), np.float32)


MASKS = r"masks must be an \(N, M, M\) float32 or float64 array of square masks, M >= 1, got "


def test_error_bad_ndim():
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(N, M, M\) float32 or float64 array of square masks, M >= 1, got float32 with shape \(28, 28\)",
    ):
        ops.paste_masks(M[0], B, (H, W))


def test_error_non_square_masks():
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(N, M, M\) float32 or float64 array of square masks, M >= 1, got float32 with shape \(2, 28, 14\)",
    ):
        ops.paste_masks(M[:, :, :14], B, (H, W))


def test_error_wrong_box_shape():
    with pytest.raises(
        ValueError,
        match=r"boxes must be an \(N, 4\) float32 or float64 array with N = 2 .*got float32 with shape \(3, 4\)",
    ):
        ops.paste_masks(M, np.zeros((3, 4), np.float32), (H, W))


def test_error_nan_boxes():
    b = B.copy()
    b[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"boxes must be finite, got nan in row 1"):
        ops.paste_masks(M, b, (H, W))


def test_error_inf_boxes_rle():
    b = B.copy()
    b[0, 0] = -np.inf
    with pytest.raises(ValueError, match=r"boxes must be finite, got -inf in row 0"):
        ops.paste_masks(M, b, (H, W), output="rle")


@pytest.mark.parametrize("size", [(H,), (H, -1), (H, 2.5), "ab", None])
def test_error_bad_image_size(size):
    with pytest.raises(ValueError, match=r"image_size must be \(height, width\)"):
        ops.paste_masks(M, B, size)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5, float("nan"), "0.5", True])
def test_error_bad_threshold(threshold):
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\]"):
        ops.paste_masks(M, B, (H, W), threshold=threshold)


def test_error_bad_mask_dtype():
    with pytest.raises(TypeError, match=MASKS + "uint8 with shape"):
        ops.paste_masks(M.astype(np.uint8), B, (H, W))


def test_error_bad_box_dtype():
    with pytest.raises(
        TypeError, match=r"boxes must be an \(N, 4\) float32 or float64 .*got complex"
    ):
        ops.paste_masks(M, B.astype(np.complex64), (H, W))


def test_error_bad_arithmetic():
    with pytest.raises(ValueError, match=r"arithmetic must be 'auto', 'portable' or 'fma'"):
        ops.paste_masks(M, B, (H, W), arithmetic="avx")


def test_error_bad_output():
    with pytest.raises(ValueError, match=r"output must be 'dense' or 'rle', got 'coco'"):
        ops.paste_masks(M, B, (H, W), output="coco")


def test_error_bad_num_threads():
    with pytest.raises(ValueError, match=r"num_threads"):
        ops.paste_masks(M, B, (H, W), num_threads=0)
