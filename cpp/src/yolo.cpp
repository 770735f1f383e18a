// YOLO segmentation label lines (yolo.hpp): the part join and the fixed-point text.
#include "maskprep/yolo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "maskprep/polygon.hpp"
#include "maskprep/rle.hpp"
#include "maskprep/segmentation.hpp"
#include "parallel_for.hpp"

namespace maskprep::yolo {

namespace {

index_t decimal_digits(std::int64_t v) {
  index_t d = 1;
  for (; v >= 10; v /= 10) ++d;
  return d;
}

index_t joined_points(const index_t* part_points, index_t parts) {
  index_t total = 0;
  for (index_t i = 0; i < parts; ++i) total += part_points[i];
  return parts == 1 ? total : total + parts + (parts - 2);
}

// One part of an object: its points, rotated (and maybe reversed) as the join walks it.
struct Part {
  const double* xy = nullptr;
  index_t len = 0;
  bool reversed = false;
  index_t shift = 0;
  // Point j of the rotated part closed by its first point again (j in [0, len]).
  const double* point(index_t j) const {
    index_t m = (j + shift) % len;
    if (reversed) m = len - 1 - m;
    return xy + 2 * m;
  }
};

// (a, b): the first closest pair of points of p and q, row-major (numpy's argmin).
void closest_pair(const Part& p, const Part& q, index_t* a, index_t* b) {
  double best = 0;
  *a = *b = 0;
  for (index_t i = 0; i < p.len; ++i) {
    const double px = p.xy[2 * i], py = p.xy[2 * i + 1];
    for (index_t j = 0; j < q.len; ++j) {
      const double dx = px - q.xy[2 * j], dy = py - q.xy[2 * j + 1];
      const double d = dx * dx + dy * dy;
      if ((i == 0 && j == 0) || d < best) best = d, *a = i, *b = j;
    }
  }
}

// Writes "CLASS x y ...\n" for one object's points (emitted by `walk`), returns whether none
// was clamped.
class LineWriter {
 public:
  LineWriter(char* out, double width, double height) : out_(out), scale_{width, height} {}

  void write_class(std::int64_t cls) {
    char digits[20];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + cls % 10), cls /= 10;
    while (cls > 0);
    while (n > 0) *out_++ = digits[--n];
    *out_++ = ' ';
  }

  void write_point(const double* p) {
    for (int k = 0; k < 2; ++k) {
      if (any_) *out_++ = ' ';
      any_ = true;
      double v = p[k] / scale_[k];
      if (!(v >= 0.0 && v <= 1.0)) {
        inside_ = false;
        v = std::isnan(v) || v < 0.0 ? 0.0 : 1.0;
      }
      // numpy's rint: the current rounding mode, to nearest even by default
      auto q = static_cast<std::int64_t>(std::nearbyint(v * 1e6));
      out_[0] = static_cast<char>('0' + q / 1000000);
      out_[1] = '.';
      q %= 1000000;
      for (int d = 7; d > 1; --d) out_[d] = static_cast<char>('0' + q % 10), q /= 10;
      out_ += 8;
    }
  }

  bool finish() {
    *out_++ = '\n';
    return inside_;
  }

 private:
  char* out_;
  double scale_[2];
  bool any_ = false;
  bool inside_ = true;
};

// The join of `parts` (ultralytics' merge_multi_segment), each point handed to `emit`.
template <typename Emit>
void walk(std::vector<Part>& parts, std::vector<index_t>& links, Emit&& emit) {
  const index_t k = static_cast<index_t>(parts.size());
  if (k == 1) {
    for (index_t j = 0; j < parts[0].len; ++j) emit(parts[0].xy + 2 * j);
    return;
  }
  // links[2 i] / links[2 i + 1]: part i's vertex linked to part i - 1 / part i + 1
  links.assign(static_cast<std::size_t>(2 * k), 0);
  for (index_t i = 1; i < k; ++i)
    closest_pair(parts[i - 1], parts[i], &links[2 * i - 1], &links[2 * i]);
  std::vector<index_t> span(static_cast<std::size_t>(k), 0);
  for (index_t i = 0; i < k; ++i) {
    Part& p = parts[i];
    const bool middle = i > 0 && i < k - 1;
    index_t first = i == 0 ? links[1] : links[2 * i];
    if (middle) {
      index_t second = links[2 * i + 1];
      if (first > second) p.reversed = true, first = p.len - 1 - first, second = p.len - 1 - second;
      span[i] = second - first;
    }
    p.shift = first;
    const index_t end = middle ? span[i] : p.len;
    for (index_t j = 0; j <= end; ++j) emit(p.point(j));
  }
  for (index_t i = k - 2; i > 0; --i) {
    for (index_t j = span[i]; j <= parts[i].len; ++j) emit(parts[i].point(j));
  }
}

}  // namespace

