#pragma once
// glibc malloc settings chosen on measurement (bench/soak.sh; figures in the README's "Limits and
// security"): one arena, and image-sized blocks kept for reuse instead of being returned to the
// kernel and faulted in again on the next image.

namespace imagecpp {

// Call first in main, before any thread starts. A setting the operator gave through glibc's own
// environment variables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) wins.
void tune_allocator() noexcept;

}  // namespace imagecpp
