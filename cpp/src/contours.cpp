// Crack-edge boundary tracing of binary masks into COCO polygons (contours.hpp).
#include "maskprep/contours.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "maskprep/byte_scan.hpp"
#include "maskprep/components.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep::contours {

namespace {

// Edge directions on screen (y down); +1 turns clockwise.
enum Dir : int { kE = 0, kS = 1, kW = 2, kN = 3 };
constexpr index_t kDx[4] = {1, 0, -1, 0};
constexpr index_t kDy[4] = {0, 1, 0, -1};

// Every boundary edge is directed with the foreground on its right. At a corner, with the four
// pixels around it coded TL | TR << 1 | BL << 2 | BR << 3, the outgoing edge is: E iff BR and not
// TR, W iff TL and not BL, S iff BL and not BR, N iff TR and not TL. Two diagonal pixels (codes 6
// and 9) give two outgoing edges; turning left there keeps the diagonal pair on one boundary,
// which is 8-connectivity of the foreground (and 4-connectivity of the background).
struct TurnTable {
  int next[16][4];
  constexpr TurnTable() : next() {
    for (int code = 0; code < 16; ++code) {
      const bool tl = code & 1, tr = code & 2, bl = code & 4, br = code & 8;
      int out = -1;
      if (br && !tr) out = kE;
      if (tl && !bl) out = kW;
      if (bl && !br) out = kS;
      if (tr && !tl) out = kN;
      for (int d = 0; d < 4; ++d) next[code][d] = (code == 6 || code == 9) ? (d + 3) % 4 : out;
    }
  }
};
constexpr TurnTable kTurn;

struct Ring {
  std::vector<index_t> xy;  // corners of the padded crop, x0, y0, x1, y1, ...
  index_t area2 = 0;        // twice the signed area: > 0 outer boundary, < 0 hole
  index_t pixel = 0;        // a pixel of the ring's component (padded index)
};

// The mask's foreground bounding box, copied into a 0/1 crop with a 1-pixel empty border (so
// that tracing needs no bounds checks).
struct Crop {
  std::vector<byte_t> p;
  index_t ph = 0, pw = 0;  // padded size
  index_t x0 = 0, y0 = 0;  // image position of crop pixel (1, 1)
};

bool make_crop(const byte_t* mask, index_t h, index_t w, Crop& crop) {
  index_t y0 = -1, y1 = -1, x0 = w, x1 = -1;
  for (index_t y = 0; y < h; ++y) {
    const byte_t* row = mask + y * w;
    if (!detail::any_nonzero(row, w)) continue;
    if (y0 < 0) y0 = y;
    y1 = y;
    x0 = std::min(x0, detail::find_next<true>(row, 0, w));
    x1 = std::max(x1, detail::find_last_nonzero(row, w));
  }
  if (y0 < 0) return false;
  crop.x0 = x0;
  crop.y0 = y0;
  crop.ph = y1 - y0 + 3;
  crop.pw = x1 - x0 + 3;
  crop.p.assign(static_cast<size_t>(crop.ph * crop.pw), 0);
  for (index_t y = y0; y <= y1; ++y) {
    const byte_t* row = mask + y * w;
    byte_t* dst = crop.p.data() + (y - y0 + 1) * crop.pw + 1;
    for (index_t x = x0; x <= x1; ++x) dst[x - x0] = row[x] != 0;
  }
  return true;
}

// Follows the boundary that leaves corner (sx, sy) eastwards, recording the corners where the
// direction changes and marking the eastward edges it walks.
Ring trace(const Crop& c, index_t sx, index_t sy, std::vector<byte_t>& east_seen) {
  const byte_t* p = c.p.data();
  const index_t pw = c.pw;
  Ring ring;
  ring.pixel = sy * pw + sx;
  ring.xy = {sx, sy};
  east_seen[sy * pw + sx] = 1;
  index_t x = sx + 1, y = sy;
  int d = kE;
  for (;;) {
    const index_t below = y * pw + x, above = below - pw;
    const int code = p[above - 1] | p[above] << 1 | p[below - 1] << 2 | p[below] << 3;
    const int nd = kTurn.next[code][d];
    if (nd == kE) {
      if (x == sx && y == sy) break;
      east_seen[below] = 1;
    }
    if (nd != d) {
      ring.xy.push_back(x);
      ring.xy.push_back(y);
    }
    x += kDx[nd];
    y += kDy[nd];
    d = nd;
  }
  const size_t n = ring.xy.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    const size_t j = (i + 1) % n;
    ring.area2 += ring.xy[2 * i] * ring.xy[2 * j + 1] - ring.xy[2 * j] * ring.xy[2 * i + 1];
  }
  return ring;
}

