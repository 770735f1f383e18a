"""Property-based tests (hypothesis): maskprep against its anchors on generated inputs, and
garbage acceptance on malformed ones (refused with ValueError / TypeError or self-consistent).

Budget: the "ci" profile (default) runs a fixed, derandomized number of examples per test so that
CI is deterministic and the file stays well under a minute; MASKPREP_HYPOTHESIS_PROFILE=long
runs a campaign (random seeds, many more examples). pycocotools is only ever given RLEs that sum
to h*w and come from real masks: its rleToString overreads its buffer on some other counts.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from conftest import torch_or_skip  # noqa: E402
from maskprep import _core, morphology, ops, rle  # noqa: E402

cv2 = pytest.importorskip("cv2")
pmask = pytest.importorskip("pycocotools.mask")

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
settings.register_profile("ci", max_examples=100, derandomize=True, **_common)
settings.register_profile("long", max_examples=20_000, **_common)
settings.load_profile(os.environ.get("MASKPREP_HYPOTHESIS_PROFILE", "ci"))

sizes = st.integers(1, 24)


@st.composite
def masks(draw, max_n=1):
    h, w, n = draw(sizes), draw(sizes), draw(st.integers(1, max_n))
    p = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    m = np.random.default_rng(seed).random((h, w, n)) < p
    if draw(st.booleans()):  # pixel-level edits on top, so shrinking finds small cases
        for y, x in draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)))):
            m[y, x, 0] ^= True
    return np.asfortranarray(m.astype(np.uint8))


def coco(m):
    """pycocotools' compressed RLEs of an (H, W, N) Fortran uint8 mask."""
    return pmask.encode(m)


# ---- RLE codec ---------------------------------------------------------------------------------


@given(masks(max_n=3))
def test_encode_decode_match_pycocotools(m):
    ref = coco(m)
    got = rle.encode(m)
    assert [r["counts"] for r in got] == [r["counts"] for r in ref]
    assert [list(r["size"]) for r in got] == [list(r["size"]) for r in ref]
    np.testing.assert_array_equal(rle.decode(ref), m)
    np.testing.assert_array_equal(rle.decode(got), pmask.decode(ref))
    # Row-major batches give the same strings.
    nhw = np.ascontiguousarray(np.moveaxis(m, -1, 0))
    assert [r["counts"] for r in rle.encode(nhw, layout="nhw")] == [r["counts"] for r in ref]


@given(masks())
def test_uncompressed_counts_to_string_matches_pycocotools(m):
    h, w, _ = m.shape
    counts = rle.encode(m[:, :, 0], compressed=False)["counts"]
    ref = pmask.frPyObjects({"size": [h, w], "counts": list(counts)}, h, w)["counts"]
    assert rle.to_string(counts) == ref
    np.testing.assert_array_equal(rle.from_string(ref), np.asarray(counts, np.uint64))


# Values up to 2^58: the codec round trip is exact there (larger counts: see the fuzz harness).
@given(st.lists(st.integers(0, 2**58 - 1), max_size=40))
def test_string_round_trip(counts):
    s = rle.to_string(counts)
    back = rle.from_string(s)
    assert back.dtype == np.uint64
    assert back.tolist() == counts
    assert rle.to_string(back) == s


@given(st.binary(max_size=40), sizes, sizes)
def test_random_strings_are_refused_or_consistent(data, h, w):
    try:
        counts = rle.from_string(data)
    except (ValueError, TypeError):
        return
    assert all(0 <= int(c) <= 2**62 for c in counts)
    total = sum(int(c) for c in counts)
    obj = {"size": [h, w], "counts": data}
    if total != h * w:
        with pytest.raises(ValueError, match="sum"):
            rle.decode(obj)
        return
    got = rle.decode(obj)
    assert got.shape == (h, w) and int(got.sum()) == rle.area(obj)


@given(st.lists(st.integers(-(2**64), 2**65), max_size=12), sizes, sizes)
def test_random_counts_are_refused_or_consistent(counts, h, w):
    obj = {"size": [h, w], "counts": counts}
    try:
        got = rle.decode(obj)
    except (ValueError, TypeError, OverflowError):
        assert any(c < 0 or c >= 2**64 for c in counts) or sum(counts) != h * w
        return
    assert sum(counts) == h * w
    assert got.shape == (h, w) and int(got.sum()) == sum(counts[1::2])


# ---- polygons -----------------------------------------------------------------------------------


