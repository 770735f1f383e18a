// Binary erosion and dilation by span decomposition (see morphology.hpp for the contract).
#include "maskprep/morphology.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <utility>

#include "isa_dispatch.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep {
namespace {

struct Span {
  index_t a, b;  // horizontal offsets [a, b] from the output column
};

// A kernel as distinct horizontal spans plus, per member row, (row offset, span id) entries.
struct Plan {
  std::vector<Span> spans;
  std::vector<std::pair<index_t, size_t>> rows;
  index_t dy_min = 0, dy_max = 0, pad = 0, levels = 1;
};

Plan make_plan(const std::uint8_t* kernel, index_t kh, index_t kw) {
  Plan plan;
  const index_t ay = kh / 2, ax = kw / 2;
  plan.dy_min = kh;
  plan.dy_max = -kh;
  index_t max_len = 1;
  for (index_t i = 0; i < kh; ++i) {
    for (index_t j = 0; j < kw; ++j) {
      if (!kernel[i * kw + j] || (j > 0 && kernel[i * kw + j - 1])) continue;
      index_t e = j;
      while (e + 1 < kw && kernel[i * kw + e + 1]) ++e;
      const Span s{j - ax, e - ax};
      size_t id = 0;
      while (id < plan.spans.size() && (plan.spans[id].a != s.a || plan.spans[id].b != s.b)) ++id;
      if (id == plan.spans.size()) plan.spans.push_back(s);
      plan.rows.emplace_back(i - ay, id);
      plan.dy_min = std::min(plan.dy_min, i - ay);
      plan.dy_max = std::max(plan.dy_max, i - ay);
      plan.pad = std::max({plan.pad, -s.a, s.b});
      max_len = std::max(max_len, s.b - s.a + 1);
    }
  }
  while ((index_t{1} << plan.levels) <= max_len) ++plan.levels;
  return plan;
}

// Per-thread band buffers, reused across bands and calls: fresh multi-100-KiB allocations are
// mmap'd and page-faulted every time, which cost more than the filtering itself.
std::uint8_t* scratch(int slot, index_t n) {
  thread_local std::vector<std::uint8_t> buffers[3];
  std::vector<std::uint8_t>& b = buffers[slot];
  if (static_cast<index_t>(b.size()) < n) b.resize(n);
  return b.data();
}

// 0/1 bytes: erosion is AND (outside = 1), dilation OR (outside = 0).
struct AndOp {
  static constexpr std::uint8_t neutral = 1;
  static std::uint8_t apply(std::uint8_t x, std::uint8_t y) { return x & y; }
};
struct OrOp {
  static constexpr std::uint8_t neutral = 0;
  static std::uint8_t apply(std::uint8_t x, std::uint8_t y) { return x | y; }
};

// One band of output rows [y0, y1). Sizes arrive by value: byte stores could alias anything
// reached through a reference, which would stop the compiler from vectorising the row loops.
// Source row r is at src + (r - src_row0) * width, output row y at dst + (y - dst_row0) * width
// (so that a band can read and write band-sized buffers).
template <typename Op>
MASKPREP_ALWAYS_INLINE void pass_band(const std::uint8_t* src, const index_t src_row0,
                                      const index_t height, const index_t width, const Plan& plan,
                                      const index_t y0, const index_t y1, std::uint8_t* dst,
                                      const index_t dst_row0) {
  const index_t pad = plan.pad, levels = plan.levels;
  const index_t pw = width + 2 * pad;  // padded row length
  const index_t nspans = static_cast<index_t>(plan.spans.size());
  const index_t r0 = std::max<index_t>(0, y0 + plan.dy_min);
  const index_t r1 = std::min(height, y1 + plan.dy_max);
  const index_t nr = std::max<index_t>(0, r1 - r0);
  // Scratch written before it is read, so not zero-filled (that would cost a pass): the band's
  // rows as 0/1 bytes with neutral padding (kept: one-pixel spans read them directly), the
  // doubling levels of the current row, and one filtered row per wider span.
  std::uint8_t* const base = scratch(0, nr * pw);
  std::vector<std::uint8_t> lev(std::max<index_t>(1, (levels - 1) * pw), Op::neutral);
  std::uint8_t* const filt = scratch(1, nspans * nr * width);
  auto row_of = [&](index_t k, index_t r) -> const std::uint8_t* {
    const Span sp = plan.spans[k];
    if (sp.a == sp.b) return base + (r - r0) * pw + pad + sp.a;
    return filt + (k * nr + (r - r0)) * width;
  };
  for (index_t r = r0; r < r1; ++r) {
    std::uint8_t* __restrict l0 = base + (r - r0) * pw;
    const std::uint8_t* __restrict s = src + (r - src_row0) * width;
    std::fill(l0, l0 + pad, Op::neutral);
    std::fill(l0 + pad + width, l0 + pw, Op::neutral);
    for (index_t x = 0; x < width; ++x) l0[pad + x] = s[x] != 0;
    // Level j holds the op over the 2^j pixels starting at each padded position.
    auto level = [&](index_t j) -> std::uint8_t* { return j ? lev.data() + (j - 1) * pw : l0; };
    for (index_t j = 1; j < levels; ++j) {
      const index_t step = index_t{1} << (j - 1);
      const index_t n = pw - 2 * step + 1;
      const std::uint8_t* __restrict prev = level(j - 1);
      std::uint8_t* __restrict cur = level(j);
      for (index_t i = 0; i < n; ++i) cur[i] = Op::apply(prev[i], prev[i + step]);
    }
    for (index_t k = 0; k < nspans; ++k) {
      const Span sp = plan.spans[k];
      if (sp.a == sp.b) continue;  // read from base
      index_t j = 0;
      while ((index_t{2} << j) <= sp.b - sp.a + 1) ++j;
      const std::uint8_t* lj = level(j);
      const std::uint8_t* __restrict left = lj + pad + sp.a;
      const std::uint8_t* __restrict right = lj + pad + sp.b - (index_t{1} << j) + 1;
      std::uint8_t* __restrict o = filt + (k * nr + (r - r0)) * width;
      for (index_t x = 0; x < width; ++x) o[x] = Op::apply(left[x], right[x]);
    }
  }
  std::vector<const std::uint8_t*> in;
  for (index_t y = y0; y < y1; ++y) {
    std::uint8_t* __restrict o = dst + (y - dst_row0) * width;
    in.clear();
    for (const auto& [dy, k] : plan.rows) {
      const index_t r = y + dy;
      if (r >= 0 && r < height) in.push_back(row_of(static_cast<index_t>(k), r));
    }
    if (in.empty()) {  // every kernel row outside the image
      std::fill(o, o + width, Op::neutral);
    } else if (in.size() == 1) {
      std::copy(in[0], in[0] + width, o);
    } else {
      const std::uint8_t* __restrict f0 = in[0];
      const std::uint8_t* __restrict f1 = in[1];
      for (index_t x = 0; x < width; ++x) o[x] = Op::apply(f0[x], f1[x]);
      for (size_t i = 2; i < in.size(); ++i) {
        const std::uint8_t* __restrict f = in[i];
        for (index_t x = 0; x < width; ++x) o[x] = Op::apply(o[x], f[x]);
      }
    }
  }
}

// One band of a whole pass, or of an opening/closing fused through a band-sized buffer: the
// first operation produces the rows the second needs (kh - 1 extra), so the intermediate image
// never goes to memory.
template <typename First, typename Second>
MASKPREP_ALWAYS_INLINE void band(const std::uint8_t* src, index_t height, index_t width,
                                 const Plan& plan, index_t y0, index_t y1, std::uint8_t* dst) {
  if constexpr (std::is_same_v<Second, void>) {
    pass_band<First>(src, 0, height, width, plan, y0, y1, dst, 0);
  } else {
    const index_t e0 = std::max<index_t>(0, y0 + plan.dy_min);
    const index_t e1 = std::min(height, y1 + plan.dy_max);
    std::uint8_t* const mid = scratch(2, (e1 - e0) * width);
    pass_band<First>(src, 0, height, width, plan, e0, e1, mid, e0);
    pass_band<Second>(mid, e0, height, width, plan, y0, y1, dst, 0);
  }
}

template <typename First, typename Second>
MASKPREP_TARGET_AVX2_FN void band_avx2(const std::uint8_t* src, index_t height, index_t width,
                                       const Plan& plan, index_t y0, index_t y1,
                                       std::uint8_t* dst) {
  band<First, Second>(src, height, width, plan, y0, y1, dst);
}
template <typename First, typename Second>
void band_generic(const std::uint8_t* src, index_t height, index_t width, const Plan& plan,
                  index_t y0, index_t y1, std::uint8_t* dst) {
  band<First, Second>(src, height, width, plan, y0, y1, dst);
}

// Second = void: one erosion or dilation; else First then Second, fused per band.
template <typename First, typename Second = void>
void pass(const std::uint8_t* src, index_t height, index_t width, const Plan& plan,
          std::uint8_t* dst, int num_threads) {
  const index_t kh = plan.dy_max - plan.dy_min + 1;
  const index_t n_ops = std::is_same_v<Second, void> ? 1 : 2;
  // Each band recomputes (kh - 1) rows per operation of its neighbours: keep that small.
  const index_t band_rows = std::max<index_t>(64, 8 * kh);
  const index_t bands = (height + band_rows - 1) / band_rows;
  const index_t work = n_ops * height * width *
                       (plan.levels + static_cast<index_t>(plan.spans.size() + plan.rows.size()));
  parallel_for(bands, threads_for_work(num_threads, work, kMinBytesPerThread), [&](index_t b) {
    const index_t y0 = b * band_rows;
    const index_t y1 = std::min(height, y0 + band_rows);
    detail::dispatch_avx2(
        [&] { band_avx2<First, Second>(src, height, width, plan, y0, y1, dst); },
        [&] { band_generic<First, Second>(src, height, width, plan, y0, y1, dst); });
  });
}

}  // namespace

