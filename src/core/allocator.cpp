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
  // Blocks of 1 MiB and more get a mapping of their own, returned to the kernel when freed. They
  // are the image-sized ones: libjpeg's coefficient arrays for a progressive 13 MP JPEG (6-24 MB
  // each), upload bodies, data-URL answers, originals. Carved from the one heap (the 32 MiB
  // threshold chosen before, issue 18), they left holes that the hot cache's long-lived values
  // then landed in, so the next large block extended the heap: RssAnon grew in steps under
  // steady load while the bytes in use stayed flat (heaptrack: 90-100 MB median, 262 MB peak,
  // RssAnon 370 MB). The price is a fresh page fault per page of such a block: in the soak
  // side by side with the old setting, 263 against 0.7 faults and 12.1 against 11.3 ms of CPU a
  // request, for RssAnon 188 -> 195 MB against 310 -> 330 MB. A fixed value also stops glibc's
  // dynamic threshold from moving.
  set_unless_given("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, 1 << 20);
  // free() itself trims the top of the heap only above this much, so that a network thread never
  // pays for giving memory back: the heap trimmer (core/heap_trimmer.hpp) does, off the network
  // threads, once the heap keeps more than --heap-trim-above-mb resident without using it, and
  // also for the free chunks below the top that free() never returns.
  set_unless_given("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace imagecpp
