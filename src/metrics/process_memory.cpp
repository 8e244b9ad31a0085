#include "metrics/process_memory.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace imagecpp::metrics {
namespace {

// "   123456 kB" -> bytes; nullopt unless it is digits and a kB unit, the only form the kernel
// writes for these fields.
std::optional<std::uint64_t> parse_kb(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  value.remove_prefix(first);
  std::uint64_t kb = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), kb);
  if (ec != std::errc{} || end == value.data()) return std::nullopt;
  if (std::string_view(end, value.data() + value.size() - end) != " kB") return std::nullopt;
  return kb * 1024;
}

}  // namespace

std::optional<ResidentMemory> parse_proc_status(std::string_view status) {
  ResidentMemory out;
  bool anon = false;
  bool file = false;
  while (!status.empty()) {
    const auto eol = status.find('\n');
    const std::string_view line = status.substr(0, eol);
    status.remove_prefix(eol == std::string_view::npos ? status.size() : eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::uint64_t* field = nullptr;
    if (key == "RssAnon") {
      field = &out.anon_bytes;
      anon = true;
    } else if (key == "RssFile") {
      field = &out.file_bytes;
      file = true;
    } else if (key == "RssShmem") {
      field = &out.shmem_bytes;
    } else {
      continue;
    }
    const auto bytes = parse_kb(line.substr(colon + 1));
    if (!bytes) return std::nullopt;
    *field = *bytes;
  }
  if (!anon || !file) return std::nullopt;
  return out;
}

std::optional<ResidentMemory> read_resident_memory() {
  // procfs files report a size of 0: read to the end rather than by size. The file is about
  // 1.5 KB, read once per scrape.
  std::ifstream in("/proc/self/status");
  if (!in) return std::nullopt;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_proc_status(text);
}

HeapMemory heap_memory_from(const struct mallinfo2& info) noexcept {
  // arena: bytes the arenas obtained from the kernel (brk heap and mmapped heaps); hblkhd:
  // chunks mmapped on their own, in use until freed and then unmapped; uordblks: arena bytes
  // handed out. The fields are read without one common lock: a difference is clamped.
  const std::uint64_t total = info.arena + info.hblkhd;
  const std::uint64_t in_use = info.uordblks + info.hblkhd;
  return {in_use, total > in_use ? total - in_use : 0};
}

std::optional<std::uint64_t> resident_unused_heap() {
  const auto resident = read_resident_memory();
  if (!resident) return std::nullopt;
  const auto heap = read_heap_memory();
  // A block just handed out is in use before its pages are touched (resident): no negative.
  return resident->anon_bytes > heap.in_use_bytes ? resident->anon_bytes - heap.in_use_bytes : 0;
}

HeapMemory read_heap_memory() noexcept {
  // mallinfo2 walks every arena's bins under its lock: cheap with the one arena we configure,
  // and a scrape comes every few seconds at most.
  return heap_memory_from(mallinfo2());
}

}  // namespace imagecpp::metrics