std::vector<std::uint8_t> structuring_element(MorphShape shape, index_t kh, index_t kw) {
  MASKPREP_CHECK(kh >= 1 && kw >= 1, "kernel size must be positive, got (", kh, ", ", kw, ")");
  if (kh == 1 && kw == 1) shape = MorphShape::rect;  // as OpenCV
  std::vector<std::uint8_t> k(kh * kw, 0);
  const index_t r = kh / 2, c = kw / 2;
  const double inv_r2 = r ? 1. / (static_cast<double>(r) * static_cast<double>(r)) : 0;
  for (index_t i = 0; i < kh; ++i) {
    index_t j1 = 0, j2 = 0;
    if (shape == MorphShape::rect || (shape == MorphShape::cross && i == r)) {
      j2 = kw;
    } else if (shape == MorphShape::cross) {
      j1 = c;
      j2 = c + 1;
    } else {
      const index_t dy = i - r;
      if (std::abs(dy) <= r) {
        // saturate_cast<int>(double) rounds half to even.
        const auto dx = static_cast<index_t>(std::lrint(
            static_cast<double>(c) * std::sqrt(static_cast<double>(r * r - dy * dy) * inv_r2)));
        j1 = std::max<index_t>(c - dx, 0);
        j2 = std::min(c + dx + 1, kw);
      }
    }
    std::fill(k.begin() + i * kw + j1, k.begin() + i * kw + j2, std::uint8_t{1});
  }
  return k;
}

