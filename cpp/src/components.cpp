// Connected components by run-based union-find (components.hpp).
#include "maskprep/components.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "maskprep/byte_scan.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep::components {

namespace {

// The runs of one polarity (foreground or background) of a mask, with a union-find over them.
// Run indices follow raster order; parent[i] <= i always (a root is its component's first run).
struct Runs {
  std::vector<index_t> row_begin;  // h + 1 offsets into start/end
  std::vector<index_t> start, end;  // [start, end) columns
  std::vector<index_t> parent;      // after number(): the component number, 0-based
  index_t count = 0;                // components, after number()
};

inline index_t find_root(std::vector<index_t>& parent, index_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];  // path halving keeps parent[i] <= i
    i = parent[i];
  }
  return i;
}

inline void unite(std::vector<index_t>& parent, index_t a, index_t b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a < b) {
    parent[b] = a;
  } else if (b < a) {
    parent[a] = b;
  }
}

// Unions the runs [cur, cur_end) of a row with the overlapping runs [prev, prev_end) of the row
// above. Runs touch when they share a column (4-connectivity) or a corner (8: reach = 1).
inline void union_rows(const index_t* start, const index_t* end, std::vector<index_t>& parent,
                       index_t prev, index_t prev_end, index_t cur, index_t cur_end,
                       index_t reach) {
  index_t j = prev;
  for (index_t i = cur; i < cur_end; ++i) {
    while (j < prev_end && end[j] + reach <= start[i]) ++j;
    for (index_t k = j; k < prev_end && start[k] < end[i] + reach; ++k) unite(parent, i, k);
  }
}

// Extracts the runs of polarity kForeground and unions them (pass 1). Bands of rows run in
// parallel with band-local indices, are concatenated, and their borders are unioned serially.
template <bool kForeground>
Runs build_runs(const byte_t* mask, index_t h, index_t w, int connectivity, int num_threads) {
  const index_t reach = connectivity == 8 ? 1 : 0;
  const int bands = std::max(1, threads_for_work(num_threads, h * w, kMinBytesPerThread));
  const index_t n_bands = std::min<index_t>(bands, std::max<index_t>(h, 1));
  struct Band {
    std::vector<index_t> row_count, start, end, parent;
  };
  std::vector<Band> part(static_cast<size_t>(n_bands));
  parallel_for(n_bands, static_cast<int>(n_bands), [&](index_t b) {
    const index_t r0 = h * b / n_bands, r1 = h * (b + 1) / n_bands;
    Band& band = part[static_cast<size_t>(b)];
    band.row_count.assign(static_cast<size_t>(r1 - r0), 0);
    index_t prev = 0;
    for (index_t r = r0; r < r1; ++r) {
      const byte_t* row = mask + r * w;
      const index_t cur = static_cast<index_t>(band.start.size());
      for (index_t x = 0; x < w;) {
        x = detail::find_next<kForeground>(row, x, w);
        if (x >= w) break;
        const index_t s = x;
        x = detail::find_next<!kForeground>(row, x, w);
        band.start.push_back(s);
        band.end.push_back(x);
        band.parent.push_back(static_cast<index_t>(band.parent.size()));
      }
      const index_t cur_end = static_cast<index_t>(band.start.size());
      band.row_count[static_cast<size_t>(r - r0)] = cur_end - cur;
      if (r > r0) {
        union_rows(band.start.data(), band.end.data(), band.parent, prev, cur, cur, cur_end,
                   reach);
      }
      prev = cur;
    }
  });

  Runs runs;
  std::vector<index_t> offset(static_cast<size_t>(n_bands) + 1, 0);
  for (index_t b = 0; b < n_bands; ++b) {
    offset[b + 1] = offset[b] + static_cast<index_t>(part[b].start.size());
  }
  const index_t n_runs = offset[n_bands];
  runs.start.resize(static_cast<size_t>(n_runs));
  runs.end.resize(static_cast<size_t>(n_runs));
  runs.parent.resize(static_cast<size_t>(n_runs));
  runs.row_begin.resize(static_cast<size_t>(h) + 1);
  parallel_for(n_bands, static_cast<int>(n_bands), [&](index_t b) {
    const Band& band = part[static_cast<size_t>(b)];
    const index_t off = offset[b];
    std::copy(band.start.begin(), band.start.end(), runs.start.begin() + off);
    std::copy(band.end.begin(), band.end.end(), runs.end.begin() + off);
    for (size_t i = 0; i < band.parent.size(); ++i) runs.parent[off + i] = band.parent[i] + off;
    index_t pos = off;
    const index_t r0 = h * b / n_bands;
    for (size_t r = 0; r < band.row_count.size(); ++r) {
      runs.row_begin[static_cast<size_t>(r0) + r] = pos;
      pos += band.row_count[r];
    }
  });
  runs.row_begin[static_cast<size_t>(h)] = n_runs;
  for (index_t b = 1; b < n_bands; ++b) {
    const index_t r = h * b / n_bands;
    union_rows(runs.start.data(), runs.end.data(), runs.parent, runs.row_begin[r - 1],
               runs.row_begin[r], runs.row_begin[r], runs.row_begin[r + 1], reach);
  }
  // Ascending sweep: a root opens the next component; any other run takes its parent's number,
  // already final because parent[i] < i.
  index_t n = 0;
  for (index_t i = 0; i < n_runs; ++i) {
    runs.parent[i] = runs.parent[i] == i ? n++ : runs.parent[runs.parent[i]];
  }
  runs.count = n;
  return runs;
}

std::vector<index_t> areas(const Runs& runs) {
  std::vector<index_t> area(static_cast<size_t>(runs.count), 0);
  for (size_t i = 0; i < runs.start.size(); ++i) area[runs.parent[i]] += runs.end[i] - runs.start[i];
  return area;
}

