"""RLE dicts built by the bindings are left to reference counting (the cyclic collector would
otherwise walk thousands of them per batch): their [h, w] list and, when it holds only such
objects, the dict are untracked. A dict tracks itself again when a tracked object is stored in
it, and the results are ordinary dicts and lists in every other way."""

from __future__ import annotations

import gc

import numpy as np

from maskprep import rle

SQUARE = [[1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]]


def test_compressed_results_are_untracked():
    for r in (
        rle.from_segmentations([SQUARE], (4, 4))[0],
        rle.from_polygons(SQUARE, (4, 4))[0],
        rle.encode(np.ones((3, 3), dtype=np.uint8)),
    ):
        assert not gc.is_tracked(r) and not gc.is_tracked(r["size"])
        assert type(r) is dict and type(r["size"]) is list


def test_a_dict_holding_a_tracked_object_is_tracked():
    # Uncompressed counts are a list, which the collector must see through the dict.
    r = rle.encode(np.ones((3, 3), dtype=np.uint8), compressed=False)
    assert gc.is_tracked(r) and gc.is_tracked(r["counts"])
    r = rle.from_segmentations([SQUARE], (4, 4))[0]
    r["extra"] = [r]  # a cycle through a tracked list: the dict is tracked again, collectable
    assert gc.is_tracked(r)


def test_untracked_results_behave_as_ordinary_objects():
    r = rle.from_segmentations([SQUARE], (4, 4))[0]
    r["size"].append(5)
    assert r == {"size": [4, 4, 5], "counts": b"52203"}
    del r["size"][2]
    assert rle.decode([r]).shape == (4, 4, 1)
