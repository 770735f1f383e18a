// COCO RLE kernels: string codec, encode (three layouts), decode, area, bbox, IoU, merge.
#include "maskprep/rle.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "byte_scan.hpp"
#include "isa_dispatch.hpp"
#include "parallel_for.hpp"

namespace maskprep::rle {
namespace {

// ---- byte scanning: the hot loop of encode ------------------------------------------------------

// First index in [i, n) whose byte is nonzero (want_nonzero) or zero; n if there is none.
index_t find_scalar(const byte_t* p, index_t i, index_t n, bool want_nonzero) {
  return want_nonzero ? detail::find_next<true>(p, i, n) : detail::find_next<false>(p, i, n);
}

#if MASKPREP_HAVE_AVX2_CLONES
MASKPREP_TARGET_AVX2_FN index_t find_avx2(const byte_t* p, index_t i, index_t n,
                                          bool want_nonzero) {
  const __m256i zero = _mm256_setzero_si256();
  const std::uint32_t flip = want_nonzero ? 0xFFFFFFFFu : 0u;
  // 64 bytes per step: long runs are the common case in object masks.
  for (; i + 64 <= n; i += 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32));
    const std::uint32_t ma =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero))) ^ flip;
    const std::uint32_t mb =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero))) ^ flip;
    if (ma) return i + __builtin_ctz(ma);
    if (mb) return i + 32 + __builtin_ctz(mb);
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const std::uint32_t ma =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero))) ^ flip;
    if (ma) return i + __builtin_ctz(ma);
  }
  return find_scalar(p, i, n, want_nonzero);
}

// Calls f(c) for every c in [0, n) where (a[c] != 0) != (b[c] != 0).
template <typename F>
MASKPREP_TARGET_AVX2_FN void for_each_diff_avx2(const byte_t* a, const byte_t* b, index_t n,
                                                F&& f) {
  const __m256i zero = _mm256_setzero_si256();
  index_t c = 0;
  for (; c + 32 <= n; c += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + c));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + c));
    std::uint32_t m = static_cast<std::uint32_t>(_mm256_movemask_epi8(
        _mm256_xor_si256(_mm256_cmpeq_epi8(va, zero), _mm256_cmpeq_epi8(vb, zero))));
    while (m) {
      f(c + __builtin_ctz(m));
      m &= m - 1;
    }
  }
  for (; c < n; ++c) {
    if ((a[c] != 0) != (b[c] != 0)) f(c);
  }
}
#endif

template <typename F>
void for_each_diff_scalar(const byte_t* a, const byte_t* b, index_t n, F&& f) {
  index_t c = 0;
  for (; c + 8 <= n; c += 8) {
    std::uint64_t va, vb;
    std::memcpy(&va, a + c, 8);
    std::memcpy(&vb, b + c, 8);
    if (va == vb) continue;  // identical bytes cannot differ in foreground-ness
    for (index_t k = c; k < c + 8; ++k) {
      if ((a[k] != 0) != (b[k] != 0)) f(k);
    }
  }
  for (; c < n; ++c) {
    if ((a[c] != 0) != (b[c] != 0)) f(c);
  }
}

index_t find_run_end(const byte_t* p, index_t i, index_t n, bool want_nonzero) {
#if MASKPREP_HAVE_AVX2_CLONES
  if (detail::use_avx2()) return find_avx2(p, i, n, want_nonzero);
#endif
  return find_scalar(p, i, n, want_nonzero);
}

template <typename F>
void for_each_diff(const byte_t* a, const byte_t* b, index_t n, F&& f) {
#if MASKPREP_HAVE_AVX2_CLONES
  if (detail::use_avx2()) return for_each_diff_avx2(a, b, n, f);
#endif
  for_each_diff_scalar(a, b, n, f);
}

// ---- encode -------------------------------------------------------------------------------------

// One mask stored contiguously in column-major order: runs are found by scanning for the next
// byte that changes foreground-ness.
void encode_contiguous(const byte_t* p, index_t len, Counts& out) {
  out.clear();
  index_t start = 0;
  bool fg = false;
  do {
    const index_t end = find_run_end(p, start, len, !fg);
    out.push_back(static_cast<count_t>(end - start));
    start = end;
    fg = !fg;
  } while (start < len);
}

// n masks interleaved in rows of L = w*n bytes: pixel (y, x) of mask i at y*L + x*n + i
// (n == 1 is a plain row-major mask). Column-major runs are rebuilt from vertical transitions:
// rows y-1 and y are compared (contiguous, vectorised), every change is recorded as (column, y),
// the changes are bucketed by column (a counting sort, stable in y), and each mask's counts are
// read off its columns in order. Row bands run in parallel when num_threads > 1.
void encode_rows(const byte_t* base, index_t h, index_t w, index_t n, Counts* outs,
                 int num_threads) {
  const index_t L = w * n;
  struct Change {
    index_t c, y;
  };
  const int bands = (h > 1) ? threads_for_work(num_threads, (h - 1) * L, kMinBytesPerThread) : 1;
  std::vector<std::vector<Change>> band_changes(static_cast<size_t>(bands));
  parallel_for(bands, bands, [&](index_t b) {
    const index_t y0 = 1 + (h - 1) * b / bands, y1 = 1 + (h - 1) * (b + 1) / bands;
    auto& changes = band_changes[static_cast<size_t>(b)];
    for (index_t y = y0; y < y1; ++y) {
      for_each_diff(base + (y - 1) * L, base + y * L, L,
                    [&](index_t c) { changes.push_back({c, y}); });
    }
  });
  // Bucket by column; bands are visited in order, so each column's rows stay sorted.
  std::vector<index_t> col_start(static_cast<size_t>(L) + 1, 0);
  for (const auto& changes : band_changes)
    for (const Change& ch : changes) ++col_start[static_cast<size_t>(ch.c) + 1];
  for (index_t c = 0; c < L; ++c) col_start[c + 1] += col_start[c];
  std::vector<index_t> rows(static_cast<size_t>(col_start[L]));
  {
    std::vector<index_t> fill(col_start.begin(), col_start.end() - 1);
    for (const auto& changes : band_changes)
      for (const Change& ch : changes) rows[static_cast<size_t>(fill[ch.c]++)] = ch.y;
  }
  const byte_t* top = base;
  const byte_t* bottom = base + (h - 1) * L;
  parallel_for(n, threads_for_work(num_threads, n * w, 1 << 16), [&](index_t i) {
    Counts& out = outs[i];
    out.clear();
    const count_t total = static_cast<count_t>(h) * static_cast<count_t>(w);
    count_t prev = 0;
    auto change_at = [&](count_t pos) {
      out.push_back(pos - prev);
      prev = pos;
    };
    if (h > 0 && w > 0 && top[i] != 0) change_at(0);
    for (index_t x = 0; x < w; ++x) {
      const index_t c = x * n + i;
      const count_t col = static_cast<count_t>(x) * static_cast<count_t>(h);
      for (index_t k = col_start[c]; k < col_start[c + 1]; ++k)
        change_at(col + static_cast<count_t>(rows[k]));
      if (x + 1 < w && (bottom[c] != 0) != (top[c + n] != 0))
        change_at(col + static_cast<count_t>(h));
    }
    out.push_back(total - prev);
  });
}

