#pragma once
// What the HTTP server hands to the application and gets back.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/shared_body.hpp"

namespace imagecpp::http {

// Header fields are one allocation each (a request's, and the 6-9 of an answer): their memory
// comes from a small per-thread cache of freed blocks (Asio's, the one its handlers use), so that
// a warm read does not go to malloc for them (bench/allocations.sh).
using FieldsAllocator = boost::asio::recycling_allocator<char>;
using Fields = boost::beast::http::basic_fields<FieldsAllocator>;
using Request = boost::beast::http::request<boost::beast::http::string_body, Fields>;
using Response = boost::beast::http::response<SharedBody, Fields>;

// Filled by the application while handling, read by the server for the access log and metrics.
struct Exchange {
  // A route template with static storage (bounded label cardinality, no copy per request).
  static constexpr std::string_view kUnmatched = "unmatched";
  std::string_view route = kUnmatched;
  std::string correlation_id;
  std::string user;            // a user id once authenticated, never a token
  bool authenticated = false;  // the token was checked before the body was read

  // Ready for the connection's next request; the strings keep their capacity (no allocation
  // per request for an id once the connection has held one).
  void reset() {
    route = kUnmatched;
    correlation_id.clear();
    user.clear();
    authenticated = false;
  }
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&, Exchange&)>;

// Called once a request's header is in and a body follows, before any body byte is read:
// nullopt to read the body and then call the Handler, or the answer to send instead (the body is
// then never read, and the connection closes). The request has no body yet.
using Admitter =
    std::function<boost::asio::awaitable<std::optional<Response>>(Request&, Exchange&)>;

// A response to a request that never reached the application (malformed, too large, ...).
using EarlyResponder = std::function<Response(unsigned status, unsigned version)>;

}  // namespace imagecpp::http
