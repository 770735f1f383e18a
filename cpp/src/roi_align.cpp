// RoI Align forward and backward (see roi_align.hpp for the contract and the threading model).
//
// Every sample point is computed once per RoI into a table (four pixel offsets, four weights)
// shared by all channels, with torchvision's float expressions evaluated in torchvision's order;
// the channel loops then only gather and accumulate. NHWC runs the channel loop innermost over
// contiguous memory (float32 with AVX2: 64 channels of a bin accumulated in registers). NCHW
// transposes an image to HWC when its RoIs sample it densely enough to repay the copy (see
// forward_nchw), else it runs a block of channels per sample so that each table entry is loaded
// once per block, not once per channel.
#include "maskprep/roi_align.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "maskprep/parallel.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MASKPREP_ROI_AVX2 1
#define MASKPREP_TARGET_AVX2 __attribute__((target("avx2")))
#include <immintrin.h>
#else
#define MASKPREP_ROI_AVX2 0
#endif

namespace maskprep {
namespace {

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

// ---- NCHW forward -----------------------------------------------------------------------------

// Channels pooled together per table pass: the table entry is loaded once for all of them.
constexpr index_t kChannelBlock = 8;

template <typename T, bool kMax>
void pool_nchw_block(const RoiGrid<T>& g, const T* const* planes, index_t nc, index_t bins,
                     T* const* outs) {
  const Sample<T>* smp = g.samples.data();
  for (index_t bin = 0; bin < bins; ++bin) {
    T acc[kChannelBlock] = {};
    for (index_t k = 0; k < g.samples_per_bin; ++k, ++smp) {
      for (index_t c = 0; c < nc; ++c) {
        const T v = interpolate(*smp, planes[c]);
        if (kMax) {
          acc[c] = (k == 0 || v > acc[c]) ? v : acc[c];
        } else {
          acc[c] += v;
        }
      }
    }
    for (index_t c = 0; c < nc; ++c) outs[c][bin] = kMax ? acc[c] : acc[c] / g.count;
  }
}

// Pools one RoI from a (C, H, W) image into (C, PH, PW).
template <typename T>
void pool_nchw(const RoiGrid<T>& g, const T* image, const RoiAlignSpec& s, T* out) {
  const index_t hw = s.height * s.width;
  const index_t bins = s.pooled_height * s.pooled_width;
  const T* planes[kChannelBlock];
  T* outs[kChannelBlock];
  for (index_t c0 = 0; c0 < s.channels; c0 += kChannelBlock) {
    const index_t nc = std::min(kChannelBlock, s.channels - c0);
    for (index_t c = 0; c < nc; ++c) {
      planes[c] = image + (c0 + c) * hw;
      outs[c] = out + (c0 + c) * bins;
    }
    if (s.mode == RoiPoolMode::max) {
      pool_nchw_block<T, true>(g, planes, nc, bins, outs);
    } else {
      pool_nchw_block<T, false>(g, planes, nc, bins, outs);
    }
  }
}

// ---- NHWC forward -----------------------------------------------------------------------------

// acc[c] (+)= the sample at four pixel rows; the same expression per lane as interpolate().
template <typename T, bool kMax, bool kFirst>
inline void nhwc_sample(T* __restrict acc, const T* __restrict p1, const T* __restrict p2,
                        const T* __restrict p3, const T* __restrict p4, const T* w, index_t n) {
  const T w1 = w[0], w2 = w[1], w3 = w[2], w4 = w[3];
  for (index_t c = 0; c < n; ++c) {
    const T v = w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c];
    if (kFirst) {
      acc[c] = v;
    } else if (kMax) {
      acc[c] = v > acc[c] ? v : acc[c];
    } else {
      acc[c] += v;
    }
  }
}

template <typename T, bool kMax>
inline void pool_nhwc_roi(const RoiGrid<T>& g, const T* image, index_t channels, index_t bins,
                          T* out) {
  const Sample<T>* smp = g.samples.data();
  for (index_t bin = 0; bin < bins; ++bin) {
    T* acc = out + bin * channels;
    // avg starts from 0 like torchvision's sum (0 + -0 is +0); max starts from the first sample.
    if (!kMax || g.samples_per_bin == 0) std::fill(acc, acc + channels, T(0));
    for (index_t k = 0; k < g.samples_per_bin; ++k, ++smp) {
      const T* p[4];
      for (int t = 0; t < 4; ++t) p[t] = image + smp->pos[t] * channels;
      if (kMax && k == 0) {
        nhwc_sample<T, kMax, true>(acc, p[0], p[1], p[2], p[3], smp->w, channels);
      } else {
        nhwc_sample<T, kMax, false>(acc, p[0], p[1], p[2], p[3], smp->w, channels);
      }
    }
    if (!kMax) {
      for (index_t c = 0; c < channels; ++c) acc[c] /= g.count;
    }
  }
}

#if MASKPREP_ROI_AVX2
// Channels [c, c + 8 * NV) of one bin, accumulated in registers over the bin's samples (the
// generic loop above keeps the accumulator in memory: a load and a store per sample). Per lane
// the same expressions in the same order: ((w1*v1 + w2*v2) + w3*v3) + w4*v4, then acc + v (avg,
// from +0) or v > acc ? v : acc (max, from the first sample; _mm256_max_ps(v, acc) is exactly
// that, NaN included), then acc / count.
template <bool kMax, int NV>
MASKPREP_TARGET_AVX2 inline void bin_chunk_avx2(const Sample<float>* smp, index_t n,
                                                const float* image, index_t channels, index_t c,
                                                float count, float* out) {
  __m256 acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = _mm256_setzero_ps();
  for (index_t k = 0; k < n; ++k) {
    const Sample<float>& sm = smp[k];
    const float* p1 = image + sm.pos[0] * channels + c;
    const float* p2 = image + sm.pos[1] * channels + c;
    const float* p3 = image + sm.pos[2] * channels + c;
    const float* p4 = image + sm.pos[3] * channels + c;
    const __m256 w1 = _mm256_set1_ps(sm.w[0]), w2 = _mm256_set1_ps(sm.w[1]);
    const __m256 w3 = _mm256_set1_ps(sm.w[2]), w4 = _mm256_set1_ps(sm.w[3]);
    for (int j = 0; j < NV; ++j) {
      __m256 v = _mm256_add_ps(_mm256_mul_ps(w1, _mm256_loadu_ps(p1 + 8 * j)),
                               _mm256_mul_ps(w2, _mm256_loadu_ps(p2 + 8 * j)));
      v = _mm256_add_ps(v, _mm256_mul_ps(w3, _mm256_loadu_ps(p3 + 8 * j)));
      v = _mm256_add_ps(v, _mm256_mul_ps(w4, _mm256_loadu_ps(p4 + 8 * j)));
      if (kMax) {
        acc[j] = k == 0 ? v : _mm256_max_ps(v, acc[j]);
      } else {
        acc[j] = _mm256_add_ps(acc[j], v);
      }
    }
  }
  const __m256 cnt = _mm256_set1_ps(count);
  for (int j = 0; j < NV; ++j) {
    _mm256_storeu_ps(out + c + 8 * j, kMax ? acc[j] : _mm256_div_ps(acc[j], cnt));
  }
}

template <bool kMax>
MASKPREP_TARGET_AVX2 void pool_nhwc_roi_avx2(const RoiGrid<float>& g, const float* image,
                                             index_t channels, index_t bins, float* out) {
  const index_t n = g.samples_per_bin;
  for (index_t bin = 0; bin < bins; ++bin) {
    const Sample<float>* smp = g.samples.data() + bin * n;
    float* o = out + bin * channels;
    index_t c = 0;
    for (; c + 64 <= channels; c += 64) {
      bin_chunk_avx2<kMax, 8>(smp, n, image, channels, c, g.count, o);
    }
    for (; c + 8 <= channels; c += 8) {
      bin_chunk_avx2<kMax, 1>(smp, n, image, channels, c, g.count, o);
    }
    for (; c < channels; ++c) {  // fewer than 8 channels left
      float acc = 0;
      for (index_t k = 0; k < n; ++k) {
        const Sample<float>& sm = smp[k];
        const float v = sm.w[0] * image[sm.pos[0] * channels + c] +
                        sm.w[1] * image[sm.pos[1] * channels + c] +
                        sm.w[2] * image[sm.pos[2] * channels + c] +
                        sm.w[3] * image[sm.pos[3] * channels + c];
        if (kMax) {
          acc = (k == 0 || v > acc) ? v : acc;
        } else {
          acc += v;
        }
      }
      o[c] = kMax ? acc : acc / g.count;
    }
  }
}
#endif

// Pools one RoI from an (H, W, C) image into (PH, PW, C).
template <typename T>
void pool_nhwc(const RoiGrid<T>& g, const T* image, const RoiAlignSpec& s, T* out) {
  const index_t bins = s.pooled_height * s.pooled_width;
  const bool mx = s.mode == RoiPoolMode::max;
#if MASKPREP_ROI_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_has_avx2()) {
      (mx ? pool_nhwc_roi_avx2<true> : pool_nhwc_roi_avx2<false>)(g, image, s.channels, bins, out);
      return;
    }
  }
