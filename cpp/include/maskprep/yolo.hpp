// YOLO segmentation label lines: the spec of the text `maskprep export --format yolo` writes.
//
// One line per object: "CLASS x0 y0 x1 y1 ...\n", CLASS in decimal, each coordinate the point
// divided by the image's width (x) or height (y), NaN (a 0 x 0 image) taken as 0, clamped to
// [0, 1] and written as printf's "%.6f" (rounded half to even at the 6th decimal, as numpy's
// rint): "0.123456", 8 characters. The bytes equal those of the numpy writer they replace
// (maskprep.formats.yolo before 2026-12-03), checked by tests/test_formats_yolo_bytes.py.
//
// An object of several parts is first joined into one polygon by ultralytics'
// merge_multi_segment rule (see maskprep.formats.yolo.merge_multi_segment): consecutive parts
// linked at their closest pair of vertices (squared distance dx*dx + dy*dy, the first minimum in
// row-major order, as numpy's argmin), each part rotated to its link vertex and closed, middle
// parts walked forward to the next link and finished on the way back.
//
// Layout: `xy` holds the (x, y) points of every part of every object in order; `part_points`
// the number of points of each part, `object_parts` the number of parts of each object.
// `sizes` holds (width, height) per object. Output: one text buffer, object k's line at
// [offsets[k], offsets[k + 1]) (label_line_offsets), and inside[k] = 1 when no coordinate of
// object k had to be clamped.
// Threading: objects run in parallel, each written by one thread into its own byte range.
#pragma once

#include <cstdint>

#include "maskprep/common.hpp"

namespace maskprep::yolo {

// Points of object k after the join: L for one part, else sum(L_i) + parts + (parts - 2).
// offsets (n + 1 entries) is the prefix sum of the line lengths; returns the total bytes.
// Throws std::invalid_argument (naming the argument) when a count is below 1, a class is
// negative, the parts do not add up to n_parts or the points to n_points, or a size overflows.
index_t label_line_offsets(const index_t* part_points, index_t n_parts, index_t n_points,
                           const index_t* object_parts, const std::int64_t* classes, index_t n,
                           index_t* offsets);

// Writes the n lines into out (offsets[n] bytes) and inside (n bytes). The points must be finite
// (the caller checks: the join's closest pair is undefined for NaN). The counts are those
// label_line_offsets accepted; this function does not check them again.
void write_label_lines(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const std::int64_t* classes, const double* sizes, index_t n,
                       const index_t* offsets, char* out, std::uint8_t* inside, int num_threads);

}  // namespace maskprep::yolo
