// Binary erosion and dilation on bit-packed rows (see morphology.hpp for the contract).
#include "maskprep/morphology.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "isa_dispatch.hpp"
#include "parallel_for.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MASKPREP_MORPH_SSE2 1
#else
#define MASKPREP_MORPH_SSE2 0
#endif

namespace maskprep::morphology {
namespace {

using word = std::uint64_t;

struct Span {
  index_t a, b;  // horizontal offsets [a, b] from the output column
};

// A kernel as distinct horizontal spans plus, per member run of a row, (row offset, span id).
struct Plan {
  std::vector<Span> spans;
  std::vector<std::pair<index_t, size_t>> rows;
  index_t dy_min = 0, dy_max = 0, pad = 0, levels = 1, max_len = 1;
};

Plan make_plan(const std::uint8_t* kernel, index_t kh, index_t kw) {
  Plan plan;
  const index_t ay = kh / 2, ax = kw / 2;
  plan.dy_min = kh;
  plan.dy_max = -kh;
  index_t& max_len = plan.max_len;
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

// Scratch a thread keeps between bands and calls: fresh multi-100-KiB allocations are mmap'd and
// page-faulted every time, which costs more than the filtering. Bands are sized to fit it; a
// request above it (very wide images, many fused iterations) gets a buffer freed with the band,
// so no thread holds more than kKeptScratchWords after a call.
constexpr index_t kKeptScratchWords = index_t{1} << 15;  // 256 KiB

class Scratch {
 public:
  explicit Scratch(index_t n) {
    thread_local std::vector<word> kept;
    if (n > kKeptScratchWords) {
      own_.reset(new word[static_cast<size_t>(n)]);
      data_ = own_.get();
      return;
    }
    if (static_cast<index_t>(kept.size()) < n) kept.resize(static_cast<size_t>(n));
    data_ = kept.data();
  }
  word* data() const { return data_; }

 private:
  std::unique_ptr<word[]> own_;
  word* data_ = nullptr;
};

// Erosion is AND with foreground outside the image, dilation OR with background outside.
struct AndOp {
  static constexpr word neutral = ~word{0};
  static word apply(word x, word y) { return x & y; }
};
struct OrOp {
  static constexpr word neutral = 0;
  static word apply(word x, word y) { return x | y; }
};

// ---- bytes <-> bits (bit i of word w = pixel 64 w + i) -------------------------------------

// Packs n bytes (nonzero = 1) into ceil(n / 64) words; bits past n are `fill`.
void pack_generic(const std::uint8_t* s, index_t n, word fill, word* out) {
  index_t x = 0;
#if MASKPREP_MORPH_SSE2
  const __m128i zero = _mm_setzero_si128();
  for (; x + 64 <= n; x += 64) {
    word zeros = 0;
    for (int i = 0; i < 4; ++i) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + x + 16 * i));
      zeros |= word(static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))))
               << (16 * i);
    }
    out[x / 64] = ~zeros;
  }
#endif
  for (; x < n; x += 64) {
    word w = 0;
    const index_t m = std::min<index_t>(64, n - x);
    for (index_t i = 0; i < m; ++i) w |= word(s[x + i] != 0) << i;
    out[x / 64] = m == 64 ? w : w | (fill & (~word{0} << m));
  }
}

// Unpacks n bits into 0/1 bytes, 8 at a time through a table of 8-byte patterns (bytes, not
// words, so that the layout does not depend on endianness).
void unpack_generic(const word* in, index_t n, std::uint8_t* d) {
  static const auto table = [] {
    std::unique_ptr<std::uint8_t[]> t(new std::uint8_t[256 * 8]);
    for (unsigned v = 0; v < 256; ++v)
      for (unsigned i = 0; i < 8; ++i) t[v * 8 + i] = static_cast<std::uint8_t>((v >> i) & 1u);
    return t;
  }();
  index_t x = 0;
  for (; x + 8 <= n; x += 8) {
    std::memcpy(d + x, &table[8 * ((in[x / 64] >> (x % 64)) & 0xffu)], 8);
  }
  for (; x < n; ++x) d[x] = static_cast<std::uint8_t>((in[x / 64] >> (x % 64)) & 1u);
}