#endif
  (mx ? pool_nhwc_roi<T, true> : pool_nhwc_roi<T, false>)(g, image, s.channels, bins, out);
}

// dst (cols, rows) = transpose of src (rows, cols), the block [i0, i1) x [j0, j1) of it.
template <typename T>
void transpose_block(const T* src, index_t rows, index_t cols, T* dst, index_t i0, index_t i1,
                     index_t j0, index_t j1) {
  for (index_t j = j0; j < j1; ++j) {
    for (index_t i = i0; i < i1; ++i) dst[j * rows + i] = src[i * cols + j];
  }
}

#if MASKPREP_ROI_AVX2
// One 8 x 8 block: rows of src (stride ss) become rows of dst (stride ds).
MASKPREP_TARGET_AVX2 inline void transpose8x8(const float* src, index_t ss, float* dst,
                                              index_t ds) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ss);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Columns [j0, j1) in 8 x 8 register blocks: the scalar loop loads one element at a time from
// rows a whole plane apart, ~4x slower on a 256 x 54,400 image.
MASKPREP_TARGET_AVX2 void transpose_cols_avx2(const float* src, index_t rows, index_t cols,
                                              float* dst, index_t j0, index_t j1) {
  const index_t i8 = rows - rows % 8;
  const index_t j8 = j0 + (j1 - j0) / 8 * 8;
  for (index_t i = 0; i < i8; i += 8) {
    for (index_t j = j0; j < j8; j += 8) {
      transpose8x8(src + i * cols + j, cols, dst + j * rows + i, rows);
    }
  }
  transpose_block(src, rows, cols, dst, i8, rows, j0, j8);
  transpose_block(src, rows, cols, dst, index_t{0}, rows, j8, j1);
}
#endif

