// Max pooling over NCHW planes (pool.hpp): a horizontal pass over each input row, then a
// vertical pass over the row results of each output row's window.
//
// Why the two passes give ATen's bits: its row-major fold keeps the last NaN if there is one,
// else the first element equal to the maximum. Folding each row the same way gives that row's
// last NaN or first maximum; folding those results row by row keeps the last row with a NaN
// (whose last NaN is the window's last) or the first row holding the maximum (whose first
// maximum is the window's first). Starting a fold from its first value instead of -inf is the
// same: take(-inf, v) is v, or -inf when v is -inf.
#include "maskprep/pool.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "isa_dispatch.hpp"
#include "parallel_for.hpp"

namespace maskprep::pool {

namespace {

// ATen's update: a larger value or any NaN replaces the running maximum. Written branch-free so
// that the loops below vectorise.
template <typename T>
MASKPREP_ALWAYS_INLINE T take(T acc, T v) {
  const bool replace = (v > acc) | (v != v);
  return replace ? v : acc;
}

struct Geometry {
  index_t h, w, oh, ow, kh, kw, sh, sw, ph, pw;
  index_t ox_lo, ox_hi;  // output columns whose window lies inside the row
};

// Window maxima of one input row at every output column.
template <typename T, index_t kStride>
MASKPREP_ALWAYS_INLINE void row_pass(const T* row, const Geometry& g, T* out) {
  const index_t sw = kStride > 0 ? kStride : g.sw;
  auto edge = [&](index_t ox) {
    const index_t x0 = ox * sw - g.pw;
    const index_t b = std::max<index_t>(x0, 0), e = std::min<index_t>(x0 + g.kw, g.w);
    T acc = -std::numeric_limits<T>::infinity();
    for (index_t x = b; x < e; ++x) acc = take(acc, row[x]);
    out[ox] = acc;
  };
  for (index_t ox = 0; ox < g.ox_lo; ++ox) edge(ox);
  const T* base = row - g.pw;  // base[ox * sw + kx] is tap kx of column ox
  for (index_t ox = g.ox_lo; ox < g.ox_hi; ++ox) out[ox] = base[ox * sw];
  for (index_t kx = 1; kx < g.kw; ++kx) {
    const T* tap = base + kx;
    for (index_t ox = g.ox_lo; ox < g.ox_hi; ++ox) out[ox] = take(out[ox], tap[ox * sw]);
  }
  for (index_t ox = g.ox_hi; ox < g.ow; ++ox) edge(ox);
}

// One plane. `rows` holds the window maxima of up to kh input rows, input row y in slot y % kh
// (`held` says which row a slot holds): output rows need ascending input rows, so each input
// row is filtered once while the scratch stays kh x OW, however tall the plane.
template <typename T>
MASKPREP_ALWAYS_INLINE void plane_body(const T* in, const Geometry& g, T* rows, index_t* held,
                                       T* out) {
  std::fill(held, held + g.kh, index_t{-1});
  for (index_t oy = 0; oy < g.oh; ++oy) {
    const index_t y0 = oy * g.sh - g.ph;
    const index_t b = std::max<index_t>(y0, 0), e = std::min<index_t>(y0 + g.kh, g.h);
    T* dst = out + oy * g.ow;
    for (index_t y = b; y < e; ++y) {
      T* h = rows + (y % g.kh) * g.ow;
      if (held[y % g.kh] != y) {
        held[y % g.kh] = y;
        const T* row = in + y * g.w;
        if (g.sw == 1) {
          row_pass<T, 1>(row, g, h);
        } else if (g.sw == 2) {
          row_pass<T, 2>(row, g, h);
        } else {
          row_pass<T, 0>(row, g, h);
        }
      }
      if (y == b) {
        std::copy(h, h + g.ow, dst);
      } else {
        for (index_t ox = 0; ox < g.ow; ++ox) dst[ox] = take(dst[ox], h[ox]);
      }
    }
  }
}

template <typename T>
void plane_generic(const T* in, const Geometry& g, T* rows, index_t* held, T* out) {
  plane_body(in, g, rows, held, out);
}

template <typename T>
MASKPREP_TARGET_AVX2_FN void plane_avx2(const T* in, const Geometry& g, T* rows, index_t* held,
                                        T* out) {
  plane_body(in, g, rows, held, out);
}

template <typename T>
struct RowsTag {};
struct HeldTag {};

}  // namespace

void check_max_pool(const MaxPoolSpec& s) {
  MASKPREP_CHECK(s.planes >= 0 && s.height >= 0 && s.width >= 0,
                 "input sizes must be non-negative, got planes=", s.planes, ", height=", s.height,
                 ", width=", s.width);
  MASKPREP_CHECK(s.kernel_h >= 1 && s.kernel_w >= 1, "kernel_size must be >= 1, got (", s.kernel_h,
                 ", ", s.kernel_w, ")");
  MASKPREP_CHECK(s.stride_h >= 1 && s.stride_w >= 1, "stride must be >= 1, got (", s.stride_h, ", ",
                 s.stride_w, ")");
  MASKPREP_CHECK(
      s.pad_h >= 0 && s.pad_w >= 0 && s.pad_h <= s.kernel_h / 2 && s.pad_w <= s.kernel_w / 2,
      "padding must be in [0, kernel_size / 2], got (", s.pad_h, ", ", s.pad_w,
      ") for kernel_size (", s.kernel_h, ", ", s.kernel_w, ")");
  // max_pool_out_size adds 2 * pad to the input size: that must fit (pad <= kernel / 2 above).
  detail::checked_add("padded height", s.height, detail::checked_size("2 * pad_h", 2, s.pad_h));
  detail::checked_add("padded width", s.width, detail::checked_size("2 * pad_w", 2, s.pad_w));
  const index_t oh = max_pool_out_size(s.height, s.kernel_h, s.stride_h, s.pad_h);
  const index_t ow = max_pool_out_size(s.width, s.kernel_w, s.stride_w, s.pad_w);
  detail::checked_size("output planes x OH x OW", s.planes, oh, ow);
  // Each thread keeps kernel_h filtered rows of OW values.
  detail::checked_bytes("max_pool2d scratch kernel_h x OW",
                        detail::checked_size("max_pool2d scratch kernel_h x OW", s.kernel_h,
                                             std::max<index_t>(ow, 0)),
                        sizeof(double));
  MASKPREP_CHECK(oh >= 1 && ow >= 1, "input of ", s.height, " x ", s.width,
                 " is too small for kernel_size (", s.kernel_h, ", ", s.kernel_w,
                 ") with padding (", s.pad_h, ", ", s.pad_w, "): the output would be ", oh, " x ",
                 ow);
}

template <typename T>
void max_pool2d(const T* input, const MaxPoolSpec& s, T* output, int num_threads) {
  check_max_pool(s);
  Geometry g{s.height,   s.width,    0,       0,       s.kernel_h, s.kernel_w,
             s.stride_h, s.stride_w, s.pad_h, s.pad_w, 0,          0};
  g.oh = max_pool_out_size(g.h, g.kh, g.sh, g.ph);
  g.ow = max_pool_out_size(g.w, g.kw, g.sw, g.pw);
  g.ox_lo = std::min((g.pw + g.sw - 1) / g.sw, g.ow);
  const index_t last = g.w + g.pw - g.kw;  // the window of column ox fits while ox*sw <= last
  g.ox_hi = last < 0 ? g.ox_lo : std::clamp(last / g.sw + 1, g.ox_lo, g.ow);
  const index_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  const int threads =
      threads_for_work(num_threads, detail::saturating_mul(s.planes * in_plane, index_t(sizeof(T))),
                       kMinBytesPerThread);
  parallel_for(
      s.planes, threads,
      [&](index_t p) {
        auto& rows = detail::thread_scratch<std::vector<T>, RowsTag<T>>();
        auto& held = detail::thread_scratch<std::vector<index_t>, HeldTag>();
        rows.resize(static_cast<size_t>(g.kh * g.ow));
        held.resize(static_cast<size_t>(g.kh));
        const T* in = input + p * in_plane;
        T* out = output + p * out_plane;
        detail::dispatch_avx2([&] { plane_avx2(in, g, rows.data(), held.data(), out); },
                              [&] { plane_generic(in, g, rows.data(), held.data(), out); });
      },
      1);
}

template void max_pool2d<float>(const float*, const MaxPoolSpec&, float*, int);
template void max_pool2d<double>(const double*, const MaxPoolSpec&, double*, int);

}  // namespace maskprep::pool
