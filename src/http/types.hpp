#pragma once
// What the HTTP server hands to the application and gets back.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "http/shared_body.hpp"

namespace imagecpp::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<SharedBody>;

// Filled by the application while handling, read by the server for the access log and metrics.
struct Exchange {
  // A route template with static storage (bounded label cardinality, no copy per request).
  std::string_view route = "unmatched";
  std::string correlation_id;
  std::string user;  // a user id once authenticated, never a token
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&, Exchange&)>;

// A response to a request that never reached the application (malformed, too large, ...).
using EarlyResponder = std::function<Response(unsigned status, unsigned version)>;

}  // namespace imagecpp::http
