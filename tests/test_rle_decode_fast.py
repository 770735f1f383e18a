"""The compressed-string decoder's branch-free path (values of 1 to 11 characters, 64
characters at a time) against the character-by-character one it falls back to: every count it
reads back, and every error at its place, on strings that cross its 64-character blocks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from maskprep import mask, rle

M = pytest.importorskip("pycocotools.mask")

RNG_SEED = 20261203


def _random_counts(rng: np.random.Generator, n: int, top_bits: int) -> list[int]:
    bits = rng.integers(0, top_bits + 1, size=n)
    return [int(rng.integers(0, 2 ** int(b), dtype=np.uint64)) if b else 0 for b in bits]


@pytest.mark.parametrize("top_bits", [5, 10, 30, 54, 56, 62, 64])
def test_round_trip_every_length(top_bits):
    # Counts of up to 2^54 stay on the fast path; larger ones (12+ characters) take the slow
    # one for their string: both must read back what to_string wrote.
    rng = np.random.default_rng(RNG_SEED + top_bits)
    for n in list(range(0, 70)) + [127, 128, 129, 300]:
        counts = _random_counts(rng, n, top_bits)
        s = rle.to_string(counts)
        assert rle.from_string(s).tolist() == counts
        assert rle.from_string(s.decode()).tolist() == counts


def test_matches_pycocotools_on_random_masks():
    rng = np.random.default_rng(RNG_SEED)
    h, w = 37, 53
    masks = np.asfortranarray(rng.random((h, w, 40)) < rng.random(40))
    objs = M.encode(masks.astype(np.uint8))
    assert np.array_equal(mask.area(objs), M.area(objs))
    assert np.array_equal(mask.toBbox(objs), M.toBbox(objs))
    assert np.array_equal(rle.decode(objs), M.decode(objs))
    for o in objs:
        assert rle.from_string(o["counts"]).tolist() == _pycocotools_counts(o)


def _pycocotools_counts(obj: dict) -> list[int]:
    dense = M.decode(obj)
    return (
        M.encode(np.asfortranarray(dense))["counts"]
        and rle.encode(dense, compressed=False)["counts"]
    )


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 62, 63, 64, 65, 100, 127, 128])
def test_bad_byte_reported_at_its_offset(offset):
    s = bytearray(b"1" * 130)  # 130 counts of 1
    s[offset] = ord("p")  # byte 112, one past 'o'
    with pytest.raises(ValueError, match=rf"byte 112 at offset {offset}; expected a character"):
        rle.from_string(bytes(s))


@pytest.mark.parametrize("offset", [0, 63, 64, 129])
def test_truncated_end_reported(offset):
    s = b"1" * offset + b"P"  # 'P' = 48 + 0x20: a continuation with nothing after it
    with pytest.raises(ValueError, match=f"truncated: the value starting at byte {offset} "):
        rle.from_string(s)


@pytest.mark.parametrize("prefix", [3, 63, 64, 70])
def test_negative_count_reported_at_its_byte(prefix):
    # "0"*k are counts of 0; from index 3 on a value is a delta: 'O' (48 + 31) is -1
    s = b"0" * prefix + b"O"
    with pytest.raises(ValueError, match=rf"negative count \(-1\) at byte {prefix}"):
        rle.from_string(s)


def test_rle_area_and_bbox_errors_name_the_object():
    good = M.encode(np.asfortranarray(np.ones((4, 5, 1), dtype=np.uint8)))[0]
    bad = {"size": [4, 5], "counts": b"1" * 65 + b"p"}
    with pytest.raises(
        ValueError, match=r"rles\[1\]: compressed RLE string has byte 112 at offset 65"
    ):
        rle.area([good, bad])
    with pytest.raises(ValueError, match=r"rles\[1\]: counts sum to 3, expected h\*w = 20"):
        rle.to_bbox([good, {"size": [4, 5], "counts": b"0" * 70 + b"3"}])


@pytest.mark.parametrize("top_bits", [5, 10, 15, 30, 39])
def test_area_summed_while_decoding_every_length(top_bits):
    # area reads strings on a path of its own (the odd-index counts summed as they are decoded,
    # none stored): across 64-character blocks, odd and even numbers of values per block and
    # values of 1 to 8 characters it must equal the sum of from_string's odd counts.
    rng = np.random.default_rng(RNG_SEED + 100 + top_bits)
    for n in list(range(1, 70)) + [127, 128, 129, 301]:
        counts = _random_counts(rng, n, top_bits)
        total = sum(counts)
        if total == 0:
            counts[0] = total = 1
        s = rle.to_string(counts)
        obj = {"size": [1, total], "counts": s}
        assert rle.area([obj]).tolist() == [sum(counts[1::2])]
        given = {"size": [1, total], "counts": counts}  # read without decoding a string
        assert np.array_equal(rle.to_bbox([obj]), rle.to_bbox([given]))


@pytest.mark.parametrize(
    "counts",
    [
        b"1" * 130 + b"p",  # a byte past 'o' in the last block
        b"1" * 64 + b"P",  # a continuation with nothing after it
        b"0" * 70 + b"O",  # a negative count
    ],
)
def test_area_refuses_what_from_string_refuses(counts):
    with pytest.raises(ValueError) as refused:
        rle.from_string(counts)
    with pytest.raises(ValueError, match=r"rles\[0\]: " + re.escape(str(refused.value))):
        rle.area([{"size": [1, 100], "counts": counts}])


def test_area_checks_the_sum_it_decodes():
    with pytest.raises(ValueError, match=r"rles\[0\]: counts sum to 101, expected h\*w = 100"):
        rle.area([{"size": [1, 100], "counts": b"111" + b"0" * 98}])  # 101 ones


def _reference_string(counts: list[int]) -> bytes:
    """pycocotools' rleToString in Python integers (exact for any delta)."""
    out = bytearray()
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            out.append((ch | 0x20 if more else ch) + 48)
    return bytes(out)


@pytest.mark.parametrize("top_bits", [5, 9, 10, 11, 20, 40, 62, 63, 64])
def test_to_string_matches_the_reference_writer(top_bits):
    # The writer packs 8 counts at a time when every delta takes 1 or 2 characters and writes
    # the rest one by one: blocks of each kind, and the tails, against the reference loop.
    rng = np.random.default_rng(RNG_SEED + 200 + top_bits)
    for n in list(range(0, 40)) + [64, 127, 128, 129, 500]:
        counts = _random_counts(rng, n, top_bits)
        if n > 20 and top_bits > 10:
            counts[n // 2] = 2**top_bits - 1  # one wide delta inside a packed stretch
        assert rle.to_string(counts) == _reference_string(counts)
