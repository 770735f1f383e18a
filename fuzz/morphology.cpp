// Binary morphology: structuring_element with random (incl. huge) sizes, and morphology() with
// random kernels, shapes, ops and iterations, against a naive reference of the header's
// definition. Garbage check: an element has exactly kh*kw bytes; outputs are 0/1 and equal the
// reference.
#include "maskprep/morphology.hpp"

#include "fuzz_util.hpp"

using namespace fuzz;
using maskprep::morphology::MorphOp;
using maskprep::morphology::MorphShape;

namespace {

using Mask = std::vector<std::uint8_t>;

Mask naive(const Mask& src, index_t h, index_t w, const Mask& k, index_t kh, index_t kw,
           bool erode) {
  Mask dst(src.size());
  for (index_t y = 0; y < h; ++y) {
    for (index_t x = 0; x < w; ++x) {
      bool v = erode;
      for (index_t i = 0; i < kh; ++i) {
        for (index_t j = 0; j < kw; ++j) {
          const index_t yy = y + i - kh / 2, xx = x + j - kw / 2;
          if (!k[i * kw + j] || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const bool p = src[yy * w + xx] != 0;
          v = erode ? (v && p) : (v || p);
        }
      }
      dst[y * w + x] = v;
    }
  }
  return dst;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const auto shape = static_cast<MorphShape>(in.ConsumeIntegralInRange<int>(0, 2));
  const index_t kh = std::max<index_t>(1, fuzz::size(in, 9)),
                kw = std::max<index_t>(1, fuzz::size(in, 9));
  Mask k;
  const unsigned __int128 kn =
      static_cast<unsigned __int128>(kh) * static_cast<unsigned __int128>(kw);
  if (kn > (1u << 20)) {
    // An element whose size overflows 64 bits must be refused, never come back short (sizes in
    // between would just allocate gigabytes: not tried).
    if (kn <= static_cast<unsigned __int128>(INT64_MAX)) return 0;
    Mask big;
    if (accepts([&] { big = maskprep::morphology::structuring_element(shape, kh, kw); }))
      FUZZ_ASSERT(big.size() == kn);
    return 0;
  }
  if (kn > (1u << 12)) {
    // The naive reference below costs h*w*kh*kw per pass (up to 8000 pixels): a 1000 x 1000
    // element took 85 s for one input (libFuzzer's timeout is 20 s). Larger elements are
    // checked for their size only.
    k = maskprep::morphology::structuring_element(shape, kh, kw);
    FUZZ_ASSERT(k.size() == kn);
    return 0;
  }
  if (in.ConsumeBool()) {
    k = maskprep::morphology::structuring_element(shape, kh, kw);
    FUZZ_ASSERT(k.size() == kn);
    for (auto b : k) FUZZ_ASSERT(b <= 1);
  } else {
    k.resize(static_cast<size_t>(kn));
    for (auto& b : k)
      b = in.ConsumeIntegralInRange<int>(0, 3) == 0 ? 0 : in.ConsumeIntegral<std::uint8_t>();
  }
  bool member = false;
  for (auto b : k) member |= b != 0;
  if (!member)
    k[static_cast<size_t>(in.ConsumeIntegralInRange<index_t>(0, kh * kw - 1))] =
        1;  // callers check
  const index_t h = in.ConsumeIntegralInRange<index_t>(1, 40);
  const index_t w = in.ConsumeIntegralInRange<index_t>(1, in.ConsumeBool() ? 200 : 40);
  const auto op = static_cast<MorphOp>(in.ConsumeIntegralInRange<int>(0, 3));
  const index_t iterations = in.ConsumeIntegralInRange<index_t>(1, 3);  // callers check >= 1
  Mask src(static_cast<size_t>(h * w));
  const int density = in.ConsumeIntegralInRange<int>(0, 4);
  for (auto& b : src)
    b = in.ConsumeIntegralInRange<int>(0, 4) < density ? in.ConsumeIntegral<std::uint8_t>() | 1 : 0;
  Mask dst(src.size(), 9);
  if (!accepts([&] {
        maskprep::morphology::morphology(src.data(), h, w, k.data(), kh, kw, op, iterations,
                                         dst.data(), in.ConsumeBool() ? 2 : 1);
      }))
    return 0;
  Mask want = src;
  const bool first_erode = op == MorphOp::kErode || op == MorphOp::kOpen;
  for (index_t i = 0; i < iterations; ++i) want = naive(want, h, w, k, kh, kw, first_erode);
  if (op == MorphOp::kOpen || op == MorphOp::kClose) {
    for (index_t i = 0; i < iterations; ++i) want = naive(want, h, w, k, kh, kw, !first_erode);
  }
  FUZZ_ASSERT(dst == want);
  return 0;
}
