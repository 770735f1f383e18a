// The COCO JSON scanner: coco_json::convert_to_rle on arbitrary bytes (with and without
// keep_going and recompute). Garbage check: a converted file converts again to itself (every
// segmentation is then compressed RLE, which is kept as written), and counts add up.
// The column reader (read_columns) on the same bytes: a regular file is valid JSON, its columns
// agree in length and point inside the text, and the YOLO kernels (overlapping_parts and the
// label offsets with explicit starts) accept its polygon objects.
#include "maskprep/coco_json.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "maskprep/yolo.hpp"

using namespace fuzz;
namespace coco_json = maskprep::coco_json;

namespace {

void check_columns(const std::string& text, int num_threads) {
  const coco_json::Columns c =
      coco_json::read_columns(text.data(), static_cast<index_t>(text.size()));
  if (!c.irregular.empty()) return;
  FUZZ_ASSERT(
      accepts([&] { coco_json::check_json(text.data(), static_cast<index_t>(text.size())); }));
  const size_t images = c.image_id.size(), n = c.ann_id.size();
  FUZZ_ASSERT(c.height.size() == images && c.width.size() == images);
  FUZZ_ASSERT(c.file_name.size() == images);
  for (auto* col : {&c.image, &c.parts, &c.rle_begin, &c.rle_end}) FUZZ_ASSERT(col->size() == n);
  FUZZ_ASSERT(c.category_id.size() == n && c.iscrowd.size() == n);
  index_t parts = 0, points = 0;
  for (size_t k = 0; k < n; ++k) {
    FUZZ_ASSERT(c.image[k] >= 0 && static_cast<size_t>(c.image[k]) < images);
    const bool rle = c.rle_begin[k] >= 0;
    FUZZ_ASSERT(rle ? c.parts[k] == 0 : c.parts[k] >= 1);
    if (rle)
      FUZZ_ASSERT(c.rle_begin[k] < c.rle_end[k] &&
                  c.rle_end[k] <= static_cast<index_t>(text.size()));
    parts += c.parts[k];
  }
  FUZZ_ASSERT(static_cast<size_t>(parts) == c.part_points.size());
  for (index_t p : c.part_points) points += p;
  FUZZ_ASSERT(static_cast<size_t>(2 * points) == c.xy.size());
  // The polygon objects on images small enough to rasterize quickly.
  std::vector<index_t> object_parts, part_start, point_start, sizes, offsets;
  index_t part = 0, point = 0;
  for (size_t k = 0; k < n; ++k) {
    const auto i = static_cast<size_t>(c.image[k]);
    index_t own = 0;
    for (index_t q = part; q < part + c.parts[k]; ++q) own += c.part_points[static_cast<size_t>(q)];
    if (c.parts[k] > 0 && c.height[i] * c.width[i] <= (1 << 16)) {
      object_parts.push_back(c.parts[k]);
      part_start.push_back(part);
      point_start.push_back(point);
      sizes.push_back(c.height[i]);
      sizes.push_back(c.width[i]);
    }
    part += c.parts[k];
    point += own;
  }
  const auto m = static_cast<index_t>(object_parts.size());
  std::vector<std::int64_t> classes(object_parts.size(), 0);
  offsets.resize(object_parts.size() + 1);
  FUZZ_ASSERT(accepts([&] {
    maskprep::yolo::label_line_offsets(c.part_points.data(), parts, points, object_parts.data(),
                                       classes.data(), m, part_start.data(), point_start.data(),
                                       true, offsets.data());
  }));
  std::vector<std::uint8_t> flags(object_parts.size(), 9);
  maskprep::yolo::overlapping_parts(c.xy.data(), c.part_points.data(), object_parts.data(),
                                    part_start.data(), point_start.data(), sizes.data(), m,
                                    flags.data(), num_threads);
  for (index_t k = 0; k < m; ++k) FUZZ_ASSERT(flags[k] <= (object_parts[k] > 1 ? 2 : 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) return 0;
  coco_json::ConvertOptions options;
  options.recompute = data[0] & 1;
  options.num_threads = (data[0] & 2) ? 2 : 1;
  const bool keep_going = data[0] & 4;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  check_columns(text, options.num_threads);
  coco_json::ConvertResult r;
  if (!accepts([&] {
        r = coco_json::convert_to_rle(text.data(), static_cast<index_t>(text.size()), options,
                                      keep_going);
      }))
    return 0;
  FUZZ_ASSERT(r.converted <= r.annotations);
  FUZZ_ASSERT(static_cast<size_t>(r.converted) + r.errors.size() <=
              static_cast<size_t>(r.annotations));
  if (!r.errors.empty() && !keep_going) {
    FUZZ_ASSERT(r.output.empty());
    return 0;
  }
  if (!r.errors.empty()) return 0;
  coco_json::ConvertResult again;
  const bool ok = accepts([&] {
    again = coco_json::convert_to_rle(r.output.data(), static_cast<index_t>(r.output.size()),
                                      options, false);
  });
  FUZZ_ASSERT(ok);
  FUZZ_ASSERT(again.errors.empty());
  FUZZ_ASSERT(again.polygons == 0);
  FUZZ_ASSERT(again.output == r.output);
  return 0;
}