double segment_distance2(const index_t* a, const index_t* b, const index_t* q) {
  const double ax = static_cast<double>(a[0]), ay = static_cast<double>(a[1]);
  const double dx = static_cast<double>(b[0]) - ax, dy = static_cast<double>(b[1]) - ay;
  const double qx = static_cast<double>(q[0]) - ax, qy = static_cast<double>(q[1]) - ay;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? (qx * dx + qy * dy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = qx - t * dx, ey = qy - t * dy;
  return ex * ex + ey * ey;
}

// Douglas-Peucker on a closed ring: split at vertex 0 and the vertex farthest from it, then
// simplify both halves. Vertex 0 is kept, so a component's polygon still starts at its first
// pixel's corner.
std::vector<index_t> simplify(const std::vector<index_t>& xy, double tolerance) {
  const index_t n = static_cast<index_t>(xy.size() / 2);
  if (tolerance <= 0 || n < 4) return xy;
  const index_t* v = xy.data();
  auto at = [&](index_t i) { return v + 2 * (i % n); };
  index_t far = 1;
  double best = -1;
  for (index_t i = 1; i < n; ++i) {
    const double ddx = static_cast<double>(v[2 * i] - v[0]);
    const double ddy = static_cast<double>(v[2 * i + 1] - v[1]);
    if (ddx * ddx + ddy * ddy > best) {
      best = ddx * ddx + ddy * ddy;
      far = i;
    }
  }
  std::vector<char> keep(static_cast<size_t>(n), 0);
  keep[0] = keep[far] = 1;
  const double tol2 = tolerance * tolerance;
  std::vector<std::pair<index_t, index_t>> stack = {{0, far}, {far, n}};
  while (!stack.empty()) {
    const auto [a, b] = stack.back();
    stack.pop_back();
    index_t split = -1;
    double worst = tol2;
    for (index_t k = a + 1; k < b; ++k) {
      const double d2 = segment_distance2(at(a), at(b), at(k));
      if (d2 > worst) {
        worst = d2;
        split = k;
      }
    }
    if (split < 0) continue;
    keep[split] = 1;
    stack.push_back({a, split});
    stack.push_back({split, b});
  }
  std::vector<index_t> out;
  for (index_t i = 0; i < n; ++i) {
    if (keep[i]) {
      out.push_back(v[2 * i]);
      out.push_back(v[2 * i + 1]);
    }
  }
  return out;
}

void append_ring(const std::vector<index_t>& xy, const Crop& c, Polygon& out) {
  for (size_t i = 0; i < xy.size(); i += 2) {
    out.push_back(static_cast<double>(xy[i] + c.x0 - 1));
    out.push_back(static_cast<double>(xy[i + 1] + c.y0 - 1));
  }
}

}  // namespace

void check_options(const Options& options) {
  MASKPREP_CHECK(std::isfinite(options.tolerance) && options.tolerance >= 0,
                 "tolerance must be a finite number >= 0, got ", options.tolerance);
  MASKPREP_CHECK(options.min_area >= 0, "min_area must be >= 0, got ", options.min_area);
}

