#include "http/wire.hpp"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <cstring>

namespace imagecpp::http {

void write_head(const Response& response, std::string& out) {
  namespace bhttp = boost::beast::http;
  const unsigned version = response.version();
  const unsigned status = response.result_int();
  auto reason = response.reason();
  if (reason.empty()) reason = bhttp::obsolete_reason(response.result());
  // Sized once, then copied into: no capacity check per piece (a dozen fields a warm answer).
  std::size_t size = 13 + reason.size() + 2 + 2;  // "HTTP/1.1 200 " reason CRLF ... CRLF
  for (const auto& field : response)
    size += field.name_string().size() + 2 + field.value().size() + 2;
  out.resize(size);
  char* p = out.data();
  const auto put = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  const char line[] = {'H',
                       'T',
                       'T',
                       'P',
                       '/',
                       static_cast<char>('0' + version / 10 % 10),
                       '.',
                       static_cast<char>('0' + version % 10),
                       ' ',
                       static_cast<char>('0' + status / 100 % 10),
                       static_cast<char>('0' + status / 10 % 10),
                       static_cast<char>('0' + status % 10),
                       ' '};
  put({line, sizeof line});
  put({reason.data(), reason.size()});
  put("\r\n");
  for (const auto& field : response) {
    const auto name = field.name_string();
    const auto value = field.value();
    put({name.data(), name.size()});
    put(": ");
    put({value.data(), value.size()});
    put("\r\n");
  }
  put("\r\n");
}

Outgoing::Outgoing(std::string_view head, const Response& response) : head_(head) {
  if (const SharedBytes& body = response.body(); body) {
    body_ = *body;
  }
}

std::array<boost::asio::const_buffer, 2> Outgoing::pending() const {
  return {boost::asio::buffer(head_), boost::asio::buffer(body_)};
}

void Outgoing::consume(std::size_t n) {
  const std::size_t from_head = std::min(n, head_.size());
  head_.remove_prefix(from_head);
  body_.remove_prefix(std::min(n - from_head, body_.size()));
}

}  // namespace imagecpp::http
