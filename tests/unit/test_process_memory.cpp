#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "metrics/process_memory.hpp"

namespace metrics = imagecpp::metrics;

namespace {

// As Linux 6.1 writes it (fields around the ones read, tabs and padding included).
constexpr const char* kStatus =
    "Name:\timagecpp\n"
    "VmPeak:\t 7712340 kB\n"
    "VmRSS:\t 7564120 kB\n"
    "RssAnon:\t  340992 kB\n"
    "RssFile:\t 7223000 kB\n"
    "RssShmem:\t     128 kB\n"
    "Threads:\t9\n";

}  // namespace

TEST(ProcStatus, ReadsAnonFileAndShmemInBytes) {
  const auto memory = metrics::parse_proc_status(kStatus);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->anon_bytes, 340992ULL * 1024);
  EXPECT_EQ(memory->file_bytes, 7223000ULL * 1024);
  EXPECT_EQ(memory->shmem_bytes, 128ULL * 1024);
}

TEST(ProcStatus, WithoutTheSplitFieldsThereIsNoFigure) {
  // Kernels before 4.5 give VmRSS only: no false zero for the anonymous part.
  EXPECT_FALSE(metrics::parse_proc_status("Name:\tx\nVmRSS:\t 1000 kB\n"));
  EXPECT_FALSE(metrics::parse_proc_status("RssAnon:\t 1000 kB\n"));
  EXPECT_FALSE(metrics::parse_proc_status(""));
}

TEST(ProcStatus, AMalformedValueIsNoFigure) {
  EXPECT_FALSE(metrics::parse_proc_status("RssAnon:\t 12x kB\nRssFile:\t 1 kB\n"));
  EXPECT_FALSE(metrics::parse_proc_status("RssAnon:\t 12 MB\nRssFile:\t 1 kB\n"));
  EXPECT_FALSE(metrics::parse_proc_status("RssAnon:\t\nRssFile:\t 1 kB\n"));
  EXPECT_FALSE(metrics::parse_proc_status("RssAnon:\t -1 kB\nRssFile:\t 1 kB\n"));
}

TEST(ProcStatus, ALastLineWithoutNewlineCounts) {
  const auto memory = metrics::parse_proc_status("RssAnon:\t 1 kB\nRssFile:\t 2 kB");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->file_bytes, 2048U);
}

// An anonymous mapping the test touches page by page: the kernel counts it in RssAnon whatever
// malloc is in use (sanitizers replace it).
TEST(ResidentMemory, TouchedAnonymousPagesRaiseRssAnon) {
  constexpr std::size_t kBytes = 64 << 20;
  const auto before = metrics::read_resident_memory();
  ASSERT_TRUE(before);
  void* map = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  std::memset(map, 1, kBytes);
  const auto touched = metrics::read_resident_memory();
  munmap(map, kBytes);
  const auto after = metrics::read_resident_memory();
  ASSERT_TRUE(touched);
  ASSERT_TRUE(after);
  // Other threads of the test binary may allocate meanwhile: margins of 8 MB both ways.
  EXPECT_GE(touched->anon_bytes, before->anon_bytes + kBytes - (8 << 20));
  EXPECT_LE(after->anon_bytes + kBytes - (8 << 20), touched->anon_bytes);
  EXPECT_GT(touched->file_bytes, 0U);  // the test binary's own pages at least
}

TEST(HeapMemory, InUseCountsArenaChunksAndMmappedBlocks) {
  struct mallinfo2 info {};
  info.arena = 300 << 20;     // obtained for the arenas
  info.uordblks = 120 << 20;  // of which handed out
  info.hblkhd = 40 << 20;     // mmapped blocks, each in use
  const auto heap = metrics::heap_memory_from(info);
  EXPECT_EQ(heap.in_use_bytes, (120U + 40U) << 20);
  EXPECT_EQ(heap.retained_bytes, 180U << 20);
}

TEST(HeapMemory, RetainedIsNeverNegative) {
  struct mallinfo2 info {};
  info.arena = 1 << 20;
  info.uordblks = 2 << 20;  // inconsistent snapshot: no wrap-around to 2^64
  const auto heap = metrics::heap_memory_from(info);
  EXPECT_EQ(heap.retained_bytes, 0U);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Only with glibc's malloc: a sanitizer's allocator is not what mallinfo2 describes.
TEST(HeapMemory, ABlockInUseIsCountedUntilFreed) {
  constexpr std::size_t kBytes = 48 << 20;  // above the mmap threshold: its own mapping
  const auto before = metrics::read_heap_memory();
  auto* block = static_cast<char*>(std::malloc(kBytes));  // NOLINT(cppcoreguidelines-no-malloc)
  ASSERT_NE(block, nullptr);
  const auto held = metrics::read_heap_memory();
  std::free(block);  // NOLINT(cppcoreguidelines-no-malloc)
  const auto after = metrics::read_heap_memory();
  EXPECT_GE(held.in_use_bytes, before.in_use_bytes + kBytes - (8 << 20));
  EXPECT_LE(after.in_use_bytes + kBytes - (8 << 20), held.in_use_bytes);
}
#endif