// ---- decode -------------------------------------------------------------------------------------

void decode_column_major(const Counts& counts, byte_t* out) {
  index_t pos = 0;
  byte_t v = 0;
  for (count_t c : counts) {
    std::memset(out + pos, v, static_cast<size_t>(c));
    pos += static_cast<index_t>(c);
    v ^= 1;
  }
}

// Row-major decode without strided writes: mark where each column enters or leaves the
// foreground (XOR toggles in a zeroed image), then a running XOR down the rows fills the runs.
void mark_row_major_toggles(const Counts& counts, index_t h, index_t w, byte_t* out) {
  std::memset(out, 0, static_cast<size_t>(h * w));
  auto toggle = [&](index_t y, index_t x) { out[y * w + x] ^= 1; };
  index_t pos = 0;
  for (size_t j = 0; j < counts.size(); ++j) {
    const index_t s = pos, e = pos + static_cast<index_t>(counts[j]);
    pos = e;
    if ((j & 1) == 0 || s == e) continue;
    const index_t x0 = s / h, y0 = s % h, x1 = e / h, y1 = e % h;
    toggle(y0, x0);
    if (x0 == x1) {
      toggle(y1, x0);
      continue;
    }
    for (index_t x = x0 + 1; x < x1; ++x) toggle(0, x);  // full columns
    if (y1 > 0) {
      toggle(0, x1);
      toggle(y1, x1);
    }
  }
}

void prefix_xor_rows(byte_t* out, index_t h, index_t w, index_t x0, index_t x1) {
  for (index_t y = 1; y < h; ++y) {
    byte_t* row = out + y * w;
    const byte_t* above = row - w;
    for (index_t x = x0; x < x1; ++x) row[x] ^= above[x];
  }
}

// ---- merge / iou helpers ------------------------------------------------------------------------

void bbox_iou_one(const double* D, const double* G, bool crowd, double* o) {
  // Same operations, same order as pycocotools' bbIou. lo/hi are fmin/fmax (a NaN argument
  // gives the other one) as inlined compares: the libm calls were a sixth of iou's time.
  const auto lo = [](double a, double b) { return (b < a || a != a) ? b : a; };
  const auto hi = [](double a, double b) { return (b > a || a != a) ? b : a; };
  const double ga = G[2] * G[3], da = D[2] * D[3];
  *o = 0;
  const double w = lo(D[2] + D[0], G[2] + G[0]) - hi(D[0], G[0]);
  if (w <= 0) return;
  const double h = lo(D[3] + D[1], G[3] + G[1]) - hi(D[1], G[1]);
  if (h <= 0) return;
  const double i = w * h, u = crowd ? da : da + ga - i;
  *o = i / u;
}

// The foreground runs of an RLE as [start, end) pixel positions, and their total.
struct Foreground {
  std::vector<count_t> start, end;
  count_t area = 0;
};

void foreground_runs(const Counts& counts, Foreground& f) {
  f.start.reserve(counts.size() / 2 + 1);
  f.end.reserve(counts.size() / 2 + 1);
  count_t pos = 0;
  for (size_t j = 0; j < counts.size(); ++j) {
    const count_t s = pos;
    pos += counts[j];
    if ((j & 1) && counts[j] > 0) {
      if (!f.end.empty() && f.end.back() == s) {
        f.end.back() = pos;  // adjacent runs (a zero-length gap): one interval
      } else {
        f.start.push_back(s);
        f.end.push_back(pos);
      }
      f.area += counts[j];
    }
  }
}

