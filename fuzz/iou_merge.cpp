// rle::iou, rle::merge, rle::area, rle::to_bbox on random RLEs of one size (zero-length runs
// included), against a dense reference. Garbage check: merge sums to h*w and equals the pixelwise
// OR / AND; iou equals |a & b| / |a | b| (or / |a| for a crowd gt); area and bbox match.
#include <cmath>

#include "fuzz_util.hpp"

using namespace fuzz;
namespace rle = maskprep::rle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const index_t h = in.ConsumeIntegralInRange<index_t>(1, 24);
  const index_t w = in.ConsumeIntegralInRange<index_t>(1, 24);
  const index_t n = h * w;
  const int k = in.ConsumeIntegralInRange<int>(1, 5);
  std::vector<Counts> rles;
  for (int i = 0; i < k; ++i) {
    Counts c = random_counts(in, n);
    rles.push_back(c);
  }
  std::vector<const Counts*> ptrs;
  std::vector<std::vector<std::uint8_t>> masks;
  for (const auto& c : rles) ptrs.push_back(&c), masks.push_back(dense(c, n));

  for (const auto& c : rles) {
    index_t a = 0, x0 = w, y0 = h, x1 = -1, y1 = -1;
    const auto m = dense(c, n);
    for (index_t p = 0; p < n; ++p) {
      if (!m[p]) continue;
      ++a;
      const index_t x = p / h, y = p % h;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
    FUZZ_ASSERT(rle::area(c) == static_cast<count_t>(a));
    double bb[4];
    rle::to_bbox(c, h, w, bb);
    if (a == 0) {
      FUZZ_ASSERT(bb[0] == 0 && bb[1] == 0 && bb[2] == 0 && bb[3] == 0);
    } else {
      // pycocotools' rleToBbox: full columns when the foreground spans more than one column.
      FUZZ_ASSERT(bb[0] == x0 && bb[2] == x1 - x0 + 1);
      if (x0 == x1) FUZZ_ASSERT(bb[1] == y0 && bb[3] == y1 - y0 + 1);
    }
  }
  for (int intersect = 0; intersect < 2; ++intersect) {
    Counts out;
    rle::merge(ptrs, intersect, out);
    FUZZ_ASSERT(exact_sum(out) == static_cast<unsigned __int128>(n));
    const auto got = dense(out, n);
    for (index_t p = 0; p < n; ++p) {
      std::uint8_t want = masks[0][p];
      for (int i = 1; i < k; ++i) want = intersect ? (want & masks[i][p]) : (want | masks[i][p]);
      FUZZ_ASSERT(got[p] == want);
    }
  }
  std::vector<std::uint8_t> crowd(k);
  for (auto& b : crowd) b = in.ConsumeBool();
  std::vector<double> iou(static_cast<size_t>(k * k));
  rle::iou(ptrs, ptrs, h, w, crowd.data(), iou.data(), in.ConsumeBool() ? 2 : 1);
  for (int d = 0; d < k; ++d) {
    for (int g = 0; g < k; ++g) {
      index_t i = 0, u = 0, a = 0;
      for (index_t p = 0; p < n; ++p) {
        i += masks[d][p] & masks[g][p], u += masks[d][p] | masks[g][p], a += masks[d][p];
      }
      const double want =
          i == 0 ? 0.0 : static_cast<double>(i) / static_cast<double>(crowd[g] ? a : u);
      FUZZ_ASSERT(std::fabs(iou[d * k + g] - want) <= 1e-12);
    }
  }
  return 0;
}
