// RLE string codec: rle::from_string (and area / to_bbox, which decode strings on their own
// path) on arbitrary bytes, then rle::to_string / from_string round trips of what it accepted
// and of arbitrary 64-bit counts; small masks are decoded and re-encoded. Garbage check: an
// accepted string's counts sum to the returned value and survive the round trip.
#include <cstring>
#include <string>

#include "fuzz_util.hpp"

using namespace fuzz;
namespace rle = maskprep::rle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool counts_mode = data[0] & 1;
  ++data, --size;
  if (!counts_mode) {
    // Mode 0: the bytes are a compressed string.
    Counts c;
    count_t sum = 0;
    const char* const str = reinterpret_cast<const char*>(data);
    const auto len = static_cast<index_t>(size);
    const bool accepted = accepts([&] { sum = rle::from_string(str, len, c); });
    // area and to_bbox of the string, as a 1 x sum image, decode it on their own path: they
    // must refuse what from_string refuses and agree with the decoded counts otherwise.
    const index_t one = 1, w = accepted && sum <= INT64_MAX ? static_cast<index_t>(sum) : 1;
    count_t area = 0;
    double box[4];
    const Counts none;
    const bool area_ok = accepts([&] { rle::area(&str, &len, &one, &w, &none, 1, &area, 1); });
    const bool bbox_ok = accepts([&] { rle::to_bbox(&str, &len, &one, &w, &none, 1, box, 1); });
    if (!accepted) {
      FUZZ_ASSERT(!area_ok && !bbox_ok);
      return 0;
    }
    if (sum <= INT64_MAX) {
      FUZZ_ASSERT(area_ok && area == rle::area(c));
      double expected[4];
      rle::to_bbox(c, 1, w, expected);
      FUZZ_ASSERT(bbox_ok && std::memcmp(box, expected, sizeof box) == 0);
    }
    FUZZ_ASSERT(exact_sum(c) == sum);
    const std::string s = rle::to_string(c);
    Counts back;
    FUZZ_ASSERT(rle::from_string(s.data(), static_cast<index_t>(s.size()), back) == sum);
    FUZZ_ASSERT(back == c);
    FUZZ_ASSERT(rle::to_string(back) == s);
    if (sum > 0 && sum <= (1 << 14)) {
      // As a 1 x sum mask: decode, then encode gives the same mask (canonical counts).
      std::vector<std::uint8_t> m(sum);
      rle::decode({&c}, 1, static_cast<index_t>(sum), rle::Layout::kColumnMajor, m.data(), 1);
      FUZZ_ASSERT(m == dense(c, static_cast<index_t>(sum)));
      std::vector<Counts> enc;
      rle::encode(m.data(), 1, static_cast<index_t>(sum), 1, rle::Layout::kColumnMajor, enc, 1);
      FUZZ_ASSERT(dense(enc[0], static_cast<index_t>(sum)) == m);
      FUZZ_ASSERT(rle::area(enc[0]) == rle::area(c));
    }
    return 0;
  }
  // Mode 1: the bytes are 64-bit counts; encoding must round-trip or refuse.
  Counts c(size / 8);
  if (!c.empty()) std::memcpy(c.data(), data, c.size() * 8);
  std::string s;
  if (!accepts([&] { s = rle::to_string(c); })) return 0;
  Counts back;
  count_t sum = 0;
  if (!accepts([&] { sum = rle::from_string(s.data(), static_cast<index_t>(s.size()), back); })) {
    // Every 64-bit count round-trips: from_string may refuse only a sum that overflows.
    FUZZ_ASSERT(exact_sum(c) > UINT64_MAX);
    Counts alone;
    bool overflows = false;
    rle::from_string(s.data(), static_cast<index_t>(s.size()), alone, &overflows);
    FUZZ_ASSERT(overflows && alone == c);
    return 0;
  }
  FUZZ_ASSERT(back == c);
  FUZZ_ASSERT(exact_sum(c) == sum);
  return 0;
}