void mask_to_polygons(const byte_t* mask, index_t h, index_t w, const Options& options,
                      std::vector<Polygon>& out) {
  check_options(options);
  MASKPREP_CHECK(h >= 0 && w >= 0, "mask size must be non-negative, got ", h, " x ", w);
  out.clear();
  Crop crop;
  if (h == 0 || w == 0 || !make_crop(mask, h, w, crop)) return;

  // Every ring has eastward edges; the first one in raster order starts it. A component's outer
  // ring starts at its first pixel, so outer rings come out in raster order of components.
  std::vector<byte_t> east_seen(crop.p.size(), 0);
  std::vector<Ring> outer, holes;
  const byte_t* p = crop.p.data();
  for (index_t y = 1; y < crop.ph - 1; ++y) {
    const byte_t* row = p + y * crop.pw;
    const byte_t* up = row - crop.pw;
    const byte_t* seen = east_seen.data() + y * crop.pw;
    for (index_t x = 1; x < crop.pw - 1;) {
      // Eight 0/1 bytes at a time: an unseen eastward edge has foreground below, background above.
      if (x + 8 <= crop.pw) {
        std::uint64_t a, b, c;
        std::memcpy(&a, row + x, 8);
        std::memcpy(&b, up + x, 8);
        std::memcpy(&c, seen + x, 8);
        if ((a & ~b & ~c) == 0) {
          x += 8;
          continue;
        }
      }
      if (row[x] && !up[x] && !seen[x]) {
        Ring ring = trace(crop, x, y, east_seen);
        (ring.area2 > 0 ? outer : holes).push_back(std::move(ring));
      }
      ++x;
    }
  }

  // Holes belong to the component of the pixel beside them; find it by labelling the crop.
  std::vector<std::vector<index_t>> holes_of(outer.size());
  std::vector<index_t> area(outer.size());
  for (size_t k = 0; k < outer.size(); ++k) area[k] = outer[k].area2 / 2;
  if (!holes.empty() && (options.holes || options.min_area > 0)) {
    std::vector<std::int32_t> labels(crop.p.size());
    components::label(p, crop.ph, crop.pw, 8, labels.data(), nullptr, 1);
    std::vector<index_t> outer_of(outer.size() + 1, -1);
    for (size_t k = 0; k < outer.size(); ++k) outer_of[labels[outer[k].pixel]] = index_t(k);
    for (size_t k = 0; k < holes.size(); ++k) {
      const index_t o = outer_of[labels[holes[k].pixel]];
      holes_of[o].push_back(index_t(k));
      area[o] += holes[k].area2 / 2;  // negative: the hole's pixels
    }
  }

  for (size_t k = 0; k < outer.size(); ++k) {
    if (area[k] < options.min_area) continue;
    const std::vector<index_t> ring = simplify(outer[k].xy, options.tolerance);
    if (ring.size() < 6) continue;
    Polygon poly;
    append_ring(ring, crop, poly);
    if (options.holes) {
      for (index_t j : holes_of[k]) {
        if (-holes[j].area2 / 2 < options.min_area) continue;
        const std::vector<index_t> hole = simplify(holes[j].xy, options.tolerance);
        if (hole.size() < 6) continue;
        // Bridge: back to the outer ring's first vertex, then the hole ring closed on its own
        // first vertex; the final closing edge (or the next bridge) returns to it.
        const double ax = poly[0], ay = poly[1];
        poly.push_back(ax);
        poly.push_back(ay);
        const size_t h0 = poly.size();
        append_ring(hole, crop, poly);
        const double hx = poly[h0], hy = poly[h0 + 1];
        poly.push_back(hx);
        poly.push_back(hy);
      }
    }
    out.push_back(std::move(poly));
  }
}

void masks_to_polygons(const byte_t* masks, index_t n, index_t h, index_t w, const Options& options,
                       std::vector<std::vector<Polygon>>& out, int num_threads) {
  check_options(options);
  MASKPREP_CHECK(n >= 0 && h >= 0 && w >= 0, "masks shape must be non-negative, got (", n, ", ", h,
                 ", ", w, ")");
  out.assign(static_cast<size_t>(n), {});
  // A mask costs more than a byte scan (crop copy, tracing, Python-bound output), so a thread
  // pays for itself on a quarter of the streaming kernels' minimum.
  const int threads = threads_for_work(num_threads, n * h * w, kMinBytesPerThread / 4);
  parallel_for(n, threads, [&](index_t i) {
    mask_to_polygons(masks + i * h * w, h, w, options, out[static_cast<size_t>(i)]);
  });
}

}  // namespace maskprep::contours
