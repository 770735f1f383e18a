// Binary masks to COCO polygons that pycocotools rasterizes back to the same mask.
//
// Boundaries are traced along pixel edges (crack edges), so every vertex is a pixel corner:
// integer coordinates (x, y) where pixel (row y, column x) spans [x, x+1] x [y, y+1]. Under
// pycocotools' rule (a pixel is on iff its centre (x+.5, y+.5) is inside, even-odd, vertices on a
// 1/5-pixel grid) such a polygon covers exactly the pixels it encloses, so with tolerance 0 the
// round trip mask -> polygons -> rle.from_polygons/pycocotools -> mask is the identity.
//
// One polygon per 8-connected foreground component, in raster order of the component's first
// pixel (skimage.measure.label's order). The outer boundary runs clockwise on screen (x right,
// y down), starting at the top-left corner of the component's first pixel; where two pixels of the
// component touch only at a corner the boundary passes through that corner twice.
//
// Holes (4-connected background enclosed by the component): COCO unions the polygons of one
// object, so a hole cannot be its own polygon. With holes = true each hole ring (anticlockwise)
// is appended to its component's polygon through a zero-width bridge: the polygon goes
// outer ring, A0, hole ring, H0, (next hole ...) and closes back to A0, where A0 is the outer
// ring's first vertex and H0 the hole's. The bridge edges A0 -> H0 and H0 -> A0 coincide, so
// their pixel-centre crossings cancel under the even-odd rule (pycocotools walks an edge the
// same way in both directions), and the hole is cut out exactly. With holes = false only the
// outer rings are returned: holes are filled (what shapely-style consumers expect).
#pragma once

#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::contours {

struct Options {
  // Douglas-Peucker tolerance in pixels, per ring (0 keeps every corner; collinear corners are
  // never emitted). A ring left with fewer than 3 vertices is dropped (its component, or the hole).
  double tolerance = 0.0;
  bool holes = true;
  // Components with fewer pixels are dropped; holes with fewer pixels (islands inside them
  // included) are not cut out (they are filled).
  index_t min_area = 0;
};

using Polygon = std::vector<double>;  // x0, y0, x1, y1, ... (COCO's flat layout)

// Throws std::invalid_argument for a negative or non-finite tolerance or a negative min_area.
void check_options(const Options& options);

// Polygons of one h x w row-major mask (nonzero = foreground); out is replaced.
void mask_to_polygons(const byte_t* mask, index_t h, index_t w, const Options& options,
                      std::vector<Polygon>& out);

// n masks of h x w, contiguous; out[i] gets mask i's polygons. Parallel across masks.
void masks_to_polygons(const byte_t* masks, index_t n, index_t h, index_t w, const Options& options,
                       std::vector<std::vector<Polygon>>& out, int num_threads);

}  // namespace maskprep::contours
