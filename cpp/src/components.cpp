// Connected components by run-based union-find (components.hpp).
#include "maskprep/components.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "parallel_for.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace maskprep::components {

namespace {

// An allocator whose resize() leaves new elements uninitialised: every run array is written in
// full by pass 1, and zeroing them first (18 MB on a 2000 x 3000 noise mask) is a wasted pass.
template <typename T>
struct NoInit : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInit<U>;
  };
  NoInit() = default;
  template <typename U>
  NoInit(const NoInit<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// The runs of one polarity (foreground or background) of a mask, with a union-find over them.
// Run indices follow raster order; parent[i] <= i always (a root is its component's first run).
// I is int32 for images below 2^31 pixels (half the memory traffic), int64 above.
template <typename I>
struct Runs {
  std::vector<I> row_begin;              // h + 1 offsets into start/end
  std::vector<I, NoInit<I>> start, end;  // [start, end) columns
  std::vector<I, NoInit<I>> parent;      // after build_runs: the component number, 0-based
  index_t count = 0;                     // components
};

template <typename I>
inline I find_root(I* parent, I i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];  // path halving keeps parent[i] <= i
    i = parent[i];
  }
  return i;
}

template <typename I>
inline void unite(I* parent, I a, I b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a < b) {
    parent[b] = a;
  } else if (b < a) {
    parent[a] = b;
  }
}

// Unions the runs [cur, cur_end) of a row with the overlapping runs [prev, prev_end) of the row
// above. Runs touch when they share a column (4-connectivity) or a corner (8: reach = 1). With
// kFresh the current row's runs are still singletons, so the first overlap links directly.
template <bool kFresh, typename I>
inline void union_rows(const I* start, const I* end, I* parent, I prev, I prev_end, I cur,
                       I cur_end, I reach) {
  I j = prev;
  for (I i = cur; i < cur_end; ++i) {
    while (j < prev_end && end[j] + reach <= start[i]) ++j;
    I k = j;
    if (kFresh && k < prev_end && start[k] < end[i] + reach) parent[i] = find_root(parent, k++);
    for (; k < prev_end && start[k] < end[i] + reach; ++k) unite(parent, i, k);
  }
}

// Bit x % 64 of bits[x / 64] is set where row[x] is of polarity kForeground; bits past w are 0.
// Run boundaries then come from word-wide shifts, one unpredictable branch per word instead of
// one per run (noise has a run boundary every two pixels).
template <bool kForeground>
inline void row_bits(const byte_t* row, index_t w, std::uint64_t* bits) {
  index_t x = 0, k = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; x + 64 <= w; x += 64, ++k) {
    std::uint64_t z = 0;
    for (int q = 0; q < 4; ++q) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x + 16 * q));
      const auto m = static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)));
      z |= std::uint64_t{m} << (16 * q);
    }
    bits[k] = kForeground ? ~z : z;
  }
#endif
  for (; x < w; x += 64, ++k) {
    std::uint64_t b = 0;
    const index_t n = std::min<index_t>(64, w - x);
    for (index_t j = 0; j < n; ++j) b |= std::uint64_t{(row[x + j] != 0) == kForeground} << j;
    bits[k] = b;
  }
}

// Bit scans (C++17 has no <bit>); the fallbacks keep non-GNU compilers correct, not fast.
inline int lowest_bit(std::uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(m);
#else
  int n = 0;
  for (; !(m & 1); m >>= 1) ++n;
  return n;
#endif
}

inline int bit_count(std::uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_popcountll(m);
#else
  int n = 0;
  for (; m; m &= m - 1) ++n;
  return n;
#endif
}

// Run starts (bit x: a run begins at x) and ends (bit x: a run ends just before x) of one word,
// given the previous word's top bit.
inline std::uint64_t run_starts(std::uint64_t b, std::uint64_t carry) {
  return b & ~((b << 1) | carry);
}
inline std::uint64_t run_ends(std::uint64_t b, std::uint64_t carry) {
  return ~b & ((b << 1) | carry);
}

template <typename I>
inline I put_bits(std::uint64_t m, I base, I* out, I i) {
  for (; m; m &= m - 1) out[i++] = base + static_cast<I>(lowest_bit(m));
  return i;
}