@st.composite
def polygons(draw):
    h, w = draw(sizes), draw(sizes)
    coord = st.one_of(
        st.floats(-5, 30, allow_nan=False, width=32),
        st.integers(-3, 30).map(float),
        st.integers(-10, 60).map(lambda v: v / 5),  # on the 1/5-pixel grid: ties in rounding
    )
    pts = draw(st.lists(st.tuples(coord, coord), min_size=3, max_size=12))
    if draw(st.booleans()):  # duplicate vertices (consecutive or not)
        i = draw(st.integers(0, len(pts) - 1))
        pts.insert(draw(st.integers(0, len(pts))), pts[i])
    return [float(v) for p in pts for v in p], h, w


@given(polygons())
def test_polygons_match_pycocotools(poly):
    xy, h, w = poly
    ref = pmask.frPyObjects([xy], h, w)
    got = rle.from_polygons([xy], (h, w))
    assert got[0]["counts"] == ref[0]["counts"]
    assert list(got[0]["size"]) == [h, w]


# ---- iou / merge ---------------------------------------------------------------------------------


@given(masks(max_n=4), masks(max_n=3), st.data())
def test_iou_and_merge_match_pycocotools(a, b, data):
    b = np.asfortranarray(np.resize(b, a.shape[:2] + (b.shape[2],)))  # one size for both
    dt, gt = coco(a), coco(b)
    crowd = data.draw(st.lists(st.integers(0, 1), min_size=len(gt), max_size=len(gt)))
    np.testing.assert_array_equal(rle.iou(dt, gt, crowd), pmask.iou(dt, gt, crowd))
    for intersect in (False, True):
        ref = pmask.merge(dt + gt, intersect=intersect)
        got = rle.merge(dt + gt, intersect=intersect)
        assert got["counts"] == ref["counts"]


# ---- COCO JSON scanner --------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def coco_texts(draw):
    extra = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
    doc = {**extra, "images": [], "annotations": []}
    items = list(doc.items())
    order = draw(st.permutations(range(len(items))))
    doc = dict(items[i] for i in order)
    indent = draw(st.sampled_from([None, 0, 2]))
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :\t")]))
    ascii_ = draw(st.booleans())
    return json.dumps(doc, indent=indent, separators=sep, ensure_ascii=ascii_).encode()


def convert(data: bytes):
    out, _, errors = _core.coco_convert_to_rle(data, False, False, None, num_threads=1)
    return out.tobytes(), errors


def is_json(data: bytes) -> bool:
    """The oracle: RFC 8259 (UTF-8, no NaN / Infinity, no control characters in strings), no
    lone surrogate escapes (valid grammar, but no Unicode text: orjson refuses them too) and no
    number beyond the double range (1e400: the scanner refuses it rather than read infinity,
    as orjson does)."""

    def no_constants(name):
        raise ValueError(name)

    def finite_float(text):
        value = float(text)
        if math.isinf(value):
            raise ValueError(f"{text} is out of the range of a double")
        return value

    def finite_int(text):
        finite_float(text)  # 300+ digits: beyond the double range too
        return int(text)

    try:
        _check_strings(
            json.loads(
                data.decode("utf-8"),
                parse_constant=no_constants,
                parse_float=finite_float,
                parse_int=finite_int,
            )
        )
    except (ValueError, RecursionError):
        return False
    return True


