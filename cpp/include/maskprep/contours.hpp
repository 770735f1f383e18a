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
// object, so a hole cannot be its own polygon. With holes = true each hole ring (anticlockwise,
// from its top-left corner H) is cut into its component's polygon through a zero-width bridge:
// from H straight up column line x = H.x to the first corner where a horizontal boundary edge of
// the component meets that line (on the outer ring or on a hole higher up), then the path goes
// there -> H -> hole ring -> H -> back and on. A vertical segment crosses no pixel-centre
// column, so the bridge adds nothing to pycocotools' even-odd fill and the hole is cut out
// exactly; it spans only the component between the hole and the boundary above, so the polygon
// stays proportional to the boundary (pycocotools allocates 5 points per pixel of edge). With
// holes = false only the outer rings are returned: holes are filled (for shapely-style
// consumers, which see a bridge as a slit).
#pragma once

#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::contours {

struct Options {
  // Douglas-Peucker tolerance in pixels, per ring (0 keeps every corner; collinear corners are
  // never emitted). Bridge ends are kept, so bridges stay vertical. An outer ring without holes
  // left with fewer than 3 corners is dropped; a hole, or a ring holding holes, is kept whole.
  double tolerance = 0.0;
  bool holes = true;
  // Cleaning before tracing: components (8-connected) of fewer pixels are removed, then holes
  // (4-connected background not touching the border) of fewer pixels are filled, so the round
  // trip gives fill_holes(remove_small_objects(mask, min_size), max_size = min_area - 1).
  index_t min_area = 0;
};

using Polygon = std::vector<double>;  // x0, y0, x1, y1, ... (COCO's flat layout)

// Throws std::invalid_argument for a negative or non-finite tolerance or a negative min_area.
void check_options(const Options& options);

// Polygons of one h x w row-major mask (nonzero = foreground); out is replaced.
// Throws: check_options' std::invalid_argument, or for negative sizes.
void mask_to_polygons(const byte_t* mask, index_t h, index_t w, const Options& options,
                      std::vector<Polygon>& out);

// n masks of h x w, contiguous; out[i] gets mask i's polygons. Parallel across masks.
// Throws: as mask_to_polygons (before any work).
void masks_to_polygons(const byte_t* masks, index_t n, index_t h, index_t w, const Options& options,
                       std::vector<std::vector<Polygon>>& out, int num_threads);

}  // namespace maskprep::contours
