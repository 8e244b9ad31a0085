#pragma once
// An answer as it goes on the wire: its header block written into a buffer the connection keeps
// (no allocation once the buffer has grown to a header's size), then sent with the body's bytes,
// straight from their shared buffer, in one gather write. Beast's serializer walks a view of
// four buffers per header field on every write: for the small answers of warm reads that walk
// was a sixth of the service's instructions per request (bench/instructions.py).
#include <array>
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "http/types.hpp"

namespace imagecpp::http {

// Replaces `out` with the status line and the fields of `response`, each as Beast's serializer
// writes them ("HTTP/1.1 200 OK\r\n", "Name: value\r\n" in the fields' order), and the empty
// line that ends the header.
void write_head(const Response& response, std::string& out);

// What is left to send of a head and a body: both stay owned by the caller, alive until done.
class Outgoing {
 public:
  Outgoing(std::string_view head, const Response& response);

  // The bytes not yet sent, as at most two buffers (head and body; either may be empty).
  std::array<boost::asio::const_buffer, 2> pending() const;
  // `n` more bytes were sent (at most what pending() holds).
  void consume(std::size_t n);
  bool done() const { return head_.empty() && body_.empty(); }

 private:
  std::string_view head_;
  std::string_view body_;
};

}  // namespace imagecpp::http
