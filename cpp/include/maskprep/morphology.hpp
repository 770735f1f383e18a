// Binary morphology (erode, dilate, open, close) bit-identical to OpenCV's cv2.erode / dilate /
// morphologyEx with the default anchor and border.
//
// Masks are (H, W) bytes, nonzero = foreground; outputs are 0/1 bytes. The kernel is a (kh, kw)
// byte array, nonzero = member, anchored at (kh/2, kw/2) (OpenCV's default anchor, also for even
// sizes), and applied without reflection in both operations:
//   erode(y, x)  = AND of src(y + i - kh/2, x + j - kw/2) over members (i, j)
//   dilate(y, x) = OR  of the same
// Pixels outside the image are ignored (OpenCV's default border value is +inf for erosion,
// -inf for dilation). open = erode^n then dilate^n; close = dilate^n then erode^n.
//
// Algorithm: rows are packed into 64-bit words (bit i = pixel i), so 64 pixels cost one word op.
// Each kernel row is a set of horizontal spans; a row is filtered once per distinct span (the
// one-pixel span at the anchor column is the row itself) with a doubling table of shifted words
// (O(log span) word ops), then every output row ANDs (erosion) or ORs (dilation) the filtered
// rows its kernel rows select. Bands of output rows run in parallel and run all the passes of a
// call (iterations, both halves of an opening or closing) through band-sized packed buffers, so
// no intermediate image goes to memory; the result does not depend on the thread count.
//
// Memory: besides dst, each thread keeps at most 256 KiB of band scratch between calls (bands
// are sized to fit it); a band that needs more (rows of tens of thousands of pixels, many fused
// iterations with a tall kernel) allocates it for itself and frees it when done.
#pragma once

#include <cstdint>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::morphology {

enum class MorphShape { kRect, kEllipse, kCross };
enum class MorphOp { kErode, kDilate, kOpen, kClose };

// cv2.getStructuringElement(shape, (kw, kh)) with the default anchor, as kh*kw 0/1 bytes.
// kh, kw >= 1 (the callers decide which sizes they accept); kh*kw must fit in 64 bits
// (std::invalid_argument naming the sizes otherwise).
std::vector<std::uint8_t> structuring_element(MorphShape shape, index_t kh, index_t kw);

// Applies `op` `iterations` (>= 1) times as described above. kernel: kh*kw bytes with at least
// one member. dst may not alias src. The kernel is copied before it is checked; src is read in
// place (changing it during the call gives unspecified output, never an out-of-bounds access).
// Throws: std::invalid_argument for an empty mask or kernel, iterations < 1, a kernel without
// a member, or sizes whose products do not fit in 64 bits (before any work).
void morphology(const std::uint8_t* src, index_t height, index_t width, const std::uint8_t* kernel,
                index_t kh, index_t kw, MorphOp op, index_t iterations, std::uint8_t* dst,
                int num_threads);

}  // namespace maskprep::morphology
