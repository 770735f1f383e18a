// Run-time ISA dispatch, the one mechanism of every kernel (private to cpp/src).
//
// The package is built for baseline x86-64 (SSE2). The AVX2 level also has BMI1/2 and POPCNT
// (one instruction for a bit scan, a lowest-bit clear, a popcount). Byte loops with stride-3
// pixels, table gathers, 32-byte row ops and hand-written intrinsics (RLE byte scanning, RoI
// Align's NHWC accumulation and transpose) run much faster with AVX2, so hot loops get an AVX2
// version, compiled with MASKPREP_TARGET_AVX2_FN (intrinsics from <immintrin.h> only inside
// `#if MASKPREP_HAVE_AVX2_CLONES`), and callers pick it with dispatch_avx2.
#pragma once

#include "maskprep/parallel.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MASKPREP_HAVE_AVX2_CLONES 1
#define MASKPREP_ALWAYS_INLINE inline __attribute__((always_inline))
#define MASKPREP_TARGET_AVX2_FN __attribute__((target("avx2,bmi,bmi2,popcnt")))
#else
#define MASKPREP_HAVE_AVX2_CLONES 0
#define MASKPREP_ALWAYS_INLINE inline
#define MASKPREP_TARGET_AVX2_FN
#endif

namespace maskprep::detail {

// Whether the AVX2 versions were compiled and this CPU runs them (read once).
inline bool use_avx2() {
#if MASKPREP_HAVE_AVX2_CLONES
  static const bool has = cpu_has_avx2();
  return has;
#else
  return false;
#endif
}

// Returns avx2() when use_avx2(), else generic(). Both must return the same type (or void).
template <typename A, typename G>
decltype(auto) dispatch_avx2(A&& avx2, G&& generic) {
#if MASKPREP_HAVE_AVX2_CLONES
  if (use_avx2()) return avx2();
#else
  (void)avx2;
#endif
  return generic();
}

}  // namespace maskprep::detail
