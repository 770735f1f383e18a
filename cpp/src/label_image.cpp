// Label images: PNG unfiltering and per-id RLE (label_image.hpp).
#include "maskprep/label_image.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace maskprep::label_image {

namespace {

// One row's reconstruction for a pixel of B bytes (a template: the left neighbours of the B
// byte lanes then live in registers instead of going through memory, whose store-to-load
// round trip per byte was most of the time of Sub and Paeth rows).
template <std::size_t B>
void unfilter_row(int type, const byte_t* in, const byte_t* up, byte_t* r, std::size_t len) {
  const std::size_t head = std::min(len, B);
  switch (type) {
    case 0:
      std::copy(in, in + len, r);
      return;
    case 2:
      for (std::size_t i = 0; i < len; ++i) r[i] = static_cast<byte_t>(in[i] + up[i]);
      return;
    default:
      break;
  }
  byte_t left[B] = {}, corner[B] = {};      // per lane: raw left and raw up-left bytes
  for (std::size_t i = 0; i < head; ++i) {  // the first pixel: left and up-left are 0
    const unsigned pred = type == 1 ? 0u : type == 3 ? up[i] >> 1 : up[i];
    r[i] = left[i] = static_cast<byte_t>(in[i] + pred);
    corner[i] = up[i];
  }
  std::size_t i = head;
  if (type == 1) {
    for (; i + B <= len; i += B)
      for (std::size_t j = 0; j < B; ++j)
        r[i + j] = left[j] = static_cast<byte_t>(in[i + j] + left[j]);
  } else if (type == 3) {
    for (; i + B <= len; i += B)
      for (std::size_t j = 0; j < B; ++j)
        r[i + j] = left[j] =
            static_cast<byte_t>(in[i + j] + ((unsigned{left[j]} + up[i + j]) >> 1));
  } else if (type == 4) {
    for (; i + B <= len; i += B) {
      for (std::size_t j = 0; j < B; ++j) {
        const int a = left[j], c = corner[j], u = up[i + j];
        const int pa = std::abs(u - c), pb = std::abs(a - c), pc = std::abs(a + u - 2 * c);
        const int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? u : c);
        r[i + j] = left[j] = static_cast<byte_t>(in[i + j] + pred);
        corner[j] = static_cast<byte_t>(u);
      }
    }
  }
}

template <std::size_t B>
void unfilter_rows(const byte_t* data, index_t h, index_t row_bytes, bool swap16, byte_t* out) {
  const auto len = static_cast<std::size_t>(row_bytes);
  // The filters work on the raw (big-endian) bytes of this row and the one above: both kept in
  // small buffers that stay in cache; the first row's "above" is zeros, as the spec says.
  std::vector<byte_t> above(len, 0), row(len);
  for (index_t y = 0; y < h; ++y) {
    const byte_t* in = data + y * (row_bytes + 1) + 1;
    const int type = in[-1];
    MASKPREP_CHECK(type <= 4, "row ", y, " has filter type ", type, " (PNG defines 0 to 4)");
    unfilter_row<B>(type, in, above.data(), row.data(), len);
    byte_t* o = out + y * row_bytes;
    if (swap16) {
      for (std::size_t i = 0; i + 1 < len; i += 2) o[i] = row[i + 1], o[i + 1] = row[i];
    } else {
      std::copy(row.begin(), row.end(), o);
    }
    above.swap(row);
  }
}

}  // namespace

void unfilter(const byte_t* data, index_t h, index_t row_bytes, int bpp, bool swap16, byte_t* out) {
  MASKPREP_CHECK(h >= 0 && row_bytes >= 0, "h and row_bytes must be >= 0, got ", h, " and ",
                 row_bytes);
  MASKPREP_CHECK(bpp == 1 || bpp == 2, "bpp must be 1 or 2, got ", bpp);
  MASKPREP_CHECK(row_bytes % bpp == 0, "row_bytes must be a multiple of bpp, got ", row_bytes,
                 " and ", bpp);
  if (bpp == 1) return unfilter_rows<1>(data, h, row_bytes, swap16, out);
  unfilter_rows<2>(data, h, row_bytes, swap16, out);
}

