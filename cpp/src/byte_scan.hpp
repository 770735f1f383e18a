// Byte scanning shared by the RLE encoder, the region kernels (components, contours) and the
// JSON scanner (coco_json.cpp); private to cpp/src.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "maskprep/common.hpp"

namespace maskprep::detail {

// Index of the first byte at or after x whose "nonzero" state is kNonzero, or w.
// Word-at-a-time: a run of 8 equal-state bytes costs one load (masks are mostly long runs).
template <bool kNonzero>
inline index_t find_next(const byte_t* row, index_t x, index_t w) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  for (; x + 8 <= w; x += 8) {
    std::uint64_t v;
    std::memcpy(&v, row + x, 8);
    // The lowest set bit lies in the first matching byte: for kNonzero trivially; for zero bytes
    // the has-zero-byte test below is exact for the lowest one (false hits only above it).
    const std::uint64_t hit = kNonzero ? v : ((v - kOnes) & ~v & kHigh);
    if (hit) return x + (__builtin_ctzll(hit) >> 3);
  }
#endif
  while (x < w && ((row[x] != 0) != kNonzero)) ++x;
  return x;
}

// Index of the last nonzero byte of row[0, w), or -1.
inline index_t find_last_nonzero(const byte_t* row, index_t w) {
  index_t x = w;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; x >= 8; x -= 8) {
    std::uint64_t v;
    std::memcpy(&v, row + x - 8, 8);
    if (v) return x - 8 + ((63 - __builtin_clzll(v)) >> 3);
  }
#endif
  while (x > 0 && row[x - 1] == 0) --x;
  return x - 1;
}

// Whether row[0, w) has a nonzero byte; a plain OR reduction the compiler vectorises.
inline bool any_nonzero(const byte_t* row, index_t w) {
  byte_t acc = 0;
  for (index_t x = 0; x < w; ++x) acc |= row[x];
  return acc != 0;
}

// Index of the first byte of text[p, n) that is not an ASCII digit, or n. JSON numbers are short
// runs of digits of varying length: comparing 16 bytes at once and taking the first flagged one
// replaces a loop whose exit the branch predictor misses at nearly every number.
inline index_t find_non_digit(const char* text, index_t p, index_t n) {
#if defined(__SSE2__)
  if (p + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + p));
    // As signed bytes, everything but '0'..'9' is below '0' or above '9' (non-ASCII: negative).
    const __m128i other =
        _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')), _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));
    const int mask = _mm_movemask_epi8(other);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;  // 16 digits or more: rare, finished below
  }
#endif
  while (p < n && text[p] >= '0' && text[p] <= '9') ++p;
  return p;
}

// Index of the first byte of text[p, n) that ends or needs care inside a JSON string ('"', '\\',
// a control character below 0x20, a non-ASCII byte), or n. Word-at-a-time like find_next: the
// compressed RLE counts that fill COCO files are long runs of plain ASCII. Each test below is
// exact for its lowest flagged byte (borrows only run upwards from a true hit), so the lowest
// bit of their union is the first special byte.
inline index_t find_string_special(const char* text, index_t p, index_t n) {
#if defined(__SSE2__)
  // 16 bytes at a time first (the scanner's hottest loop on files of compressed counts). As
  // signed bytes, control characters and non-ASCII bytes are exactly those below 0x20.
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                space = _mm_set1_epi8(0x20);
  for (; p + 16 <= n; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + p));
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmplt_epi8(v, space));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
  }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  for (; p + 8 <= n; p += 8) {
    std::uint64_t v;
    std::memcpy(&v, text + p, 8);
    const std::uint64_t q = v ^ (kOnes * '"'), b = v ^ (kOnes * '\\');
    const std::uint64_t hit =
        (((q - kOnes) & ~q) | ((b - kOnes) & ~b) | ((v - kOnes * 0x20) & ~v) | v) & kHigh;
    if (hit) return p + (__builtin_ctzll(hit) >> 3);
  }
#endif
  for (; p < n; ++p) {
    const unsigned char c = static_cast<unsigned char>(text[p]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
  }
  return p;
}

}  // namespace maskprep::detail
