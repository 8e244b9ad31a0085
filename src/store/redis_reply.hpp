#pragma once
// A Redis reply copied out of hiredis, so that no hiredis type leaves the connection's strand.
#include <cstddef>
#include <string>
#include <string_view>

namespace imagecpp::store {

struct RedisReply {
  enum class Type { nil, string, status, error, integer, array };
  Type type = Type::nil;
  std::string text;          // string, status and error replies
  long long integer = 0;     // integer replies
  std::size_t elements = 0;  // array replies: the count only (the store uses no arrays)

  bool is_status(std::string_view expected) const noexcept {
    return type == Type::status && text == expected;
  }
};

}  // namespace imagecpp::store
