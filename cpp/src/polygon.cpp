// Polygons and boxes to RLE: pycocotools' rleFrPoly, streamed (see polygon.hpp).
#include "maskprep/polygon.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "parallel_for.hpp"

namespace maskprep::polygon {
namespace {

constexpr double kScale = 5;

// Collects the column crossings of the scaled boundary: pycocotools' second loop ("get points
// along y-boundary and downsample") applied to consecutive boundary points. Its double
// arithmetic is replaced by an exactly equivalent integer form: xd = (m + .5)/5 - .5 is an
// integer iff m = 5n + 2 (the division is exact then, and otherwise the value is at least 0.2
// from an integer, far beyond rounding error for |m| < 2^31); likewise
// ceil((v + .5)/5 - .5) = ceil((v - 2)/5).
struct CrossingCollector {
  index_t h, w;
  std::vector<index_t>& out;   // toggle positions n*h + r
  std::vector<index_t>& cols;  // their columns n (kept to sort without dividing)
  bool have_prev = false;
  int pu = 0, pv = 0;

  // A step from (prev_u, prev_v) to (u, v) with u != prev_u.
  void pair(int u, int v, int prev_u, int prev_v) {
    const index_t m = u < prev_u ? u : index_t{u} - 1;
    if (m < 2 || (m - 2) % 5 != 0 || (m - 2) / 5 > w - 1) return;
    const index_t num = index_t{std::min(v, prev_v)} - 2;
    index_t r = num / 5 + ((num > 0 && num % 5 != 0) ? 1 : 0);  // ceil(num / 5)
    r = std::min(std::max(r, index_t{0}), h);
    out.push_back((m - 2) / 5 * h + r);
    cols.push_back((m - 2) / 5);
  }
  void visit(int u, int v) {
    if (have_prev && u != pu) pair(u, v, pu, pv);
    pu = u;
    pv = v;
    have_prev = true;
  }
};

// Smallest t in [1, t_max] with pred(t), given !pred(0), pred(t_max) and pred monotone, starting
// from an estimate that is off by at most a step or two.
template <typename Pred>
int first_true(int estimate, int t_max, Pred&& pred) {
  int t = std::min(std::max(estimate, 1), t_max);
  while (t > 1 && pred(t - 1)) --t;
  while (t < t_max && !pred(t)) ++t;
  return t;
}

// Sorts toggle positions x*h + y given their columns x. A boundary crosses each column a few
// times, so bucketing by column and insertion-sorting each bucket is linear, where a comparison
// sort of every crossing dominated the rasterizer's profile.
struct SortScratch {
  std::vector<index_t> start, sorted;
};

void sort_positions(std::vector<index_t>& a, const std::vector<index_t>& cols) {
  if (a.size() < 32) {
    std::sort(a.begin(), a.end());
    return;
  }
  const auto [lo, hi] = std::minmax_element(cols.begin(), cols.end());
  const index_t x_min = *lo;
  auto& buffers = detail::thread_scratch<SortScratch, SortScratch>();
  std::vector<index_t>& sorted = buffers.sorted;
  buffers.start.assign(static_cast<size_t>(*hi - x_min + 2), 0);
  sorted.resize(a.size());
  index_t* start = buffers.start.data();
  index_t* out = sorted.data();
  const index_t* in = a.data();
  const index_t* col = cols.data();
  const size_t n = a.size(), n_buckets = buffers.start.size();
  for (size_t i = 0; i < n; ++i) ++start[col[i] - x_min + 1];
  for (size_t c = 1; c < n_buckets; ++c) start[c] += start[c - 1];
  for (size_t i = 0; i < n; ++i) out[start[col[i] - x_min]++] = in[i];
  // start[c] now ends bucket c; buckets are small (a boundary crosses a column a few times).
  index_t begin = 0;
  for (size_t c = 0; c + 1 < n_buckets; ++c) {
    const index_t end = start[c];
    for (index_t i = begin + 1; i < end; ++i) {
      const index_t v = out[i];
      index_t j = i;
      for (; j > begin && out[j - 1] > v; --j) out[j] = out[j - 1];
      out[j] = v;
    }
    begin = end;
  }
  a.swap(sorted);
}

}  // namespace

std::string check(const double* xy, index_t num_values, index_t min_points) {
  if (num_values % 2 != 0)
    return detail::concat("must have an even number of coordinates [x0, y0, x1, y1, ...], got ",
                          num_values);
  if (num_values < 2 * min_points)
    return detail::concat("must have at least ", min_points, " point(s) (", 2 * min_points,
                          " numbers), got ", num_values / 2, " point(s)");
  for (index_t i = 0; i < num_values; ++i) {
    if (!std::isfinite(xy[i])) return detail::concat("has a non-finite coordinate at position ", i);
    if (std::fabs(xy[i]) > kMaxCoordinate)
      return detail::concat("has coordinate ", xy[i], " at position ", i,
                            "; |coordinates| must be <= ", kMaxCoordinate);
  }
  return {};
}

void check_grid(index_t h, index_t w) {
  MASKPREP_CHECK(h >= 0 && w >= 0, "image size must be non-negative, got ", h, " x ", w);
  detail::checked_size("image size h*w", h, w);
  detail::checked_add("rasterizer grid 5*w + 8", detail::checked_size("rasterizer grid 5*w", 5, w),
                      8);
}

namespace {

struct RasterScratch {
  std::vector<int> x, y;
  std::vector<index_t> a, cols;
};

}  // namespace

void to_rle(const double* xy, index_t k, index_t h, index_t w, rle::Counts& out) {
  check_grid(h, w);
  out.clear();
  if (h == 0 || w == 0) {  // an empty image: the same [0] as encoding an empty mask
    out.push_back(0);
    return;
  }
  // Scratch reused across calls on this thread: rasterizing is allocation-bound otherwise.
  auto& scratch = detail::thread_scratch<RasterScratch, RasterScratch>();
  std::vector<index_t>& a = scratch.a;
  std::vector<index_t>& cols = scratch.cols;
  scratch.x.resize(static_cast<size_t>(k) + 1);
  scratch.y.resize(static_cast<size_t>(k) + 1);
  int* x = scratch.x.data();
  int* y = scratch.y.data();
  a.clear();
  cols.clear();
  for (index_t j = 0; j < k; ++j) x[j] = static_cast<int>(kScale * xy[j * 2 + 0] + .5);
  for (index_t j = 0; j < k; ++j) y[j] = static_cast<int>(kScale * xy[j * 2 + 1] + .5);
  x[k] = x[0];
  y[k] = y[0];

  CrossingCollector col{h, w, a, cols};
  // Scaled u of a kept crossing: the step between 5n+2 and 5n+3 for pixel column n in [0, w-1].
  // The walk emits max(dx, dy) + 1 points per edge; only the steps across those boundaries are
  // visited, after visiting each edge's first point (the step from the previous edge).
  const index_t m_lo = 2, m_hi = 5 * (w - 1) + 2;
  auto first_boundary = [&](index_t lo) {  // smallest m >= max(lo, 2) with m % 5 == 2
    index_t m = std::max(lo, m_lo);
    return m + ((2 - m) % 5 + 5) % 5;
  };
  for (index_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx >= dy) {
      if (dx == 0) {
        // pycocotools divides 0/0 here and casts NaN to int (INT_MIN on x86); the point has
        // the same u as its neighbours, so its v never reaches a crossing.
        col.visit(xs, INT_MIN);
        continue;
      }
      const double s = static_cast<double>(ye - ys) / dx;
      auto v_at = [&](int t) { return static_cast<int>(ys + s * t + .5); };
      // u = xs + t moves by exactly 1 per point: the step u: m -> m+1 is between t = m - xs
      // and t + 1 (walked in reverse when flipped).
      const int t_first = flip ? dx : 0, t_last = flip ? 0 : dx;
      col.visit(xs + t_first, v_at(t_first));
      const index_t m_end = std::min<index_t>(index_t{xe} - 1, m_hi);
      for (index_t m = first_boundary(xs); m <= m_end; m += 5) {
        const int t = static_cast<int>(m - xs), um = static_cast<int>(m);
        if (flip) {
          col.pair(um, v_at(t), um + 1, v_at(t + 1));
        } else {
          col.pair(um + 1, v_at(t + 1), um, v_at(t));
        }
      }
      col.pu = xs + t_last;
      col.pv = v_at(t_last);
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      auto u_at = [&](int t) { return static_cast<int>(xs + s * t + .5); };
      const int t_first = flip ? dy : 0, t_last = flip ? 0 : dy;
      col.visit(u_at(t_first), t_first + ys);
      // u(t) is monotone in t (each operation rounds monotonically) and moves by at most 1
      // per point (|s| < 1), so each boundary m|m+1 is crossed at one step (t-1, t), found
      // from the real-valued estimate and checked with the exact expression.
      const int u0 = u_at(0), u1 = u_at(dy);
      const bool increasing = u1 > u0;
      const index_t m_end = std::min<index_t>(std::max(u0, u1) - 1, m_hi);
      for (index_t m = first_boundary(std::min(u0, u1)); m <= m_end; m += 5) {
        const double target = static_cast<double>(m) + .5 - xs;  // s*t crosses here
        const int estimate = static_cast<int>(std::ceil(target / s));
        const int t = increasing ? first_true(estimate, dy, [&](int q) { return u_at(q) > m; })
                                 : first_true(estimate, dy, [&](int q) { return u_at(q) <= m; });
        if (flip) {
          col.pair(u_at(t - 1), t - 1 + ys, u_at(t), t + ys);
        } else {
          col.pair(u_at(t), t + ys, u_at(t - 1), t - 1 + ys);
        }
      }
      col.pu = u_at(t_last);
      col.pv = t_last + ys;
    }
  }