// Extracts the runs of polarity kForeground and unions them (pass 1). Bands of rows run in
// parallel: count the runs of each row, place them at their final (prefix-sum) positions, union
// within the band; then the band borders are unioned serially and the components numbered.
template <typename I, bool kForeground>
Runs<I> build_runs(const byte_t* mask, index_t h, index_t w, int connectivity, int num_threads) {
  const I reach = connectivity == 8 ? 1 : 0;
  const int threads = std::max(1, threads_for_work(num_threads, h * w, kMinBytesPerThread));
  // Eight bands per thread, taken dynamically: a thread that starts late (a busy machine) finds
  // the work done instead of holding back its fixed half. The numbering is canonical, so the
  // band count changes nothing in the result.
  const index_t n_bands = threads == 1 ? 1 : std::min<index_t>(h, index_t{8} * threads);
  Runs<I> runs;
  runs.row_begin.assign(static_cast<size_t>(h) + 1, 0);
  I* row_begin = runs.row_begin.data();
  const index_t words = (w + 63) / 64;
  std::vector<std::uint64_t, NoInit<std::uint64_t>> bitmap(static_cast<size_t>(h * words));
  parallel_for(
      h, threads,
      [&](index_t r) {
        std::uint64_t* bits = bitmap.data() + r * words;
        row_bits<kForeground>(mask + r * w, w, bits);
        index_t c = 0;
        for (index_t k = 0; k < words; ++k) {
          c += bit_count(run_starts(bits[k], k ? bits[k - 1] >> 63 : 0));
        }
        row_begin[r + 1] = static_cast<I>(c);
      },
      64);
  for (index_t r = 0; r < h; ++r) row_begin[r + 1] += row_begin[r];
  const size_t n_runs = static_cast<size_t>(row_begin[h]);
  runs.start.resize(n_runs);
  runs.end.resize(n_runs);
  runs.parent.resize(n_runs);
  I* start = runs.start.data();
  I* end = runs.end.data();
  I* parent = runs.parent.data();
  parallel_for(n_bands, threads, [&](index_t b) {
    const index_t r0 = h * b / n_bands, r1 = h * (b + 1) / n_bands;
    for (index_t r = r0; r < r1; ++r) {
      const std::uint64_t* bits = bitmap.data() + r * words;
      I i = row_begin[r], j = row_begin[r];
      std::uint64_t carry = 0;
      for (index_t k = 0; k < words; ++k) {
        const I base = static_cast<I>(64 * k);
        i = put_bits(run_starts(bits[k], carry), base, start, i);
        j = put_bits(run_ends(bits[k], carry), base, end, j);
        carry = bits[k] >> 63;
      }
      // A run still open after the last word ends at w (only when w % 64 == 0).
      if (carry) end[j] = static_cast<I>(w);
      for (I k = row_begin[r]; k < row_begin[r + 1]; ++k) parent[k] = k;
      if (r > r0) {
        union_rows<true>(start, end, parent, row_begin[r - 1], row_begin[r], row_begin[r],
                         row_begin[r + 1], reach);
      }
    }
  });
  for (index_t b = 1; b < n_bands; ++b) {
    const index_t r = h * b / n_bands;
    union_rows<false>(start, end, parent, row_begin[r - 1], row_begin[r], row_begin[r],
                      row_begin[r + 1], reach);
  }
  // Ascending sweep: a root opens the next component; any other run takes its parent's number,
  // already final because parent[i] < i.
  I n = 0;
  for (size_t i = 0; i < n_runs; ++i) {
    parent[i] = parent[i] == static_cast<I>(i) ? n++ : parent[parent[i]];
  }
  runs.count = n;
  return runs;
}

template <typename I>
std::vector<index_t> areas(const Runs<I>& runs) {
  std::vector<index_t> area(static_cast<size_t>(runs.count), 0);
  for (size_t i = 0; i < runs.start.size(); ++i)
    area[runs.parent[i]] += runs.end[i] - runs.start[i];
  return area;
}

// Writes out[0, n) = v, where out[n, room) may be overwritten too (the caller writes it next).
// Runs of noisy masks are a few pixels long: one fixed 32-byte store per run then costs no
// mispredicted loop exit, and std::fill is left for the long runs.
template <typename T>
inline void put(T* out, index_t n, index_t room, T v) {
  constexpr index_t kChunk = 32 / sizeof(T);
  if (n <= kChunk && room >= kChunk) {
    T chunk[kChunk];
    for (index_t k = 0; k < kChunk; ++k) chunk[k] = v;
    std::memcpy(out, chunk, sizeof(chunk));
  } else {
    std::fill(out, out + n, v);
  }
}

