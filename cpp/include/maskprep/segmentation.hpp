// COCO segmentations to RLE: pycocotools' COCO.annToRLE, the one rule that both
// maskprep.rle.from_segmentations (Python objects) and the JSON converter (coco_json.hpp) call.
//
// A segmentation is a polygon list, whose RLE is the union of its polygons rasterized as
// merge(frPyObjects(seg, h, w)) does, or an RLE dict, which must have its image's size and whose
// counts are kept as given (a compressed string verbatim; uncompressed counts compressed). The
// callers read their containers into the plain data below and check each RLE's counts (their
// sum must be h*w) with the RLE codec (rle.hpp); this header owns everything else.
#pragma once

#include <string>

#include "maskprep/common.hpp"
#include "maskprep/rle.hpp"

namespace maskprep::segmentation {

// One segmentation of a batch. The polygons of a batch share one coordinate buffer xy: polygon
// j holds the values [poly_offsets[j], poly_offsets[j+1]) of xy ([x0, y0, x1, y1, ...]).
struct Object {
  index_t h = 0, w = 0;  // its image's size
  bool is_rle = false;
  index_t poly_begin = 0, poly_end = 0;  // polygons: [poly_begin, poly_end) of poly_offsets
  index_t rle_h = 0, rle_w = 0;          // an RLE: the size it declares
};

// Checks one segmentation: a polygon object needs a rasterizable image size
// (polygon::check_grid) and every polygon must pass polygon::check (min_points 3), in order; an
// RLE must declare its image's size.
// Throws: std::invalid_argument whose message continues the object's name ("segmentations[3]" or
// "segmentation"): " polygon 1 must have at least 3 point(s) ...", " is an empty polygon list",
// ": image size h*w = ... does not fit in 64 bits", " has size [2, 3] but its image is 10 x 10".
void check(const Object& o, const double* xy, const index_t* poly_offsets);

// The polygon part of check: every polygon [begin, end) of poly_offsets must pass polygon::check
// (min_points 3). An empty range passes (targets.hpp allows an object without polygons).
// Throws: std::invalid_argument " polygon p <problem>", p counted from begin, for the first
// polygon that fails.
void check_polygons(const double* xy, const index_t* poly_offsets, index_t begin, index_t end);

// The RLE of a checked polygon object into out (replaced). Throws: nothing but std::bad_alloc.
void polygons_to_rle(const Object& o, const double* xy, const index_t* poly_offsets,
                     rle::Counts& out);

// A batch of n segmentations: checks every object in index order, then rasterizes the polygon
// objects, in parallel, and writes each one's RLE into out[i] (replaced) as a compressed string
// (rle::append_string) while its counts are still in cache; out[i] of an RLE object is left as
// it is. Throws: IndexedError(i, message of check) for the first bad object i.
void to_strings(const Object* objects, index_t n, const double* xy, const index_t* poly_offsets,
                std::string* out, int num_threads);

}  // namespace maskprep::segmentation
