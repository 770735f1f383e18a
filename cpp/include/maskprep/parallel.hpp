// Threading: the process-wide thread budget, the CPU's features.
//
// The budget is a process-wide atomic (not thread-local) so that set_num_threads() in one Python
// thread governs kernels called from any other. Kernels receive an explicit positive thread count
// (resolved by the bindings from num_threads=None/-1/n) and never read the budget themselves.
// The one parallel loop of the kernels is private to cpp/src (parallel_for.hpp).
#pragma once

#include <string>

#include "maskprep/common.hpp"

namespace maskprep {

// Number of processors this process may run on (sched affinity aware), at least 1.
int available_cores();

// Process-wide default thread count: MASKPREP_NUM_THREADS if set and valid, else OMP_NUM_THREADS
// (its first value) if set and valid, else available_cores().
int thread_budget();
// Sets the budget; n must be >= 1.
// Throws: std::invalid_argument for n < 1.
void set_thread_budget(int n);

// Turns a user request into a thread count: requested > 0 -> requested; -1 -> all cores;
// anything else -> std::invalid_argument. (None -> budget is handled by the caller passing
// thread_budget().)
int resolve_num_threads(int requested);

bool has_openmp();
// The SIMD level the byte-scanning kernels dispatch to at run time ("avx2", "sse2", "neon",
// "scalar").
std::string simd_level();
bool cpu_has_avx2();

}  // namespace maskprep