// dst (cols, rows) = transpose of src (rows, cols); strips of columns in parallel, each strip's
// destination rows (kStrip * rows elements) staying in cache while it is filled.
template <typename T>
void transpose(const T* src, index_t rows, index_t cols, T* dst, int num_threads) {
  constexpr index_t kStrip = 128;
  const index_t strips = (cols + kStrip - 1) / kStrip;
  parallel_for(strips, num_threads, [&](index_t t) {
    const index_t j0 = t * kStrip, j1 = std::min(cols, j0 + kStrip);
#if MASKPREP_ROI_AVX2
    if constexpr (std::is_same_v<T, float>) {
      if (cpu_has_avx2()) {
        transpose_cols_avx2(src, rows, cols, dst, j0, j1);
        return;
      }
    }
#endif
    constexpr index_t kTile = 32;  // rows per pass: the strip's source lines stay in cache
    for (index_t i0 = 0; i0 < rows; i0 += kTile) {
      transpose_block(src, rows, cols, dst, i0, std::min(rows, i0 + kTile), j0, j1);
    }
  });
}

// ---- validation -------------------------------------------------------------------------------

// Samples per bin are counted in 32-bit ints in torchvision (max(grid_h * grid_w, 1)): a larger
// grid has no torchvision result, and is refused.
constexpr index_t kMaxSamplesPerBin = std::numeric_limits<std::int32_t>::max();

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
  MASKPREP_CHECK(s.pooled_height > 0 && s.pooled_width > 0,
                 "output_size must be positive, got (", s.pooled_height, ", ", s.pooled_width,
                 ")");
  MASKPREP_CHECK(std::isfinite(s.spatial_scale) && s.spatial_scale > 0,
                 "spatial_scale must be a positive finite number, got ", s.spatial_scale);
  MASKPREP_CHECK(s.sampling_ratio <= 0 || s.sampling_ratio <= kMaxSamplesPerBin / s.sampling_ratio,
                 "sampling_ratio ", s.sampling_ratio, " is too large: sampling_ratio^2 samples per "
                 "bin must fit in 32 bits (torchvision's count)");
  const index_t bins = detail::checked_size("output_size", s.pooled_height, s.pooled_width);
  detail::checked_size("output K x C x output_size", n_rois, s.channels, bins);
  detail::checked_size("features N x C x H x W", s.batch, s.channels, s.height, s.width);
  if (n_rois > 0) {
    MASKPREP_CHECK(s.height > 0 && s.width > 0, "features must have a positive height and width, got ",
                   s.height, " x ", s.width);
  }
  const double limit = static_cast<double>(std::numeric_limits<std::int32_t>::max());
  for (index_t i = 0; i < n_rois; ++i) {
    const T* r = rois + 5 * i;
    for (int j = 0; j < 5; ++j) {
      MASKPREP_CHECK(std::isfinite(r[j]), "boxes must be finite, got ", r[j], " at boxes[", i,
                     ", ", j, "]");
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
    detail::checked_bytes("RoI sample table", detail::checked_size("RoI sample table", bins,
                                                                   box.grid_h, box.grid_w),
                          sizeof(Sample<T>));
  }
  return copy;
}

