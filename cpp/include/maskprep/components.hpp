// Connected components of binary masks: labelling with per-component statistics, hole filling
// and small-object / small-hole removal.
//
// Masks are h x w row-major bytes, nonzero = foreground. Connectivity is 4 (edge neighbours) or
// 8 (edge and corner neighbours). Labels are int32: 0 is background and components are numbered
// 1..n in raster order of their first pixel, which is exactly skimage.measure.label's numbering
// (and cv2's CCL_WU); cv2's default (Spaghetti) numbering differs by a permutation only.
//
// Algorithm: run-based two-pass union-find. Pass 1 extracts the runs of each row and unions every
// run with the overlapping runs of the row above; a root is always the run with the smallest
// index, so one ascending sweep over the runs numbers the components in raster order. With
// several threads, pass 1 runs on bands of rows in parallel, the band borders are unioned
// serially, and pass 2 (writing labels) runs on rows in parallel. The numbering is canonical, so
// the result does not depend on the thread count (serial == parallel, bitwise).
#pragma once

#include <cstdint>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::components {

// Per-component statistics; entry i describes label i + 1 (no background entry, unlike cv2).
struct Stats {
  std::vector<std::int64_t> area;  // pixels
  std::vector<std::int64_t> bbox;  // 4 per component: x, y, width, height (cv2.CC_STAT_*)
  std::vector<double> centroid;    // 2 per component: mean x, mean y (cv2's centroids)
};

// Throws std::invalid_argument unless connectivity is 4 or 8.
void check_connectivity(int connectivity);

// Labels the h x w mask into `labels` (h*w int32, every element written) and returns the number
// of components. With `stats` non-null it is filled for every component. Throws
// std::invalid_argument (before any work) for a bad connectivity or more than 2^31 - 1
// components.
index_t label(const byte_t* mask, index_t h, index_t w, int connectivity, std::int32_t* labels,
              Stats* stats, int num_threads);

// scipy.ndimage.binary_fill_holes with its default (cross) structure: background pixels that are
// not 4-connected to the image border become foreground. out: h*w bytes, 0/1. With max_size >= 0
// only holes (4-connected background components not touching the border) of at most max_size
// pixels are filled.
// Throws: std::invalid_argument for a negative size (before any work).
void fill_holes(const byte_t* mask, index_t h, index_t w, byte_t* out, int num_threads,
                index_t max_size = -1);

// skimage.morphology.remove_small_objects(mask, max_size=max_size, connectivity=c): foreground
// components of at most max_size pixels are removed. out: h*w bytes, 0/1.
// Throws: std::invalid_argument for a bad connectivity, a negative max_size or a negative size
// (before any work).
void remove_small_objects(const byte_t* mask, index_t h, index_t w, index_t max_size,
                          int connectivity, byte_t* out, int num_threads);

// skimage.morphology.remove_small_holes(mask, max_size=max_size, connectivity=c): background
// components of at most max_size pixels become foreground, including those touching the border
// (skimage labels the inverted mask and does not treat the border specially). out: h*w bytes.
// Throws: as remove_small_objects.
void remove_small_holes(const byte_t* mask, index_t h, index_t w, index_t max_size,
                        int connectivity, byte_t* out, int num_threads);

}  // namespace maskprep::components