count_t intersection(const Foreground& a, const Foreground& b) {
  if (a.start.empty() || b.start.empty()) return 0;
  const count_t lo = std::max(a.start.front(), b.start.front());
  const count_t hi = std::min(a.end.back(), b.end.back());
  if (lo >= hi) return 0;
  size_t i = static_cast<size_t>(std::upper_bound(a.end.begin(), a.end.end(), lo) - a.end.begin());
  size_t j = static_cast<size_t>(std::upper_bound(b.end.begin(), b.end.end(), lo) - b.end.begin());
  count_t inter = 0;
  while (i < a.start.size() && j < b.start.size()) {
    const count_t s = std::max(a.start[i], b.start[j]);
    if (s >= hi) break;
    const count_t e = std::min(a.end[i], b.end[j]);
    if (e > s) inter += e - s;
    if (a.end[i] < b.end[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return inter;
}

// a ∪ the foreground runs of `counts`, read straight from the counts (without first building
// their interval list: merge's common case, one pass per input). Intervals are interleaved
// [start, end) pairs; `out` has room for na + counts.size() / 2 + 1 of them (the caller sizes
// it: capacity checks per interval cost as much as the union). Returns the pairs written.
// Overlapping or touching intervals become one, so the result is canonical.
size_t union_counts(const count_t* a, size_t na, const Counts& counts, count_t* out) {
  count_t* o = out;
  count_t cs = 0, ce = 0;  // the interval being extended, written when the next one is apart
  bool open = false;
  auto emit = [&](count_t s, count_t e) {
    if (open && s <= ce) {
      ce = std::max(ce, e);
      return;
    }
    if (open) {
      o[0] = cs;
      o[1] = ce;
      o += 2;
    }
    cs = s;
    ce = e;
    open = true;
  };
  const count_t* const a_end = a + 2 * na;
  const count_t* c = counts.data();
  const size_t m = counts.size();
  count_t pos = 0;
  for (size_t j = 0; j + 1 < m; j += 2) {
    const count_t s = pos + c[j];  // background c[j], then foreground c[j + 1]
    pos = s + c[j + 1];
    if (pos == s) continue;  // an empty foreground run
    for (; a < a_end && a[0] <= s; a += 2) emit(a[0], a[1]);
    emit(s, pos);
  }
  for (; a < a_end; a += 2) emit(a[0], a[1]);
  if (open) {
    o[0] = cs;
    o[1] = ce;
    o += 2;
  }
  return static_cast<size_t>(o - out) / 2;
}

// Intersection of two sorted, disjoint, non-touching interval lists.
void intersect_intervals(const Foreground& a, const Foreground& b, Foreground& out) {
  out.start.clear();
  out.end.clear();
  size_t i = 0, j = 0;
  while (i < a.start.size() && j < b.start.size()) {
    const count_t s = std::max(a.start[i], b.start[j]);
    const count_t e = std::min(a.end[i], b.end[j]);
    if (e > s) {
      out.start.push_back(s);
      out.end.push_back(e);
    }
    if (a.end[i] < b.end[j]) {
      ++i;
    } else {
      ++j;
    }
  }
}

}  // namespace

// ---- strings ------------------------------------------------------------------------------------

namespace {
struct StringScratch {};  // tag for append_string's per-thread buffer
struct CountsScratch {};  // tag for from_string's
}  // namespace

namespace {

// Writes the 65-bit two's-complement value hi:lo (hi = 0 or ~0, the sign) in pycocotools' 5-bit
// groups. For values that fit in int64 this is exactly pycocotools' loop on a `long`.
char* write_wide(std::uint64_t lo, std::uint64_t hi, char* p) {
  bool more = true;
  while (more) {
    int c = static_cast<int>(lo & 0x1f);
    lo = (lo >> 5) | (hi << 59);  // arithmetic shift of the 65-bit value
    more = (c & 0x10) ? !(hi == ~std::uint64_t{0} && lo == ~std::uint64_t{0}) : (hi | lo) != 0;
    if (more) c |= 0x20;
    *p++ = static_cast<char>(c + 48);
  }
  return p;
}

}  // namespace

namespace {

// Writes counts[i] as pycocotools does: the difference from counts[i-2] from index 3 on.
MASKPREP_ALWAYS_INLINE char* put_count(const count_t* counts, index_t i, char* p) {
  const count_t a = counts[i], b = i > 2 ? counts[i - 2] : 0;
  if (((a | b) >> 62) != 0) {
    // A count of 2^62 or more: the delta may need 65 bits (no int64 overflow, see from_string).
    return write_wide(a - b, a < b ? ~std::uint64_t{0} : 0, p);
  }
  std::int64_t x = static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b);
  // Up to 4 characters (|x| < 2^19, nearly every delta) without the loop's unpredictable
  // exit: c characters hold x when it fits in 5c signed bits; all 4 are written (the buffer
  // has room) and c kept.
  const auto fits = [x](int bits) {
    return static_cast<std::uint64_t>(x + (std::int64_t{1} << (bits - 1))) <
           (std::uint64_t{1} << bits);
  };
  if (fits(20)) {
    const int c = 1 + !fits(5) + !fits(10) + !fits(15);
    // The four 5-bit groups as bytes of one word, the continuation bit 0x20 on all but
    // the c-th, + 48 each (no carries: every byte stays <= 0x6f).
    const auto u = static_cast<std::uint32_t>(x);
    const std::uint32_t word =
        ((u & 0x1f) | ((u << 3) & 0x1f00) | ((u << 6) & 0x1f0000) | ((u << 9) & 0x1f000000)) +
        (0x202020u >> (8 * (4 - c))) + 0x30303030u;
    for (int k = 0; k < 4; ++k) p[k] = static_cast<char>(word >> (8 * k));  // one store
    return p + c;
  }
  bool more = true;
  while (more) {
    int c = static_cast<int>(x & 0x1f);
    x >>= 5;  // arithmetic: the sign is carried in bit 0x10 of the last character
    more = (c & 0x10) ? x != -1 : x != 0;
    if (more) c |= 0x20;
    *p++ = static_cast<char>(c + 48);
  }
  return p;
}

char* put_counts_generic(const count_t* counts, index_t m, char* p) {
  for (index_t i = 0; i < m; ++i) p = put_count(counts, i, p);
  return p;
}

#if MASKPREP_HAVE_AVX2_CLONES

// For each 8-bit mask of which of 8 values take two characters: the byte shuffle that packs
// their characters (value k's at bytes 2k, 2k + 1 of the input) and, in entry 16, their number.
struct PackTable {
  alignas(16) std::uint8_t shuffle[256][16];
  PackTable() {
    for (int mask = 0; mask < 256; ++mask) {
      int n = 0;
      for (int k = 0; k < 8; ++k) {
        shuffle[mask][n++] = static_cast<std::uint8_t>(2 * k);
        if (mask >> k & 1) shuffle[mask][n++] = static_cast<std::uint8_t>(2 * k + 1);
      }
      for (; n < 16; ++n) shuffle[mask][n] = 0x80;  // zero
    }
  }
};

// 8 counts at a time where every delta takes 1 or 2 characters (the common case: a run differs
// from the one two before by less than 512): the deltas in 16-bit lanes, each lane's two
// characters built at once, then packed with one byte shuffle. Other blocks, the first three
// counts and the tail go through put_count.
MASKPREP_TARGET_AVX2_FN char* put_counts_avx2(const count_t* counts, index_t m, char* p) {
  static const PackTable table;
  index_t i = 0;
  for (; i < std::min<index_t>(m, 3); ++i) p = put_count(counts, i, p);
  const __m256i k512 = _mm256_set1_epi64x(512);
  const __m256i low_dwords = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m128i k16 = _mm_set1_epi16(16), k31 = _mm_set1_epi16(31), cont = _mm_set1_epi16(0x20),
                k48 = _mm_set1_epi16(0x3030), one48 = _mm_set1_epi16(0x30),
                zero = _mm_setzero_si128();
  for (; i + 8 <= m; i += 8) {
    const auto* c = reinterpret_cast<const __m256i*>(counts + i);
    const __m256i a0 = _mm256_loadu_si256(c), a1 = _mm256_loadu_si256(c + 1);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(counts + i - 2));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(counts + i + 2));
    const __m256i d0 = _mm256_sub_epi64(a0, b0), d1 = _mm256_sub_epi64(a1, b1);
    // Every delta in [-512, 512) and every count below 2^62 (so the 64-bit delta is exact).
    const __m256i wide = _mm256_or_si256(
        _mm256_or_si256(_mm256_srli_epi64(_mm256_add_epi64(d0, k512), 10),
                        _mm256_srli_epi64(_mm256_add_epi64(d1, k512), 10)),
        _mm256_srli_epi64(_mm256_or_si256(_mm256_or_si256(a0, a1), _mm256_or_si256(b0, b1)), 62));
    if (!_mm256_testz_si256(wide, wide)) {
      for (index_t j = i; j < i + 8; ++j) p = put_count(counts, j, p);
      continue;
    }
    const __m128i v =
        _mm_packs_epi32(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(d0, low_dwords)),
                        _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(d1, low_dwords)));
    const __m128i one = _mm_cmpeq_epi16(_mm_srli_epi16(_mm_add_epi16(v, k16), 5), zero);
    const __m128i lo = _mm_and_si128(v, k31);
    const __m128i hi = _mm_and_si128(_mm_srai_epi16(v, 5), k31);
    const __m128i two_chars =
        _mm_add_epi16(_mm_or_si128(_mm_or_si128(lo, cont), _mm_slli_epi16(hi, 8)), k48);
    const __m128i chars = _mm_blendv_epi8(two_chars, _mm_add_epi16(lo, one48), one);
    const auto two = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_packs_epi16(_mm_andnot_si128(one, _mm_set1_epi16(-1)), zero)));
    const __m128i shuffle = _mm_load_si128(reinterpret_cast<const __m128i*>(table.shuffle[two]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_shuffle_epi8(chars, shuffle));
    p += 8 + _mm_popcnt_u32(two);
  }
  for (; i < m; ++i) p = put_count(counts, i, p);
  return p;
}

