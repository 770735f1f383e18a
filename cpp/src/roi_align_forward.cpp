// RoI Align forward (see roi_align.hpp for the contract and the threading model).
//
// Every sample point is computed once per RoI into a table (roi_align_grid.hpp) shared by all
// channels; the channel loops then only gather and accumulate. NHWC runs the channel loop
// innermost over contiguous memory (float32 with AVX2: 64 channels of a bin accumulated in
// registers). NCHW transposes an image to HWC when its RoIs sample it densely enough to repay
// the copy (see forward_nchw), else it runs a block of channels per sample so that each table
// entry is loaded once per block, not once per channel.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "isa_dispatch.hpp"
#include "maskprep/roi_align.hpp"
#include "parallel_for.hpp"
#include "roi_align_grid.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace maskprep::roi_align {
namespace {

using impl::build_grid;
using impl::checked_rois;
using impl::interpolate;
using impl::roi_box;
using impl::roi_threads;
using impl::RoiBox;
using impl::RoiGrid;
using impl::Sample;
using impl::samples_hint;
using impl::transpose;

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
    if (s.mode == RoiPoolMode::kMax) {
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

#if MASKPREP_HAVE_AVX2_CLONES
// Channels [c, c + 8 * NV) of one bin, accumulated in registers over the bin's samples (the
// generic loop above keeps the accumulator in memory: a load and a store per sample). Per lane
// the same expressions in the same order: ((w1*v1 + w2*v2) + w3*v3) + w4*v4, then acc + v (avg,
// from +0) or v > acc ? v : acc (max, from the first sample; _mm256_max_ps(v, acc) is exactly
// that, NaN included), then acc / count.
template <bool kMax, int NV>
MASKPREP_TARGET_AVX2_FN inline void bin_chunk_avx2(const Sample<float>* smp, index_t n,
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
MASKPREP_TARGET_AVX2_FN void pool_nhwc_roi_avx2(const RoiGrid<float>& g, const float* image,
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
        const float v =
            sm.w[0] * image[sm.pos[0] * channels + c] + sm.w[1] * image[sm.pos[1] * channels + c] +
            sm.w[2] * image[sm.pos[2] * channels + c] + sm.w[3] * image[sm.pos[3] * channels + c];
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
  const bool mx = s.mode == RoiPoolMode::kMax;
#if MASKPREP_HAVE_AVX2_CLONES
  if constexpr (std::is_same_v<T, float>) {
    if (detail::use_avx2()) {
      (mx ? pool_nhwc_roi_avx2<true> : pool_nhwc_roi_avx2<false>)(g, image, s.channels, bins, out);
      return;
    }
  }
#endif
  (mx ? pool_nhwc_roi<T, true> : pool_nhwc_roi<T, false>)(g, image, s.channels, bins, out);
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
  if (spec.layout == FeatureLayout::kNhwc) {
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

template void roi_align_forward<float>(const float*, const float*, index_t, const RoiAlignSpec&,
                                       float*, int, const index_t*);
template void roi_align_forward<double>(const double*, const double*, index_t, const RoiAlignSpec&,
                                        double*, int, const index_t*);
}  // namespace maskprep::roi_align