#if MASKPREP_HAVE_AVX2_CLONES
MASKPREP_TARGET_AVX2_FN void pack_avx2(const std::uint8_t* s, index_t n, word fill, word* out) {
  const __m256i zero = _mm256_setzero_si256();
  index_t x = 0;
  for (; x + 64 <= n; x += 64) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + x));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + x + 32));
    const auto zl = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, zero)));
    const auto zh = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, zero)));
    out[x / 64] = ~(word(zh) << 32 | zl);
  }
  if (x < n) {  // the last partial word through a zero-padded copy (a scalar tail cost 7%)
    alignas(32) std::uint8_t tail[64] = {};
    std::memcpy(tail, s + x, static_cast<size_t>(n - x));
    pack_avx2(tail, 64, 0, out + x / 64);
    out[x / 64] |= fill & (~word{0} << (n - x));
  }
}

MASKPREP_TARGET_AVX2_FN void unpack_avx2(const word* in, index_t n, std::uint8_t* d) {
  // Byte i of 32 takes mask byte i / 8 and keeps bit i % 8; min(v, 1) turns it into 0/1.
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i one = _mm256_set1_epi8(1);
  // The last partial 32 pixels go through a stack buffer rather than bit by bit.
  for (index_t x = 0; x < n; x += 32) {
    const auto m = static_cast<std::uint32_t>(in[x / 64] >> (x % 64));
    const __m256i v = _mm256_min_epu8(
        _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(m)), spread), bit),
        one);
    if (x + 32 <= n) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + x), v);
    } else {
      alignas(32) std::uint8_t tail[32];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tail), v);
      std::memcpy(d + x, tail, static_cast<size_t>(n - x));
    }
  }
}
#endif

template <bool kAvx2>
void pack(const std::uint8_t* s, index_t n, word fill, word* out) {
#if MASKPREP_HAVE_AVX2_CLONES
  if constexpr (kAvx2) return pack_avx2(s, n, fill, out);
#endif
  pack_generic(s, n, fill, out);
}
template <bool kAvx2>
void unpack(const word* in, index_t n, std::uint8_t* d) {
#if MASKPREP_HAVE_AVX2_CLONES
  if constexpr (kAvx2) return unpack_avx2(in, n, d);
#endif
  unpack_generic(in, n, d);
}

// ---- packed rows -------------------------------------------------------------------------------

// A packed row is `lpad` words of padding (so that spans reaching left of column 0 read at
// non-negative bit offsets), nw words of pixels, then padding to rw words, enough for every
// shifted read of the nv >= nw words a row loop covers (nv a multiple of 4): the loops need no
// bounds checks and no scalar tails. Padding and the bits past the width hold the current
// operation's neutral value.
struct Geometry {
  index_t height, width, nw, nv, lpad, rw;
};

// dst[v] = op(bits of x at 64 v + sa, bits of x at 64 v + sb) for v in [0, n); the caller keeps
// the reads inside x. (w << 1) << (63 - r) is w << (64 - r) without the undefined shift by 64.
template <typename Op>
MASKPREP_ALWAYS_INLINE void combine_shifted(const word* __restrict x, const index_t sa,
                                            const index_t sb, word* __restrict dst,
                                            const index_t n) {
  const word* __restrict xa = x + (sa >> 6);
  const word* __restrict xb = x + (sb >> 6);
  const auto ra = static_cast<unsigned>(sa & 63), rb = static_cast<unsigned>(sb & 63);
  for (index_t v = 0; v < n; ++v) {
    const word a = (xa[v] >> ra) | ((xa[v + 1] << 1) << (63 - ra));
    const word b = (xb[v] >> rb) | ((xb[v + 1] << 1) << (63 - rb));
    dst[v] = Op::apply(a, b);
  }
}

