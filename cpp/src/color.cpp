// Colour conversions (see color.hpp): OpenCV's integer formulas, per pixel, blocks in parallel.
#include "maskprep/color.hpp"

#include <array>
#include <cmath>
#include <cstdint>

#include "isa_dispatch.hpp"

#if MASKPREP_HAVE_AVX2_CLONES
#include <immintrin.h>
#endif
#include "parallel_for.hpp"

namespace maskprep::imgproc {
namespace {

constexpr index_t kBlock = index_t{1} << 16;  // pixels per parallel work item

template <typename F>
void for_blocks(index_t n_pixels, index_t bytes_per_pixel, int num_threads, F&& f) {
  const index_t blocks = (n_pixels + kBlock - 1) / kBlock;
  const int threads = threads_for_work(num_threads, n_pixels * bytes_per_pixel, kMinBytesPerThread);
  parallel_for(
      blocks, threads,
      [&](index_t b) {
        const index_t begin = b * kBlock;
        const index_t end = begin + kBlock < n_pixels ? begin + kBlock : n_pixels;
        f(begin, end);
      },
      4);
}

// OpenCV's RGB2HSV_b tables: hsv_shift = 12, saturate_cast<int>(double) rounds half to even.
constexpr int kHsvShift = 12;
struct HsvTables {
  std::array<int, 256> sdiv{};
  std::array<int, 256> hdiv{};
  HsvTables() {
    for (int i = 1; i < 256; ++i) {
      sdiv[i] = static_cast<int>(std::lrint((255 << kHsvShift) / (1.0 * i)));
      hdiv[i] = static_cast<int>(std::lrint((180 << kHsvShift) / (6.0 * i)));
    }
  }
};

// Channel counts are template arguments and sizes locals: with a runtime stride (or one read
// through a reference that a byte store might alias) the compiler cannot vectorise the loops.
template <int C>
MASKPREP_ALWAYS_INLINE void gray_range(const std::uint8_t* __restrict rgb, const index_t begin,
                                       const index_t end, std::uint8_t* __restrict gray) {
  for (index_t i = begin; i < end; ++i) {
    const std::uint8_t* p = rgb + i * C;
    const std::uint32_t v = p[0] * 9798u + p[1] * 19235u + p[2] * 3735u + (1u << 14);
    gray[i] = static_cast<std::uint8_t>(v >> 15);
  }
}

template <int C>
MASKPREP_ALWAYS_INLINE void hsv_range(const std::uint8_t* __restrict rgb, const index_t begin,
                                      const index_t end, const int* __restrict sdiv,
                                      const int* __restrict hdiv, std::uint8_t* __restrict hsv) {
  for (index_t i = begin; i < end; ++i) {
    const std::uint8_t* p = rgb + i * C;
    const int r = p[0], g = p[1], b = p[2];
    int v = b, vmin = b;
    v = g > v ? g : v;
    v = r > v ? r : v;
    vmin = g < vmin ? g : vmin;
    vmin = r < vmin ? r : vmin;
    const int diff = v - vmin;
    // OpenCV's branch-free selection: red max first, then green, else blue.
    const int vr = v == r ? -1 : 0;
    const int vg = v == g ? -1 : 0;
    const int s = (diff * sdiv[v] + (1 << (kHsvShift - 1))) >> kHsvShift;
    int h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + ((~vg) & (r - g + 4 * diff))));
    h = (h * hdiv[diff] + (1 << (kHsvShift - 1))) >> kHsvShift;  // arithmetic shift: floor
    h += h < 0 ? 180 : 0;
    hsv[3 * i] = static_cast<std::uint8_t>(h);
    hsv[3 * i + 1] = static_cast<std::uint8_t>(s);
    hsv[3 * i + 2] = static_cast<std::uint8_t>(v);
  }
}

#if MASKPREP_HAVE_AVX2_CLONES
// 16 pixels a step with pmaddwd: a byte shuffle spreads each pixel's (R, G) and (B, 0) into
// 16-bit pairs, and one multiply-add per pair gives the exact 32-bit weighted sum of the scalar
// formula (weights < 2^15, so the signed 16-bit multiply is exact). The compiler's own
// vectorisation of the stride-3 loop was 1.4x slower than OpenCV.
template <int C>
MASKPREP_TARGET_AVX2_FN void gray_range_avx2(const std::uint8_t* rgb, index_t begin, index_t end,
                                             std::uint8_t* gray) {
  const __m128i rg_idx =
      C == 3 ? _mm_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1)
             : _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
  const __m128i b_idx =
      C == 3 ? _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1)
             : _mm_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1);
  const __m128i w_rg = _mm_setr_epi16(9798, 19235, 9798, 19235, 9798, 19235, 9798, 19235);
  const __m128i w_b = _mm_setr_epi16(3735, 0, 3735, 0, 3735, 0, 3735, 0);
  const __m128i half = _mm_set1_epi32(1 << 14);
  // (A lambda would not inherit the target attribute: SSSE3 intrinsics need it.)
