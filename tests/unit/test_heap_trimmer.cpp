#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <optional>
#include <vector>

#include "core/heap_trimmer.hpp"
#include "metrics/process_memory.hpp"

namespace {

using imagecpp::HeapTrimmer;
using imagecpp::HeapTrimSettings;

constexpr std::uint64_t kMiB = 1 << 20;
const HeapTrimSettings kByHand{.interval = std::chrono::milliseconds(0), .above_bytes = 8 * kMiB};

// A heap whose unused resident memory the test sets; a trim releases all but `floor` of it.
struct FakeHeap {
  std::optional<std::uint64_t> unused = 0;
  std::uint64_t floor = 0;
  int trims = 0;

  HeapTrimmer trimmer(const HeapTrimSettings& settings) {
    return HeapTrimmer(
        settings, [this] { return unused; },
        [this] {
          ++trims;
          if (unused) unused = std::min(*unused, floor);
        });
  }
};

TEST(HeapTrimmer, TrimsOnlyAboveTheBound) {
  FakeHeap heap;
  auto trimmer = heap.trimmer(kByHand);
  heap.unused = 8 * kMiB;  // at the bound: kept
  EXPECT_FALSE(trimmer.check());
  EXPECT_EQ(heap.trims, 0);
  heap.unused = 8 * kMiB + 1;
  EXPECT_TRUE(trimmer.check());
  EXPECT_EQ(heap.trims, 1);
  EXPECT_EQ(trimmer.stats().trims.load(), 1U);
  EXPECT_EQ(trimmer.stats().released_bytes.load(), 8 * kMiB + 1);
  // Released: nothing more to do until the heap keeps more again.
  EXPECT_FALSE(trimmer.check());
  EXPECT_EQ(heap.trims, 1);
}

TEST(HeapTrimmer, CountsWhatEachTrimReleasedAndHowLongItTook) {
  FakeHeap heap;
  heap.floor = 3 * kMiB;  // stacks and small free chunks: not releasable
  auto trimmer = heap.trimmer(kByHand);
  heap.unused = 20 * kMiB;
  EXPECT_TRUE(trimmer.check());
  heap.unused = 13 * kMiB;
  EXPECT_TRUE(trimmer.check());
  EXPECT_EQ(trimmer.stats().trims.load(), 2U);
  EXPECT_EQ(trimmer.stats().released_bytes.load(), (17 + 10) * kMiB);
  EXPECT_GE(trimmer.stats().trim_ns.load(), trimmer.stats().longest_trim_ns.load());
}

TEST(HeapTrimmer, AnUnreadableHeapIsNeverTrimmed) {
  FakeHeap heap;
  heap.unused = std::nullopt;
  auto trimmer =
      heap.trimmer(HeapTrimSettings{.interval = std::chrono::milliseconds(0), .above_bytes = 0});
  EXPECT_FALSE(trimmer.check());
  EXPECT_EQ(heap.trims, 0);
  EXPECT_EQ(trimmer.stats().trims.load(), 0U);
}

TEST(HeapTrimmer, ItsThreadChecksOncePerInterval) {
  constexpr auto kInterval = std::chrono::milliseconds(20);
  std::latch four_checks(4);
  std::vector<std::chrono::steady_clock::time_point> checks;  // written by the thread only
  {
    HeapTrimmer trimmer(
        HeapTrimSettings{.interval = kInterval, .above_bytes = 0},
        [&]() -> std::optional<std::uint64_t> {
          if (checks.size() < 4) {
            checks.push_back(std::chrono::steady_clock::now());
            four_checks.count_down();
          }
          return std::nullopt;
        },
        [] {});
    four_checks.wait();  // no time limit here: ctest's timeout catches a thread that never runs
  }                      // joined: the thread's writes are visible
  ASSERT_EQ(checks.size(), 4U);
  // A wait of a whole interval between checks, never a busy loop (a lower bound: a loaded
  // machine only makes the gaps longer).
  for (std::size_t i = 1; i < checks.size(); ++i) {
    EXPECT_GE(checks[i] - checks[i - 1], kInterval) << "check " << i;
  }
}

TEST(HeapTrimmer, StopsAtOnceWhateverTheInterval) {
  std::atomic<int> checks{0};
  {
    HeapTrimmer trimmer(
        HeapTrimSettings{.interval = std::chrono::hours(1), .above_bytes = 0},
        [&]() -> std::optional<std::uint64_t> {
          ++checks;
          return 1;
        },
        [] {});
  }  // a destructor that waited for the interval would hang here until ctest's timeout
  EXPECT_EQ(checks.load(), 0);
}

TEST(HeapTrimmer, NoIntervalNoThread) {
  FakeHeap heap;
  heap.unused = 100 * kMiB;
  { auto trimmer = heap.trimmer(kByHand); }
  EXPECT_EQ(heap.trims, 0);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// glibc's own heap (sanitizers replace it): free chunks below a block in use stay resident,
// and malloc_trim(0) gives their pages back; the probe sees both.
TEST(HeapTrimmer, ReleasesFreePagesPinnedBelowBlocksInUse) {
  constexpr std::size_t kBlock = 64 << 10;  // below glibc's smallest mmap threshold (128 KiB)
  constexpr std::size_t kBlocks = 1024;     // 64 MiB
  const auto start = imagecpp::metrics::resident_unused_heap();
  ASSERT_TRUE(start);
  std::vector<std::unique_ptr<char[]>> blocks;
  blocks.reserve(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(std::make_unique<char[]>(kBlock));  // zeroed: every page touched
  }
  // Free 7 blocks of 8: each run of 448 KiB stays pinned by the block above it.
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % 8 != 7) blocks[i].reset();
  }
  constexpr std::uint64_t kFreed = kBlocks / 8 * 7 * kBlock;  // 56 MiB
  const auto held = imagecpp::metrics::resident_unused_heap();
  ASSERT_TRUE(held);
  EXPECT_GE(*held, *start + kFreed - 8 * kMiB) << "free chunks were not resident";

  HeapTrimmer trimmer(
      HeapTrimSettings{.interval = std::chrono::milliseconds(0), .above_bytes = kFreed / 2},
      imagecpp::metrics::resident_unused_heap);
  EXPECT_TRUE(trimmer.check());
  const auto after = imagecpp::metrics::resident_unused_heap();
  ASSERT_TRUE(after);
  // Each run loses at most a page at either end to chunk headers: nearly all of it goes back.
  EXPECT_LE(*after + kFreed - 8 * kMiB, *held);
  EXPECT_GE(trimmer.stats().released_bytes.load(), kFreed - 8 * kMiB);
  EXPECT_FALSE(trimmer.check()) << "nothing left above the bound";
}
#endif

}  // namespace