// o = op over the n-word rows in sel (at least one), four rows per pass over o rather than one
// pass (a load and store of o) per row. Rows repeat to fill a pass: op is idempotent.
template <typename Op>
MASKPREP_ALWAYS_INLINE void combine_rows(const std::vector<const word*>& sel, word* __restrict o,
                                         const index_t n) {
  const size_t m = sel.size();
  auto at = [&](size_t i) { return sel[std::min(i, m - 1)]; };
  {
    const word* __restrict f0 = at(0);
    const word* __restrict f1 = at(1);
    const word* __restrict f2 = at(2);
    const word* __restrict f3 = at(3);
    for (index_t v = 0; v < n; ++v)
      o[v] = Op::apply(Op::apply(f0[v], f1[v]), Op::apply(f2[v], f3[v]));
  }
  for (size_t i = 4; i < m; i += 3) {
    const word* __restrict f0 = at(i);
    const word* __restrict f1 = at(i + 1);
    const word* __restrict f2 = at(i + 2);
    for (index_t v = 0; v < n; ++v)
      o[v] = Op::apply(Op::apply(o[v], f0[v]), Op::apply(f1[v], f2[v]));
  }
}

// One erosion (AndOp) or dilation (OrOp) from packed rows [r0, r1) (row r at in + (r - r0) * rw)
// to rows [o0, o1): packed into `out` with the next operation's neutral value `next` in their
// padding, or, when out is null, unpacked into dst. Each row is filtered once per distinct span
// with a doubling table (levels[j] = op over 2^j pixels); output rows then combine the filtered
// rows their kernel rows select.
template <typename Op, bool kAvx2>
MASKPREP_ALWAYS_INLINE void step(const Geometry& g, const Plan& plan,
                                 const std::vector<index_t>& slot, const word* in, const index_t r0,
                                 const index_t r1, const index_t o0, const index_t o1, word* filt,
                                 word* lev, word* out, const word next, std::uint8_t* dst,
                                 word* row_tmp) {
  const index_t nv = g.nv, rw = g.rw, nr = r1 - r0, origin = 64 * g.lpad;
  for (index_t r = r0; r < r1; ++r) {
    const word* row = in + (r - r0) * rw;
    for (index_t j = 1; j < plan.levels; ++j) {
      // Words whose reads would pass the row's end start in its padding: neutral.
      const index_t half = index_t{1} << (j - 1), n = rw - (half >> 6) - 1;
      word* cur = lev + (j - 1) * rw;
      combine_shifted<Op>(j > 1 ? cur - rw : row, 0, half, cur, n);
      std::fill(cur + n, cur + rw, Op::neutral);
    }
    for (size_t k = 0; k < plan.spans.size(); ++k) {
      if (slot[k] < 0) continue;  // the identity span reads the row itself
      const Span sp = plan.spans[k];
      index_t j = 0;
      while ((index_t{2} << j) <= sp.b - sp.a + 1) ++j;
      combine_shifted<Op>(j ? lev + (j - 1) * rw : row, origin + sp.a,
                          origin + sp.b - (index_t{1} << j) + 1,
                          filt + (slot[k] * nr + (r - r0)) * nv, nv);
    }
  }
  std::vector<const word*> sel;
  sel.reserve(plan.rows.size());
  for (index_t y = o0; y < o1; ++y) {
    word* __restrict o = out ? out + (y - o0) * rw + g.lpad : row_tmp;
    sel.clear();
    for (const auto& [dy, k] : plan.rows) {
      const index_t r = y + dy;
      if (r < 0 || r >= g.height) continue;  // outside the image: ignored
      sel.push_back(slot[k] < 0 ? in + (r - r0) * rw + g.lpad
                                : filt + (slot[k] * nr + (r - r0)) * nv);
    }
    if (sel.empty())
      std::fill(o, o + nv, Op::neutral);
    else
      combine_rows<Op>(sel, o, nv);
    if (!out) {
      unpack<kAvx2>(o, g.width, dst + y * g.width);
      continue;
    }
    std::fill(o - g.lpad, o, next);
    std::fill(o + g.nw, o - g.lpad + rw, next);
    if (g.width % 64) {
      const word valid = (word{1} << (g.width % 64)) - 1;
      o[g.nw - 1] = (o[g.nw - 1] & valid) | (next & ~valid);
    }
  }
}