#endif

}  // namespace

void append_string(const count_t* counts, index_t m, std::string& out) {
  // Written through a raw pointer into a per-thread buffer sized for the worst case (13
  // characters per 65-bit value, and 16 bytes a block store may write), then appended:
  // per-character push_back, or zero-filling the worst case inside `out`, dominated the cost.
  std::vector<char>& buffer = detail::thread_scratch<std::vector<char>, StringScratch>();
  const size_t need = static_cast<size_t>(detail::checked_size("RLE string length", m, 13)) + 16;
  if (buffer.size() < need) buffer.resize(need);
  char* const first = buffer.data();
#if MASKPREP_HAVE_AVX2_CLONES
  char* const p = detail::dispatch_avx2([&] { return put_counts_avx2(counts, m, first); },
                                        [&] { return put_counts_generic(counts, m, first); });
#else
  char* const p = put_counts_generic(counts, m, first);
#endif
  out.append(first, static_cast<size_t>(p - first));
}

std::string to_string(const Counts& counts) {
  std::string s;
  s.reserve(counts.size() * 2);
  append_string(counts.data(), static_cast<index_t>(counts.size()), s);
  return s;
}

namespace {

// from_string's error for a count outside [0, 2^64): kept out of the decoding loop.
[[noreturn, gnu::noinline, gnu::cold]] void bad_count(bool negative, count_t x, index_t start) {
  if (negative)
    throw std::invalid_argument(detail::concat("compressed RLE string decodes to a negative ",
                                               "count (-", count_t{0} - x, ") at byte ", start));
  throw std::invalid_argument(
      detail::concat("compressed RLE string overflows 64 bits at byte ", start));
}

}  // namespace

namespace {

// The exact decoder, one character at a time: reports every malformed input (see from_string).
// Decodes s into out (len entries) and returns the number of counts.
size_t decode_slow(const char* s, index_t len, count_t* out, count_t& sum_out,
                   bool& sum_overflow_out) {
  size_t m = 0;
  count_t prev2 = 0, prev1 = 0;  // counts[m-2], counts[m-1]
  count_t sum = 0;
  bool sum_overflow = false;
  const auto* const begin = reinterpret_cast<const unsigned char*>(s);
  const auto* p = begin;
  const auto* const end = p + len;
  while (p < end) {
    const index_t start = p - begin;
    std::uint64_t bits = 0;
    int shift = 0;
    unsigned c;
    do {
      MASKPREP_CHECK(p < end, "compressed RLE string is truncated: the value starting at byte ",
                     start, " ends with a continuation character");
      c = static_cast<unsigned>(*p) - 48u;  // bytes below '0' wrap around and fail below
      MASKPREP_CHECK(c <= 63, "compressed RLE string has byte ", static_cast<unsigned>(*p),
                     " at offset ", p - begin, "; expected a character in '0'..'o' (48..111)");
      ++p;
      bits |= static_cast<std::uint64_t>(c & 0x1f) << shift;  // the 13th group's 0x10 is dropped
      shift += 5;
    } while ((c & 0x20) && shift < 65);
    // 13 characters hold 65 bits, any difference of two 64-bit counts (what append_string
    // writes); pycocotools never writes more than 7 per value.
    MASKPREP_CHECK(!(c & 0x20), "compressed RLE string overflows: the value starting at byte ",
                   start, " is longer than 13 characters");
    // The value is the 65-bit two's-complement number neg:bits; bit 0x10 of the last group is
    // its sign.
    const bool neg = (c & 0x10) != 0;
    if (neg && shift < 64) bits |= ~std::uint64_t{0} << shift;  // sign-extend the last group
    // count = base + value with base = counts[m-2] from index 3 on: in unsigned arithmetic the
    // sum is exact (in [0, 2^64)) exactly when it carries iff the value is negative.
    const count_t base = m > 2 ? prev2 : 0;
    count_t x = 0;
    const bool carry = __builtin_add_overflow(base, bits, &x);
    if (carry != neg) bad_count(neg, x, start);
    out[m++] = x;
    prev2 = prev1;
    prev1 = x;
    sum += x;
    sum_overflow |= sum < x;
  }
  sum_out = sum;
  sum_overflow_out = sum_overflow;
  return m;
}

#if defined(__SSE2__)

// For the 64 characters at p (readable), given the 16 before them in `before` (only the last is
// read; replaced by the chunk's last 16): bit j of `ends` set where character j ends a value (no
// continuation bit), and vals[j] the value ending there if it has 1 or 2 characters. False if a
// byte is outside '0'..'o'.
inline bool chunk_values(const unsigned char* p, __m128i& before, std::int16_t* vals,
                         std::uint64_t& ends) {
  const __m128i k48 = _mm_set1_epi8(48), k31 = _mm_set1_epi16(31), k16 = _mm_set1_epi16(16),
                k32 = _mm_set1_epi16(32), zero = _mm_setzero_si128();
  ends = 0;
  int bad = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i cur = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i prev = _mm_or_si128(_mm_slli_si128(cur, 1), _mm_srli_si128(before, 15));
    before = cur;
    const __m128i x = _mm_sub_epi8(cur, _mm_set1_epi8(48));         // groups: 0..63 when valid
    bad |= _mm_movemask_epi8(_mm_or_si128(x, _mm_add_epi8(x, x)));  // bit 7 or 6 set
    const auto more = static_cast<unsigned>(_mm_movemask_epi8(_mm_slli_epi16(x, 2)));  // 0x20
    ends |= static_cast<std::uint64_t>(~more & 0xffffu) << (16 * k);
    const __m128i xp = _mm_sub_epi8(prev, k48);
    for (int half = 0; half < 2; ++half) {
      const __m128i c = half ? _mm_unpackhi_epi8(x, zero) : _mm_unpacklo_epi8(x, zero);
      const __m128i q = half ? _mm_unpackhi_epi8(xp, zero) : _mm_unpacklo_epi8(xp, zero);
      // A value's last group carries the sign in bit 0x10.
      const __m128i one = _mm_sub_epi16(_mm_xor_si128(_mm_and_si128(c, k31), k16), k16);
      const __m128i two = _mm_add_epi16(_mm_and_si128(q, k31), _mm_slli_epi16(one, 5));
      const __m128i is_two = _mm_cmpeq_epi16(_mm_and_si128(q, k32), k32);  // q continues
      const __m128i v = _mm_or_si128(_mm_and_si128(is_two, two), _mm_andnot_si128(is_two, one));
      _mm_store_si128(reinterpret_cast<__m128i*>(vals + 16 * k + 8 * half), v);
    }
  }
  return bad == 0;
}

