#pragma once
// Redis Cluster key slots: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key, or of
// its hash tag, modulo 16384. The same function the cluster uses, so a key is sent to the
// master that holds it without a redirect.
#include <cstdint>
#include <string_view>

namespace imagecpp::store {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16/XMODEM of `bytes` ("123456789" -> 0x31C3).
std::uint16_t crc16(std::string_view bytes) noexcept;

// The part of a key that is hashed: the text between the first '{' and the first '}' after
// it, when that text is not empty; else the whole key ("{user1000}.following" -> "user1000",
// "foo{}{bar}" -> the whole key, "foo{{bar}}zap" -> "{bar", "foo{bar}{zap}" -> "bar").
std::string_view hash_tag(std::string_view key) noexcept;

// The slot of a key, 0..16383.
std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace imagecpp::store
