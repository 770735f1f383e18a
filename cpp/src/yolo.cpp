// YOLO segmentation label lines (yolo.hpp): the part join and the fixed-point text.
#include "maskprep/yolo.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

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
                           index_t* offsets) {
  MASKPREP_CHECK(n >= 0 && n_parts >= 0 && n_points >= 0, "counts must be >= 0");
  index_t points = 0;
  for (index_t p = 0; p < n_parts; ++p) {
    MASKPREP_CHECK(part_points[p] >= 1, "part_points must be >= 1, got ", part_points[p], " at ",
                   p);
    points = detail::checked_add("part_points", points, part_points[p]);
  }
  MASKPREP_CHECK(points == n_points, "part_points must add up to the ", n_points,
                 " points of xy, got ", points);
  index_t part = 0, total = 0;
  offsets[0] = 0;
  for (index_t k = 0; k < n; ++k) {
    MASKPREP_CHECK(object_parts[k] >= 1, "object_parts must be >= 1, got ", object_parts[k], " at ",
                   k);
    MASKPREP_CHECK(object_parts[k] <= n_parts - part, "object_parts must add up to the ", n_parts,
                   " parts of part_points, got more");
    MASKPREP_CHECK(classes[k] >= 0, "classes must be >= 0, got ", classes[k], " at ", k);
    const index_t pts = joined_points(part_points + part, object_parts[k]);
    part += object_parts[k];
    // "CLASS " + 9 bytes per coordinate, the last one's space being the newline
    const index_t line =
        detail::checked_add("line", decimal_digits(classes[k]) + 1,
                            detail::checked_size("line", pts, 18) + (pts == 0 ? 1 : 0));
    total = detail::checked_add("text", total, line);
    offsets[k + 1] = total;
  }
  MASKPREP_CHECK(part == n_parts, "object_parts must add up to the ", n_parts,
                 " parts of part_points, got ", part);
  return total;
}

void write_label_lines(const double* xy, const index_t* part_points, const index_t* object_parts,
                       const std::int64_t* classes, const double* sizes, index_t n,
                       const index_t* offsets, char* out, std::uint8_t* inside, int num_threads) {
  // where each object's parts and points start (a serial prefix sum: cheap next to the text)
  std::vector<index_t> first_part(static_cast<std::size_t>(n) + 1, 0);
  std::vector<index_t> first_point(static_cast<std::size_t>(n) + 1, 0);
  for (index_t k = 0; k < n; ++k) {
    first_part[k + 1] = first_part[k] + object_parts[k];
    index_t pts = 0;
    for (index_t p = first_part[k]; p < first_part[k + 1]; ++p) pts += part_points[p];
    first_point[k + 1] = first_point[k] + pts;
  }
  const int threads = threads_for_work(num_threads, offsets[n], kMinBytesPerThread);
  parallel_for(
      n, threads,
      [&](index_t k) {
        std::vector<Part> parts(static_cast<std::size_t>(object_parts[k]));
        const double* p = xy + 2 * first_point[k];
        for (index_t i = 0; i < object_parts[k]; ++i) {
          parts[i].xy = p;
          parts[i].len = part_points[first_part[k] + i];
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

}  // namespace maskprep::yolo
