// Polygons and boxes to RLE: pycocotools' rleFrPoly, streamed (see polygon.hpp).
#include "maskprep/polygon.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "isa_dispatch.hpp"
#include "parallel_for.hpp"

namespace maskprep::polygon {
namespace {

constexpr double kScale = 5;

// Collects the column crossings of the scaled boundary: pycocotools' second loop ("get points
// along y-boundary and downsample") applied to consecutive boundary points. Its double
// arithmetic is replaced by an exactly equivalent integer form: xd = (m + .5)/5 - .5 is an
// integer iff m = 5n + 2 (the division is exact then, and otherwise the value is at least 0.2
// from an integer, far beyond rounding error for |m| < 2^31); likewise
// ceil((v + .5)/5 - .5) = ceil((v - 2)/5). Written through raw pointers into buffers sized for
// the polygon's worst case (crossings_bound): the capacity checks of push_back cost more than
// the arithmetic.
struct CrossingCollector {
  index_t h, w;
  index_t* pos;  // toggle positions n*h + r
  index_t* col;  // their columns n (kept to sort without dividing)
  index_t count = 0;
  index_t col_min = std::numeric_limits<index_t>::max(),
          col_max = -1;  // the range of col, for the bucket sort
  bool have_prev = false;
  int pu = 0, pv = 0;

