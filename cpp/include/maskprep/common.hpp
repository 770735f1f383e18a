// Shared basics for every kernel: the index type, argument checks, checked size arithmetic, and
// the error convention.
//
// Kernels are plain C++17 and never see a Python object. They report bad input by throwing
// std::invalid_argument (ValueError in Python) or std::out_of_range (IndexError); the bindings
// translate. Every count, size and offset is 64-bit so that images above 2^32 pixels work.
//
// Size limits: every product or sum of sizes (h*w, n*h*w, kh*kw, sampling grids, allocations)
// goes through checked_size / checked_add below, so a size that does not fit in int64 raises
// std::invalid_argument naming the sizes instead of wrapping; a buffer must also fit in
// PTRDIFF_MAX bytes (checked_bytes) before it is allocated.
//
// Concurrency: kernels copy the small control data they index with (boxes, counts, seeds,
// structuring elements) before validating it, or read each value once where it is used, so a
// caller mutating it during a call cannot cause an out-of-bounds access. Large data (masks,
// features) is read in place: mutating it during a call gives unspecified output values, never
// an out-of-bounds access (no index is ever read from it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace maskprep {

using index_t = std::int64_t;  // sizes, counts, offsets: always 64-bit
using byte_t = std::uint8_t;

// An error about item `index` of a batch (a segmentation, an RLE): the kernel knows the position,
// the caller knows the batch's name. `message` continues that name as written ("segmentations[3]"
// + " polygon 1 must have ..." or + ": counts sum to ..."), so the bindings can prefix it and hand
// the index to Python as data instead of text to parse back. what() is "[index]" + message.
class IndexedError : public std::invalid_argument {
 public:
  IndexedError(index_t index, const std::string& message)
      : std::invalid_argument("[" + std::to_string(index) + "]" + message),
        index_(index),
        message_(message) {}
  index_t index() const { return index_; }
  const std::string& message() const { return message_; }

 private:
  index_t index_;
  std::string message_;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Per-thread scratch of type T, one per Tag (give every use its own tag type so that two uses
// never share a buffer). Reached through an out-of-line call on purpose: GCC re-derives a
// thread_local's address (a __tls_get_addr call) at every use inside inlined loops, while a
// reference returned from an opaque call stays in a register.
template <typename T, typename Tag>
[[gnu::noinline]] T& thread_scratch() {
  thread_local T scratch;
  return scratch;
}

// a * b for a, b >= 0 into *out; true when the product does not fit in int64.
inline bool mul_overflows(index_t a, index_t b, index_t* out) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_mul_overflow(a, b, out);
#else
  if (a != 0 && b > std::numeric_limits<index_t>::max() / a) return true;
  *out = a * b;
  return false;
#endif
}

// The product of sizes (each must be >= 0); throws std::invalid_argument naming `what` and the
// factors when one is negative or the product does not fit in int64 ("h*w = 1099511627776 x
// 1099511627776 does not fit in 64 bits"). Called once per call or object, never per pixel.
template <typename... S>
index_t checked_size(const char* what, S... sizes) {
  const index_t v[] = {static_cast<index_t>(sizes)...};
  index_t p = 1;
  bool negative = false, overflow = false;
  for (index_t s : v) {
    negative = negative || s < 0;
    overflow = overflow || (!negative && mul_overflows(p, s, &p));
  }
  if (!negative && !overflow) return p;
  std::ostringstream os;
  os << what << " = ";
  for (size_t i = 0; i < sizeof...(S); ++i) os << (i ? " x " : "") << v[i];
  os << (negative ? ": sizes must be non-negative" : " does not fit in 64 bits");
  throw std::invalid_argument(os.str());
}

// a + b for sizes a, b >= 0, checked like checked_size.
inline index_t checked_add(const char* what, index_t a, index_t b) {
  if (a < 0 || b < 0 || b > std::numeric_limits<index_t>::max() - a)
    throw std::invalid_argument(concat(what, " = ", a, " + ", b, " does not fit in 64 bits"));
  return a + b;
}

// n elements of elem_bytes each: throws std::invalid_argument naming `what` unless the buffer
// could exist (n * elem_bytes <= PTRDIFF_MAX). Returns n.
inline index_t checked_bytes(const char* what, index_t n, std::size_t elem_bytes) {
  const index_t bytes = checked_size(what, n, static_cast<index_t>(elem_bytes));
  if (bytes > static_cast<index_t>(std::numeric_limits<std::ptrdiff_t>::max()))
    throw std::invalid_argument(
        concat(what, " needs ", bytes, " bytes, more than can be allocated"));
  return n;
}

// a * b for work estimates (thread counts): saturates instead of overflowing.
inline index_t saturating_mul(index_t a, index_t b) {
  index_t p = 0;
  return mul_overflows(a, b, &p) ? std::numeric_limits<index_t>::max() : p;
}

}  // namespace detail

}  // namespace maskprep

// MASKPREP_CHECK(cond, msg...) throws std::invalid_argument with the streamed message when cond
// is false. Use it before any parallel region; inside one, see parallel_for.
#define MASKPREP_CHECK(cond, ...)                                                      \
  do {                                                                                 \
    if (!(cond)) throw std::invalid_argument(::maskprep::detail::concat(__VA_ARGS__)); \
  } while (0)
