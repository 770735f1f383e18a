"""The label PNG decoder of maskprep.formats.png (``_decode_png``: zlib-ng + the C++ unfilter of
label_image.hpp) against Pillow, which it replaces for plain label PNGs, and the kernels' error
paths. Anything the decoder does not take (interlaced, colour, 1-4 bit, broken files, more
pixels than Pillow opens) must give None, so that Pillow reads it and reports it as before."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import load_json
from maskprep import _core
from maskprep.formats import png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _filter_row(kind: int, raw: bytes, prior: bytes, bpp: int) -> bytes:
    """PNG's forward filters (spec 9.2), so that every type is tested against Pillow."""
    out = bytearray()
    for i, x in enumerate(raw):
        a = raw[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out.append((x - pred) % 256)
    return bytes([kind]) + bytes(out)


def _png(
    samples: np.ndarray,
    *,
    color: int = 0,
    filters=(0, 1, 2, 3, 4),
    idat_parts: int = 1,
    extra: bytes = b"",
    interlace: int = 0,
    depth: int | None = None,
) -> bytes:
    """A PNG of ``samples`` (uint8 or uint16, (H, W)) with row y filtered by filters[y % 5]."""
    h, w = samples.shape
    depth = depth or samples.dtype.itemsize * 8
    rows = samples.astype(">u2" if depth == 16 else np.uint8).tobytes()
    row_bytes = w * (depth // 8)
    bpp = max(1, depth // 8)
    prior = bytes(row_bytes)
    data = b""
    for y in range(h):
        raw = rows[y * row_bytes : (y + 1) * row_bytes]
        data += _filter_row(filters[y % len(filters)], raw, prior, bpp)
        prior = raw
    z = zlib.compress(data)
    step = -(-len(z) // idat_parts)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    )
    if color == 3:
        out += _chunk(b"PLTE", bytes(range(256)) * 3)
    out += extra
    for k in range(0, len(z), step):
        out += _chunk(b"IDAT", z[k : k + step])
    return out + _chunk(b"IEND", b"")


def _pillow(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _check_equal(path: Path, mode: str) -> None:
    got = png._decode_png(path)
    assert got is not None, "the decoder must take this PNG"
    arr, got_mode = got
    ref = _pillow(path)
    assert got_mode == mode
    assert arr.dtype == ref.dtype and arr.shape == ref.shape
    assert np.array_equal(arr, ref)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
def test_every_filter_equals_pillow(tmp_path, rng, depth, filters):
    dtype = np.uint8 if depth == 8 else np.uint16
    samples = rng.integers(0, 2**depth, size=(23, 37)).astype(dtype)
    samples[5:15, 3:30] = 7  # runs, as label images have
    path = tmp_path / "a.png"
    path.write_bytes(_png(samples, filters=filters, idat_parts=3))
    _check_equal(path, "L" if depth == 8 else "I;16")


def test_palette_and_ancillary_chunks(tmp_path, rng):
    samples = rng.integers(0, 21, size=(17, 9)).astype(np.uint8)
    path = tmp_path / "p.png"
    text = _chunk(b"tEXt", b"Comment\x00label ids")
    path.write_bytes(_png(samples, color=3, extra=text))
    _check_equal(path, "P")


@pytest.mark.parametrize("mode", ["L", "I;16", "P"])
def test_files_written_by_pillow(tmp_path, rng, mode):
    samples = rng.integers(0, 200, size=(40, 70)).astype(np.uint16 if mode == "I;16" else np.uint8)
    samples[10:30, 20:50] = 3
    path = tmp_path / "pil.png"
    im = Image.fromarray(samples) if mode != "P" else Image.fromarray(samples, mode="L")
    if mode == "P":
        im = im.convert("P")
    im.save(path)
    _check_equal(path, "L" if mode == "L" else mode)


def test_exported_instance_pngs_equal_pillow(tmp_path):
    data = load_json("annotations", "coco_instances_val2014_100img.json")
    png.write_instance_png(data, tmp_path)
    files = sorted(tmp_path.glob("*.png"))
    assert len(files) == len(data["images"])
    for path in files:
        _check_equal(path, "I;16")


def test_without_zlib_ng_the_same(tmp_path, rng, monkeypatch):
    samples = rng.integers(0, 9, size=(30, 30)).astype(np.uint16)
    path = tmp_path / "a.png"
    path.write_bytes(_png(samples))
    with_ng = png._decode_png(path)
    monkeypatch.setitem(sys.modules, "zlib_ng", None)  # import zlib_ng now raises ImportError
    assert png._inflate()[0] is zlib.decompress
    without = png._decode_png(path)
    assert with_ng is not None and without is not None
    assert np.array_equal(with_ng[0], without[0])


def _broken(samples: np.ndarray) -> dict:
    good = _png(samples)
    idat = good.index(b"IDAT")
    return {
        "not a PNG": b"GIF89a" + good[6:],
        "truncated": good[: len(good) - 20],
        "no IEND": good[: good.index(b"IEND") - 4],
        "bad CRC": good[: idat + 6] + bytes([good[idat + 6] ^ 1]) + good[idat + 7 :],
        "interlaced": _png(samples, interlace=1),
        "colour (RGB)": _png(np.repeat(samples, 3, axis=1), color=2),
        # its rows are not 4-bit: the header alone must send it to Pillow
        "4-bit grey": _png(samples // 4096, depth=4),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not a PNG",
        "truncated",
        "no IEND",
        "bad CRC",
        "interlaced",
        "colour (RGB)",
        "4-bit grey",
        "filter type 5",
        "image data too long",
        "not zlib data",
    ],
)
def test_not_taken(tmp_path, case):
    samples = (np.arange(12 * 10, dtype=np.uint16).reshape(12, 10) % 5).astype(np.uint16)
    if case == "filter type 5":
        h, w = samples.shape
        raw = b"".join(b"\x05" + samples[y].astype(">u2").tobytes() for y in range(h))
        body = _png(samples)
        start = body.index(b"IDAT") - 4
        end = body.index(b"IEND") - 4
        body = body[:start] + _chunk(b"IDAT", zlib.compress(raw)) + body[end:]
    elif case == "image data too long":
        h, w = samples.shape
        raw = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(h)) + b"xx"
        body = _png(samples)
        start, end = body.index(b"IDAT") - 4, body.index(b"IEND") - 4
        body = body[:start] + _chunk(b"IDAT", zlib.compress(raw)) + body[end:]
    elif case == "not zlib data":
        body = _png(samples)
        start, end = body.index(b"IDAT") - 4, body.index(b"IEND") - 4
        body = body[:start] + _chunk(b"IDAT", b"not zlib") + body[end:]
    else:
        body = _broken(samples)[case]
    path = tmp_path / "x.png"
    path.write_bytes(body)
    assert png._decode_png(path) is None


def test_missing_file_not_taken(tmp_path):
    assert png._decode_png(tmp_path / "none.png") is None


def test_more_pixels_than_pillow_opens_not_taken(tmp_path, monkeypatch):
    samples = np.zeros((20, 20), np.uint8)
    path = tmp_path / "big.png"
    path.write_bytes(_png(samples))
    assert png._decode_png(path) is not None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400 > 2 * 100: Pillow refuses it
    assert png._decode_png(path) is None


def test_read_png_falls_back_to_pillow_for_other_modes(tmp_path):
    """A grey PNG where a reader wants palette PNGs only: Pillow's path reports the mode."""
    path = tmp_path / "rgb.png"
    Image.new("RGB", (4, 3)).save(path)
    with pytest.raises(png._Unreadable, match="got mode RGB"):
        png._read_png(path, ("P", "L"))
    grey16 = tmp_path / "g16.png"
    grey16.write_bytes(_png(np.ones((3, 4), np.uint16)))
    with pytest.raises(png._Unreadable, match="mode P or L"):
        png._read_png(grey16, ("P", "L"))
    assert png._read_png(grey16, ("I;16", "I")).tolist() == [[1] * 4] * 3


# -- the kernels' error paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, match",
    [
        ((b"\x00" * 5, 1, 2, 4), "bit_depth must be 8 or 16, got 4"),
        ((b"", 0, 2, 8), "h and w must be >= 1, got 0 x 2"),
        ((b"\x00" * 4, 1, 2, 8), r"data must hold 1 scanlines of 1 \+ 2 bytes \(3\), got 4"),
        ((b"\x05\x00\x00", 1, 2, 8), "row 0 has filter type 5"),
    ],
)
def test_unfilter_errors(args, match):
    with pytest.raises(ValueError, match=match):
        _core.png_unfilter(*args)


def test_unfilter_needs_bytes():
    with pytest.raises(TypeError):
        _core.png_unfilter(bytearray(3), 1, 2, 8)  # type: ignore[arg-type]


def test_encode_labels_errors():
    with pytest.raises(TypeError, match=r"label must be an \(H, W\) integer array, got float64"):
        _core.rle_encode_labels(np.zeros((2, 2)), [0])
    with pytest.raises(ValueError, match=r"label must be an \(H, W\) integer array, got uint8"):
        _core.rle_encode_labels(np.zeros((2, 2, 2), np.uint8), [0])


def test_encode_labels_unsigned_never_ignores_negative_ids():
    ids, counts = _core.rle_encode_labels(np.array([[255, 0]], np.uint8), [-1])
    assert ids.tolist() == [0, 255] and len(counts) == 2