// Writes every row of out (h x w) once, left to right: `fill` between runs and over runs of a
// component c for which paint(c, v) is false, else v. Rows in parallel; a store never crosses
// its row (another thread may own the next).
template <typename I, typename T, typename Paint>
void paint_rows(const Runs<I>& runs, index_t h, index_t w, T fill, Paint&& paint, T* out,
                int num_threads) {
  const int threads = threads_for_work(num_threads, h * w * index_t(sizeof(T)), kMinBytesPerThread);
  parallel_for(
      h, threads,
      [&](index_t r) {
        T* row = out + r * w;
        index_t x = 0;
        for (I i = runs.row_begin[r]; i < runs.row_begin[r + 1]; ++i) {
          T v;
          if (!paint(runs.parent[i], v)) continue;  // stays `fill`, written with the next gap
          const index_t s = runs.start[i];
          put(row + x, s - x, w - x, fill);
          put(row + s, runs.end[i] - s, w - s, v);
          x = runs.end[i];
        }
        std::fill(row + x, row + w, fill);
      },
      64);
}

template <typename I>
index_t label_impl(const byte_t* mask, index_t h, index_t w, int connectivity, std::int32_t* labels,
                   Stats* stats, int num_threads) {
  const Runs<I> runs = build_runs<I, true>(mask, h, w, connectivity, num_threads);
  MASKPREP_CHECK(runs.count <= std::numeric_limits<std::int32_t>::max(),
                 "too many components for int32 labels: ", runs.count);
  paint_rows<I, std::int32_t>(
      runs, h, w, 0,
      [](I c, std::int32_t& v) {
        v = static_cast<std::int32_t>(c + 1);
        return true;
      },
      labels, num_threads);
  if (!stats) return runs.count;
  const size_t n = static_cast<size_t>(runs.count);
  // One cache line per component: noisy masks have millions of runs in near-raster order.
  // x0/x1 start empty and y0 comes from a select, not a branch on the component's first run.
  struct Acc {
    index_t area = 0, sum_x = 0, sum_y = 0;
    index_t x0 = std::numeric_limits<index_t>::max(), x1 = -1, y0 = 0, y1 = 0;
  };
  std::vector<Acc> acc(n);
  const I* start = runs.start.data();
  const I* end = runs.end.data();
  const I* comp = runs.parent.data();
  // Consecutive runs of one component (on noise: mostly the spanning one) are summed in
  // registers, so the read-modify-write chain through acc[] is paid once per change of component.
  Acc cur;
  I cur_c = -1;  // none yet
  auto flush = [&] {
    Acc& c = acc[static_cast<size_t>(cur_c)];
    c.y0 = c.area == 0 ? cur.y0 : c.y0;  // the component's first run (raster order)
    c.area += cur.area;
    c.sum_x += cur.sum_x;
    c.sum_y += cur.sum_y;
    c.x0 = std::min(c.x0, cur.x0);
    c.x1 = std::max(c.x1, cur.x1);
    c.y1 = cur.y1;  // rows ascend
  };
  for (index_t r = 0; r < h; ++r) {
    const I last = runs.row_begin[r + 1];
    for (I i = runs.row_begin[r]; i < last; ++i) {
      if (comp[i] != cur_c) {
        if (cur_c >= 0) flush();
        cur = Acc{};
        cur.y0 = r;
        cur_c = comp[i];
      }
      const index_t s = start[i], e = end[i], len = e - s;
      cur.area += len;
      cur.sum_x += (s + e - 1) * len / 2;  // s + (s+1) + ... + (e-1)
      cur.sum_y += r * len;
      cur.x0 = std::min(cur.x0, s);
      cur.x1 = std::max(cur.x1, e - 1);
      cur.y1 = r;
    }
  }
  if (cur_c >= 0) flush();
  stats->area.resize(n);
  stats->bbox.resize(4 * n);
  stats->centroid.resize(2 * n);
  for (size_t k = 0; k < n; ++k) {
    const Acc& c = acc[k];
    stats->area[k] = c.area;
    stats->bbox[4 * k + 0] = c.x0;
    stats->bbox[4 * k + 1] = c.y0;
    stats->bbox[4 * k + 2] = c.x1 - c.x0 + 1;
    stats->bbox[4 * k + 3] = c.y1 - c.y0 + 1;
    // cv2 sums coordinates in doubles (exact below 2^53) and divides once: same result.
    const double a = static_cast<double>(c.area);
    stats->centroid[2 * k + 0] = static_cast<double>(c.sum_x) / a;
    stats->centroid[2 * k + 1] = static_cast<double>(c.sum_y) / a;
  }
  return runs.count;
}

