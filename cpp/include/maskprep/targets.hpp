// Training-time mask targets: COCO polygon objects straight to dense masks and to RoI masks.
//
// Both reuse the union-of-polygons rule of segmentation.hpp (segmentation::polygons_to_rle,
// then a decode); nothing here re-implements the scan rule.
//
// Objects come flattened: object i owns the polygons
// [obj_offsets[i], obj_offsets[i+1]) (none: an all-zero mask, as detectron2's
// polygons_to_bitmask gives), polygon j owns the values [poly_offsets[j], poly_offsets[j+1]) of
// xy = [x0, y0, x1, y1, ...]. Object i writes output row rows[i] (rows null: row i) and is named
// rows[i] in errors (IndexedError), so the bindings can pass objects picked out of a longer
// list. Every value is checked before the parallel region (the polygon and the problem); the
// work is then spread across objects.
#pragma once

#include "maskprep/common.hpp"

namespace maskprep::targets {

// Each object's polygons, unioned, as an h x w row-major 0/1 mask at out + rows[i]*h*w:
// pycocotools' decode(merge(frPyObjects(polygons, h, w))). Polygons need at least 3 points.
// Throws: IndexedError(rows[i], " polygon p ...") for a polygon that fails polygon::check;
// std::invalid_argument for negative sizes (before any work).
void polygons_to_dense(const double* xy, const index_t* poly_offsets, const index_t* obj_offsets,
                       index_t n, index_t h, index_t w, const index_t* rows, byte_t* out,
                       int num_threads);

// detectron2's rasterize_polygons_within_box for object i and the xyxy box boxes[4*i..]: the
// polygons shifted by (-x0, -y0), scaled by (M / max(x1 - x0, 0.1), M / max(y1 - y0, 0.1)) and
// rasterized at M x M (M = mask_size) into out + rows[i]*M*M. The box arithmetic is done in the
// box type T, as detectron2 does on a float32 (or float64) tensor under NumPy 2 promotion rules:
// side = x1 - x0 in T; the ratio is T(M) / side in T, or the double M / 0.1 when side < 0.1;
// the coordinates are float64: (x - double(x0)) * double(ratio).
// Throws: std::invalid_argument for mask_size < 1 or a non-finite box (naming it);
// IndexedError(rows[i], ...) for a polygon that fails polygon::check or a vertex that its box
// maps beyond the rasterizer's range (before any work).
template <typename T>
void polygons_within_boxes(const double* xy, const index_t* poly_offsets,
                           const index_t* obj_offsets, index_t n, const T* boxes, index_t mask_size,
                           const index_t* rows, byte_t* out, int num_threads);

}  // namespace maskprep::targets