// The operations one call runs: true = erosion, false = dilation.
struct Job {
  const std::uint8_t* src;
  std::uint8_t* dst;
  Geometry g;
  Plan plan;
  std::vector<index_t> slot;  // per span: its filtered-row slot, -1 for the identity span
  index_t nslots;
  std::vector<bool> erode;
};

// Words of scratch for a band whose first step reads `rows` rows: two ping-pong packed images,
// the filtered rows, the doubling levels and one output row.
index_t scratch_words(const Job& job, index_t rows) {
  const Geometry& g = job.g;
  const index_t per_row =
      detail::checked_add("morphology scratch row", 2 * g.rw,
                          detail::checked_size("morphology scratch row", job.nslots, g.nv));
  return detail::checked_add("morphology scratch",
                             detail::checked_size("morphology scratch", rows, per_row),
                             (job.plan.levels - 1) * g.rw + g.nv);
}

// Output rows [y0, y1): every step of the job fused through band-sized packed buffers. A step
// k steps before the last produces the rows those k steps need (k (kh - 1) extra), so no
// intermediate image goes to memory and the result does not depend on the banding.
template <bool kAvx2>
MASKPREP_ALWAYS_INLINE void band(const Job& job, const index_t y0, const index_t y1) {
  const Geometry& g = job.g;
  const Plan& plan = job.plan;
  const auto n_steps = static_cast<index_t>(job.erode.size());
  auto rows_for = [&](index_t k, index_t& a, index_t& b) {
    a = std::clamp<index_t>(y0 + k * plan.dy_min, 0, g.height);
    b = std::clamp<index_t>(y1 + k * plan.dy_max, a, g.height);
  };
  const index_t rows = std::min(g.height, (y1 - y0) + n_steps * (plan.dy_max - plan.dy_min));
  Scratch scratch(scratch_words(job, rows));
  word* const bufs[2] = {scratch.data(), scratch.data() + rows * g.rw};
  word* const filt = bufs[1] + rows * g.rw;
  word* const lev = filt + rows * job.nslots * g.nv;
  word* const row_tmp = lev + (plan.levels - 1) * g.rw;
  auto neutral = [&](index_t s) { return job.erode[s] ? AndOp::neutral : OrOp::neutral; };
  index_t r0, r1;
  rows_for(n_steps, r0, r1);
  for (index_t r = r0; r < r1; ++r) {
    word* row = bufs[0] + (r - r0) * g.rw;
    std::fill(row, row + g.lpad, neutral(0));
    pack<kAvx2>(job.src + r * g.width, g.width, neutral(0), row + g.lpad);
    std::fill(row + g.lpad + g.nw, row + g.rw, neutral(0));
  }
  for (index_t s = 0; s < n_steps; ++s) {
    index_t o0, o1;
    rows_for(n_steps - 1 - s, o0, o1);
    const bool last = s + 1 == n_steps;
    word* out = last ? nullptr : bufs[(s + 1) % 2];
    const word next = last ? 0 : neutral(s + 1);
    if (job.erode[s])
      step<AndOp, kAvx2>(g, plan, job.slot, bufs[s % 2], r0, r1, o0, o1, filt, lev, out, next,
                         job.dst, row_tmp);
    else
      step<OrOp, kAvx2>(g, plan, job.slot, bufs[s % 2], r0, r1, o0, o1, filt, lev, out, next,
                        job.dst, row_tmp);
    r0 = o0;
    r1 = o1;
  }
}

MASKPREP_TARGET_AVX2_FN void band_avx2(const Job& job, index_t y0, index_t y1) {
  band<true>(job, y0, y1);
}
void band_generic(const Job& job, index_t y0, index_t y1) { band<false>(job, y0, y1); }