// Holes (background not 4-connected to the border) of at most max_size pixels become
// foreground; max_size < 0: all of them.
template <typename I>
void fill_holes_impl(const byte_t* mask, index_t h, index_t w, index_t max_size, byte_t* out,
                     int num_threads) {
  const Runs<I> bg = build_runs<I, false>(mask, h, w, 4, num_threads);
  std::vector<char> keep(static_cast<size_t>(bg.count), 0);  // stays background
  for (index_t r = 0; r < h; ++r) {
    const bool edge_row = r == 0 || r == h - 1;
    for (I i = bg.row_begin[r]; i < bg.row_begin[r + 1]; ++i) {
      if (edge_row || bg.start[i] == 0 || bg.end[i] == w) keep[bg.parent[i]] = 1;
    }
  }
  if (max_size >= 0) {
    const std::vector<index_t> area = areas(bg);
    for (size_t c = 0; c < keep.size(); ++c) keep[c] = keep[c] || area[c] > max_size;
  }
  paint_rows<I, byte_t>(
      bg, h, w, 1,
      [&](I c, byte_t& v) {
        v = 0;
        return keep[c] != 0;
      },
      out, num_threads);
}

// remove_small_objects (kForeground) / remove_small_holes: components of polarity kForeground
// with at most max_size pixels take the other value.
template <typename I, bool kForeground>
void remove_small_impl(const byte_t* mask, index_t h, index_t w, index_t max_size, int connectivity,
                       byte_t* out, int num_threads) {
  const Runs<I> runs = build_runs<I, kForeground>(mask, h, w, connectivity, num_threads);
  const std::vector<index_t> area = areas(runs);
  paint_rows<I, byte_t>(
      runs, h, w, kForeground ? 0 : 1,
      [&](I c, byte_t& v) {
        v = kForeground ? 1 : 0;
        return area[c] > max_size;
      },
      out, num_threads);
}

// int32 run indices and columns when every count fits (fewer than 2^31 pixels).
bool small(index_t h, index_t w) {
  return w < std::numeric_limits<std::int32_t>::max() &&
         h * w < std::numeric_limits<std::int32_t>::max();
}

void check_size(index_t h, index_t w) {
  MASKPREP_CHECK(h >= 0 && w >= 0, "mask size must be non-negative, got ", h, " x ", w);
}

}  // namespace

void check_connectivity(int connectivity) {
  MASKPREP_CHECK(connectivity == 4 || connectivity == 8, "connectivity must be 4 or 8, got ",
                 connectivity);
}

namespace {

template <bool kForeground>
void remove_small(const byte_t* mask, index_t h, index_t w, index_t max_size, int connectivity,
                  byte_t* out, int num_threads) {
  check_connectivity(connectivity);
  check_size(h, w);
  MASKPREP_CHECK(max_size >= 0, "max_size must be >= 0, got ", max_size);
  if (h == 0 || w == 0) return;
  if (small(h, w)) {
    remove_small_impl<std::int32_t, kForeground>(mask, h, w, max_size, connectivity, out,
                                                 num_threads);
  } else {
    remove_small_impl<index_t, kForeground>(mask, h, w, max_size, connectivity, out, num_threads);
  }
}

}  // namespace

index_t label(const byte_t* mask, index_t h, index_t w, int connectivity, std::int32_t* labels,
              Stats* stats, int num_threads) {
  check_connectivity(connectivity);
  check_size(h, w);
  if (h == 0 || w == 0) {
    if (stats) *stats = Stats{};
    return 0;
  }
  return small(h, w)
             ? label_impl<std::int32_t>(mask, h, w, connectivity, labels, stats, num_threads)
             : label_impl<index_t>(mask, h, w, connectivity, labels, stats, num_threads);
}

void fill_holes(const byte_t* mask, index_t h, index_t w, byte_t* out, int num_threads,
                index_t max_size) {
  check_size(h, w);
  if (h == 0 || w == 0) return;
  if (small(h, w)) {
    fill_holes_impl<std::int32_t>(mask, h, w, max_size, out, num_threads);
  } else {
    fill_holes_impl<index_t>(mask, h, w, max_size, out, num_threads);
  }
}

void remove_small_objects(const byte_t* mask, index_t h, index_t w, index_t max_size,
                          int connectivity, byte_t* out, int num_threads) {
  remove_small<true>(mask, h, w, max_size, connectivity, out, num_threads);
}

void remove_small_holes(const byte_t* mask, index_t h, index_t w, index_t max_size,
                        int connectivity, byte_t* out, int num_threads) {
  remove_small<false>(mask, h, w, max_size, connectivity, out, num_threads);
}

}  // namespace maskprep::components
