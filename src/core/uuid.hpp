#pragma once
// Image ids: random UUID v4 in lowercase canonical form.
#include <string>
#include <string_view>

namespace imagecpp::uuid {

// A new random v4 id, e.g. "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c". Thread-safe.
std::string generate();

// The same form from a per-thread generator seeded once from the OS: unique but predictable,
// for things that need no secrecy (correlation ids), at no system call per id.
std::string generate_fast();
// The same, written over `out` (whose capacity is reused: no allocation once it held one).
void generate_fast(std::string& out);

// True for the canonical 8-4-4-4-12 hex form. Upper-case hex digits are accepted (ids are
// compared after lowercasing); any version nibble is accepted so ids written by the peers work.
bool is_valid(std::string_view text) noexcept;

// Lowercases a valid id.
std::string normalize(std::string_view text);

}  // namespace imagecpp::uuid
