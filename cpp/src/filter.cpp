// Gaussian blur and histogram equalisation (see filter.hpp).
//
// The blur runs bands of output rows in parallel. A band filters the source rows it needs
// (reflected at the image edges) horizontally into a buffer, then each output row is the
// vertical combination of ksize_y buffered rows. The 8-bit path is integer arithmetic that is
// exact at every step (taps sum to 256: no overflow, no rounding until the final shift), so the
// order of the taps does not matter and the result equals OpenCV's SIMD code bit for bit.
#include "maskprep/filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "isa_dispatch.hpp"
#include "parallel_for.hpp"

namespace maskprep::imgproc {
namespace {

// OpenCV's borderInterpolate for BORDER_REFLECT_101 (repeats for kernels wider than the image).
index_t reflect101(index_t p, index_t len) {
  if (len == 1) return 0;
  while (p < 0 || p >= len) p = p < 0 ? -p : 2 * (len - 1) - p;
  return p;
}

constexpr index_t kBandRows = 64;

// Accumulator types: 8-bit rows become 8.8 fixed point (uint16) after the horizontal pass and
// 16.16 (uint32) in the vertical one; float stays float.
template <typename T>
struct BlurTypes {
  using tap = std::uint16_t;
  using row = std::uint16_t;
  using acc = std::uint32_t;
};
template <>
struct BlurTypes<float> {
  using tap = float;
  using row = float;
  using acc = float;
};

// One band of output rows [y0, y1). Sizes arrive by value: byte stores could alias anything
// reached through a reference, which would stop the compiler from vectorising the row loops.
template <typename T>
MASKPREP_ALWAYS_INLINE void blur_band(const T* src, const index_t height, const index_t width,
                                      const index_t cn, const typename BlurTypes<T>::tap* kx,
                                      const index_t nx, const typename BlurTypes<T>::tap* ky,
                                      const index_t ny, const index_t y0, const index_t y1,
                                      T* dst) {
  using Tap = typename BlurTypes<T>::tap;
  using Row = typename BlurTypes<T>::row;
  using Acc = typename BlurTypes<T>::acc;
  const index_t rx = nx / 2, ry = ny / 2;
  const index_t rowlen = width * cn;
  const index_t nrows = y1 - y0 + ny - 1;
  // Scratch that is fully written before it is read: no zero-fill.
  std::unique_ptr<T[]> padded(new T[(width + nx - 1) * cn]);
  std::unique_ptr<Row[]> rows(new Row[nrows * rowlen]);
  std::unique_ptr<Acc[]> acc(new Acc[rowlen]);
  for (index_t i = 0; i < nrows; ++i) {
    const T* s = src + reflect101(y0 - ry + i, height) * rowlen;
    T* __restrict pd = padded.get();
    std::copy(s, s + rowlen, pd + rx * cn);
    for (index_t x = -rx; x < 0; ++x) {  // reflected borders only
      const T* l = s + reflect101(x, width) * cn;
      const T* r = s + reflect101(width - 1 - x, width) * cn;
      for (index_t c = 0; c < cn; ++c) {
        pd[(x + rx) * cn + c] = l[c];
        pd[(width - 1 - x + rx) * cn + c] = r[c];
      }
    }
    Row* __restrict out = rows.get() + i * rowlen;
    // Symmetric taps: pair the mirror-image inputs before the multiply (exact for 8-bit: every
    // partial sum stays below 256 * 255).
    {
      const Tap w = kx[rx];
      const T* __restrict q = pd + rx * cn;
      for (index_t j = 0; j < rowlen; ++j) out[j] = static_cast<Row>(w * q[j]);
    }
    for (index_t k = 0; k < rx; ++k) {
      const Tap w = kx[k];
      const T* __restrict q0 = pd + k * cn;
      const T* __restrict q1 = pd + (nx - 1 - k) * cn;
      for (index_t j = 0; j < rowlen; ++j)
        out[j] = static_cast<Row>(out[j] + w * static_cast<Row>(q0[j] + q1[j]));
    }
  }
  for (index_t y = y0; y < y1; ++y) {
    Acc* __restrict a = acc.get();
    const Row* base = rows.get() + (y - y0) * rowlen;
    {
      const Tap w = ky[ry];
      const Row* __restrict h = base + ry * rowlen;
      for (index_t j = 0; j < rowlen; ++j) a[j] = static_cast<Acc>(w) * static_cast<Acc>(h[j]);
    }
    for (index_t k = 0; k < ry; ++k) {
      const Tap w = ky[k];
      const Row* __restrict h0 = base + k * rowlen;
      const Row* __restrict h1 = base + (ny - 1 - k) * rowlen;
      for (index_t j = 0; j < rowlen; ++j)
        // Two 16 x 16 -> 32-bit products (a widening multiply in SIMD) rather than one 32-bit
        // multiply of the pair's sum, which needs the slow 32-bit lane multiply.
        a[j] += static_cast<Acc>(w) * static_cast<Acc>(h0[j]) +
                static_cast<Acc>(w) * static_cast<Acc>(h1[j]);
    }
    T* __restrict o = dst + y * rowlen;
    if constexpr (std::is_same_v<T, float>) {
      std::memcpy(o, a, rowlen * sizeof(float));
    } else {
      // 16.16 fixed point to uint8, rounding half up (ufixedpoint32 -> uchar in OpenCV).
      for (index_t j = 0; j < rowlen; ++j) o[j] = static_cast<T>((a[j] + 0x8000u) >> 16);
    }
  }
}

template <typename T>
MASKPREP_TARGET_AVX2_FN void blur_band_avx2(const T* src, index_t height, index_t width, index_t cn,
                                            const typename BlurTypes<T>::tap* kx, index_t nx,
                                            const typename BlurTypes<T>::tap* ky, index_t ny,
                                            index_t y0, index_t y1, T* dst) {
  blur_band<T>(src, height, width, cn, kx, nx, ky, ny, y0, y1, dst);
}
template <typename T>
void blur_band_generic(const T* src, index_t height, index_t width, index_t cn,
                       const typename BlurTypes<T>::tap* kx, index_t nx,
                       const typename BlurTypes<T>::tap* ky, index_t ny, index_t y0, index_t y1,
                       T* dst) {
  blur_band<T>(src, height, width, cn, kx, nx, ky, ny, y0, y1, dst);
}

template <typename T>
void blur(const T* src, index_t height, index_t width, index_t cn,
          const std::vector<typename BlurTypes<T>::tap>& kx,
          const std::vector<typename BlurTypes<T>::tap>& ky, T* dst, int num_threads) {
  const index_t nx = static_cast<index_t>(kx.size()), ny = static_cast<index_t>(ky.size());
  // Each band refilters ny - 1 rows of its neighbours: keep that overhead small.
  const index_t band_rows = std::max<index_t>(kBandRows, 4 * ny);
  const index_t bands = (height + band_rows - 1) / band_rows;
  // Work in multiply-adds; a thread should get a couple of million of them (see parallel.hpp).
  const int threads =
      threads_for_work(num_threads, height * width * cn * (nx + ny), kMinBytesPerThread);
  parallel_for(bands, threads, [&](index_t band) {
    const index_t y0 = band * band_rows;
    const index_t y1 = std::min(height, y0 + band_rows);
    const auto* px = kx.data();
    const auto* py = ky.data();
    detail::dispatch_avx2(
        [&] { blur_band_avx2<T>(src, height, width, cn, px, nx, py, ny, y0, y1, dst); },
        [&] { blur_band_generic<T>(src, height, width, cn, px, nx, py, ny, y0, y1, dst); });
  });
}

void check_blur_args(index_t height, index_t width, index_t channels, index_t& ksize_y,
                     index_t& ksize_x, double sigma_y, double sigma_x, bool uint8) {
  MASKPREP_CHECK(height > 0 && width > 0, "image must not be empty, got ", height, "x", width);
  MASKPREP_CHECK(channels >= 1, "image must have at least one channel, got ", channels);
  MASKPREP_CHECK(std::isfinite(sigma_x) && std::isfinite(sigma_y) && sigma_x >= 0 && sigma_y >= 0,
                 "sigma must be finite and >= 0, got (", sigma_y, ", ", sigma_x, ")");
  if (ksize_x <= 0 && sigma_x > 0) ksize_x = gaussian_ksize_for_sigma(sigma_x, uint8);
  if (ksize_y <= 0 && sigma_y > 0) ksize_y = gaussian_ksize_for_sigma(sigma_y, uint8);
  MASKPREP_CHECK(ksize_x > 0 && ksize_y > 0,
                 "ksize must be given (or derived from a positive sigma), got (", ksize_y, ", ",
                 ksize_x, ")");
  MASKPREP_CHECK(ksize_x % 2 == 1 && ksize_y % 2 == 1, "ksize must be odd, got (", ksize_y, ", ",
                 ksize_x, ")");
  // A band's scratch: one padded row of width + ksize_x - 1 pixels and up to height + ksize_y - 1
  // filtered rows (see blur_band); the taps square their offsets (gaussian_kernel).
  const char* row = "blur scratch (width + ksize_x) x channels";
  detail::checked_bytes(
      row, detail::checked_size(row, detail::checked_add(row, width, ksize_x), channels),
      sizeof(float));
  const char* rows = "blur scratch (height + ksize_y) x width x channels";
  detail::checked_bytes(
      rows, detail::checked_size(rows, detail::checked_add(rows, height, ksize_y), width, channels),
      sizeof(float));
}

}  // namespace

index_t gaussian_ksize_for_sigma(double sigma, bool uint8) {
  MASKPREP_CHECK(std::isfinite(sigma) && sigma > 0 && sigma < 1e8,
                 "sigma must be positive and finite to derive ksize, got ", sigma);
  return static_cast<index_t>(std::llrint(sigma * (uint8 ? 3 : 4) * 2 + 1)) | 1;
}

std::vector<double> gaussian_kernel(index_t n, double sigma) {
  MASKPREP_CHECK(n > 0, "ksize must be positive, got ", n);
  detail::checked_bytes("ksize", detail::checked_size("ksize x ksize", n, n), sizeof(double));
  if (sigma <= 0) {
    switch (n) {
      case 1:
        return {1.0};
      case 3:
        return {0.25, 0.5, 0.25};
      case 5:
        return {0.0625, 0.25, 0.375, 0.25, 0.0625};
      case 7:
        return {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125};
      case 9: {
        std::vector<double> k = {4, 13, 30, 51, 60, 51, 30, 13, 4};
        for (double& v : k) v /= 256;
        return k;
      }
      default:
        break;
    }
  }
  // OpenCV evaluates this in soft-float (IEEE double operations, a fused mulAdd for the default
  // sigma); std::exp may differ from its exp in the last bit, which the 8-bit rounding absorbs.
  const double s = sigma > 0 ? sigma : std::fma(static_cast<double>(n), 0.15, 0.35);
  const double scale = -0.125 / (s * s);  // x below is twice the offset from the centre
  const index_t half = (n - 1) / 2;
  std::vector<double> values(half);
  double sum = 0;
  for (index_t i = 0, x = 1 - n; i < half; ++i, x += 2) {
    values[i] = std::exp(static_cast<double>(x * x) * scale);
    sum += values[i];
  }
  sum *= 2;
  sum += 1;
  if (n % 2 == 0) sum += 1;
  const double mul = 1 / sum;
  std::vector<double> k(n);
  for (index_t i = 0; i < half; ++i) k[i] = k[n - 1 - i] = values[i] * mul;
  k[half] = mul;
  if (n % 2 == 0) k[half + 1] = mul;
  return k;
}

std::vector<std::uint16_t> gaussian_kernel_fixed(index_t n, double sigma) {
  MASKPREP_CHECK(n > 0 && n % 2 == 1, "ksize must be odd and positive, got ", n);
  const std::vector<double> k = gaussian_kernel(n, sigma);
  std::vector<std::uint16_t> fixed(n);
  // getGaussianKernelFixedPoint_ED: round each outer tap with the running error carried inwards.
  double err = 0;
  std::int64_t sum = 0;
  for (index_t i = 0; i < n / 2; ++i) {
    const double adj = k[i] * 256.0 + err;
    const std::int64_t v = std::llrint(adj);
    err = adj - static_cast<double>(v);
    fixed[i] = fixed[n - 1 - i] = static_cast<std::uint16_t>(v);
    sum += v;
  }
  fixed[n / 2] = static_cast<std::uint16_t>(256 - 2 * sum);
  return fixed;
}

void gaussian_blur_u8(const std::uint8_t* src, index_t height, index_t width, index_t channels,
                      index_t ksize_y, index_t ksize_x, double sigma_y, double sigma_x,
                      std::uint8_t* dst, int num_threads) {
  check_blur_args(height, width, channels, ksize_y, ksize_x, sigma_y, sigma_x, true);
  blur<std::uint8_t>(src, height, width, channels, gaussian_kernel_fixed(ksize_x, sigma_x),
                     gaussian_kernel_fixed(ksize_y, sigma_y), dst, num_threads);
}

void gaussian_blur_f32(const float* src, index_t height, index_t width, index_t channels,
                       index_t ksize_y, index_t ksize_x, double sigma_y, double sigma_x, float* dst,
                       int num_threads) {
  check_blur_args(height, width, channels, ksize_y, ksize_x, sigma_y, sigma_x, false);
  auto taps = [](index_t n, double sigma) {
    const std::vector<double> k = gaussian_kernel(n, sigma);
    return std::vector<float>(k.begin(), k.end());  // OpenCV's CV_32F kernel
  };
  blur<float>(src, height, width, channels, taps(ksize_x, sigma_x), taps(ksize_y, sigma_y), dst,
              num_threads);
}

void histogram_u8(const std::uint8_t* src, index_t n, index_t* hist, int num_threads) {
  const int threads = threads_for_work(num_threads, n, kMinBytesPerThread);
  const index_t chunk = (n + threads - 1) / threads;
  std::vector<index_t> partial(static_cast<size_t>(threads) * 256, 0);
  parallel_for(threads, threads, [&](index_t t) {
    const std::uint8_t* __restrict s = src;
    const index_t begin = t * chunk;
    const index_t end = begin + chunk < n ? begin + chunk : n;
    // One 32-bit table per byte of an 8-byte word: runs of equal bytes (flat image areas) do not
    // serialise on one counter (4 tables measured up to 3x slower), and 8 KiB stays in L1.
    // 2^31-byte pieces keep the counters exact.
    std::uint32_t h[8][256];
    for (index_t p0 = begin; p0 < end; p0 += index_t{1} << 31) {
      const index_t p1 = std::min(end, p0 + (index_t{1} << 31));
      std::memset(h, 0, sizeof(h));
      index_t i = p0;
      for (; i + 8 <= p1; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s + i, 8);
        ++h[0][w & 255];
        ++h[1][(w >> 8) & 255];
        ++h[2][(w >> 16) & 255];
        ++h[3][(w >> 24) & 255];
        ++h[4][(w >> 32) & 255];
        ++h[5][(w >> 40) & 255];
        ++h[6][(w >> 48) & 255];
        ++h[7][w >> 56];
      }
      for (; i < p1; ++i) ++h[0][s[i]];
      index_t* out = partial.data() + t * 256;
      for (int v = 0; v < 256; ++v)
        for (int k = 0; k < 8; ++k) out[v] += h[k][v];
    }
  });
  for (int v = 0; v < 256; ++v) {
    index_t s = 0;
    for (index_t t = 0; t < threads; ++t) s += partial[t * 256 + v];
    hist[v] = s;
  }
}

