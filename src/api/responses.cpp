#include "api/responses.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace imagecpp::api {
namespace bhttp = boost::beast::http;

namespace {

std::string reason_body(unsigned status) {
  boost::json::object body;
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  body["error"] = std::string_view(reason.data(), reason.size());
  return boost::json::serialize(body);
}

std::string messages_body(const std::vector<FieldError>& fields) {
  boost::json::array messages;
  for (const auto& f : fields) messages.push_back({{"path", f.path}, {"message", f.message}});
  boost::json::object body;
  body["messages"] = std::move(messages);
  return boost::json::serialize(body);
}

}  // namespace

unsigned status_of(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_input:
      return 400;
    case ErrorCode::unauthorized:
      return 401;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::unavailable:
    case ErrorCode::overloaded:
      return 503;
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

http::Response error_response(const Error& error, unsigned version) {
  const unsigned status = status_of(error.code());
  if (error.code() == ErrorCode::bad_input && !error.fields().empty()) {
    return json_response(status, messages_body(error.fields()), version);
  }
  return status_response(status, version);
}

http::Response status_response(unsigned status, unsigned version) {
  http::Response response = json_response(status, reason_body(status), version);
  if (status == 503) response.set(bhttp::field::retry_after, "1");
  return response;
}

http::Response json_response(unsigned status, std::string body, unsigned version) {
  return bytes_response(status, share(std::move(body)), "application/json", version);
}

http::Response bytes_response(unsigned status, SharedBytes body, std::string_view content_type,
                              unsigned version) {
  http::Response response{static_cast<bhttp::status>(status), version};
  response.set(bhttp::field::content_type, content_type);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace imagecpp::api
