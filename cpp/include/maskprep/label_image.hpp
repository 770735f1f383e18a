// Label images (one id per pixel, as instance-id PNGs hold them): PNG scanline unfiltering and
// the RLE of every id, for the PNG importers (maskprep.formats.png).
//
// unfilter: the inflated IDAT stream of a non-interlaced PNG is h scanlines of 1 + row_bytes
// bytes, a filter type (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth; PNG spec 9.2) then the
// filtered bytes; bpp is the bytes per pixel (1 for 8-bit grey or palette, 2 for 16-bit grey:
// the label PNGs; row_bytes a multiple of it). Reconstructs the raw
// bytes into out (h * row_bytes). With swap16, 16-bit samples (PNG is big-endian) are written in
// little-endian order, as a uint16 array on this machine reads them.
//
// encode_labels: the COCO RLE (rle.hpp) of `label == id` for every id of an h x w row-major
// image except those in `ignore`, ids ascending: what rle::encode gives for each of those masks
// and pycocotools' encode(np.asfortranarray(label == id)) byte for byte once compressed. One
// walk in column-major order; each run is appended to its id's counts.
#pragma once

#include <cstdint>
#include <vector>

#include "maskprep/common.hpp"
#include "maskprep/rle.hpp"

namespace maskprep::label_image {

// Throws std::invalid_argument naming the row for a filter type above 4, and for h, row_bytes
// below 0, bpp not 1 or 2, or row_bytes not a multiple of bpp.
void unfilter(const byte_t* data, index_t h, index_t row_bytes, int bpp, bool swap16, byte_t* out);

// T: any of the 8 integer types of 8 to 64 bits (instantiated in label_image.cpp). Unsigned ids
// never equal a negative ignore value. Throws std::invalid_argument when h*w does not fit in
// int64 or h, w < 0.
template <typename T>
void encode_labels(const T* label, index_t h, index_t w, const std::int64_t* ignore,
                   index_t n_ignore, std::vector<T>& ids, std::vector<rle::Counts>& counts);

}  // namespace maskprep::label_image
