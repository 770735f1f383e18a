// Colour conversions of 8-bit images, bit-identical to OpenCV's cv2.cvtColor.
//
// Pixels are interleaved (H, W, C) rows, C = 3 (RGB) or 4 (RGBA, alpha ignored); n_pixels = H*W.
// Both kernels are per-pixel and run blocks of pixels in parallel (output independent of the
// thread count).
#pragma once

#include <cstdint>

#include "maskprep/common.hpp"

namespace maskprep::imgproc {

// cv2.COLOR_RGB2GRAY on uint8: gray = (R*9798 + G*19235 + B*3735 + 2^14) >> 15, OpenCV 5's
// fixed-point BT.601 weights with round-half-up (OpenCV 4 used 4899/9617/1868 >> 14, which
// differs on 43,864 of the 2^24 colours; verified exhaustively against cv2 5.0).
// gray: n_pixels bytes.
// Throws: std::invalid_argument unless channels is 3 or 4.
void rgb_to_gray(const std::uint8_t* rgb, index_t n_pixels, index_t channels, std::uint8_t* gray,
                 int num_threads);

// cv2.COLOR_RGB2HSV on uint8 (H in [0, 180), S and V in [0, 255]): OpenCV's integer formula
// with its 12-bit reciprocal tables (255*4096/v and 180*4096/(6*diff), rounded half to even).
// hsv: 3 * n_pixels bytes.
// Throws: std::invalid_argument unless channels is 3 or 4.
void rgb_to_hsv(const std::uint8_t* rgb, index_t n_pixels, index_t channels, std::uint8_t* hsv,
                int num_threads);

}  // namespace maskprep::imgproc