// The common case, without a branch on where each value ends (a per-character loop mispredicts
// on nearly every value of a real string: 1 or 2 characters, in no pattern). The first three
// values (no base, the first often long) are read one character at a time; then, 64 characters
// at a time, SSE2 finds the value ends and every 1- or 2-character value (chunk_values), and a
// chunk without longer values is read straight from them. Returns the number of counts, or -1
// for anything out of the ordinary (a byte outside '0'..'o', a value of 12 or more characters, a
// count of 2^40 or more or negative, a truncated end, a string of 2^20 or more characters):
// decode_slow then reads the string again, exactly.
// kStore false: nothing is written to out (which may be null), the foreground sum (the odd-index
// counts: the area) comes back in odd_out instead and the return value is 0 or -1.
//
// After the first three, the values alternate between two classes: the one of the next value
// (index m, its base counts[m-2] in pa, its counts summed in sa) and the other (pb, sb). A pair
// of values is read without moving the bases (the first adds to pa, the second to pb); after an
// odd number, the classes swap roles.
template <bool kStore>
MASKPREP_ALWAYS_INLINE index_t decode_fast_body(const char* s, index_t len, count_t* out,
                                                count_t& sum_out, count_t& odd_out) {
  const auto* const b = reinterpret_cast<const unsigned char*>(s);
  if (len >= (index_t{1} << 20)) return -1;  // with counts below 2^40, the sum cannot overflow
  index_t m = 0, start = 0;
  count_t hi = 0;  // every count or'ed together, to check they are below 2^40
  count_t first[3] = {0, 0, 0};
  while (m < 3 && start < len) {
    std::uint64_t g = 0;
    int shift = 0;
    unsigned c;
    do {
      if (start >= len || shift >= 55) return -1;
      c = b[start++] - 48u;
      if (c > 63) return -1;
      g |= static_cast<std::uint64_t>(c & 31) << shift;
      shift += 5;
    } while (c & 32);
    const std::uint64_t top = std::uint64_t{1} << (shift - 1);  // the sign bit
    const count_t x = (g ^ top) - top;
    if constexpr (kStore) out[m] = x;
    first[m++] = x;
    hi |= x;
  }
  count_t pa = first[1], pb = first[2];             // the bases of the next value and the one after
  count_t sa = first[1], sb = first[0] + first[2];  // their classes' sums (index 3 is odd)
  bool a_odd = true;                                // whether pa's class holds the odd indices
  auto finish = [&]() -> index_t {
    if (start != len || (hi >> 40) != 0) return -1;
    sum_out = sa + sb;
    odd_out = a_odd ? sa : sb;
    return kStore ? m : 0;
  };
  if (start == len) return finish();
  auto swap_classes = [&] {
    std::swap(pa, pb);
    std::swap(sa, sb);
    a_odd = !a_odd;
  };
  alignas(16) std::int16_t vals[64];
  alignas(16) unsigned char tail[64];
  __m128i before = _mm_set1_epi8('0');  // the character before `start` ends a value
  bool cont2 = false;                   // the character two before the chunk continues a value
  for (index_t chunk = start; chunk < len; chunk += 64) {
    const index_t rem = len - chunk;
    const unsigned char* p = b + chunk;
    if (rem < 64) {  // the last chunk, padded with '0'
      std::memset(tail, '0', sizeof tail);
      std::memcpy(tail, p, static_cast<size_t>(rem));
      p = tail;
    }
    const bool cont1 = (b[chunk - 1] - 48u) & 32u;  // the character before the chunk continues
    std::uint64_t ends;
    if (!chunk_values(p, before, vals, ends)) return -1;
    const std::uint64_t in = rem >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << rem) - 1;
    ends &= in;
    const std::uint64_t more = ~ends & in;  // continuation characters
    const std::uint64_t more1 = (more << 1) | cont1, more2 = (more1 << 1) | cont2;
    cont2 = (more >> 62) & 1;
    if (ends != 0 && (ends & more1 & more2) == 0) {
      // Every value ending here has 1 or 2 characters.
      start = chunk + 64 - __builtin_clzll(ends);
      count_t* o = kStore ? out + m : nullptr;
      for (;;) {
        unsigned j = static_cast<unsigned>(__builtin_ctzll(ends));
        ends &= ends - 1;
        pa += static_cast<count_t>(std::int64_t{vals[j]});
        if constexpr (kStore) *o++ = pa;
        hi |= pa;
        sa += pa;
        if (ends == 0) {
          swap_classes();
          break;
        }
        j = static_cast<unsigned>(__builtin_ctzll(ends));
        ends &= ends - 1;
        pb += static_cast<count_t>(std::int64_t{vals[j]});
        if constexpr (kStore) *o++ = pb;
        hi |= pb;
        sb += pb;
        if (ends == 0) break;
      }
      if constexpr (kStore) m = o - out;  // without -mpopcnt, popcount is a libgcc call
      continue;
    }
    while (ends != 0) {
      const unsigned j = static_cast<unsigned>(__builtin_ctzll(ends));
      ends &= ends - 1;
      const index_t end = chunk + j;
      const index_t extra = end - start;  // characters before the value's last
      std::int64_t v;
      if (extra <= 1) {
        v = vals[j];
      } else {
        if (extra >= 11) return -1;
        std::uint64_t g = 0;
        for (index_t i = 0; i <= extra; ++i)
          g |= static_cast<std::uint64_t>((b[start + i] - 48u) & 31) << (5 * i);
        const std::uint64_t top = std::uint64_t{1} << (5 * extra + 4);
        v = static_cast<std::int64_t>((g ^ top) - top);
      }
      // |v| < 2^55 and the bases are below 2^40: a count that is negative or 2^40 or more
      // shows in `hi`.
      pa += static_cast<count_t>(v);
      if constexpr (kStore) out[m++] = pa;
      hi |= pa;
      sa += pa;
      swap_classes();
      start = end + 1;
    }
  }
  return finish();
}