void morphology(const std::uint8_t* src, index_t height, index_t width, const std::uint8_t* kernel,
                index_t kh, index_t kw, MorphOp op, index_t iterations, std::uint8_t* dst,
                int num_threads) {
  MASKPREP_CHECK(height > 0 && width > 0, "mask must not be empty, got ", height, "x", width);
  MASKPREP_CHECK(kh >= 1 && kw >= 1, "kernel must not be empty, got (", kh, ", ", kw, ")");
  MASKPREP_CHECK(iterations >= 1, "iterations must be >= 1, got ", iterations);
  MASKPREP_CHECK(std::any_of(kernel, kernel + kh * kw, [](std::uint8_t v) { return v != 0; }),
                 "kernel must have at least one nonzero element");
  const Plan plan = make_plan(kernel, kh, kw);
  if (iterations == 1 && op == MorphOp::open)
    return pass<AndOp, OrOp>(src, height, width, plan, dst, num_threads);
  if (iterations == 1 && op == MorphOp::close)
    return pass<OrOp, AndOp>(src, height, width, plan, dst, num_threads);
  std::vector<bool> erode_steps;  // the sequence of passes
  const bool first_erode = op == MorphOp::erode || op == MorphOp::open;
  for (index_t i = 0; i < iterations; ++i) erode_steps.push_back(first_erode);
  if (op == MorphOp::open || op == MorphOp::close)
    for (index_t i = 0; i < iterations; ++i) erode_steps.push_back(!first_erode);
  const index_t n = static_cast<index_t>(erode_steps.size());
  std::unique_ptr<std::uint8_t[]> tmp(n > 1 ? new std::uint8_t[height * width] : nullptr);
  const std::uint8_t* in = src;
  for (index_t p = 0; p < n; ++p) {
    // Alternate between dst and tmp so that the last pass writes dst.
    std::uint8_t* out = (n - 1 - p) % 2 == 0 ? dst : tmp.get();
    if (erode_steps[p])
      pass<AndOp>(in, height, width, plan, out, num_threads);
    else
      pass<OrOp>(in, height, width, plan, out, num_threads);
    in = out;
  }
}

}  // namespace maskprep
