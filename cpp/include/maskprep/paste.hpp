// Pasting Mask R-CNN's M x M mask probabilities into the image: the spec.
//
// The rule is torchvision's roi_heads.paste_masks_in_image(masks, boxes, (H, W), padding=1)
// followed by `>= threshold`, reproduced operation for operation:
//   1. expand_masks: pad each mask with one zero on every side, (M + 2) x (M + 2), and
//      scale = (double)(M + 2) / M.
//   2. expand_boxes, in the boxes' dtype B (float32 in torchvision's model):
//      w_half = (x2 - x1) * .5 * (B)scale, x_c = (x2 + x1) * .5 (y likewise), then
//      x0 = x_c - w_half, x1 = x_c + w_half, each truncated toward zero to an integer
//      (torch's .to(int64)); coordinates beyond +-2^52 are clamped there first (no image is that
//      large, and it keeps every size below in 64 bits).
//   3. paste_mask_in_image: w = max(x1 - x0 + 1, 1), h likewise; the padded mask is resized to
//      h x w by torch's upsample_bilinear2d (align_corners=False) in the masks' dtype T; the image
//      pixels [max(y0, 0), min(y1 + 1, H)) x [max(x0, 0), min(x1 + 1, W)) receive the resized
//      values at (y - y0, x - x0); all other pixels are 0.
//   4. A pixel is foreground when its value >= (T)threshold.
// The resize follows ATen's CPU kernel exactly, in T: ratio = (T)in / (T)out, source index
// real = max(ratio * ((T)o + .5) - .5, 0), i0 = min(floor(real), in - 1), i1 = i0 + (i0 < in - 1),
// l1 = clamp(real - i0, 0, 1), l0 = 1 - l1 (i0 = i1 = o, l0 = 1, l1 = 0 when in == out). ATen
// picks the summation order by output size: when h + w <= 128 its channels-last kernel computes
// ((v00*(l0y*l0x) + v01*(l0y*l1x)) + v10*(l1y*l0x)) + v11*(l1y*l1x), otherwise its generic
// kernel computes (v00*l0x + v01*l1x)*l0y + (v10*l0x + v11*l1x)*l1y. Both are reproduced (the
// build forbids FMA contraction), so the float values equal torch's ATEN_CPU_CAPABILITY=default
// kernels bit for bit. With spec.fma the arithmetic is instead that of ATen's AVX2 and AVX-512
// kernels (what torch runs by default on x86-64), whose compiler fused these multiply-adds:
// real = fma(ratio, (T)o + .5, -.5); generic: t_r = fma(v_r0, l0x, v_r1*l1x) per source row,
// value = fma(t_0, l0y, t_1*l1y); channels-last: fma(v11, w11, fma(v10, w10, fma(v00, w00,
// v01*w01))) with the weights w = l_y*l_x as before.
// Only the part of the box inside the image is ever computed: memory and time per instance are
// O(visible box area), never O(box area) or, for RLE, O(H * W).
//
// Where torchvision raises (its slices go negative, so its Python slicing wraps around): boxes
// entirely outside the image, and most boxes with x2 < x1, give empty masks here.
//
// Layouts: masks (n, M, M) row-major; boxes (n, 4) rows (x1, y1, x2, y2) in image pixels.
// Threading: instances run in parallel; each writes only its own output plane or run list, so
// the result does not depend on the thread count.
#pragma once

#include <vector>

#include "maskprep/common.hpp"
#include "maskprep/rle.hpp"

namespace maskprep::paste {

struct PasteSpec {
  index_t n = 0;          // instances
  index_t mask_size = 0;  // M >= 1
  index_t height = 0;     // H >= 0
  index_t width = 0;      // W >= 0
  // In (0, 1] (0 would also select every pixel outside the box); compared as (T)threshold.
  double threshold = 0.5;
  bool fma = false;  // ATen's AVX2 / AVX-512 arithmetic instead of its portable one (see above)
};

// The spec checks of the functions below, for a caller that allocates the output first (dense:
// also n*H*W bytes must be allocatable). Throws std::invalid_argument.
void check_paste_spec(const PasteSpec& spec, bool dense);

// Writes n dense H x W masks of 0/1 bytes, row-major, plane i at out + i*H*W (every byte
// written). Throws std::invalid_argument before any work for a bad spec (M < 1, negative sizes,
// a side above 2^52 or H*W / n*H*W beyond int64, a threshold outside (0, 1] or NaN) or a
// non-finite box coordinate (naming the row). The boxes are copied before they are checked;
// masks are read in place (changing them during the call gives unspecified values, never an
// out-of-bounds access).
template <typename T, typename B>
void paste_masks_dense(const T* masks, const B* boxes, const PasteSpec& spec, byte_t* out,
                       int num_threads);

// The same masks as COCO RLE counts (column-major runs, starting with background), produced
// while pasting without an H x W buffer; out is resized to n. Identical to rle::encode of
// paste_masks_dense's output. Same checks.
template <typename T, typename B>
void paste_masks_rle(const T* masks, const B* boxes, const PasteSpec& spec,
                     std::vector<rle::Counts>& out, int num_threads);

}  // namespace maskprep::paste