// Writes every row of out (h x w): `fill` everywhere, then `run_value` over the runs for which
// paint(component) is true. Rows in parallel.
template <typename T, typename Paint>
void paint_rows(const Runs& runs, index_t h, index_t w, T fill, Paint&& paint, T* out,
                int num_threads) {
  const int threads = threads_for_work(num_threads, h * w * index_t(sizeof(T)), kMinBytesPerThread);
  parallel_for(
      h, threads,
      [&](index_t r) {
        T* row = out + r * w;
        std::fill(row, row + w, fill);
        for (index_t i = runs.row_begin[r]; i < runs.row_begin[r + 1]; ++i) {
          const index_t c = runs.parent[i];
          T v;
          if (paint(c, v)) std::fill(row + runs.start[i], row + runs.end[i], v);
        }
      },
      64);
}

void check_size(index_t h, index_t w) {
  MASKPREP_CHECK(h >= 0 && w >= 0, "mask size must be non-negative, got ", h, " x ", w);
}

}  // namespace

void check_connectivity(int connectivity) {
  MASKPREP_CHECK(connectivity == 4 || connectivity == 8, "connectivity must be 4 or 8, got ",
                 connectivity);
}

index_t label(const byte_t* mask, index_t h, index_t w, int connectivity, std::int32_t* labels,
              Stats* stats, int num_threads) {
  check_connectivity(connectivity);
  check_size(h, w);
  Runs runs = build_runs<true>(mask, h, w, connectivity, num_threads);
  MASKPREP_CHECK(runs.count <= std::numeric_limits<std::int32_t>::max(),
                 "too many components for int32 labels: ", runs.count);
  paint_rows<std::int32_t>(
      runs, h, w, 0,
      [](index_t c, std::int32_t& v) {
        v = static_cast<std::int32_t>(c + 1);
        return true;
      },
      labels, num_threads);
  if (stats) {
    const size_t n = static_cast<size_t>(runs.count);
    std::vector<index_t> sum_x(n, 0), sum_y(n, 0), x0(n, w), y0(n, h), x1(n, -1), y1(n, -1);
    stats->area.assign(n, 0);
    for (index_t r = 0; r < h; ++r) {
      for (index_t i = runs.row_begin[r]; i < runs.row_begin[r + 1]; ++i) {
        const size_t c = static_cast<size_t>(runs.parent[i]);
        const index_t s = runs.start[i], e = runs.end[i], len = e - s;
        stats->area[c] += len;
        sum_x[c] += (s + e - 1) * len / 2;  // s + (s+1) + ... + (e-1)
        sum_y[c] += r * len;
        x0[c] = std::min(x0[c], s);
        x1[c] = std::max(x1[c], e - 1);
        y0[c] = std::min(y0[c], r);
        y1[c] = std::max(y1[c], r);
      }
    }
    stats->bbox.resize(4 * n);
    stats->centroid.resize(2 * n);
    for (size_t c = 0; c < n; ++c) {
      stats->bbox[4 * c + 0] = x0[c];
      stats->bbox[4 * c + 1] = y0[c];
      stats->bbox[4 * c + 2] = x1[c] - x0[c] + 1;
      stats->bbox[4 * c + 3] = y1[c] - y0[c] + 1;
      // cv2 sums coordinates in doubles (exact below 2^53) and divides once: same result.
      const double a = static_cast<double>(stats->area[c]);
      stats->centroid[2 * c + 0] = static_cast<double>(sum_x[c]) / a;
      stats->centroid[2 * c + 1] = static_cast<double>(sum_y[c]) / a;
    }
  }
  return runs.count;
}

void fill_holes(const byte_t* mask, index_t h, index_t w, byte_t* out, int num_threads) {
  check_size(h, w);
  const Runs bg = build_runs<false>(mask, h, w, 4, num_threads);
  std::vector<char> open(static_cast<size_t>(bg.count), 0);  // touches the border
  for (index_t r = 0; r < h; ++r) {
    const bool edge_row = r == 0 || r == h - 1;
    for (index_t i = bg.row_begin[r]; i < bg.row_begin[r + 1]; ++i) {
      if (edge_row || bg.start[i] == 0 || bg.end[i] == w) open[bg.parent[i]] = 1;
    }
  }
  paint_rows<byte_t>(
      bg, h, w, 1,
      [&](index_t c, byte_t& v) {
        v = 0;
        return open[c] != 0;
      },
      out, num_threads);
}

void remove_small_objects(const byte_t* mask, index_t h, index_t w, index_t max_size,
                          int connectivity, byte_t* out, int num_threads) {
  check_connectivity(connectivity);
  check_size(h, w);
  MASKPREP_CHECK(max_size >= 0, "max_size must be >= 0, got ", max_size);
  const Runs fg = build_runs<true>(mask, h, w, connectivity, num_threads);
  const std::vector<index_t> area = areas(fg);
  paint_rows<byte_t>(
      fg, h, w, 0,
      [&](index_t c, byte_t& v) {
        v = 1;
        return area[c] > max_size;
      },
      out, num_threads);
}

void remove_small_holes(const byte_t* mask, index_t h, index_t w, index_t max_size,
                        int connectivity, byte_t* out, int num_threads) {
  check_connectivity(connectivity);
  check_size(h, w);
  MASKPREP_CHECK(max_size >= 0, "max_size must be >= 0, got ", max_size);
  const Runs bg = build_runs<false>(mask, h, w, connectivity, num_threads);
  const std::vector<index_t> area = areas(bg);
  paint_rows<byte_t>(
      bg, h, w, 1,
      [&](index_t c, byte_t& v) {
        v = 0;
        return area[c] > max_size;
      },
      out, num_threads);
}

}  // namespace maskprep::components
