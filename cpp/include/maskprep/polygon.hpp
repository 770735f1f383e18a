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
// column grid (5*w + 8) too; throws std::invalid_argument naming the sizes otherwise. to_rle,
// box_to_rle and objects_to_rle check it themselves.
void check_grid(index_t h, index_t w);

// Rasterizes one polygon of k points xy = [x0, y0, x1, y1, ...] (k >= 1, finite, within
// kMaxCoordinate; the caller validates) into an h x w RLE.
void to_rle(const double* xy, index_t k, index_t h, index_t w, rle::Counts& out);

// A box [x, y, width, height] as pycocotools' rleFrBbox: the polygon
// (x, y), (x, y+h), (x+w, y+h), (x+w, y).
void box_to_rle(const double box[4], index_t h, index_t w, rle::Counts& out);

// Validates a polygon of num_values numbers: returns "" when it is usable, else what is wrong
// ("must have at least 3 points ..."), for the caller to prefix with the polygon's name.
// Rejected: an odd count (pycocotools silently drops the last number), fewer than min_points
// points, non-finite coordinates, |coordinate| > kMaxCoordinate. The strict API uses
// min_points = 3; the pycocotools drop-in uses 1, where one or two points give pycocotools'
// empty mask.
std::string check(const double* xy, index_t num_values, index_t min_points = 3);

// A batch of objects, each the union of one or more polygons (a COCO polygon segmentation):
// object i owns polygons [obj_offsets[i], obj_offsets[i+1]), polygon j owns the values
// [poly_offsets[j], poly_offsets[j+1]) of xy; heights/widths per object. out is resized to
// n_objects and object i gets merge(to_rle(each polygon)) exactly as pycocotools'
// merge(frPyObjects(seg, h, w)). Parallel across objects.
void objects_to_rle(const double* xy, const index_t* poly_offsets, const index_t* obj_offsets,
                    index_t n_objects, const index_t* heights, const index_t* widths,
                    std::vector<rle::Counts>& out, int num_threads);

}  // namespace maskprep::polygon