  // "compute rle encoding given y-boundary points", pycocotools' final loop, in 64-bit:
  // sort the toggle positions x*h + y, append h*w, difference, fold zero-length runs.
  sort_positions(a, cols);
  a.push_back(h * w);
  index_t* d = a.data();
  const size_t n = a.size();
  index_t p = 0;
  for (size_t i = 0; i < n; ++i) {
    const index_t t = d[i];
    d[i] -= p;
    p = t;
  }
  out.resize(n);
  rle::count_t* o = out.data();
  size_t m = 0;
  o[m++] = static_cast<rle::count_t>(d[0]);
  size_t j = 1;
  while (j < n) {
    if (d[j] > 0) {
      o[m++] = static_cast<rle::count_t>(d[j++]);
    } else {
      ++j;  // two toggles at one pixel cancel: fold the next run into the previous one
      if (j < n) o[m - 1] += static_cast<rle::count_t>(d[j++]);
    }
  }
  out.resize(m);
}

void box_to_rle(const double box[4], index_t h, index_t w, rle::Counts& out) {
  const double xs = box[0], xe = xs + box[2], ys = box[1], ye = ys + box[3];
  const double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
  to_rle(xy, 4, h, w, out);
}

void boxes_to_rle(const double* boxes, index_t n, index_t h, index_t w, rle::Counts* out,
                  int num_threads) {
  check_grid(h, w);
  for (index_t i = 0; i < n * 4; ++i) {
    const double v = boxes[i];
    if (!std::isfinite(v) || std::fabs(v) > kMaxCoordinate)
      throw IndexedError(i / 4, " has a non-finite or out-of-range value (|v| must be <= 2e8)");
  }
  parallel_for(
      n, threads_for_work(num_threads, n, 256),
      [&](index_t i) { box_to_rle(boxes + 4 * i, h, w, out[i]); }, 16);
}

void polygons_to_rle(const double* xy, const index_t* offsets, index_t n, index_t h, index_t w,
                     index_t min_points, rle::Counts* out, int num_threads) {
  check_grid(h, w);
  for (index_t i = 0; i < n; ++i) {
    const std::string problem = check(xy + offsets[i], offsets[i + 1] - offsets[i], min_points);
    if (!problem.empty()) throw IndexedError(i, " " + problem);
  }
  parallel_for(
      n, threads_for_work(num_threads, offsets[n] - offsets[0], 1 << 14),
      [&](index_t i) { to_rle(xy + offsets[i], (offsets[i + 1] - offsets[i]) / 2, h, w, out[i]); },
      8);
}

}  // namespace maskprep::polygon
