#pragma once
// Message framing checks beyond the parser's (RFC 9112 section 6): a request whose body length
// two hops could read differently is refused before any body byte is read, so that no body can
// be taken as the next request on the connection (request smuggling).
#include "http/types.hpp"

namespace imagecpp::http {

// 0 when the request's framing is acceptable; else the status to answer before closing: 501 for
// any coding other than "chunked" (the only one implemented: "identity", "gzip, chunked",
// "chunked, identity"), 400 for Transfer-Encoding on HTTP/1.0, beside a Content-Length, empty,
// or naming chunked twice.
unsigned framing_error(const Request& header);

}  // namespace imagecpp::http