// Threads for `work` channel-samples in all: small calls stay on one thread. 2^20 of them are
// ~0.1 ms vectorised (~3 ms gathered from NCHW planes): enough to pay for a worker that a loaded
// machine takes milliseconds to schedule, which the small levels of an FPN pyramid (a few dozen
// boxes, 2^16 per thread before) did not.
int roi_threads(int num_threads, index_t work) {
  constexpr index_t kMinWorkPerThread = index_t{1} << 20;
  return threads_for_work(num_threads, work, kMinWorkPerThread);
}

// Channel-samples a call takes, counting an adaptive grid as 2 x 2 (enough to choose threads).
index_t samples_hint(const RoiAlignSpec& s, index_t n_rois) {
  const index_t per_bin = s.sampling_ratio > 0 ? s.sampling_ratio * s.sampling_ratio : 4;
  return detail::saturating_mul(n_rois * s.channels * s.pooled_height * s.pooled_width, per_bin);
}

// ---- backward ---------------------------------------------------------------------------------

// Scatters one bin of one channel: avg spreads g / count over every sample, max sends g to the
// first largest sample. `plane` is read only by max. Per-element order: samples in scan order,
// neighbours 1..4, as torchvision's serial backward.
template <typename T, bool kMax>
inline void scatter_bin(const Sample<T>* smp, index_t n, T count, T g, const T* plane,
                        index_t stride, T* grad) {
  if (kMax) {
    index_t best = -1;
    T best_v = 0;
    for (index_t k = 0; k < n; ++k) {
      const T v = smp[k].w[0] * plane[smp[k].pos[0] * stride] +
                  smp[k].w[1] * plane[smp[k].pos[1] * stride] +
                  smp[k].w[2] * plane[smp[k].pos[2] * stride] +
                  smp[k].w[3] * plane[smp[k].pos[3] * stride];
      if (k == 0 || v > best_v) {
        best = k;
        best_v = v;
      }
    }
    if (best < 0 || !smp[best].inside) return;
    for (int t = 0; t < 4; ++t) grad[smp[best].pos[t] * stride] += g * smp[best].w[t];
    return;
  }
  for (index_t k = 0; k < n; ++k) {
    if (!smp[k].inside) continue;
    for (int t = 0; t < 4; ++t) grad[smp[k].pos[t] * stride] += g * smp[k].w[t] / count;
  }
}

