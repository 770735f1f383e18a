// Otsu thresholding (see threshold.hpp): a parallel histogram, a serial 256-bin search written
// as each anchor writes it (same operations in the same order, no FMA), a parallel mask.
#include "maskprep/threshold.hpp"

#include <algorithm>
#include <cfloat>
#include <vector>

#include "maskprep/filter.hpp"
#include "parallel_for.hpp"

namespace maskprep::imgproc {
namespace {

// skimage.filters.threshold_otsu on an integer image (exposure.histogram's bincount from min to
// max, then the vectorised numpy expressions element by element).
int otsu_skimage(const index_t* hist) {
  int lo = 0, hi = 255;
  while (hist[lo] == 0) ++lo;
  while (hist[hi] == 0) --hi;
  if (lo == hi) return lo;  // "if np.all(image == first_pixel): return first_pixel"
  const int nb = hi - lo + 1;
  // weight1/mean1 are prefix sums, weight2/mean2 suffix sums (int64 in numpy, exact here).
  std::vector<index_t> w1(nb), s1(nb), w2(nb), s2(nb);
  index_t w = 0, s = 0;
  for (int k = 0; k < nb; ++k) {
    w += hist[lo + k];
    s += hist[lo + k] * (lo + k);
    w1[k] = w;
    s1[k] = s;
  }
  w = 0;
  s = 0;
  for (int k = nb - 1; k >= 0; --k) {
    w += hist[lo + k];
    s += hist[lo + k] * (lo + k);
    w2[k] = w;
    s2[k] = s;
  }
  double best = 0;
  int best_k = 0;
  for (int k = 0; k + 1 < nb; ++k) {
    const double m1 = static_cast<double>(s1[k]) / static_cast<double>(w1[k]);
    const double m2 = static_cast<double>(s2[k + 1]) / static_cast<double>(w2[k + 1]);
    const double d = m1 - m2;
    // weight1[:-1] * weight2[1:] is an int64 product, converted once to float64.
    const double v = static_cast<double>(w1[k] * w2[k + 1]) * (d * d);
    if (k == 0 || v > best) {  // np.argmax: the first maximum
      best = v;
      best_k = k;
    }
  }
  return lo + best_k;
}

// OpenCV's getThreshVal_Otsu (imgproc/src/thresh.cpp), float64 recurrences.
int otsu_opencv(const index_t* hist, index_t n) {
  const double scale = 1. / static_cast<double>(n);
  double mu = 0;
  for (int i = 0; i < 256; ++i) mu += i * static_cast<double>(hist[i]);
  mu *= scale;
  double mu1 = 0, q1 = 0, max_sigma = 0;
  int max_val = 0;
  for (int i = 0; i < 256; ++i) {
    const double p_i = static_cast<double>(hist[i]) * scale;
    mu1 *= q1;
    q1 += p_i;
    const double q2 = 1. - q1;
    if (std::min(q1, q2) < FLT_EPSILON || std::max(q1, q2) > 1. - FLT_EPSILON) continue;
    mu1 = (mu1 + i * p_i) / q1;
    const double mu2 = (mu - q1 * mu1) / q2;
    const double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > max_sigma) {
      max_sigma = sigma;
      max_val = i;
    }
  }
  return max_val;
}

}  // namespace

int otsu_threshold(const std::uint8_t* src, index_t n_pixels, OtsuConvention convention,
                   std::uint8_t* mask, int num_threads) {
  MASKPREP_CHECK(n_pixels > 0, "image must not be empty");
  index_t hist[256];
  histogram_u8(src, n_pixels, hist, num_threads);
  const int t =
      convention == OtsuConvention::kSkimage ? otsu_skimage(hist) : otsu_opencv(hist, n_pixels);
  if (mask) {
    const index_t block = index_t{1} << 16;
    const int threads = threads_for_work(num_threads, n_pixels, kMinBytesPerThread);
    const auto tb = static_cast<std::uint8_t>(t);
    parallel_for((n_pixels + block - 1) / block, threads,
                 [&](index_t b) {
                   const index_t end = (b + 1) * block < n_pixels ? (b + 1) * block : n_pixels;
                   // Local copies: a byte store could otherwise alias the captured pointers and
                   // threshold.
                   const std::uint8_t* __restrict s = src;
                   std::uint8_t* __restrict m = mask;
                   const std::uint8_t t8 = tb;
                   for (index_t j = b * block; j < end; ++j) m[j] = s[j] > t8;
                 },
                 4);
  }
  return t;
}

}  // namespace maskprep::imgproc
