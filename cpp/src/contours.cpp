// Crack-edge boundary tracing of binary masks into COCO polygons (contours.hpp).
#include "maskprep/contours.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "byte_scan.hpp"
#include "maskprep/components.hpp"
#include "parallel_for.hpp"

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

struct Ring {
  std::vector<index_t> xy;    // direction-change corners of the padded crop: x0, y0, x1, y1, ...
  std::vector<index_t> step;  // per corner: the index of the unit step that leaves it
  index_t length = 0;         // unit steps around the ring
  index_t area2 = 0;          // twice the signed area: > 0 outer boundary, < 0 hole
  index_t first = 0;          // corner that starts the output (top-left one)
  std::vector<std::pair<index_t, index_t>> attach;  // (step, hole ring) bridged at that corner
};

// Which ring walks each horizontal unit edge (slot y * pw + x: from corner x to x + 1 on corner
// row y), and at which step: 2 * step + 1 eastwards, 2 * step westwards; -1 none.
struct EdgeIndex {
  std::vector<std::int32_t> ring;
  std::vector<index_t> step;
};

// Follows the boundary that leaves corner (sx, sy) eastwards, recording the corners where the
// direction changes (with their step numbers) and marking the eastward edges it walks.
Ring trace(const Crop& c, index_t sx, index_t sy, std::vector<byte_t>& east_seen) {
  const byte_t* p = c.p.data();
  const index_t pw = c.pw;
  Ring ring;
  index_t x = sx, y = sy, k = 0;
  int d = kN;  // the step into the start corner is never eastward (see mask_to_polygons)
  do {
    const index_t below = y * pw + x, above = below - pw;
    const int code = p[above - 1] | p[above] << 1 | p[below - 1] << 2 | p[below] << 3;
    const int nd = (k == 0) ? int(kE) : kTurn.next[code][d];
    if (nd == kE && k > 0 && x == sx && y == sy) break;
    if (nd != d || k == 0) {
      ring.xy.push_back(x);
      ring.xy.push_back(y);
      ring.step.push_back(k);
    }
    if (nd == kE) east_seen[below] = 1;
    x += kDx[nd];
    y += kDy[nd];
    d = nd;
    ++k;
  } while (true);
  ring.length = k;
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

// Douglas-Peucker on a closed ring of n corners where `keep` marks the corners that must stay
// (at least corner 0): each stretch between consecutive kept corners is simplified on its own;
// with corner 0 alone, the ring is first split at the corner farthest from it.
void simplify(const index_t* v, index_t n, double tolerance, std::vector<char>& keep) {
  auto at = [&](index_t i) { return v + 2 * (i % n); };
  std::vector<index_t> fixed;
  for (index_t i = 0; i < n; ++i) {
    if (keep[i]) fixed.push_back(i);
  }
  if (fixed.size() == 1) {
    index_t far = 0;
    double best = -1;
    for (index_t i = 1; i < n; ++i) {
      const double dx = static_cast<double>(v[2 * i] - v[0]);
      const double dy = static_cast<double>(v[2 * i + 1] - v[1]);
      if (dx * dx + dy * dy > best) {
        best = dx * dx + dy * dy;
        far = i;
      }
    }
    keep[far] = 1;
    fixed.push_back(far);
  }
  const double tol2 = tolerance * tolerance;
  std::vector<std::pair<index_t, index_t>> stack;
  for (size_t i = 0; i < fixed.size(); ++i) {
    stack.push_back({fixed[i], i + 1 < fixed.size() ? fixed[i + 1] : fixed[0] + n});
  }
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
    keep[split % n] = 1;
    stack.push_back({a, split});
    stack.push_back({split, b});
  }
}

// Records every horizontal unit edge of every ring (holes need them to find their bridge ends).
// Only masks with holes pay for it.
void index_edges(const std::vector<Ring>& rings, index_t pw, EdgeIndex& edges) {
  for (size_t r = 0; r < rings.size(); ++r) {
    const Ring& ring = rings[r];
    const size_t n = ring.step.size();
    for (size_t i = 0; i < n; ++i) {
      const size_t j = (i + 1) % n;
      const index_t x = ring.xy[2 * i], y = ring.xy[2 * i + 1], x1 = ring.xy[2 * j];
      if (x1 == x) continue;
      const bool east = x1 > x;
      const index_t len = east ? x1 - x : x - x1;
      for (index_t t = 0; t < len; ++t) {
        const index_t slot = y * pw + (east ? x + t : x - t - 1);
        edges.ring[slot] = static_cast<std::int32_t>(r);
        edges.step[slot] = 2 * (ring.step[i] + t) + (east ? 1 : 0);
      }
    }
  }
}

