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
// Algorithm: each kernel row is a set of horizontal spans. A row of the mask is filtered once
// per distinct span with a doubling table (O(log span) byte ops per pixel, vectorised), then
// every output row combines the filtered rows its kernel rows select (O(kh)). Bands of output
// rows run in parallel; the result does not depend on the thread count. A single opening or
// closing runs both operations per band through a band-sized buffer (no intermediate image).
#pragma once

#include <cstdint>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep {

enum class MorphShape { rect, ellipse, cross };
enum class MorphOp { erode, dilate, open, close };

// cv2.getStructuringElement(shape, (kw, kh)) with the default anchor, as kh*kw 0/1 bytes.
// kh, kw >= 1 (the callers decide which sizes they accept).
std::vector<std::uint8_t> structuring_element(MorphShape shape, index_t kh, index_t kw);

// Applies `op` `iterations` (>= 1) times as described above. kernel: kh*kw bytes with at least
// one member. dst may not alias src.
void morphology(const std::uint8_t* src, index_t height, index_t width, const std::uint8_t* kernel,
                index_t kh, index_t kw, MorphOp op, index_t iterations, std::uint8_t* dst,
                int num_threads);

}  // namespace maskprep
