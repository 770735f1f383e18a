// Flood fill (region growing) of a gray 8-bit image from seed points, as
// skimage.segmentation.flood.
#pragma once

#include <cstdint>

#include "maskprep/common.hpp"

namespace maskprep::imgproc {

// out (height*width bytes, overwritten with 0/1) = union over seeds of the pixels connected to
// the seed (connectivity 4 or 8) through pixels whose value lies in the seed's range
// [floor(max(0, v - tolerance)), floor(min(255, v + tolerance))], v the seed's value: skimage
// computes the bounds in float64 and casts them to the image dtype (truncation), so a
// fractional tolerance widens the low side. seeds: n_seeds (row, col) pairs, each inside the
// image (else std::invalid_argument naming the seed); tolerance finite and >= 0.
// A scanline fill; seeds sharing a range grow together, one pass per distinct range. Serial.
// Each seed is read once, checked and used from that copy; the image is read in place (changing
// it during the call gives an unspecified mask, never an out-of-bounds access).
// Throws: std::invalid_argument for an empty image, connectivity other than 4 or 8, a
// negative or non-finite tolerance, no seeds, or a seed outside the image (naming it).
void flood_fill(const std::uint8_t* image, index_t height, index_t width, const index_t* seeds,
                index_t n_seeds, double tolerance, int connectivity, std::uint8_t* out);

}  // namespace maskprep::imgproc
