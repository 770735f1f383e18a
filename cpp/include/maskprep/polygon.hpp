// Polygons and boxes to COCO RLE, reproducing pycocotools' rleFrPoly / rleFrBbox bit for bit.
//
// The rule: vertices are scaled by 5 and rounded with a C (int) cast of 5v + .5; each edge is
// walked DDA-style; a pixel (x, y) is foreground iff its centre lies inside the polygon under the
// even-odd rule on that 1/5-pixel grid. The walk is evaluated in the same double operations, in
// the same order, without FMA contraction; the edge points are streamed, never stored.
#pragma once

#include <string>

#include "maskprep/common.hpp"
#include "maskprep/rle.hpp"

namespace maskprep::polygon {

// Largest |coordinate| accepted: 5*v + .5 and the difference of two such values must fit in a
// 32-bit int (pycocotools overflows silently).
constexpr double kMaxCoordinate = 2.0e8;

// The image sizes the rasterizer accepts: h, w >= 0 with h*w in int64 and its 5x-upsampled
// column grid (5*w + 8) too. to_rle and the functions below check it themselves.
// Throws: std::invalid_argument naming the sizes.
void check_grid(index_t h, index_t w);

// Rasterizes one polygon of k points xy = [x0, y0, x1, y1, ...] (k >= 1, finite, within
// kMaxCoordinate; the caller validates) into an h x w RLE. Throws: check_grid's.
void to_rle(const double* xy, index_t k, index_t h, index_t w, rle::Counts& out);

// to_rle without the copy: returns its `runs` counts where they were computed, in this thread's
// scratch, valid until the thread's next rasterization. Throws: check_grid's.
const rle::count_t* to_rle_runs(const double* xy, index_t k, index_t h, index_t w, index_t& runs);

// A box [x, y, width, height] as pycocotools' rleFrBbox: the polygon
// (x, y), (x, y+h), (x+w, y+h), (x+w, y). Throws: check_grid's.
void box_to_rle(const double box[4], index_t h, index_t w, rle::Counts& out);

// Validates a polygon of num_values numbers: returns "" when it is usable, else what is wrong
// ("must have at least 3 points ..."), for the caller to prefix with the polygon's name.
// Rejected: an odd count (pycocotools silently drops the last number), fewer than min_points
// points, non-finite coordinates, |coordinate| > kMaxCoordinate. The strict API uses
// min_points = 3; the pycocotools drop-in uses 1, where one or two points give pycocotools'
// empty mask. Throws: nothing but std::bad_alloc (problems are returned).
std::string check(const double* xy, index_t num_values, index_t min_points = 3);

// n boxes [x, y, width, height] (box i at boxes[4*i .. 4*i + 4)) to h x w RLEs out[0..n),
// each as box_to_rle. Every value is checked before any work; parallel across boxes.
// Throws: IndexedError(i, " has a non-finite or out-of-range value (|v| must be <= 2e8)") for the
// first bad box i; check_grid's std::invalid_argument.
void boxes_to_rle(const double* boxes, index_t n, index_t h, index_t w, rle::Counts* out,
                  int num_threads);

// n polygons (polygon i is the values [offsets[i], offsets[i+1]) of xy) to h x w RLEs out[0..n),
// each as to_rle. Every polygon is checked (check with min_points) before any work; parallel
// across polygons.
// Throws: IndexedError(i, " " + check's message) for the first bad polygon i; check_grid's
// std::invalid_argument.
void polygons_to_rle(const double* xy, const index_t* offsets, index_t n, index_t h, index_t w,
                     index_t min_points, rle::Counts* out, int num_threads);

}  // namespace maskprep::polygon
