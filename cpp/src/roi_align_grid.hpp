// RoI Align's shared half (private to cpp/src): the per-RoI sampling grid, computed once per RoI
// with torchvision's float expressions in torchvision's order, and the validation of a call.
// Used by roi_align_forward.cpp and roi_align_backward.cpp (torchvision's
// roi_align_common.h); the layout transpose is in roi_align_transpose.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "maskprep/roi_align.hpp"
#include "parallel_for.hpp"

namespace maskprep::roi_align::impl {

// One bilinear sample point: the pixel offsets (y * W + x) of its four neighbours and their
// weights. A point outside the map keeps torchvision's zero weights on pixel 0 (so the forward
// reproduces its arithmetic exactly) and is flagged so that the backward skips it.
template <typename T>
struct Sample {
  index_t pos[4];
  T w[4];
  bool inside;
};

// The sampling grid of one RoI: samples are stored bin by bin (ph, pw), each bin's
// grid_h * grid_w points in scan order (iy, ix).
template <typename T>
struct RoiGrid {
  index_t batch_index = 0;
  index_t samples_per_bin = 0;
  T count = 1;  // the average's divisor, max(grid_h * grid_w, 1) as in torchvision
  std::vector<Sample<T>> samples;
};

// Position and weights of one coordinate of a sample point, after torchvision's clamping.
template <typename T>
struct AxisPoint {
  bool inside;
  index_t low, high;
  T l, h;  // weight of `high` and of `low`
};

template <typename T>
AxisPoint<T> axis_point(T v, index_t size) {
  AxisPoint<T> a{};
  // Written as !(in range) so that nothing but a point in range reaches the integer casts.
  a.inside = v >= -1.0 && v <= static_cast<T>(size);
  if (!a.inside) return a;
  if (v <= 0) v = 0;
  a.low = static_cast<index_t>(v);
  if (a.low >= size - 1) {
    a.high = a.low = size - 1;
    v = static_cast<T>(a.low);
  } else {
    a.high = a.low + 1;
  }
  a.l = v - static_cast<T>(a.low);
  a.h = static_cast<T>(1. - a.l);  // torchvision writes `1. - ly`: evaluated in double
  return a;
}

// The coordinates of the grid points along one axis of the RoI, torchvision's expression
// `start + p * bin + (T)(i + .5f) * bin / (T)grid` in its evaluation order.
template <typename T>
std::vector<AxisPoint<T>> axis_points(T start, T bin, index_t pooled, index_t grid, index_t size) {
  std::vector<AxisPoint<T>> points;
  points.reserve(static_cast<size_t>(pooled * grid));
  for (index_t p = 0; p < pooled; ++p) {
    for (index_t i = 0; i < grid; ++i) {
      const T v = start + static_cast<T>(p) * bin +
                  static_cast<T>(static_cast<float>(i) + .5f) * bin / static_cast<T>(grid);
      points.push_back(axis_point(v, size));
    }
  }
  return points;
}

// Sampling grid along one axis: fixed, or torchvision's adaptive ceil(roi size / pooled size).
// A negative size (aligned boxes with x2 < x1) gives an empty adaptive grid.
template <typename T>
index_t grid_size(index_t sampling_ratio, T roi_size, index_t pooled) {
  if (sampling_ratio > 0) return sampling_ratio;
  const T g = std::ceil(roi_size / static_cast<T>(pooled));
  return g > 0 ? static_cast<index_t>(g) : 0;
}

// A RoI's bins in feature coordinates, with torchvision's rounding (spatial_scale is a T).
template <typename T>
struct RoiBox {
  index_t batch_index;
  T start_h, start_w, bin_h, bin_w;
  index_t grid_h, grid_w;
};

template <typename T>
RoiBox<T> roi_box(const T* roi, const RoiAlignSpec& s) {
  const T scale = static_cast<T>(s.spatial_scale);
  const T offset = s.aligned ? static_cast<T>(0.5) : static_cast<T>(0.0);
  const T start_w = roi[1] * scale - offset;
  const T start_h = roi[2] * scale - offset;
  const T end_w = roi[3] * scale - offset;
  const T end_h = roi[4] * scale - offset;
  T roi_w = end_w - start_w;
  T roi_h = end_h - start_h;
  if (!s.aligned) {  // torchvision forces malformed RoIs to 1 x 1
    roi_w = std::max(roi_w, static_cast<T>(1.));
    roi_h = std::max(roi_h, static_cast<T>(1.));
  }
  return {static_cast<index_t>(roi[0]),
          start_h,
          start_w,
          roi_h / static_cast<T>(s.pooled_height),
          roi_w / static_cast<T>(s.pooled_width),
          grid_size(s.sampling_ratio, roi_h, s.pooled_height),
          grid_size(s.sampling_ratio, roi_w, s.pooled_width)};
}

template <typename T>
void build_grid(const T* roi, const RoiAlignSpec& s, RoiGrid<T>& g) {
  const RoiBox<T> box = roi_box(roi, s);
  const index_t grid_h = box.grid_h, grid_w = box.grid_w;
  g.batch_index = box.batch_index;
  g.samples_per_bin = grid_h * grid_w;
  g.count = static_cast<T>(std::max<index_t>(g.samples_per_bin, 1));

  // The table first: it is the largest allocation, and fails first (as torchvision's pre_calc).
  g.samples.resize(static_cast<size_t>(s.pooled_height * s.pooled_width * g.samples_per_bin));
  const auto ys = axis_points(box.start_h, box.bin_h, s.pooled_height, grid_h, s.height);
  const auto xs = axis_points(box.start_w, box.bin_w, s.pooled_width, grid_w, s.width);
  Sample<T>* out = g.samples.data();
  for (index_t ph = 0; ph < s.pooled_height; ++ph) {
    for (index_t pw = 0; pw < s.pooled_width; ++pw) {
      for (index_t iy = 0; iy < grid_h; ++iy) {
        const AxisPoint<T>& y = ys[static_cast<size_t>(ph * grid_h + iy)];
        for (index_t ix = 0; ix < grid_w; ++ix) {
          const AxisPoint<T>& x = xs[static_cast<size_t>(pw * grid_w + ix)];
          Sample<T>& smp = *out++;
          smp.inside = y.inside && x.inside;
          if (!smp.inside) {
            smp = Sample<T>{{0, 0, 0, 0}, {0, 0, 0, 0}, false};
            continue;
          }
          smp.pos[0] = y.low * s.width + x.low;
          smp.pos[1] = y.low * s.width + x.high;
          smp.pos[2] = y.high * s.width + x.low;
          smp.pos[3] = y.high * s.width + x.high;
          smp.w[0] = y.h * x.h;
          smp.w[1] = y.h * x.l;
          smp.w[2] = y.l * x.h;
          smp.w[3] = y.l * x.l;
        }
      }
    }
  }
}

// torchvision's bilinear sum, left to right: w1*v1 + w2*v2 + w3*v3 + w4*v4.
template <typename T>
inline T interpolate(const Sample<T>& smp, const T* plane) {
  return smp.w[0] * plane[smp.pos[0]] + smp.w[1] * plane[smp.pos[1]] +
         smp.w[2] * plane[smp.pos[2]] + smp.w[3] * plane[smp.pos[3]];
}

// ---- validation ---------------------------------------------------------------------------

// Samples per bin are counted in 32-bit ints in torchvision (max(grid_h * grid_w, 1)): a larger
// grid has no torchvision result, and is refused.
inline constexpr index_t kMaxSamplesPerBin = std::numeric_limits<std::int32_t>::max();

// Validates the call and returns a copy of the boxes: the kernels read only the copy, so a
// caller changing its boxes while the call runs (without the GIL) cannot move a batch index or a
// grid size past what was checked.
template <typename T>
std::vector<T> checked_rois(const T* rois, index_t n_rois, const RoiAlignSpec& s) {
  MASKPREP_CHECK(n_rois >= 0, "boxes: expected a non-negative count, got ", n_rois);
  std::vector<T> copy(rois, rois + detail::checked_size("boxes K x 5", n_rois, 5));
  rois = copy.data();
  MASKPREP_CHECK(s.batch >= 0 && s.channels >= 0 && s.height >= 0 && s.width >= 0,
                 "features must have non-negative dimensions, got (", s.batch, ", ", s.channels,
                 ", ", s.height, ", ", s.width, ")");
  MASKPREP_CHECK(s.pooled_height > 0 && s.pooled_width > 0, "output_size must be positive, got (",
                 s.pooled_height, ", ", s.pooled_width, ")");
  MASKPREP_CHECK(std::isfinite(s.spatial_scale) && s.spatial_scale > 0,
                 "spatial_scale must be a positive finite number, got ", s.spatial_scale);
  MASKPREP_CHECK(s.sampling_ratio <= 0 || s.sampling_ratio <= kMaxSamplesPerBin / s.sampling_ratio,
                 "sampling_ratio ", s.sampling_ratio,
                 " is too large: sampling_ratio^2 samples per "
                 "bin must fit in 32 bits (torchvision's count)");
  const index_t bins = detail::checked_size("output_size", s.pooled_height, s.pooled_width);
  detail::checked_size("output K x C x output_size", n_rois, s.channels, bins);
  detail::checked_size("features N x C x H x W", s.batch, s.channels, s.height, s.width);
  if (n_rois > 0) {
    MASKPREP_CHECK(s.height > 0 && s.width > 0,
                   "features must have a positive height and width, got ", s.height, " x ",
                   s.width);
  }
  const double limit = static_cast<double>(std::numeric_limits<std::int32_t>::max());
  for (index_t i = 0; i < n_rois; ++i) {
    const T* r = rois + 5 * i;
    for (int j = 0; j < 5; ++j) {
      MASKPREP_CHECK(std::isfinite(r[j]), "boxes must be finite, got ", r[j], " at boxes[", i, ", ",
                     j, "]");
    }
    MASKPREP_CHECK(r[0] >= 0 && r[0] < static_cast<T>(s.batch), "boxes[", i,
                   ", 0] (batch index) must be in [0, ", s.batch, "), got ", r[0]);
    if (s.sampling_ratio <= 0) {
      // An adaptive grid counts samples in 32-bit ints in torchvision; refuse what overflows.
      const double scale = s.spatial_scale;
      const double w = std::abs(static_cast<double>(r[3]) - static_cast<double>(r[1])) * scale;
      const double h = std::abs(static_cast<double>(r[4]) - static_cast<double>(r[2])) * scale;
      MASKPREP_CHECK(w / static_cast<double>(s.pooled_width) < limit &&
                         h / static_cast<double>(s.pooled_height) < limit,
                     "boxes[", i, "] is too large for adaptive sampling (", w, " x ", h,
                     " feature pixels); pass a positive sampling_ratio");
    }
    // The grid exactly as the kernels compute it: its sample table must fit.
    const RoiBox<T> box = roi_box(r, s);
    MASKPREP_CHECK(box.grid_h <= kMaxSamplesPerBin / std::max<index_t>(box.grid_w, 1), "boxes[", i,
                   "] samples a ", box.grid_h, " x ", box.grid_w,
                   " grid per bin: more than 2^31 - 1 samples (torchvision's 32-bit count); pass "
                   "a smaller sampling_ratio");
    detail::checked_bytes("RoI sample table",
                          detail::checked_size("RoI sample table", bins, box.grid_h, box.grid_w),
                          sizeof(Sample<T>));
  }
  return copy;
}

// Threads for `work` channel-samples in all: small calls stay on one thread. 2^20 of them are
// ~0.1 ms vectorised (~3 ms gathered from NCHW planes): enough to pay for a worker that a loaded
// machine takes milliseconds to schedule, which the small levels of an FPN pyramid (a few dozen
// boxes, 2^16 per thread before) did not.
inline int roi_threads(int num_threads, index_t work) {
  constexpr index_t kMinWorkPerThread = index_t{1} << 20;
  return threads_for_work(num_threads, work, kMinWorkPerThread);
}

// Channel-samples a call takes, counting an adaptive grid as 2 x 2 (enough to choose threads).
inline index_t samples_hint(const RoiAlignSpec& s, index_t n_rois) {
  const index_t per_bin = s.sampling_ratio > 0 ? s.sampling_ratio * s.sampling_ratio : 4;
  return detail::saturating_mul(n_rois * s.channels * s.pooled_height * s.pooled_width, per_bin);
}

// dst (cols, rows) = transpose of src (rows, cols), strips of columns on num_threads threads
// (roi_align_transpose.cpp; float and double).
template <typename T>
void transpose(const T* src, index_t rows, index_t cols, T* dst, int num_threads);

}  // namespace maskprep::roi_align::impl
