#pragma once
// What the process holds in memory, split the way an operator needs it: RssAnon is the service's
// own memory (heap, stacks, libvips' buffers), RssFile is mostly the pages of the LMDB map, which
// the kernel drops under pressure; the heap figures say how much of RssAnon the program uses and
// how much glibc keeps for reuse (fragmentation and the trim threshold).
#include <malloc.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace imagecpp::metrics {

struct ResidentMemory {
  std::uint64_t anon_bytes = 0;
  std::uint64_t file_bytes = 0;
  std::uint64_t shmem_bytes = 0;
};

// Parses the text of /proc/<pid>/status (kB values). nullopt when RssAnon or RssFile is missing
// (a kernel before 4.5, or not Linux): a dashboard must see no value rather than a false zero.
std::optional<ResidentMemory> parse_proc_status(std::string_view status);

// This process's resident memory, from /proc/self/status; nullopt if it cannot be read.
std::optional<ResidentMemory> read_resident_memory();

struct HeapMemory {
  std::uint64_t in_use_bytes = 0;    // handed out by malloc and not freed yet (mmapped included)
  std::uint64_t retained_bytes = 0;  // obtained from the kernel, free, kept by malloc for reuse
};

// glibc's malloc, all arenas (mallinfo2). Memory malloc holds but the kernel may have reclaimed
// (MADV_DONTNEED'd free chunks) still counts as retained here: RssAnon is the resident truth.
HeapMemory read_heap_memory() noexcept;

// The same figures from one mallinfo2 snapshot.
HeapMemory heap_memory_from(const struct mallinfo2& info) noexcept;

// Resident memory the heap keeps without using it: RssAnon less the heap's bytes in use (plus
// the threads' stacks and the little else that is not malloc's). What the heap trimmer
// (core/heap_trimmer.hpp) bounds; nullopt when /proc cannot be read.
std::optional<std::uint64_t> resident_unused_heap();

}  // namespace imagecpp::metrics