// With BMI1 (part of the AVX2 level), clearing the lowest set bit is one instruction: the chain
// through `ends` bounds the loops above.
template <bool kStore>
MASKPREP_TARGET_AVX2_FN index_t decode_fast_avx2(const char* s, index_t len, count_t* out,
                                                 count_t& sum_out, count_t& odd_out) {
  return decode_fast_body<kStore>(s, len, out, sum_out, odd_out);
}

template <bool kStore>
index_t decode_fast_generic(const char* s, index_t len, count_t* out, count_t& sum_out,
                            count_t& odd_out) {
  return decode_fast_body<kStore>(s, len, out, sum_out, odd_out);
}

template <bool kStore>
index_t decode_fast(const char* s, index_t len, count_t* out, count_t& sum_out, count_t& odd_out) {
  return detail::dispatch_avx2(
      [&] { return decode_fast_avx2<kStore>(s, len, out, sum_out, odd_out); },
      [&] { return decode_fast_generic<kStore>(s, len, out, sum_out, odd_out); });
}

#else

template <bool kStore>
index_t decode_fast(const char*, index_t, count_t*, count_t&, count_t&) {
  return -1;  // exact path only
}

#endif

// Decodes s into out (len entries); returns the number of counts. Errors: see from_string.
size_t decode(const char* s, index_t len, count_t* out, count_t& sum, bool& sum_overflow) {
  count_t odd = 0;
  const index_t m = decode_fast<true>(s, len, out, sum, odd);
  if (m >= 0) {
    sum_overflow = false;
    return static_cast<size_t>(m);
  }
  return decode_slow(s, len, out, sum, sum_overflow);
}

// The per-thread buffer for the counts of one string (at least one character per count, so
// len bounds them).
count_t* counts_buffer(index_t len) {
  std::vector<count_t>& buffer = detail::thread_scratch<std::vector<count_t>, CountsScratch>();
  if (buffer.size() < static_cast<size_t>(len)) buffer.resize(static_cast<size_t>(len));
  return buffer.data();
}

}  // namespace

count_t from_string(const char* s, index_t len, Counts& counts, bool* sum_overflows) {
  // Decoded into a per-thread buffer and copied out once: sizing `counts` to len would
  // zero-fill twice what is kept.
  count_t* out = counts_buffer(len);
  count_t sum = 0;
  bool sum_overflow = false;
  const size_t m = decode(s, len, out, sum, sum_overflow);
  counts.assign(out, out + m);
  if (sum_overflows) {
    *sum_overflows = sum_overflow;
  } else {
    MASKPREP_CHECK(!sum_overflow, "RLE counts overflow 64 bits");
  }
  return sum;
}

count_t total(const Counts& counts) {
  count_t sum = 0;
  for (count_t c : counts) {
    MASKPREP_CHECK(!__builtin_add_overflow(sum, c, &sum), "RLE counts overflow 64 bits");
  }
  return sum;
}

namespace {

// The check that an RLE's counts sum to h*w.
void check_sum(count_t sum, index_t h, index_t w) {
  const auto expected = static_cast<count_t>(detail::checked_size("size h*w", h, w));
  MASKPREP_CHECK(sum == expected, "counts sum to ", sum, ", expected h*w = ", expected,
                 " for size [", h, ", ", w, "]");
}

// from_strings for RLE i: parses s[i] (or sums the given counts) and checks the sum is h*w.
void from_string_checked(const char* const* s, const index_t* len, const index_t* h,
                         const index_t* w, index_t i, Counts& out) {
  check_sum(s[i] ? from_string(s[i], len[i], out) : total(out), h[i], w[i]);
}

// from_strings' check of RLE i without keeping its counts: s[i] is decoded into the thread's
// buffer. Returns the counts (valid until the next decode on this thread) and their number.
const count_t* checked_counts(const char* const* s, const index_t* len, const index_t* h,
                              const index_t* w, const Counts* given, index_t i, size_t& size) {
  const count_t* c;
  count_t sum = 0;
  if (s[i]) {
    count_t* out = counts_buffer(len[i]);
    bool sum_overflow = false;
    size = decode(s[i], len[i], out, sum, sum_overflow);
    MASKPREP_CHECK(!sum_overflow, "RLE counts overflow 64 bits");
    c = out;
  } else {
    sum = total(given[i]);
    c = given[i].data();
    size = given[i].size();
  }
  check_sum(sum, h[i], w[i]);
  return c;
}

}  // namespace

void from_strings(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
                  index_t n, Counts* out, int num_threads) {
  index_t work = 0;  // characters and counts to read
  for (index_t i = 0; i < n; ++i) work += s[i] ? len[i] : static_cast<index_t>(out[i].size());
  parallel_for_items(
      n, threads_for_work(num_threads, work, 1 << 17),
      [&](index_t i) { from_string_checked(s, len, h, w, i, out[i]); }, 16);
}

void to_strings(const Counts* counts, index_t n, std::string* out, int num_threads) {
  index_t work = 0;
  for (index_t i = 0; i < n; ++i) work += static_cast<index_t>(counts[i].size());
  parallel_for(
      n, threads_for_work(num_threads, work, 1 << 15),
      [&](index_t i) { out[i] = to_string(counts[i]); }, 16);
}

// ---- encode / decode ----------------------------------------------------------------------------

void encode(const byte_t* data, index_t h, index_t w, index_t n, Layout layout,
            std::vector<Counts>& out, int num_threads) {
  MASKPREP_CHECK(h >= 0 && w >= 0 && n >= 0, "mask dimensions must be non-negative");
  const index_t len = detail::checked_size("mask size h*w", h, w);
  detail::checked_size("masks n*h*w", n, len);
  out.assign(static_cast<size_t>(n), Counts());
  if (len == 0) {  // an empty mask is one zero-length background run, as pycocotools writes it
    for (auto& c : out) c.assign(1, 0);
    return;
  }
  switch (layout) {
    case Layout::kColumnMajor:
      parallel_for(n, threads_for_work(num_threads, n * len, kMinBytesPerThread),
                   [&](index_t i) { encode_contiguous(data + i * len, len, out[i]); });
      break;
    case Layout::kRowMajor:
      if (n >= num_threads) {
        parallel_for(n, threads_for_work(num_threads, n * len, kMinBytesPerThread),
                     [&](index_t i) { encode_rows(data + i * len, h, w, 1, &out[i], 1); });
      } else {
        for (index_t i = 0; i < n; ++i) encode_rows(data + i * len, h, w, 1, &out[i], num_threads);
      }
      break;
    case Layout::kInterleaved:
      if (n > 0) encode_rows(data, h, w, n, out.data(), num_threads);
      break;
  }
}

