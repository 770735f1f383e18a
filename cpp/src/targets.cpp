// Training-time mask targets (targets.hpp): polygon objects to dense masks and to RoI masks,
// through the pycocotools rasterizer of polygon.cpp and the RLE merge/decode of rle.cpp.
#include "maskprep/targets.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "maskprep/polygon.hpp"
#include "maskprep/rle.hpp"
#include "maskprep/segmentation.hpp"
#include "parallel_for.hpp"

namespace maskprep::targets {

namespace {

index_t row_of(const index_t* rows, index_t i) { return rows ? rows[i] : i; }

// Checks every polygon of every object (segmentation::check_polygons) before any work.
// Throws: IndexedError(rows[i], message) for the first bad object i.
void check_polygons(const double* xy, const index_t* poly_offsets, const index_t* obj_offsets,
                    index_t n, const index_t* rows) {
  for (index_t i = 0; i < n; ++i) {
    if (obj_offsets[i + 1] < obj_offsets[i])
      throw IndexedError(row_of(rows, i), ": bad polygon offsets");
    try {
      segmentation::check_polygons(xy, poly_offsets, obj_offsets[i], obj_offsets[i + 1]);
    } catch (const std::invalid_argument& e) {
      throw IndexedError(row_of(rows, i), e.what());
    }
  }
}

// Row-major decode of one h x w RLE into zeroed memory, the running XOR limited to the
// foreground's bounding box: rle::decode runs it over the whole image, which costs more than
// rasterizing a typical COCO object (a 640 x 480 image, an object of a few percent of it).
// Toggles mark where each column enters and leaves the foreground; a run that reaches the bottom
// of its column leaves it open (no closing toggle), so does a full column (one toggle at row 0).
void decode_rows_in_box(const rle::Counts& counts, index_t h, index_t w, byte_t* out) {
  std::memset(out, 0, static_cast<size_t>(h * w));
  index_t xmin = w, xmax = -1, ymin = h, ymax = -1, pos = 0;
  for (size_t j = 0; j < counts.size(); ++j) {
    const index_t s = pos, e = pos + static_cast<index_t>(counts[j]);
    pos = e;
    if ((j & 1) == 0 || s == e) continue;
    const index_t x0 = s / h, y0 = s % h, x1 = e / h, y1 = e % h;
    const index_t xl = (e - 1) / h, yl = (e - 1) % h;  // the run's last pixel
    xmin = std::min(xmin, x0);
    xmax = std::max(xmax, xl);
    ymin = std::min(ymin, x0 == xl ? y0 : index_t{0});
    ymax = std::max(ymax, x0 == xl ? yl : h - 1);
    out[y0 * w + x0] ^= 1;
    if (x0 == x1) {
      out[y1 * w + x0] ^= 1;
      continue;
    }
    for (index_t x = x0 + 1; x < x1; ++x) out[x] ^= 1;  // full columns open at row 0
    if (y1 > 0) {
      out[x1] ^= 1;
      out[y1 * w + x1] ^= 1;
    }
  }
  if (xmax < 0) return;  // no foreground
  // The closing toggles lie at most one row below the last foreground row.
  const index_t last = std::min(ymax + 1, h - 1);
  for (index_t y = ymin + 1; y <= last; ++y) {
    byte_t* row = out + y * w;
    const byte_t* above = row - w;
    for (index_t x = xmin; x <= xmax; ++x) row[x] ^= above[x];
  }
}

// Rasterizes the union of polygons [p0, p1) of xy into an h x w row-major mask (zeros if none):
// segmentation::polygons_to_rle (pycocotools' merge(frPyObjects)), decoded in its box.
void rasterize_object(const double* xy, const index_t* poly_offsets, index_t p0, index_t p1,
                      index_t h, index_t w, byte_t* out) {
  if (p1 == p0) {
    std::memset(out, 0, static_cast<size_t>(h * w));
    return;
  }
  segmentation::Object object;
  object.h = h;
  object.w = w;
  object.poly_begin = p0;
  object.poly_end = p1;
  struct Merged {};  // tag: this use's own per-thread buffer
  rle::Counts& counts = detail::thread_scratch<rle::Counts, Merged>();
  segmentation::polygons_to_rle(object, xy, poly_offsets, counts);
  decode_rows_in_box(counts, h, w, out);
}

}  // namespace

void polygons_to_dense(const double* xy, const index_t* poly_offsets, const index_t* obj_offsets,
                       index_t n, index_t h, index_t w, const index_t* rows, byte_t* out,
                       int num_threads) {
  MASKPREP_CHECK(h >= 0 && w >= 0, "height and width must be non-negative, got ", h, " x ", w);
  if (n <= 0) return;
  check_polygons(xy, poly_offsets, obj_offsets, n, rows);
  // Each object scans its h*w output once: as for decode, a thread must get ~2 MB of it.
  const int nt = threads_for_work(num_threads, n * h * w, kMinBytesPerThread / 4);
  parallel_for(n, nt, [&](index_t i) {
    rasterize_object(xy, poly_offsets, obj_offsets[i], obj_offsets[i + 1], h, w,
                     out + row_of(rows, i) * h * w);
  });
}

template <typename T>
void polygons_within_boxes(const double* xy, const index_t* poly_offsets,
                           const index_t* obj_offsets, index_t n, const T* boxes, index_t mask_size,
                           const index_t* rows, byte_t* out, int num_threads) {
  MASKPREP_CHECK(mask_size >= 1, "mask_size must be positive, got ", mask_size);
  if (n <= 0) return;
  check_polygons(xy, poly_offsets, obj_offsets, n, rows);
  for (index_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k)
      MASKPREP_CHECK(std::isfinite(static_cast<double>(boxes[4 * i + k])), "boxes[",
                     row_of(rows, i), "] must be finite, got ", boxes[4 * i + k]);
  }
  // Shift and scale every object's coordinates first (cheap, serial), so that the transformed
  // values can be range-checked before the parallel region.
  std::vector<double> moved(static_cast<size_t>(poly_offsets[obj_offsets[n]]));
  for (index_t i = 0; i < n; ++i) {
    const T* b = boxes + 4 * i;
    // detectron2: w, h = box[2] - box[0], box[3] - box[1] (in the box dtype), then
    // ratio = mask_size / max(side, 0.1): Python's max keeps `side` unless 0.1 > side.
    const T bw = b[2] - b[0], bh = b[3] - b[1];
    const T m = static_cast<T>(mask_size);
    const double rw = 0.1 > static_cast<double>(bw) ? static_cast<double>(mask_size) / 0.1
                                                    : static_cast<double>(m / bw);
    const double rh = 0.1 > static_cast<double>(bh) ? static_cast<double>(mask_size) / 0.1
                                                    : static_cast<double>(m / bh);
    const double x0 = static_cast<double>(b[0]), y0 = static_cast<double>(b[1]);
    for (index_t v = poly_offsets[obj_offsets[i]]; v < poly_offsets[obj_offsets[i + 1]]; v += 2) {
      const double x = (xy[v] - x0) * rw, y = (xy[v + 1] - y0) * rh;
      if (!(std::fabs(x) <= polygon::kMaxCoordinate && std::fabs(y) <= polygon::kMaxCoordinate))
        throw IndexedError(
            row_of(rows, i),
            detail::concat(": a vertex maps to (", x, ", ", y,
                           ") in its box, beyond the rasterizer's range (|v| <= 2e8)"));
      moved[static_cast<size_t>(v)] = x;
      moved[static_cast<size_t>(v + 1)] = y;
    }
  }
  const index_t len = mask_size * mask_size;
  // A 28 x 28 object costs ~1-3 us: 32 objects per thread repay waking one.
  const int nt = threads_for_work(num_threads, n, 32);
  parallel_for(
      n, nt,
      [&](index_t i) {
        rasterize_object(moved.data(), poly_offsets, obj_offsets[i], obj_offsets[i + 1], mask_size,
                         mask_size, out + row_of(rows, i) * len);
      },
      8);
}

template void polygons_within_boxes<float>(const double*, const index_t*, const index_t*, index_t,
                                           const float*, index_t, const index_t*, byte_t*, int);
template void polygons_within_boxes<double>(const double*, const index_t*, const index_t*, index_t,
                                            const double*, index_t, const index_t*, byte_t*, int);

}  // namespace maskprep::targets
