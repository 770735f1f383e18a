// Mask pasting (see paste.hpp for the rule, the exactness contract and the threading model).
//
// Per instance: the integer box and the visible window are computed once; each visible column
// gets its horizontal interpolation of all M + 2 padded rows (ATen's inner term, which its
// generic kernel also computes first), so a pixel of a large box costs two multiplies and an
// add. Small boxes (h + w <= 128) use ATen's channels-last summation order per pixel. Dense
// output walks rows; RLE output walks columns and emits runs as it goes. The FMA variant spells
// out, with std::fma, the contractions GCC made in ATen's AVX2/AVX-512 kernels (found by
// comparing candidate orders against torch 2.14 under ATEN_CPU_CAPABILITY=avx2 and avx512).
#include "maskprep/paste.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "parallel_for.hpp"

namespace maskprep::paste {
namespace {

// Box coordinates are clamped here before the integer cast: far beyond any image, and small
// enough that x1 - x0 + 1 cannot overflow.
constexpr double kCoordLimit = 4503599627370496.0;  // 2^52
// Larger images are refused: the clamp above would then cut boxes that lie inside them.
constexpr index_t kMaxImageSide = index_t{1} << 52;

// One output index's source pixels and weights along an axis (ATen's
// compute_source_index_and_lambda, align_corners=False, in T).
template <typename T>
struct Lerp {
  index_t i0, i1;
  T l0, l1;
};

template <typename T>
Lerp<T> source_lerp(index_t o, index_t in, index_t out, T ratio, bool fma) {
  if (in == out) return {o, o, T(1), T(0)};
  const T x = static_cast<T>(o) + static_cast<T>(0.5);
  T real = fma ? std::fma(ratio, x, static_cast<T>(-0.5)) : ratio * x - static_cast<T>(0.5);
  if (real < T(0)) real = T(0);
  // ATen floors with floorf, also for double.
  const index_t i0 = std::min(static_cast<index_t>(std::floor(static_cast<float>(real))), in - 1);
  const T l1 = std::min(std::max(real - static_cast<T>(i0), T(0)), T(1));
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), static_cast<T>(1.) - l1, l1};
}

template <typename B>
index_t to_index(B v) {
  const double d = std::min(std::max(static_cast<double>(v), -kCoordLimit), kCoordLimit);
  return static_cast<index_t>(d);  // truncation toward zero, as torch's .to(int64)
}

// Everything one instance needs: its padded mask, resize geometry and visible window.
template <typename T>
struct Instance {
  index_t bx0 = 0, by0 = 0;   // integer box origin (may be negative)
  index_t bw = 1, bh = 1;     // resize target size
  index_t x0 = 0, x1 = 0;     // visible columns [x0, x1)
  index_t y0 = 0, y1 = 0;     // visible rows [y0, y1)
  bool small = false;         // ATen's channels-last kernel (bh + bw <= 128)
  bool fma = false;           // ATen's FMA-contracted (AVX2 / AVX-512) arithmetic
  std::vector<T> padded;      // (M + 2) x (M + 2)
  std::vector<Lerp<T>> rows;  // per visible row
  std::vector<Lerp<T>> cols;  // per visible column
  std::vector<T> hz;          // generic kernel: per visible column, the M + 2 row terms

  bool empty() const { return x0 >= x1 || y0 >= y1; }
};

