#pragma once
// A Redis reply copied out of hiredis, so that no hiredis type leaves the connection's strand.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imagecpp::store {

struct RedisReply {
  enum class Type { nil, string, status, error, integer, array };
  Type type = Type::nil;
  std::string text;               // string, status and error replies
  long long integer = 0;          // integer replies
  std::vector<RedisReply> items;  // array replies (CLUSTER SLOTS); hiredis bounds the nesting

  bool is_status(std::string_view expected) const noexcept {
    return type == Type::status && text == expected;
  }
  bool is_error() const noexcept { return type == Type::error; }
};

// A copy of a hiredis `redisReply` (passed as void* to keep hiredis out of this header).
RedisReply copy_hiredis_reply(const void* hiredis_reply);

// The first complete reply in `resp` (RESP2 bytes), parsed by hiredis' own reader; nullopt when
// the bytes are incomplete or not RESP. For tests and fuzzing: replies as a server sends them.
std::optional<RedisReply> parse_resp(std::string_view resp);

}  // namespace imagecpp::store
