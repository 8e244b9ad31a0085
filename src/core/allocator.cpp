#include "core/allocator.hpp"

#include <malloc.h>

#include <cstdlib>

namespace imagecpp {
namespace {

void set_unless_given(const char* env, int param, int value) noexcept {
  // Called first thing in main, before any thread exists.
  if (std::getenv(env) == nullptr) mallopt(param, value);  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace

void tune_allocator() noexcept {
  // Per-thread arenas (up to 8 per core) each keep the peak of whatever image their thread last
  // decoded; one arena keeps one working set, shared by every thread.
  set_unless_given("MALLOC_ARENA_MAX", M_ARENA_MAX, 1);
  // A fixed threshold at glibc's maximum (32 MiB) stops the dynamic one from moving and keeps
  // decoder buffers on the heap, where the next image reuses them: in this VM a fresh page
  // costs a fault of several microseconds, and a 13 MP decode touches tens of thousands.
  set_unless_given("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, 32 << 20);
  // Free memory at the top of the heap is kept up to this much rather than trimmed and faulted
  // back in under the next burst.
  set_unless_given("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace imagecpp
