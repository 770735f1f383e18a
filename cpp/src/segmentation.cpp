// COCO segmentations to RLE: pycocotools' annToRLE (see segmentation.hpp).
#include "maskprep/segmentation.hpp"

#include <string>
#include <vector>

#include "maskprep/polygon.hpp"
#include "parallel_for.hpp"

namespace maskprep::segmentation {

void check(const Object& o, const double* xy, const index_t* poly_offsets) {
  if (o.is_rle) {
    MASKPREP_CHECK(o.rle_h == o.h && o.rle_w == o.w, " has size [", o.rle_h, ", ", o.rle_w,
                   "] but its image is ", o.h, " x ", o.w);
    return;
  }
  MASKPREP_CHECK(o.poly_end > o.poly_begin, " is an empty polygon list");
  try {
    polygon::check_grid(o.h, o.w);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(": ") + e.what());
  }
  check_polygons(xy, poly_offsets, o.poly_begin, o.poly_end);
}

void check_polygons(const double* xy, const index_t* poly_offsets, index_t begin, index_t end) {
  for (index_t p = begin; p < end; ++p) {
    const std::string problem =
        polygon::check(xy + poly_offsets[p], poly_offsets[p + 1] - poly_offsets[p]);
    MASKPREP_CHECK(problem.empty(), " polygon ", p - begin, " ", problem);
  }
}

void polygons_to_rle(const Object& o, const double* xy, const index_t* poly_offsets,
                     rle::Counts& out) {
  if (o.poly_end - o.poly_begin == 1) {
    const index_t p = o.poly_begin;
    polygon::to_rle(xy + poly_offsets[p], (poly_offsets[p + 1] - poly_offsets[p]) / 2, o.h, o.w,
                    out);
    return;
  }
  // Per-thread scratch: rasterizing many small objects is allocation-bound otherwise.
  struct Parts {};
  auto& parts = detail::thread_scratch<std::vector<rle::Counts>, Parts>();
  if (parts.size() < static_cast<size_t>(o.poly_end - o.poly_begin))
    parts.resize(static_cast<size_t>(o.poly_end - o.poly_begin));
  std::vector<const rle::Counts*> ptrs;
  ptrs.reserve(static_cast<size_t>(o.poly_end - o.poly_begin));
  for (index_t p = o.poly_begin; p < o.poly_end; ++p) {
    rle::Counts& part = parts[static_cast<size_t>(p - o.poly_begin)];
    polygon::to_rle(xy + poly_offsets[p], (poly_offsets[p + 1] - poly_offsets[p]) / 2, o.h, o.w,
                    part);
    ptrs.push_back(&part);
  }
  rle::merge(ptrs, false, out);
}

void to_strings(const Object* objects, index_t n, const double* xy, const index_t* poly_offsets,
                std::string* out, int num_threads) {
  index_t values = 0;  // polygon coordinates to rasterize
  for (index_t i = 0; i < n; ++i) {
    try {
      check(objects[i], xy, poly_offsets);
    } catch (const std::invalid_argument& e) {
      throw IndexedError(i, e.what());
    }
    if (!objects[i].is_rle)
      values += poly_offsets[objects[i].poly_end] - poly_offsets[objects[i].poly_begin];
  }
  parallel_for(
      n, threads_for_work(num_threads, values, 1 << 14),
      [&](index_t i) {
        const Object& o = objects[i];
        if (o.is_rle) return;
        out[i].clear();
        if (o.poly_end - o.poly_begin == 1) {  // written from where the rasterizer left them
          const index_t p = o.poly_begin;
          index_t runs = 0;
          const rle::count_t* c = polygon::to_rle_runs(
              xy + poly_offsets[p], (poly_offsets[p + 1] - poly_offsets[p]) / 2, o.h, o.w, runs);
          rle::append_string(c, runs, out[i]);
          return;
        }
        struct Scratch {};  // the thread's counts, reused: one allocation per thread, not object
        auto& counts = detail::thread_scratch<rle::Counts, Scratch>();
        polygons_to_rle(o, xy, poly_offsets, counts);
        rle::append_string(counts.data(), static_cast<index_t>(counts.size()), out[i]);
      },
      8);
}

}  // namespace maskprep::segmentation
