#pragma once
// glibc malloc settings chosen on measurement (bench/soak.sh; figures in the README's "Limits and
// security"): one arena, so that threads share one heap of small blocks, and image-sized blocks
// mapped on their own and returned when freed, so that what the heap keeps cannot creep up with
// the order in which large and long-lived blocks happen to be allocated (issue 18).

namespace imagecpp {

// Call first in main, before any thread starts. A setting the operator gave through glibc's own
// environment variables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) wins.
void tune_allocator() noexcept;

}  // namespace imagecpp