void decode(const std::vector<const Counts*>& rles, index_t h, index_t w, Layout layout,
            byte_t* out, int num_threads) {
  MASKPREP_CHECK(layout != Layout::kInterleaved, "decode writes column- or row-major masks only");
  const index_t n = static_cast<index_t>(rles.size());
  const index_t len = detail::checked_size("mask size h*w", h, w);
  detail::checked_size("masks n*h*w", n, len);
  const auto expected = static_cast<count_t>(len);
  for (index_t i = 0; i < n; ++i) {
    const count_t sum = total(*rles[i]);
    MASKPREP_CHECK(sum == expected, "RLE ", i, " has counts summing to ", sum,
                   ", expected h*w = ", expected);
  }
  const int nt = threads_for_work(num_threads, n * len, kMinBytesPerThread);
  if (layout == Layout::kColumnMajor) {
    parallel_for(n, nt, [&](index_t i) { decode_column_major(*rles[i], out + i * len); });
    return;
  }
  parallel_for(n, nt, [&](index_t i) { mark_row_major_toggles(*rles[i], h, w, out + i * len); });
  // Few large masks: split the running XOR by column chunks so every thread has work.
  const index_t chunks = (n >= nt || w < 64) ? 1 : std::min<index_t>((nt + n - 1) / n, w / 64);
  parallel_for(n * chunks, nt, [&](index_t t) {
    const index_t i = t / chunks, c = t % chunks;
    prefix_xor_rows(out + i * len, h, w, w * c / chunks, w * (c + 1) / chunks);
  });
}

// ---- measures -----------------------------------------------------------------------------------

namespace {

count_t area_of(const count_t* counts, size_t size) {
  count_t a = 0;
  for (size_t j = 1; j < size; j += 2) a += counts[j];
  return a;
}

void to_bbox_of(const count_t* counts, size_t size, index_t h, index_t w, double out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0;
  const size_t m = size / 2 * 2;
  if (m == 0 || h == 0) return;
  const count_t uh = static_cast<count_t>(h);
  count_t xs = static_cast<count_t>(w), ys = uh, xe = 0, ye = 0;
  // The position as column x and row y (pixel x*h + y, y < h), advanced run by run: a division
  // only for a run that ends two or more columns on (pycocotools divides twice per run).
  count_t x = 0, y = 0;
  auto advance = [&](count_t c) {
    y += c;
    if (y >= uh) {
      if (y - uh < uh) {
        y -= uh;
        ++x;
      } else {
        x += y / uh;
        y %= uh;
      }
    }
  };
  bool any = false;
  for (size_t j = 0; j < m; j += 2) {
    advance(counts[j]);
    const count_t c = counts[j + 1];
    if (c == 0) continue;
    any = true;
    const count_t x_start = x, y_start = y;
    advance(c);
    const count_t x_end = y > 0 ? x : x - 1, y_end = y > 0 ? y - 1 : uh - 1;  // the last pixel
    xs = std::min(xs, x_start);
    xe = std::max(xe, x_end);
    if (x_start < x_end) {
      ys = 0;
      ye = uh - 1;  // the run wraps across columns
    } else {
      ys = std::min(ys, y_start);
      ye = std::max(ye, y_end);
    }
  }
  if (!any) return;
  out[0] = static_cast<double>(xs);
  out[1] = static_cast<double>(ys);
  out[2] = static_cast<double>(xe - xs + 1);
  out[3] = static_cast<double>(ye - ys + 1);
}

}  // namespace

count_t area(const Counts& counts) { return area_of(counts.data(), counts.size()); }

void to_bbox(const Counts& counts, index_t h, index_t w, double out[4]) {
  to_bbox_of(counts.data(), counts.size(), h, w, out);
}

// A counts walk costs about a nanosecond per run: 2^16 runs per thread repay waking one.
constexpr index_t kMinRunsPerThread = index_t{1} << 16;

index_t total_runs(const Counts* counts, index_t n) {
  index_t runs = 0;
  for (index_t i = 0; i < n; ++i) runs += static_cast<index_t>(counts[i].size());
  return runs;
}

void area(const Counts* counts, index_t n, count_t* out, int num_threads) {
  parallel_for(
      n, threads_for_work(num_threads, total_runs(counts, n), kMinRunsPerThread),
      [&](index_t i) { out[i] = area(counts[i]); }, 64);
}

void to_bbox(const Counts* counts, const index_t* h, const index_t* w, index_t n, double* out,
             int num_threads) {
  parallel_for(
      n, threads_for_work(num_threads, total_runs(counts, n), kMinRunsPerThread),
      [&](index_t i) { to_bbox(counts[i], h[i], w[i], out + 4 * i); }, 64);
}

namespace {

// Characters and counts to read for RLEs given as from_strings takes them.
index_t input_work(const char* const* s, const index_t* len, const Counts* given, index_t n) {
  index_t work = 0;
  for (index_t i = 0; i < n; ++i) work += s[i] ? len[i] : static_cast<index_t>(given[i].size());
  return work;
}

}  // namespace

void area(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
          const Counts* given, index_t n, count_t* out, int num_threads) {
  parallel_for_items(
      n, threads_for_work(num_threads, input_work(s, len, given, n), 1 << 17),
      [&](index_t i) {
        if (s[i]) {  // the common case: summed while decoding, nothing stored
          count_t sum = 0, odd = 0;
          if (decode_fast<false>(s[i], len[i], nullptr, sum, odd) >= 0) {
            check_sum(sum, h[i], w[i]);
            out[i] = odd;
            return;
          }
        }
        size_t size = 0;
        const count_t* c = checked_counts(s, len, h, w, given, i, size);
        out[i] = area_of(c, size);
      },
      16);
}

