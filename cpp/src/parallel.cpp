// Thread budget, OpenMP and SIMD detection (see parallel.hpp).
#include "maskprep/parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <thread>

#if defined(MASKPREP_HAVE_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace maskprep {
namespace {

// The thread count an environment variable asks for: its first comma-separated value
// (OMP_NUM_THREADS may give one per nesting level, "4,2"); 0 when unset or not in [1, 65536].
int env_threads(const char* name) {
  const char* env = std::getenv(name);
  if (env == nullptr) return 0;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  const bool valid = end != env && (*end == '\0' || *end == ',') && v >= 1 && v <= 1 << 16;
  return valid ? static_cast<int>(v) : 0;
}

// MASKPREP_NUM_THREADS, else OMP_NUM_THREADS: engines set it to the CPUs they give a worker (Ray)
// or to 1 (Dask's nanny), so that N workers on a node do not each start a thread per core.
int initial_budget() {
  for (const char* name : {"MASKPREP_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const int n = env_threads(name)) return n;
  }
  return available_cores();
}

std::atomic<int>& budget() {
  static std::atomic<int> value{initial_budget()};
  return value;
}

}  // namespace

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int thread_budget() { return budget().load(std::memory_order_relaxed); }

void set_thread_budget(int n) {
  MASKPREP_CHECK(n >= 1, "num_threads must be a positive integer or -1 (all cores), got ", n);
  budget().store(n, std::memory_order_relaxed);
}

int resolve_num_threads(int requested) {
  if (requested == -1) return available_cores();
  MASKPREP_CHECK(requested >= 1,
                 "num_threads must be None, -1 (all cores) or a positive integer, got ", requested);
  return requested;
}

bool has_openmp() {
#if defined(MASKPREP_HAVE_OPENMP)
  return true;
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // The AVX2 level includes BMI1/2 and POPCNT (every AVX2 CPU has them): its versions use them.
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
                           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  return avx2;
#else
  return false;
#endif
}

std::string simd_level() {
#if defined(__x86_64__)
  return cpu_has_avx2() ? "avx2" : "sse2";
#elif defined(__aarch64__)
  return "neon";
#else
  return "scalar";
#endif
}

}  // namespace maskprep