#define MASKPREP_GRAY4(x)                                                                       \
  _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(x, rg_idx), w_rg), \
                                             _mm_madd_epi16(_mm_shuffle_epi8(x, b_idx), w_b)),  \
                               half),                                                           \
                 15)
  index_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const std::uint8_t* p = rgb + i * C;
    __m128i g0, g1, g2, g3;
    if constexpr (C == 3) {
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
      g0 = MASKPREP_GRAY4(x0);
      g1 = MASKPREP_GRAY4(_mm_alignr_epi8(x1, x0, 12));
      g2 = MASKPREP_GRAY4(_mm_alignr_epi8(x2, x1, 8));
      g3 = MASKPREP_GRAY4(_mm_srli_si128(x2, 4));
    } else {
      g0 = MASKPREP_GRAY4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      g1 = MASKPREP_GRAY4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
      g2 = MASKPREP_GRAY4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)));
      g3 = MASKPREP_GRAY4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48)));
    }
    const __m128i out = _mm_packus_epi16(_mm_packs_epi32(g0, g1), _mm_packs_epi32(g2, g3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(gray + i), out);
  }
#undef MASKPREP_GRAY4
  gray_range<C>(rgb, i, end, gray);
}
#else
template <int C>
void gray_range_avx2(const std::uint8_t* rgb, index_t begin, index_t end, std::uint8_t* gray) {
  gray_range<C>(rgb, begin, end, gray);
}
#endif
template <int C>
void gray_range_generic(const std::uint8_t* rgb, index_t begin, index_t end, std::uint8_t* gray) {
  gray_range<C>(rgb, begin, end, gray);
}
#if MASKPREP_HAVE_AVX2_CLONES
// Byte-shuffle masks that move channel c of 16 interleaved C-byte pixels between 16-byte
// registers: from input register j into lane k (deinterleave), or back (interleave, C = 3).
struct HsvMasks {
  alignas(16) std::int8_t in[4][4][16];   // [channel][register][lane]
  alignas(16) std::int8_t out[3][3][16];  // [channel][output register][byte]
  explicit HsvMasks(int C) {
    for (int c = 0; c < 4; ++c)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 16; ++k) {
          const int src = C * k + c - 16 * j;
          in[c][j][k] = static_cast<std::int8_t>(src >= 0 && src < 16 ? src : -1);
        }
    for (int c = 0; c < 3; ++c)
      for (int j = 0; j < 3; ++j)
        for (int t = 0; t < 16; ++t) {
          const int q = 16 * j + t;
          out[c][j][t] = static_cast<std::int8_t>(q % 3 == c ? q / 3 : -1);
        }
  }
};

MASKPREP_TARGET_AVX2_FN inline __m128i shuffle(__m128i x, const std::int8_t* mask) {
  return _mm_shuffle_epi8(x, _mm_load_si128(reinterpret_cast<const __m128i*>(mask)));
}

// 8 pixels: (h, s, v) as int32 lanes from r, g, b, OpenCV's formula with the reciprocal tables
// computed by float division instead of gathers. Exact: sdiv = round(1044480 / v) and
// hdiv = round(122880 / diff) have quotients at least 1/(2 den) from a .5 boundary unless
// exactly on it (and then representable), while float's error is below 2^-24 * 2^20 / den =
// 1/(16 den); round-to-nearest-even conversion matches lrint. A zero divisor gives a garbage
// reciprocal that is multiplied by 0 (diff = 0 makes s and h zero).
MASKPREP_TARGET_AVX2_FN inline void hsv8(__m256i r, __m256i g, __m256i b, __m256i& h_out,
                                         __m256i& s_out, __m256i& v_out) {
  const __m256i v = _mm256_max_epi32(_mm256_max_epi32(b, g), r);
  const __m256i diff = _mm256_sub_epi32(v, _mm256_min_epi32(_mm256_min_epi32(b, g), r));
  const __m256i vr = _mm256_cmpeq_epi32(v, r);
  const __m256i vg = _mm256_cmpeq_epi32(v, g);
  const __m256i round = _mm256_set1_epi32(1 << (kHsvShift - 1));
  const __m256i sd =
      _mm256_cvtps_epi32(_mm256_div_ps(_mm256_set1_ps(255 << kHsvShift), _mm256_cvtepi32_ps(v)));
  const __m256i s =
      _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(diff, sd), round), kHsvShift);
  const __m256i d2 = _mm256_add_epi32(diff, diff);
  const __m256i h_g = _mm256_add_epi32(_mm256_sub_epi32(b, r), d2);  // g is max
  const __m256i h_b = _mm256_add_epi32(_mm256_sub_epi32(r, g), _mm256_add_epi32(d2, d2));  // b
  const __m256i h_r = _mm256_sub_epi32(g, b);  // r is max
  __m256i h = _mm256_blendv_epi8(_mm256_blendv_epi8(h_b, h_g, vg), h_r, vr);
  const __m256i hd = _mm256_cvtps_epi32(
      _mm256_div_ps(_mm256_set1_ps((180 << kHsvShift) / 6), _mm256_cvtepi32_ps(diff)));
  h = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(h, hd), round), kHsvShift);
  h = _mm256_add_epi32(
      h, _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), h), _mm256_set1_epi32(180)));
  h_out = h;
  s_out = s;
  v_out = v;
}

