// The COCO JSON scanner: coco_json::convert_to_rle on arbitrary bytes (with and without
// keep_going and recompute). Garbage check: a converted file converts again to itself (every
// segmentation is then compressed RLE, which is kept as written), and counts add up.
#include "maskprep/coco_json.hpp"

#include <string>

#include "fuzz_util.hpp"

using namespace fuzz;
namespace coco_json = maskprep::coco_json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) return 0;
  coco_json::ConvertOptions options;
  options.recompute = data[0] & 1;
  options.num_threads = (data[0] & 2) ? 2 : 1;
  const bool keep_going = data[0] & 4;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
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
