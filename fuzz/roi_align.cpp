// RoI Align forward and backward on small random geometries (float and double, NCHW / NHWC,
// avg / max, aligned or not), with absurd boxes, scales and sampling ratios. Garbage check: with
// features in [-1, 1], every output is finite and within [-1, 1] (a bilinear sample is a convex
// combination, an average of samples too); the average-mode backward of a unit gradient puts at
// most one unit per RoI and channel per bin into the features.
#include "maskprep/roi_align.hpp"

#include <cmath>

#include "fuzz_util.hpp"

using namespace fuzz;

namespace {

template <typename T>
void run(FuzzedDataProvider& in) {
  maskprep::roi_align::RoiAlignSpec s;
  s.batch = in.ConsumeIntegralInRange<index_t>(1, 2);
  s.channels = in.ConsumeIntegralInRange<index_t>(1, 3);
  s.height = in.ConsumeIntegralInRange<index_t>(1, 12);
  s.width = in.ConsumeIntegralInRange<index_t>(1, 12);
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) {
    // A thin but very tall map (large H): only 1 x 1 channels stay allocatable.
    s.channels = 1, s.batch = 1, s.width = 1;
    s.height = in.ConsumeIntegralInRange<index_t>(1, 1 << 20);
  }
  s.pooled_height = in.ConsumeIntegralInRange<index_t>(0, 7);
  s.pooled_width = in.ConsumeIntegralInRange<index_t>(0, 7);
  const std::uint8_t sr = in.ConsumeIntegral<std::uint8_t>();
  s.sampling_ratio = sr < 200 ? static_cast<index_t>(sr % 8) - 2
                              : in.ConsumeIntegralInRange<index_t>(INT64_MIN, INT64_MAX);
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      s.spatial_scale = 1.0;
      break;
    case 1:
      s.spatial_scale = 0.25;
      break;
    case 2:
      s.spatial_scale = in.ConsumeFloatingPointInRange<double>(1e-3, 8.0);
      break;
    default:
      s.spatial_scale = in.ConsumeFloatingPoint<double>();
  }
  s.aligned = in.ConsumeBool();
  s.mode = in.ConsumeBool() ? maskprep::roi_align::RoiPoolMode::kMax
                            : maskprep::roi_align::RoiPoolMode::kAvg;
  s.layout = in.ConsumeBool() ? maskprep::roi_align::FeatureLayout::kNhwc
                              : maskprep::roi_align::FeatureLayout::kNchw;
  const index_t k = in.ConsumeIntegralInRange<index_t>(0, 4);
  std::vector<T> rois(static_cast<size_t>(k * 5));
  for (index_t i = 0; i < k; ++i) {
    rois[i * 5] = static_cast<T>(in.ConsumeIntegralInRange<int>(0, 2));
    for (int j = 1; j < 5; ++j) {
      rois[i * 5 + j] = in.ConsumeIntegralInRange<int>(0, 9) == 0
                            ? static_cast<T>(in.ConsumeFloatingPoint<double>())
                            : static_cast<T>(in.ConsumeFloatingPointInRange<double>(-4.0, 20.0));
    }
  }
  const size_t nf = static_cast<size_t>(s.batch * s.channels * s.height * s.width);
  std::vector<T> features(nf);
  for (auto& f : features) f = static_cast<T>(in.ConsumeFloatingPointInRange<double>(-1.0, 1.0));
  const size_t no = static_cast<size_t>(k * s.channels * s.pooled_height * s.pooled_width);
  std::vector<T> out(no, T(7));
  const int threads = in.ConsumeBool() ? 2 : 1;
  if (!accepts([&] {
        maskprep::roi_align::roi_align_forward(features.data(), rois.data(), k, s, out.data(),
                                               threads);
      }))
    return;
  for (T v : out) FUZZ_ASSERT(std::isfinite(v) && v >= T(-1.0001) && v <= T(1.0001));
  std::vector<T> grad_out(no, T(1)), grad(nf, T(7));
  FUZZ_ASSERT(accepts([&] {
    maskprep::roi_align::roi_align_backward(grad_out.data(), rois.data(), k, s, features.data(),
                                            grad.data(), threads);
  }));
  T total = 0;
  for (T g : grad) {
    FUZZ_ASSERT(std::isfinite(g) && g >= T(0));
    total += g;
  }
  FUZZ_ASSERT(total <= static_cast<T>(no) * T(1.001) + T(1e-3));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) {
    run<float>(in);
  } else {
    run<double>(in);
  }
  return 0;
}
