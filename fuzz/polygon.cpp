// Polygon rasterizer: polygon::check then polygon::to_rle on random vertices (self-intersecting,
// duplicate, outside the image, near kMaxCoordinate) and sizes, and polygon::box_to_rle.
// Garbage check: the RLE sums to h*w, and the mask has no foreground outside the polygon's
// bounding box (rounded on pycocotools' 1/5-pixel grid, plus a pixel of slack).
#include "maskprep/polygon.hpp"

#include <algorithm>
#include <cmath>

#include "fuzz_util.hpp"

using namespace fuzz;
namespace rle = maskprep::rle;
namespace polygon = maskprep::polygon;

namespace {

double coordinate(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return in.ConsumeFloatingPoint<double>();  // anything, non-finite included
    case 1:
      return in.ConsumeFloatingPointInRange<double>(-polygon::kMaxCoordinate,
                                                    polygon::kMaxCoordinate);
    case 2:
      return in.ConsumeIntegralInRange<int>(-3, 70);
    default:
      return in.ConsumeFloatingPointInRange<double>(-4.0, 70.0);
  }
}

void check_rle(const Counts& c, index_t h, index_t w, const std::vector<double>& xy) {
  FUZZ_ASSERT(exact_sum(c) ==
              static_cast<unsigned __int128>(h) * static_cast<unsigned __int128>(w));
  if (h == 0 || w == 0 || h * w > (1 << 16) || xy.empty()) return;  // (0 x 2^36: no loop over w)
  double x0 = xy[0], x1 = xy[0], y0 = xy[1], y1 = xy[1];
  for (size_t i = 0; i < xy.size(); i += 2) {
    x0 = std::min(x0, xy[i]), x1 = std::max(x1, xy[i]);
    y0 = std::min(y0, xy[i + 1]), y1 = std::max(y1, xy[i + 1]);
  }
  const auto m = dense(c, h * w);
  for (index_t x = 0; x < w; ++x) {
    for (index_t y = 0; y < h; ++y) {
      if (!m[static_cast<size_t>(x * h + y)]) continue;
      FUZZ_ASSERT(x >= x0 - 1 && x <= x1 + 1 && y >= y0 - 1 && y <= y1 + 1);
    }
  }
}

// Image columns an outline spans: its RLE needs a few counts per spanned column, so a polygon
// across 2^30 columns of a 2^30-wide image legitimately needs gigabytes (pycocotools even more):
// the harness keeps its inputs below that instead of reporting libFuzzer's RSS limit.
bool too_wide(const std::vector<double>& xs, index_t w) {
  double x0 = 0, x1 = 0;
  for (size_t i = 0; i < xs.size(); i += 2) {
    x0 = i ? std::min(x0, xs[i]) : xs[i];
    x1 = i ? std::max(x1, xs[i]) : xs[i];
  }
  const double span = std::min(static_cast<double>(w), x1 + 1) - std::max(0.0, x0);
  return span > double(1 << 22);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const index_t h = fuzz::size(in, 64), w = fuzz::size(in, 64);
  const bool box = in.ConsumeBool();
  const int k = in.ConsumeIntegralInRange<int>(box ? 2 : 0, box ? 2 : 40);
  std::vector<double> xy;
  for (int i = 0; i < 2 * k + (in.ConsumeIntegralInRange<int>(0, 15) == 0); ++i)
    xy.push_back(coordinate(in));
  if (in.ConsumeBool() && xy.size() >= 4) {  // duplicate points
    xy.insert(xy.end(), xy.begin(), xy.begin() + 4);
  }
  Counts c;
  if (box) {
    // The bindings check a box like a 2-point polygon (finite, bounded) before calling.
    if (!polygon::check(xy.data(), 4, 2).empty()) return 0;
    if (too_wide({xy[0], 0, xy[0] + xy[2], 0}, w)) return 0;
    if (!accepts([&] { polygon::box_to_rle(xy.data(), h, w, c); })) return 0;
    const std::vector<double> corners = {xy[0], xy[1], xy[0] + xy[2], xy[1] + xy[3]};
    check_rle(c, h, w, corners);
    return 0;
  }
  if (!polygon::check(xy.data(), static_cast<index_t>(xy.size()), 1).empty()) return 0;
  if (too_wide(xy, w)) return 0;
  if (!accepts([&] { polygon::to_rle(xy.data(), static_cast<index_t>(xy.size() / 2), h, w, c); }))
    return 0;
  check_rle(c, h, w, xy);
  return 0;
}
