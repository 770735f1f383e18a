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
// Layout: `xy` holds the (x, y) points of the parts; `part_points` the number of points of each
// part, `object_parts` the number of parts of each object. Object k's parts are part_points
// [part_start[k], part_start[k] + object_parts[k]) and its points follow one another in xy from
// point point_start[k]: either given (objects anywhere in the arrays, in any order: the
// exporter writes label files in file order without gathering every point first) or, when not
// given, every object right after the previous one. `sizes` holds (width, height) per object.
// Output: one text buffer, object k's line at
// [offsets[k], offsets[k + 1]) (label_line_offsets), and inside[k] = 1 when no coordinate of
// object k had to be clamped.
// Threading: objects run in parallel, each written by one thread into its own byte range.
#pragma once

#include <cstdint>

#include "maskprep/common.hpp"

namespace maskprep::yolo {

// Points of object k after the join: L for one part, else sum(L_i) + parts + (parts - 2).
// offsets (n + 1 entries) is the prefix sum of the line lengths; returns the total bytes.
// part_start and point_start (n entries each) are checked when starts_given (each object's
// parts inside part_points, its points inside xy), else filled in (objects one after another,
// the parts then adding up to n_parts and the points to n_points).
// Throws std::invalid_argument (naming the argument) when a count is below 1, a class is
// negative, the parts or points do not fit as above, or a size overflows.
index_t label_line_offsets(const index_t* part_points, index_t n_parts, index_t n_points,
                           const index_t* object_parts, const std::int64_t* classes, index_t n,
                           index_t* part_start, index_t* point_start, bool starts_given,
                           index_t* offsets);

// Writes the n lines into out (offsets[n] bytes) and inside (n bytes). The points must be finite
// (the caller checks: the join's closest pair is undefined for NaN). The counts and starts are
// those label_line_offsets accepted or filled in; this function does not check them again.
void write_label_lines(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const index_t* part_start, const index_t* point_start,
                       const std::int64_t* classes, const double* sizes, index_t n,
                       const index_t* offsets, char* out, std::uint8_t* inside, int num_threads);

// Whether the parts of each object overlap, as the exporter decides which objects to trace
// instead of joining (joined, two overlapping parts would cut their overlap out of the even-odd
// fill): out[k] = 1 when object k has several parts and its rasterized union (segmentation.hpp)
// has fewer pixels than its parts' areas added, 0 when not, 2 when it cannot be rasterized
// (a part fails polygon::check or the image size check_grid; the caller reports those). Parts
// whose boxes, widened by 2 pixels, are pairwise disjoint cannot share a pixel (the rasterizer
// fills pixels within 1 of a part's coordinates): those objects are not rasterized. `sizes`
// holds (height, width) per object; the layout is label_line_offsets' (checked by the caller,
// the starts given or filled in there).
void overlapping_parts(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const index_t* part_start, const index_t* point_start, const index_t* sizes,
                       index_t n, std::uint8_t* out, int num_threads);

}  // namespace maskprep::yolo
