// Otsu thresholding of 8-bit images, in the two conventions people compare against.
#pragma once

#include <cstdint>

#include "maskprep/common.hpp"

namespace maskprep::imgproc {

enum class OtsuConvention {
  // skimage.filters.threshold_otsu: histogram from min to max value, between-class variance
  // w1*w2*(m1 - m2)^2 from integer cumulative sums (int64) and float64 means, first maximum;
  // a constant image returns its value.
  kSkimage,
  // cv2.threshold(THRESH_OTSU): OpenCV's running float64 recurrences over the 256 bins with its
  // FLT_EPSILON guard on the class weights, first maximum; no valid split returns 0.
  kOpencv,
};

// Otsu threshold t of n_pixels (>= 1) bytes, and mask[i] = src[i] > t (0/1 bytes) when mask is
// not null (both anchors binarise with a strict '>'). Histogram and mask run in parallel.
// Throws: std::invalid_argument for n_pixels <= 0.
int otsu_threshold(const std::uint8_t* src, index_t n_pixels, OtsuConvention convention,
                   std::uint8_t* mask, int num_threads);

}  // namespace maskprep::imgproc