void equalize_hist(const std::uint8_t* src, index_t n_pixels, std::uint8_t* dst, int num_threads) {
  MASKPREP_CHECK(n_pixels > 0, "image must not be empty");
  index_t hist[256];
  histogram_u8(src, n_pixels, hist, num_threads);
  std::uint8_t lut[256];
  int i = 0;
  while (hist[i] == 0) ++i;
  if (hist[i] == n_pixels) {
    for (int v = 0; v < 256; ++v) lut[v] = static_cast<std::uint8_t>(i);  // constant image
  } else {
    // OpenCV computes in float from int counts; 64-bit counts convert to the same floats below
    // 2^31 pixels and keep working above.
    const float scale = 255.f / static_cast<float>(n_pixels - hist[i]);
    for (int v = 0; v <= i; ++v) lut[v] = 0;
    index_t sum = 0;
    for (++i; i < 256; ++i) {
      sum += hist[i];
      const long r = std::lrint(static_cast<float>(sum) * scale);
      lut[i] = static_cast<std::uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
    }
  }
  const index_t block = index_t{1} << 16;
  const int threads = threads_for_work(num_threads, n_pixels, kMinBytesPerThread);
  parallel_for((n_pixels + block - 1) / block, threads,
               [&](index_t b) {
                 const index_t end = (b + 1) * block < n_pixels ? (b + 1) * block : n_pixels;
                 const std::uint8_t* __restrict s = src;
                 std::uint8_t* __restrict d = dst;
                 for (index_t j = b * block; j < end; ++j) d[j] = lut[s[j]];
               },
               4);
}

}  // namespace maskprep::imgproc
