// The one parallel loop every kernel uses (private to cpp/src).
//
// parallel_for is the only place that touches OpenMP. It runs serially when OpenMP is off, when
// one thread is asked for, or when there is too little work; and it carries the first exception
// thrown by any iteration out of the parallel region (no exception may escape an OpenMP region).
#pragma once

#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

#include "maskprep/common.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep {

// Calls f(i) for i in [0, n), on up to num_threads threads. Dynamic scheduling in chunks of
// `chunk` iterations (objects differ wildly in cost: a 4-point polygon vs. a 4,000-run mask).
// The first exception thrown by any f(i) is rethrown after the loop; later iterations still run
// but their exceptions are dropped.
template <typename F>
void parallel_for(index_t n, int num_threads, F&& f, index_t chunk = 1) {
  if (n <= 0) return;
  if (num_threads < 1) num_threads = 1;
  if (num_threads > n) num_threads = static_cast<int>(n);
#if defined(MASKPREP_HAVE_OPENMP)
  if (num_threads > 1) {
    std::exception_ptr error;
    std::mutex error_mutex;
#pragma omp parallel for num_threads(num_threads) schedule(dynamic, chunk)
    for (index_t i = 0; i < n; ++i) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#else
  (void)chunk;
#endif
  for (index_t i = 0; i < n; ++i) f(i);
}

// parallel_for over the items of a batch that may be invalid: f(i) reports item i by throwing
// IndexedError, or std::invalid_argument (which becomes IndexedError(i, ": " + what)). The error
// of the lowest index is rethrown after the loop, so the message does not depend on the thread
// count. Other exceptions (std::bad_alloc) pass through as in parallel_for.
template <typename F>
void parallel_for_items(index_t n, int num_threads, F&& f, index_t chunk = 1) {
  index_t first = n;
  std::exception_ptr error;
  std::mutex error_mutex;
  auto record = [&](index_t i, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (i < first) first = i, error = std::move(e);
  };
  parallel_for(
      n, num_threads,
      [&](index_t i) {
        try {
          f(i);
        } catch (const IndexedError&) {
          record(i, std::current_exception());
        } catch (const std::invalid_argument& e) {
          record(i, std::make_exception_ptr(IndexedError(i, std::string(": ") + e.what())));
        }
      },
      chunk);
  if (error) std::rethrow_exception(error);
}

// Minimum work per thread, in bytes streamed (encode/decode scan at several GB/s): waking an
// OpenMP worker costs tens of microseconds on an idle machine and milliseconds on a busy one, so
// a thread must get a fraction of a millisecond of work to pay for itself.
constexpr index_t kMinBytesPerThread = index_t{1} << 21;

// Threads worth using for `work` units when one thread should get at least `min_work_per_thread`
// of them: small inputs run on one thread (thread start-up costs more than they do).
inline int threads_for_work(int num_threads, index_t work, index_t min_work_per_thread) {
  if (min_work_per_thread <= 0) return num_threads;
  index_t useful = work / min_work_per_thread;
  if (useful < 1) useful = 1;
  return useful < num_threads ? static_cast<int>(useful) : num_threads;
}

}  // namespace maskprep
