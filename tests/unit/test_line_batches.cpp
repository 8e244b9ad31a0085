// Access lines gathered per thread: every line comes out once, whole, in its thread's order,
// with threads appending and a flusher running at the same moment.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "log/line_batches.hpp"

namespace imagecpp::log {
namespace {

// What the writer was given, chunk by chunk. Chunks of different batches may come at once.
class Sink {
 public:
  LineBatches::Writer writer() {
    return [this](std::string_view text) {
      const std::lock_guard lock(mutex_);
      chunks_.emplace_back(text);
    };
  }
  std::vector<std::string> chunks() const {
    const std::lock_guard lock(mutex_);
    return chunks_;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const std::string& chunk : chunks()) {
      std::istringstream in(chunk);
      for (std::string line; std::getline(in, line);) out.push_back(line);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> chunks_;
};

TEST(LineBatches, KeepsLinesUntilFlushedThenWritesThemInOrder) {
  Sink sink;
  LineBatches batches(1024, sink.writer());
  batches.append("one\n");
  batches.append("two\n");
  EXPECT_TRUE(sink.chunks().empty());
  batches.flush();
  EXPECT_EQ(sink.chunks(), std::vector<std::string>{"one\ntwo\n"});
  batches.flush();  // nothing new: no empty write
  EXPECT_EQ(sink.chunks().size(), 1U);
}

TEST(LineBatches, WritesABatchBeforeItWouldPassItsBound) {
  Sink sink;
  LineBatches batches(20, sink.writer());
  for (int i = 0; i < 10; ++i) batches.append("line " + std::to_string(i) + "\n");  // 7 bytes
  const auto chunks = sink.chunks();
  // Two lines a batch (14 bytes; a third would make 21): lines 0-7 written, 8 and 9 held.
  ASSERT_EQ(chunks.size(), 4U);
  for (const std::string& chunk : chunks) EXPECT_EQ(chunk.size(), 14U);
  batches.flush();
  const auto lines = sink.lines();
  ASSERT_EQ(lines.size(), 10U);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lines[i], "line " + std::to_string(i));
}

TEST(LineBatches, ALineLongerThanTheBoundGoesOutWholeAndAlone) {
  Sink sink;
  LineBatches batches(16, sink.writer());
  batches.append("short\n");
  const std::string long_line = std::string(100, 'x') + "\n";
  batches.append(long_line);
  batches.append("after\n");
  const auto chunks = sink.chunks();
  ASSERT_EQ(chunks.size(), 2U);
  EXPECT_EQ(chunks[0], "short\n");
  EXPECT_EQ(chunks[1], long_line);
  batches.flush();
  EXPECT_EQ(sink.chunks().back(), "after\n");
}

TEST(LineBatches, DestructionWritesWhatIsLeft) {
  Sink sink;
  {
    LineBatches batches(1024, sink.writer());
    batches.append("last words\n");
  }
  EXPECT_EQ(sink.chunks(), std::vector<std::string>{"last words\n"});
}

TEST(LineBatches, LinesOfAThreadThatEndedAreWrittenByTheNextFlush) {
  Sink sink;
  LineBatches batches(1024, sink.writer());
  std::thread([&batches] { batches.append("from a thread gone\n"); }).join();
  EXPECT_TRUE(sink.chunks().empty());
  batches.flush();
  EXPECT_EQ(sink.lines(), std::vector<std::string>{"from a thread gone"});
}

TEST(LineBatches, TwoOwnersOnOneThreadKeepTheirOwnBatches) {
  Sink first_sink;
  Sink second_sink;
  LineBatches first(1024, first_sink.writer());
  {
    LineBatches second(1024, second_sink.writer());
    first.append("a\n");
    second.append("b\n");
  }
  LineBatches third(1024, second_sink.writer());  // a new owner: a fresh batch for this thread
  third.append("c\n");
  first.flush();
  third.flush();
  EXPECT_EQ(first_sink.lines(), std::vector<std::string>{"a"});
  EXPECT_EQ(second_sink.lines(), (std::vector<std::string>{"b", "c"}));
}

// As the service uses it: every network thread appends at once while the periodic flush and the
// main logger flush from other threads.
TEST(LineBatches, ManyThreadsAppendWhileOthersFlush) {
  constexpr int kThreads = 8;
  constexpr int kLines = 5000;
  Sink sink;
  LineBatches batches(512, sink.writer());
  std::atomic<bool> done{false};
  std::vector<std::thread> flushers;
  for (int f = 0; f < 2; ++f) {
    flushers.emplace_back([&] {
      while (!done.load()) {
        batches.flush();
        std::this_thread::yield();
      }
    });
  }
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&batches, t] {
      for (int i = 0; i < kLines; ++i) {
        batches.append("t" + std::to_string(t) + " " + std::to_string(i) + "\n");
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  for (auto& f : flushers) f.join();
  batches.flush();

  for (const std::string& chunk : sink.chunks()) {
    ASSERT_FALSE(chunk.empty());
    EXPECT_EQ(chunk.back(), '\n');  // whole lines only
  }
  std::map<int, int> next;  // thread -> the line expected next from it
  std::size_t count = 0;
  for (const std::string& line : sink.lines()) {
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "t%d %d", &t, &i), 2) << line;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[t]) << "thread " << t << " out of order or lost a line";
    next[t] = i + 1;
    ++count;
  }
  EXPECT_EQ(count, static_cast<std::size_t>(kThreads) * kLines);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kLines);
}

}  // namespace
}  // namespace imagecpp::log