template <typename T>
void encode_labels(const T* label, index_t h, index_t w, const std::int64_t* ignore,
                   index_t n_ignore, std::vector<T>& ids, std::vector<rle::Counts>& counts) {
  MASKPREP_CHECK(h >= 0 && w >= 0, "label size must be >= 0, got ", h, " x ", w);
  const index_t n = detail::checked_size("label h*w", h, w);
  ids.clear();
  counts.clear();
  if (n == 0) return;
  auto ignored = [&](T v) {
    for (index_t k = 0; k < n_ignore; ++k) {
      if (std::is_unsigned_v<T> && ignore[k] < 0) continue;
      if (static_cast<std::int64_t>(v) == ignore[k]) return true;
    }
    return false;
  };
  struct Id {
    T id;
    index_t last_end = 0;
    rle::Counts counts;
  };
  std::vector<Id> found;
  // id -> index in found: a table for 8- and 16-bit unsigned ids, else a hash map
  constexpr bool kTable = std::is_unsigned_v<T> && sizeof(T) <= 2;
  std::vector<std::int32_t> table(kTable ? (std::size_t{1} << (8 * sizeof(T))) : 0, -1);
  std::unordered_map<T, std::int32_t> map;
  auto close = [&](T v, index_t start, index_t end) {
    if (ignored(v)) return;
    std::int32_t* slot = nullptr;
    if constexpr (kTable) {
      slot = &table[static_cast<std::size_t>(v)];
    } else {
      slot = &map.try_emplace(v, -1).first->second;
    }
    if (*slot < 0) {
      *slot = static_cast<std::int32_t>(found.size());
      found.push_back(Id{v, 0, {}});
    }
    Id& id = found[static_cast<std::size_t>(*slot)];
    id.counts.push_back(static_cast<rle::count_t>(start - id.last_end));
    id.counts.push_back(static_cast<rle::count_t>(end - start));
    id.last_end = end;
  };
  // Runs start where a pixel differs from the one above it (or, at the top of a column, from
  // the previous column's last pixel). Found row by row, where the image is contiguous (a
  // column-major walk of the row-major image was slower than numpy), and bucketed by column:
  // each column's starts come out in increasing y, so its runs are in COCO's order.
  std::vector<index_t> column_starts(static_cast<std::size_t>(w) + 1, 0);
  std::vector<index_t> changes;  // (x, y) of every start below the top row, row by row
  constexpr index_t kBlock = 16;
  for (index_t y = 1; y < h; ++y) {
    const T* row = label + y * w;
    const T* above = row - w;
    for (index_t x0 = 0; x0 < w; x0 += kBlock) {
      const index_t x1 = std::min(w, x0 + kBlock);
      if (x1 - x0 == kBlock) {  // a branch-free (vectorised) block test: boundaries are rare
        T differ = 0;
        for (index_t i = 0; i < kBlock; ++i) differ |= static_cast<T>(row[x0 + i] ^ above[x0 + i]);
        if (differ == 0) continue;
      }
      for (index_t x = x0; x < x1; ++x) {
        if (row[x] != above[x]) {
          changes.push_back(x);
          changes.push_back(y);
          ++column_starts[static_cast<std::size_t>(x) + 1];
        }
      }
    }
  }
  std::partial_sum(column_starts.begin(), column_starts.end(), column_starts.begin());
  std::vector<index_t> ys(changes.size() / 2);
  {
    std::vector<index_t> next(column_starts.begin(), column_starts.end() - 1);
    for (std::size_t k = 0; k < changes.size(); k += 2)
      ys[static_cast<std::size_t>(next[static_cast<std::size_t>(changes[k])]++)] = changes[k + 1];
  }
  T current = label[0];
  index_t start = 0;
  for (index_t x = 0; x < w; ++x) {
    const index_t base = x * h;
    if (x > 0 && label[x] != current) {  // the top pixel differs from the previous column's last
      close(current, start, base);
      current = label[x];
      start = base;
    }
    for (index_t k = column_starts[static_cast<std::size_t>(x)];
         k < column_starts[static_cast<std::size_t>(x) + 1]; ++k) {
      const index_t y = ys[static_cast<std::size_t>(k)];
      close(current, start, base + y);
      current = label[y * w + x];
      start = base + y;
    }
  }
  close(current, start, n);
  std::vector<std::size_t> order(found.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return found[a].id < found[b].id; });
  ids.reserve(found.size());
  counts.reserve(found.size());
  for (std::size_t k : order) {
    Id& id = found[k];
    // pycocotools ends the counts on the last run, background or not
    if (id.last_end < n) id.counts.push_back(static_cast<rle::count_t>(n - id.last_end));
    ids.push_back(id.id);
    counts.push_back(std::move(id.counts));
  }
}

#define MASKPREP_ENCODE_LABELS(T)                                                          \
  template void encode_labels<T>(const T*, index_t, index_t, const std::int64_t*, index_t, \
                                 std::vector<T>&, std::vector<rle::Counts>&);
MASKPREP_ENCODE_LABELS(std::uint8_t)
MASKPREP_ENCODE_LABELS(std::int8_t)
MASKPREP_ENCODE_LABELS(std::uint16_t)
MASKPREP_ENCODE_LABELS(std::int16_t)
MASKPREP_ENCODE_LABELS(std::uint32_t)
MASKPREP_ENCODE_LABELS(std::int32_t)
MASKPREP_ENCODE_LABELS(std::uint64_t)
MASKPREP_ENCODE_LABELS(std::int64_t)
#undef MASKPREP_ENCODE_LABELS

}  // namespace maskprep::label_image
