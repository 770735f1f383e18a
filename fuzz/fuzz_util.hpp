// Shared helpers for the libFuzzer harnesses (fuzz/*.cpp, built by scripts/fuzz.sh).
//
// Every harness feeds one kernel entry point and then checks what it returned ("garbage
// acceptance"): an input the kernel accepts must give a self-consistent result (an RLE that sums
// to h*w, a mask equal to a naive reference, ...), else FUZZ_ASSERT traps so libFuzzer records
// the input as a crash. std::invalid_argument / std::out_of_range / std::bad_alloc are the
// kernels' documented ways of refusing input and are not findings.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <vector>

#include "maskprep/rle.hpp"

#define FUZZ_ASSERT(cond)                                                                  \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_ASSERT failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                                    \
    }                                                                                      \
  } while (0)

namespace fuzz {

using maskprep::index_t;
using maskprep::rle::count_t;
using maskprep::rle::Counts;

// Runs f; returns false when it refused the input the documented way.
template <typename F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const std::invalid_argument&) {
  } catch (const std::out_of_range&) {
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  return false;
}

// The exact sum of counts (128-bit, so it cannot wrap).
inline unsigned __int128 exact_sum(const Counts& c) {
  unsigned __int128 s = 0;
  for (count_t v : c) s += v;
  return s;
}

// A size: usually small, sometimes anything up to 2^63-1 (the overflow checks must refuse it).
inline index_t size(FuzzedDataProvider& in, index_t small_max) {
  const std::uint8_t kind = in.ConsumeIntegral<std::uint8_t>();
  if (kind >= 240) return in.ConsumeIntegralInRange<index_t>(0, INT64_MAX);
  return in.ConsumeIntegralInRange<index_t>(0, small_max);
}

// Dense column-major mask of an RLE that sums to h*w.
inline std::vector<std::uint8_t> dense(const Counts& c, index_t n) {
  std::vector<std::uint8_t> m(static_cast<size_t>(n));
  size_t p = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    for (count_t j = 0; j < c[i]; ++j) m[p++] = static_cast<std::uint8_t>(i & 1);
  }
  FUZZ_ASSERT(p == static_cast<size_t>(n));
  return m;
}

// Random counts that sum to exactly n (zero-length runs included, as COCO files have them).
inline Counts random_counts(FuzzedDataProvider& in, index_t n) {
  Counts c;
  index_t left = n;
  while (left > 0 && in.remaining_bytes() > 0) {
    const index_t r = in.ConsumeIntegralInRange<index_t>(0, left);
    c.push_back(static_cast<count_t>(r));
    left -= r;
  }
  if (left > 0) c.push_back(static_cast<count_t>(left));
  return c;
}

}  // namespace fuzz