template <typename T, typename B>
void plan(const T* mask, const B* box, const PasteSpec& s, Instance<T>& p) {
  const index_t m = s.mask_size, mp = m + 2;
  // expand_boxes in B; torch multiplies by the Python double scale cast to B.
  const B scale = static_cast<B>(static_cast<double>(mp) / static_cast<double>(m));
  const B half = static_cast<B>(0.5);
  const B w_half = (box[2] - box[0]) * half * scale;
  const B h_half = (box[3] - box[1]) * half * scale;
  const B x_c = (box[2] + box[0]) * half;
  const B y_c = (box[3] + box[1]) * half;
  const index_t bx0 = to_index(x_c - w_half), bx1 = to_index(x_c + w_half);
  const index_t by0 = to_index(y_c - h_half), by1 = to_index(y_c + h_half);
  p.bx0 = bx0;
  p.by0 = by0;
  p.bw = std::max<index_t>(bx1 - bx0 + 1, 1);
  p.bh = std::max<index_t>(by1 - by0 + 1, 1);
  p.x0 = std::max<index_t>(bx0, 0);
  p.x1 = std::min<index_t>(bx1 + 1, s.width);
  p.y0 = std::max<index_t>(by0, 0);
  p.y1 = std::min<index_t>(by1 + 1, s.height);
  if (p.empty()) return;
  p.small = p.bh + p.bw <= 128;
  p.fma = s.fma;

  p.padded.assign(static_cast<size_t>(mp * mp), T(0));
  for (index_t y = 0; y < m; ++y)
    std::copy(mask + y * m, mask + (y + 1) * m, p.padded.begin() + (y + 1) * mp + 1);

  const T ratio_y = static_cast<T>(mp) / static_cast<T>(p.bh);
  const T ratio_x = static_cast<T>(mp) / static_cast<T>(p.bw);
  p.rows.resize(static_cast<size_t>(p.y1 - p.y0));
  for (index_t y = p.y0; y < p.y1; ++y)
    p.rows[y - p.y0] = source_lerp(y - by0, mp, p.bh, ratio_y, p.fma);
  p.cols.resize(static_cast<size_t>(p.x1 - p.x0));
  for (index_t x = p.x0; x < p.x1; ++x)
    p.cols[x - p.x0] = source_lerp(x - bx0, mp, p.bw, ratio_x, p.fma);
  if (p.small) return;
  p.hz.resize(
      static_cast<size_t>(detail::checked_size("paste columns x (M + 2)", p.x1 - p.x0, mp)));
  for (index_t c = 0; c < p.x1 - p.x0; ++c) {
    const Lerp<T>& lx = p.cols[c];
    T* h = p.hz.data() + c * mp;
    for (index_t iy = 0; iy < mp; ++iy) {
      const T* row = p.padded.data() + iy * mp;
      h[iy] = p.fma ? std::fma(row[lx.i0], lx.l0, row[lx.i1] * lx.l1)
                    : row[lx.i0] * lx.l0 + row[lx.i1] * lx.l1;
    }
  }
}

// The resized value at visible row r, column c (indices into rows / cols).
template <typename T>
inline T value(const Instance<T>& p, index_t r, index_t c, index_t mp) {
  const Lerp<T>& ly = p.rows[r];
  if (!p.small) {
    const T* h = p.hz.data() + c * mp;
    return p.fma ? std::fma(h[ly.i0], ly.l0, h[ly.i1] * ly.l1)
                 : h[ly.i0] * ly.l0 + h[ly.i1] * ly.l1;
  }
  const Lerp<T>& lx = p.cols[c];
  const T* r0 = p.padded.data() + ly.i0 * mp;
  const T* r1 = p.padded.data() + ly.i1 * mp;
  const T w00 = ly.l0 * lx.l0, w01 = ly.l0 * lx.l1, w10 = ly.l1 * lx.l0, w11 = ly.l1 * lx.l1;
  if (p.fma) {
    return std::fma(r1[lx.i1], w11,
                    std::fma(r1[lx.i0], w10, std::fma(r0[lx.i0], w00, r0[lx.i1] * w01)));
  }
  return r0[lx.i0] * w00 + r0[lx.i1] * w01 + r1[lx.i0] * w10 + r1[lx.i1] * w11;
}

}  // namespace

void check_paste_spec(const PasteSpec& s, bool dense) {
  MASKPREP_CHECK(s.n >= 0, "the number of masks must be >= 0, got ", s.n);
  MASKPREP_CHECK(s.mask_size >= 1, "masks must be (N, M, M) with M >= 1, got M = ", s.mask_size);
  MASKPREP_CHECK(s.height >= 0 && s.width >= 0, "image_size must be (height, width) >= 0, got (",
                 s.height, ", ", s.width, ")");
  MASKPREP_CHECK(s.height <= kMaxImageSide && s.width <= kMaxImageSide, "image_size (", s.height,
                 ", ", s.width, ") is too large: each side must be at most 2^52");
  detail::checked_size("image_size height*width", s.height, s.width);
  MASKPREP_CHECK(s.threshold > 0.0 && s.threshold <= 1.0,
                 "threshold must be a number in (0, 1], got ", s.threshold);
  if (dense)
    detail::checked_bytes(
        "dense output n*height*width",
        detail::checked_size("dense output n*height*width", s.n, s.height, s.width), 1);
}

