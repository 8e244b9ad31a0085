// The answer's bytes on the wire: the header block as Beast's serializer writes it, the body
// after it, whatever way a socket splits the sending.
#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "http/wire.hpp"

namespace imagecpp::http {
namespace {

namespace bhttp = boost::beast::http;

// The reference: the same answer through Beast's own serializer.
std::string beast_bytes(const Response& response) {
  std::ostringstream os;
  os << response;  // operator<< runs Beast's serializer over the whole message
  return os.str();
}

// Ours: the head, then every pending buffer until done.
std::string our_bytes(const Response& response) {
  std::string head;
  write_head(response, head);
  Outgoing out(head, response);
  std::string wire;
  while (!out.done()) {
    const auto pending = out.pending();
    const std::size_t before = wire.size();
    for (const auto& b : pending) wire.append(static_cast<const char*>(b.data()), b.size());
    out.consume(wire.size() - before);
  }
  return wire;
}

Response answer(unsigned status, unsigned version, std::string body) {
  Response r{static_cast<bhttp::status>(status), version};
  r.set(bhttp::field::content_type, "image/jpeg");
  r.body() = share(std::move(body));
  r.prepare_payload();
  return r;
}

TEST(Wire, HeadAndBodyAreBeastsBytes) {
  Response r = answer(200, 11, std::string(3000, 'x'));
  r.set(bhttp::field::etag, "\"abc-320\"");
  r.set(bhttp::field::cache_control, "public, max-age=31536000, immutable");
  r.set("correlation_id", "2f1c0e9a-5d8b-4d77-9a56-0c2f5e0d1b7e");
  r.set("X-Content-Type-Options", "nosniff");
  r.insert(bhttp::field::vary, "Size");
  r.insert(bhttp::field::vary, "Origin");  // a name twice stays twice, in order
  r.keep_alive(true);
  EXPECT_EQ(our_bytes(r), beast_bytes(r));
  EXPECT_TRUE(our_bytes(r).starts_with("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"));
}

TEST(Wire, EveryRegisteredStatusAndUnknownOnes) {
  for (unsigned status = 100; status <= 599; ++status) {
    const bool bodiless = status < 200 || status == 204 || status == 304;
    const Response r =
        bodiless ? Response{static_cast<bhttp::status>(status), 11} : answer(status, 11, "{}");
    ASSERT_EQ(our_bytes(r), beast_bytes(r)) << status;
  }
}

TEST(Wire, Http10KeepAliveAndClose) {
  Response r = answer(200, 10, "body");
  r.keep_alive(true);  // HTTP/1.0 says so with a header
  EXPECT_EQ(our_bytes(r), beast_bytes(r));
  EXPECT_NE(our_bytes(r).find("Connection: keep-alive\r\n"), std::string::npos);
  Response closing = answer(503, 11, "{}");
  closing.keep_alive(false);
  EXPECT_EQ(our_bytes(closing), beast_bytes(closing));
  EXPECT_NE(our_bytes(closing).find("Connection: close\r\n"), std::string::npos);
}

TEST(Wire, NoBodyAndACustomReason) {
  Response not_modified{bhttp::status::not_modified, 11};
  not_modified.set(bhttp::field::etag, "\"e\"");
  EXPECT_EQ(our_bytes(not_modified), beast_bytes(not_modified));
  EXPECT_TRUE(our_bytes(not_modified).ends_with("ETag: \"e\"\r\n\r\n"));

  Response head = answer(200, 11, "ignored");
  head.body() = nullptr;  // HEAD: the headers of GET, Content-Length included, no body
  EXPECT_EQ(our_bytes(head),
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 7\r\n\r\n");

  Response reason = answer(404, 11, "{}");
  reason.reason("Nothing Here");
  EXPECT_EQ(our_bytes(reason), beast_bytes(reason));
  EXPECT_TRUE(our_bytes(reason).starts_with("HTTP/1.1 404 Nothing Here\r\n"));
}

TEST(Wire, HeadBufferIsReplacedNotAppended) {
  std::string head = "left over from a longer answer, and more, and more, and more";
  const Response r = answer(204, 11, "");
  write_head(r, head);
  EXPECT_EQ(head, beast_bytes(r));
}

// A socket takes any number of bytes per write: every split gives the same stream.
TEST(Wire, AnySplitOfTheSendingGivesTheSameBytes) {
  const Response r = answer(200, 11, "0123456789abcdefghij");
  std::string head;
  write_head(r, head);
  const std::string whole = head + "0123456789abcdefghij";
  for (std::size_t step = 1; step <= whole.size() + 1; ++step) {
    Outgoing out(head, r);
    std::string wire;
    while (!out.done()) {
      std::string pending;
      for (const auto& b : out.pending())
        pending.append(static_cast<const char*>(b.data()), b.size());
      ASSERT_EQ(pending, whole.substr(wire.size())) << step;
      const std::size_t n = std::min(step, pending.size());
      wire += pending.substr(0, n);
      out.consume(n);
    }
    EXPECT_EQ(wire, whole) << step;
  }
}

// What we write, Beast's parser reads back as the same answer.
TEST(Wire, ParsesBackAsTheSameAnswer) {
  Response r = answer(200, 11, std::string(70000, 'y'));
  r.set(bhttp::field::etag, "\"id-1200\"");
  const std::string wire = our_bytes(r);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  boost::beast::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  std::size_t total = used;
  while (!parser.is_done()) {
    const std::size_t n =
        parser.put(boost::asio::buffer(wire.data() + total, wire.size() - total), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_GT(n, 0u);
    total += n;
  }
  EXPECT_EQ(total, wire.size());
  EXPECT_EQ(parser.get().result_int(), 200u);
  EXPECT_EQ(parser.get()[bhttp::field::etag], "\"id-1200\"");
  EXPECT_EQ(parser.get().body(), std::string(70000, 'y'));
}

}  // namespace
}  // namespace imagecpp::http
