// RoI Align (Mask R-CNN's region pooling) on the CPU: forward and backward, float and double,
// NCHW and NHWC feature maps, average and max aggregation.
//
// Geometry is torchvision's (csrc/ops/cpu/roi_align_kernel.cpp) operation for operation, so the
// average mode is bit-identical to torchvision.ops.roi_align in float32 and float64. For a box
// (x1, y1, x2, y2) scaled by `spatial_scale` (converted to T first) and shifted by -0.5 when
// `aligned`, each of the pooled_h x pooled_w bins is sampled on a grid_h x grid_w grid of points
// (grid = sampling_ratio, or ceil(roi size / pooled size) when sampling_ratio <= 0). A point is
// the bilinear interpolation of its four neighbours; a point outside [-1, H] x [-1, W] is 0.
//   avg: the sum of the points in scan order (iy, then ix) divided by max(grid_h * grid_w, 1).
//   max: the largest point of the bin (ONNX RoiAlign's "max" as its specification defines it:
//        the maximum of the bilinear samples, not of their weighted corners); an empty bin is 0.
// Malformed boxes (x2 < x1) follow torchvision: with aligned=false the RoI is widened to 1 pixel;
// with aligned=true the size stays negative and fixed sampling walks the bins backwards, while
// adaptive sampling gives an empty grid (a zero output), where torchvision raises.
//
// Layouts (row-major): NCHW features (N, C, H, W) pool to (K, C, PH, PW); NHWC features
// (N, H, W, C) pool to (K, PH, PW, C). Gradients have the layout of what they differentiate.
//
// Threading: forward runs RoIs in parallel (each writes only its own output rows). Backward runs
// blocks of channels in parallel: every block walks all RoIs in input order and owns its slice of
// grad_features, so each element receives its contributions in exactly the serial order (the
// order of torchvision's CPU backward): no atomics, and the result does not depend on the thread
// count.
#pragma once

#include "maskprep/common.hpp"

namespace maskprep::roi_align {

enum class RoiPoolMode { kAvg, kMax };
enum class FeatureLayout { kNchw, kNhwc };

// The shape and options of one RoI Align call; features and rois are described separately.
struct RoiAlignSpec {
  index_t batch = 0;     // N: images in the feature map
  index_t channels = 0;  // C
  index_t height = 0;    // H
  index_t width = 0;     // W
  index_t pooled_height = 0;
  index_t pooled_width = 0;
  double spatial_scale = 1.0;   // rounded to T before use, as torchvision does
  index_t sampling_ratio = -1;  // > 0: fixed grid per bin; <= 0: adaptive
  bool aligned = false;         // shift box coordinates by -0.5 pixel (pixel-centre model)
  RoiPoolMode mode = RoiPoolMode::kAvg;
  FeatureLayout layout = FeatureLayout::kNchw;
};

// Pools `n_rois` boxes from `features`. rois: (n_rois, 5) rows (batch_index, x1, y1, x2, y2) in
// input-image coordinates; the batch index must lie in [0, batch) and is truncated to an
// integer. out: n_rois * channels * pooled_height * pooled_width elements in the layout above,
// every one written. With `out_rows` (n_rois distinct entries), RoI n writes output row
// out_rows[n] instead of row n, so that the levels of an FPN pyramid fill one result in place;
// rows not listed are left untouched. Throws std::invalid_argument (before any work) for
// non-positive sizes, a non-finite or non-positive spatial_scale, non-finite box coordinates, a
// batch index out of range, a grid of more than 2^31 - 1 samples per bin (torchvision counts
// them in a 32-bit int: sampling_ratio^2, or an adaptive ceil(roi_h / pooled_h) x
// ceil(roi_w / pooled_w)), or sizes whose products do not fit in 64 bits.
// Concurrency: the boxes are copied before they are checked (the bindings pass out_rows from
// their own checked copy), so changing them during the call cannot cause an out-of-bounds
// access; features are read in place (changing them gives unspecified values, never an
// out-of-bounds access: no index is read from them).
template <typename T>
void roi_align_forward(const T* features, const T* rois, index_t n_rois, const RoiAlignSpec& spec,
                       T* out, int num_threads, const index_t* out_rows = nullptr);

// Gradient of roi_align_forward with respect to the features. grad_out has the output's shape
// and layout; grad_features (the features' shape and layout) is overwritten. The max mode routes
// each bin's gradient to its first largest sample (scan order) and needs `features`; the average
// mode ignores it (may be null). Same argument checks as the forward.
template <typename T>
void roi_align_backward(const T* grad_out, const T* rois, index_t n_rois, const RoiAlignSpec& spec,
                        const T* features, T* grad_features, int num_threads);

}  // namespace maskprep::roi_align
