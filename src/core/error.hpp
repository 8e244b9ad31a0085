#pragma once
// The service's typed errors. Code anywhere throws these; the HTTP edge maps them to a status
// and a body in exactly one place (api::status_of and api::error_response, api/responses.cpp).
// 405 and 413 are not errors of the code: the router and the server answer them from the request.
#include <stdexcept>
#include <string>
#include <vector>

namespace imagecpp {

enum class ErrorCode {
  bad_input,     // 400, with one FieldError per problem
  unauthorized,  // 401
  not_found,     // 404
  unavailable,   // 503: a dependency (store, auth service) is down or timed out
  overloaded,    // 503: the image work queue is full
  internal,      // 500
};

struct FieldError {
  std::string path;
  std::string message;
};

class Error : public std::runtime_error {
 public:
  // `detail` is for logs only and never reaches a client.
  Error(ErrorCode code, const std::string& detail, std::vector<FieldError> fields = {})
      : std::runtime_error(detail), code_(code), fields_(std::move(fields)) {}

  static Error bad_input(std::string path, std::string message) {
    std::string detail = path + ": " + message;
    return Error(ErrorCode::bad_input, detail, {FieldError{std::move(path), std::move(message)}});
  }

  ErrorCode code() const noexcept { return code_; }
  const std::vector<FieldError>& fields() const noexcept { return fields_; }

  // Set by a thrower that reports this failure itself, rate-limited (it may repeat on every
  // request during a burst): the HTTP edge then does not log it once more per request.
  bool reported() const noexcept { return reported_; }
  Error& mark_reported() noexcept {
    reported_ = true;
    return *this;
  }

 private:
  ErrorCode code_;
  std::vector<FieldError> fields_;
  bool reported_ = false;
};

}  // namespace imagecpp
