// RoI Align backward (see roi_align.hpp for the contract and the threading model): the forward's
// sampling grid (roi_align_grid.hpp) scattered back, channel blocks owning disjoint slices of
// the gradient.
#include <algorithm>
#include <vector>

#include "maskprep/roi_align.hpp"
#include "parallel_for.hpp"
#include "roi_align_grid.hpp"

namespace maskprep::roi_align {
namespace {

using impl::build_grid;
using impl::checked_rois;
using impl::roi_threads;
using impl::RoiGrid;
using impl::Sample;
using impl::samples_hint;

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
  const bool nhwc = s.layout == FeatureLayout::kNhwc;
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
        const index_t o =
            nhwc ? (n * bins + bin) * s.channels + c : (n * s.channels + c) * bins + bin;
        scatter_bin<T, kMax>(g.samples.data() + bin * g.samples_per_bin, g.samples_per_bin, g.count,
                             grad_out[o], plane, stride, grad);
      }
    }
  }
}

}  // namespace

template <typename T>
void roi_align_backward(const T* grad_out, const T* rois, index_t n_rois, const RoiAlignSpec& spec,
                        const T* features, T* grad_features, int num_threads) {
  const std::vector<T> roi_copy = checked_rois(rois, n_rois, spec);
  rois = roi_copy.data();
  MASKPREP_CHECK(spec.mode != RoiPoolMode::kMax || features != nullptr || n_rois == 0,
                 "features are required for the max-mode backward");
  std::fill(grad_features, grad_features + spec.batch * spec.channels * spec.height * spec.width,
            T(0));
  if (spec.channels == 0) return;
  // Channel blocks own disjoint slices of grad_features (see the header); a few blocks per
  // thread balance RoIs of uneven cost.
  const int threads = roi_threads(num_threads, samples_hint(spec, n_rois));
  const index_t blocks = std::min<index_t>(spec.channels, 4 * static_cast<index_t>(threads));
  const index_t per_block = (spec.channels + blocks - 1) / blocks;
  const bool mx = spec.mode == RoiPoolMode::kMax;
  parallel_for(blocks, threads, [&](index_t b) {
    const index_t c0 = b * per_block;
    const index_t c1 = std::min(spec.channels, c0 + per_block);
    if (c0 >= c1) return;
    (mx ? backward_block<T, true> : backward_block<T, false>)(grad_out, rois, n_rois, spec,
                                                              features, grad_features, c0, c1);
  });
}

template void roi_align_backward<float>(const float*, const float*, index_t, const RoiAlignSpec&,
                                        const float*, float*, int);
template void roi_align_backward<double>(const double*, const double*, index_t, const RoiAlignSpec&,
                                         const double*, double*, int);

}  // namespace maskprep::roi_align