namespace {

// Validates the spec and returns a copy of the boxes, checked: the kernel reads only the copy, so
// a caller changing its boxes during the call cannot make them non-finite after the check.
template <typename B>
std::vector<B> checked_boxes(const B* boxes, const PasteSpec& s, bool dense) {
  check_paste_spec(s, dense);
  std::vector<B> copy(boxes, boxes + detail::checked_size("boxes", s.n, 4));
  for (size_t i = 0; i < copy.size(); ++i) {
    MASKPREP_CHECK(std::isfinite(static_cast<double>(copy[i])), "boxes must be finite, got ",
                   static_cast<double>(copy[i]), " in row ", i / 4);
  }
  return copy;
}

// Threads worth using: about 2^16 pixels of work per thread.
int paste_threads(int num_threads, index_t pixels) {
  return threads_for_work(num_threads, pixels, index_t{1} << 16);
}

// Appends `len` pixels of value `bit` to a run list under construction (cur: value of the open
// run, run: its length).
struct RunWriter {
  rle::Counts& counts;
  bool cur = false;
  rle::count_t run = 0;

  void add(bool bit, rle::count_t len) {
    if (len == 0) return;
    if (bit != cur) {
      counts.push_back(run);
      run = 0;
      cur = bit;
    }
    run += len;
  }
  void finish() { counts.push_back(run); }
};

}  // namespace

template <typename T, typename B>
void paste_masks_dense(const T* masks, const B* boxes, const PasteSpec& s, byte_t* out,
                       int num_threads) {
  const std::vector<B> box_copy = checked_boxes(boxes, s, true);
  const index_t mp = s.mask_size + 2, plane = s.height * s.width;
  parallel_for(s.n, paste_threads(num_threads, s.n * plane), [&](index_t i) {
    byte_t* o = out + i * plane;
    std::memset(o, 0, static_cast<size_t>(plane));
    Instance<T> p;
    plan(masks + i * s.mask_size * s.mask_size, box_copy.data() + 4 * i, s, p);
    if (p.empty()) return;
    const T thr = static_cast<T>(s.threshold);
    for (index_t y = p.y0; y < p.y1; ++y) {
      byte_t* row = o + y * s.width;
      for (index_t x = p.x0; x < p.x1; ++x)
        row[x] = value(p, y - p.y0, x - p.x0, mp) >= thr ? 1 : 0;
    }
  });
}

template <typename T, typename B>
void paste_masks_rle(const T* masks, const B* boxes, const PasteSpec& s,
                     std::vector<rle::Counts>& out, int num_threads) {
  const std::vector<B> box_copy = checked_boxes(boxes, s, false);
  out.assign(static_cast<size_t>(s.n), rle::Counts());
  const index_t mp = s.mask_size + 2;
  const rle::count_t h = static_cast<rle::count_t>(s.height);
  const rle::count_t w = static_cast<rle::count_t>(s.width);
  // Work is the visible box area, which the boxes bound; estimate with the mask count.
  const int threads = paste_threads(num_threads, detail::saturating_mul(s.n, 1 << 14));
  parallel_for(s.n, threads, [&](index_t i) {
    Instance<T> p;
    plan(masks + i * s.mask_size * s.mask_size, box_copy.data() + 4 * i, s, p);
    RunWriter runs{out[i]};
    if (p.empty()) {
      runs.add(false, h * w);
      runs.finish();
      return;
    }
    const T thr = static_cast<T>(s.threshold);
    const auto vis_h = static_cast<rle::count_t>(p.y1 - p.y0);
    runs.add(false, static_cast<rle::count_t>(p.x0) * h + static_cast<rle::count_t>(p.y0));
    for (index_t x = p.x0; x < p.x1; ++x) {
      if (x > p.x0) runs.add(false, h - vis_h);
      for (index_t y = p.y0; y < p.y1; ++y) runs.add(value(p, y - p.y0, x - p.x0, mp) >= thr, 1);
    }
    runs.add(false,
             (h - static_cast<rle::count_t>(p.y1)) + (w - static_cast<rle::count_t>(p.x1)) * h);
    runs.finish();
  });
}

#define MASKPREP_PASTE_INSTANTIATE(T, B)                                                     \
  template void paste_masks_dense<T, B>(const T*, const B*, const PasteSpec&, byte_t*, int); \
  template void paste_masks_rle<T, B>(const T*, const B*, const PasteSpec&,                  \
                                      std::vector<rle::Counts>&, int);
MASKPREP_PASTE_INSTANTIATE(float, float)
MASKPREP_PASTE_INSTANTIATE(float, double)
MASKPREP_PASTE_INSTANTIATE(double, float)
MASKPREP_PASTE_INSTANTIATE(double, double)
#undef MASKPREP_PASTE_INSTANTIATE

}  // namespace maskprep::paste