// One output ring: its corners from `first`, bridged holes inserted where they attach.
struct Node {
  index_t x, y;
  std::vector<index_t> holes;  // rings bridged at this corner, in order
};

// The corners of ring r in output order (from its first corner), with the bridge corners of its
// holes inserted and the ring simplified around them. Empty when simplification leaves fewer
// than 3 corners on a ring without holes.
std::vector<Node> ring_nodes(const Ring& r, double tolerance) {
  const index_t n = static_cast<index_t>(r.step.size());
  auto rel = [&](index_t step) {
    return ((step - r.step[r.first]) % r.length + r.length) % r.length;
  };
  std::vector<std::pair<index_t, index_t>> attach(r.attach.size());  // (relative step, hole)
  for (size_t i = 0; i < attach.size(); ++i)
    attach[i] = {rel(r.attach[i].first), r.attach[i].second};
  std::sort(attach.begin(), attach.end());
  // Corners in relative-step order, merged with the attachment corners (a bridge may leave from
  // the middle of a straight stretch: splitting an axis-parallel edge at a corner changes nothing).
  std::vector<index_t> xy, where;  // where: relative step
  std::vector<char> keep;
  size_t a = 0;
  for (index_t j = 0; j <= n; ++j) {
    const index_t i = (r.first + j) % n;
    const index_t s = j < n ? rel(r.step[i]) : r.length;
    for (; a < attach.size() && attach[a].first < s; ++a) {
      // a corner inside the stretch that ends at corner i: walk from the previous corner
      const index_t prev = (i + n - 1) % n;
      const index_t ds = attach[a].first - rel(r.step[prev]);
      const index_t dx = (r.xy[2 * i] > r.xy[2 * prev]) - (r.xy[2 * i] < r.xy[2 * prev]);
      const index_t dy =
          (r.xy[2 * i + 1] > r.xy[2 * prev + 1]) - (r.xy[2 * i + 1] < r.xy[2 * prev + 1]);
      if (ds == 0) continue;  // on the previous corner: already marked below
      xy.insert(xy.end(), {r.xy[2 * prev] + dx * ds, r.xy[2 * prev + 1] + dy * ds});
      where.push_back(attach[a].first);
      keep.push_back(1);
    }
    if (j == n) break;
    xy.insert(xy.end(), {r.xy[2 * i], r.xy[2 * i + 1]});
    where.push_back(s);
    keep.push_back(j == 0 || (a < attach.size() && attach[a].first == s));
  }
  const index_t m = static_cast<index_t>(where.size());
  if (tolerance > 0 && m > 3) {
    std::vector<char> kept = keep;
    simplify(xy.data(), m, tolerance, kept);
    index_t count = 0;
    for (char c : kept) count += c;
    if (count >= 3) {
      keep = kept;
    } else if (attach.empty() && r.area2 > 0) {
      return {};  // an outer ring without holes simplified away: drop the component
    } else {
      std::fill(keep.begin(), keep.end(), 1);  // a hole, or a ring holding holes, stays whole
    }
  } else {
    std::fill(keep.begin(), keep.end(), 1);
  }
  std::vector<Node> nodes;
  size_t b = 0;
  for (index_t i = 0; i < m; ++i) {
    if (!keep[i]) continue;
    Node node{xy[2 * i], xy[2 * i + 1], {}};
    for (; b < attach.size() && attach[b].first <= where[i]; ++b)
      node.holes.push_back(attach[b].second);
    nodes.push_back(std::move(node));
  }
  return nodes;
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
  if (options.min_area > 1) {
    // Small components go first, then small holes (islands removed from a hole enlarge it).
    std::vector<byte_t> tmp(crop.p.size());
    components::remove_small_objects(crop.p.data(), crop.ph, crop.pw, options.min_area - 1, 8,
                                     tmp.data(), 1);
    components::fill_holes(tmp.data(), crop.ph, crop.pw, crop.p.data(), 1, options.min_area - 1);
  }

  // Every ring has eastward edges; the first one in raster order starts it, and the step into
  // that corner is not eastward (that edge would come first). A component's outer ring starts at
  // its first pixel, so outer rings come out in raster order of components.
  std::vector<byte_t> east_seen(crop.p.size(), 0);
  std::vector<Ring> rings;
  const byte_t* p = crop.p.data();
  const index_t pw = crop.pw;
  for (index_t y = 1; y < crop.ph - 1; ++y) {
    const byte_t* row = p + y * pw;
    const byte_t* up = row - pw;
    const byte_t* seen = east_seen.data() + y * pw;
    for (index_t x = 1; x < pw - 1;) {
      // Eight 0/1 bytes at a time: an unseen eastward edge has foreground below, background above.
      if (x + 8 <= pw) {
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
        if (ring.area2 < 0 && !options.holes) {
          ++x;
          continue;
        }
        rings.push_back(std::move(ring));
      }
      ++x;
    }
  }

  const bool any_hole =
      std::any_of(rings.begin(), rings.end(), [](const Ring& r) { return r.area2 < 0; });
  if (any_hole) {
    EdgeIndex edges;
    edges.ring.assign(crop.p.size(), -1);
    edges.step.assign(crop.p.size(), 0);
    index_edges(rings, pw, edges);
    // Each hole starts at its top-left corner (x, y) and is bridged straight up to the first
    // corner where a horizontal edge of its component meets column line x: between the two the
    // line runs through the component, and a vertical bridge crosses no pixel-centre column, so
    // it adds nothing to the rasterization while staying short. That corner lies on the outer
    // ring or on a hole that starts higher up, so bridging holes in raster order of their
    // top-left corners attaches every hole to a ring attached before it.
    std::vector<index_t> order;
    for (size_t r = 0; r < rings.size(); ++r) {
      Ring& ring = rings[r];
      if (ring.area2 > 0) continue;
      const index_t n = static_cast<index_t>(ring.step.size());
      for (index_t i = 1; i < n; ++i) {
        const index_t *a = &ring.xy[2 * i], *b = &ring.xy[2 * ring.first];
        if (a[1] < b[1] || (a[1] == b[1] && a[0] < b[0])) ring.first = i;
      }
      order.push_back(static_cast<index_t>(r));
    }
    auto top_left = [&](index_t r) {
      const Ring& ring = rings[r];
      return std::make_pair(ring.xy[2 * ring.first + 1], ring.xy[2 * ring.first]);
    };
    std::sort(order.begin(), order.end(),
              [&](index_t a, index_t b) { return top_left(a) < top_left(b); });
    for (index_t r : order) {
      const auto [hy, hx] = top_left(r);
      index_t y = hy;
      while (p[(y - 1) * pw + hx - 1] && p[(y - 1) * pw + hx]) --y;
      // The horizontal edge at the stop corner: left of it when that one is a boundary (always
      // the case at the hole's own corner, whose right edge is the hole's), else right of it.
      const bool left = p[(y - 1) * pw + hx - 1] != p[y * pw + hx - 1];
      const index_t slot = y * pw + hx - (left ? 1 : 0);
      const index_t code = edges.step[slot];
      const bool east = code & 1;
      const Ring& target = rings[static_cast<size_t>(edges.ring[slot])];
      // The corner's step: the edge's start step, or its end (start + 1) when the edge ends here.
      const index_t step = (code >> 1) + ((left == east) ? 1 : 0);
      rings[static_cast<size_t>(edges.ring[slot])].attach.push_back({step % target.length, r});
    }
  }

  // Emit each outer ring with its holes depth-first (iteratively: chains of holes can be long).
  std::vector<std::vector<Node>> nodes(rings.size());
  for (size_t r = 0; r < rings.size(); ++r) nodes[r] = ring_nodes(rings[r], options.tolerance);
  struct Frame {
    index_t ring;
    size_t node, hole;
  };
  for (size_t r = 0; r < rings.size(); ++r) {
    if (rings[r].area2 < 0 || nodes[r].empty()) continue;
    Polygon poly;
    auto emit = [&](index_t x, index_t y) {
      const double fx = static_cast<double>(x + crop.x0 - 1),
                   fy = static_cast<double>(y + crop.y0 - 1);
      const size_t k = poly.size();
      if (k >= 2 && poly[k - 2] == fx && poly[k - 1] == fy) return;  // zero-length bridge
      poly.push_back(fx);
      poly.push_back(fy);
    };
    std::vector<Frame> stack = {{static_cast<index_t>(r), 0, 0}};
    while (!stack.empty()) {
      Frame& f = stack.back();
      const std::vector<Node>& ns = nodes[static_cast<size_t>(f.ring)];
      if (f.node == ns.size()) {  // a hole is done: close it, return over the bridge
        stack.pop_back();
        if (!stack.empty()) {
          emit(ns[0].x, ns[0].y);
          const Node& at = nodes[static_cast<size_t>(stack.back().ring)][stack.back().node];
          emit(at.x, at.y);
          ++stack.back().hole;
        }
        continue;
      }
      const Node& node = ns[f.node];
      if (f.hole == 0) emit(node.x, node.y);
      if (f.hole < node.holes.size()) {
        stack.push_back({node.holes[f.hole], 0, 0});
        continue;
      }
      ++f.node;
      f.hole = 0;
    }
    // Starting where it began, the path's last corner may repeat the first: drop it.
    if (poly.size() >= 4 && poly[0] == poly[poly.size() - 2] && poly[1] == poly.back()) {
      poly.resize(poly.size() - 2);
    }
    if (poly.size() >= 6) out.push_back(std::move(poly));
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