// 8 int32 lanes (values 0..255) of each of two registers -> 16 bytes in lane order.
MASKPREP_TARGET_AVX2_FN inline __m128i bytes16(__m256i a, __m256i b) {
  const __m128i a16 = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  const __m128i b16 = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  return _mm_packus_epi16(a16, b16);
}

template <int C>
MASKPREP_TARGET_AVX2_FN void hsv_range_avx2(const std::uint8_t* rgb, index_t begin, index_t end,
                                            const int* sdiv, const int* hdiv, std::uint8_t* hsv) {
  static const HsvMasks masks(C);
  index_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const std::uint8_t* p = rgb + i * C;
    __m128i x[C];
    for (int j = 0; j < C; ++j)
      x[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * j));
    __m128i ch[3];  // R, G, B of the 16 pixels
    for (int c = 0; c < 3; ++c) {
      ch[c] = shuffle(x[0], masks.in[c][0]);
      for (int j = 1; j < C; ++j) ch[c] = _mm_or_si128(ch[c], shuffle(x[j], masks.in[c][j]));
    }
    __m256i h[2], s[2], v[2];
    hsv8(_mm256_cvtepu8_epi32(ch[0]), _mm256_cvtepu8_epi32(ch[1]), _mm256_cvtepu8_epi32(ch[2]),
         h[0], s[0], v[0]);
    hsv8(_mm256_cvtepu8_epi32(_mm_srli_si128(ch[0], 8)),
         _mm256_cvtepu8_epi32(_mm_srli_si128(ch[1], 8)),
         _mm256_cvtepu8_epi32(_mm_srli_si128(ch[2], 8)), h[1], s[1], v[1]);
    const __m128i out_ch[3] = {bytes16(h[0], h[1]), bytes16(s[0], s[1]), bytes16(v[0], v[1])};
    for (int j = 0; j < 3; ++j) {
      __m128i o = shuffle(out_ch[0], masks.out[0][j]);
      o = _mm_or_si128(o, shuffle(out_ch[1], masks.out[1][j]));
      o = _mm_or_si128(o, shuffle(out_ch[2], masks.out[2][j]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(hsv + 3 * i + 16 * j), o);
    }
  }
  hsv_range<C>(rgb, i, end, sdiv, hdiv, hsv);
}
#else
template <int C>
void hsv_range_avx2(const std::uint8_t* rgb, index_t begin, index_t end, const int* sdiv,
                    const int* hdiv, std::uint8_t* hsv) {
  hsv_range<C>(rgb, begin, end, sdiv, hdiv, hsv);
}
#endif
template <int C>
void hsv_range_generic(const std::uint8_t* rgb, index_t begin, index_t end, const int* sdiv,
                       const int* hdiv, std::uint8_t* hsv) {
  hsv_range<C>(rgb, begin, end, sdiv, hdiv, hsv);
}

template <int C>
void gray_any(const std::uint8_t* rgb, index_t begin, index_t end, std::uint8_t* gray) {
  detail::dispatch_avx2([&] { gray_range_avx2<C>(rgb, begin, end, gray); },
                        [&] { gray_range_generic<C>(rgb, begin, end, gray); });
}
template <int C>
void hsv_any(const std::uint8_t* rgb, index_t begin, index_t end, const int* sdiv, const int* hdiv,
             std::uint8_t* hsv) {
  detail::dispatch_avx2([&] { hsv_range_avx2<C>(rgb, begin, end, sdiv, hdiv, hsv); },
                        [&] { hsv_range_generic<C>(rgb, begin, end, sdiv, hdiv, hsv); });
}

}  // namespace

void rgb_to_gray(const std::uint8_t* rgb, index_t n_pixels, index_t channels, std::uint8_t* gray,
                 int num_threads) {
  MASKPREP_CHECK(channels == 3 || channels == 4, "image must have 3 or 4 channels, got ", channels);
  for_blocks(n_pixels, channels, num_threads, [&](index_t begin, index_t end) {
    if (channels == 3)
      gray_any<3>(rgb, begin, end, gray);
    else
      gray_any<4>(rgb, begin, end, gray);
  });
}

void rgb_to_hsv(const std::uint8_t* rgb, index_t n_pixels, index_t channels, std::uint8_t* hsv,
                int num_threads) {
  MASKPREP_CHECK(channels == 3 || channels == 4, "image must have 3 or 4 channels, got ", channels);
  static const HsvTables tables;  // thread-safe initialisation (C++11 magic statics)
  const int* sdiv = tables.sdiv.data();
  const int* hdiv = tables.hdiv.data();
  // Division tables make the work per pixel larger than a byte stream: count 8 bytes a pixel.
  for_blocks(n_pixels, 8, num_threads, [&](index_t begin, index_t end) {
    if (channels == 3)
      hsv_any<3>(rgb, begin, end, sdiv, hdiv, hsv);
    else
      hsv_any<4>(rgb, begin, end, sdiv, hdiv, hsv);
  });
}

}  // namespace maskprep::imgproc
