"""The error contract, for every public function (DESIGN.md, issue 10).

Python coerces, the bindings own dtype, rank and shape, the kernels own values:

- a wrong dtype for the main array argument -> TypeError,
- a wrong rank / shape, or an empty array where data is needed -> ValueError,
- and the message names the argument.

Each public function gets three cases (one test id each): ``dtype`` (a float mask/image where
an integer/bool one is expected, or the wrong dtype for the main array argument), ``rank`` (a
4-D array; where 4-D is valid, a 4-D array for the other array argument or a 5-D one) and
``empty``. Where empty input is legitimately valid (zero boxes, zero RLEs, ...) the table says so
and checks the documented result instead. Functions whose main argument is not an array (a list
of RLE dicts, a thread count) must reject an array with a TypeError naming the argument.

The table is built from each module's ``__all__``: a new public function fails
``test_table_covers_every_public_function`` until it is given a row here.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import maskprep
from conftest import torch_or_skip
from maskprep import boxes, components, contours, imgproc, mask, morphology, ops, rle, shards
from maskprep import ray as mray

MODULES = {
    "maskprep": maskprep,
    "rle": rle,
    "mask": mask,
    "ops": ops,
    "imgproc": imgproc,
    "morphology": morphology,
    "components": components,
    "contours": contours,
    "boxes": boxes,
    "shards": shards,
    "ray": mray,
}
# Public names that are not functions (types, constants, submodules): listed, so that a new
# one is a decision too.
NOT_FUNCTIONS = {
    "maskprep.__version__",
    "components.Components",
    "boxes.METHODS",
    "shards.BOX_OPTIONS",
    "shards.FORMATS",
    "shards.JOBS",
    "shards.ShardError",
    "ray.MaskRCNNPredictor",
}

CASES = ("dtype", "rank", "empty")

F64 = np.zeros((4, 4))  # a float mask / image
U8_4D = np.zeros((2, 2, 4, 4), np.uint8)
EMPTY = np.zeros((0, 4), np.uint8)
BOX = np.array([[0.0, 0.0, 2.0, 2.0]])


class Raises(NamedTuple):
    exc: type
    match: str  # must name the argument


class Valid(NamedTuple):
    """Empty input that is legitimately valid: ``check`` asserts the documented result."""

    why: str
    check: Callable[[Any], bool]


class Row(NamedTuple):
    call: Callable[[], Any]
    expect: Any  # Raises or Valid


NO_ARGUMENTS = "takes no arguments"  # nothing to feed: the test checks the signature stays so


def _rows(fn: Callable[[Any], Any], dtype: Any, rank: Any, empty: Any, inputs=None) -> dict:
    """Rows for ``fn(x)`` with the default inputs (F64, U8_4D, EMPTY) or ``inputs``."""
    xs = inputs or (F64, U8_4D, EMPTY)
    return {case: Row(lambda x=x: fn(x), e) for case, x, e in zip(CASES, xs, (dtype, rank, empty))}


def _mask_rows(fn: Callable[[Any], Any], name: str = "mask", what: str = "") -> dict:
    """A function of one 2-D bool/uint8 mask or uint8 image."""
    pattern = f"^{name} must be {what}"
    return _rows(
        fn, Raises(TypeError, pattern), Raises(ValueError, pattern), Raises(ValueError, pattern)
    )


def _rle_list_rows(fn: Callable[[Any], Any], empty: Any, name: str = "rles") -> dict:
    """A function of a list of RLE dicts: any array is the wrong type."""
    wrong = Raises(TypeError, f"^{name} must be an RLE dict or a list of them, got ndarray")
    return _rows(fn, wrong, wrong, empty, (F64, U8_4D, []))


def _threads_rows(fn: Callable[[Any], Any]) -> dict:
    wrong = Raises(TypeError, "^num_threads must be None or an int, got ndarray")
    return _rows(fn, wrong, wrong, wrong)


def _boxes_rows(fn: Callable[[Any], Any], name: str, pattern: str, empty: Valid) -> dict:
    """A function of (N, 4) real boxes: complex is the wrong dtype, zero boxes are valid."""
    p = f"^{name} must be {pattern}"
    return _rows(
        fn,
        Raises(TypeError, p),
        Raises(ValueError, p),
        empty,
        (BOX.astype(complex), np.zeros((1, 1, 1, 4)), np.zeros((0, 4))),
    )


def _is_empty_list(x: Any) -> bool:
    return isinstance(x, list) and x == []


FEATURES = np.zeros((1, 2, 8, 8), np.float32)
MASKS_28 = np.zeros((1, 4, 4), np.float32)
IMAGE_RGB = "a non-empty \\(H, W, 3\\) or \\(H, W, 4\\) uint8 array"
IMAGE_GRAY = "a non-empty \\(H, W\\) uint8 array"
MASK_2D = "a non-empty \\(H, W\\) bool or uint8 array"

TABLE: dict[str, Any] = {
    # ---- top level: no array arguments ----------------------------------------------------
    "maskprep.build_info": NO_ARGUMENTS,
    "maskprep.get_num_threads": NO_ARGUMENTS,
    "maskprep.install_as_pycocotools": NO_ARGUMENTS,
    "maskprep.set_num_threads": _threads_rows(maskprep.set_num_threads),
    "maskprep.resolve_num_threads": _threads_rows(maskprep.resolve_num_threads),
    "maskprep.threads": _threads_rows(lambda x: maskprep.threads(x).__enter__()),
    # ---- rle ------------------------------------------------------------------------------
    "rle.encode": _rows(
        rle.encode,
        Raises(
            TypeError,
            r"^masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array, got "
            r"float64 with shape \(4, 4\)",
        ),
        Raises(
            ValueError,
            r"^masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array, got "
            r"uint8 with shape \(2, 2, 4, 4\)",
        ),
        Valid("a 0 x 4 mask encodes (pycocotools does too)", lambda r: r["size"] == [0, 4]),
    ),
    "rle.decode": _rle_list_rows(
        rle.decode, Raises(ValueError, "^rles must not be empty: the mask size is unknown")
    ),
    "rle.area": _rle_list_rows(rle.area, Valid("zero RLEs: zero areas", lambda a: a.shape == (0,))),
    "rle.to_bbox": _rle_list_rows(
        rle.to_bbox, Valid("zero RLEs: zero boxes", lambda b: b.shape == (0, 4))
    ),
    "rle.merge": _rle_list_rows(
        rle.merge, Valid("pycocotools' merge([])", lambda r: r == {"size": [0, 0], "counts": b""})
    ),
    "rle.iou": _boxes_rows(
        lambda b: rle.iou(b, b if len(b) else np.zeros((0, 4))),
        "dt",
        r"an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got",
        Valid("zero boxes: a 0 x 0 matrix", lambda m: m.shape == (0, 0)),
    ),
    "rle.merge_groups": _rows(
        rle.merge_groups,
        Raises(TypeError, r"^groups\[0\] must be a list of RLE dicts, got ndarray"),
        Raises(TypeError, r"^groups\[0\] must be a list of RLE dicts, got ndarray"),
        Valid("zero groups: zero RLEs", _is_empty_list),
        (F64, U8_4D, []),
    ),
    "rle.from_bbox": _boxes_rows(
        lambda b: rle.from_bbox(b, (4, 4)),
        "boxes",
        r"an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got",
        Valid("zero boxes: zero RLEs", _is_empty_list),
    ),
    "rle.from_polygons": _rows(
        lambda p: rle.from_polygons(p, (4, 4)),
        Raises(TypeError, r"^polygons must be a list of polygons .* got ndarray"),
        Raises(TypeError, r"^polygons must be a list of polygons .* got ndarray"),
        Valid("zero polygons: zero RLEs", _is_empty_list),
        (F64, U8_4D, []),
    ),
    "rle.from_segmentations": _rows(
        lambda s: rle.from_segmentations(s, (4, 4)),
        Raises(TypeError, r"^segmentations\[0\] must be a polygon list or an RLE dict"),
        Raises(TypeError, r"^segmentations\[0\] must be a polygon list or an RLE dict"),
        Valid("zero segmentations: zero RLEs", _is_empty_list),
        (F64, U8_4D, []),
    ),
    "rle.to_string": _rows(
        rle.to_string,
        Raises(TypeError, r"^counts must be a 1-D array of non-negative integers, got float64"),
        Raises(
            ValueError,
            r"^counts must be a 1-D array of non-negative integers, got uint64 "
            r"with shape \(1, 1, 1, 2\)",
        ),
        Valid("no runs: the empty string", lambda s: s == b""),
        (np.array([1.5, 2.5]), np.zeros((1, 1, 1, 2), np.uint64), []),
    ),
    "rle.dense_from_segmentations": _rows(
        lambda s: rle.dense_from_segmentations(s, (4, 4)),
        Raises(TypeError, r"^segmentations must be a list of COCO segmentations .* got ndarray"),
        Raises(TypeError, r"^segmentations must be a list of COCO segmentations .* got ndarray"),
        Valid("zero segmentations: a (0, H, W) stack", lambda a: a.shape == (0, 4, 4)),
        (F64, U8_4D, []),
    ),
    "rle.rasterize_within_boxes": _rows(
        lambda s: rle.rasterize_within_boxes(s, BOX, 4),
        Raises(TypeError, r"^segmentations must be a list of polygon lists .* got dtype float64"),
        Raises(ValueError, r"^segmentations masks must have shape \(N, H, W\), got \(2, 2, 4, 4\)"),
        Raises(ValueError, r"^segmentations masks must have shape \(N, H, W\), got \(0, 4\)"),
    ),
    "rle.from_string": _rows(
        rle.from_string,
        Raises(TypeError, "^s must be bytes or str, got ndarray"),
        Raises(TypeError, "^s must be bytes or str, got ndarray"),
        Valid("the empty string: no runs", lambda c: c.shape == (0,)),
        (F64, U8_4D, b""),
    ),
    # ---- mask (pycocotools' names; the messages use maskprep.rle's argument names) ---------
    "mask.encode": _rows(
        mask.encode,
        Raises(TypeError, r"^masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array"),
        Raises(ValueError, r"^masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array"),
        Valid("a 0 x 4 mask encodes (pycocotools does too)", lambda r: r["size"] == [0, 4]),
    ),
    "mask.decode": _rle_list_rows(
        mask.decode, Raises(ValueError, "^rles must not be empty: the mask size is unknown")
    ),
    "mask.merge": _rle_list_rows(
        mask.merge, Valid("pycocotools' merge([])", lambda r: r["size"] == [0, 0])
    ),
    "mask.area": _rle_list_rows(
        mask.area, Valid("zero RLEs: zero areas", lambda a: a.shape == (0,))
    ),
    "mask.toBbox": _rle_list_rows(
        mask.toBbox, Valid("zero RLEs: zero boxes", lambda b: b.shape == (0, 4))
    ),
    "mask.iou": _boxes_rows(
        lambda b: mask.iou(b, BOX, [0]) if len(b) else mask.iou([], [], []),
        "dt",
        r"an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got",
        Valid("pycocotools returns [] for empty dt or gt", _is_empty_list),
    ),
    "mask.frPyObjects": _boxes_rows(
        lambda b: mask.frPyObjects(b, 4, 4),
        "boxes",  # an (N, 4) pyobj array is read as boxes
        r"an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got",
        Valid("zero boxes: zero RLEs", _is_empty_list),
    ),
    # ---- ops (features / masks / input are the main arrays) --------------------------------
    "ops.roi_align": _rows(
        lambda args: ops.roi_align(*args, 2),
        Raises(
            TypeError,
            r"^features must be an \(N, C, H, W\) float16, bfloat16, float32 or float64 array, "
            r"got int32 with shape \(1, 2, 8, 8\)",
        ),
        # features are 4-D by contract: the 4-D array goes to boxes
        Raises(
            ValueError,
            r"^boxes must be a \(K, 5\) array or a list of \(L, 4\) arrays, got "
            r".* with shape \(1, 1, 1, 5\)",
        ),
        Valid("zero boxes: (0, C, PH, PW)", lambda out: out.shape == (0, 2, 2, 2)),
        (
            (FEATURES.astype(np.int32), np.zeros((1, 5), np.float32)),
            (FEATURES, np.zeros((1, 1, 1, 5), np.float32)),
            (FEATURES, np.zeros((0, 5), np.float32)),
        ),
    ),
    "ops.multi_scale_roi_align": _rows(
        lambda args: ops.multi_scale_roi_align(args[0], args[1], [(8, 8)], 2, 2),
        Raises(
            TypeError,
            r"^features must be an \(N, C, H, W\) float16, bfloat16, float32 or float64 array, "
            r"got int32",
        ),
        Raises(
            ValueError,
            r"^boxes\[0\] must be an \(L, 4\) array of real numbers, got "
            r"float32 with shape \(1, 1, 1, 4\)",
        ),
        Valid("zero boxes: (0, C, PH, PW)", lambda out: out.shape == (0, 2, 2, 2)),
        (
            ([FEATURES.astype(np.int32)], [np.zeros((1, 4), np.float32)]),
            ([FEATURES], [np.zeros((1, 1, 1, 4), np.float32)]),
            ([FEATURES], [np.zeros((0, 4), np.float32)]),
        ),
    ),
    "ops.paste_masks": _rows(
        lambda args: ops.paste_masks(*args, (8, 8)),
        Raises(
            TypeError,
            r"^masks must be an \(N, M, M\) float32 or float64 array of square "
            r"masks, M >= 1, got uint8 with shape \(1, 4, 4\)",
        ),
        Raises(
            ValueError,
            r"^masks must be an \(N, M, M\) float32 or float64 array of square "
            r"masks, M >= 1, got float32 with shape \(1, 2, 4, 4\)",
        ),
        Valid("zero masks: (0, H, W)", lambda out: out.shape == (0, 8, 8)),
        (
            (MASKS_28.astype(np.uint8), BOX.astype(np.float32)),
            (np.zeros((1, 2, 4, 4), np.float32), BOX.astype(np.float32)),
            (np.zeros((0, 4, 4), np.float32), np.zeros((0, 4), np.float32)),
        ),
    ),
    "ops.max_pool2d": _rows(
        lambda x: ops.max_pool2d(x, 2),
        Raises(
            TypeError,
            r"^input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 "
            r"array, got int32",
        ),
        # (N, C, H, W) is valid: the rank case is 5-D
        Raises(
            ValueError,
            r"^input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 "
            r"array, got float32 with shape \(1, 1, 1, 4, 4\)",
        ),
        Valid(
            "a batch of zero images: (0, C, OH, OW), as torch", lambda o: o.shape == (0, 1, 2, 2)
        ),
        (
            np.zeros((1, 4, 4), np.int32),
            np.zeros((1, 1, 1, 4, 4), np.float32),
            np.zeros((0, 1, 4, 4), np.float32),
        ),
    ),
    # ---- imgproc ----------------------------------------------------------------------------
    "imgproc.rgb_to_gray": _rows(
        imgproc.rgb_to_gray,
        Raises(TypeError, f"^image must be {IMAGE_RGB}, got float64"),
        Raises(ValueError, f"^image must be {IMAGE_RGB}, got uint8 with shape \\(2, 2, 4, 4\\)"),
        Raises(ValueError, f"^image must be {IMAGE_RGB}, got uint8 with shape \\(0, 4, 3\\)"),
        (np.zeros((4, 4, 3)), U8_4D, np.zeros((0, 4, 3), np.uint8)),
    ),
    "imgproc.rgb_to_hsv": _rows(
        imgproc.rgb_to_hsv,
        Raises(TypeError, f"^image must be {IMAGE_RGB}, got float64"),
        Raises(ValueError, f"^image must be {IMAGE_RGB}, got uint8 with shape \\(2, 2, 4, 4\\)"),
        Raises(ValueError, f"^image must be {IMAGE_RGB}, got uint8 with shape \\(0, 4, 3\\)"),
        (np.zeros((4, 4, 3)), U8_4D, np.zeros((0, 4, 3), np.uint8)),
    ),
    "imgproc.gaussian_blur": _mask_rows(
        lambda x: imgproc.gaussian_blur(x, sigma=1.0),
        "image",
        "a non-empty \\(H, W\\) or \\(H, W, C\\) uint8 or float32 array, got",
    ),
    "imgproc.equalize_hist": _mask_rows(imgproc.equalize_hist, "image", IMAGE_GRAY),
    "imgproc.otsu_threshold": _mask_rows(imgproc.otsu_threshold, "image", IMAGE_GRAY),
    "imgproc.flood": _mask_rows(lambda x: imgproc.flood(x, (0, 0)), "image", IMAGE_GRAY),
    # ---- morphology -------------------------------------------------------------------------
    "morphology.erode": _mask_rows(morphology.erode, "mask", MASK_2D),
    "morphology.dilate": _mask_rows(morphology.dilate, "mask", MASK_2D),
    "morphology.open": _mask_rows(morphology.open, "mask", MASK_2D),
    "morphology.close": _mask_rows(morphology.close, "mask", MASK_2D),
    "morphology.structuring_element": _rows(  # size: an int or a (kh, kw) pair
        lambda size: morphology.structuring_element("rect", size),
        Raises(TypeError, r"^size must be an int or a pair \(kh, kw\) of ints"),
        Raises(ValueError, r"^size must be an int or a pair \(kh, kw\) of ints"),
        Raises(ValueError, r"^size must be an int or a pair \(kh, kw\) of ints"),
        (np.array([2.5, 3.0]), np.zeros((1, 1, 1, 2), np.int64), np.zeros(0, np.int64)),
    ),
    # ---- components -------------------------------------------------------------------------
    "components.label": _mask_rows(components.label, "mask", MASK_2D),
    "components.connected_components": _mask_rows(components.connected_components, "mask", MASK_2D),
    "components.fill_holes": _mask_rows(components.fill_holes, "mask", MASK_2D),
    "components.remove_small_objects": _mask_rows(
        lambda m: components.remove_small_objects(m, 2), "mask", MASK_2D
    ),
    "components.remove_small_holes": _mask_rows(
        lambda m: components.remove_small_holes(m, 2), "mask", MASK_2D
    ),
    # ---- contours ---------------------------------------------------------------------------
    "contours.mask_to_polygons": _mask_rows(contours.mask_to_polygons, "mask", MASK_2D),
    "contours.masks_to_polygons": _rows(
        contours.masks_to_polygons,
        Raises(
            TypeError,
            r"^masks must be an \(N, H, W\) bool or uint8 array with non-empty "
            r"images, got float64",
        ),
        Raises(
            ValueError,
            r"^masks must be an \(N, H, W\) bool or uint8 array with non-empty "
            r"images, got uint8 with shape \(2, 2, 4, 4\)",
        ),
        Valid("zero masks: zero polygon lists ((N, 0, W) is a ValueError)", _is_empty_list),
        (np.zeros((1, 4, 4)), U8_4D, np.zeros((0, 4, 4), bool)),
    ),
    "contours.masks_to_polygon_arrays": _rows(
        contours.masks_to_polygon_arrays,
        Raises(
            TypeError,
            r"^masks must be an \(N, H, W\) bool or uint8 array with non-empty "
            r"images, got float64",
        ),
        Raises(
            ValueError,
            r"^masks must be an \(N, H, W\) bool or uint8 array with non-empty "
            r"images, got uint8 with shape \(2, 2, 4, 4\)",
        ),
        Valid(
            "zero masks: three empty arrays ((N, 0, W) is a ValueError)",
            lambda out: [a.shape for a in out] == [(0, 2), (0,), (0,)],
        ),
        (np.zeros((1, 4, 4)), U8_4D, np.zeros((0, 4, 4), bool)),
    ),
    # ---- boxes ------------------------------------------------------------------------------
    "boxes.boxes_to_masks": _boxes_rows(
        lambda b: boxes.boxes_to_masks(b, (4, 4)),
        "boxes",
        r"an \(N, 4\) array of numbers, got",
        Valid("zero boxes: zero RLEs", _is_empty_list),
    ),
    # ---- shards and ray (issue 12): paths, dicts and batches, never arrays ------------------
    **{
        name: _rows(
            fn,
            Raises(TypeError, f"^{arg} must be {what}, got ndarray"),
            Raises(TypeError, f"^{arg} must be {what}, got ndarray"),
            empty,
            (F64, U8_4D, empty_input),
        )
        for name, fn, arg, what, empty, empty_input in [
            (
                "shards.find_shards",
                shards.find_shards,
                "inputs",
                "a path or a list of paths",
                Raises(ValueError, "^inputs must name at least one shard"),
                [],
            ),
            (
                "shards.read_shard",
                shards.read_shard,
                "path",
                "a path",
                Raises(ValueError, "^path: . is not a .json, .jsonl or .parquet shard"),
                "",
            ),
            (
                "shards.write_shard",
                lambda d: shards.write_shard(d, "x.json"),
                "data",
                "a dict from read_shard",
                Raises(TypeError, "^data must be a dict from read_shard"),
                {},
            ),
            (
                "shards.process_shard",
                lambda s: shards.process_shard(s, "a.json", "out"),
                "src",
                "a path",
                Valid("an empty path: a failed shard, reported", lambda r: r["status"] == "failed"),
                "",
            ),
            (
                "shards.completed",
                shards.completed,
                "outdir",
                "a path",
                Valid("an empty path: the current folder, no records", lambda r: r == {}),
                "",
            ),
            (
                "shards.check_box_options",
                shards.check_box_options,
                "boxes",
                "a dict of boxes options",
                Valid("no options: the box method", lambda r: r == {"method": "box"}),
                {},
            ),
            (
                "shards.run",
                lambda i: shards.run(i, "out"),
                "inputs",
                "a path or a list of paths",
                Raises(ValueError, "^inputs must name at least one shard"),
                [],
            ),
            (
                "ray.run_shards",
                lambda i: mray.run_shards(i, {}),
                "items",
                "a list of \\(path, relative path\\)",
                Valid("no shards: no summaries (Ray is not started)", _is_empty_list),
                [],
            ),
            (
                "ray.convert_batch",
                mray.convert_batch,
                "batch",
                "a pyarrow.Table or a dict of columns",
                Raises(ValueError, "^batch must have the columns image_id"),
                {},
            ),
        ]
    },
    "ray.task_num_threads": NO_ARGUMENTS,
}


def _public_functions() -> set[str]:
    names = set()
    for prefix, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                assert obj in MODULES.values(), f"{prefix}.{name}: add the module to MODULES"
                continue
            names.add(f"{prefix}.{name}")
    return names - NOT_FUNCTIONS


def test_table_covers_every_public_function():
    public = _public_functions()
    assert public - set(TABLE) == set(), "public functions missing from TABLE"
    assert set(TABLE) - public == set(), "TABLE rows for names that are not public"
    for name in NOT_FUNCTIONS:
        prefix, attr = name.split(".")
        assert not inspect.isfunction(getattr(MODULES[prefix], attr)), name


def _resolve(qualified: str) -> Callable:
    prefix, name = qualified.split(".")
    return getattr(MODULES[prefix], name)


@pytest.mark.parametrize("name", [n for n, rows in TABLE.items() if rows == NO_ARGUMENTS])
def test_no_argument_functions(name):
    assert not inspect.signature(_resolve(name)).parameters, f"{name} now takes arguments"


@pytest.mark.parametrize(
    "name, case",
    [(n, c) for n, rows in TABLE.items() if rows != NO_ARGUMENTS for c in CASES],
)
def test_error_contract(name, case):
    row = TABLE[name][case]
    if isinstance(row.expect, Valid):
        assert row.expect.check(row.call()), f"{name} on empty input: {row.expect.why}"
        return
    with pytest.raises(row.expect.exc, match=row.expect.match):
        row.call()


# ---- torch tensors: the same exception types as numpy ---------------------------------------

TORCH_CASES = {
    "roi_align int32": (
        lambda t: ops.roi_align(t.zeros(1, 2, 8, 8, dtype=t.int32), np.zeros((1, 5), "f4"), 2),
        TypeError,
        r"^features must be an \(N, C, H, W\) float16, bfloat16, float32 or float64 array, "
        r"got int32 with shape \(1, 2, 8, 8\)",
    ),
    "roi_align 3-D": (
        lambda t: ops.roi_align(t.zeros(2, 8, 8), np.zeros((1, 5), "f4"), 2),
        ValueError,
        r"^features must have shape \(N, C, H, W\), got \(2, 8, 8\)",
    ),
    "multi_scale_roi_align int64": (
        lambda t: ops.multi_scale_roi_align(
            [t.zeros(1, 2, 8, 8, dtype=t.int64), t.zeros(1, 2, 4, 4, dtype=t.int64)],
            [t.zeros(1, 4)],
            [(8, 8)],
            2,
            2,
        ),
        TypeError,
        r"^features must be an \(N, C, H, W\) float16, bfloat16, float32 or float64 array, "
        r"got int64",
    ),
    "paste_masks float16": (
        lambda t: ops.paste_masks(t.zeros(1, 4, 4, dtype=t.float16), t.zeros(1, 4), (8, 8)),
        TypeError,
        r"^masks must be an \(N, M, M\) float32 or float64 array .* got float16",
    ),
    "paste_masks uint8": (
        lambda t: ops.paste_masks(t.zeros(1, 4, 4, dtype=t.uint8), t.zeros(1, 4), (8, 8)),
        TypeError,
        r"^masks must be an \(N, M, M\) float32 or float64 array .* got uint8",
    ),
    "paste_masks 4-D": (
        lambda t: ops.paste_masks(t.zeros(1, 2, 4, 4), t.zeros(1, 4), (8, 8)),
        ValueError,
        r"^masks must be an \(N, M, M\) float32 or float64 array .* shape \(1, 2, 4, 4\)",
    ),
    "max_pool2d float16": (
        lambda t: ops.max_pool2d(t.zeros(1, 4, 4, dtype=t.float16), 2),
        TypeError,
        r"^input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 array, got float16",
    ),
    "max_pool2d 5-D": (
        lambda t: ops.max_pool2d(t.zeros(1, 1, 1, 4, 4), 2),
        ValueError,
        r"^input must be a \(C, H, W\) or \(N, C, H, W\) float32 or float64 array, got float32 "
        r"with shape \(1, 1, 1, 4, 4\)",
    ),
    "rle.encode float": (
        lambda t: rle.encode(t.zeros(4, 4)),
        TypeError,
        r"^masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array, got float32",
    ),
    "components.label float": (
        lambda t: components.label(t.zeros(4, 4)),
        TypeError,
        f"^mask must be {MASK_2D}, got float32",
    ),
}


@pytest.mark.needs_torch
@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_error_contract_tensors(case):
    torch = torch_or_skip()
    call, exc, match = TORCH_CASES[case]
    with pytest.raises(exc, match=match):
        call(torch)


@pytest.mark.needs_torch
def test_float64_tensors_are_valid():
    """float64 is in the contract for tensors as for arrays (no new dtype support beyond it)."""
    torch = torch_or_skip()
    features = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    out = ops.roi_align(features, torch.zeros(1, 5, dtype=torch.float64), 2)
    assert out.dtype == torch.float64 and out.shape == (1, 2, 2, 2)
    assert ops.max_pool2d(torch.zeros(1, 4, 4, dtype=torch.float64), 2).dtype == torch.float64
