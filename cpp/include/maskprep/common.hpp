// Shared basics for every kernel: the index type, argument checks, and the error convention.
//
// Kernels are plain C++17 and never see a Python object. They report bad input by throwing
// std::invalid_argument (ValueError in Python) or std::out_of_range (IndexError); the bindings
// translate. Every count, size and offset is 64-bit so that images above 2^32 pixels work.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace maskprep {

using index_t = std::int64_t;  // sizes, counts, offsets: always 64-bit
using byte_t = std::uint8_t;

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

}  // namespace detail

}  // namespace maskprep

// MASKPREP_CHECK(cond, msg...) throws std::invalid_argument with the streamed message when cond
// is false. Use it before any parallel region; inside one, see parallel_for.
#define MASKPREP_CHECK(cond, ...)                                             \
  do {                                                                        \
    if (!(cond)) throw std::invalid_argument(::maskprep::detail::concat(__VA_ARGS__)); \
  } while (0)