def _check_strings(value) -> None:
    """UnicodeEncodeError (a ValueError) on a string or key holding a lone surrogate."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list):
        for v in value:
            _check_strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k)
            _check_strings(v)


@given(coco_texts())
def test_valid_coco_json_is_accepted_and_copied(data):
    assert is_json(data)
    out, errors = convert(data)
    assert errors == []
    assert out == data  # nothing to convert: every byte copied verbatim


@given(coco_texts(), st.data())
def test_json_scanner_agrees_with_the_parser(data, draw):
    # Mutate a valid document: the scanner must reject it iff it is no longer JSON.
    i = draw.draw(st.integers(0, len(data)))
    op = draw.draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
    byte = bytes([draw.draw(st.sampled_from(b'{}[]",:\\ 0-1eE.tfn\x00\x1f\x7f\xc3\xa9\xff'))])
    if op == "insert":
        text = data[:i] + byte + data[i:]
    elif op == "delete":
        text = data[:i] + data[i + 1 :]
    elif op == "replace":
        text = data[:i] + byte + data[i + 1 :]
    else:
        text = data[:i]
    if is_json(text):
        try:
            convert(text)
        except ValueError as e:  # valid JSON may still not be a COCO file, but it is JSON
            assert "not valid JSON" not in str(e) or not top_level_object(text)
    else:
        with pytest.raises(ValueError, match="not valid JSON"):
            convert(text)


# Found by this file (issue 10): strings holding bytes that are not UTF-8 (a truncated sequence,
# 0xff, an overlong form, an encoded surrogate) were accepted and copied to the output, which
# json / orjson then could not read.
@pytest.mark.parametrize("bad", [b"\xc3", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80"])
def test_strings_that_are_not_utf8_are_rejected(bad):
    text = b'{"images":[],"annotations":[],"a":"' + bad + b'"}'
    assert not is_json(text)
    with pytest.raises(ValueError, match="not valid JSON"):
        convert(text)


# Found by this file (issue 10): JSON whose top level is not an object (0, [], "a", null) was
# reported as "not valid JSON" (JsonSyntaxError), where coco_json.hpp promises a structure error
# (std::invalid_argument) for valid JSON that is not a COCO file.
@pytest.mark.parametrize("text", [b"0", b"[]", b'"a"', b"null"])
def test_valid_json_that_is_not_an_object_is_not_a_syntax_error(text):
    assert is_json(text)
    with pytest.raises(ValueError, match="object") as e:
        convert(text)
    assert not isinstance(e.value, _core.JsonSyntaxError)


def top_level_object(data: bytes) -> bool:
    return data.lstrip(b" \t\r\n")[:1] == b"{"


@given(st.binary(max_size=64))
def test_random_bytes_are_refused_or_json(data):
    try:
        convert(data)
    except ValueError as e:
        if "not valid JSON" in str(e) and top_level_object(data):
            assert not is_json(data)
        return
    assert is_json(data)


# ---- RoI Align -----------------------------------------------------------------------------------


@st.composite
def roi_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    scale = draw(st.sampled_from([1.0, 0.5, 0.25]))
    sampling = draw(st.integers(-1, 3))
    aligned = draw(st.booleans())
    coord = st.floats(-4, 4 + 14 / scale, allow_nan=False, width=32)
    k = draw(st.integers(1, 4))
    rois = []
    for _ in range(k):
        x1, y1, x2, y2 = (draw(coord) for _ in range(4))
        if aligned and sampling <= 0:  # torchvision raises on x2 < x1 there (tested elsewhere)
            x1, x2 = sorted((x1, x2))
            y1, y2 = sorted((y1, y2))
        rois.append([draw(st.integers(0, n - 1)), x1, y1, x2, y2])
    seed = draw(st.integers(0, 2**32 - 1))
    feats = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    return feats, np.asarray(rois, np.float32), size, scale, sampling, aligned


@settings(max_examples=60)
@given(roi_cases())
def test_roi_align_bit_exact_with_torchvision(case):
    torch = torch_or_skip()
    import torchvision

    feats, rois, size, scale, sampling, aligned = case
    ref = torchvision.ops.roi_align(
        torch.from_numpy(feats), torch.from_numpy(rois), size, scale, sampling, aligned
    ).numpy()
    got = ops.roi_align(feats, rois, size, scale, sampling, aligned)
    np.testing.assert_array_equal(got, ref)  # float32: bit-exact, as tests/test_roi_align.py


# ---- morphology ------------------------------------------------------------------------------------

CV_OPS = {
    "erode": cv2.MORPH_ERODE,
    "dilate": cv2.MORPH_DILATE,
    "open": cv2.MORPH_OPEN,
    "close": cv2.MORPH_CLOSE,
}
CV_SHAPES = {"rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE, "cross": cv2.MORPH_CROSS}


@given(
    masks(),
    st.sampled_from(sorted(CV_OPS)),
    st.one_of(
        st.tuples(
            st.sampled_from(["rect", "ellipse", "cross"]), st.integers(1, 11), st.integers(1, 11)
        ),
        hnp.arrays(
            np.uint8,
            hnp.array_shapes(min_dims=2, max_dims=2, max_side=7),
            elements=st.integers(0, 1),
        ),
    ),
    st.integers(1, 3),
)
def test_morphology_bit_exact_with_opencv(m, op, element, iterations):
    mask = np.ascontiguousarray(m[:, :, 0])
    if isinstance(element, tuple):
        shape, kh, kw = element
        if shape != "rect":  # maskprep's ellipse and cross need a centre (odd sizes)
            kh, kw = kh | 1, kw | 1
        kernel = morphology.structuring_element(shape, (kh, kw))
        ref_kernel = cv2.getStructuringElement(CV_SHAPES[shape], (kw, kh))
        np.testing.assert_array_equal(kernel, ref_kernel)
    else:
        kernel = element
        if not kernel.any():
            with pytest.raises(ValueError, match="at least one nonzero"):
                getattr(morphology, op)(mask, kernel)
            return
    got = getattr(morphology, op)(mask, kernel, iterations=iterations)
    ref = cv2.morphologyEx(mask, CV_OPS[op], kernel, iterations=iterations) > 0
    np.testing.assert_array_equal(got.astype(bool), ref)