index_t label_line_offsets(const index_t* part_points, index_t n_parts, index_t n_points,
                           const index_t* object_parts, const std::int64_t* classes, index_t n,
                           index_t* part_start, index_t* point_start, bool starts_given,
                           index_t* offsets) {
  MASKPREP_CHECK(n >= 0 && n_parts >= 0 && n_points >= 0, "counts must be >= 0");
  index_t points = 0;
  for (index_t p = 0; p < n_parts; ++p) {
    MASKPREP_CHECK(part_points[p] >= 1, "part_points must be >= 1, got ", part_points[p], " at ",
                   p);
    points = detail::checked_add("part_points", points, part_points[p]);
  }
  if (!starts_given)
    MASKPREP_CHECK(points == n_points, "part_points must add up to the ", n_points,
                   " points of xy, got ", points);
  index_t part = 0, point = 0, total = 0;
  offsets[0] = 0;
  for (index_t k = 0; k < n; ++k) {
    MASKPREP_CHECK(object_parts[k] >= 1, "object_parts must be >= 1, got ", object_parts[k], " at ",
                   k);
    if (starts_given) {
      part = part_start[k];
      point = point_start[k];
      MASKPREP_CHECK(part >= 0 && object_parts[k] <= n_parts - part, "part_start[", k, "] = ", part,
                     " and object_parts[", k, "] = ", object_parts[k], " must lie within the ",
                     n_parts, " parts of part_points");
    } else {
      MASKPREP_CHECK(object_parts[k] <= n_parts - part, "object_parts must add up to the ", n_parts,
                     " parts of part_points, got more");
      part_start[k] = part;
      point_start[k] = point;
    }
    MASKPREP_CHECK(classes[k] >= 0, "classes must be >= 0, got ", classes[k], " at ", k);
    index_t own = 0;  // the object's own points (at most `points`: no overflow)
    for (index_t i = 0; i < object_parts[k]; ++i) own += part_points[part + i];
    if (starts_given)
      MASKPREP_CHECK(point >= 0 && own <= n_points - point, "point_start[", k, "] = ", point,
                     " and its object's ", own, " points must lie within the ", n_points,
                     " points of xy");
    const index_t pts = joined_points(part_points + part, object_parts[k]);
    part += object_parts[k];
    point += own;
    // "CLASS " + 9 bytes per coordinate, the last one's space being the newline
    const index_t line =
        detail::checked_add("line", decimal_digits(classes[k]) + 1,
                            detail::checked_size("line", pts, 18) + (pts == 0 ? 1 : 0));
    total = detail::checked_add("text", total, line);
    offsets[k + 1] = total;
  }
  if (!starts_given)
    MASKPREP_CHECK(part == n_parts, "object_parts must add up to the ", n_parts,
                   " parts of part_points, got ", part);
  return total;
}

void write_label_lines(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const index_t* part_start, const index_t* point_start,
                       const std::int64_t* classes, const double* sizes, index_t n,
                       const index_t* offsets, char* out, std::uint8_t* inside, int num_threads) {
  const int threads = threads_for_work(num_threads, offsets[n], kMinBytesPerThread);
  parallel_for(
      n, threads,
      [&](index_t k) {
        std::vector<Part> parts(static_cast<std::size_t>(object_parts[k]));
        const double* p = xy + 2 * point_start[k];
        for (index_t i = 0; i < object_parts[k]; ++i) {
          parts[i].xy = p;
          parts[i].len = part_points[part_start[k] + i];
          p += 2 * parts[i].len;
        }
        std::vector<index_t> links;
        LineWriter line(out + offsets[k], sizes[2 * k], sizes[2 * k + 1]);
        line.write_class(classes[k]);
        walk(parts, links, [&](const double* point) { line.write_point(point); });
        inside[k] = line.finish() ? 1 : 0;
      },
      64);
}

void overlapping_parts(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const index_t* part_start, const index_t* point_start, const index_t* sizes,
                       index_t n, std::uint8_t* out, int num_threads) {
  parallel_for(
      n, threads_for_work(num_threads, n, 16),
      [&](index_t k) {
        out[k] = 0;
        const index_t parts = object_parts[k];
        if (parts < 2) return;
        const index_t h = sizes[2 * k], w = sizes[2 * k + 1];
        try {
          polygon::check_grid(h, w);  // as the general path, which rasterizes every such object
        } catch (const std::invalid_argument&) {
          out[k] = 2;
          return;
        }
        const double* base = xy + 2 * point_start[k];
        std::vector<index_t> offsets(static_cast<std::size_t>(parts) + 1, 0);  // in values
        std::vector<double> box(static_cast<std::size_t>(4 * parts));  // x0 y0 x1 y1, widened
        for (index_t i = 0; i < parts; ++i) {
          const index_t len = part_points[part_start[k] + i];
          offsets[i + 1] = offsets[i] + 2 * len;
          if (!polygon::check(base + offsets[i], 2 * len).empty()) {
            out[k] = 2;
            return;
          }
          double* b = &box[4 * i];
          b[0] = b[2] = base[offsets[i]];
          b[1] = b[3] = base[offsets[i] + 1];
          for (index_t j = 1; j < len; ++j) {
            const double x = base[offsets[i] + 2 * j], y = base[offsets[i] + 2 * j + 1];
            b[0] = std::min(b[0], x), b[2] = std::max(b[2], x);
            b[1] = std::min(b[1], y), b[3] = std::max(b[3], y);
          }
          b[0] -= 2, b[1] -= 2, b[2] += 2, b[3] += 2;
        }
        bool disjoint = true;
        for (index_t i = 0; i < parts && disjoint; ++i) {
          for (index_t j = i + 1; j < parts && disjoint; ++j) {
            const double* a = &box[4 * i];
            const double* b = &box[4 * j];
            disjoint = a[2] < b[0] || b[2] < a[0] || a[3] < b[1] || b[3] < a[1];
          }
        }
        if (disjoint) return;
        rle::Counts counts;
        rle::count_t sum = 0;
        for (index_t i = 0; i < parts; ++i) {
          polygon::to_rle(base + offsets[i], (offsets[i + 1] - offsets[i]) / 2, h, w, counts);
          sum += rle::area(counts);
        }
        segmentation::Object object;
        object.h = h;
        object.w = w;
        object.poly_end = parts;
        segmentation::polygons_to_rle(object, base, offsets.data(), counts);
        out[k] = rle::area(counts) < sum ? 1 : 0;
      },
      1);
}

}  // namespace maskprep::yolo