void run(const Job& job, int num_threads) {
  const Geometry& g = job.g;
  const index_t halo = static_cast<index_t>(job.erode.size()) * (job.plan.dy_max - job.plan.dy_min);
  // As many rows as keep the scratch within what a thread keeps, but at least four times the halo
  // (each band recomputes it).
  const index_t fit = (kKeptScratchWords - scratch_words(job, 0)) / scratch_words(job, 1) - halo;
  const index_t band_rows = std::min(g.height, std::max({fit, 4 * halo, index_t{16}}));
  const index_t bands = (g.height + band_rows - 1) / band_rows;
  // Bytes packed and unpacked, plus the word operations of each step (a fraction of a byte op
  // per pixel each).
  const index_t work =
      detail::saturating_mul(g.height * g.width, 1 + static_cast<index_t>(job.erode.size()));
  parallel_for(bands, threads_for_work(num_threads, work, kMinBytesPerThread), [&](index_t b) {
    const index_t y0 = b * band_rows;
    const index_t y1 = std::min(g.height, y0 + band_rows);
    detail::dispatch_avx2([&] { band_avx2(job, y0, y1); }, [&] { band_generic(job, y0, y1); });
  });
}

}  // namespace

std::vector<std::uint8_t> structuring_element(MorphShape shape, index_t kh, index_t kw) {
  MASKPREP_CHECK(kh >= 1 && kw >= 1, "kernel size must be positive, got (", kh, ", ", kw, ")");
  if (kh == 1 && kw == 1) shape = MorphShape::kRect;  // as OpenCV
  const index_t size = detail::checked_size("kernel size kh*kw", kh, kw);
  std::vector<std::uint8_t> k(
      static_cast<size_t>(detail::checked_bytes("kernel size kh*kw", size, 1)), 0);
  const index_t r = kh / 2, c = kw / 2;
  const index_t rr =
      shape == MorphShape::kEllipse ? detail::checked_size("kernel radius r*r", r, r) : 0;
  const double inv_r2 = r ? 1. / (static_cast<double>(r) * static_cast<double>(r)) : 0;
  for (index_t i = 0; i < kh; ++i) {
    index_t j1 = 0, j2 = 0;
    if (shape == MorphShape::kRect || (shape == MorphShape::kCross && i == r)) {
      j2 = kw;
    } else if (shape == MorphShape::kCross) {
      j1 = c;
      j2 = c + 1;
    } else {
      const index_t dy = i - r;
      if (std::abs(dy) <= r) {
        // saturate_cast<int>(double) rounds half to even.
        const auto dx = static_cast<index_t>(std::lrint(
            static_cast<double>(c) * std::sqrt(static_cast<double>(rr - dy * dy) * inv_r2)));
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
  detail::checked_size("mask size height*width", height, width);
  // The kernel is copied before it is checked and planned: the caller may change it meanwhile.
  const std::vector<std::uint8_t> k(kernel,
                                    kernel + detail::checked_size("kernel size kh*kw", kh, kw));
  MASKPREP_CHECK(std::any_of(k.begin(), k.end(), [](std::uint8_t v) { return v != 0; }),
                 "kernel must have at least one nonzero element");
  const bool fused = op == MorphOp::kOpen || op == MorphOp::kClose;
  const index_t steps = detail::checked_size("iterations x passes", iterations, fused ? 2 : 1);
  Job job{src, dst, {}, make_plan(k.data(), kh, kw), {}, 0, {}};
  // The band halo (4 x steps x kernel height, see run) must fit too.
  detail::checked_size("iterations x kernel height", 4, steps, job.plan.dy_max - job.plan.dy_min);
  const index_t nw = (width + 63) / 64, nv = (nw + 3) / 4 * 4;
  const index_t lpad = (job.plan.pad + 63) / 64;
  // Shifted reads reach (pad >> 6) + 1 words past a span's row, a doubling step
  // (max_len >> 6) + 1 words past a level's.
  const index_t rpad = (std::max(job.plan.pad, job.plan.max_len) >> 6) + 2;
  job.g = Geometry{height, width, nw, nv, lpad, lpad + nv + rpad};
  for (const Span& s : job.plan.spans) job.slot.push_back(s.a == 0 && s.b == 0 ? -1 : job.nslots++);
  const bool first_erode = op == MorphOp::kErode || op == MorphOp::kOpen;
  job.erode.assign(static_cast<size_t>(iterations), first_erode);
  if (fused) job.erode.resize(static_cast<size_t>(steps), !first_erode);
  run(job, num_threads);
}

}  // namespace maskprep::morphology
