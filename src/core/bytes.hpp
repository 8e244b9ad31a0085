#pragma once
// Image payloads travel as shared immutable buffers so that a stored image can be answered
// to many clients without copying it per request.
#include <memory>
#include <string>
#include <string_view>

namespace imagecpp {

using SharedBytes = std::shared_ptr<const std::string>;

inline SharedBytes share(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace imagecpp