  // A crossing of pixel column n (0 <= n < w) by a step whose smaller scaled v is v: the
  // toggle at row r = clamp(ceil((v - 2) / 5), 0, h).
  void emit(index_t n, int v) {
    const index_t num = index_t{v} - 2;
    pos[count] = n * h + (num > 0 ? std::min((num + 4) / 5, h) : 0);
    col[count] = n;
    col_min = std::min(col_min, n);  // cmovs: std::minmax_element's branches mispredicted
    col_max = std::max(col_max, n);
    ++count;
  }
  // A step from (prev_u, prev_v) to (u, v) with u != prev_u, anywhere.
  void pair(int u, int v, int prev_u, int prev_v) {
    const index_t m = u < prev_u ? u : index_t{u} - 1;
    if (m < 2 || (m - 2) % 5 != 0 || (m - 2) / 5 > w - 1) return;
    emit((m - 2) / 5, std::min(v, prev_v));
  }
  void visit(int u, int v) {
    if (have_prev && u != pu) pair(u, v, pu, pv);
    pu = u;
    pv = v;
    have_prev = true;
  }
};

// Most crossings to_rle can emit for the k scaled points (x[k] == x[0]) on a w-column image: per
// edge, one at its first point and one per column boundary m = 5n + 2 (0 <= n < w) inside its u
// range, widened by 2 for the rounding of negative coordinates. Counting only boundaries inside
// the image keeps the buffers the size of the output: an edge far outside a small image, or
// outside the spanned part of a wide one, must not size them by its length.
MASKPREP_ALWAYS_INLINE index_t crossings_bound(const int* x, index_t k, index_t w) {
  const index_t m_hi = 5 * (w - 1) + 2;
  index_t bound = 2;
  for (index_t j = 0; j < k; ++j) {
    const index_t lo = std::max<index_t>(std::min(x[j], x[j + 1]) - 2, 2);
    const index_t hi = std::min<index_t>(std::max(x[j], x[j + 1]) + 2, m_hi);
    bound += 3 + (hi >= lo ? (hi - lo) / 5 + 1 : 0);
  }
  return bound;
}

// Smallest t in [1, t_max] with pred(t), given !pred(0), pred(t_max) and pred monotone, starting
// from an estimate that is off by at most a step or two.
template <typename Pred>
MASKPREP_ALWAYS_INLINE int first_true(int estimate, int t_max, Pred&& pred) {
  int t = std::min(std::max(estimate, 1), t_max);
  while (t > 1 && pred(t - 1)) --t;
  while (t < t_max && !pred(t)) ++t;
  return t;
}

// Sorts the n toggle positions x*h + y given their columns x in [x_min, x_max]; returns where the
// sorted positions are (a itself, or a scratch buffer). A boundary crosses each column a few times,
// so bucketing by column and insertion-sorting each bucket is linear, where a comparison sort of
// every crossing dominated the rasterizer's profile.
struct SortScratch {
  std::vector<index_t> start, sorted;
};

index_t* sort_positions(index_t* a, const index_t* col, index_t n, index_t x_min, index_t x_max) {
  if (n < 32) {
    std::sort(a, a + n);
    return a;
  }
  auto& buffers = detail::thread_scratch<SortScratch, SortScratch>();
  buffers.start.assign(static_cast<size_t>(x_max - x_min + 2), 0);
  if (buffers.sorted.size() < static_cast<size_t>(n) + 1) buffers.sorted.resize(n + 1);
  index_t* start = buffers.start.data();
  index_t* out = buffers.sorted.data();
  const size_t n_buckets = buffers.start.size();
  for (index_t i = 0; i < n; ++i) ++start[col[i] - x_min + 1];
  for (size_t c = 1; c < n_buckets; ++c) start[c] += start[c - 1];
  for (index_t i = 0; i < n; ++i) out[start[col[i] - x_min]++] = a[i];
  // start[c] now ends bucket c; buckets are small (a boundary crosses a column a few times).
  index_t begin = 0;
  for (size_t c = 0; c + 1 < n_buckets; ++c) {
    const index_t end = start[c];
    if (end - begin == 2) {  // the common bucket (a column crossed twice): sorted without a branch
      const index_t x = out[begin], y = out[begin + 1];
      out[begin] = std::min(x, y);
      out[begin + 1] = std::max(x, y);
      begin = end;
      continue;
    }
    for (index_t i = begin + 1; i < end; ++i) {
      const index_t v = out[i];
      index_t j = i;
      for (; j > begin && out[j - 1] > v; --j) out[j] = out[j - 1];
      out[j] = v;
    }
    begin = end;
  }
  return out;
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
  std::vector<index_t> pos, cols;
};

}  // namespace

namespace {

MASKPREP_ALWAYS_INLINE const rle::count_t* to_rle_body(const double* xy, index_t k, index_t h,
                                                       index_t w, index_t& runs) {
  check_grid(h, w);
  if (h == 0 || w == 0) {  // an empty image: the same [0] as encoding an empty mask
    static const rle::count_t kEmpty[1] = {0};
    runs = 1;
    return kEmpty;
  }
  // Scratch reused across calls on this thread (grown, never shrunk): rasterizing is
  // allocation-bound otherwise.
  auto& scratch = detail::thread_scratch<RasterScratch, RasterScratch>();
  if (scratch.x.size() < static_cast<size_t>(k) + 1) {
    scratch.x.resize(static_cast<size_t>(k) + 1);
    scratch.y.resize(static_cast<size_t>(k) + 1);
  }
  int* x = scratch.x.data();
  int* y = scratch.y.data();
  for (index_t j = 0; j < k; ++j) x[j] = static_cast<int>(kScale * xy[j * 2 + 0] + .5);
  for (index_t j = 0; j < k; ++j) y[j] = static_cast<int>(kScale * xy[j * 2 + 1] + .5);
  x[k] = x[0];
  y[k] = y[0];
  const size_t bound = static_cast<size_t>(crossings_bound(x, k, w)) + 1;  // + 1: the final h*w
  if (scratch.pos.size() < bound) {
    scratch.pos.resize(bound);
    scratch.cols.resize(bound);
  }

  CrossingCollector col{h, w, scratch.pos.data(), scratch.cols.data()};
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
      // and t + 1 (walked in reverse when flipped). v_at is monotone (each operation rounds
      // monotonically), so the step's smaller v is at t when s >= 0, else at t + 1.
      const int t_first = flip ? dx : 0, t_last = flip ? 0 : dx, lower = s < 0 ? 1 : 0;
      col.visit(xs + t_first, v_at(t_first));
      const index_t m_end = std::min<index_t>(index_t{xe} - 1, m_hi);
      index_t m = first_boundary(xs);
      for (index_t n = (m - 2) / 5; m <= m_end; m += 5, ++n)
        col.emit(n, v_at(static_cast<int>(m - xs) + lower));
      col.pu = xs + t_last;
      col.pv = v_at(t_last);
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      auto u_at = [&](int t) { return static_cast<int>(xs + s * t + .5); };
      const int t_first = flip ? dy : 0, t_last = flip ? 0 : dy;
      col.visit(u_at(t_first), t_first + ys);
      // u(t) is monotone in t (each operation rounds monotonically) and moves by at most 1
      // per point (|s| < 1), so each boundary m|m+1 is crossed at one step (t-1, t), whose
      // smaller v is t - 1 + ys. t is found from the real-valued estimate (a multiplication by
      // 1/s: it only seeds the search) and checked with the exact expression.
      const int u0 = u_at(0), u1 = u_at(dy);
      const bool increasing = u1 > u0;
      const double inv_s = u0 == u1 ? 0 : dy / static_cast<double>(xe - xs);
      const index_t m_end = std::min<index_t>(std::max(u0, u1) - 1, m_hi);
      index_t m = first_boundary(std::min(u0, u1));
      for (index_t n = (m - 2) / 5; m <= m_end; m += 5, ++n) {
        const double target = static_cast<double>(m) + .5 - xs;  // s*t crosses here
        const int estimate = static_cast<int>(std::ceil(target * inv_s));
        const int t = increasing ? first_true(estimate, dy, [&](int q) { return u_at(q) > m; })
                                 : first_true(estimate, dy, [&](int q) { return u_at(q) <= m; });
        col.emit(n, t - 1 + ys);
      }
      col.pu = u_at(t_last);
      col.pv = t_last + ys;
    }
  }

