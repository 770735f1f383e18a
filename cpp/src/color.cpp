// Colour conversions (see color.hpp): OpenCV's integer formulas, per pixel, blocks in parallel.
#include "maskprep/color.hpp"

#include <array>
#include <cmath>

#include "isa_dispatch.hpp"

#if MASKPREP_HAVE_AVX2_CLONES
#include <immintrin.h>
#endif
#include "maskprep/parallel.hpp"

namespace maskprep {
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
MASKPREP_ALWAYS_INLINE void gray_range(const std::uint8_t* __restrict rgb, const index_t begin, const index_t end,
                std::uint8_t* __restrict gray) {
  for (index_t i = begin; i < end; ++i) {
    const std::uint8_t* p = rgb + i * C;
    const std::uint32_t v = p[0] * 9798u + p[1] * 19235u + p[2] * 3735u + (1u << 14);
    gray[i] = static_cast<std::uint8_t>(v >> 15);
  }
}

template <int C>
MASKPREP_ALWAYS_INLINE void hsv_range(const std::uint8_t* __restrict rgb, const index_t begin, const index_t end,
               const int* __restrict sdiv, const int* __restrict hdiv,
               std::uint8_t* __restrict hsv) {
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
  const __m128i rg_idx = C == 3 ? _mm_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1)
                                : _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
  const __m128i b_idx = C == 3 ? _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1)
                               : _mm_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1);
  const __m128i w_rg = _mm_setr_epi16(9798, 19235, 9798, 19235, 9798, 19235, 9798, 19235);
  const __m128i w_b = _mm_setr_epi16(3735, 0, 3735, 0, 3735, 0, 3735, 0);
  const __m128i half = _mm_set1_epi32(1 << 14);
  // (A lambda would not inherit the target attribute: SSSE3 intrinsics need it.)
#define MASKPREP_GRAY4(x)                                                               \
  _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(x, rg_idx), w_rg), \
                                             _mm_madd_epi16(_mm_shuffle_epi8(x, b_idx), w_b)),  \
                               half),                                                    \
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
template <int C>
MASKPREP_TARGET_AVX2_FN void hsv_range_avx2(const std::uint8_t* rgb, index_t begin, index_t end,
                                            const int* sdiv, const int* hdiv, std::uint8_t* hsv) {
  hsv_range<C>(rgb, begin, end, sdiv, hdiv, hsv);
}
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

}  // namespace maskprep
