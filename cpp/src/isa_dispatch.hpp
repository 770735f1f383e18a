// Run-time ISA dispatch for the auto-vectorised image kernels (private to cpp/src).
//
// The package is built for baseline x86-64 (SSE2). Byte loops with stride-3 pixels, table
// gathers and 32-byte row ops vectorise much better with AVX2, so hot loops are written once as
// an always-inline body and instantiated twice: MASKPREP_AVX2_CLONE(name, body-call) defines
// name_avx2 compiled for AVX2; callers pick it when cpu_has_avx2().
#pragma once

#include "maskprep/parallel.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MASKPREP_HAVE_AVX2_CLONES 1
#define MASKPREP_ALWAYS_INLINE inline __attribute__((always_inline))
#define MASKPREP_TARGET_AVX2_FN __attribute__((target("avx2")))
#else
#define MASKPREP_HAVE_AVX2_CLONES 0
#define MASKPREP_ALWAYS_INLINE inline
#define MASKPREP_TARGET_AVX2_FN
#endif

namespace maskprep::detail {

// Calls avx2() when the CPU has AVX2 and the clones were compiled, else generic().
template <typename A, typename G>
void dispatch_avx2(A&& avx2, G&& generic) {
#if MASKPREP_HAVE_AVX2_CLONES
  static const bool has = cpu_has_avx2();
  if (has) {
    avx2();
    return;
  }
#else
  (void)avx2;
#endif
  generic();
}

}  // namespace maskprep::detail
