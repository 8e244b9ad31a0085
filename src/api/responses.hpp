#pragma once
// Building answers: the one mapping from the service's errors to HTTP statuses and bodies, and
// the common response shapes.
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/types.hpp"

namespace imagecpp::api {

// The status for an error code (bad_input 400, unauthorized 401, ..., internal 500).
unsigned status_of(ErrorCode code) noexcept;

// The contract's error body for an error: {"messages":[...]} for bad input, else {"error": ...}.
// Never holds the error's internal detail.
http::Response error_response(const Error& error, unsigned version);

// {"error": "<reason phrase>"} for a status with no Error behind it (405, 413, 431, 400 ...).
http::Response status_response(unsigned status, unsigned version);

http::Response json_response(unsigned status, std::string body, unsigned version);

http::Response bytes_response(unsigned status, SharedBytes body, std::string_view content_type,
                              unsigned version);

}  // namespace imagecpp::api
