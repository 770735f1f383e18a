"""Tensors in -> tensors out (issue 11): every function that takes an image or mask array
returns a tensor on the input's device for a tensor, equal to what the numpy array gives."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import torch_or_skip
from maskprep import boxes, components, imgproc, morphology

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (12, 10), dtype=np.uint8)
MASK = RNG.random((12, 10)) > 0.5

CASES = {
    "rgb_to_gray": (imgproc.rgb_to_gray, RGB),
    "rgb_to_hsv": (imgproc.rgb_to_hsv, RGB),
    "gaussian_blur": (lambda x: imgproc.gaussian_blur(x, sigma=1.0), GRAY),
    "equalize_hist": (imgproc.equalize_hist, GRAY),
    "otsu_threshold": (lambda x: imgproc.otsu_threshold(x)[1], GRAY),
    "flood": (lambda x: imgproc.flood(x, (3, 3), tolerance=40), GRAY),
    "erode": (morphology.erode, MASK),
    "dilate": (morphology.dilate, MASK),
    "open": (morphology.open, MASK),
    "close": (morphology.close, MASK),
    "label": (components.label, MASK),
    "connected_components.bbox": (lambda x: components.connected_components(x).bbox, MASK),
    "fill_holes": (components.fill_holes, MASK),
    "remove_small_objects": (lambda x: components.remove_small_objects(x, max_size=2), MASK),
    "remove_small_holes": (lambda x: components.remove_small_holes(x, max_size=2), MASK),
    "boxes_to_masks": (
        lambda b: boxes.boxes_to_masks(b, (12, 10), output="dense"),
        np.array([[1.0, 2.0, 4.0, 5.0]]),
    ),
}


@pytest.mark.needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_tensors_in_tensors_out(name):
    torch = torch_or_skip()
    fn, x = CASES[name]
    expected = fn(x)
    got = fn(torch.from_numpy(x))
    assert isinstance(expected, np.ndarray) and isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), expected)
