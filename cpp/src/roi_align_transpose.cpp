// The (rows, cols) -> (cols, rows) transpose of RoI Align's NCHW path (roi_align_grid.hpp):
// an image to HWC before the channel-vectorised pooling, a pooled RoI back to CHW.
#include <algorithm>
#include <type_traits>

#include "isa_dispatch.hpp"
#include "parallel_for.hpp"
#include "roi_align_grid.hpp"

namespace maskprep::roi_align::impl {
namespace {

// dst (cols, rows) = transpose of src (rows, cols), the block [i0, i1) x [j0, j1) of it.
template <typename T>
void transpose_block(const T* src, index_t rows, index_t cols, T* dst, index_t i0, index_t i1,
                     index_t j0, index_t j1) {
  for (index_t j = j0; j < j1; ++j) {
    for (index_t i = i0; i < i1; ++i) dst[j * rows + i] = src[i * cols + j];
  }
}

#if MASKPREP_HAVE_AVX2_CLONES
// One 8 x 8 block: rows of src (stride ss) become rows of dst (stride ds).
MASKPREP_TARGET_AVX2_FN inline void transpose8x8(const float* src, index_t ss, float* dst,
                                                 index_t ds) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ss);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Columns [j0, j1) in 8 x 8 register blocks: the scalar loop loads one element at a time from
// rows a whole plane apart, ~4x slower on a 256 x 54,400 image.
MASKPREP_TARGET_AVX2_FN void transpose_cols_avx2(const float* src, index_t rows, index_t cols,
                                                 float* dst, index_t j0, index_t j1) {
  const index_t i8 = rows - rows % 8;
  const index_t j8 = j0 + (j1 - j0) / 8 * 8;
  for (index_t i = 0; i < i8; i += 8) {
    for (index_t j = j0; j < j8; j += 8) {
      transpose8x8(src + i * cols + j, cols, dst + j * rows + i, rows);
    }
  }
  transpose_block(src, rows, cols, dst, i8, rows, j0, j8);
  transpose_block(src, rows, cols, dst, index_t{0}, rows, j8, j1);
}
#endif

}  // namespace

// Strips of columns in parallel, each strip's destination rows (kStrip * rows elements) staying
// in cache while it is filled.
template <typename T>
void transpose(const T* src, index_t rows, index_t cols, T* dst, int num_threads) {
  constexpr index_t kStrip = 128;
  const index_t strips = (cols + kStrip - 1) / kStrip;
  parallel_for(strips, num_threads, [&](index_t t) {
    const index_t j0 = t * kStrip, j1 = std::min(cols, j0 + kStrip);
#if MASKPREP_HAVE_AVX2_CLONES
    if constexpr (std::is_same_v<T, float>) {
      if (detail::use_avx2()) {
        transpose_cols_avx2(src, rows, cols, dst, j0, j1);
        return;
      }
    }
#endif
    constexpr index_t kTile = 32;  // rows per pass: the strip's source lines stay in cache
    for (index_t i0 = 0; i0 < rows; i0 += kTile) {
      transpose_block(src, rows, cols, dst, i0, std::min(rows, i0 + kTile), j0, j1);
    }
  });
}

template void transpose<float>(const float*, index_t, index_t, float*, int);
template void transpose<double>(const double*, index_t, index_t, double*, int);

}  // namespace maskprep::roi_align::impl