template <typename T, bool kMax>
void backward_block(const T* grad_out, const T* rois, index_t n_rois, const RoiAlignSpec& s,
                    const T* features, T* grad_features, index_t c0, index_t c1) {
  const index_t hw = s.height * s.width;
  const index_t bins = s.pooled_height * s.pooled_width;
  const bool nhwc = s.layout == FeatureLayout::nhwc;
  RoiGrid<T> g;
  for (index_t n = 0; n < n_rois; ++n) {
    build_grid(rois + 5 * n, s, g);
    const index_t image = g.batch_index * s.channels * hw;
    for (index_t c = c0; c < c1; ++c) {
      // Element (pixel p, channel c) of the image: NCHW image + c*hw + p, NHWC image + p*C + c.
      const index_t base = image + (nhwc ? c : c * hw);
      const index_t stride = nhwc ? s.channels : 1;
      const T* plane = kMax ? features + base : nullptr;
      T* grad = grad_features + base;
      for (index_t bin = 0; bin < bins; ++bin) {
        const index_t o = nhwc ? (n * bins + bin) * s.channels + c : (n * s.channels + c) * bins + bin;
        scatter_bin<T, kMax>(g.samples.data() + bin * g.samples_per_bin, g.samples_per_bin,
                             g.count, grad_out[o], plane, stride, grad);
      }
    }
  }
}

struct ScratchFree {
  void operator()(void* p) const { std::free(p); }
};

// An uninitialised buffer for a transposed image (tens of MB, written once, read a few times).
// On Linux it is 2 MB-aligned and advised into transparent huge pages: faulting in 4 KB pages
// cost about a tenth of the 4-level FPN call.
template <typename T>
T* scratch_alloc(index_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, bytes);
  if (p) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure just keeps small pages
#else
  void* p = std::malloc(static_cast<size_t>(n) * sizeof(T));  // MSVC has no std::aligned_alloc
#endif
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

// NCHW forward, image by image. Where an image's RoIs take enough samples per pixel of the map,
// the image is first transposed to HWC (one image of scratch memory) and pooled by the
// channel-vectorised NHWC loop, whose per-channel arithmetic is the same, so the result is too.
// Contiguous channel rows beat gathering each sample from C planes far apart by ~5x here, and
// the (8x8-block, huge-page) copy costs about what gathering ~0.3 samples per map pixel does
// (measured on 256 x 200 x 272: 25 RoIs of 14x14 break even), hence the threshold.
template <typename T>
void forward_nchw(const T* features, const T* rois, index_t n_rois, const RoiAlignSpec& s, T* out,
                  const index_t* out_rows, int threads) {
  const index_t hw = s.height * s.width;
  const index_t bins = s.pooled_height * s.pooled_width;
  const index_t per_roi = s.channels * bins;
  std::vector<std::vector<index_t>> by_image(static_cast<size_t>(s.batch));
  std::vector<index_t> samples(static_cast<size_t>(s.batch), 0);
  for (index_t n = 0; n < n_rois; ++n) {
    const RoiBox<T> box = roi_box(rois + 5 * n, s);
    by_image[static_cast<size_t>(box.batch_index)].push_back(n);
    // A heuristic count (checked_rois bounds each term): saturate rather than overflow.
    index_t& count = samples[static_cast<size_t>(box.batch_index)];
    count = std::min(count, std::numeric_limits<index_t>::max() - bins * box.grid_h * box.grid_w) +
            bins * box.grid_h * box.grid_w;
  }
  std::unique_ptr<T, ScratchFree> hwc;
  for (index_t b = 0; b < s.batch; ++b) {
    const std::vector<index_t>& ids = by_image[static_cast<size_t>(b)];
    const T* image = features + b * s.channels * hw;
    const bool transposed = samples[static_cast<size_t>(b)] >= (hw + 2) / 3;  // 3 samples >= hw
    if (transposed) {
      if (!hwc) hwc.reset(scratch_alloc<T>(s.channels * hw));
      // Threads by the copy's own size (an element moved ~ a channel-sample pooled).
      transpose(image, s.channels, hw, hwc.get(), roi_threads(threads, s.channels * hw));
    }
    const int image_threads =
        roi_threads(threads, detail::saturating_mul(samples[static_cast<size_t>(b)], s.channels));
    parallel_for(static_cast<index_t>(ids.size()), image_threads, [&](index_t i) {
      const index_t n = ids[static_cast<size_t>(i)];
      // Per-thread scratch: fresh buffers of this size cost page faults on every RoI.
      thread_local RoiGrid<T> g;
      thread_local std::vector<T> pooled;
      build_grid(rois + 5 * n, s, g);
      T* dst = out + (out_rows ? out_rows[n] : n) * per_roi;
      if (!transposed) {
        pool_nchw(g, image, s, dst);
        return;
      }
      pooled.resize(static_cast<size_t>(per_roi));
      pool_nhwc(g, hwc.get(), s, pooled.data());
      transpose(pooled.data(), bins, s.channels, dst, 1);
    });
  }
}

}  // namespace

