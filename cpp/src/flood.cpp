// Scanline flood fill (see flood.hpp). Each popped seed pixel grows into its maximal in-range
// run of its row; the runs of the rows above and below that touch it (one pixel wider with
// 8-connectivity) are pushed by their first pixel. Every pixel is filled once per range.
#include "maskprep/flood.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

namespace maskprep::imgproc {
namespace {

struct Range {
  int lo, hi;
  bool operator<(const Range& o) const { return lo != o.lo ? lo < o.lo : hi < o.hi; }
};

// Fills `filled` (0/1) with every pixel 4/8-connected to `starts` through values in [lo, hi].
// A pixel to grow from, with the row it was found from (dir = -1 above, +1 below, 0 for a
// seed) and that row's filled run [pl, pr]: those pixels need not be looked at again.
struct Item {
  index_t p, dir, pl, pr;
};

void fill_range(const std::uint8_t* __restrict image, const index_t height, const index_t width,
                const Range range, const std::vector<index_t>& starts, const bool eight,
                std::uint8_t* __restrict filled) {
  // (v - lo) <= (hi - lo) in unsigned arithmetic tests lo <= v <= hi with one comparison.
  const auto lo = static_cast<std::uint8_t>(range.lo);
  const auto span = static_cast<std::uint8_t>(range.hi - range.lo);
  auto open = [image, filled, lo, span](index_t p) {
    return !filled[p] && static_cast<std::uint8_t>(image[p] - lo) <= span;
  };
  std::vector<Item> stack;
  for (const index_t p : starts) stack.push_back({p, 0, 0, -1});
  // Pushes the first pixel of every open run of row ny within [a, b].
  auto scan = [&](index_t ny, index_t a, index_t b, index_t dir, index_t l, index_t r) {
    const index_t nrow = ny * width;
    bool in_run = false;
    for (index_t x = a; x <= b; ++x) {
      const bool o = open(nrow + x);
      if (o && !in_run) stack.push_back({nrow + x, dir, l, r});
      in_run = o;
    }
  };
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (!open(it.p)) continue;
    const index_t y = it.p / width, row = y * width;
    index_t l = it.p - row, r = l;
    while (l > 0 && open(row + l - 1)) --l;
    while (r + 1 < width && open(row + r + 1)) ++r;
    std::fill(filled + row + l, filled + row + r + 1, std::uint8_t{1});
    const index_t a = eight && l > 0 ? l - 1 : l;
    const index_t b = eight && r + 1 < width ? r + 1 : r;
    for (const index_t dir : {index_t{-1}, index_t{1}}) {
      const index_t ny = y + dir;
      if (ny < 0 || ny >= height) continue;
      if (dir == -it.dir) {
        // Back towards the parent row: its run [pl, pr] is filled, scan only what sticks out.
        scan(ny, a, std::min(b, it.pl - 1), dir, l, r);
        scan(ny, std::max(a, it.pr + 1), b, dir, l, r);
      } else {
        scan(ny, a, b, dir, l, r);
      }
    }
  }
}

}  // namespace

void flood_fill(const std::uint8_t* image, index_t height, index_t width, const index_t* seeds,
                index_t n_seeds, double tolerance, int connectivity, std::uint8_t* out) {
  MASKPREP_CHECK(height > 0 && width > 0, "image must not be empty, got ", height, "x", width);
  MASKPREP_CHECK(connectivity == 4 || connectivity == 8, "connectivity must be 4 or 8, got ",
                 connectivity);
  MASKPREP_CHECK(std::isfinite(tolerance) && tolerance >= 0,
                 "tolerance must be finite and >= 0, got ", tolerance);
  MASKPREP_CHECK(n_seeds > 0, "seed_points must hold at least one (row, col) point");
  std::map<Range, std::vector<index_t>> groups;  // seeds that share a range grow together
  for (index_t i = 0; i < n_seeds; ++i) {
    const index_t y = seeds[2 * i], x = seeds[2 * i + 1];
    MASKPREP_CHECK(y >= 0 && y < height && x >= 0 && x < width, "seed_points[", i, "] = (", y, ", ",
                   x, ") is outside the image of shape (", height, ", ", width, ")");
    const double v = image[y * width + x];
    const Range range{static_cast<int>(std::floor(std::max(0.0, v - tolerance))),
                      static_cast<int>(std::floor(std::min(255.0, v + tolerance)))};
    groups[range].push_back(y * width + x);
  }
  const index_t n = height * width;
  std::fill(out, out + n, std::uint8_t{0});
  if (groups.size() == 1) {
    fill_range(image, height, width, groups.begin()->first, groups.begin()->second,
               connectivity == 8, out);
    return;
  }
  // Different ranges may not stop at each other's pixels: fill each alone, then take the union.
  std::vector<std::uint8_t> filled(n);
  for (const auto& [range, starts] : groups) {
    std::fill(filled.begin(), filled.end(), std::uint8_t{0});
    fill_range(image, height, width, range, starts, connectivity == 8, filled.data());
    for (index_t i = 0; i < n; ++i) out[i] |= filled[i];
  }
}

}  // namespace maskprep::imgproc
