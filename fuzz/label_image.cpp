// Label images (label_image.hpp): unfilter on arbitrary scanlines, encode_labels on arbitrary
// small label images. Garbage checks: None rows come out as given (byte-swapped for 16-bit), Up
// rows add the row above; each id's RLE decodes to exactly (label == id), ids ascend, ignored
// ids are absent and every other id present.
#include "maskprep/label_image.hpp"

#include <cstdint>
#include <set>
#include <type_traits>
#include <vector>

#include "fuzz_util.hpp"

using namespace fuzz;
namespace label_image = maskprep::label_image;
using maskprep::byte_t;

namespace {

template <typename T>
void check_labels(const std::vector<T>& label, index_t h, index_t w,
                  const std::vector<std::int64_t>& ignore) {
  std::vector<T> ids;
  std::vector<Counts> counts;
  label_image::encode_labels(label.data(), h, w, ignore.data(), static_cast<index_t>(ignore.size()),
                             ids, counts);
  FUZZ_ASSERT(ids.size() == counts.size());
  std::set<T> want;
  for (T v : label) {
    bool skip = false;
    for (std::int64_t g : ignore)  // a negative ignore value can only match a signed id
      skip |= (std::is_signed_v<T> || g >= 0) && static_cast<std::int64_t>(v) == g;
    if (!skip) want.insert(v);
  }
  FUZZ_ASSERT(std::vector<T>(want.begin(), want.end()) == ids);
  for (size_t k = 0; k < ids.size(); ++k) {
    FUZZ_ASSERT(exact_sum(counts[k]) == static_cast<unsigned __int128>(h * w));
    const std::vector<std::uint8_t> m = dense(counts[k], h * w);  // column-major
    for (index_t x = 0; x < w; ++x)
      for (index_t y = 0; y < h; ++y)
        FUZZ_ASSERT((m[static_cast<size_t>(x * h + y)] != 0) ==
                    (label[static_cast<size_t>(y * w + x)] == ids[k]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const index_t h = 1 + data[0] % 24, w = 1 + data[1] % 24;
  const int bpp = 1 + (data[2] & 1);
  const bool swap16 = bpp == 2 && (data[2] & 2);
  const std::int64_t ignored = (data[2] >> 2) & 3;  // 0..3
  data += 3, size -= 3;
  const index_t row_bytes = w * bpp;
  // The scanlines: the input's bytes, cycled to the needed length.
  std::vector<byte_t> in(static_cast<size_t>(h * (row_bytes + 1)));
  for (size_t i = 0; i < in.size(); ++i) in[i] = size ? data[i % size] : 0;
  std::vector<byte_t> out(static_cast<size_t>(h * row_bytes));
  if (!accepts([&] { label_image::unfilter(in.data(), h, row_bytes, bpp, swap16, out.data()); })) {
    bool bad_type = false;  // refused: some row's filter type must be above 4
    for (index_t y = 0; y < h; ++y) bad_type |= in[static_cast<size_t>(y * (row_bytes + 1))] > 4;
    FUZZ_ASSERT(bad_type);
    return 0;
  }
  for (index_t y = 0; y < h; ++y) {
    const byte_t* row = in.data() + y * (row_bytes + 1);
    const byte_t* got = out.data() + y * row_bytes;
    for (index_t i = 0; i < row_bytes; ++i) {
      const index_t j = swap16 ? (i ^ 1) : i;  // where raw byte i lands
      const byte_t above = y > 0 ? out[static_cast<size_t>((y - 1) * row_bytes + i)] : 0;
      if (row[0] == 0) FUZZ_ASSERT(got[j] == row[1 + i]);
      if (row[0] == 2 && !swap16) FUZZ_ASSERT(got[i] == static_cast<byte_t>(row[1 + i] + above));
    }
  }
  const std::vector<std::int64_t> ignore{0, ignored, -1};
  if (bpp == 1) {
    check_labels(std::vector<std::uint8_t>(out.begin(), out.end()), h, w, ignore);
  } else {
    std::vector<std::uint16_t> label(static_cast<size_t>(h * w));
    for (size_t i = 0; i < label.size(); ++i)
      label[i] = static_cast<std::uint16_t>(out[2 * i] | (out[2 * i + 1] << 8));
    check_labels(label, h, w, ignore);
    std::vector<std::int32_t> wide(label.begin(), label.end());
    for (auto& v : wide) v -= 2;  // signed ids, some negative
    check_labels(wide, h, w, ignore);
  }
  return 0;
}
