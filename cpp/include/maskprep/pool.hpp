// Max pooling over NCHW planes: the spec.
//
// The rule is torch.nn.functional.max_pool2d(x, kernel_size, stride, padding) with dilation 1
// and ceil_mode=False, bit for bit: output size OH = (H + 2*pad_h - kernel_h) / stride_h + 1
// (floor; OW likewise); output (oy, ox) is the maximum over the input pixels of the window
// [oy*stride_h - pad_h, +kernel_h) x [ox*stride_w - pad_w, +kernel_w) that lie inside the plane
// (padding is never a candidate). The fold is ATen's CPU kernel's: start at -inf, visit the
// window row by row, and take a value when `v > max || isnan(v)`. So a NaN anywhere gives the
// last NaN in that order, and among equal maxima (-0.0 and +0.0) the first one wins. Folding
// each row first and then the row results in order gives the same bits (see pool.cpp), which is
// how the kernel runs: a horizontal pass per input row, then a vertical pass per output row.
//
// Why it exists: torch's NCHW max_pool2d also computes argmax indices and runs scalar code;
// the 3x3 stride-2 pooling after ResNet's stem takes about 60 ms of a Mask R-CNN forward pass
// on an 800 x 1216 image on two cores, where this kernel takes a few.
//
// Layout: `planes` row-major H x W planes (N * C of an NCHW tensor), output planes OH x OW.
// Threading: planes run in parallel; each is written by one thread, so the result does not
// depend on the thread count.
#pragma once

#include "maskprep/common.hpp"

namespace maskprep::pool {

struct MaxPoolSpec {
  index_t planes = 0;                  // N * C, >= 0
  index_t height = 0;                  // H, >= 0
  index_t width = 0;                   // W, >= 0
  index_t kernel_h = 1, kernel_w = 1;  // >= 1
  index_t stride_h = 1, stride_w = 1;  // >= 1
  index_t pad_h = 0, pad_w = 0;        // 0 <= pad <= kernel / 2 (torch's limit)
};

// Output size along one axis (may be < 1 for a window larger than the padded input).
inline index_t max_pool_out_size(index_t in, index_t kernel, index_t stride, index_t pad) {
  const index_t span = in + 2 * pad - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

// Throws std::invalid_argument (naming the argument) for a kernel or stride below 1, a padding
// outside [0, kernel / 2], negative sizes, or an output smaller than 1 x 1 (torch's errors).
void check_max_pool(const MaxPoolSpec& spec);

// Writes spec.planes output planes of OH x OW (every element). T is float or double.
// Throws: check_max_pool's std::invalid_argument (before any work).
template <typename T>
void max_pool2d(const T* input, const MaxPoolSpec& spec, T* output, int num_threads);

}  // namespace maskprep::pool