template <typename T>
void roi_align_forward(const T* features, const T* rois, index_t n_rois, const RoiAlignSpec& spec,
                       T* out, int num_threads, const index_t* out_rows) {
  const std::vector<T> roi_copy = checked_rois(rois, n_rois, spec);
  rois = roi_copy.data();
  const index_t per_roi = spec.channels * spec.pooled_height * spec.pooled_width;
  if (per_roi == 0 || n_rois == 0) return;
  const int threads = roi_threads(num_threads, samples_hint(spec, n_rois));
  const index_t image_size = spec.channels * spec.height * spec.width;
  if (spec.layout == FeatureLayout::nhwc) {
    parallel_for(n_rois, threads, [&](index_t n) {
      thread_local RoiGrid<T> g;  // reused: its sample table can be large
      build_grid(rois + 5 * n, spec, g);
      pool_nhwc(g, features + g.batch_index * image_size, spec,
                out + (out_rows ? out_rows[n] : n) * per_roi);
    });
    return;
  }
  forward_nchw(features, rois, n_rois, spec, out, out_rows, threads);
}

template <typename T>
void roi_align_backward(const T* grad_out, const T* rois, index_t n_rois, const RoiAlignSpec& spec,
                        const T* features, T* grad_features, int num_threads) {
  const std::vector<T> roi_copy = checked_rois(rois, n_rois, spec);
  rois = roi_copy.data();
  MASKPREP_CHECK(spec.mode != RoiPoolMode::max || features != nullptr || n_rois == 0,
                 "features are required for the max-mode backward");
  std::fill(grad_features, grad_features + spec.batch * spec.channels * spec.height * spec.width,
            T(0));
  if (spec.channels == 0) return;
  // Channel blocks own disjoint slices of grad_features (see the header); a few blocks per
  // thread balance RoIs of uneven cost.
  const int threads = roi_threads(num_threads, samples_hint(spec, n_rois));
  const index_t blocks = std::min<index_t>(spec.channels, 4 * static_cast<index_t>(threads));
  const index_t per_block = (spec.channels + blocks - 1) / blocks;
  const bool mx = spec.mode == RoiPoolMode::max;
  parallel_for(blocks, threads, [&](index_t b) {
    const index_t c0 = b * per_block;
    const index_t c1 = std::min(spec.channels, c0 + per_block);
    if (c0 >= c1) return;
    (mx ? backward_block<T, true> : backward_block<T, false>)(grad_out, rois, n_rois, spec,
                                                              features, grad_features, c0, c1);
  });
}

template void roi_align_forward<float>(const float*, const float*, index_t, const RoiAlignSpec&,
                                       float*, int, const index_t*);
template void roi_align_forward<double>(const double*, const double*, index_t,
                                        const RoiAlignSpec&, double*, int, const index_t*);
template void roi_align_backward<float>(const float*, const float*, index_t, const RoiAlignSpec&,
                                        const float*, float*, int);
template void roi_align_backward<double>(const double*, const double*, index_t,
                                         const RoiAlignSpec&, const double*, double*, int);

}  // namespace maskprep