void to_bbox(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
             const Counts* given, index_t n, double* out, int num_threads) {
  parallel_for_items(
      n, threads_for_work(num_threads, input_work(s, len, given, n), 1 << 17),
      [&](index_t i) {
        size_t size = 0;
        const count_t* c = checked_counts(s, len, h, w, given, i, size);
        to_bbox_of(c, size, h[i], w[i], out + 4 * i);
      },
      16);
}

void bbox_iou(const double* dt, index_t m, const double* gt, index_t n, const byte_t* iscrowd,
              double* out, int num_threads) {
  parallel_for(
      m, threads_for_work(num_threads, m * n, 1 << 14),
      [&](index_t d) {
        for (index_t g = 0; g < n; ++g)
          bbox_iou_one(dt + 4 * d, gt + 4 * g, iscrowd != nullptr && iscrowd[g], out + d * n + g);
      },
      16);
}

void iou(const std::vector<const Counts*>& dt, const std::vector<const Counts*>& gt, index_t h,
         index_t w, const byte_t* iscrowd, double* out, int num_threads) {
  const index_t m = static_cast<index_t>(dt.size()), n = static_cast<index_t>(gt.size());
  if (m == 0 || n == 0) return;
  std::vector<double> db(static_cast<size_t>(4 * m)), gb(static_cast<size_t>(4 * n));
  std::vector<Foreground> df(static_cast<size_t>(m)), gf(static_cast<size_t>(n));
  parallel_for(
      m + n, threads_for_work(num_threads, m + n, 256),
      [&](index_t k) {
        if (k < m) {
          to_bbox(*dt[k], h, w, &db[4 * k]);
          foreground_runs(*dt[k], df[k]);
        } else {
          to_bbox(*gt[k - m], h, w, &gb[4 * (k - m)]);
          foreground_runs(*gt[k - m], gf[k - m]);
        }
      },
      16);
  bbox_iou(db.data(), m, gb.data(), n, iscrowd, out, num_threads);
  // pycocotools walks both run lists in full for every pair whose boxes overlap and accumulates
  // the intersection i and union u. The same integers come from intersecting only the
  // foreground runs inside the pair's common span (u = |dt| + |gt| - i), which skips the runs
  // that cannot overlap.
  parallel_for(
      m, threads_for_work(num_threads, m * n, 4096),
      [&](index_t d) {
        for (index_t g = 0; g < n; ++g) {
          double& o = out[d * n + g];
          if (!(o > 0)) continue;  // pycocotools computes only pairs whose boxes overlap
          const count_t inter = intersection(df[d], gf[g]);
          count_t uni;
          if (inter == 0) {
            uni = 1;
          } else if (iscrowd != nullptr && iscrowd[g]) {
            uni = df[d].area;
          } else {
            uni = df[d].area + gf[g].area - inter;
          }
          o = static_cast<double>(inter) / static_cast<double>(uni);
        }
      },
      4);
}

namespace {

struct MergeScratch {
  Foreground acc, next, b;
  std::vector<count_t> pairs, next_pairs;  // the union's interleaved intervals
};

}  // namespace

void merge(const std::vector<const Counts*>& rles, bool intersect, Counts& out) {
  const size_t n = rles.size();
  MASKPREP_CHECK(n >= 1, "merge needs at least one RLE");
  if (n == 1) {
    out = *rles[0];
    return;
  }
  // pycocotools folds pairwise with a walk over both run lists (which stops early on zero-length
  // runs). Folding the foreground intervals instead yields the same canonical result (no empty
  // runs but a possible leading 0) with less work per run, and is right on zero-length runs.
  // Merges are often tiny and many: reused buffers, no allocations.
  auto& scratch = detail::thread_scratch<MergeScratch, MergeScratch>();
  const count_t size = total(*rles[0]);
  auto write_counts = [&](const count_t* pairs, size_t np) {
    out.resize(2 * np + 1);
    count_t* o = out.data();
    count_t pos = 0;
    for (size_t i = 0; i < np; ++i) {
      o[0] = pairs[2 * i] - pos;
      o[1] = pairs[2 * i + 1] - pairs[2 * i];
      o += 2;
      pos = pairs[2 * i + 1];
    }
    if (pos < size || np == 0) *o++ = size - pos;
    out.resize(static_cast<size_t>(o - out.data()));
  };
  if (!intersect) {
    std::vector<count_t>& acc = scratch.pairs;
    std::vector<count_t>& next = scratch.next_pairs;
    size_t na = 0;
    for (size_t r = 0; r < n; ++r) {
      const size_t room = 2 * (na + rles[r]->size() / 2 + 1);
      if (next.size() < room) next.resize(room);
      na = union_counts(acc.data(), na, *rles[r], next.data());
      std::swap(acc, next);
    }
    write_counts(acc.data(), na);
    return;
  }
  Foreground& acc = scratch.acc;
  Foreground& next = scratch.next;
  Foreground& b = scratch.b;
  acc.start.clear();
  acc.end.clear();
  acc.area = 0;
  foreground_runs(*rles[0], acc);
  for (size_t r = 1; r < n; ++r) {
    b.start.clear();
    b.end.clear();
    foreground_runs(*rles[r], b);
    intersect_intervals(acc, b, next);
    std::swap(acc, next);
  }
  std::vector<count_t>& pairs = scratch.pairs;
  pairs.resize(2 * acc.start.size());
  for (size_t i = 0; i < acc.start.size(); ++i) {
    pairs[2 * i] = acc.start[i];
    pairs[2 * i + 1] = acc.end[i];
  }
  write_counts(pairs.data(), acc.start.size());
}

void merge_groups(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
                  Counts* counts, const index_t* offsets, index_t n_groups, bool intersect,
                  std::string* out, int num_threads) {
  // Each group is parsed and merged by one task (its counts stay in cache between the two).
  // ~3 us per RLE: 32 RLEs per thread repay waking one.
  parallel_for_items(
      n_groups, threads_for_work(num_threads, offsets[n_groups] - offsets[0], 32),
      [&](index_t g) {
        const index_t b = offsets[g], e = offsets[g + 1];
        for (index_t k = b; k < e; ++k) {
          try {
            from_string_checked(s, len, h, w, k, counts[k]);
          } catch (const std::invalid_argument& err) {
            throw IndexedError(k, std::string(": ") + err.what());
          }
        }
        if (b == e) {
          out[g].clear();  // pycocotools' merge([]) is the empty {'size': [0, 0]}
          return;
        }
        std::vector<const Counts*> group(static_cast<size_t>(e - b));
        for (index_t k = b; k < e; ++k) group[static_cast<size_t>(k - b)] = counts + k;
        Counts merged;
        merge(group, intersect, merged);
        out[g] = to_string(merged);
      },
      4);
}

}  // namespace maskprep::rle