  // "compute rle encoding given y-boundary points", pycocotools' final loop, in 64-bit:
  // sort the toggle positions x*h + y, append h*w, difference, fold zero-length runs (in place:
  // the fold writes at or behind where it reads), then copy out.
  const index_t n = col.count + 1;
  index_t* d = sort_positions(col.pos, col.col, col.count, col.col_min, col.col_max);
  d[col.count] = h * w;
  index_t p = 0;
  for (index_t i = 0; i < n; ++i) {
    const index_t t = d[i];
    d[i] -= p;
    p = t;
  }
  index_t m = 1, j = 1;  // d[0] stays the first run
  while (j < n) {
    if (d[j] > 0) {
      d[m++] = d[j++];
    } else {
      ++j;  // two toggles at one pixel cancel: fold the next run into the previous one
      if (j < n) d[m - 1] += d[j++];
    }
  }
  runs = m;
  return reinterpret_cast<const rle::count_t*>(d);  // non-negative: the same bits unsigned
}

MASKPREP_TARGET_AVX2_FN const rle::count_t* to_rle_avx2(const double* xy, index_t k, index_t h,
                                                        index_t w, index_t& runs) {
  return to_rle_body(xy, k, h, w, runs);
}

const rle::count_t* to_rle_generic(const double* xy, index_t k, index_t h, index_t w,
                                   index_t& runs) {
  return to_rle_body(xy, k, h, w, runs);
}

}  // namespace

const rle::count_t* to_rle_runs(const double* xy, index_t k, index_t h, index_t w, index_t& runs) {
  return detail::dispatch_avx2([&] { return to_rle_avx2(xy, k, h, w, runs); },
                               [&] { return to_rle_generic(xy, k, h, w, runs); });
}

void to_rle(const double* xy, index_t k, index_t h, index_t w, rle::Counts& out) {
  index_t runs = 0;
  const rle::count_t* c = to_rle_runs(xy, k, h, w, runs);
  out.assign(c, c + runs);
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
