"""maskprep: fast, exact instance-segmentation mask preparation.

C++ kernels (OpenMP, GIL released) under a thin Python API:

- :mod:`maskprep.rle` - COCO RLE encode/decode, compressed strings, area, bbox, IoU, merge,
  polygons and boxes to RLE, whole-dataset conversion (bit-identical to pycocotools).
- :mod:`maskprep.components` - connected components with stats, hole filling, small-region
  removal (parity with scikit-image, OpenCV, scipy).
- :mod:`maskprep.contours` - masks to COCO polygons that rasterize back exactly.
- :mod:`maskprep.boxes` - bounding boxes to instance masks (box, ellipse, grow on the image).
- :mod:`maskprep.mask` - a drop-in for ``pycocotools.mask`` (see :func:`install_as_pycocotools`).
- :mod:`maskprep.imgproc` - grey/HSV conversion, Gaussian blur, histogram equalisation, Otsu
  thresholding and flood fill (bit-identical to OpenCV / scikit-image).
- :mod:`maskprep.morphology` - binary erode/dilate/open/close (bit-identical to OpenCV).
"""

from __future__ import annotations

from typing import Any

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only when the extension was not built
    raise ImportError(
        "maskprep's compiled module maskprep._core is missing or broken "
        f"({exc}). Reinstall with `pip install .` from a source checkout (needs a C++17 "
        "compiler and CMake), or `bash scripts/setup.sh`."
    ) from exc

from . import imgproc, morphology, ops  # noqa: F401  (ops: RoI Align, paste)
from ._threads import get_num_threads, resolve_num_threads, set_num_threads, threads

__version__: str = _core.build_info()["version"]


def build_info() -> dict:
    """Build facts: ``version``, ``compiler``, ``openmp`` (bool), ``simd`` (run-time level),
    ``cores`` (usable processors) and the ``pybind11`` version."""
    return dict(_core.build_info())


__all__ = [
    "__version__",
    "build_info",
    "get_num_threads",
    "set_num_threads",
    "threads",
    "resolve_num_threads",
]

from . import boxes, components, contours, mask, rle  # noqa: E402


def install_as_pycocotools() -> None:
    """Make ``import pycocotools.mask`` (and so ``COCO.annToRLE`` and ``COCOeval``) use
    :mod:`maskprep.mask` (and ``pycocotools._mask`` use ``maskprep.mask._mask``).

    Call it before or after importing pycocotools: already imported ``pycocotools.coco`` and
    ``pycocotools.cocoeval`` modules are re-pointed too. ``COCO`` and ``COCOeval`` themselves
    still come from pycocotools (pure Python); without pycocotools installed only
    ``pycocotools.mask`` is provided.
    """
    import sys
    import types

    package: Any = sys.modules.get("pycocotools")
    if package is None:
        try:
            import pycocotools

            package = pycocotools
        except ImportError:
            package = types.ModuleType("pycocotools")
            package.__path__ = []  # a namespace for pycocotools.mask alone
            sys.modules["pycocotools"] = package
    sys.modules["pycocotools.mask"] = mask
    sys.modules["pycocotools._mask"] = mask._mask
    package.mask = mask
    package._mask = mask._mask
    for name in ("pycocotools.coco", "pycocotools.cocoeval"):
        module = sys.modules.get(name)
        if module is not None:
            setattr(module, "maskUtils", mask)  # noqa: B010 - a module attribute mypy cannot see


__all__ += [
    "install_as_pycocotools",
    "boxes",
    "components",
    "contours",
    "imgproc",
    "mask",
    "morphology",
    "rle",
]
